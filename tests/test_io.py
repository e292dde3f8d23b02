"""Readers of the real data in ../shared/data, and of small synthetic cubes."""

from __future__ import annotations

import ast
import doctest
import hashlib
import importlib
import importlib.util
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from stori_xr import io, validate
from stori_xr.exceptions import NoCloudMaskWarning, TimeDimError

S2_10M = ["B02", "B03", "B04", "B08"]
S2_20M = ["B05", "B06", "B07", "B8A", "B11", "B12"]
ANGLES = ["sunAzimuthAngles", "sunZenithAngles", "viewAzimuthMean", "viewZenithMean"]
L8_SR = ["B02", "B03", "B04", "B05", "B06", "B07", "B10", "B11"]


def _file(folder: Path, prefix: str) -> Path:
    (path,) = sorted(folder.glob(f"{prefix}_*.nc"))
    return path


def _raw(path: Path) -> xr.Dataset:
    return xr.open_dataset(path, mask_and_scale=False).load()


def _ts(value: str) -> np.datetime64:
    return np.datetime64(value, "ns")


def _check_cube(ds: xr.Dataset, sizes: tuple[int, int, int], epsg: int) -> None:
    """Dims, order, dtypes and CRS every reader promises."""
    assert tuple(ds.dims) == ("time", "y", "x")
    assert (ds.sizes["time"], ds.sizes["y"], ds.sizes["x"]) == sizes
    assert ds.time.dtype == np.dtype("datetime64[ns]")
    assert bool((np.diff(ds.time.values) >= np.timedelta64(0)).all())
    assert ds.rio.crs.to_epsg() == epsg
    for name, var in ds.data_vars.items():
        if var.ndim == 3:
            assert var.dims == ("time", "y", "x"), name
        if "common_name" in var.attrs:
            assert var.dtype == np.float32, name
            assert var.attrs["units"] and var.attrs["long_name"], name


def _clear_values(ds: xr.Dataset, band: str) -> np.ndarray:
    return ds[band].values[ds.clear.values]


# ----------------------------------------------------------------------------- Sentinel-2


@pytest.fixture(scope="module")
def s2_pair(wc1: Path) -> xr.Dataset:
    return io.open_sentinel2([_file(wc1, "S2_L2A_10m"), _file(wc1, "S2_L2A_20m")])


def test_s2_worldcereal_pair_grid_dates_crs(s2_pair: xr.Dataset) -> None:
    ds = s2_pair
    _check_cube(ds, (118, 64, 64), 32631)
    assert list(ds.data_vars)[:10] == [*S2_10M[:3], *S2_20M[:3], "B08", *S2_20M[3:]]
    assert ds.time.values[0] == _ts("2017-08-04T10:53:28")
    assert ds.time.values[-1] == _ts("2018-11-27T10:56:51")
    transform = ds.rio.transform()
    assert (transform.a, transform.e, transform.c, transform.f) == (10, -10, 501360, 5629680)
    assert ds.SCL.dtype == np.uint8
    for name in ANGLES:
        assert ds[name].dims == ("time",)
        assert ds[name].attrs["units"] == "degree"


def test_s2_worldcereal_20m_replicated_exactly(s2_pair: xr.Dataset, wc1: Path) -> None:
    alone = io.open_sentinel2(_file(wc1, "S2_L2A_20m"))
    _check_cube(alone, (118, 32, 32), 32631)
    for name in [*S2_20M, "SCL"]:
        for dy in (0, 1):
            for dx in (0, 1):
                np.testing.assert_array_equal(
                    s2_pair[name].values[:, dy::2, dx::2], alone[name].values, err_msg=name
                )
    np.testing.assert_array_equal(s2_pair.sunZenithAngles.values, alone.sunZenithAngles.values)


def test_s2_worldcereal_decoding(s2_pair: xr.Dataset, wc1: Path) -> None:
    raw10 = _raw(_file(wc1, "S2_L2A_10m"))
    raw20 = _raw(_file(wc1, "S2_L2A_20m"))
    expected = raw10.B04.values.astype(np.float32) / np.float32(10_000)
    np.testing.assert_array_equal(s2_pair.B04.values, expected)
    expected = raw20.B8A.values.astype(np.float32) / np.float32(10_000)
    np.testing.assert_array_equal(s2_pair.B8A.values[:, ::2, ::2], expected)
    assert not s2_pair.B04.isnull().any()  # no fill in these files: nothing masked
    scl = raw20.SCL.values
    assert set(np.unique(s2_pair.SCL.values)) == set(range(2, 12))
    clear20 = np.isin(scl, (4, 5, 6))
    np.testing.assert_array_equal(s2_pair.clear.values[:, ::2, ::2], clear20)


def test_s2_worldcereal_values_and_clear_fraction(s2_pair: xr.Dataset) -> None:
    ds = s2_pair
    fraction = float(ds.clear.mean())
    assert 0.3 < fraction < 0.5
    for band in [*S2_10M, *S2_20M]:
        values = _clear_values(ds, band)
        assert np.mean((values >= 0) & (values <= 1.2)) > 0.999, band
    assert 0.02 < np.median(_clear_values(ds, "B04")) < 0.15
    assert 0.15 < np.median(_clear_values(ds, "B08")) < 0.5
    # clouds are bright: the band values stay as measured where not clear
    cloudy = ds.SCL.values == 9
    assert np.median(ds.B02.values[cloudy]) > 2 * np.median(_clear_values(ds, "B02"))


def test_s2_attributes(s2_pair: xr.Dataset) -> None:
    attrs = s2_pair.B04.attrs
    assert attrs["units"] == "1"
    assert attrs["common_name"] == "red"
    assert "B04" in attrs["long_name"]
    assert attrs["standard_name"] == "surface_bidirectional_reflectance"
    assert s2_pair.B8A.attrs["common_name"] == "nir08"
    assert s2_pair.B05.attrs["common_name"] == "rededge071"
    assert s2_pair.attrs["platform"] == "Sentinel-2"
    assert "S2_L2A_20m" in s2_pair.attrs["source"]
    assert "open_sentinel2" in s2_pair.attrs["history"]
    assert "flag_meanings" in s2_pair.SCL.attrs
    assert "scale_factor" not in attrs and "_FillValue" not in attrs


def test_s2_band_selection(wc1: Path) -> None:
    paths = [_file(wc1, "S2_L2A_10m"), _file(wc1, "S2_L2A_20m")]
    ds = io.open_sentinel2(paths, bands=["B8A", "B04"])
    assert [v for v in ds.data_vars if v.startswith("B")] == ["B8A", "B04"]
    assert ds.sizes["x"] == 64 and {"SCL", "clear"} <= set(ds.data_vars)
    coarse = io.open_sentinel2(paths, bands=["B11"])
    assert coarse.sizes["x"] == 32
    narrow = io.open_sentinel2(paths, bands=["B04"], clear_classes=(4,))
    expected = (narrow.SCL == 4).values
    np.testing.assert_array_equal(narrow.clear.values, expected)


def test_s2_10m_alone_has_no_scl(wc1: Path) -> None:
    with pytest.warns(NoCloudMaskWarning, match="no SCL"):
        ds = io.open_sentinel2(_file(wc1, "S2_L2A_10m"))
    assert "SCL" not in ds
    assert bool(ds.clear.all())


def test_s2_patch2(wc2: Path) -> None:
    ds = io.open_sentinel2(_file(wc2, "S2_L2A_20m"), chunks={"time": 50})
    assert ds.B8A.chunks[0] == (50, 50, 46)
    ds = ds.compute()
    _check_cube(ds, (146, 32, 32), 32631)
    assert ds.time.values[0] == _ts("2018-08-02T10:59:38")
    assert ds.time.values[-1] == _ts("2019-11-27T10:56:51")
    same_day = pd.DatetimeIndex(ds.time.values).normalize().duplicated().sum()
    assert same_day == 3  # three same-day pairs, kept as delivered
    assert 0.3 < float(ds.clear.mean()) < 0.5
    assert 0.1 < float(ds.B8A.where(ds.clear).median()) < 0.5


@pytest.fixture(scope="module")
def gfmap_s2(data_dir: Path) -> xr.Dataset:
    return io.open_sentinel2(data_dir / "gfmap" / "cdse_sentinel2_l2a.nc")


def test_s2_gfmap(gfmap_s2: xr.Dataset, data_dir: Path) -> None:
    ds = gfmap_s2
    _check_cube(ds, (12, 66, 64), 32631)
    assert [v for v in ds.data_vars if v.startswith("B")] == ["B01", "B04", "B08", "B11"]
    raw = _raw(data_dir / "gfmap" / "cdse_sentinel2_l2a.nc")
    dn = raw["S2-L2A-B04"].values.view(np.uint16).astype(np.float32)
    np.testing.assert_array_equal(ds.B04.values, dn / np.float32(10_000))
    assert float(ds.B04.min()) >= 0  # already harmonised: no offset from the 2023 date
    assert ds.B04.attrs["boa_offset_applied"] == 0
    assert 0.05 < float(ds.AOT.median()) < 0.5
    mostly_clear = ds.clear.mean(("y", "x")).values >= 0.8
    assert mostly_clear.sum() == 2
    assert list(ds.time.values[mostly_clear]) == [_ts("2023-04-05"), _ts("2023-04-15")]


def test_s2_explicit_boa_offset(gfmap_s2: xr.Dataset, data_dir: Path) -> None:
    shifted = io.open_sentinel2(data_dir / "gfmap" / "cdse_sentinel2_l2a.nc", boa_offset=-1000)
    np.testing.assert_allclose(shifted.B04.values, gfmap_s2.B04.values - 0.1, atol=1e-6)
    assert shifted.B04.attrs["boa_offset_applied"] == -1000


def _write_s2(path: Path, attrs: dict, var_attrs: dict, epsg: int = 32631) -> np.ndarray:
    dn = np.array([[[0, 1500], [2500, 3000]], [[1200, 1300], [1400, 1600]]], dtype=np.uint16)
    ds = xr.Dataset(
        {
            "B04": (("timestamp", "y", "x"), dn, var_attrs),
            "SCL": (("timestamp", "y", "x"), np.full(dn.shape, 4, np.uint8)),
        },
        coords={
            "timestamp": pd.to_datetime(["2023-05-02", "2023-05-01"]),
            "y": [15.0, 5.0],
            "x": [5.0, 15.0],
        },
        attrs=attrs,
    )
    ds.rio.write_crs(epsg).to_netcdf(path)
    return dn[::-1]  # sorted by time


@pytest.mark.parametrize(
    ("attrs", "var_attrs", "offset"),
    [
        ({}, {}, 0),
        ({"processing_baseline": "05.09"}, {}, -1000),
        ({"processing_baseline": "02.14"}, {}, 0),
        ({}, {"BOA_ADD_OFFSET": -1000}, -1000),
        ({"boa_add_offset": -1000}, {}, -1000),
    ],
)
def test_s2_boa_offset_from_metadata(
    tmp_path: Path, attrs: dict, var_attrs: dict, offset: int
) -> None:
    dn = _write_s2(tmp_path / "s2.nc", attrs, var_attrs)
    ds = io.open_sentinel2(tmp_path / "s2.nc")
    expected = (dn.astype(np.float32) + np.float32(offset)) / np.float32(10_000)
    expected[dn == 0] = np.nan
    np.testing.assert_array_equal(ds.B04.values, expected)
    assert ds.time.values[0] == _ts("2023-05-01")
    np.testing.assert_array_equal(ds.clear.values, dn != 0)


def test_s2_time_split_files_concatenate(tmp_path: Path, data_dir: Path) -> None:
    path = data_dir / "gfmap" / "cdse_sentinel2_l2a.nc"
    raw = xr.open_dataset(path, mask_and_scale=False)
    raw.isel(t=slice(0, 5)).to_netcdf(tmp_path / "a.nc")
    raw.isel(t=slice(5, None)).to_netcdf(tmp_path / "b.nc")
    split = io.open_sentinel2([tmp_path / "b.nc", tmp_path / "a.nc"])
    xr.testing.assert_equal(split, io.open_sentinel2(path))


def test_s2_fusets(data_dir: Path) -> None:
    ds = io.open_sentinel2(data_dir / "fusets" / "raw_s2_ndvi_field.nc")
    _check_cube(ds, (33, 57, 56), 32630)
    assert ds.time.values[0] == _ts("2019-01-27")
    assert ds.time.values[-1] == _ts("2019-12-28")
    outside = ds.B04.isnull().all("time").mean()
    assert 0.25 < float(outside) < 0.3  # 27 % of the pixels lie outside the field
    assert 0.03 < np.median(_clear_values(ds, "B04")) < 0.25  # raw DN scaled
    assert 0.15 < np.median(_clear_values(ds, "B08")) < 0.5
    assert not ds.clear.values[ds.B04.isnull().values].any()
    assert (ds.SCL.values[ds.B04.isnull().values] == 0).all()
    assert {"CLM", "NDVI"} <= set(ds.data_vars)
    assert 0.6 < float(ds.clear.mean()) < 0.75


# ----------------------------------------------------------------------------- Sentinel-1


def test_s1_gfmap(data_dir: Path) -> None:
    path = data_dir / "gfmap" / "cdse_sentinel1_grd.nc"
    ds = io.open_sentinel1(path)
    _check_cube(ds, (10, 66, 64), 32631)
    assert abs(float(ds.VV.median()) - (-12.3)) < 0.5
    assert abs(float(ds.VH.median()) - (-18.6)) < 0.5
    assert ds.VV.attrs["units"] == "dB" and ds.VV.dtype == np.float32
    raw = _raw(path)
    for pol in ("VV", "VH"):
        dn = raw[f"S1-SIGMA0-{pol}"].values.view(np.uint16)
        capped = (dn >= 65534) | (dn == 0)
        assert capped.sum() > 0
        np.testing.assert_array_equal(ds[pol].isnull().values, capped)
    assert "relative_orbit" not in ds.coords
    assert "orbit_direction" not in ds.attrs
    linear = io.open_sentinel1(path, units="linear")
    assert linear.VV.attrs["units"] == "1"
    np.testing.assert_allclose(linear.VV.values, 10 ** (ds.VV.values / 10), rtol=1e-5)


@pytest.mark.parametrize(
    ("patch", "n", "first", "last"),
    [
        ("wc1", 159, "2017-08-01T17:32:36", "2018-11-29T17:40:51"),
        ("wc2", 157, "2018-08-01T17:40:49", "2019-11-25T17:32:25"),
    ],
)
def test_s1_worldcereal(request, patch: str, n: int, first: str, last: str) -> None:
    folder = request.getfixturevalue(patch)
    path = _file(folder, "S1_GRD-ASCENDING_20m")
    ds = io.open_sentinel1(path)
    _check_cube(ds, (n, 32, 32), 32631)
    assert ds.time.values[0] == _ts(first) and ds.time.values[-1] == _ts(last)
    assert -25 <= float(ds.VV.min()) and float(ds.VV.max()) <= 15
    assert -13 < float(ds.VV.median()) < -7 and -20 < float(ds.VH.median()) < -14
    raw = _raw(path)
    np.testing.assert_array_equal(
        ds.VV.values, raw.VV.values.astype(np.float32) / np.float32(10_000)
    )
    assert ds.attrs["orbit_direction"] == "ascending"
    assert "relative_orbit" not in ds.coords


def _write_s1(path: Path, attrs: dict, orbit_var: list[int] | None) -> None:
    dn = np.array([[[-100000, 0]], [[-90000, -80000]], [[-70000, -60000]]], dtype=np.int32)
    data = {"VV": (("timestamp", "y", "x"), dn), "VH": (("timestamp", "y", "x"), dn - 60000)}
    if orbit_var is not None:
        data["relative_orbit"] = (("timestamp",), np.array(orbit_var))
    times = pd.to_datetime(["2020-01-13", "2020-01-01", "2020-01-07"])
    ds = xr.Dataset(data, coords={"timestamp": times, "y": [10.0], "x": [10.0, 30.0]})
    ds.attrs = attrs
    ds.rio.write_crs(32631).to_netcdf(path)


def test_s1_relative_orbit_from_attrs_and_variable(tmp_path: Path) -> None:
    _write_s1(tmp_path / "a.nc", {"sat:relative_orbit": 37, "orbit_direction": "DESCENDING"}, None)
    ds = io.open_sentinel1(tmp_path / "a.nc")
    np.testing.assert_array_equal(ds.relative_orbit.values, [37, 37, 37])
    assert ds.attrs["orbit_direction"] == "descending"
    assert np.isnan(ds.VV.values[-1, 0, 1])  # the 0 DN of 2020-01-13, now last
    np.testing.assert_allclose(ds.VV.values[:, 0, 0], [-9.0, -7.0, -10.0])
    _write_s1(tmp_path / "b.nc", {}, [88, 37, 161])
    ds = io.open_sentinel1(tmp_path / "b.nc", chunks={})
    assert ds.relative_orbit.dims == ("time",)
    np.testing.assert_array_equal(ds.relative_orbit.values, [37, 161, 88])


# ----------------------------------------------------------------------------- Landsat-8


@pytest.fixture(scope="module")
def l8_sr(wc1: Path) -> xr.Dataset:
    return io.open_landsat8(_file(wc1, "L8_SR_10m"))


def test_l8_sr_dates_bands(l8_sr: xr.Dataset) -> None:
    ds = l8_sr
    _check_cube(ds, (26, 64, 64), 32631)
    assert [v for v in ds.data_vars if v.startswith("B")] == L8_SR
    assert ds.time.values[0] == _ts("2017-08-15T10:40:28")
    assert ds.time.values[-1] == _ts("2018-11-22T10:40:22")
    times = list(ds.time.values)
    assert _ts("2018-06-06T10:44:59") in times and _ts("2018-06-06T10:45:23") in times
    assert ds.B05.attrs["common_name"] == "nir"
    assert ds.B10.attrs["units"] == "K" and ds.B04.attrs["units"] == "1"
    assert ds.pixel_qa.dtype == np.uint16


def test_l8_sr_decoding_and_clear(l8_sr: xr.Dataset, wc1: Path) -> None:
    raw = _raw(_file(wc1, "L8_SR_10m"))
    qa = raw.pixel_qa.values.astype(np.int64)
    fill = (qa == 0) | (qa & 1 > 0)
    for band in L8_SR:
        dn = raw[band].values
        bad = fill | (dn >= 20000) | (dn == 0)
        assert bad.sum() >= 675, band  # 675 fill pixels at 64537 in every band
        np.testing.assert_array_equal(l8_sr[band].isnull().values, bad, err_msg=band)
        scale = 10 if band in ("B10", "B11") else 10_000
        expected = dn.astype(np.float32) / np.float32(scale)
        np.testing.assert_array_equal(l8_sr[band].values[~bad], expected[~bad])
    usable = ((qa & 0b110) > 0) & ((qa & 0b111000) == 0) & ~fill
    usable &= (np.stack([raw[b].values for b in L8_SR]) < 20000).all(axis=0)
    np.testing.assert_array_equal(l8_sr.clear.values, usable)
    assert 0.4 < float(l8_sr.clear.mean()) < 0.7
    for band in L8_SR[:6]:
        values = _clear_values(l8_sr, band)
        assert values.min() >= 0 and values.max() <= 1.2, band
    assert 0.02 < np.median(_clear_values(l8_sr, "B04")) < 0.15
    assert 0.15 < np.median(_clear_values(l8_sr, "B05")) < 0.5
    assert 270 < np.median(_clear_values(l8_sr, "B10")) < 310


def test_l8_qa_bits_synthetic(tmp_path: Path) -> None:
    # clear, water, clear+shadow, clear+snow, clear+cloud, fill, clear but saturated, zero DN
    qa = np.array([[[322, 324, 330, 338, 354, 0, 322, 322]]], dtype=np.uint16)
    dn = np.array([[[500, 600, 700, 800, 900, 64537, 65000, 0]]], dtype=np.uint16)
    coords = {
        "timestamp": pd.to_datetime(["2018-06-06"]),
        "y": [5.0],
        "x": 5.0 + 10 * np.arange(8),
    }
    dims = ("timestamp", "y", "x")
    sr = xr.Dataset({"B04": (dims, dn), "pixel_qa": (dims, qa)}, coords=coords)
    sr.rio.write_crs(32631).to_netcdf(tmp_path / "sr.nc")
    ds = io.open_landsat8(tmp_path / "sr.nc")
    assert ds.clear.values[0, 0].tolist() == [True, True] + [False] * 6
    np.testing.assert_array_equal(ds.B04.isnull().values[0, 0], [False] * 5 + [True] * 3)
    # Collection 2: clear (bit 6), water (7), clear+dilated, +cirrus, +cloud, +shadow, +snow, fill
    qa2 = np.array([[[64, 128, 66, 68, 72, 80, 96, 1]]], dtype=np.uint16)
    st = np.array([[[290, 280, 270, 260, 250, 240, 230, 149]]], dtype=np.uint16)
    coords["timestamp"] = np.array(["2018-06-06"])
    c2 = xr.Dataset({"ST-B10": (dims, st), "QA-PIXEL": (dims, qa2)}, coords=coords)
    c2.rio.write_crs(32631).to_netcdf(tmp_path / "st.nc")
    ds = io.open_landsat8(tmp_path / "st.nc")
    assert ds.clear.values[0, 0].tolist() == [True, True] + [False] * 6
    assert ds.time.values[0] == _ts("2018-06-06")
    np.testing.assert_array_equal(ds["ST-B10"].values[0, 0, :2], [290.0, 280.0])
    assert np.isnan(ds["ST-B10"].values[0, 0, -1])


def test_l8_st(wc1: Path) -> None:
    path = _file(wc1, "L8_L2-ST_10m")
    ds = io.open_landsat8(path)
    _check_cube(ds, (55, 64, 64), 32631)
    assert ds.time.values[0] == _ts("2017-08-06") and ds.time.values[-1] == _ts("2018-11-29")
    st = ds["ST-B10"]
    assert st.attrs["units"] == "K" and st.dtype == np.float32
    raw = _raw(path)
    fill = (raw["QA-PIXEL"].values & 1) > 0
    assert fill.sum() == 104049
    np.testing.assert_array_equal(st.isnull().values, fill)
    assert 180 < float(st.min()) and float(st.max()) < 320
    assert 270 < np.median(_clear_values(ds, "ST-B10")) < 310
    assert 0.15 < float(ds.clear.mean()) < 0.35
    assert ds["QA-PIXEL"].dtype == np.uint16


def test_l8_patch2(wc2: Path) -> None:
    sr = io.open_landsat8(_file(wc2, "L8_SR_10m"), bands=["B04", "B05"])
    _check_cube(sr, (23, 64, 64), 32631)
    assert [v for v in sr.data_vars if v.startswith("B")] == ["B04", "B05"]
    assert 0.15 < np.median(_clear_values(sr, "B05")) < 0.5
    st = io.open_landsat8(_file(wc2, "L8_L2-ST_10m"), chunks={"time": 10}).compute()
    _check_cube(st, (30, 64, 64), 32631)
    assert 0.5 < float(st.clear.mean()) < 1


def test_to_common_names(s2_pair: xr.Dataset, l8_sr: xr.Dataset) -> None:
    s2 = io.to_common_names(s2_pair)
    assert {"red", "nir", "nir08", "swir16", "SCL", "clear"} <= set(s2.data_vars)
    assert "B04" not in s2 and s2.red.attrs["band"] == "B04"
    np.testing.assert_array_equal(s2.red.values, s2_pair.B04.values)
    l8 = io.to_common_names(l8_sr)
    np.testing.assert_array_equal(l8.nir.values, l8_sr.B05.values)
    assert {"red", "nir", "lwir11", "pixel_qa"} <= set(l8.data_vars)


# ----------------------------------------------------------------------------- eo-learn


def test_eopatch(data_dir: Path) -> None:
    folder = data_dir / "eolearn" / "TestEOPatch"
    ds = io.open_eopatch(folder)
    _check_cube(ds, (68, 101, 100), 32633)
    assert ds.NDVI.dtype == np.float32 and "CLP" in ds
    assert ds.time.values[0] == _ts("2015-07-11T10:00:08")
    assert ds.time.values[-1] == _ts("2017-12-22T10:04:15")
    assert pd.DatetimeIndex(ds.time.values).normalize().duplicated().sum() == 1
    clm = np.load(folder / "mask" / "CLM.npy")[..., 0].astype(bool)
    is_data = np.load(folder / "mask" / "IS_DATA.npy")[..., 0].astype(bool)
    np.testing.assert_array_equal(ds.clear.values, is_data & ~clm)
    np.testing.assert_array_equal(ds.NDVI.values, np.load(folder / "data" / "NDVI.npy")[..., 0])
    bbox = np.asarray(json.loads((folder / "bbox.geojson").read_text())["coordinates"])[0]
    left, top = bbox[:, 0].min(), bbox[:, 1].max()
    transform = ds.rio.transform()
    assert transform.c == pytest.approx(left) and transform.f == pytest.approx(top)
    assert transform.a == pytest.approx(10, abs=0.01) and transform.e == pytest.approx(
        -10, abs=0.01
    )
    assert 0.5 < float(ds.clear.mean()) < 0.7
    assert 0.3 < np.median(_clear_values(ds, "NDVI")) < 0.9


# ----------------------------------------------------------------------------- laziness


def _lazy_cases(data_dir: Path, wc1: Path) -> list:
    """Reader, path, options, chunks (x chunks only where the file is not chunked on disk)."""
    by_time, by_time_x = {"time": 7}, {"time": 7, "x": 16}
    return [
        (io.open_sentinel2, [_file(wc1, "S2_L2A_10m"), _file(wc1, "S2_L2A_20m")], {}, by_time_x),
        (io.open_sentinel2, data_dir / "gfmap" / "cdse_sentinel2_l2a.nc", {}, by_time),
        (io.open_sentinel2, data_dir / "fusets" / "raw_s2_ndvi_field.nc", {}, by_time),
        (
            io.open_sentinel1,
            data_dir / "gfmap" / "cdse_sentinel1_grd.nc",
            {"units": "linear"},
            by_time,
        ),
        (io.open_sentinel1, _file(wc1, "S1_GRD-ASCENDING_20m"), {}, by_time_x),
        (io.open_landsat8, _file(wc1, "L8_SR_10m"), {}, by_time_x),
        (io.open_landsat8, _file(wc1, "L8_L2-ST_10m"), {}, by_time_x),
    ]


@pytest.mark.parametrize("case", range(7))
def test_lazy_reading_equals_numpy(case: int, data_dir: Path, wc1: Path, raise_if_dask_computes):
    reader, path, kwargs, chunks = _lazy_cases(data_dir, wc1)[case]
    with raise_if_dask_computes():
        lazy = reader(path, chunks=chunks, **kwargs)
    for name, var in lazy.data_vars.items():
        assert var.chunks is not None, name
    first = next(v for v in lazy.data_vars.values() if v.ndim == 3)
    assert first.chunks[0][0] == 7
    assert first.chunks[2][0] == chunks.get("x", first.sizes["x"])
    eager = reader(path, **kwargs)
    assert all(v.chunks is None for v in eager.data_vars.values())
    xr.testing.assert_equal(lazy.compute(), eager)
    assert lazy.rio.crs == eager.rio.crs


def test_reading_leaves_the_file_unchanged(data_dir: Path) -> None:
    path = data_dir / "gfmap" / "cdse_sentinel2_l2a.nc"
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    io.open_sentinel2(path, chunks={}).compute()
    io.open_sentinel2(path)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before


# ----------------------------------------------------------------------------- generic cubes


def _synthetic(order: list[int] | None = None) -> xr.Dataset:
    rng = np.random.default_rng(42)
    times = pd.date_range("2020-01-01", periods=5, freq="5D")[::-1]
    ds = xr.Dataset(
        {"B04": (("northing", "easting", "t"), rng.random((3, 4, 5), dtype=np.float32))},
        coords={
            "t": times,
            "northing": 100 - 10 * np.arange(3.0),
            "easting": 500 + 10 * np.arange(4.0),
        },
    )
    ds = ds.rio.set_spatial_dims(x_dim="easting", y_dim="northing").rio.write_crs(32631)
    return ds


def test_open_cube_netcdf(tmp_path: Path) -> None:
    src = _synthetic()
    src.to_netcdf(tmp_path / "c.nc")
    ds = io.open_cube(tmp_path / "c.nc")
    assert tuple(ds.B04.dims) == ("time", "y", "x")
    assert ds.rio.crs.to_epsg() == 32631
    assert pd.DatetimeIndex(ds.time.values).is_monotonic_increasing
    expected = src.B04.sortby("t").transpose("t", "northing", "easting").values
    np.testing.assert_array_equal(ds.B04.values, expected)


def test_open_cube_zarr_lazy(tmp_path: Path) -> None:
    encoding = {"B04": {"chunks": (3, 2, 5)}}  # (northing, easting, t) on disk
    _synthetic().to_zarr(tmp_path / "c.zarr", mode="w", zarr_format=2, encoding=encoding)
    ds = io.open_cube(tmp_path / "c.zarr", chunks={"time": 5, "x": 2})
    assert ds.B04.dims == ("time", "y", "x")
    assert ds.B04.chunks == ((5,), (3,), (2, 2))
    assert ds.rio.crs.to_epsg() == 32631


def test_open_cube_string_times_and_time_dim(tmp_path: Path) -> None:
    src = _synthetic()
    src = src.assign_coords(t=[str(t)[:10] for t in src.t.values])
    src.to_netcdf(tmp_path / "s.nc")
    ds = io.open_cube(tmp_path / "s.nc")
    assert ds.time.dtype == np.dtype("datetime64[ns]")
    assert ds.time.values[0] == _ts("2020-01-01")
    two = _synthetic().assign_coords(t2=("northing", pd.date_range("2021-01-01", periods=3)))
    two = two.swap_dims(northing="t2")
    two.to_netcdf(tmp_path / "two.nc")
    with pytest.raises(TimeDimError, match="time_dim="):
        io.open_cube(tmp_path / "two.nc")
    ds = io.open_cube(tmp_path / "two.nc", time_dim="t")
    assert "time" in ds.dims and "t2" in ds.dims


def _write_tif(path: Path, descriptions: tuple[str, ...] | None) -> xr.DataArray:
    rng = np.random.default_rng(1)
    da = xr.DataArray(
        rng.random((3, 4, 5), dtype=np.float32),
        dims=("band", "y", "x"),
        coords={"band": [1, 2, 3], "y": 100 - 10 * np.arange(4.0), "x": 500 + 10 * np.arange(5.0)},
    ).rio.write_crs(32631)
    if descriptions is not None:
        da.attrs["long_name"] = descriptions
    da.rio.to_raster(path)
    return da


def test_open_cube_geotiff(tmp_path: Path) -> None:
    src = _write_tif(tmp_path / "d.tif", ("2020-01-21", "2020-01-01", "2020-01-11"))
    da = io.open_cube(tmp_path / "d.tif")
    assert isinstance(da, xr.DataArray) and da.dims == ("time", "y", "x")
    assert list(da.time.values) == [_ts("2020-01-01"), _ts("2020-01-11"), _ts("2020-01-21")]
    np.testing.assert_array_equal(da.values, src.values[[1, 2, 0]])
    assert da.rio.crs.to_epsg() == 32631
    assert da.rio.transform().c == 495 and da.rio.transform().f == 105


def test_open_cube_geotiff_needs_dates(tmp_path: Path) -> None:
    _write_tif(tmp_path / "n.tif", None)
    with pytest.raises(TimeDimError, match="times="):
        io.open_cube(tmp_path / "n.tif")
    da = io.open_cube(tmp_path / "n.tif", times=["2020-01-01", "2020-01-02", "2020-01-03"])
    assert da.time.values[-1] == _ts("2020-01-03")
    lazy = io.open_cube(
        tmp_path / "n.tif", times=["2020-01-01", "2020-01-02", "2020-01-03"], chunks={"time": 1}
    )
    assert lazy.chunks[0] == (1, 1, 1)


def test_bands_to_dataset() -> None:
    rng = np.random.default_rng(3)
    da = xr.DataArray(
        rng.random((2, 3, 4, 5), dtype=np.float32),
        dims=("time", "band", "y", "x"),
        coords={
            "time": pd.date_range("2020-01-01", periods=2),
            "band": ["B04", "B08", "SCL"],
            "common_name": ("band", ["red", "nir", None]),
            "center_wavelength": ("band", [0.665, 0.842, np.nan]),
            "eo:cloud_cover": ("time", [10.0, 20.0]),
            "y": 100 - 10 * np.arange(4.0),
            "x": 500 + 10 * np.arange(5.0),
        },
        attrs={"spec": "x"},
    ).rio.write_crs(32631)
    ds = io.bands_to_dataset(da)
    assert list(ds.data_vars) == ["B04", "B08", "SCL"]
    assert ds.B08.dims == ("time", "y", "x")
    assert ds.B08.attrs["common_name"] == "nir"
    assert ds.B04.attrs["center_wavelength"] == pytest.approx(0.665)
    assert "common_name" not in ds.SCL.attrs and "spec" not in ds.B04.attrs
    assert "eo:cloud_cover" in ds.coords and "common_name" not in ds.coords
    np.testing.assert_array_equal(ds.B08.values, da.values[:, 1])
    assert ds.rio.crs.to_epsg() == 32631 and ds.attrs["spec"] == "x"


# ----------------------------------------------------------------------------- rooms by product

ROOMS = {
    "sentinel2": ["open_sentinel2", "S2_BANDS", "SCL_MEANINGS"],
    "sentinel1": ["open_sentinel1"],
    "landsat": ["open_landsat8", "L8_BANDS", "L8_THERMAL"],
    "cube": ["open_cube", "bands_to_dataset", "to_common_names"],
    "eopatch": ["open_eopatch"],
}
# the dispatcher (what stori interpolate reads with) picks a room by each file's layout
DISPATCHER = {"auto": ["open_optical", "open_sar", "detect_layout", "Layout"]}
# what each module of stori_xr.io may import from stori_xr: nothing above the readers
SHARED = {"stori_xr.exceptions", "stori_xr.metadata", "stori_xr.validate"}
ALLOWED = {
    "chunks": {"stori_xr.exceptions"},
    "decode": SHARED | {"stori_xr.io.chunks"},
    **{room: SHARED | {"stori_xr.io.chunks", "stori_xr.io.decode"} for room in ROOMS},
    "auto": SHARED | {f"stori_xr.io.{m}" for m in (*ROOMS, "chunks", "decode")},
    "__init__": {f"stori_xr.io.{m}" for m in (*ROOMS, *DISPATCHER, "chunks", "decode")},
}


def _stori_imports(path: Path) -> set[str]:
    """The stori_xr modules a file imports (``from stori_xr import x``: ``stori_xr.x``)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("stori_xr"):
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                package = node.module in ("stori_xr", "stori_xr.io")
                found.add(full if package and importlib.util.find_spec(full) else node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("stori_xr")}
    return found


def test_readers_have_rooms_by_product() -> None:
    folder = Path(io.__file__).parent
    assert sorted(p.stem for p in folder.glob("*.py")) == sorted(ALLOWED)
    rooms = {**ROOMS, **DISPATCHER}
    for room, names in rooms.items():
        module = importlib.import_module(f"stori_xr.io.{room}")
        for name in names:
            assert getattr(io, name) is getattr(module, name), name
    public = [name for names in rooms.values() for name in names if name.islower()]
    assert sorted(io.__all__) == sorted(public)
    for path in folder.glob("*.py"):
        assert _stori_imports(path) <= ALLOWED[path.stem], path.name


def test_reader_docstring_examples_run() -> None:
    for module in (io.chunks, io.cube, validate):
        result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
        assert result.failed == 0 and result.attempted > 0, module.__name__


# ----------------------------------------------------------------------------- time, SAR units

TIME_COORDS = {
    "datetime64": (pd.date_range("2020-01-01", periods=3), True),
    "iso-strings": (["2020-01-01", "2020-01-11", "2020-01-21T10:30"], True),
    "other-strings": (["B04", "B08", "B11"], False),
    "numbers": ([1, 2, 3], False),
}


@pytest.mark.parametrize("kind", TIME_COORDS)
def test_one_time_finder_for_readers_and_validation(kind: str, tmp_path: Path) -> None:
    values, is_time = TIME_COORDS[kind]
    ds = xr.Dataset(
        {"B04": (("t", "y", "x"), np.zeros((3, 2, 2), np.float32))},
        coords={"t": values, "y": [15.0, 5.0], "x": [5.0, 15.0], "band": ["B04"]},
    )
    ds.to_netcdf(tmp_path / "c.nc")
    if not is_time:
        for strict in (True, False):
            with pytest.raises(TimeDimError, match="no datetime64 dimension"):
                validate.find_time_dim(ds, require_datetime64=strict)
        with pytest.raises(TimeDimError, match="time_dim="):
            io.open_cube(tmp_path / "c.nc")
        return
    # the readers find it and convert it ...
    assert validate.find_time_dim(ds, require_datetime64=False) == "t"
    read = io.open_cube(tmp_path / "c.nc")
    assert read.time.dtype == np.dtype("datetime64[ns]") and read.sizes["time"] == 3
    if kind == "datetime64":
        assert validate.find_time_dim(ds) == "t"
        return
    # ... the validation finds the same one and says how to convert it
    with pytest.raises(TimeDimError, match=r"'t' holds date strings.*pd\.to_datetime"):
        validate.find_time_dim(ds)
    with pytest.raises(TimeDimError, match=r"'t' holds date strings.*pd\.to_datetime"):
        validate.find_time_dim(ds, "t")
    converted = ds.assign_coords(t=pd.to_datetime(ds.t.values, format="ISO8601"))
    assert validate.find_time_dim(converted) == "t"


@pytest.mark.parametrize(
    "spelling", [*sorted(validate.DB_UNITS | validate.LINEAR_UNITS), "dB", " Decibels ", "M2/M2"]
)
def test_one_sar_units_rule_for_reader_and_validation(spelling: str, data_dir: Path) -> None:
    declared = xr.DataArray([-12.0], name="VV", attrs={"units": spelling})
    kind = validate.sar_units(declared, None)
    assert kind == validate.sar_units(declared.drop_attrs(), spelling)
    ds = io.open_sentinel1(data_dir / "gfmap" / "cdse_sentinel1_grd.nc", units=spelling)
    assert ds.VV.attrs["units"] == {"dB": "dB", "linear": "1"}[kind]
