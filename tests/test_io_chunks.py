"""The readers' chunks: one consistent layout for any ``chunks=`` (stori_xr.io.chunks).

On the real WorldCereal patch (64 x 64 px at 10 m, smaller than most chunks) and on its
640 px tiled copy (``tiled_wc1``, where the chunks really split the grid): ``ds.chunks``
works, is the documented layout, reading builds no compute, and the lazy values equal
the numpy ones exactly.
"""

from __future__ import annotations

from pathlib import Path

import dask
import numpy as np
import pytest
import xarray as xr
from builders import assert_same

from stori_xr import io
from stori_xr.io import chunks as chunking


def _file(folder: Path, prefix: str) -> Path:
    (path,) = sorted(folder.glob(f"{prefix}_*.nc"))
    return path


def _pair(folder: Path) -> list[Path]:
    return [_file(folder, "S2_L2A_10m"), _file(folder, "S2_L2A_20m")]


def _split(size: int, chunk: int) -> tuple[int, ...]:
    return (chunk,) * (size // chunk) + ((size % chunk,) if size % chunk else ())


def _lazy(reader, path, chunks, raise_if_dask_computes, **kwargs) -> xr.Dataset:
    """Read with ``chunks``, building no compute; every variable of one layout."""
    with raise_if_dask_computes():
        ds = reader(path, chunks=chunks, **kwargs)
    whole = ds.to_dataset(name="values") if isinstance(ds, xr.DataArray) else ds
    layout = dict(whole.chunks)  # raises when variables disagree
    for name, var in whole.variables.items():
        if var.chunks is not None:
            assert var.chunksizes == {d: layout[d] for d in var.dims}, name
    return ds


# ----------------------------------------------------------------------------- the real patch

# (chunks=, expected time, y, x chunks of the S2 10 m + 20 m pair: 118 dates, 64 x 64 px)
REAL = [
    (48, (118,), (48, 16), (48, 16)),
    (64, (118,), (64,), (64,)),
    (512, (118,), (64,), (64,)),
    ("auto", (118,), (64,), (64,)),
    ({}, (118,), (64,), (64,)),
    ({"y": 512, "x": 512}, (118,), (64,), (64,)),
    ({"y": 48, "x": 48}, (118,), (48, 16), (48, 16)),
    ({"time": 40, "y": 48}, (40, 40, 38), (48, 16), (64,)),
    ({"timestamp": 30, "x": (24, 40)}, (30, 30, 30, 28), (64,), (24, 40)),
]


@pytest.fixture(scope="module")
def s2_pair(wc1: Path) -> xr.Dataset:
    return io.open_sentinel2(_pair(wc1))


@pytest.mark.parametrize(("chunks", "time", "y", "x"), REAL, ids=[str(c[0]) for c in REAL])
def test_s2_pair_one_chunk_layout(chunks, time, y, x, s2_pair, wc1, raise_if_dask_computes):
    # the README's own call: 10 m + 20 m files with chunks={"y": 512, "x": 512} gave
    # "Object has inconsistent chunks along dimension y" (the 20 m bands kept theirs)
    lazy = _lazy(io.open_sentinel2, _pair(wc1), chunks, raise_if_dask_computes)
    assert dict(lazy.chunks) == {"time": time, "y": y, "x": x}
    assert_same(lazy.compute(), s2_pair)


# (chunks=, y/x chunk size or None for whole, time chunk size or None for whole)
SINGLE = [
    (48, 48, None),
    ("auto", None, None),
    ({}, None, None),
    ({"y": 20, "x": 20, "time": 50}, 20, 50),
]


@pytest.mark.parametrize(("chunks", "spatial", "time"), SINGLE, ids=[str(c[0]) for c in SINGLE])
@pytest.mark.parametrize("prefix", ["S1_GRD-ASCENDING_20m", "L8_SR_10m", "L8_L2-ST_10m"])
def test_single_file_readers_one_chunk_layout(
    prefix, chunks, spatial, time, wc1, raise_if_dask_computes
):
    reader = io.open_sentinel1 if prefix.startswith("S1") else io.open_landsat8
    path = _file(wc1, prefix)
    lazy = _lazy(reader, path, chunks, raise_if_dask_computes)
    sizes = lazy.sizes
    assert lazy.chunks["y"] == _split(sizes["y"], spatial or sizes["y"])
    assert lazy.chunks["x"] == _split(sizes["x"], spatial or sizes["x"])
    assert lazy.chunks["time"] == _split(sizes["time"], time or sizes["time"])
    assert_same(lazy.compute(), reader(path))


def test_time_split_files_one_chunk_layout(tmp_path, data_dir, raise_if_dask_computes):
    # files of other dates are concatenated (and sorted): still one layout
    raw = xr.open_dataset(data_dir / "gfmap" / "cdse_sentinel2_l2a.nc", mask_and_scale=False)
    raw.isel(t=slice(0, 5)).to_netcdf(tmp_path / "a.nc")
    raw.isel(t=slice(5, None)).to_netcdf(tmp_path / "b.nc")
    paths = [tmp_path / "b.nc", tmp_path / "a.nc"]
    lazy = _lazy(io.open_sentinel2, paths, {"t": 4, "y": 32}, raise_if_dask_computes)
    assert dict(lazy.chunks) == {"time": (4, 4, 4), "y": (32, 32, 2), "x": (64,)}
    assert_same(lazy.compute(), io.open_sentinel2(paths))


def test_open_cube_one_chunk_layout_for_mixed_dtypes(tmp_path, raise_if_dask_computes):
    # "auto" chunks each variable by its own dtype in xarray: a uint8 mask and a
    # float64 band of one file got different chunks
    rng = np.random.default_rng(0)
    dims = ("time", "y", "x")
    src = xr.Dataset(
        {
            "band": (dims, rng.random((6, 96, 96))),
            "mask": (dims, rng.integers(0, 2, (6, 96, 96), dtype=np.uint8)),
        },
        coords={"time": np.arange(6).astype("datetime64[D]"), "y": np.arange(96.0)[::-1]},
    )
    src.to_netcdf(tmp_path / "c.nc")
    with dask.config.set({"array.chunk-size": "64KiB"}):
        lazy = _lazy(io.open_cube, tmp_path / "c.nc", "auto", raise_if_dask_computes)
    assert lazy.chunks["time"] == (6,) and len(lazy.chunks["y"]) > 1
    assert_same(lazy.compute(), io.open_cube(tmp_path / "c.nc").load())


def test_open_cube_geotiff_chunks_by_band_or_time(tmp_path, raise_if_dask_computes):
    da = xr.DataArray(
        np.arange(60, dtype=np.float32).reshape(3, 4, 5),
        dims=("band", "y", "x"),
        coords={"band": [1, 2, 3], "y": 100 - 10 * np.arange(4.0), "x": 500 + 10 * np.arange(5.0)},
        attrs={"long_name": ("2020-01-01", "2020-01-11", "2020-01-21")},
    ).rio.write_crs(32631)
    da.rio.to_raster(tmp_path / "t.tif")
    eager = io.open_cube(tmp_path / "t.tif").load()
    for chunks in ({"band": 1, "x": 2}, {"time": 1, "x": 2}):
        lazy = _lazy(io.open_cube, tmp_path / "t.tif", chunks, raise_if_dask_computes)
        assert lazy.chunks == ((1, 1, 1), (4,), (2, 2, 1))
        xr.testing.assert_identical(lazy.compute().drop_attrs(), eager.drop_attrs())
        assert lazy.attrs.keys() == eager.attrs.keys()


def test_the_rule_on_sizes_alone():
    sizes = {"time": 118, "y": 640, "x": 640}
    assert chunking.resolve(512, sizes) == {"time": (118,), "y": (512, 128), "x": (512, 128)}
    on_disk = {"time": 1, "y": 256, "x": 256}
    assert chunking.resolve({}, sizes, on_disk) == {
        "time": (118,),
        "y": (256, 256, 128),
        "x": (256, 256, 128),
    }
    assert chunking.resolve({"time": None, "y": -1}, sizes, on_disk)["y"] == (640,)
    with dask.config.set({"array.chunk-size": "1MiB"}):
        auto = chunking.resolve("auto", sizes)
    assert auto["time"] == (118,) and auto["y"] == auto["x"] and len(auto["y"]) > 1
    # a 20 m file read for a 10 m output: blocks of the same ground
    coarse = {"time": 118, "y": 320, "x": 320}
    assert chunking.for_file(512, coarse, scale=2)["y"] == (256, 64)
    assert chunking.for_file({"y": (100, 540)}, coarse, scale=2)["y"] == (270, 50)


# ----------------------------------------------------------------------------- the tiled copy

# (chunks=, expected time, y, x chunks of the tiled S2 pair: 10 dates, 640 x 640 px)
TILED = [
    (48, (10,), _split(640, 48), _split(640, 48)),
    (64, (10,), _split(640, 64), _split(640, 64)),
    (512, (10,), (512, 128), (512, 128)),
    ({}, (10,), (640,), (640,)),
    ({"y": 512, "x": 512}, (10,), (512, 128), (512, 128)),
    ({"time": 3, "y": 100}, (3, 3, 3, 1), _split(640, 100), (640,)),
]
# a window across several chunk boundaries (of 48, 64, 100 and 512 px)
WINDOW = {"y": slice(40, 210), "x": slice(470, 600)}


@pytest.fixture(scope="module")
def tiled_s2(tiled_wc1) -> xr.Dataset:
    return io.open_sentinel2(tiled_wc1.s2)


def test_tiled_copy_is_the_patch_repeated(tiled_wc1, tiled_s2, s2_pair):
    assert tiled_s2.sizes == {"time": 10, "y": 640, "x": 640}
    transform, original = tiled_s2.rio.transform(), s2_pair.rio.transform()
    assert (transform.a, transform.e, transform.c, transform.f) == (
        original.a,
        original.e,
        original.c,
        original.f,
    )
    patch = s2_pair.isel(time=tiled_wc1.s2_dates)
    for name in ("B04", "B8A", "SCL", "clear"):
        np.testing.assert_array_equal(
            tiled_s2[name].values[:, 64:128, 320:384], patch[name].values, err_msg=name
        )
    s1 = io.open_sentinel1(tiled_wc1.s1)
    assert s1.sizes == {"time": 14, "y": 320, "x": 320}
    assert s1.rio.transform().a == 20 and s1.rio.crs.to_epsg() == 32631


@pytest.mark.parametrize(("chunks", "time", "y", "x"), TILED, ids=[str(c[0]) for c in TILED])
def test_tiled_s2_one_chunk_layout(
    chunks, time, y, x, tiled_wc1, tiled_s2, raise_if_dask_computes
):
    lazy = _lazy(io.open_sentinel2, tiled_wc1.s2, chunks, raise_if_dask_computes)
    assert dict(lazy.chunks) == {"time": time, "y": y, "x": x}
    assert_same(lazy.isel(WINDOW).compute(), tiled_s2.isel(WINDOW))


def test_tiled_s2_auto_and_whole(tiled_wc1, tiled_s2, raise_if_dask_computes):
    with dask.config.set({"array.chunk-size": "1MiB"}):
        lazy = _lazy(io.open_sentinel2, tiled_wc1.s2, "auto", raise_if_dask_computes)
    assert lazy.chunks["time"] == (10,) and lazy.chunks["y"] == lazy.chunks["x"]
    assert len(lazy.chunks["y"]) > 1
    assert_same(lazy.compute(), tiled_s2)


@pytest.mark.parametrize("chunks", [48, 512, "auto", {}, {"y": 100, "x": 100}])
def test_tiled_s1_one_chunk_layout(chunks, tiled_wc1, raise_if_dask_computes):
    lazy = _lazy(io.open_sentinel1, tiled_wc1.s1, chunks, raise_if_dask_computes)
    assert lazy.chunks["time"] == (14,)
    window = {"y": slice(20, 110), "x": slice(230, 300)}
    assert_same(lazy.isel(window).compute(), io.open_sentinel1(tiled_wc1.s1).isel(window))
