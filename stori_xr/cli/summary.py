"""What ``stori interpolate`` prints of its work: the inputs it read and, at the end, a summary.

The line of each input (:func:`_inputs_line`), the summary of the store written
(:func:`_summary`: pixels, dates, bands, seconds, throughput, and exit code 1 when the
store is incomplete), and the store's write status they read (:func:`_write_status`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from stori_xr.cli.errors import EXIT_OK, _error
from stori_xr.metadata import COMPLETE, WRITE_STATUS


def _write_status(store: Path) -> str | None:
    """The ``stori_write_status`` attribute of a Zarr store (None: none, or not Zarr)."""
    import zarr

    try:
        return zarr.open_group(str(store), mode="r").attrs.get(WRITE_STATUS)
    except Exception:  # not a Zarr group: no status to report
        return None


def _inputs_line(kind: str, paths: Sequence[str], ds: Any) -> str:
    """What was read: the layouts of the files, their number and the dates."""
    from stori_xr.io import detect_layout

    layouts = ", ".join(dict.fromkeys(detect_layout(p).name for p in paths))
    files = f"{len(paths)} file{'s' if len(paths) > 1 else ''}"
    return f"{kind}: {layouts}, {files}, {ds.sizes['time']} dates"


def _pixels(ds: Any) -> tuple[int, int]:
    """(rows, columns) of a result."""
    from stori_xr.validate import find_spatial_dims

    ydim, xdim = find_spatial_dims(ds)
    return int(ds.sizes[ydim]), int(ds.sizes[xdim])


def _summary(
    out: Path,
    result: Any,
    seconds: tuple[float, float, float],
    tiles_now: int,
    tiles: int,
    fitted: bool = False,
) -> int:
    """Print what was written and how fast; exit code 0 when the store is complete.

    ``seconds`` are those of the preparation (alignment, and the method's fit on the
    target when ``fitted``), of computing and writing the tiles, and of the whole command. The
    throughput counts the pixels of the tiles written in this run (all of them, unless
    resumed), at the tiles' mean size, over the seconds of computing and writing.
    """
    prepared, computed_in, in_all = seconds
    rows, cols = _pixels(result)
    bands = [str(v) for v in result.data_vars if f"{v}_sigma" in result.data_vars]
    status = _write_status(out)
    done = f", {tiles_now} of {tiles} tiles written in this run" if tiles else ""
    print(f"output      {out.resolve()} ({status or 'no write status'}{done})")
    print(f"pixels      {rows * cols} ({rows} x {cols})")
    print(f"dates       {result.sizes['time']}")
    print(f"bands       {len(bands)}: {' '.join(bands)}")
    preparing = "alignment, fit" if fitted else "alignment"
    print(
        f"seconds     {prepared:.1f} preparing ({preparing}), {computed_in:.1f} computing and"
        f" writing, {in_all:.1f} in all"
    )
    computed = rows * cols * (tiles_now / tiles if tiles else 1.0)
    if computed and computed_in > 0:
        print(f"throughput  {computed / computed_in:,.0f} pixel-series/s")
    if status != COMPLETE:
        return _error(f"{out} is incomplete; run the same command with --resume to finish it")
    return EXIT_OK
