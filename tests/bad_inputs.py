"""Every bad input the tests try, the error (or warning) it gets, and the table in the docs.

Each :class:`BadInput` is one thing a user can get wrong. ``tests/test_bad_inputs.py``
checks that each gets its named error with a message that matches, and that
``docs/errors.md`` lists them all with the messages they really get. After adding a
case, rewrite that page with::

    python tests/bad_inputs.py
"""

from __future__ import annotations

import re
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))  # builders, when run as a script

from builders import make_optical, make_sar

import stori_xr  # noqa: F401
from stori_xr import exceptions as ex
from stori_xr.fill import interpolate
from stori_xr.io import open_sentinel1, open_sentinel2
from stori_xr.output import to_zarr

REPO = Path(__file__).resolve().parents[1]
DOCS_PAGE = REPO / "docs" / "errors.md"


@dataclass
class Context:
    """What the cases are made of: small cubes, a scratch folder, the real data."""

    tmp: Path
    data: Path

    @cached_property
    def optical(self):
        return make_optical(nt=12, ny=6, nx=6)

    @cached_property
    def sar(self):
        return make_sar(ny=3, nx=3)


@dataclass(frozen=True)
class BadInput:
    """One bad input: what it is, how to give it, what it gets."""

    id: str
    what: str  #: the input, in words, for the docs table
    call: Callable[[Context], Any]
    error: type[Exception]
    match: str

    @property
    def is_warning(self) -> bool:
        return issubclass(self.error, Warning)

    def run(self, ctx: Context) -> str:
        """Give the input; return the message it got (AssertionError when none)."""
        if self.is_warning:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                self.call(ctx)
            found = [w for w in caught if issubclass(w.category, self.error)]
            if not found:
                raise AssertionError(f"{self.id}: no {self.error.__name__}")
            return str(found[0].message)
        try:
            self.call(ctx)
        except self.error as err:
            return str(err)
        raise AssertionError(f"{self.id}: no {self.error.__name__} was raised")


def _interp(ctx: Context, **kwargs: Any):
    return interpolate(ctx.optical, ctx.sar, method="linear", **kwargs)


def _after_last(ctx: Context, days: str) -> pd.Timestamp:
    return pd.Timestamp(ctx.optical.time.values[-1]) + pd.Timedelta(days)


def _damaged_copy(ctx: Context, cut: Callable[[bytes], bytes]) -> Path:
    """A copy of the real WorldCereal 20 m Sentinel-2 file, damaged by ``cut``."""
    folder = ctx.data / "worldcereal" / "00002806639B424A"
    (source,) = sorted(folder.glob("S2_L2A_20m_*.nc"))
    path = ctx.tmp / f"damaged_{source.name}"
    path.write_bytes(cut(source.read_bytes()))
    return path


def _gfmap_s1(ctx: Context) -> Path:
    return ctx.data / "gfmap" / "cdse_sentinel1_grd.nc"


def _written(ctx: Context) -> Path:
    store = ctx.tmp / "out.zarr"
    if not store.exists():
        to_zarr(_interp(ctx), store)
    return store


CASES: list[BadInput] = [
    # ------------------------------------------------------------------ target dates
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
    # ------------------------------------------------------------------ options
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
    # ------------------------------------------------------------------ inputs of the wrong kind
    BadInput(
        "sar-dataarray-unnamed",
        "SAR as an unnamed DataArray without a polarisation dim",
        lambda c: interpolate(c.optical, c.sar.VV.rename(None)),
        ex.MissingVariableError,
        "no polarisation dimension",
    ),
    BadInput(
        "sar-numpy",
        "SAR as a numpy array",
        lambda c: interpolate(c.optical, c.sar.VV.values),
        ex.DataFormatError,
        "sar= must be an xarray Dataset",
    ),
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
    # ------------------------------------------------------------------ files and readers
    BadInput(
        "file-truncated",
        "a NetCDF file cut short (its first 10 kB) to `open_sentinel2`",
        lambda c: open_sentinel2(_damaged_copy(c, lambda data: data[:10_000])),
        ex.DataFormatError,
        r"is damaged: it cannot be opened .*download or copy it again",
    ),
    BadInput(
        "file-not-netcdf",
        "random bytes named `*.nc` to `open_sentinel2`, with `chunks=`",
        lambda c: open_sentinel2(_damaged_copy(c, lambda data: bytes(range(256)) * 8), chunks={}),
        ex.DataFormatError,
        r"is not a NetCDF/HDF5 file: it starts with .*download or copy it again",
    ),
    BadInput(
        "reader-units",
        "`open_sentinel1(path, units='dBm')`",
        lambda c: open_sentinel1(_gfmap_s1(c), units="dBm"),
        ex.UnitsError,
        r"units='dBm' is not a unit of SAR backscatter",
    ),
    BadInput(
        "reader-chunks",
        "`open_sentinel1(path, chunks='big')`",
        lambda c: open_sentinel1(_gfmap_s1(c), chunks="big"),
        ex.ChunkingError,
        "not a chunking the readers take",
    ),
    # ------------------------------------------------------------------ output stores
    BadInput(
        "store-exists",
        "`to_zarr` onto an existing store (default `mode='w-'`)",
        lambda c: to_zarr(_interp(c), _written(c)),
        ex.StoreExistsError,
        "already exists and holds data",
    ),
]


def _normalise(message: str, ctx: Context) -> str:
    """The message with this run's folders replaced, so the table is stable."""
    for path, name in ((ctx.tmp, "<tmp>"), (ctx.data, "<data>")):
        message = message.replace(str(path), name)
    return re.sub(r"\s+", " ", message).strip()


def table(ctx: Context) -> str:
    """The docs page: every case, its error and its message, in catalogue order."""
    lines = [
        "# Errors and warnings",
        "",
        "Every bad input the test suite tries (`tests/bad_inputs.py`), the error or warning",
        "it gets, and the message, as the suite produced it. Every error derives from",
        "`stori_xr.StoriError`, every warning from `stori_xr.exceptions.StoriWarning`.",
        "This page is generated: `python tests/bad_inputs.py` rewrites it, and a test",
        "checks it is current.",
        "",
        "| input | error | message |",
        "|---|---|---|",
    ]
    for case in CASES:
        message = _normalise(case.run(ctx), ctx).replace("|", "\\|")
        lines.append(f"| {case.what} | `{case.error.__name__}` | {message} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    """Rewrite ``docs/errors.md`` from the catalogue."""
    import tempfile

    from conftest import find_data_dir

    with tempfile.TemporaryDirectory() as tmp:
        text = table(Context(Path(tmp), find_data_dir()))
    DOCS_PAGE.write_text(text)
    print(f"wrote {DOCS_PAGE.relative_to(REPO)} ({len(CASES)} cases)")


if __name__ == "__main__":
    main()
