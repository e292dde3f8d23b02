"""Alignment of SAR and optical cubes: contract, numpy/dask equality, laziness, errors."""

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from builders import CRS, assert_same, grid, make_optical, make_sar

import stori_xr  # noqa: F401
from stori_xr.exceptions import (
    ChunkingError,
    TimeDimError,
    UnitsError,
)
from stori_xr.sar import infer_tracks


@pytest.fixture
def pair():
    return make_optical(), make_sar()


# --------------------------------------------------------------------------- contract


def test_output_layout_and_attrs(pair):
    opt, sar = pair
    out = opt.stori.align(sar)
    assert set(out.data_vars) == {
        "B04",
        "B08",
        "clear",
        "days_since_clear",
        "days_until_clear",
        "VV",
        "VH",
        "VH_VV",
        "RVI",
        "sar_days",
        "sar_flag",
    }
    assert out.B04.dims == ("time", "y", "x")
    assert out.sizes == {"time": 20, "y": 8, "x": 10}
    for name in ("B04", "VV", "VH", "VH_VV", "RVI", "sar_days", "days_since_clear"):
        assert out[name].dtype == np.float32, name
    assert out.clear.dtype == bool and out.sar_flag.dtype == np.int8
    assert out.rio.crs.to_epsg() == 32631
    assert out.attrs["title"] == "optical"
    assert out.attrs["history"].startswith("made by a test\n")
    assert "align(" in out.attrs["history"].splitlines()[-1]
    assert out.VV.attrs["units"] == "dB"
    assert out.sar_flag.attrs["flag_meanings"] == "interpolated nearest missing"


def test_bands_nan_where_not_clear(pair):
    opt, sar = pair
    out = opt.stori.align(sar)
    np.testing.assert_array_equal(out.clear.values, opt.clear.values)
    assert np.isnan(out.B04.values[~opt.clear.values]).all()
    np.testing.assert_array_equal(
        out.B04.values[opt.clear.values], opt.B04.values[opt.clear.values]
    )


def test_clear_mask_defaults_to_finite_values(pair):
    opt, sar = pair
    bare = opt[["B04", "B08"]].where(opt.clear)
    out = bare.stori.align(sar)
    np.testing.assert_array_equal(out.clear.values, opt.clear.values)


def test_days_since_until_clear(pair):
    opt, sar = pair
    out = opt.stori.align(sar)
    t = (opt.time.values - opt.time.values[0]) / np.timedelta64(1, "D")
    for iy, ix in [(0, 0), (3, 7), (7, 9)]:
        c = opt.clear.values[:, iy, ix]
        for j in range(t.size):
            before = t[: j + 1][c[: j + 1]]
            after = t[j:][c[j:]]
            want_since = t[j] - before.max() if before.size else np.nan
            want_until = after.min() - t[j] if after.size else np.nan
            np.testing.assert_allclose(out.days_since_clear.values[j, iy, ix], want_since)
            np.testing.assert_allclose(out.days_until_clear.values[j, iy, ix], want_until)


def test_input_is_not_modified(pair):
    opt, sar = pair
    before = opt.copy(deep=True), sar.copy(deep=True)
    opt.stori.align(sar, times="3D")
    xr.testing.assert_identical(opt, before[0])
    xr.testing.assert_identical(sar, before[1])


def test_sar_linear_in_db_between_acquisitions():
    opt = make_optical(ny=4, nx=5)
    sar = make_sar(ny=4, nx=5, res=10.0)
    sar = sar.assign_coords(x=opt.x[:5], y=opt.y[:4])
    days = (sar.time - sar.time[0]) / np.timedelta64(1, "D")
    ramp = (-20 + 0.05 * days).astype("float32").broadcast_like(sar.VV).transpose(*sar.VV.dims)
    sar = sar.assign(VV=ramp.assign_attrs(units="dB"))
    out = opt.isel(y=slice(0, 4), x=slice(0, 5)).stori.align(sar, orbit_normalise=False)
    tau = (out.time - sar.time[0]) / np.timedelta64(1, "D")
    np.testing.assert_allclose(out.VV.values, (-20 + 0.05 * tau).broadcast_like(out.VV), atol=1e-5)
    assert (out.sar_flag == 0).all()
    # RVI comes from linear power of the interpolated values
    vv, vh = 10 ** (out.VV / 10), 10 ** (out.VH / 10)
    np.testing.assert_allclose(out.RVI, 4 * vh / (vv + vh), rtol=1e-5)
    np.testing.assert_allclose(out.VH_VV, out.VH - out.VV, atol=1e-5)


def test_tolerance_flags_and_nan():
    opt = make_optical(nt=40)
    sar = make_sar().isel(time=slice(0, 10))  # ends early
    out = opt.stori.align(sar, tolerance="4D")
    late = out.time > sar.time[-1] + np.timedelta64(4, "D")
    assert (out.sar_flag.sel(time=late) == 2).all()
    assert out.VV.sel(time=late).isnull().all()
    assert (out.sar_flag.sel(time=~late) < 2).all()
    assert out.VV.sel(time=~late).notnull().all()


# --------------------------------------------------------------------------- grids


def test_sar_finer_is_averaged_in_linear_power():
    opt = make_optical(ny=4, nx=5)
    opt = opt.assign_coords(grid(4, 5, 20.0))
    sar = make_sar(ny=8, nx=10, res=10.0)
    out = opt.stori.align(sar, times=sar.time.values[:6], orbit_normalise=False)
    lin = 10 ** (sar.VV.isel(time=slice(0, 6)).values / 10)
    want = 10 * np.log10(lin.reshape(6, 4, 2, 5, 2).mean(axis=(2, 4)))
    np.testing.assert_allclose(out.VV.values, want, atol=1e-4)


def test_sar_coarser_is_resampled_onto_optical_grid(pair):
    opt, sar = pair
    flat = sar.copy()
    flat["VV"] = xr.full_like(sar.VV, -10.0)
    out = opt.stori.align(flat, orbit_normalise=False)
    np.testing.assert_allclose(out.VV.values, -10.0, atol=1e-5)
    assert out.VV.shape == (20, 8, 10)


def test_sar_in_another_crs_is_reprojected():
    opt = make_optical(ny=6, nx=6)
    sar = make_sar(ny=6, nx=6, res=10.0)
    sar = sar.assign_coords(x=opt.x.values, y=opt.y.values)
    sar["VV"] = xr.full_like(sar.VV, -9.0)
    moved = sar.rio.reproject("EPSG:3857")
    out = opt.stori.align(moved, orbit_normalise=False)
    inner = out.VV.isel(y=slice(1, -1), x=slice(1, -1))
    np.testing.assert_allclose(inner.values, -9.0, atol=1e-4)


# --------------------------------------------------------------------------- time rules


def test_orbit_normalisation_removes_track_offset():
    opt = make_optical(nt=24)
    sar = make_sar(offset_b=3.0)
    tracks = infer_tracks(sar.time.values)
    assert np.bincount(tracks).tolist() == [20, 20]
    on_sar_dates = sar.time.values[2:-2]
    raw = opt.stori.align(sar, times=on_sar_dates, orbit_normalise=False)
    norm = opt.stori.align(sar, times=on_sar_dates)
    is_b = tracks[2:-2] == tracks[3]

    def step(ds):  # mean difference between the two tracks
        v = ds.VV.mean(("y", "x")).values
        return v[is_b].mean() - v[~is_b].mean()

    assert abs(step(raw)) > 2.0
    assert abs(step(norm)) < 0.5


def test_relative_orbit_coordinate_is_used():
    opt = make_optical(nt=24)
    sar = make_sar(offset_b=3.0)
    # claim one single orbit: nothing is normalised away
    one = sar.assign_coords(relative_orbit=("time", np.full(sar.sizes["time"], 88)))
    out = opt.stori.align(one, times=sar.time.values[2:-2])
    raw = opt.stori.align(sar, times=sar.time.values[2:-2], orbit_normalise=False)
    xr.testing.assert_allclose(out.VV, raw.VV)


def test_same_time_acquisitions_are_merged():
    opt = make_optical(nt=6)
    dup = opt.isel(time=[2]).assign_coords(time=opt.time.values[[2]] + np.timedelta64(7, "s"))
    dup["B04"] = dup.B04 + 0.1
    both = xr.concat([opt, dup], dim="time").sortby("time")
    out = both.stori.align(None)
    assert out.sizes["time"] == 6
    a, b = opt.isel(time=2), dup.isel(time=0)
    ca, cb = a.clear.values, b.clear.values
    v = out.B04.isel(time=2).values
    np.testing.assert_allclose(v[ca & cb], ((a.B04 + b.B04) / 2).values[ca & cb], rtol=1e-6)
    np.testing.assert_allclose(v[ca & ~cb], a.B04.values[ca & ~cb])
    np.testing.assert_allclose(v[~ca & cb], b.B04.values[~ca & cb])
    assert np.isnan(v[~ca & ~cb]).all()
    np.testing.assert_array_equal(out.clear.isel(time=2).values, ca | cb)
    assert_same(out, both.chunk({"y": 3}).stori.align(None).compute())


def test_target_frequency_and_list(pair):
    opt, sar = pair
    out = opt.stori.align(sar, times="1D")
    assert out.sizes["time"] == 96
    assert str(out.time.values[0]) == "2021-01-01T00:00:00.000000000"
    # optical values land on the day of their acquisition (within 12 h) only
    assert int(out.clear.sum()) == int(opt.clear.sum())
    np.testing.assert_array_equal(
        out.B04.sel(time="2021-01-06").values, opt.B04.where(opt.clear).isel(time=1).values
    )
    listed = opt.stori.align(sar, times=["2021-01-03", "2021-02-01"])
    assert listed.sizes["time"] == 2
    assert not listed.clear.any()
    since = listed.days_since_clear
    assert float(since.isel(time=1).notnull().mean()) > 0.9
    assert bool((since.fillna(1.0) > 0).all())


def test_dataarray_with_band_dim(pair):
    opt, sar = pair
    da = opt[["B04", "B08"]].where(opt.clear).to_dataarray("band")
    out = da.stori.align(sar)
    ref = opt.stori.align(sar)
    xr.testing.assert_allclose(out.B08, ref.B08)


def test_optical_only(pair):
    opt, _ = pair
    out = opt.stori.align()
    assert "VV" not in out and "days_since_clear" in out


def test_other_time_dim_name_and_dim_order(pair):
    opt, sar = pair
    renamed = opt.rename(time="timestamp").transpose("timestamp", "x", "y")
    out = renamed.stori.align(sar)
    assert out.B04.dims == ("timestamp", "x", "y")
    ref = opt.stori.align(sar)
    np.testing.assert_array_equal(out.VV.transpose("timestamp", "y", "x").values, ref.VV.values)


# --------------------------------------------------------------------------- dask


@pytest.mark.parametrize(
    "ochunks,schunks",
    [({"y": 4, "x": 5}, {"y": 2}), ({"y": 3, "x": -1}, {"x": 1}), ({}, {})],
)
def test_dask_equals_numpy(pair, ochunks, schunks):
    opt, sar = pair
    ref = opt.stori.align(sar, times="2D")
    lazy = opt.chunk(ochunks).stori.align(sar.chunk(schunks), times="2D")
    assert lazy.B04.chunks is not None
    assert lazy.B04.chunks[0] == (ref.sizes["time"],)
    assert_same(ref, lazy.compute())


def test_dask_is_lazy(pair, raise_if_dask_computes):
    opt, sar = pair
    with raise_if_dask_computes():
        out = opt.chunk({"y": 4}).stori.align(sar.chunk({"x": 2}), times="5D")
    assert all(v.chunks is not None for v in out.data_vars.values())


def test_time_split_into_chunks_raises_or_rechunks(pair):
    opt, sar = pair
    with pytest.raises(ChunkingError, match=r"\.chunk\(\{'time': -1\}\)"):
        opt.chunk({"time": 5}).stori.align(sar)
    with pytest.raises(ChunkingError, match="SAR input"):
        opt.stori.align(sar.chunk({"time": 7}))
    out = opt.chunk({"time": 5}).stori.align(sar.chunk({"time": 7}), rechunk=True)
    assert_same(out.compute(), opt.stori.align(sar))


# ------------------------------------------- bad input and its fix (all: tests/bad_inputs.py)


def test_two_datetime_dims(pair):
    opt, sar = pair
    two = opt.B04.expand_dims(run=pd.date_range("2020-01-01", periods=2)).to_dataset()
    with pytest.raises(TimeDimError, match="several datetime64 dimensions"):
        two.stori.align(sar)
    out = two.isel(run=0).stori.align(sar, time_dim="time")
    assert out.sizes["time"] == 20


def test_sar_with_only_vh(pair):
    opt, sar = pair
    only_vh = opt.stori.align(sar[["VH"]])
    assert "VH" in only_vh and "VV" not in only_vh and "RVI" not in only_vh


def test_sar_units_missing_then_given(pair):
    opt, sar = pair
    none = sar.copy()
    none["VV"] = sar.VV.assign_attrs(units=None)
    del none["VV"].attrs["units"]
    with pytest.raises(UnitsError, match="no 'units' attribute"):
        opt.stori.align(none)
    assert opt.stori.align(none, sar_units="dB").VV.notnull().any()


def test_linear_sar_gives_same_features_as_db(pair):
    opt, sar = pair
    linear = 10 ** (sar[["VV", "VH"]] / 10)
    for v in ("VV", "VH"):
        linear[v].attrs["units"] = "1"
    a = opt.stori.align(linear.rio.write_crs(CRS))
    b = opt.stori.align(sar)
    xr.testing.assert_allclose(a.VV, b.VV, atol=1e-4)


def test_reprojection_runs_one_task_per_optical_tile():
    from stori_xr.sar import prepare_sar, regrid_sar

    opt = make_optical(ny=8, nx=10).chunk({"y": 4, "x": 5})
    sar, tdim = prepare_sar(make_sar().chunk(), sar_units=None, rechunk=False)
    on_grid = regrid_sar(sar, tdim, opt)
    assert on_grid.VV.chunks[1:] == ((4, 4), (5, 5))
    ref = regrid_sar(
        prepare_sar(make_sar(), sar_units=None, rechunk=False)[0], tdim, opt.compute()
    )
    np.testing.assert_array_equal(on_grid.VV.values, ref.VV.values)


def test_reprojection_from_another_crs_dask_close_to_numpy():
    opt = make_optical(ny=6, nx=6)
    sar = make_sar(ny=6, nx=6, res=10.0).assign_coords(x=opt.x.values, y=opt.y.values)
    moved = sar.rio.reproject("EPSG:3857")
    ref = opt.stori.align(moved)
    lazy = opt.chunk({"y": 3, "x": 3}).stori.align(moved.chunk()).compute()
    np.testing.assert_allclose(lazy.VV.values, ref.VV.values, atol=1e-3)


def test_times_as_one_date(pair):
    opt, sar = pair
    one = opt.stori.align(sar, times="2021-02-01")
    assert one.sizes["time"] == 1 and str(one.time.values[0]).startswith("2021-02-01")
