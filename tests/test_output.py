"""Zarr output is honest: it round-trips, says whether it is complete, never reads as data
where nothing was written, and works on data opened with plain xarray. Its record of
written tiles lets an interrupted write resume, into the store an uninterrupted one makes."""

import json
import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import dask
import dask.array as da
import numpy as np
import pytest
import xarray as xr
import zarr
from dask.callbacks import Callback

import stori_xr
from stori_xr.datasets import make_scene
from stori_xr.exceptions import StoreExistsError, StoriWarning, UnscaledReflectanceError
from stori_xr.kernels.flags import NODATA
from stori_xr.metadata import COMPLETE, INCOMPLETE, VERSION, WRITE_STATUS, history_without_times
from stori_xr.output import RECORD, tiles_written, to_zarr


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


# --- the record of written tiles, resuming --------------------------------------------


def _scene_result(delay: float = 0.0, calls: list | None = None) -> xr.Dataset:
    """A dask-backed result of 64 x 64 px in 16 tiles of 16 x 16 px.

    Each block of the B05 input, when computed, waits ``delay`` seconds and is counted
    in ``calls``; the values are the same with or without.
    """
    scene = make_scene(64, 64, periods=12, seed=11, chunks={"y": 16, "x": 16})
    optical = scene.optical
    if delay or calls is not None:

        def watched(block):
            if calls is not None:
                calls.append(block.shape)
            time.sleep(delay)
            return block

        b05 = optical.B05.data.map_blocks(watched, meta=np.array((), optical.B05.dtype))
        optical = optical.assign(B05=optical.B05.copy(data=b05))
    return optical.stori.interpolate(scene.sar, method="linear")


def _store_contents(store) -> dict:
    """Every file of a store: chunks as bytes, metadata as JSON with history untimed."""
    out = {}
    for file in sorted(Path(store).rglob("*")):
        if file.is_file():
            key = file.relative_to(store).as_posix()
            metadata = file.name in ("zarr.json", ".zmetadata", ".zattrs", ".zarray", ".zgroup")
            out[key] = _untimed(json.loads(file.read_text())) if metadata else file.read_bytes()
    return out


def _untimed(meta):
    if isinstance(meta, dict):
        return {
            k: history_without_times(v) if k == "history" else _untimed(v) for k, v in meta.items()
        }
    return [_untimed(v) for v in meta] if isinstance(meta, list) else meta


def _assert_same_store(store, reference) -> None:
    got, want = _store_contents(store), _store_contents(reference)
    assert sorted(got) == sorted(want)
    assert [key for key in want if got[key] != want[key]] == []


class _Tasks(Callback):
    """The dask tasks run, and how many of them wrote a tile."""

    def __init__(self):
        super().__init__()
        self.keys = []

    def _posttask(self, key, result, dsk, state, id):
        self.keys.append(key)

    @property
    def tiles(self) -> int:
        return sum(
            isinstance(k, tuple) and k[0].startswith("stori-write-tiles") for k in self.keys
        )


def test_record_marks_every_tile_and_tiles_hold_xarrays_own_bytes(scene, tmp_path):
    out = scene.optical.chunk({"y": 12, "x": 12}).stori.interpolate(scene.sar, method="linear")
    first = out.y.isin(out.y[:12]) & out.x.isin(out.x[:12])
    out = out.assign(
        B06=out.B06.where(~first),  # tile (0, 0) all fill value: no chunk is stored
        gap=out.stori_source != 0,  # bool, written as int8
        per_date=("time", da.arange(12.0, chunks=12)),  # no y/x: written whole
    )
    encoding = {"B07": {"dtype": "int16", "scale_factor": 1e-4, "_FillValue": -32768}}
    store = tmp_path / "tiles.zarr"
    to_zarr(out, store, encoding=encoding)
    assert tiles_written(store) == (5, 5)  # 2 x 2 tiles and one whole variable
    record = zarr.open_group(str(store), mode="r")[RECORD]
    assert record["tiles"].shape == (2, 2) and (record["tiles"][...] == 1).all()
    assert record["whole"].attrs["variables"] == ["per_date"]
    assert not (store / "B06" / "c" / "0" / "0" / "0").exists()  # empty, yet marked written
    back = xr.open_zarr(store)
    assert back.attrs[WRITE_STATUS] == COMPLETE
    assert back.attrs[VERSION] == stori_xr.__version__
    assert RECORD not in back.variables and not {"tile_y", "tile_x"} & set(back.dims)
    _assert_values_equal(back.drop_vars("B07"), out.drop_vars("B07"))
    np.testing.assert_allclose(back.B07.values, out.B07.values, atol=1e-4)
    reference = tmp_path / "xarray.zarr"
    with warnings.catch_warnings():  # zarr: consolidated metadata is not in its spec
        warnings.simplefilter("ignore", UserWarning)
        out.to_zarr(reference, encoding=encoding)  # xarray's own writer
    for name in ("B05", "B06", "B07", "gap", "per_date"):
        chunks = {k: v for k, v in _store_contents(store).items() if k.startswith(f"{name}/c")}
        assert chunks == {
            k: v for k, v in _store_contents(reference).items() if k.startswith(f"{name}/c")
        }, name


_KILLED_WRITER = """
import sys

sys.path.insert(0, {tests!r})
import dask
from test_output import _scene_result

from stori_xr.output import to_zarr

with dask.config.set(scheduler="threads", num_workers=2):
    to_zarr(_scene_result(delay=float(sys.argv[2])), sys.argv[1])
"""


def _wait_for_a_tile(store, writer, log, timeout: float = 60.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        assert writer.poll() is None, f"the writer ended before it was killed:\n{log.read_text()}"
        try:
            if tiles_written(store)[0] >= 1:
                return
        except Exception:  # the store is being created
            pass
        time.sleep(0.02)
    pytest.fail(f"no tile written in {timeout} s")


def test_resume_after_a_killed_write_gives_the_store_of_an_uninterrupted_write(tmp_path):
    store = tmp_path / "killed.zarr"
    code = _KILLED_WRITER.format(tests=str(Path(__file__).parent))
    log = tmp_path / "writer.log"
    with log.open("w") as stderr:
        writer = subprocess.Popen([sys.executable, "-c", code, str(store), "0.4"], stderr=stderr)
    try:
        _wait_for_a_tile(store, writer, log)
        os.kill(writer.pid, signal.SIGKILL)
    finally:
        writer.kill()
        writer.wait()
    assert writer.returncode == -signal.SIGKILL
    written, total = tiles_written(store)
    assert total == 16 and 1 <= written < 16, (written, total)
    assert xr.open_zarr(store).attrs[WRITE_STATUS] == INCOMPLETE
    # resume computes only the missing tiles (each reads one block of B05)
    calls, tasks = [], _Tasks()
    write = to_zarr(_scene_result(calls=calls), store, resume=True, compute=False)
    with tasks, dask.config.set(scheduler="threads"):
        write.compute()
    assert tasks.tiles == len(calls) == 16 - written
    assert tiles_written(store) == (16, 16)
    reference = tmp_path / "reference.zarr"
    to_zarr(_scene_result(), reference)
    _assert_same_store(store, reference)
    resumed, uninterrupted = xr.open_zarr(store), xr.open_zarr(reference)
    assert resumed.attrs[WRITE_STATUS] == COMPLETE
    xr.testing.assert_equal(resumed, uninterrupted)


def test_resume_writes_a_missing_store_and_nothing_into_a_complete_one(tmp_path):
    store = tmp_path / "out.zarr"
    to_zarr(_scene_result(), store, resume=True)  # missing: written from scratch
    assert xr.open_zarr(store).attrs[WRITE_STATUS] == COMPLETE
    assert tiles_written(store) == (16, 16)
    before = {f: (f.stat().st_mtime_ns, f.read_bytes()) for f in store.rglob("*") if f.is_file()}
    tasks = _Tasks()
    with tasks, pytest.warns(StoriWarning, match="already complete: nothing to resume"):
        assert to_zarr(_scene_result(), store, resume=True) is None
    assert tasks.keys == []
    after = {f: (f.stat().st_mtime_ns, f.read_bytes()) for f in store.rglob("*") if f.is_file()}
    assert after == before


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"method": "whittaker"}, "attribute 'stori_method': 'linear' in the store"),
        ({"times": "10D"}, "'shape': (12, 24, 24) in the store, (6, 24, 24) in this result"),
        ({"chunks": 8}, "'chunk_shape': (12, 12, 12) in the store, (12, 8, 8)"),
    ],
    ids=["method", "times", "chunks"],
)
def test_resume_refuses_another_layout_and_leaves_the_store(scene, tmp_path, change, named):
    def result(method="linear", times=None, chunks=12):
        optical = scene.optical.chunk({"y": chunks, "x": chunks})
        return optical.stori.interpolate(scene.sar, times, method=method)

    store = tmp_path / "out.zarr"
    to_zarr(result(), store, compute=False)  # created, nothing written yet
    before = _store_contents(store)
    with pytest.raises(StoreExistsError, match="cannot resume") as refused:
        to_zarr(result(**change), store, resume=True)
    assert named in str(refused.value)
    assert _store_contents(store) == before
    to_zarr(result(), store, resume=True)  # the write that made it still resumes
    assert xr.open_zarr(store).attrs[WRITE_STATUS] == COMPLETE


def test_local_cluster_writes_the_store_of_a_threaded_write(tmp_path):
    from dask.distributed import Client, LocalCluster

    threaded, distributed = tmp_path / "threaded.zarr", tmp_path / "cluster.zarr"
    with dask.config.set(scheduler="threads"):
        to_zarr(_scene_result(), threaded)
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster),
    ):
        to_zarr(_scene_result(), distributed)
    assert tiles_written(distributed) == (16, 16)
    _assert_same_store(distributed, threaded)


def test_result_in_memory_is_written_with_its_store_and_resumed_by_marking_it(scene, tmp_path):
    out = scene.optical.stori.interpolate(scene.sar, method="linear")  # numpy-backed
    store = tmp_path / "out.zarr"
    write = to_zarr(out, store, compute=False)
    assert xr.open_zarr(store).attrs[WRITE_STATUS] == INCOMPLETE
    assert tiles_written(store) == (0, 0)  # no record: every value went in with the store
    _assert_values_equal(xr.open_zarr(store), out)
    to_zarr(out, store, resume=True)
    assert xr.open_zarr(store).attrs[WRITE_STATUS] == COMPLETE
    write.compute()  # the first write's delayed part only marks it complete again
    assert xr.open_zarr(store).attrs[WRITE_STATUS] == COMPLETE


def test_append_removes_the_record_it_would_make_wrong(scene, tmp_path):
    out = scene.optical.chunk({"y": 12, "x": 12}).stori.interpolate(scene.sar, method="linear")
    store = tmp_path / "out.zarr"
    to_zarr(out.isel(time=slice(0, 6)), store)
    assert tiles_written(store) == (4, 4)
    to_zarr(out.isel(time=slice(6, None)), store, mode="a", append_dim="time")
    assert tiles_written(store) == (0, 0)  # the status alone tells an append's state
    back = xr.open_zarr(store)
    assert back.attrs[WRITE_STATUS] == COMPLETE
    _assert_values_equal(back, out)


def test_store_records_method_options_and_inputs(scene, tmp_path):
    import json

    optical = scene.optical.assign_attrs(source="optical.nc")
    sar = scene.sar.assign_attrs(source="sar.nc")
    out = optical.stori.interpolate(sar, method="kernel", times="10D", radius=4)
    out.stori.to_zarr(tmp_path / "out.zarr")
    attrs = xr.open_zarr(tmp_path / "out.zarr").attrs
    options = json.loads(attrs["stori_options"])
    assert attrs["stori_method"] == "kernel" and attrs["stori_version"]
    assert options["times"] == "10D" and options["radius"] == 4 and options["n_similar"] == 8
    assert options["bands"] == list(scene.optical.data_vars)[:-1]
    assert json.loads(attrs["stori_inputs"]) == {"optical": "optical.nc", "sar": "sar.nc"}
