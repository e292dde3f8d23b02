"""Small hand-made optical and SAR cubes shared by the tests."""

import contextlib

import numpy as np
import pandas as pd
import xarray as xr

import stori_xr  # noqa: F401  (registers .stori, and .rio through rioxarray)

CRS = "EPSG:32631"


def grid(n_y, n_x, res, x0=500000.0, y0=5600000.0):
    return {
        "y": y0 - res * (np.arange(n_y) + 0.5),
        "x": x0 + res * (np.arange(n_x) + 0.5),
    }


def make_optical(nt=20, ny=8, nx=10, seed=0, gap=0.5):
    rng = np.random.default_rng(seed)
    t = pd.date_range("2021-01-01", periods=nt, freq="5D") + pd.Timedelta("10h50min")
    b = rng.uniform(0.05, 0.4, (nt, ny, nx)).astype("float32")
    clear = rng.random(b.shape) >= gap
    ds = xr.Dataset(
        {
            "B04": (("time", "y", "x"), b, {"units": "1"}),
            "B08": (("time", "y", "x"), (b * 1.5).astype("float32"), {"units": "1"}),
            "clear": (("time", "y", "x"), clear),
        },
        coords={"time": t, **grid(ny, nx, 10.0)},
        attrs={"title": "optical", "history": "made by a test"},
    )
    return ds.rio.write_crs(CRS)


def make_sar(ny=4, nx=5, res=20.0, seed=1, offset_b=0.0, start="2020-12-28"):
    rng = np.random.default_rng(seed)
    a = pd.date_range(start, periods=20, freq="6D") + pd.Timedelta("17h32min")
    b = a + pd.Timedelta("3D8min")
    t = a.union(b)
    nt = t.size
    track_b = np.isin(t, b)
    vv = rng.normal(-12, 1, (nt, ny, nx)) + offset_b * track_b[:, None, None]
    vh = vv - 6 + rng.normal(0, 0.5, vv.shape)
    ds = xr.Dataset(
        {
            "VV": (("time", "y", "x"), vv.astype("float32"), {"units": "dB"}),
            "VH": (("time", "y", "x"), vh.astype("float32"), {"units": "dB"}),
        },
        coords={"time": t, **grid(ny, nx, res)},
    )
    return ds.rio.write_crs(CRS)


def assert_same(a, b):
    """Identical, history time stamps aside."""
    a, b = a.copy(), b.copy()
    a.attrs.pop("history"), b.attrs.pop("history")
    xr.testing.assert_identical(a, b)


def _model_stats():
    from stori_xr.ranker import runtime

    return runtime.stats()


@contextlib.contextmanager
def one_worker_client(memory_limit, threads=1):
    """A client of one in-process worker with ``memory_limit`` and ``threads`` threads."""
    from dask.distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=1,
            threads_per_worker=threads,
            memory_limit=memory_limit,
            processes=False,
            dashboard_address=None,
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


def compute_on_process_cluster(lazy):
    """Compute ``lazy`` on a LocalCluster of 2 processes x 2 threads.

    Returns the result and, per worker, how many networks it built and how many calls
    asked for one (:func:`stori_xr.ranker.runtime.stats`).
    """
    from dask.distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=2, threads_per_worker=2, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        result = lazy.compute()
        stats = list(client.run(_model_stats).values())
    return result, stats
