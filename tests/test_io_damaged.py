"""A damaged file says which file is damaged, and what to do (DataFormatError).

Copies of the real files, cut short or overwritten, in tmp_path: every reader, numpy and
dask, names the file at open; a block that cannot be read later (a corrupt chunk of a
lazily read file) names it when it is read.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from stori_xr import io
from stori_xr.exceptions import DataFormatError

READERS = {
    "open_sentinel2": (io.open_sentinel2, "S2_L2A_20m"),
    "open_sentinel1": (io.open_sentinel1, "S1_GRD-ASCENDING_20m"),
    "open_landsat8": (io.open_landsat8, "L8_SR_10m"),
    "open_cube": (io.open_cube, "S2_L2A_10m"),
}
DAMAGES = {
    "first-10kB": lambda data: data[:10_000],  # an interrupted download
    "cut-after-header": lambda data: data[: len(data) * 9 // 10],
    "last-byte-missing": lambda data: data[:-1],
    "random-bytes": lambda data: np.random.default_rng(0).bytes(20_000),
}
AGAIN = "download or copy it again"


def _file(folder: Path, prefix: str) -> Path:
    (path,) = sorted(folder.glob(f"{prefix}_*.nc"))
    return path


def _named(path: Path) -> str:
    return rf"{re.escape(str(path))} is (damaged|not a NetCDF/HDF5 file).*{AGAIN}"


@pytest.mark.parametrize("chunks", [None, {}, {"y": 16, "x": 16}])
@pytest.mark.parametrize("damage", DAMAGES)
@pytest.mark.parametrize("reader", READERS)
def test_damaged_file_is_named(reader, damage, chunks, wc1, tmp_path):
    read, prefix = READERS[reader]
    source = _file(wc1, prefix)
    path = tmp_path / source.name
    path.write_bytes(DAMAGES[damage](source.read_bytes()))
    with pytest.raises(DataFormatError, match=_named(path)):
        read(path, chunks=chunks)


def test_the_damaged_one_of_several_files_is_named(wc1, tmp_path):
    good, source = _file(wc1, "S2_L2A_10m"), _file(wc1, "S2_L2A_20m")
    path = tmp_path / source.name
    path.write_bytes(source.read_bytes()[:-1000])
    with pytest.raises(DataFormatError, match=_named(path)) as caught:
        io.open_sentinel2([good, path], chunks={"y": 512, "x": 512})
    assert str(good) not in str(caught.value)


def _corrupt_chunk_copy(source: Path, path: Path, date: int) -> None:
    """``source`` rewritten in chunks of one date with checksums; one chunk corrupted."""
    raw = xr.open_dataset(source, mask_and_scale=False).load()
    encoding = {
        name: {"fletcher32": True, "chunksizes": (1, *var.shape[1:])}
        for name, var in raw.data_vars.items()
        if var.ndim == 3
    }
    raw.to_netcdf(path, encoding=encoding)
    data = bytearray(path.read_bytes())
    start = data.find(raw.VV.values[date].tobytes())
    assert start > 0
    data[start + 100] ^= 0xFF  # one byte of VV on that date: its checksum fails
    path.write_bytes(bytes(data))


def test_corrupt_chunk_is_named_when_read(wc1, tmp_path, raise_if_dask_computes):
    path = tmp_path / "s1_corrupt_chunk.nc"
    _corrupt_chunk_copy(_file(wc1, "S1_GRD-ASCENDING_20m"), path, date=80)
    # numpy: read at open
    with pytest.raises(DataFormatError, match=_named(path)):
        io.open_sentinel1(path)
    # dask: opening reads no values; the corrupt block names the file when read
    with raise_if_dask_computes():
        lazy = io.open_sentinel1(path, chunks={"time": 20})
    lazy.VV.isel(time=slice(0, 20)).compute()  # other blocks read fine
    with pytest.raises(DataFormatError, match=r"a block of its values cannot be read"):
        lazy.VV.compute()
    cube = io.open_cube(path, chunks={})
    with pytest.raises(DataFormatError, match=_named(path)):
        cube.VV.compute()


def test_truncated_classic_netcdf_is_refused(tmp_path):
    # HDF5 refuses a truncated file at open; the NetCDF library reads the missing end of
    # a classic (NetCDF-3) file as zeros, which used to come back as data
    rng = np.random.default_rng(1)
    ds = xr.Dataset(
        {"B04": (("time", "y", "x"), rng.random((4, 50, 50)))},
        coords={"time": np.arange(4).astype("datetime64[D]").astype("datetime64[ns]")},
    )
    ds.to_netcdf(tmp_path / "whole.nc", format="NETCDF3_CLASSIC")
    whole = (tmp_path / "whole.nc").read_bytes()
    np.testing.assert_array_equal(io.open_cube(tmp_path / "whole.nc").B04.values, ds.B04.values)
    cut = tmp_path / "cut.nc"
    cut.write_bytes(whole[: len(whole) - 5000])
    for chunks in (None, {}):
        with pytest.raises(DataFormatError, match=rf"{re.escape(str(cut))} is damaged.*bytes"):
            io.open_cube(cut, chunks=chunks)


def test_nc_file_that_is_not_netcdf(tmp_path):
    path = tmp_path / "notes.nc"
    path.write_text("time,B04\n2020-01-01,0.1\n")
    with pytest.raises(DataFormatError, match=r"not a NetCDF/HDF5 file: it starts with b'time"):
        io.open_cube(path)


def test_damaged_zarr_and_geotiff(tmp_path):
    ds = xr.Dataset(
        {"B04": (("time", "y", "x"), np.zeros((2, 3, 4), np.float32))},
        coords={"time": np.array(["2020-01-01", "2020-01-02"], dtype="datetime64[ns]")},
    )
    store = tmp_path / "c.zarr"
    ds.to_zarr(store, mode="w", zarr_format=2)
    (store / ".zmetadata").write_text("{damaged")
    (store / ".zgroup").write_text("{damaged")
    with pytest.raises(DataFormatError, match=rf"{re.escape(str(store))} is damaged.*Zarr"):
        io.open_cube(store)
    tif = tmp_path / "d.tif"
    tif.write_bytes(b"II*\x00" + bytes(100))
    with pytest.raises(DataFormatError, match=rf"{re.escape(str(tif))} is damaged.*GeoTIFF"):
        io.open_cube(tif, times=["2020-01-01"])


def test_damaged_eopatch_feature_is_named(data_dir, tmp_path):
    folder = tmp_path / "patch"
    shutil.copytree(data_dir / "eolearn" / "TestEOPatch", folder)
    ndvi = folder / "data" / "NDVI.npy"
    ndvi.write_bytes(ndvi.read_bytes()[:5000])
    with pytest.raises(DataFormatError, match=rf"{re.escape(str(ndvi))} is damaged.*{AGAIN}"):
        io.open_eopatch(folder)
    (folder / "timestamps.json").write_text('["2015-07-11T10:00:08", "2015-')
    with pytest.raises(DataFormatError, match=r"timestamps\.json is damaged"):
        io.open_eopatch(folder)
