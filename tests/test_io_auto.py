"""stori_xr.io.auto: each file's layout picks its reader (what ``stori interpolate`` reads)."""

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from stori_xr import io
from stori_xr.exceptions import DataFormatError


@pytest.mark.parametrize(
    ("relative", "name", "sensor", "reader"),
    [
        (
            "worldcereal/*/S2_L2A_10m_*",
            "Sentinel-2 L2A (WorldCereal)",
            "optical",
            "open_sentinel2",
        ),
        (
            "gfmap/cdse_sentinel2_l2a.nc",
            "Sentinel-2 L2A (openEO gfmap)",
            "optical",
            "open_sentinel2",
        ),
        ("fusets/raw_s2_ndvi_field.nc", "Sentinel-2 L2A (FuseTS)", "optical", "open_sentinel2"),
        ("worldcereal/*/L8_SR_10m_*", "Landsat 8 (WorldCereal)", "optical", "open_landsat8"),
        ("worldcereal/*/L8_L2-ST_10m_*", "Landsat 8 (WorldCereal)", "optical", "open_landsat8"),
        ("worldcereal/*/S1_GRD-*", "Sentinel-1 GRD (WorldCereal)", "sar", "open_sentinel1"),
        ("gfmap/cdse_sentinel1_grd.nc", "Sentinel-1 GRD (openEO gfmap)", "sar", "open_sentinel1"),
        ("eolearn/TestEOPatch", "eo-learn EOPatch", None, "open_eopatch"),
        ("worldcereal/*/OUTPUT_POLY-*", "generic NetCDF cube", None, "open_cube"),
    ],
)
def test_detect_layout_of_the_real_files(data_dir, relative, name, sensor, reader):
    path = sorted(data_dir.glob(relative))[0]
    assert io.detect_layout(path) == io.Layout(name, sensor, reader)


@pytest.fixture
def scene_zarr(tmp_path):
    """make_scene's optical cube (float reflectance with B05 … and clear) as a Zarr store."""
    from stori_xr.datasets import make_scene

    scene = make_scene(12, 12, periods=8, seed=1)
    with warnings.catch_warnings():  # zarr: consolidated metadata is not in its spec
        warnings.filterwarnings("ignore", "Consolidated metadata", UserWarning)
        scene.optical.to_zarr(tmp_path / "optical.zarr")
        scene.sar.to_netcdf(tmp_path / "sar.nc")
    return scene, tmp_path / "optical.zarr", tmp_path / "sar.nc"


def test_a_tidy_cube_is_generic_not_a_product(scene_zarr):
    scene, optical, sar = scene_zarr
    # Sentinel-2 band names, but floats with a clear mask: not DN to decode again
    assert io.detect_layout(optical) == io.Layout("generic Zarr cube", None, "open_cube")
    assert io.detect_layout(sar) == io.Layout("generic NetCDF cube", None, "open_cube")
    ds = io.open_optical(optical)
    xr.testing.assert_equal(ds[list(scene.optical.data_vars)], scene.optical)
    xr.testing.assert_equal(io.open_sar(sar)[["VV", "VH"]], scene.sar[["VV", "VH"]])


@pytest.mark.parametrize("chunks", [None, {"y": 16, "x": 16}])
def test_open_optical_reads_sentinel2_as_open_sentinel2(wc1, chunks):
    files = sorted(wc1.glob("S2_L2A_*m_*.nc"))
    ds = io.open_optical([str(f) for f in files], chunks=chunks)
    xr.testing.assert_identical(
        ds.drop_attrs(), io.open_sentinel2(files, chunks=chunks).drop_attrs()
    )
    if chunks:
        assert ds.chunks["y"] == (16,) * 4 and ds.chunks["time"] == (118,)


def test_open_sar_combines_files_along_time_in_one_chunk(wc1, tmp_path):
    (s1,) = wc1.glob("S1_GRD-*_20m_*.nc")
    parts = [tmp_path / "early.nc", tmp_path / "late.nc"]
    with xr.open_dataset(s1, mask_and_scale=False) as raw:
        raw.isel(timestamp=slice(80, None)).to_netcdf(parts[1])
        raw.isel(timestamp=slice(0, 80)).to_netcdf(parts[0])
    combined = io.open_sar(parts[::-1], chunks={"y": 16, "x": 16})
    assert combined.chunks["time"] == (159,) and combined.chunks["y"] == (16, 16)
    whole = io.open_sentinel1(s1)
    xr.testing.assert_equal(combined[["VV", "VH"]], whole[["VV", "VH"]])
    assert combined.rio.crs == whole.rio.crs


def _write_band(path: Path, dates: pd.DatetimeIndex, seed: int) -> np.ndarray:
    values = np.random.default_rng(seed).random((dates.size, 4, 6), dtype=np.float32)
    da = xr.DataArray(
        values,
        dims=("band", "y", "x"),
        coords={"band": np.arange(1, dates.size + 1), "y": 100 - 10 * np.arange(4.0)},
        attrs={"long_name": tuple(str(d.date()) for d in dates)},
    ).assign_coords(x=500 + 10 * np.arange(6.0))
    da.rio.write_crs(32631).rio.to_raster(path)
    return values


def test_geotiffs_are_the_bands_of_one_cube_named_after_their_files(tmp_path):
    dates = pd.date_range("2021-03-01", periods=5, freq="10D")
    red = _write_band(tmp_path / "B04.tif", dates, 1)
    nir = _write_band(tmp_path / "B08.tif", dates, 2)
    ds = io.open_optical([tmp_path / "B04.tif", tmp_path / "B08.tif"], chunks={"y": 2, "x": 3})
    assert list(ds.data_vars) == ["B04", "B08"]
    assert ds.chunks == {"time": (5,), "y": (2, 2), "x": (3, 3)}
    np.testing.assert_array_equal(ds.time.values, dates.values)
    np.testing.assert_array_equal(ds.B04.values, red)
    np.testing.assert_array_equal(ds.B08.values, nir)
    assert ds.rio.crs.to_epsg() == 32631


def test_a_file_of_the_other_sensor_is_refused(wc1):
    (s1,) = wc1.glob("S1_GRD-*_20m_*.nc")
    with pytest.raises(
        DataFormatError, match=r"Sentinel-1 GRD \(WorldCereal\) file: give it as SAR"
    ):
        io.open_optical(s1)
    with pytest.raises(DataFormatError, match="give it as optical input"):
        io.open_sar(next(wc1.glob("S2_L2A_20m_*.nc")))


def test_files_of_several_layouts_are_refused(wc1, scene_zarr):
    s2 = next(wc1.glob("S2_L2A_20m_*.nc"))
    with pytest.raises(DataFormatError, match=r"several layouts \(S2_L2A_20m_.*generic Zarr"):
        io.open_optical([s2, scene_zarr[1]])


def test_a_file_no_reader_takes_names_what_was_tried(wc1):
    (labels,) = wc1.glob("OUTPUT_POLY-*.nc")
    with pytest.raises(DataFormatError) as error:
        io.open_optical(labels)
    message = str(error.value)
    assert "is in no layout stori_xr reads as optical input" in message
    for tried in ("openEO gfmap", "Landsat 8", "(WorldCereal)", "FuseTS", "as a generic cube"):
        assert tried in message
    assert "no datetime64 dimension" in message  # open_cube's own reason


def test_sar_input_without_vv_or_vh_is_refused(scene_zarr):
    with pytest.raises(DataFormatError, match=r"no VV or VH in .*optical.zarr .*tried Sentinel-1"):
        io.open_sar(scene_zarr[1])


def test_missing_and_damaged_files(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"missing\.nc"):
        io.open_optical(tmp_path / "missing.nc")
    (tmp_path / "bad.nc").write_bytes(b"not netcdf at all")
    with pytest.raises(DataFormatError, match=r"bad\.nc is not a NetCDF/HDF5 file"):
        io.detect_layout(tmp_path / "bad.nc")
