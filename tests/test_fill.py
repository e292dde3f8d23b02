"""interpolate(): the contract every method keeps, numpy/dask equality, halo, laziness."""

import numpy as np
import pytest
import xarray as xr
from builders import assert_same, make_optical, make_sar, one_worker_client
from hypothesis import given, settings
from hypothesis import strategies as st

import stori_xr  # noqa: F401
from stori_xr.fill import METHODS, interpolate
from stori_xr.kernels.flags import FLAG_MEANINGS, NODATA, OBSERVED, SCREENED

ALL = ["kernel", "linear", "whittaker", "sar-regression"]


def smooth_optical(nt=30, ny=14, nx=16, seed=0, gap=0.5):
    """Fields with a shared seasonal profile plus noise, so neighbours are informative."""
    opt = make_optical(nt=nt, ny=ny, nx=nx, seed=seed, gap=gap)
    rng = np.random.default_rng(seed)
    days = np.arange(nt) * 5.0
    field = (np.arange(nx)[None, :] // 5 + np.arange(ny)[:, None] // 7) % 3
    phase = np.array([0.0, 60.0, 120.0])[field]
    curve = 0.2 + 0.15 * np.sin(2 * np.pi * (days[:, None, None] - phase) / 150.0)
    b04 = (curve + rng.normal(0, 0.01, curve.shape)).astype("float32")
    return opt.assign(
        B04=(opt.B04.dims, b04, opt.B04.attrs),
        B08=(opt.B08.dims, (1.6 * b04 + 0.05).astype("float32"), opt.B08.attrs),
    )


@pytest.fixture(scope="module")
def pair():
    return smooth_optical(), make_sar(ny=7, nx=8)


def test_methods_registered():
    assert set(ALL) <= set(METHODS)


@pytest.mark.parametrize("method", ALL)
def test_contract(pair, method):
    opt, sar = pair
    out = opt.stori.interpolate(sar, method=method)
    assert set(out.data_vars) == {"B04", "B08", "B04_sigma", "B08_sigma", "stori_source"}
    assert out.B04.dims == ("time", "y", "x")
    np.testing.assert_array_equal(out.time.values, opt.time.values)
    assert out.B04.dtype == np.float32 and out.B04_sigma.dtype == np.float32
    assert out.stori_source.dtype == np.int8
    assert out.stori_source.attrs["flag_meanings"] == FLAG_MEANINGS
    assert out.rio.crs.to_epsg() == 32631
    assert out.attrs["stori_method"] == method
    assert out.attrs["history"].startswith("made by a test\n")
    assert "interpolate(method=" in out.attrs["history"].splitlines()[-1]
    clear = opt.clear.values
    # observed values come back unchanged (no value is screened on this cube)
    for b in ("B04", "B08"):
        np.testing.assert_array_equal(out[b].values[clear], opt[b].values[clear])
    assert (out.stori_source.values[clear] == OBSERVED).all()
    # finite wherever the pixel has a usable value
    has_clear = clear.any(axis=0)
    assert np.isfinite(out.B04.values[:, has_clear]).all()
    assert (out.stori_source.values[~clear] != OBSERVED).all()


@pytest.mark.parametrize("method", ALL)
def test_input_not_modified(pair, method):
    opt, sar = pair
    before = opt.copy(deep=True), sar.copy(deep=True)
    interpolate(opt, sar, method=method)
    xr.testing.assert_identical(opt, before[0])
    xr.testing.assert_identical(sar, before[1])


@pytest.mark.parametrize("method", ALL)
@pytest.mark.parametrize("chunks", [{"y": 7, "x": 8}, {"y": 5, "x": -1}, {"y": -1, "x": 6}])
def test_dask_equals_numpy_and_chunking_invariance(pair, method, chunks):
    opt, sar = pair
    kw = {"radius": 3} if method == "kernel" else {}
    ref = interpolate(opt, sar, method=method, **kw)
    lazy = interpolate(opt.chunk(chunks), sar.chunk({"y": 3}), method=method, **kw)
    assert lazy.B04.chunks is not None
    assert_same(ref, lazy.compute())


@pytest.mark.parametrize("chunks", [{"y": 2}, {"y": (9, 4, 1), "x": (15, 1)}])
def test_chunks_narrower_than_the_halo(pair, chunks):
    opt, sar = pair
    ref = interpolate(opt, sar, method="kernel", radius=3)
    lazy = interpolate(opt.chunk(chunks), sar, method="kernel", radius=3)
    assert min(lazy.B04.chunks[1]) >= 4
    assert_same(ref, lazy.compute())


@pytest.mark.parametrize("radius", [0, 1])
def test_small_radius_dask_equals_numpy(pair, radius):
    """The SAR features read a 3 x 3 window: the halo is radius + 1."""
    opt, sar = pair
    ref = interpolate(opt, sar, method="kernel", radius=radius)
    lazy = interpolate(opt.chunk({"y": 5, "x": 6}), sar, method="kernel", radius=radius)
    assert_same(ref, lazy.compute())


def test_eager_tiles_equal_one_block(pair, monkeypatch):
    from stori_xr import blocks

    opt, sar = pair
    whole = interpolate(opt, sar, method="kernel", radius=3)
    monkeypatch.setattr(blocks, "TILE", 5)
    tiled = interpolate(opt, sar, method="kernel", radius=3)
    assert_same(whole, tiled)


def test_kernel_halo_is_needed_for_invariance(pair):
    """Without the halo, neighbours across a chunk border would be missed."""
    opt, sar = pair
    whole = interpolate(opt, sar, method="kernel", radius=3)
    left = interpolate(opt.isel(x=slice(0, 8)), sar, method="kernel", radius=3)
    # the left half alone lacks neighbours at x = 5..7: results differ there
    assert not np.array_equal(
        whole.B04.isel(x=slice(5, 8)).values, left.B04.isel(x=slice(5, 8)).values
    )
    lazy = interpolate(opt.chunk({"x": 8}), sar, method="kernel", radius=3).compute()
    assert_same(whole, lazy)


@pytest.mark.parametrize("method", ALL)
def test_lazy(pair, method, raise_if_dask_computes):
    opt, sar = pair
    kw = {"radius": 3} if method == "kernel" else {}
    with raise_if_dask_computes():
        out = interpolate(opt.chunk({"y": 7}), sar.chunk(), method=method, **kw)
    assert all(v.chunks is not None for v in out.data_vars.values())


def test_target_dates(pair):
    opt, sar = pair
    out = interpolate(opt, sar, times="2D", method="kernel")
    assert (
        out.sizes["time"]
        == int((opt.time[-1] - opt.time[0].dt.floor("D")) / np.timedelta64(2, "D")) + 1
    )
    assert np.isfinite(out.B04.values).all()
    # a target on the day of an acquisition carries the observation itself
    day = opt.time.values[4].astype("datetime64[D]")
    hit = out.sel(time=day)
    clear = opt.clear.isel(time=4).values
    np.testing.assert_array_equal(hit.B04.values[clear], opt.B04.isel(time=4).values[clear])


def test_max_gap(pair):
    opt, sar = pair
    gappy = opt.copy()
    gappy["clear"] = opt.clear.copy(data=opt.clear.values.copy())
    gappy["clear"].values[5:20, :3, :3] = False  # a 75-day gap in one corner
    out = interpolate(gappy, sar, method="linear", max_gap=40)
    corner = out.isel(time=slice(6, 19), y=slice(0, 3), x=slice(0, 3))
    assert corner.B04.isnull().all()
    assert (corner.stori_source == NODATA).all()
    full = interpolate(gappy, sar, method="linear")
    assert full.B04.isel(time=slice(6, 19), y=slice(0, 3), x=slice(0, 3)).notnull().all()


def test_dataarray_in_dataarray_out(pair):
    opt, sar = pair
    da = opt[["B04", "B08"]].where(opt.clear).to_dataarray("band")
    out = da.stori.interpolate(sar, method="kernel")
    assert isinstance(out, xr.DataArray)
    assert out.dims == da.dims
    assert set(out.coords) >= {"sigma", "stori_source"}
    ref = interpolate(opt[["B04", "B08"]].where(opt.clear), sar, method="kernel")
    np.testing.assert_array_equal(out.sel(band="B08").values, ref.B08.values)


def test_dataarray_keeps_labels_coords_and_history(pair):
    opt, sar = pair
    da = opt[["B04", "B08"]].where(opt.clear).to_dataarray("band")
    da = da.assign_coords(band=[4, 8], common_name=("band", ["red", "nir"]))
    da.attrs["history"] = "made by a test"
    out = da.stori.interpolate(sar, method="linear")
    assert out.band.values.tolist() == [4, 8]
    assert out.common_name.values.tolist() == ["red", "nir"]
    assert out.attrs["history"].startswith("made by a test\n")
    np.testing.assert_array_equal(out.sel(band=8).values, out.sel(band=8).values)
    assert da.stori.align(sar).attrs["history"].startswith("made by a test\n")


def test_to_zarr_round_trip_keeps_crs_and_flags(pair, tmp_path):
    opt, sar = pair
    out = interpolate(opt.chunk({"y": 7}), sar, method="kernel", radius=3)
    out.stori.to_zarr(tmp_path / "r.zarr")
    back = xr.open_zarr(tmp_path / "r.zarr", decode_coords="all")
    assert back.rio.crs.to_epsg() == 32631
    assert back.stori_source.attrs["flag_meanings"] == FLAG_MEANINGS
    np.testing.assert_array_equal(back.B04.values, out.B04.values)


def test_plots_accept_dataset_and_dataarray(pair):
    import matplotlib

    matplotlib.use("Agg")
    opt, sar = pair
    ds = interpolate(opt, sar, method="kernel", radius=3)
    da = (
        opt[["B04", "B08"]]
        .where(opt.clear)
        .to_dataarray("band")
        .stori.interpolate(sar, method="kernel")
    )
    for obj in (ds, da):
        fig = obj.stori.plot_pixel(x=3, y=2, index=True)
        assert len(fig.axes) == 2 and all(len(ax.collections) == 1 for ax in fig.axes)  # ±1σ
        fig = obj.stori.plot_maps(variable="B04")
        assert [ax.get_title()[:8] for ax in fig.axes[:2]] == ["observed", "reconstr"]


def test_default_dates_are_merged(pair):
    opt, sar = pair
    dup = opt.isel(time=[2]).assign_coords(time=opt.time.values[[2]] + np.timedelta64(7, "s"))
    both = xr.concat([opt, dup], dim="time").sortby("time")
    out = interpolate(both, sar, method="linear")
    assert out.sizes["time"] == opt.sizes["time"]
    np.testing.assert_array_equal(out.time.values, opt.time.values)


def test_float64_in_float64_out(pair):
    opt, sar = pair
    wide = opt.assign(B04=opt.B04.astype("float64"), B08=opt.B08.astype("float64"))
    out = interpolate(wide, sar, method="kernel")
    assert out.B04.dtype == np.float64


def test_pixel_without_clear_value_is_nodata(pair):
    opt, sar = pair
    empty = opt.copy()
    empty["clear"] = opt.clear.copy(data=opt.clear.values.copy())
    empty["clear"].values[:, 0, 0] = False
    out = interpolate(empty, sar, method="kernel")
    assert out.B04.isel(y=0, x=0).isnull().all()
    assert (out.stori_source.isel(y=0, x=0) == NODATA).all()


def test_whittaker_options(pair):
    opt, sar = pair
    a = interpolate(opt, sar, method="whittaker", lmbda=1e1)
    b = interpolate(opt, sar, method="whittaker", lmbda=1e6)
    gaps = ~opt.clear.values
    assert not np.allclose(a.B04.values[gaps], b.B04.values[gaps])
    g = interpolate(opt, sar, method="whittaker", lmbda="gcv")
    assert np.isfinite(g.B04.values[:, opt.clear.values.any(axis=0)]).all()


def test_kernel_uses_neighbours_and_sar(pair):
    """On fields with a shared profile, the kernel beats linear on hidden values."""
    opt, sar = pair
    hidden = np.zeros(opt.clear.shape, bool)
    hidden[8:16, 2:12, 2:12] = opt.clear.values[8:16, 2:12, 2:12]
    hidden[8:16, 5, 5] = False  # keep the neighbours' information
    masked = opt.assign(clear=opt.clear & ~hidden)
    truth = opt.B04.values[hidden]
    err = {
        m: np.sqrt(np.mean((interpolate(masked, sar, method=m).B04.values[hidden] - truth) ** 2))
        for m in ("linear", "kernel")
    }
    assert err["kernel"] < 0.9 * err["linear"], err


@given(seed=st.integers(0, 2**16), gap=st.floats(0.2, 0.9), method=st.sampled_from(ALL))
@settings(max_examples=15, deadline=None)
def test_properties(seed, gap, method):
    opt = make_optical(nt=12, ny=6, nx=7, seed=seed, gap=gap)
    sar = make_sar(ny=3, nx=4, seed=seed)
    kw = {"radius": 2} if method == "kernel" else {}
    out = interpolate(opt, sar, method=method, **kw)
    clear = opt.clear.values
    # clear values come back unchanged unless screened (then flagged so)
    screened = out.stori_source.values == SCREENED
    assert not screened[~clear].any()
    kept = clear & ~screened
    for b in ("B04", "B08"):
        np.testing.assert_array_equal(out[b].values[kept], opt[b].values[kept])
        assert np.isfinite(out[b].values[:, clear.any(axis=0)]).all()
        assert out[b].dtype == np.float32
    lazy = interpolate(opt.chunk({"y": 3, "x": 4}), sar, method=method, **kw).compute()
    assert_same(out, lazy)


def test_float16_bands_are_computed_in_float32(pair):
    opt, sar = pair
    half = opt.assign(B04=opt.B04.astype("float16"), B08=opt.B08.astype("float16"))
    out = interpolate(half.chunk({"y": 7}), sar, method="kernel", radius=3)
    assert out.B04.dtype == np.float32
    assert out.B04.compute().dtype == np.float32


def test_numpy_tiles_without_affinity_support(monkeypatch):
    # macOS and Windows have no os.sched_getaffinity: the tiles still run
    import os

    from stori_xr import blocks, fill
    from stori_xr.datasets import make_scene

    monkeypatch.delattr(os, "sched_getaffinity", raising=False)
    assert blocks.usable_cores() >= 1
    scene = make_scene(20, 20, periods=8, seed=2)
    monkeypatch.setattr(blocks, "TILE", 8)
    out = fill.interpolate(scene.optical, scene.sar, method="linear")
    assert out.sizes == scene.optical[next(iter(out.data_vars))].sizes


@pytest.mark.parametrize("chunks", [{"y": 4}, {"y": -1, "x": -1}, {"x": 2}])
def test_dask_input_narrower_than_the_halo(chunks):
    # 8 x 6 px is narrower than the kernel's neighbourhood (radius 8 + 1): dask's overlap
    # must not be asked for a depth larger than the array
    opt, sar = make_optical(nt=20, ny=8, nx=6), make_sar(ny=4, nx=3)
    eager = opt.stori.interpolate(sar, method="kernel")
    lazy = opt.chunk(chunks).stori.interpolate(sar, method="kernel")
    for name in eager.data_vars:
        np.testing.assert_array_equal(lazy[name].values, eager[name].values)


@pytest.mark.parametrize("method", ["kernel", "linear"])
def test_bands_with_different_chunks_get_one_chunking(method):
    # as read from files of several resolutions, or assembled by hand
    opt, sar = make_optical(nt=20, ny=24, nx=24), make_sar(ny=12, nx=12)
    mixed = opt.assign(
        B04=opt.B04.chunk({"y": 12, "x": 12}),
        B08=opt.B08.chunk({"y": 5, "x": 24}),
        clear=opt.clear.chunk({"y": 3}),
    )
    lazy = mixed.stori.interpolate(sar, method=method)
    assert lazy.chunksizes["y"] == (12, 12) and lazy.chunksizes["x"] == (12, 12)
    eager = opt.stori.interpolate(sar, method=method)
    for name in eager.data_vars:
        np.testing.assert_array_equal(lazy[name].values, eager[name].values)
    assert mixed.stori.align(sar).chunksizes["y"] == (12, 12)


def test_graph_has_one_layer_per_operation():
    # stack, overlap, one task per tile for the method, one per output variable and tile:
    # no transposes for block indexing, no outputs packed into one float array
    from stori_xr.datasets import make_scene

    scene = make_scene(64, 64, periods=12, seed=4, chunks={"y": 16, "x": 16})
    out = scene.optical.stori.interpolate(scene.sar, method="kernel")
    graph = out.__dask_graph__()
    names = [str(name).rsplit("-", 1)[0] for name in graph.layers]
    assert not [n for n in names if n.startswith(("transpose", "astype", "concatenate"))]
    tiles = out.B05.data.npartitions
    kernel = [layer for name, layer in graph.layers.items() if name.startswith("stori-kernel-")]
    assert sum(len(layer) for layer in kernel) == tiles * (1 + len(out.data_vars))
    assert out.stori_source.data.dtype == np.int8
    chunks = sum(v.data.npartitions for v in out.data_vars.values())
    assert len(dict(graph)) / chunks <= 15


def test_numpy_input_runs_inside_a_dask_task_without_a_pool_of_its_own():
    import dask

    opt, sar = make_optical(nt=20, ny=12, nx=12), make_sar(ny=6, nx=6)
    eager = opt.stori.interpolate(sar, method="kernel")
    nested = dask.delayed(lambda: opt.stori.interpolate(sar, method="kernel"))().compute(
        scheduler="threads"
    )
    for name in eager.data_vars:
        np.testing.assert_array_equal(nested[name].values, eager[name].values)


def test_chunks_too_large_for_the_workers_are_refused_with_the_size_to_use():
    import dask.array as dsa

    from stori_xr.exceptions import ChunkingError

    opt, sar = make_optical(nt=30, ny=8, nx=8), make_sar(ny=4, nx=4)
    big = xr.Dataset(
        {
            b: (("time", "y", "x"), dsa.full((30, 2048, 2048), 0.2, "float32", chunks=1024))
            for b in ("B04", "B08")
        },
        coords={"time": opt.time, "y": np.arange(2048.0) * -10, "x": np.arange(2048.0) * 10},
    )
    sar = xr.Dataset(
        {
            p: (("time", "y", "x"), dsa.full((sar.sizes["time"], 2048, 2048), -12.0, "float32"))
            for p in ("VV", "VH")
        },
        coords={"time": sar.time, "y": big.y, "x": big.x},
    )
    sar.VV.attrs["units"] = sar.VH.attrs["units"] = "dB"
    with one_worker_client("512MiB", threads=2):
        with pytest.raises(ChunkingError, match=r"use chunks of (\d+) px or fewer"):
            big.stori.interpolate(sar, method="linear")
        big.chunk({"y": 128, "x": 128}).stori.interpolate(sar, method="linear")  # fits
