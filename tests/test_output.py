"""Zarr output is honest: it round-trips, says whether it is complete, never reads as data
where nothing was written, and works on data opened with plain xarray."""

import numpy as np
import pytest
import xarray as xr
import zarr

import stori_xr  # noqa: F401
from stori_xr.datasets import make_scene
from stori_xr.exceptions import UnscaledReflectanceError
from stori_xr.kernels.flags import NODATA
from stori_xr.metadata import COMPLETE, INCOMPLETE, WRITE_STATUS


@pytest.fixture(scope="module")
def scene():
    return make_scene(24, 24, periods=12, seed=3)


@pytest.fixture(scope="module")
def cf_files(scene, tmp_path_factory):
    """The scene as CF NetCDF files: bands carry grid_mapping, as GDAL/rioxarray write."""
    folder = tmp_path_factory.mktemp("cf")
    scene.optical.to_netcdf(folder / "optical.nc")
    scene.sar.to_netcdf(folder / "sar.nc")
    return folder / "optical.nc", folder / "sar.nc"


def _assert_values_equal(back: xr.Dataset, out: xr.Dataset) -> None:
    for name in out.data_vars:
        np.testing.assert_array_equal(back[name].values, out[name].values, err_msg=name)


@pytest.mark.parametrize("set_coords", [False, True], ids=["spatial_ref-data-var", "coord"])
def test_result_of_plain_open_dataset_writes_and_reads_back(cf_files, tmp_path, set_coords):
    optical = xr.open_dataset(cf_files[0])
    sar = xr.open_dataset(cf_files[1])
    assert optical.B05.attrs["grid_mapping"] == "spatial_ref"  # as plain xarray leaves it
    if set_coords:
        optical, sar = optical.set_coords("spatial_ref"), sar.set_coords("spatial_ref")
    out = optical.stori.interpolate(sar, method="linear")
    assert out.rio.crs.to_epsg() == 32631  # the CRS is found in either layout
    out.stori.to_zarr(tmp_path / "out.zarr")
    back = xr.open_zarr(tmp_path / "out.zarr")
    assert "spatial_ref" in back.coords and "spatial_ref" not in back.data_vars
    assert back.rio.crs.to_epsg() == 32631
    assert back.attrs[WRITE_STATUS] == COMPLETE
    assert back.stori_source.dtype == np.int8
    _assert_values_equal(back, out)


def test_input_opened_with_plain_xarray_writes_itself(cf_files, tmp_path):
    optical = xr.open_dataset(cf_files[0]).set_coords("spatial_ref")
    attrs = {name: dict(var.attrs) for name, var in optical.variables.items()}
    optical.stori.to_zarr(tmp_path / "in.zarr")
    assert {name: dict(var.attrs) for name, var in optical.variables.items()} == attrs
    back = xr.open_zarr(tmp_path / "in.zarr")
    assert back.rio.crs.to_epsg() == 32631
    np.testing.assert_array_equal(back.B05.values, optical.B05.values)


def test_storage_attributes_of_the_source_are_not_carried_to_the_result(scene):
    optical = scene.optical.copy()
    optical["B05"] = optical.B05.assign_attrs(_FillValue=0, scale_factor=1e-4, grid_mapping="x")
    out = optical.stori.interpolate(scene.sar, method="linear")
    assert not {"_FillValue", "scale_factor", "grid_mapping"} & set(out.B05.attrs)
    assert out.B05.attrs["long_name"] == scene.optical.B05.attrs["long_name"]


def test_store_is_incomplete_until_its_last_chunk_is_written(scene, tmp_path):
    out = scene.optical.chunk({"y": 12, "x": 12}).stori.interpolate(scene.sar, method="linear")
    store = tmp_path / "out.zarr"
    write = out.stori.to_zarr(store, compute=False)
    unwritten = xr.open_zarr(store)
    assert unwritten.attrs[WRITE_STATUS] == INCOMPLETE
    # nothing written yet: no value reads as data, every flag reads as no_data
    assert (unwritten.stori_source.values == NODATA).all()
    assert np.isnan(unwritten.B05.values).all() and np.isnan(unwritten.B05_sigma.values).all()
    write.compute()
    done = xr.open_zarr(store)
    assert done.attrs[WRITE_STATUS] == COMPLETE
    _assert_values_equal(done, out)


def test_failed_write_leaves_an_incomplete_store_whose_holes_read_as_no_data(scene, tmp_path):
    # one chunk of one band holds digital numbers: its value check fails inside a dask
    # task, after other chunks may have been written
    optical = scene.optical.chunk({"y": 12, "x": 12})
    bad = optical.B05.copy(data=optical.B05.data.copy())
    bad[:, :12, :12] = bad[:, :12, :12] * 10_000
    out = optical.assign(B05=bad).stori.interpolate(scene.sar, method="linear")
    store = tmp_path / "out.zarr"
    with pytest.raises(UnscaledReflectanceError):
        out.stori.to_zarr(store)
    back = xr.open_zarr(store)
    assert back.attrs[WRITE_STATUS] == INCOMPLETE
    flags = back.stori_source.values
    assert (flags[:, :12, :12] == NODATA).all()  # the failed tile was never written
    assert np.isnan(back.B05.values[:, :12, :12]).all()
    # a retry without mode='w' is refused (tests/bad_inputs.py); with it, it replaces the store
    good = scene.optical.chunk({"y": 12, "x": 12}).stori.interpolate(scene.sar, method="linear")
    good.stori.to_zarr(store, mode="w")
    assert xr.open_zarr(store).attrs[WRITE_STATUS] == COMPLETE


def test_write_that_fails_before_any_data_leaves_no_store(scene, tmp_path):
    out = scene.optical.stori.interpolate(scene.sar, method="linear")
    store = tmp_path / "out.zarr"
    with pytest.raises(ValueError, match="bogus"):
        out.stori.to_zarr(store, encoding={"B05": {"bogus": 1}})
    assert not store.exists()
    out.stori.to_zarr(store)  # the retry starts afresh
    assert xr.open_zarr(store).attrs[WRITE_STATUS] == COMPLETE


def test_zarr_format_2_masks_unwritten_flags(scene, tmp_path):
    out = scene.optical.chunk({"y": 12, "x": 12}).stori.interpolate(scene.sar, method="linear")
    store = tmp_path / "v2.zarr"
    out.stori.to_zarr(store, compute=False, zarr_format=2)
    assert np.isnan(xr.open_zarr(store).stori_source.values).all()  # missing, not observed


def test_flags_keep_their_dtype_and_zarr_fill_value(scene, tmp_path):
    out = scene.optical.stori.interpolate(scene.sar, method="linear")
    out.stori.to_zarr(tmp_path / "out.zarr")
    group = zarr.open_group(str(tmp_path / "out.zarr"), mode="r")
    assert group["stori_source"].fill_value == NODATA
    assert "_FillValue" not in group["stori_source"].attrs


def test_append_marks_the_store_incomplete_until_done(scene, tmp_path):
    out = scene.optical.stori.interpolate(scene.sar, method="linear")
    store = tmp_path / "out.zarr"
    out.isel(time=slice(0, 6)).stori.to_zarr(store)
    write = out.isel(time=slice(6, None)).stori.to_zarr(
        store, mode="a", append_dim="time", compute=False
    )
    assert xr.open_zarr(store).attrs[WRITE_STATUS] == INCOMPLETE
    write.compute()
    back = xr.open_zarr(store)
    assert back.attrs[WRITE_STATUS] == COMPLETE
    _assert_values_equal(back, out)


def test_open_cube_reads_an_incomplete_store_on_request(scene, tmp_path):
    # refused without allow_incomplete=True, with a warning with it (tests/bad_inputs.py)
    from stori_xr.exceptions import IncompleteStoreWarning
    from stori_xr.io import open_cube

    out = scene.optical.chunk({"y": 12, "x": 12}).stori.interpolate(scene.sar, method="linear")
    store = tmp_path / "out.zarr"
    write = out.stori.to_zarr(store, compute=False)
    with pytest.warns(IncompleteStoreWarning):
        partial = open_cube(store, allow_incomplete=True)
    assert (partial.stori_source.values == NODATA).all()
    write.compute()
    done = open_cube(store, chunks={})
    assert WRITE_STATUS not in done.attrs  # a cube read back is not a store
    _assert_values_equal(done, out)
    assert done.rio.crs.to_epsg() == 32631
