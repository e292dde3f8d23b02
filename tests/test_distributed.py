"""On a dask distributed cluster of worker processes: a worker killed in the middle of a
write changes nothing in the store."""

import os
import signal
import time

import numpy as np
import xarray as xr

import stori_xr  # noqa: F401
from stori_xr.datasets import make_scene
from stori_xr.output import tiles_written


def test_a_worker_killed_mid_write_changes_nothing(tmp_path):
    from dask.distributed import Client, LocalCluster

    scene = make_scene(64, 64, periods=16, seed=5, chunks={"y": 16, "x": 16})  # 16 tiles
    out = scene.optical.stori.interpolate(scene.sar, method="kernel")
    out.stori.to_zarr(tmp_path / "threads.zarr")
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        future = client.compute(out.stori.to_zarr(tmp_path / "cluster.zarr", compute=False))
        deadline = time.monotonic() + 60
        while tiles_written(tmp_path / "cluster.zarr")[0] < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        written, total = tiles_written(tmp_path / "cluster.zarr")
        assert 3 <= written < total, "kill the worker while the write is under way"
        pids = client.run(os.getpid)
        os.kill(next(iter(pids.values())), signal.SIGKILL)  # the nanny starts a new one
        future.result(timeout=120)
    assert tiles_written(tmp_path / "cluster.zarr") == (total, total)
    threads, cluster_store = (
        xr.open_zarr(tmp_path / "threads.zarr"),
        xr.open_zarr(tmp_path / "cluster.zarr"),
    )
    assert cluster_store.attrs["stori_write_status"] == "complete"
    for name in out.data_vars:
        np.testing.assert_array_equal(cluster_store[name].values, threads[name].values)
