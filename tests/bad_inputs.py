"""Every bad input the tests try, the error (or warning) it gets, and the table in the docs.

Each :class:`BadInput` is one thing a user can get wrong, in a :class:`Group` named for
what the user was doing. ``tests/test_bad_inputs.py`` checks that each gets exactly its
named error with a message that matches, and that ``docs/errors.md`` lists them all with
the messages they really get.

- :data:`GROUPS`: the user-facing API (readers, ``interpolate``, ``align``, ``evaluate``,
  ``make_scene``, ``to_zarr`` …). Every error is a ``StoriError`` (or a
  ``FileNotFoundError``), every warning a ``StoriWarning``.
- :data:`KERNEL_GROUPS`: the argument checks of ``stori_xr.kernels``, for callers of the
  kernels: a plain ``ValueError`` is their error.

A case's ``match`` is searched in the message as the table shows it: this run's scratch
and data folders replaced by ``<tmp>`` and ``<data>``. After adding a case, rewrite the
page with::

    python tests/bad_inputs.py
"""

from __future__ import annotations

import re
import shutil
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

sys.path.insert(0, str(Path(__file__).resolve().parent))  # builders, when run as a script

from builders import make_optical, make_sar

import stori_xr  # noqa: F401
from stori_xr import exceptions as ex
from stori_xr.align import align
from stori_xr.datasets import make_scene
from stori_xr.evaluate import (
    evaluate,
    format_against_best,
    format_split,
    gap_days,
    hide_mask,
    load_worldcereal_patch,
    neighbour_clear,
    plot_calibration,
    score,
)
from stori_xr.fill import interpolate
from stori_xr.io import (
    bands_to_dataset,
    open_cube,
    open_eopatch,
    open_landsat8,
    open_sentinel1,
    open_sentinel2,
    to_common_names,
)
from stori_xr.kernels.stori import stori_fill
from stori_xr.kernels.stori_reference import stori_fill_reference
from stori_xr.kernels.whittaker import whittaker
from stori_xr.output import to_zarr

REPO = Path(__file__).resolve().parents[1]
DOCS_PAGE = REPO / "docs" / "errors.md"
PATCH = "00002806639B424A"  # the WorldCereal patch the cases read (its files: Context.file)
OTHER_PATCH = "000028085BF08E7E"


@dataclass
class Context:
    """What the cases are made of: small cubes, a scratch folder, the real data.

    Every file a case writes has a name of its own in ``tmp``: the table's run gives all
    cases one scratch folder.
    """

    tmp: Path
    data: Path

    @cached_property
    def optical(self) -> xr.Dataset:
        """12 dates of B04, B08 and clear, 6 x 6 px at 10 m."""
        return make_optical(nt=12, ny=6, nx=6)

    @cached_property
    def sar(self) -> xr.Dataset:
        """VV and VH in dB over the optical period, 3 x 3 px at 20 m."""
        return make_sar(ny=3, nx=3)

    def file(self, prefix: str, patch: str = PATCH) -> Path:
        """The real WorldCereal file ``<prefix>_*.nc`` of a patch."""
        (path,) = sorted((self.data / "worldcereal" / patch).glob(f"{prefix}_*.nc"))
        return path

    @cached_property
    def gfmap_s1(self) -> Path:
        """A small real Sentinel-1 GRD file (openEO/GFMap layout)."""
        return self.data / "gfmap" / "cdse_sentinel1_grd.nc"

    def folder(self, name: str) -> Path:
        """An empty folder in the scratch folder."""
        path = self.tmp / name
        path.mkdir()
        return path

    def damaged(self, prefix: str, cut: Callable[[bytes], bytes]) -> Path:
        """A copy of the real file ``prefix``, damaged by ``cut``."""
        source = self.file(prefix)
        path = self.tmp / f"damaged_{source.name}"
        path.write_bytes(cut(source.read_bytes()))
        return path

    @cached_property
    def tiny_s2(self) -> dict[int, Path]:
        """Two 2 x 2 px Sentinel-2 files, one in EPSG:32631, one in EPSG:32630."""
        paths = {}
        for epsg in (32631, 32630):
            dn = np.array([[[0, 1500], [2500, 3000]], [[1200, 1300], [1400, 1600]]], np.uint16)
            dims = ("timestamp", "y", "x")
            ds = xr.Dataset(
                {"B04": (dims, dn), "SCL": (dims, np.full(dn.shape, 4, np.uint8))},
                coords={
                    "timestamp": pd.to_datetime(["2023-05-02", "2023-05-01"]),
                    "y": [15.0, 5.0],
                    "x": [5.0, 15.0],
                },
            )
            paths[epsg] = self.tmp / f"s2_{epsg}.nc"
            ds.rio.write_crs(epsg).to_netcdf(paths[epsg])
        return paths

    def cube(self, name: str, time: Any, two_times: bool = False) -> Path:
        """A small NetCDF cube (``t``, y, x) with ``time`` as its ``t`` coordinate.

        ``two_times``: a second datetime dimension ``t2`` in place of y.
        """
        ds = xr.Dataset(
            {"B04": (("t", "y", "x"), np.zeros((3, 2, 2), np.float32))},
            coords={"t": time, "y": [15.0, 5.0], "x": [5.0, 15.0]},
        )
        if two_times:
            ds = ds.assign_coords(t2=("y", pd.date_range("2021-01-01", periods=2)))
            ds = ds.swap_dims(y="t2")
        path = self.tmp / name
        ds.rio.write_crs(32631).to_netcdf(path)
        return path

    @cached_property
    def tif_without_dates(self) -> Path:
        """A GeoTIFF of 3 bands whose descriptions are not dates."""
        da = xr.DataArray(
            np.zeros((3, 4, 5), np.float32),
            dims=("band", "y", "x"),
            coords={
                "band": [1, 2, 3],
                "y": 100 - 10 * np.arange(4.0),
                "x": 500 + 10 * np.arange(5.0),
            },
        ).rio.write_crs(32631)
        path = self.tmp / "no_dates.tif"
        da.rio.to_raster(path)
        return path

    @cached_property
    def bands(self) -> xr.DataArray:
        """A (time, band, y, x) DataArray of bands B04, B08, SCL."""
        return xr.DataArray(
            np.zeros((2, 3, 4, 5), np.float32),
            dims=("time", "band", "y", "x"),
            coords={
                "time": pd.date_range("2020-01-01", periods=2),
                "band": ["B04", "B08", "SCL"],
                "y": 100 - 10 * np.arange(4.0),
                "x": 500 + 10 * np.arange(5.0),
            },
        )

    @cached_property
    def s1_corrupt_chunk(self) -> Path:
        """The real Sentinel-1 file rewritten in chunks of one date with checksums, one of
        them (VV on the 81st date) corrupted."""
        raw = xr.open_dataset(self.file("S1_GRD-ASCENDING_20m"), mask_and_scale=False).load()
        encoding = {
            name: {"fletcher32": True, "chunksizes": (1, *var.shape[1:])}
            for name, var in raw.data_vars.items()
            if var.ndim == 3
        }
        path = self.tmp / "s1_corrupt_chunk.nc"
        raw.to_netcdf(path, encoding=encoding)
        data = bytearray(path.read_bytes())
        start = data.find(raw.VV.values[80].tobytes())
        assert start > 0
        data[start + 100] ^= 0xFF  # one byte of VV on that date: its checksum fails
        path.write_bytes(bytes(data))
        return path

    @cached_property
    def classic_cut(self) -> Path:
        """A classic (NetCDF-3) file whose last 5000 bytes are missing.

        HDF5 refuses a truncated file at open; the NetCDF library reads the missing end of
        a classic file as zeros, which used to come back as data.
        """
        ds = xr.Dataset(
            {"B04": (("time", "y", "x"), np.zeros((4, 50, 50)))},
            coords={"time": pd.date_range("2020-01-01", periods=4)},
        )
        ds.to_netcdf(self.tmp / "whole.nc", format="NETCDF3_CLASSIC")
        path = self.tmp / "classic_cut.nc"
        path.write_bytes((self.tmp / "whole.nc").read_bytes()[:-5000])
        return path

    def link(self, name: str, target: Path) -> Path:
        """A symbolic link ``name`` of the scratch folder to ``target``."""
        path = self.tmp / name
        path.symlink_to(target)
        return path

    def write(self, name: str, data: bytes | str) -> Path:
        """A file of the scratch folder holding ``data``."""
        path = self.tmp / name
        if isinstance(data, str):
            path.write_text(data)
        else:
            path.write_bytes(data)
        return path

    @cached_property
    def damaged_zarr(self) -> Path:
        """A Zarr store whose metadata files hold broken JSON."""
        ds = xr.Dataset(
            {"B04": (("time", "y", "x"), np.zeros((2, 3, 4), np.float32))},
            coords={"time": pd.date_range("2020-01-01", periods=2)},
        )
        store = self.tmp / "damaged.zarr"
        ds.to_zarr(store, mode="w", zarr_format=2)
        (store / ".zmetadata").write_text("{damaged")
        (store / ".zgroup").write_text("{damaged")
        return store

    @cached_property
    def incomplete_store(self) -> Path:
        """A store whose write was never computed: marked incomplete, no chunk written."""
        store = self.tmp / "incomplete.zarr"
        to_zarr(_interp(self).chunk({"y": 3, "x": 3}), store, compute=False)
        return store

    def cut_eopatch(self, name: str, member: str, keep: int) -> Path:
        """A copy of the real EOPatch whose file ``member`` keeps its first ``keep`` bytes."""
        folder = Path(shutil.copytree(self.data / "eolearn" / "TestEOPatch", self.tmp / name))
        path = folder / member
        path.write_bytes(path.read_bytes()[:keep])
        return folder


@dataclass(frozen=True)
class BadInput:
    """One bad input: what it is, how to give it, what it gets."""

    id: str
    what: str  #: the input, in words, for the docs table
    call: Callable[[Context], Any]
    error: type[Exception]  #: exactly the class the input gets
    match: str  #: searched in the message as the table shows it

    @property
    def is_warning(self) -> bool:
        return issubclass(self.error, Warning)

    def run(self, ctx: Context) -> BaseException | Warning:
        """Give the input; return the error (or warning) it got (AssertionError when none)."""
        if self.is_warning:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                self.call(ctx)
            found = [w for w in caught if issubclass(w.category, self.error)]
            if not found:
                raise AssertionError(f"{self.id}: no {self.error.__name__}")
            return found[0].message
        try:
            self.call(ctx)
        except self.error as err:
            return err
        raise AssertionError(f"{self.id}: no {self.error.__name__} was raised")


@dataclass(frozen=True)
class Group:
    """The bad inputs of one thing a user does: a heading and a table in the docs."""

    title: str
    about: str  #: one sentence under the heading
    cases: list[BadInput]


def _interp(ctx: Context, **kwargs: Any) -> xr.Dataset:
    return interpolate(ctx.optical, ctx.sar, method="linear", **kwargs)


def _after_last(ctx: Context, days: str) -> pd.Timestamp:
    return pd.Timestamp(ctx.optical.time.values[-1]) + pd.Timedelta(days)


def _with_units(ctx: Context, vv: xr.DataArray, units: str | None) -> xr.Dataset:
    """``ctx.sar`` with ``vv`` as VV, declared in ``units`` (None: no units attribute)."""
    attrs = {} if units is None else {"units": units}
    return ctx.sar.assign(VV=vv.drop_attrs().assign_attrs(attrs))


def _linear_labelled_db(ctx: Context) -> xr.Dataset:
    # VV only: with dask, which of two bad variables is named first would vary by run
    return _with_units(ctx, 10 ** (ctx.sar.VV / 10), "dB")


def _unscaled(ctx: Context) -> xr.Dataset:
    return ctx.optical.assign(B04=ctx.optical.B04 * 10000)


def _written(ctx: Context) -> Path:
    store = ctx.tmp / "out.zarr"
    if not store.exists():
        to_zarr(_interp(ctx), store)
    return store


def _a_file(c: Context) -> Path:
    """A file in the scratch folder, where a folder is expected."""
    path = c.tmp / "a-file.txt"
    path.write_text("")
    return path


def _dates(n: int) -> np.ndarray:
    return np.datetime64("2020-01-01T10:30") + np.arange(n) * np.timedelta64(5, "D")


def _scores(c: Context) -> pd.DataFrame:
    """A table of scores without splits: 4 hidden values of one band."""
    truth = np.array([[0.1, 0.2, 0.3, 0.4]])
    return score(truth, truth + 0.01, None, np.ones(4, bool), np.arange(4.0), ["B04"], method="m")


def _block(nt: int = 8) -> tuple:
    """A kernel block: 2 bands, 3 x 3 px, ``nt`` dates, 2 SAR features; all clear."""
    rng = np.random.default_rng(0)
    values = rng.uniform(0.1, 0.4, (2, 3, 3, nt))
    sar = rng.normal(-12, 1, (2, 3, 3, nt))
    return values, np.ones((3, 3, nt), bool), sar, np.arange(nt) * 5.0


def _kernel_out_too_small() -> None:
    values, clear, sar, t = _block()
    out = (np.zeros((2, 8, 2, 2)), np.zeros((2, 8, 2, 2)), np.zeros((8, 2, 2), np.int8))
    stori_fill(values, clear, sar, t, np.arange(8), out=out)


def _whittaker(t: np.ndarray | None = None, **options: Any) -> np.ndarray:
    """``whittaker`` of 5 values at days 0 to 4 (their times: ``t``)."""
    days = np.arange(5.0)
    return whittaker(np.ones(5), days if t is None else t, days, **options)


_AGAIN = "download or copy it again"
_EVERY_READER = "any reader (`open_sentinel2`, `open_sentinel1`, `open_landsat8`, `open_cube`)"
_PATCH_S2 = rf"<data>/worldcereal/{PATCH}/S2_L2A_20m_{PATCH}_32631_2017-08-01_2018-11-30\.nc"
_DAMAGED_S2 = rf"^<tmp>/damaged_S2_L2A_20m_{PATCH}_32631_2017-08-01_2018-11-30\.nc"

# --------------------------------------------------------------------------- the groups

READERS = Group(
    "Reading files",
    "`stori_xr.io`: `open_sentinel2`, `open_sentinel1`, `open_landsat8`, `open_eopatch`, "
    "`open_cube`, `bands_to_dataset`, `to_common_names`.",
    [
        BadInput(
            "reader-s1-as-s2",
            "a Sentinel-1 file to `open_sentinel2`",
            lambda c: open_sentinel2(c.file("S1_GRD-ASCENDING_20m")),
            ex.DataFormatError,
            r"not a Sentinel-2 .*\['VH', 'VV'\]",
        ),
        BadInput(
            "reader-l8-as-s2",
            "a Landsat-8 file to `open_sentinel2`",
            lambda c: open_sentinel2(c.file("L8_SR_10m")),
            ex.DataFormatError,
            "open_landsat8",
        ),
        BadInput(
            "reader-s2-as-s1",
            "a Sentinel-2 file to `open_sentinel1`",
            lambda c: open_sentinel1(c.file("S2_L2A_20m")),
            ex.DataFormatError,
            r"not a Sentinel-1 .*SCL",
        ),
        BadInput(
            "reader-s1-as-l8",
            "a Sentinel-1 file (openEO layout) to `open_landsat8`",
            lambda c: open_landsat8(c.gfmap_s1),
            ex.DataFormatError,
            r"not a Landsat-8 .*S1-SIGMA0-VV",
        ),
        BadInput(
            "reader-band-elsewhere",
            "`open_sentinel2(s2_20m_file, bands=['B04'])`: B04 is in the 10 m file",
            lambda c: open_sentinel2(c.file("S2_L2A_20m"), bands=["B04"]),
            ex.MissingVariableError,
            r"\['B04'\].*available bands.*B8A.*B04 is a 10 m band, found in the 10 m file "
            r"\(S2_L2A_10m_\*\): add that file to paths\.$",
        ),
        BadInput(
            "reader-band-unknown",
            "`open_landsat8(path, bands=['B04', 'B09'])`: no B09 in the file",
            lambda c: open_landsat8(c.file("L8_SR_10m"), bands=["B04", "B09"]),
            ex.MissingVariableError,
            r"^bands \['B09'\] are not in .*\(pixel_qa and clear are always returned\)\.$",
        ),
        BadInput(
            "reader-grids-not-nested",
            "`open_sentinel2([10 m file, 20 m file])` of two different patches",
            lambda c: open_sentinel2(
                [c.file("S2_L2A_10m"), c.file("S2_L2A_20m", patch=OTHER_PATCH)]
            ),
            ex.DataFormatError,
            "do not nest",
        ),
        BadInput(
            "reader-two-crs",
            "`open_sentinel2([a, b])` of files in two CRS",
            lambda c: open_sentinel2([c.tiny_s2[32631], c.tiny_s2[32630]]),
            ex.DataFormatError,
            "different CRS",
        ),
        BadInput(
            "reader-same-file-twice",
            "`open_sentinel2([a, a])`: one file twice",
            lambda c: open_sentinel2([c.tiny_s2[32631], c.tiny_s2[32631]]),
            ex.DataFormatError,
            r"^the same file is given twice \(<tmp>/s2_32631\.nc\): pass each file once",
        ),
        BadInput(
            "reader-same-file-two-spellings",
            "`open_sentinel2([a, b])` where b is a link to a",
            lambda c: open_sentinel2([c.tiny_s2[32631], c.link("s2_link.nc", c.tiny_s2[32631])]),
            ex.DataFormatError,
            r"given twice \(<tmp>/s2_32631\.nc and <tmp>/s2_link\.nc\)",
        ),
        BadInput(
            "reader-units",
            "`open_sentinel1(path, units='dBm')`",
            lambda c: open_sentinel1(c.gfmap_s1, units="dBm"),
            ex.UnitsError,
            r"^units='dBm' is not a unit of SAR backscatter.*'dB'.*'linear'",
        ),
        BadInput(
            "reader-chunks",
            "`open_sentinel1(path, chunks='big')` (any reader)",
            lambda c: open_sentinel1(c.file("S1_GRD-ASCENDING_20m"), chunks="big"),
            ex.ChunkingError,
            "not a chunking the readers take",
        ),
        BadInput(
            "reader-chunks-bool",
            "`open_sentinel1(path, chunks=True)` (any reader)",
            lambda c: open_sentinel1(c.file("S1_GRD-ASCENDING_20m"), chunks=True),
            ex.ChunkingError,
            "not a chunking the readers take",
        ),
        BadInput(
            "reader-chunks-misfit",
            "`open_sentinel1(path, chunks={'y': (10, 10)})` on a 32 px grid (any reader)",
            lambda c: open_sentinel1(c.file("S1_GRD-ASCENDING_20m"), chunks={"y": (10, 10)}),
            ex.ChunkingError,
            r"the sizes for 'y' add up to 20, but the output grid has 32 along 'y'; give "
            r"sizes that add up to 32, or one int",
        ),
        BadInput(
            "reader-chunks-zero",
            "`open_sentinel1(path, chunks={'y': 0})` (any reader)",
            lambda c: open_sentinel1(c.file("S1_GRD-ASCENDING_20m"), chunks={"y": 0}),
            ex.ChunkingError,
            r"0 is not a chunk size for 'y'; give an int of 1 or more",
        ),
        BadInput(
            "eopatch-not-a-patch",
            "`open_eopatch` of a folder that is not an EOPatch",
            lambda c: open_eopatch(c.folder("not_a_patch")),
            ex.DataFormatError,
            r"timestamps\.json",
        ),
        BadInput(
            "cube-two-time-dims",
            "`open_cube` of a file with two datetime dimensions",
            lambda c: open_cube(
                c.cube("two_times.nc", pd.date_range("2020-01-01", periods=3), True)
            ),
            ex.TimeDimError,
            r"^<tmp>/two_times\.nc: several datetime64 .*open_cube\(path, time_dim='t'\)",
        ),
        BadInput(
            "cube-no-time-dim",
            "`open_cube` of a file whose time coordinate holds numbers (or strings that are "
            "not dates)",
            lambda c: open_cube(c.cube("numbered.nc", [1, 2, 3])),
            ex.TimeDimError,
            r"^<tmp>/numbered\.nc: no datetime64 .*open_cube\(path, time_dim='t', times=\[",
        ),
        BadInput(
            "cube-tif-no-dates",
            "`open_cube` of a GeoTIFF whose band descriptions are not dates, without `times=`",
            lambda c: open_cube(c.tif_without_dates),
            ex.TimeDimError,
            "times=",
        ),
        BadInput(
            "cube-tif-times-count",
            "`open_cube(tif, times=[2 dates])` for a GeoTIFF of 3 bands",
            lambda c: open_cube(c.tif_without_dates, times=["2020-01-01", "2020-01-02"]),
            ex.TimeDimError,
            r"2 times given for 3 bands; pass times=\[\.\.\.\] with one date per band\.$",
        ),
        BadInput(
            "bands-no-band-dim",
            "`bands_to_dataset` of a DataArray whose band dimension is named `b`",
            lambda c: bands_to_dataset(c.bands.rename(band="b")),
            ex.DataFormatError,
            "band_dim=",
        ),
        BadInput(
            "bands-repeated",
            "`bands_to_dataset` of a DataArray with band labels B04, B04, SCL",
            lambda c: bands_to_dataset(c.bands.assign_coords(band=["B04", "B04", "SCL"])),
            ex.DataFormatError,
            "repeat",
        ),
        BadInput(
            "common-names-clash",
            "`to_common_names` of B08 and B8A that both say `common_name='nir'`",
            lambda c: to_common_names(
                xr.Dataset(
                    {
                        "B08": ("x", [1.0], {"common_name": "nir"}),
                        "B8A": ("x", [1.0], {"common_name": "nir"}),
                    }
                )
            ),
            ex.DataFormatError,
            "nir",
        ),
        BadInput(
            "s2-without-scl",
            "`open_sentinel2` of the 10 m file alone, without the 20 m file's SCL (a warning)",
            lambda c: open_sentinel2(c.file("S2_L2A_10m")),
            ex.NoCloudMaskWarning,
            "no SCL",
        ),
    ],
)

DAMAGED = Group(
    "Damaged files",
    "A file cut short or overwritten while downloading or copying. The test suite tries "
    "each damage with every reader, read with numpy or dask (`chunks=None`, `{}`, "
    "`{'y': 16, 'x': 16}`; `tests/test_io_damaged.py`); one reader stands for all here.",
    [
        BadInput(
            "file-truncated",
            f"a NetCDF file cut short (its first 10 kB) to {_EVERY_READER}",
            lambda c: open_sentinel2(c.damaged("S2_L2A_20m", lambda data: data[:10_000])),
            ex.DataFormatError,
            rf"{_DAMAGED_S2} is damaged: it cannot be opened \([^<]+\)\. The file .*{_AGAIN}",
        ),
        BadInput(
            "file-cut-after-header",
            f"a NetCDF file cut after its header (90 % of it) to {_EVERY_READER}",
            lambda c: open_sentinel2(
                c.damaged("S2_L2A_20m", lambda data: data[: len(data) * 9 // 10])
            ),
            ex.DataFormatError,
            rf"{_DAMAGED_S2} is damaged.*{_AGAIN}",
        ),
        BadInput(
            "file-last-byte-missing",
            f"a NetCDF file without its last byte to {_EVERY_READER}",
            lambda c: open_sentinel2(c.damaged("S2_L2A_20m", lambda data: data[:-1])),
            ex.DataFormatError,
            rf"{_DAMAGED_S2} is damaged.*{_AGAIN}",
        ),
        BadInput(
            "file-not-netcdf",
            f"random bytes named `*.nc` to {_EVERY_READER}",
            lambda c: open_sentinel2(
                c.damaged("S2_L2A_20m", lambda data: bytes(range(256)) * 8), chunks={}
            ),
            ex.DataFormatError,
            rf"{_DAMAGED_S2} is not a NetCDF/HDF5 file: it starts with .*{_AGAIN}",
        ),
        BadInput(
            "file-one-of-two",
            "`open_sentinel2([good 10 m file, damaged 20 m file])`: the damaged one is named",
            lambda c: open_sentinel2(
                [c.file("S2_L2A_10m"), c.damaged("S2_L2A_20m", lambda data: data[:-1000])],
                chunks={"y": 512, "x": 512},
            ),
            ex.DataFormatError,
            rf"{_DAMAGED_S2} is damaged.*{_AGAIN}",
        ),
        BadInput(
            "file-corrupt-chunk",
            "a NetCDF file with one corrupt block (a failed checksum), read with numpy",
            lambda c: open_sentinel1(c.s1_corrupt_chunk),
            ex.DataFormatError,
            rf"^<tmp>/s1_corrupt_chunk\.nc is damaged.*{_AGAIN}",
        ),
        BadInput(
            "file-corrupt-chunk-lazy",
            "the same, read with dask (`chunks={'time': 20}`): raised when the block is computed",
            lambda c: open_sentinel1(c.s1_corrupt_chunk, chunks={"time": 20}).VV.compute(),
            ex.DataFormatError,
            r"a block of its values cannot be read",
        ),
        BadInput(
            "file-corrupt-chunk-cube",
            "the same, read with `open_cube(path, chunks={})` and computed",
            lambda c: open_cube(c.s1_corrupt_chunk, chunks={}).VV.compute(),
            ex.DataFormatError,
            rf"^<tmp>/s1_corrupt_chunk\.nc is damaged.*{_AGAIN}",
        ),
        BadInput(
            "file-classic-truncated",
            "a classic (NetCDF-3) file cut short to `open_cube`",
            lambda c: open_cube(c.classic_cut),
            ex.DataFormatError,
            r"^<tmp>/classic_cut\.nc is damaged.*bytes",
        ),
        BadInput(
            "file-classic-truncated-lazy",
            "the same, `open_cube(path, chunks={})`",
            lambda c: open_cube(c.classic_cut, chunks={}),
            ex.DataFormatError,
            r"^<tmp>/classic_cut\.nc is damaged.*bytes",
        ),
        BadInput(
            "file-text-as-nc",
            "a CSV text file named `notes.nc` to `open_cube`",
            lambda c: open_cube(c.write("notes.nc", "time,B04\n2020-01-01,0.1\n")),
            ex.DataFormatError,
            r"not a NetCDF/HDF5 file: it starts with b'time",
        ),
        BadInput(
            "zarr-damaged",
            "`open_cube` of a Zarr store whose metadata is damaged",
            lambda c: open_cube(c.damaged_zarr),
            ex.DataFormatError,
            r"^<tmp>/damaged\.zarr is damaged: it cannot be opened \([^<]+\)\. The store is "
            r"missing files .*not a Zarr store",
        ),
        BadInput(
            "geotiff-damaged",
            "`open_cube(tif, times=[...])` of a GeoTIFF that is only a header",
            lambda c: open_cube(
                c.write("damaged.tif", b"II*\x00" + bytes(100)), times=["2020-01-01"]
            ),
            ex.DataFormatError,
            r"^<tmp>/damaged\.tif is damaged: it cannot be opened \([^<]+\)\..*GeoTIFF",
        ),
        BadInput(
            "eopatch-feature-damaged",
            "`open_eopatch` of a patch whose `data/NDVI.npy` is cut short",
            lambda c: open_eopatch(c.cut_eopatch("cut_feature", "data/NDVI.npy", 5000)),
            ex.DataFormatError,
            rf"^<tmp>/cut_feature/data/NDVI\.npy is damaged.*{_AGAIN}",
        ),
        BadInput(
            "eopatch-timestamps-damaged",
            "`open_eopatch` of a patch whose `timestamps.json` is cut short",
            lambda c: open_eopatch(c.cut_eopatch("cut_timestamps", "timestamps.json", 30)),
            ex.DataFormatError,
            r"timestamps\.json is damaged",
        ),
    ],
)

TARGET_DATES = Group(
    "Target dates (`times=`)",
    "The dates `interpolate` and `align` fill or align onto.",
    [
        BadInput(
            "times-number",
            "`times=5` (a number)",
            lambda c: _interp(c, times=5),
            ex.TimesError,
            "is a number, not dates",
        ),
        BadInput(
            "times-numbers",
            "`times=[1, 2, 3]`",
            lambda c: _interp(c, times=[1, 2, 3]),
            ex.TimesError,
            "holds numbers, not dates",
        ),
        BadInput(
            "times-garbage",
            "`times=['2021-01-10', 'soon']`",
            lambda c: _interp(c, times=["2021-01-10", "soon"]),
            ex.TimesError,
            r"values that are not dates \(\['soon'\]\)",
        ),
        BadInput(
            "times-nonsense",
            "`times='fortnightly-ish'`",
            lambda c: align(c.optical, c.sar, times="fortnightly-ish"),
            ex.TimesError,
            "neither a pandas frequency",
        ),
        BadInput(
            "times-zero-step",
            "`times='0D'`",
            lambda c: _interp(c, times="0D"),
            ex.TimesError,
            "not a step forward in time",
        ),
        BadInput(
            "times-negative-step",
            "`times='-5D'`",
            lambda c: _interp(c, times="-5D"),
            ex.TimesError,
            "not a step forward in time",
        ),
        BadInput(
            "times-unsorted",
            "`times=['2021-02-01', '2021-01-03']` (not increasing)",
            lambda c: align(c.optical, c.sar, times=["2021-02-01", "2021-01-03"]),
            ex.UnsortedTimeError,
            "increasing",
        ),
        BadInput(
            "times-far-outside",
            "target dates 200 days after the last optical date",
            lambda c: _interp(c, times=[_after_last(c, "200D")]),
            ex.TimesError,
            "more than 90 days outside the optical period",
        ),
        BadInput(
            "times-outside",
            "target dates 20 days after the last optical date (a warning)",
            lambda c: _interp(c, times=[_after_last(c, "20D")]),
            ex.ExtrapolationWarning,
            "1 of 1 target dates lie outside the optical period",
        ),
    ],
)

# out of range: a clear message instead of a division by zero (or a silent change of
# method) deep in the kernel
_KERNEL_OPTIONS = {
    "radius": -1,
    "n_similar": 0,
    "pool": 0,
    "min_joint": 0,
    "prior_weight": 0.0,
    "sar_scale_days": -5.0,
    "prior_s2": -1e-4,
    "rho": float("nan"),
}


def _keywords(kwargs: dict[str, Any]) -> str:
    """``{'seed': -1}`` as "`seed=-1`", for the table."""
    return ", ".join(f"`{name}={value!r}`" for name, value in kwargs.items())


def _kernel_option(name: str, value: float) -> BadInput:
    return BadInput(
        f"kernel-option-{name.replace('_', '-')}",
        f"`method='kernel'`, {_keywords({name: value})}",
        lambda c: interpolate(c.optical, c.sar, method="kernel", **{name: value}),
        ex.OptionError,
        rf"^{name}=.*: give .* \(an option of method='kernel'\)\.$",
    )


def _scene_case(id: str, kwargs: dict[str, Any], error: type[Exception], match: str) -> BadInput:
    return BadInput(
        id,
        _keywords(kwargs),
        lambda c: make_scene(16, 16, **{"periods": 12, **kwargs}),
        error,
        match,
    )


def _whittaker_case(id: str, kwargs: dict[str, Any], match: str, what: str = "") -> BadInput:
    return BadInput(
        id, what or _keywords(kwargs), lambda c: _whittaker(**kwargs), ValueError, match
    )


_RNN_OPTIONS = {"epochs": -1, "hidden": 2.5, "seed": "one", "device": "tpu", "model": 3}


def _rnn(c: Context, sar: Any = None, **options: Any) -> Any:
    """``method='stori-rnn'`` on the small cube, with a tiny fit."""
    sar = c.sar if sar is None else sar
    return interpolate(c.optical, sar, method="stori-rnn", **{"epochs": 0, **options})


def _rnn_model(bands: list[str]) -> bytes:
    """The bytes of a (zero) stori-rnn model of ``bands``, made without torch."""
    from stori_xr.ranker.weights import FittedModel

    nb = len(bands)
    config = {"n_bands": nb, "n_sar": 2, "hidden": 2, "bands": bands, "sar_features": []}
    return FittedModel("stori-rnn", config, {}, np.zeros(nb), np.ones(nb)).to_bytes()


OPTIONS = Group(
    "Methods and options",
    "The method and the options of `interpolate` (and `align`).",
    [
        BadInput(
            "method-unknown",
            "`method='magic'`",
            lambda c: interpolate(c.optical, c.sar, method="magic"),
            ex.MethodError,
            "choose one of",
        ),
        BadInput(
            "method-foreign-option",
            "`method='linear', lmbda=3` (an option of another method)",
            lambda c: _interp(c, lmbda=3),
            ex.MethodError,
            r"takes no option \['lmbda'\] \(it takes none\); lmbda is an option of 'whittaker'",
        ),
        BadInput(
            "method-whittaker-lmbda",
            "`method='whittaker', lmbda='aic'`",
            lambda c: interpolate(c.optical, c.sar, method="whittaker", lmbda="aic"),
            ex.OptionError,
            r"lmbda='aic': give a number \(e\.g\. 1e4\) or 'gcv' \(an option of "
            r"method='whittaker'\)",
        ),
        *(_kernel_option(name, value) for name, value in _KERNEL_OPTIONS.items()),
        BadInput(
            "kernel-option-text",
            "`method='kernel', radius='3'` (text, not a number)",
            lambda c: interpolate(c.optical, c.sar, method="kernel", radius="3"),
            ex.OptionError,
            r"radius='3': give a number, like the default 8 \(an option of method='kernel'\)",
        ),
        BadInput(
            "kernel-candidates-unknown",
            "`method='kernel', candidates=('temporal', 'optical')`",
            lambda c: interpolate(
                c.optical, c.sar, method="kernel", candidates=("temporal", "optical")
            ),
            ex.OptionError,
            r"unknown candidates \['optical'\].*option of method='kernel'",
        ),
        *(
            BadInput(
                f"stori-rnn-{name}",
                f"`method='stori-rnn', {name}={value!r}`",
                lambda c, name=name, value=value: _rnn(c, **{name: value}),
                ex.OptionError,
                rf"^{name}=.*: give .* \(an option of method='stori-rnn'\)\.$",
            )
            for name, value in _RNN_OPTIONS.items()
        ),
        BadInput(
            "stori-rnn-model-missing",
            "`method='stori-rnn', model='missing.bin'` (no such file)",
            lambda c: _rnn(c, model=str(c.tmp / "missing.bin")),
            ex.OptionError,
            r"model='<tmp>/missing\.bin': no such file; give the path of a model saved",
        ),
        BadInput(
            "stori-rnn-model-not-a-model",
            "`method='stori-rnn', model=b'...'` (bytes that are not a model)",
            lambda c: _rnn(c, model=b"not a model"),
            ex.DataFormatError,
            "this is not a stori_xr model",
        ),
        BadInput(
            "stori-rnn-model-other-bands",
            "`method='stori-rnn', model=` a model fitted on other bands",
            lambda c: _rnn(c, model=_rnn_model(["B05", "B8A"])),
            ex.OptionError,
            r"fitted on bands \['B05', 'B8A'\]; this input has \['B04', 'B08'\]: give bands=",
        ),
        BadInput(
            "stori-rnn-vv-only",
            "`method='stori-rnn'` with SAR that has VV only",
            lambda c: _rnn(c, sar=c.sar[["VV"]]),
            ex.MissingVariableError,
            r"reads VH and the radar vegetation index.*give SAR with both VV and VH",
        ),
        BadInput(
            "max-gap-negative",
            "`max_gap=-5`",
            lambda c: _interp(c, max_gap=-5),
            ex.OptionError,
            "max_gap=-5 must be longer than 0",
        ),
        BadInput(
            "max-gap-zero",
            "`max_gap='0D'`",
            lambda c: _interp(c, max_gap="0D"),
            ex.OptionError,
            "must be longer than 0",
        ),
        BadInput(
            "max-gap-text",
            "`max_gap='abc'`",
            lambda c: _interp(c, max_gap="abc"),
            ex.OptionError,
            "max_gap='abc' is not a duration",
        ),
        BadInput(
            "tolerance-negative",
            "`tolerance='-3D'`",
            lambda c: _interp(c, tolerance="-3D"),
            ex.OptionError,
            "tolerance='-3D' must be 0 or more",
        ),
        BadInput(
            "merge-within-text",
            "`align(..., merge_within='abc')`",
            lambda c: align(c.optical, c.sar, merge_within="abc"),
            ex.OptionError,
            "merge_within='abc' is not a duration",
        ),
        BadInput(
            "valid-range-reversed",
            "`valid_range=(1, 0)`",
            lambda c: _interp(c, valid_range=(1, 0)),
            ex.OptionError,
            "low < high",
        ),
        BadInput(
            "valid-range-missing-band",
            "`valid_range={'B04': (0, 1)}` without B08",
            lambda c: _interp(c, valid_range={"B04": (0, 1)}),
            ex.OptionError,
            r"no range for bands \['B08'\]",
        ),
    ],
)

OPTICAL = Group(
    "Optical input",
    "The optical cube given to `interpolate`, `align` or `evaluate`.",
    [
        BadInput(
            "optical-numpy",
            "optical input as a numpy array",
            lambda c: interpolate(c.optical.B04.values, c.sar),
            ex.DataFormatError,
            "must be an xarray Dataset",
        ),
        BadInput(
            "time-strings",
            "optical time coordinate of date strings",
            lambda c: interpolate(
                c.optical.assign_coords(time=c.optical.time.dt.strftime("%F")), c.sar
            ),
            ex.TimeDimError,
            r"'time' holds date strings .*pd\.to_datetime",
        ),
        BadInput(
            "time-numbers",
            "optical time coordinate of numbers 0, 1, 2 …",
            lambda c: align(
                c.optical.assign_coords(time=np.arange(c.optical.sizes["time"])), c.sar
            ),
            ex.TimeDimError,
            "no datetime64 dimension",
        ),
        BadInput(
            "two-time-dims",
            "optical input with two datetime dimensions (`time` and `run`)",
            lambda c: align(
                c.optical.B04.expand_dims(run=pd.date_range("2020-01-01", periods=2)).to_dataset(),
                c.sar,
            ),
            ex.TimeDimError,
            "several datetime64 dimensions",
        ),
        BadInput(
            "optical-unsorted",
            "optical dates not in increasing order",
            lambda c: align(c.optical.isel(time=[1, 0, 2, 3]), c.sar),
            ex.UnsortedTimeError,
            r"sortby\('time'\)",
        ),
        BadInput(
            "optical-no-dates",
            "an optical input with no dates (an empty selection)",
            lambda c: align(c.optical.isel(time=slice(0, 0)), c.sar),
            ex.AllMissingError,
            "the optical input has no dates",
        ),
        BadInput(
            "bands-unknown",
            "`bands=['B99']`",
            lambda c: align(c.optical, c.sar, bands=["B99"]),
            ex.MissingVariableError,
            r"bands \['B99'\] are not in the optical input; its bands are \['B04', 'B08'\] "
            r"\(other variables: \['clear'\]\)",
        ),
        BadInput(
            "no-spatial-dims",
            "optical spatial dimensions named `row` and `col`",
            lambda c: align(c.optical.rename(y="row", x="col"), c.sar),
            ex.SpatialDimError,
            r"name them 'y' and 'x' \(e\.g\. obj\.rename\(\{'row': 'y', 'col': 'x'\}\)\)",
        ),
        BadInput(
            "clear-not-boolean",
            "`clear=` a mask of integers",
            lambda c: align(c.optical, c.sar, clear=c.optical.clear.astype(int)),
            ex.DataFormatError,
            "must be boolean",
        ),
        BadInput(
            "clear-not-dataarray",
            "`clear=` a numpy array",
            lambda c: align(c.optical, c.sar, clear=c.optical.clear.values),
            ex.DataFormatError,
            "clear= must be a boolean DataArray",
        ),
        BadInput(
            "clear-other-dims",
            "`clear=` a mask with dims (time, row, x)",
            lambda c: align(c.optical, c.sar, clear=c.optical.clear.rename(y="row")),
            ex.DataFormatError,
            r"\['row'\] are not dims of the optical input",
        ),
        BadInput(
            "clear-other-dates",
            "`clear=` a mask of the first 6 of 12 dates",
            lambda c: align(c.optical, c.sar, clear=c.optical.clear.isel(time=slice(0, 6))),
            ex.DataFormatError,
            r"the clear mask's 'time' \(6 values\) is not the optical input's \(12 values\)",
        ),
        BadInput(
            "clear-other-grid",
            "`clear=` a mask on a grid shifted by 5 m in x",
            lambda c: align(
                c.optical, c.sar, clear=c.optical.clear.assign_coords(x=c.optical.x + 5)
            ),
            ex.DataFormatError,
            r"the clear mask's 'x' labels differ from the optical input's \(all shifted by "
            r"5\.0\).*reindex_like.*assign_coords\(x=optical\['x'\]\)",
        ),
        BadInput(
            "clear-other-dates-same-count",
            "`clear=` a mask of 12 dates, the last one a day later than the optical's",
            lambda c: align(
                c.optical,
                c.sar,
                clear=c.optical.clear.assign_coords(
                    time=c.optical.time.values + (np.arange(12) == 11) * np.timedelta64(1, "D")
                ),
            ),
            ex.DataFormatError,
            r"'time' labels differ .*first at position 11: 2021-02-26 10:50:00 where the "
            r"optical has 2021-02-25 10:50:00",
        ),
        BadInput(
            "optical-unscaled",
            "reflectance as digital numbers (B04 × 10000)",
            lambda c: align(_unscaled(c), c.sar),
            ex.UnscaledReflectanceError,
            "digital numbers",
        ),
        BadInput(
            "optical-unscaled-lazy",
            "the same, dask-backed: raised when computed",
            lambda c: align(_unscaled(c).chunk(), c.sar).compute(),
            ex.UnscaledReflectanceError,
            "digital numbers",
        ),
        BadInput(
            "optical-band-all-missing",
            "an optical band that is all NaN",
            lambda c: align(c.optical.assign(B04=c.optical.B04 * np.nan), c.sar),
            ex.AllMissingError,
            "optical band 'B04'",
        ),
        BadInput(
            "optical-never-clear",
            "a clear mask that is False everywhere",
            lambda c: align(c.optical.assign(clear=c.optical.clear & False), c.sar),
            ex.AllMissingError,
            "no clear value",
        ),
    ],
)

SAR = Group(
    "SAR input",
    "The Sentinel-1 cube given to `interpolate`, `align` or `evaluate`.",
    [
        BadInput(
            "sar-numpy",
            "SAR as a numpy array",
            lambda c: interpolate(c.optical, c.sar.VV.values),
            ex.DataFormatError,
            "sar= must be an xarray Dataset",
        ),
        BadInput(
            "sar-dataarray-unnamed",
            "SAR as an unnamed DataArray without a polarisation dim",
            lambda c: interpolate(c.optical, c.sar.VV.rename(None)),
            ex.MissingVariableError,
            "no polarisation dimension",
        ),
        BadInput(
            "sar-no-vv-vh",
            "SAR variables named `vv` and `vh`",
            lambda c: align(c.optical, c.sar.rename(VV="vv", VH="vh")),
            ex.MissingVariableError,
            "neither 'VV' nor 'VH'",
        ),
        BadInput(
            "sar-needed",
            "`method='sar-regression'` without SAR",
            lambda c: interpolate(c.optical, None, method="sar-regression"),
            ex.MissingVariableError,
            "needs SAR",
        ),
        BadInput(
            "sar-unsorted",
            "SAR dates not in increasing order",
            lambda c: align(c.optical, c.sar.isel(time=[3, 2, 1, 0])),
            ex.UnsortedTimeError,
            "SAR time coordinate",
        ),
        BadInput(
            "sar-no-dates",
            "a SAR input with no dates (an empty selection)",
            lambda c: align(c.optical, c.sar.isel(time=slice(0, 0))),
            ex.AllMissingError,
            "the SAR input has no dates",
        ),
        BadInput(
            "sar-all-missing",
            "a SAR variable that is all NaN",
            lambda c: align(c.optical, c.sar.assign(VV=c.sar.VV * np.nan)),
            ex.AllMissingError,
            "SAR variable 'VV'",
        ),
        BadInput(
            "sar-units-missing",
            "SAR without a `units` attribute",
            lambda c: align(c.optical, _with_units(c, c.sar.VV, None)),
            ex.UnitsError,
            "no 'units' attribute",
        ),
        BadInput(
            "sar-units-unknown",
            "SAR declared in `units='dBm'`",
            lambda c: align(c.optical, _with_units(c, c.sar.VV, "dBm")),
            ex.UnitsError,
            r"^sar\['VV'\]\.attrs\['units'\]='dBm' is not a unit",
        ),
        BadInput(
            "sar-units-option-unknown",
            "`sar_units='dBm'`",
            lambda c: align(c.optical, _with_units(c, c.sar.VV, None), sar_units="dBm"),
            ex.UnitsError,
            r"^sar_units='dBm' is not a unit",
        ),
        BadInput(
            "sar-units-scaled",
            "SAR in dB × 10000 (scaled integers) declared as dB",
            lambda c: align(c.optical, _with_units(c, c.sar.VV * 1e4, "dB")),
            ex.UnitsError,
            "scaled integers",
        ),
        BadInput(
            "sar-linear-labelled-db",
            "SAR in linear power declared as dB",
            lambda c: align(c.optical, _linear_labelled_db(c)),
            ex.UnitsError,
            "as in linear power",
        ),
        BadInput(
            "sar-linear-labelled-db-lazy",
            "the same, dask-backed: raised when computed",
            lambda c: align(c.optical.chunk(), _linear_labelled_db(c).chunk()).compute(),
            ex.UnitsError,
            "as in linear power",
        ),
        BadInput(
            "sar-db-labelled-linear",
            "SAR in dB declared as linear power (`units='1'`)",
            lambda c: align(c.optical, _with_units(c, c.sar.VV, "1")),
            ex.UnitsError,
            "as in dB",
        ),
        BadInput(
            "sar-db-labelled-linear-lazy",
            "the same, dask-backed: raised when computed",
            lambda c: align(c.optical, _with_units(c, c.sar.VV, "1").chunk()).compute(),
            ex.UnitsError,
            "as in dB",
        ),
    ],
)

ALIGNMENT = Group(
    "Alignment of SAR and optical",
    "Bringing SAR onto the optical grid and dates (`align`, and `interpolate` through it).",
    [
        BadInput(
            "no-overlap-in-time",
            "SAR dates 400 days after the optical ones",
            lambda c: align(
                c.optical, c.sar.assign_coords(time=c.sar.time + np.timedelta64(400, "D"))
            ),
            ex.NoOverlapError,
            "within tolerance",
        ),
        BadInput(
            "no-overlap-in-space",
            "SAR 50 km east of the optical cube",
            lambda c: align(c.optical, c.sar.assign_coords(x=c.sar.x + 50_000)),
            ex.NoOverlapError,
            "do not overlap",
        ),
        BadInput(
            "sar-without-crs",
            "SAR on another grid without a CRS",
            lambda c: align(c.optical, c.sar.drop_vars("spatial_ref")),
            ex.MissingCRSError,
            r"rio\.write_crs",
        ),
    ],
)

CHUNKS = Group(
    "Dask chunks",
    "Every operation needs each pixel's whole time series in one chunk "
    "(the readers' `chunks=` are under *Reading files*).",
    [
        BadInput(
            "align-optical-time-chunked",
            "`align` of optical input split into several chunks along time",
            lambda c: align(c.optical.chunk({"time": 5}), c.sar),
            ex.ChunkingError,
            r"\.chunk\(\{'time': -1\}\)",
        ),
        BadInput(
            "align-sar-time-chunked",
            "`align` of SAR split into several chunks along time",
            lambda c: align(c.optical, c.sar.chunk({"time": 7})),
            ex.ChunkingError,
            "SAR input",
        ),
        BadInput(
            "interpolate-time-chunked",
            "`interpolate` of optical input split into several chunks along time",
            lambda c: interpolate(c.optical.chunk({"time": 5}), c.sar, method="linear"),
            ex.ChunkingError,
            r"\.chunk\(\{'time': -1\}\)",
        ),
    ],
)

EVALUATION = Group(
    "Evaluation",
    "`stori_xr.evaluate`: `evaluate`, `hide_mask`, `gap_days`, `neighbour_clear`, `score`, "
    "`format_split`, `format_against_best`, `load_worldcereal_patch`.",
    [
        BadInput(
            "evaluate-unknown-method",
            "`evaluate(..., methods=['linear', 'no-such-method'])`",
            lambda c: evaluate(c.optical, c.sar, methods=["linear", "no-such-method"], seeds=[0]),
            ex.MethodError,
            r"registered methods are .*'linear'",
        ),
        BadInput(
            "evaluate-sar-method-without-sar",
            "`evaluate(optical, None, methods=['sar-regression'])`",
            lambda c: evaluate(c.optical, None, methods=["sar-regression"], seeds=[0]),
            ex.MissingVariableError,
            "need SAR",
        ),
        BadInput(
            "evaluate-seeds",
            "`evaluate(..., seeds=[-1])`",
            lambda c: evaluate(c.optical, c.sar, methods=["linear"], seeds=[-1]),
            ex.OptionError,
            r"seeds=\[-1\]: give one or more integers of 0 or more",
        ),
        BadInput(
            "evaluate-protocol",
            "`evaluate(..., protocol='cloudy')`",
            lambda c: evaluate(c.optical, c.sar, methods=["linear"], protocol="cloudy"),
            ex.OptionError,
            r"protocol='cloudy' is not a hiding protocol; give one of \['partial', 'whole'\]",
        ),
        BadInput(
            "evaluate-splits",
            "`evaluate(..., splits=['flag'])`",
            lambda c: evaluate(c.optical, c.sar, methods=["linear"], splits=["flag"]),
            ex.OptionError,
            r"\['flag'\] are not splits; give some of \['neighbour', 'source'\]",
        ),
        BadInput(
            "evaluate-hide-rule",
            "`evaluate(..., hide={'windows': 2})`",
            lambda c: evaluate(c.optical, c.sar, methods=["linear"], hide={"windows": 2}),
            ex.OptionError,
            r"\['windows'\] are not rules of a hiding protocol; the rules are \['clear_share'",
        ),
        BadInput(
            "evaluate-plots-file",
            "`evaluate(..., plots='a-file.txt')`",
            lambda c: evaluate(c.optical, methods=["linear"], seeds=[0], plots=_a_file(c)),
            ex.OptionError,
            r"plots='<tmp>/a-file\.txt' is a file: give a folder for the plots",
        ),
        BadInput(
            "plot-calibration-without-sigma",
            "`plot_calibration(values)` of methods without σ",
            lambda c: plot_calibration(
                evaluate(c.optical, methods=["linear"], seeds=[0], keep_values=True)[1]
            ),
            ex.MissingVariableError,
            r"none of the methods \['linear'\] gives σ",
        ),
        BadInput(
            "hide-mask-window-whole",
            "`hide_mask(..., window_whole=1.5)`",
            lambda c: hide_mask(np.ones((5, 4, 4), bool), _dates(5), seed=0, window_whole=1.5),
            ex.OptionError,
            r"window_whole=1\.5: give a share from 0 to 1",
        ),
        BadInput(
            "hide-mask-donor-cloud",
            "`hide_mask(..., donor_cloud=(0.8, 0.2))`",
            lambda c: hide_mask(
                np.ones((5, 4, 4), bool), _dates(5), seed=0, donor_cloud=(0.8, 0.2)
            ),
            ex.OptionError,
            r"donor_cloud=\(0\.8, 0\.2\): give \(low, high\) shares with 0 <= low <= high",
        ),
        BadInput(
            "neighbour-clear-2d",
            "`neighbour_clear` of a 2-D usable mask",
            lambda c: neighbour_clear(np.ones((5, 4), bool)),
            ex.DataFormatError,
            r"usable must have dims \(time, y, x\)",
        ),
        BadInput(
            "neighbour-clear-radius",
            "`neighbour_clear(..., radius=-1)`",
            lambda c: neighbour_clear(np.ones((5, 4, 4), bool), radius=-1),
            ex.OptionError,
            r"radius=-1: give a whole number of pixels",
        ),
        BadInput(
            "format-split-unknown",
            "`format_split(summary, 'flags')`",
            lambda c: format_split(_scores(c), "flags"),
            ex.OptionError,
            r"split='flags' is not a split; give one of \['neighbour', 'source'\]",
        ),
        BadInput(
            "format-split-not-evaluated",
            "`format_split` of a table evaluated without that split",
            lambda c: format_split(_scores(c), "neighbour"),
            ex.OptionError,
            r"no rows of the 'neighbour' split: evaluate with splits=\['neighbour'\]",
        ),
        BadInput(
            "format-against-best-absent-method",
            "`format_against_best(table)` of a table without method 'stori'",
            lambda c: format_against_best(_scores(c)),
            ex.OptionError,
            r"method='stori' has no rows in the table; give one of \['m'\]",
        ),
        BadInput(
            "hide-mask-2d",
            "`hide_mask` of a 2-D clear mask",
            lambda c: hide_mask(np.ones((5, 4), bool), _dates(5), seed=0),
            ex.DataFormatError,
            r"dims \(time, y, x\)",
        ),
        BadInput(
            "hide-mask-times-count",
            "`hide_mask` of 5 dates of clear mask with 4 times",
            lambda c: hide_mask(np.ones((5, 4, 4), bool), _dates(4), seed=0),
            ex.DataFormatError,
            "times has 4 values",
        ),
        BadInput(
            "gap-days-times-count",
            "`gap_days` of 5 dates of usable mask with 4 times",
            lambda c: gap_days(np.ones((5, 4), bool), np.arange(4.0)),
            ex.DataFormatError,
            "times has 4 values",
        ),
        BadInput(
            "score-shapes",
            "`score` of values for 2 bands with a list of 1 band",
            lambda c: score(
                np.zeros((2, 4)), np.zeros((2, 4)), None, np.ones(4, bool), np.zeros(4), ["B04"]
            ),
            ex.DataFormatError,
            r"must both have shape \(band, \.\.\.\) = \(1, 4\) for 1 band and",
        ),
        BadInput(
            "patch-files-missing",
            "`load_worldcereal_patch` of a folder without the patch's files",
            lambda c: load_worldcereal_patch(c.folder("empty_patch")),
            FileNotFoundError,
            "S2_L2A_20m",
        ),
    ],
)

SCENES = Group(
    "Synthetic scenes",
    "`stori_xr.datasets.make_scene(16, 16, periods=12, ...)`.",
    [
        _scene_case(
            "scene-unknown-band",
            {"bands": ("B05", "B99")},
            ex.MissingVariableError,
            "unknown band",
        ),
        _scene_case(
            "scene-time-chunked",
            {"chunks": {"time": 10, "y": 8}},
            ex.ChunkingError,
            r"\.chunk\(\{'time': -1\}\)",
        ),
        _scene_case(
            "scene-chunks-band",
            {"chunks": {"band": 3}},
            ex.ChunkingError,
            r"names \['band'\], which the scene does not have: chunk 'y' and 'x'",
        ),
        _scene_case(
            "scene-chunks-misfit",
            {"chunks": {"y": (10, 10)}},
            ex.ChunkingError,
            r"the sizes for 'y' add up to 20, but the scene has 16 along 'y'",
        ),
        _scene_case(
            "scene-chunks-sequence",
            {"chunks": (8, 8, 8)},
            ex.ChunkingError,
            r"a sequence gives the \(y, x\) sizes",
        ),
        _scene_case(
            "scene-cloud-cover",
            {"cloud_cover": 1.5},
            ex.OptionError,
            r"^cloud_cover=1\.5: give a share from 0 to 1",
        ),
        _scene_case(
            "scene-seed",
            {"seed": -1},
            ex.OptionError,
            r"^seed=-1: give a whole number of 0 or more",
        ),
        _scene_case(
            "scene-periods", {"periods": 0}, ex.OptionError, r"^periods=0: give a whole number"
        ),
        _scene_case(
            "scene-periods-float",
            {"periods": 2.5},
            ex.OptionError,
            r"^periods=2\.5: give a whole number of 1 or more",
        ),
        _scene_case(
            "scene-resolution",
            {"resolution": 0.0},
            ex.OptionError,
            r"^resolution=0\.0: give a pixel size in metres above 0",
        ),
        _scene_case(
            "scene-no-bands", {"bands": ()}, ex.OptionError, "name at least one band, e.g. bands="
        ),
        _scene_case(
            "scene-bands-repeated",
            {"bands": ("B05", "B05")},
            ex.OptionError,
            r"names \['B05'\] more than once; name each band once",
        ),
    ],
)


def _plain_store(ctx: Context) -> Path:
    """A Zarr store written by plain xarray (no stori_xr write status)."""
    store = ctx.tmp / "plain.zarr"
    _interp(ctx).to_zarr(store, consolidated=False)
    return store


OUTPUT = Group(
    "Output stores",
    "Writing results with `stori_xr.output.to_zarr` (or `.stori.to_zarr`), and reading "
    "them back with `stori_xr.io.open_cube`.",
    [
        BadInput(
            "store-exists",
            "`to_zarr` onto an existing store (default `mode='w-'`)",
            lambda c: to_zarr(_interp(c), _written(c)),
            ex.StoreExistsError,
            r"out\.zarr' already exists and holds data; pass mode='w' to replace it",
        ),
        BadInput(
            "store-exists-incomplete",
            "`to_zarr` retried onto the incomplete store of a write that failed",
            lambda c: to_zarr(_interp(c), c.incomplete_store),
            ex.StoreExistsError,
            r"incomplete\.zarr' already exists and is an incomplete stori_xr store .*"
            r"pass mode='w' to replace it",
        ),
        BadInput(
            "store-exists-folder",
            "`to_zarr` into an existing empty folder",
            lambda c: to_zarr(_interp(c), c.folder("existing_folder")),
            ex.StoreExistsError,
            r"existing_folder' already exists \(an empty folder\); pass mode='w'",
        ),
        BadInput(
            "store-incomplete-opened",
            "`open_cube` of an incomplete store",
            lambda c: open_cube(c.incomplete_store),
            ex.IncompleteStoreError,
            r"^<tmp>/incomplete\.zarr is incomplete .*allow_incomplete=True",
        ),
        BadInput(
            "store-incomplete-allowed",
            "`open_cube(store, allow_incomplete=True)` of an incomplete store (a warning)",
            lambda c: open_cube(c.incomplete_store, allow_incomplete=True),
            ex.IncompleteStoreWarning,
            r"^<tmp>/incomplete\.zarr is incomplete .*read as NaN / no_data",
        ),
        BadInput(
            "store-resume-overwrite",
            "`to_zarr(..., mode='w', resume=True)`",
            lambda c: to_zarr(_interp(c), c.tmp / "resumed.zarr", mode="w", resume=True),
            ex.OptionError,
            r"resume=True finishes the write of an existing store, mode='w' replaces it",
        ),
        BadInput(
            "store-resume-append",
            "`to_zarr(..., resume=True, append_dim='time')`",
            lambda c: to_zarr(_interp(c), _written(c), resume=True, append_dim="time"),
            ex.OptionError,
            r"does not take append_dim=",
        ),
        BadInput(
            "store-resume-other-layout",
            "`to_zarr(..., resume=True)` of a result on other dates than the store's",
            lambda c: to_zarr(
                _interp(c, times="10D").chunk({"y": 3, "x": 3}), c.incomplete_store, resume=True
            ),
            ex.StoreExistsError,
            r"cannot resume the Zarr store '<tmp>/incomplete\.zarr': it holds another "
            r"result than this one \(attribute 'stori_options'.*'shape': \(12, 6, 6\) in "
            r"the store, \(6, 6, 6\) in this result",
        ),
        BadInput(
            "store-resume-foreign",
            "`to_zarr(..., resume=True)` onto a Zarr store written by plain xarray",
            lambda c: to_zarr(_interp(c), _plain_store(c), resume=True),
            ex.StoreExistsError,
            r"plain\.zarr': it was not written by stori_xr",
        ),
        BadInput(
            "store-resume-not-zarr",
            "`to_zarr(..., resume=True)` onto a NetCDF file",
            lambda c: to_zarr(_interp(c), c.tiny_s2[32631], resume=True),
            ex.StoreExistsError,
            r"s2_32631\.nc': it exists but is not a readable Zarr store",
        ),
        BadInput(
            "store-resume-complete",
            "`to_zarr(..., resume=True)` onto a complete store (a warning; nothing written)",
            lambda c: to_zarr(_interp(c), _written(c), resume=True),
            ex.StoriWarning,
            r"out\.zarr' is already complete: nothing to resume",
        ),
        BadInput(
            "store-chunks-across-tiles",
            "`encoding={'B04': {'chunks': (12, 2, 2)}}, safe_chunks=False` for 3 px dask chunks",
            lambda c: to_zarr(
                _interp(c).chunk({"y": 3, "x": 3}),
                c.tmp / "across.zarr",
                encoding={"B04": {"chunks": (12, 2, 2)}},
                safe_chunks=False,
            ),
            ex.ChunkingError,
            r"Zarr chunks of 'B04' \(2 along 'y'\) cut across the dask chunks",
        ),
    ],
)

WHITTAKER = Group(
    "`stori_xr.kernels.whittaker.whittaker`",
    "`whittaker(values, t, target, ...)` of 5 values at days 0 to 4.",
    [
        _whittaker_case("whittaker-lmbda-zero", {"lmbda": 0.0}, "lmbda"),
        _whittaker_case("whittaker-lmbda-text", {"lmbda": "aic"}, "lmbda"),
        _whittaker_case("whittaker-order-zero", {"order": 0}, "order"),
        _whittaker_case("whittaker-step-negative", {"step": -1.0}, "step"),
        _whittaker_case(
            "whittaker-weights-shape",
            {"weights": np.ones(4)},
            "weights must have the shape",
            "`weights=` of 4 for 5 values",
        ),
        _whittaker_case(
            "whittaker-weights-negative",
            {"weights": -np.ones(5)},
            "negative",
            "negative `weights=`",
        ),
        _whittaker_case(
            "whittaker-t-length",
            {"t": np.arange(4.0)},
            "t must be 1-D",
            "`t` of 4 days for 5 values",
        ),
        _whittaker_case(
            "whittaker-t-other-unit",
            {"t": np.arange(5.0) * 1e7},
            "share one origin and unit",
            "`t` in units 10⁷ times those of `target`",
        ),
        _whittaker_case(
            "whittaker-t-nan",
            {"t": np.array([0.0, 1.0, np.nan, 3.0, 4.0])},
            "finite",
            "`t` with a NaN",
        ),
    ],
)

# the kernel and its numpy reference say the same
_UNKNOWN_CANDIDATES = (
    r"^unknown candidates \['optical'\]; choose among \['temporal', 'sar', 'spatial'\]\.$"
)

STORI_KERNEL = Group(
    "`stori_xr.kernels.stori.stori_fill` (and its numpy reference)",
    "A block of 2 bands, 3 x 3 px, 8 dates.",
    [
        BadInput(
            "stori-unknown-candidates",
            "`stori_fill(..., candidates=('temporal', 'optical'))`",
            lambda c: stori_fill(*_block(), np.arange(8), candidates=("temporal", "optical")),
            ValueError,
            _UNKNOWN_CANDIDATES,
        ),
        BadInput(
            "stori-reference-unknown-candidates",
            "`stori_fill_reference(..., candidates=('temporal', 'optical'))`",
            lambda c: stori_fill_reference(
                *_block(), np.arange(8), candidates=("temporal", "optical")
            ),
            ValueError,
            _UNKNOWN_CANDIDATES,
        ),
        BadInput(
            "stori-out-shape",
            "`stori_fill(..., out=...)` with arrays of 2 x 2 px for a 3 x 3 block",
            lambda c: _kernel_out_too_small(),
            ValueError,
            "shape",
        ),
    ],
)


GROUPS: list[Group] = [
    READERS,
    DAMAGED,
    OPTICAL,
    SAR,
    ALIGNMENT,
    CHUNKS,
    TARGET_DATES,
    OPTIONS,
    OUTPUT,
    EVALUATION,
    SCENES,
]
KERNEL_GROUPS: list[Group] = [WHITTAKER, STORI_KERNEL]
CASES: list[BadInput] = [case for group in GROUPS for case in group.cases]
KERNEL_CASES: list[BadInput] = [case for group in KERNEL_GROUPS for case in group.cases]


def normalise(message: str, ctx: Context) -> str:
    """The message with this run's folders replaced, so the table is stable."""
    for path, name in ((ctx.tmp, "<tmp>"), (ctx.data, "<data>")):
        message = message.replace(str(path), name)
    return re.sub(r"\s+", " ", message).strip()


def message(case: BadInput, ctx: Context) -> str:
    """The message ``case`` gets, as the table shows it."""
    return normalise(str(case.run(ctx)), ctx)


def _section(group: Group, ctx: Context, level: str) -> list[str]:
    lines = [f"{level} {group.title}", "", group.about, "", "| input | error | message |"]
    lines.append("|---|---|---|")
    for case in group.cases:
        text = message(case, ctx).replace("|", "\\|")
        lines.append(f"| {case.what} | `{case.error.__name__}` | {text} |")
    return [*lines, ""]


INTRO = """# Errors and warnings

Every bad input the test suite tries (`tests/bad_inputs.py`), the error or warning
it gets, and the message, as the suite produced it (the test's scratch folder shown
as `<tmp>`, the data folder as `<data>`). Every error derives from
`stori_xr.StoriError` (or is a `FileNotFoundError`), every warning from
`stori_xr.exceptions.StoriWarning`. This page is generated: `python tests/bad_inputs.py`
rewrites it, and a test checks it is current. The `stori` command's own refusals are in
[cli.md](cli.md).
"""
KERNEL_INTRO = """## Kernel arguments

For callers of `stori_xr.kernels` (numpy in, numpy out): the kernels check their
arguments and raise a plain `ValueError`. The xarray functions above check the
user's input before it reaches a kernel.
"""


def table(ctx: Context) -> str:
    """The docs page: every case, its error and its message, by group."""
    lines = [INTRO]
    for group in GROUPS:
        lines += _section(group, ctx, "##")
    lines.append(KERNEL_INTRO)
    for group in KERNEL_GROUPS:
        lines += _section(group, ctx, "###")
    return "\n".join(lines).rstrip("\n") + "\n"


def main() -> None:
    """Rewrite ``docs/errors.md`` from the catalogue."""
    import tempfile

    from conftest import find_data_dir

    with tempfile.TemporaryDirectory() as tmp:
        text = table(Context(Path(tmp), find_data_dir()))
    DOCS_PAGE.write_text(text)
    print(f"wrote {DOCS_PAGE.relative_to(REPO)} ({len(CASES)} cases, {len(KERNEL_CASES)} kernel)")


if __name__ == "__main__":
    main()
