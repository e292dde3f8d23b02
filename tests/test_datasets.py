"""Tests of the synthetic scene generator ``stori_xr.datasets.make_scene``."""

from __future__ import annotations

import doctest
import time

import dask.array as da
import numpy as np
import pandas as pd
import pytest
import xarray as xr
from pyproj import CRS

import stori_xr.datasets
from stori_xr.datasets import LAND_COVER_CLASSES, Scene, make_scene

DEFAULT_BANDS = ["B05", "B06", "B07", "B8A", "B11", "B12"]
SMALL = {"ny": 48, "nx": 40, "periods": 30, "seed": 3}


@pytest.fixture(scope="module")
def year() -> Scene:
    """One year of a 96 x 96 scene at the default 5-day revisit, numpy-backed."""
    return make_scene(96, 96, seed=7)


@pytest.fixture(scope="module")
def small() -> Scene:
    return make_scene(**SMALL)


def all_variables(scene: Scene):
    for part in ("optical", "sar", "truth"):
        ds = getattr(scene, part)
        for name in ds.variables:
            yield part, name, ds[name]


def assert_scenes_identical(a: Scene, b: Scene) -> None:
    for part in ("optical", "sar", "truth"):
        xr.testing.assert_identical(getattr(a, part), getattr(b, part).compute())


# --- determinism ---------------------------------------------------------------------


def test_same_arguments_give_identical_scenes(small):
    assert_scenes_identical(small, make_scene(**SMALL))


def test_different_seeds_differ(small):
    other = make_scene(**{**SMALL, "seed": 4})
    for part in ("optical", "sar", "truth"):
        ours, theirs = getattr(small, part), getattr(other, part)
        for name in ours.data_vars:
            assert not np.array_equal(ours[name].values, theirs[name].values, equal_nan=True)
    assert not np.array_equal(small.truth["land_cover"].values, other.truth["land_cover"].values)


@pytest.mark.parametrize("chunks", [{"y": 16, "x": 24}, (25, 13), {"y": -1, "x": 20}])
def test_values_do_not_depend_on_chunks(small, chunks):
    lazy = make_scene(**SMALL, chunks=chunks)
    for _, _, var in all_variables(lazy):
        if var.ndim >= 2:
            assert isinstance(var.data, da.Array)
    assert_scenes_identical(small, lazy)


def test_a_window_is_the_corner_of_a_larger_scene(small):
    larger = make_scene(**{**SMALL, "ny": 70, "nx": 55})
    corner = {"y": slice(0, SMALL["ny"]), "x": slice(0, SMALL["nx"])}
    for part in ("optical", "sar", "truth"):
        for name in getattr(small, part).data_vars:
            np.testing.assert_array_equal(
                getattr(small, part)[name].values,
                getattr(larger, part)[name].isel(corner).values,
            )


def test_band_selection_does_not_change_values(small):
    one = make_scene(**SMALL, bands=("B8A",))
    np.testing.assert_array_equal(one.truth["B8A"].values, small.truth["B8A"].values)
    np.testing.assert_array_equal(one.optical["clear"].values, small.optical["clear"].values)


# --- laziness -------------------------------------------------------------------------


def test_building_a_dask_scene_computes_nothing(raise_if_dask_computes):
    with raise_if_dask_computes():
        scene = make_scene(64, 64, chunks={"y": 32, "x": 32})
    for part, name, var in all_variables(scene):
        if var.ndim >= 2:
            assert isinstance(var.data, da.Array), (part, name)
            assert var.chunks[-2:] == ((32, 32), (32, 32))
            if name != "land_cover":
                assert var.chunks[0] == (var.sizes["time"],)


def test_task_names_are_deterministic():
    a = make_scene(32, 32, chunks=16)
    b = make_scene(32, 32, chunks=16)
    c = make_scene(32, 32, chunks=16, seed=1)
    assert a.optical["B8A"].data.name == b.optical["B8A"].data.name
    assert a.sar["VH"].data.name == b.sar["VH"].data.name
    assert a.optical["B8A"].data.name != c.optical["B8A"].data.name
    assert a.optical["B8A"].data.name != a.optical["B05"].data.name


def test_huge_scene_builds_lazily_and_quickly(raise_if_dask_computes):
    start = time.perf_counter()
    with raise_if_dask_computes():
        scene = make_scene(20_000, 20_000, chunks={"y": 256, "x": 256})
    elapsed = time.perf_counter() - start
    assert scene.optical["B8A"].data.numblocks == (1, 79, 79)
    assert scene.optical.nbytes > 500e9  # far more than memory: nothing was generated
    assert elapsed < 1.0, f"graph building took {elapsed:.2f} s"
    # any one block can be generated alone, and equals the same window made directly
    window = {"y": slice(256, 512), "x": slice(19_968, 20_000)}
    block = scene.truth["B12"].isel(window).values
    direct = make_scene(512, 20_000, chunks={"y": 256, "x": 32}).truth["B12"].isel(window)
    np.testing.assert_array_equal(block, direct.values)


# --- layout and metadata --------------------------------------------------------------


def test_layout_dtypes_and_attributes(small):
    optical, sar, truth = small.optical, small.sar, small.truth
    assert list(optical.data_vars) == [*DEFAULT_BANDS, "clear"]
    assert list(truth.data_vars) == DEFAULT_BANDS
    assert list(sar.data_vars) == ["VV", "VH"]
    for ds in (optical, sar, truth):
        for name in ds.data_vars:
            assert ds[name].dims == ("time", "y", "x")
        assert ds.rio.crs == CRS.from_user_input("EPSG:32631")
        assert ds.attrs["seed"] == SMALL["seed"]
        assert ds.attrs["source"] == "stori_xr.datasets.make_scene"
        assert ds.attrs["title"]
    for band in DEFAULT_BANDS:
        for ds in (optical, truth):
            assert ds[band].dtype == np.float32
            assert ds[band].attrs["units"] == "1"
            assert band in ds[band].attrs["long_name"]
    assert optical["clear"].dtype == bool
    for pol in ("VV", "VH"):
        assert sar[pol].dtype == np.float32
        assert sar[pol].attrs["units"] == "dB"
    lc = truth["land_cover"]
    assert lc.dims == ("y", "x") and lc.dtype == np.int8
    assert lc.attrs["flag_meanings"].split() == list(LAND_COVER_CLASSES)
    np.testing.assert_array_equal(optical.time.values, truth.time.values)


def test_grid_is_pixel_centres_with_y_decreasing():
    scene = make_scene(10, 12, periods=3, resolution=30.0, crs="EPSG:32632")
    x, y = scene.optical.x.values, scene.optical.y.values
    np.testing.assert_allclose(np.diff(x), 30.0)
    np.testing.assert_allclose(np.diff(y), -30.0)
    assert (x[0] - 15.0) % 30.0 == 0.0 and (y[0] + 15.0) % 30.0 == 0.0
    for ds in (scene.optical, scene.sar, scene.truth):
        assert ds.rio.crs == CRS.from_user_input("EPSG:32632")
        np.testing.assert_array_equal(ds.x.values, x)
        np.testing.assert_array_equal(ds.y.values, y)
    assert scene.optical.rio.resolution() == (30.0, -30.0)


def test_acquisition_times(small):
    opt = pd.DatetimeIndex(small.optical.time.values)
    sar = pd.DatetimeIndex(small.sar.time.values)
    assert opt.is_monotonic_increasing and sar.is_monotonic_increasing
    assert opt[0].normalize() == pd.Timestamp("2021-01-01")
    assert (np.diff(opt.normalize().asi8) == pd.Timedelta(days=5).value).all()
    morning = opt - opt.normalize()
    assert ((morning - pd.Timedelta("10:50:00")).total_seconds().to_numpy() ** 2 <= 60**2).all()
    evening = sar - sar.normalize()
    assert ((evening > pd.Timedelta("17:20:00")) & (evening < pd.Timedelta("17:35:00"))).all()
    assert (np.diff(sar.normalize().asi8) == pd.Timedelta(days=6).value).all()
    assert sar[0] > opt[0] and sar[-1] <= opt[-1]
    assert not set(opt.normalize()) >= set(sar.normalize())  # SAR on its own days
    orbits = small.sar["relative_orbit"].values
    assert np.issubdtype(orbits.dtype, np.integer)
    np.testing.assert_array_equal(orbits[::2], 88)
    np.testing.assert_array_equal(orbits[1::2], 161)
    # the two orbits pass at their own time of day, minutes apart
    assert evening[orbits == 88].min() - evening[orbits == 161].max() > pd.Timedelta("5min")


# --- optical values and gaps ----------------------------------------------------------


def test_reflectance_range_and_gaps(year):
    optical, truth = year.optical, year.truth
    clear = optical["clear"].values
    for band in DEFAULT_BANDS:
        true = truth[band].values
        observed = optical[band].values
        assert np.isfinite(true).all()
        assert true.min() >= 0.0 and true.max() <= 0.6
        np.testing.assert_array_equal(np.isnan(observed), ~clear)
        np.testing.assert_array_equal(observed[clear], true[clear])


def test_spectra_follow_vegetation(year):
    truth = year.truth
    crops = truth["land_cover"].isin([1, 2, 3]).values  # cereal, maize, potato
    b8a = truth["B8A"].values[:, crops]
    b12 = truth["B12"].values[:, crops]
    # crops green up and are harvested: a strong seasonal NIR amplitude...
    assert np.median(b8a.max(0) - b8a.min(0)) > 0.15
    # ... and SWIR falls as NIR rises (vegetation against bare soil)
    assert np.mean((b8a - b8a.mean(0)) * (b12 - b12.mean(0))) < 0
    # the parcels belong to several classes, with field margins between them
    classes = np.unique(truth["land_cover"].values)
    assert len(classes) >= 4 and LAND_COVER_CLASSES.index("field_margin") in classes


def test_cloud_cover_statistics(year):
    gap = 1.0 - year.optical["clear"].mean(("y", "x")).values
    assert 0.35 < gap.mean() < 0.75
    assert (gap == 0.0).sum() >= 2, "some dates should be fully clear"
    assert (gap == 1.0).sum() >= 2, "some dates should be fully cloudy"
    assert ((gap > 0.0) & (gap < 1.0)).sum() >= 10, "most dates partly cloudy"
    month = year.optical.time.dt.month.values
    winter, summer = np.isin(month, [11, 12, 1, 2]), np.isin(month, [5, 6, 7, 8])
    assert gap[winter].mean() > gap[summer].mean()


@pytest.mark.parametrize("cover", [0.2, 0.8])
def test_cloud_cover_follows_the_argument(cover):
    gaps = [
        1.0 - make_scene(48, 48, seed=s, cloud_cover=cover, bands=("B05",)).optical["clear"]
        for s in range(3)
    ]
    mean = float(np.mean([g.mean() for g in gaps]))
    assert abs(mean - cover) < 0.15


@pytest.mark.parametrize(("cover", "expected"), [(0.0, True), (1.0, False)])
def test_extreme_cloud_cover(cover, expected):
    scene = make_scene(16, 16, periods=10, cloud_cover=cover)
    assert (scene.optical["clear"].values == expected).all()


# --- SAR ------------------------------------------------------------------------------


def test_sar_is_tied_to_vegetation(year):
    sar, truth = year.sar, year.truth
    # NIR linearly interpolated onto the SAR dates (which lie within the optical ones)
    t_opt = truth.time.values.astype("datetime64[s]").astype(float)
    t_sar = sar.time.values.astype("datetime64[s]").astype(float)
    right = np.clip(np.searchsorted(t_opt, t_sar), 1, t_opt.size - 1)
    w = ((t_sar - t_opt[right - 1]) / (t_opt[right] - t_opt[right - 1]))[:, None, None]
    b8a = truth["B8A"].values
    nir = (1 - w) * b8a[right - 1] + w * b8a[right]
    vh = sar["VH"].values

    def pearson(a, b):
        a, b = a - a.mean(0), b - b.mean(0)
        return (a * b).sum(0) / np.sqrt((a * a).sum(0) * (b * b).sum(0))

    vegetated = (nir.max(0) - nir.min(0)) > 0.15  # pixels whose canopy comes and goes
    assert vegetated.mean() > 0.2
    r = pearson(nir[:, vegetated], vh[:, vegetated])
    assert r.mean() > 0.5
    # VH spans bare soil (around -21 dB) to full canopy (around -14 dB)
    assert -24.0 < np.median(vh[nir < 0.22]) < -18.0
    assert -17.0 < np.median(vh[nir > 0.42]) < -12.0


def test_orbit_offset_is_visible(year):
    sar = year.sar
    orbit = sar["relative_orbit"]
    for pol in ("VV", "VH"):
        level = sar[pol].mean(("y", "x")).groupby(orbit).mean()
        offset = float(level.sel(relative_orbit=88) - level.sel(relative_orbit=161))
        assert 0.5 < offset < 1.5, (pol, offset)


def test_speckle_is_a_few_looks(year):
    forest = (year.truth["land_cover"] == LAND_COVER_CLASSES.index("forest")).values
    if forest.sum() < 50:
        pytest.skip("no forest in this scene")
    vv = year.sar["VV"].values[:, forest]
    spread = (vv - vv.mean(1, keepdims=True)).std()
    assert 1.0 < spread < 2.5


# --- docs -----------------------------------------------------------------------------


def test_docstring_examples_run():
    result = doctest.testmod(stori_xr.datasets, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0
    assert result.failed == 0
