"""A damaged file says which file is damaged, and what to do (DataFormatError).

Copies of the real files, cut short or overwritten, in tmp_path: every reader, numpy and
dask, names the file at open; a block that cannot be read later (a corrupt chunk of a
lazily read file) names it when it is read. The other damaged inputs (a classic NetCDF
cut short, a text file named .nc, a damaged Zarr store, GeoTIFF or EOPatch) are in the
catalogue of bad inputs, tests/bad_inputs.py.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from bad_inputs import Context

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


def test_corrupt_chunk_is_named_when_read(data_dir, tmp_path, raise_if_dask_computes):
    path = Context(tmp_path, data_dir).s1_corrupt_chunk  # VV of the 81st date corrupted
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
