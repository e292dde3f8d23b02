"""Command line: ``stori demo``, ``stori interpolate`` and ``stori evaluate``.

The command behaves like a tool: a bad command line is refused by argparse (exit
code 2) before anything is read or written; an error the user can fix (any
:class:`~stori_xr.exceptions.StoriError`, a missing input file, a folder that
cannot be written, an existing output, a dask scheduler that cannot be reached)
prints one line, ``stori: error: <message>``, and exits with 1; Ctrl-C exits quietly
with 130. Any other exception is a bug and keeps its
traceback. ``docs/cli.md`` describes every subcommand, option and exit code.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from stori_xr import __version__, cli_pretrain
from stori_xr.evaluate import PROTOCOLS
from stori_xr.exceptions import StoreExistsError, StoriError, StoriWarning
from stori_xr.fill import METHODS
from stori_xr.metadata import COMPLETE, WRITE_STATUS

__all__ = ["EXIT_ERROR", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_USAGE", "build_parser", "main"]

#: Exit code of a command that did its work.
EXIT_OK = 0
#: Exit code of an error the user can fix: a StoriError, a missing or unwritable
#: file or folder, nothing to score.
EXIT_ERROR = 1
#: Exit code of a command line argparse (or a check of its values) refuses.
EXIT_USAGE = 2
#: Exit code after Ctrl-C (128 + SIGINT, as a shell reports it).
EXIT_INTERRUPTED = 130

#: Errors of the user's own files and folders, reported in one line like a StoriError.
_USER_OS_ERRORS = (
    FileNotFoundError,
    FileExistsError,
    IsADirectoryError,
    NotADirectoryError,
    PermissionError,
    ConnectionError,  # a dask scheduler that cannot be reached
)

#: Seconds ``stori interpolate --scheduler`` waits for the scheduler to answer.
CONNECT_TIMEOUT = 5

#: Side (pixels) of the tiles ``stori interpolate`` reads and computes, by default.
DEFAULT_CHUNKS = 128

#: The methods ``stori evaluate`` compares unless told otherwise.
_EVALUATE_METHODS = ("kernel", "linear", "whittaker", "sar-regression")

#: The columns of the table ``stori evaluate`` prints
#: (:func:`stori_xr.evaluate.format_table`), explained in its ``--help`` and in docs/cli.md.
TABLE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("method", "the gap-filling method"),
    ("RMSE all", "root-mean-square error of the hidden values (reflectance), every gap length"),
    ("sd", "standard deviation of 'RMSE all' over the seeds (shown with 2 seeds or more)"),
    ("<=15d", "RMSE of the hidden values whose nearest clear value left at the same pixel is"),
    ("", "at most 15 days away"),
    ("15-45d", "the same for 15 to 45 days"),
    (">45d", "the same for more than 45 days (the long gaps, where SAR matters)"),
    ("MAE", "mean absolute error, every gap length"),
    ("bias", "mean of estimate minus truth (+: the method fills too high)"),
    ("R2", "coefficient of determination, 1 - SSE/SST around the mean of the truth"),
    ("SAM deg", "mean spectral angle between the true and the filled spectra, in degrees"),
    ("<=1sig", "share of the errors within the method's +-1 sigma (<band>_sigma); about 0.68"),
    ("", "when sigma is calibrated (Gaussian errors)"),
    ("<=2sig", "share within +-2 sigma; about 0.95 when calibrated"),
    ("s/run", "seconds per run: one method on one seed, computing included"),
    ("n scored", "(last line) values scored in each gap class, every band's value counted"),
    ("-", "no value: the method gives no sigma, no hidden value falls in that gap class,"),
    ("", "or a single seed (sd)"),
)

_EXIT_CODES = f"""\
exit codes:
  {EXIT_OK}    done
  {EXIT_ERROR}    an error the user can fix (files, data, an existing output, a scheduler
       that cannot be reached, nothing to score): one line on stderr
  {EXIT_USAGE}    a bad command line: the usage and one line on stderr
  {EXIT_INTERRUPTED}  interrupted (Ctrl-C)"""


# ----------------------------------------------------------------------------- values


def _int_at_least(minimum: int) -> Callable[[str], int]:
    """An argparse ``type`` for integers of ``minimum`` or more."""

    def convert(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"give {minimum} or more, not {value}")
        return value

    return convert


def _target_dates(text: str) -> str:
    """An argparse ``type`` for ``--times``: a pandas frequency must step forward.

    A frequency of zero or below (``0D``, ``-5D``) would give no target date; other
    text (a date, or nonsense) is left to :func:`stori_xr.fill.interpolate`, which
    refuses what it cannot read before anything is written.
    """
    try:
        offset = pd.tseries.frequencies.to_offset(text)
    except ValueError:
        return text
    if offset is not None and offset.n <= 0:
        raise argparse.ArgumentTypeError(
            f"{text!r} does not step forward; give a positive frequency such as 5D"
        )
    return text


def _method_option(text: str) -> tuple[str, Any]:
    """An argparse ``type`` for ``--option KEY=VALUE``: ``(key, value)``, see :func:`_value`."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"{text!r} is not KEY=VALUE, such as radius=6")
    return key.strip(), _value(value.strip())


def _value(text: str) -> Any:
    """A method option's value from its text: a number, a boolean, a tuple, or the text.

    >>> _value("6"), _value("1e4"), _value("True"), _value("temporal,sar"), _value("gcv")
    (6, 10000.0, True, ('temporal', 'sar'), 'gcv')
    """
    if "," in text:
        return tuple(_value(part.strip()) for part in text.split(",") if part.strip())
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _memory_limit(text: str) -> str:
    """An argparse ``type`` for ``--memory-limit``: a size dask reads (``2GB``), or auto."""
    if text == "auto":
        return text
    from dask.utils import parse_bytes

    try:
        size = parse_bytes(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a size such as 2GB or 1500MiB, nor auto"
        ) from None
    if size <= 0:
        raise argparse.ArgumentTypeError(f"give a size above 0, such as 2GB, not {text!r}")
    return text


def _demo_min_size(method: str) -> int:
    """Smallest scene side on which ``stori demo`` can run ``method``.

    The synthetic scene itself can be one pixel wide, but the demo runs on dask
    chunks, and dask's overlap needs the scene at least as wide as the halo of the
    methods that look at neighbours (``kernel``: its ``radius`` plus one).
    """
    return max(1, METHODS[method].halo({}))


def _check_demo(args: argparse.Namespace) -> str | None:
    """What is wrong with the values of ``stori demo`` (checked before any output)."""
    smallest = _demo_min_size(args.method)
    if args.size < smallest:
        return (
            f"argument --size: {args.size} px is too small for --method {args.method}, which "
            f"looks {smallest} px around each pixel; give --size {smallest} or more"
        )
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        return f"argument --out: {out} exists and is not a folder"
    return None


def _check_interpolate(args: argparse.Namespace) -> str | None:
    """What is wrong with the values of ``stori interpolate`` (checked before reading)."""
    spec = METHODS[args.method]
    if spec.needs_sar and not args.sar:
        return f"argument --method: {args.method} needs SAR: give --sar files"
    options = dict(args.option)
    unknown = [key for key in options if key not in spec.options]
    if unknown:
        takes = f"its options are {' '.join(spec.options)}" if spec.options else "it takes none"
        return (
            f"argument --option: --method {args.method} takes no option {' '.join(unknown)} "
            f"({takes})"
        )
    if spec.check is not None:
        try:
            spec.check(options)
        except StoriError as err:
            return f"argument --option: {_message(err)}"
    if args.memory_limit is not None and args.workers is None:
        return "argument --memory-limit: goes with --workers (the local cluster it starts)"
    if args.threads is not None and args.scheduler:
        return (
            "argument --threads: not allowed with --scheduler (the workers of a running "
            "scheduler have their own threads)"
        )
    return None


def _check_evaluate(args: argparse.Namespace) -> str | None:
    """What is wrong with the values of ``stori evaluate`` (checked before reading)."""
    if not args.patch and not args.optical:
        return "give WorldCereal patch folders, or --optical files (and --sar)"
    if args.sar and not args.optical:
        return "argument --sar: goes with --optical (a patch folder brings its own Sentinel-1)"
    needs = [m for m in args.methods if METHODS[m].needs_sar]
    if args.optical and not args.sar and needs:
        return (
            f"argument --methods: {' '.join(needs)} {'need' if len(needs) > 1 else 'needs'} "
            "SAR: give --sar with --optical, or leave them out of --methods"
        )
    for option, name in (("--csv", args.csv), ("--json", args.json)):
        if name:
            path = Path(name)
            if path.is_dir():
                return f"argument {option}: {path} is a folder; give a file name"
            if not path.resolve().parent.is_dir():
                return f"argument {option}: the folder {path.parent} does not exist"
    if args.plots and Path(args.plots).exists() and not Path(args.plots).is_dir():
        return f"argument --plots: {args.plots} is a file; give a folder"
    return None


# ----------------------------------------------------------------------------- commands


def _demo(args: argparse.Namespace) -> int:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from stori_xr.datasets import make_scene
    from stori_xr.fill import interpolate
    from stori_xr.io import open_cube
    from stori_xr.output import to_zarr

    start = time.perf_counter()
    out_dir = Path(args.out)
    store = out_dir / "reflectance.zarr"
    if store.exists() and not args.overwrite:
        return _error(
            f"{store} already exists; pass --overwrite to replace it (and the PNGs), or give "
            "another --out"
        )
    chunk = max(args.size // 2, 16)
    scene = make_scene(
        args.size, args.size, periods=args.periods, seed=args.seed, chunks={"y": chunk, "x": chunk}
    )
    # lazy: every value (--times, the method) is refused here, before the output folder exists
    result = interpolate(scene.optical, scene.sar, times=args.times, method=args.method)
    print(
        f"synthetic scene: {args.size}x{args.size} px, {scene.optical.sizes['time']} optical "
        f"dates ({float(1 - scene.optical.clear.mean()):.0%} cloudy), "
        f"{scene.sar.sizes['time']} SAR dates, seed {args.seed}"
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    to_zarr(result, store, mode="w" if args.overwrite else "w-")
    print(
        f"wrote {store}  ({args.method}: bands, <band>_sigma, stori_source on "
        f"{result.sizes['time']} dates)"
    )

    written = open_cube(store, chunks={})  # refuses a store whose write did not finish
    if args.times is None:
        print(f"RMSE on the gaps against the synthetic truth: {_gap_rmse(written, scene):.4f}")
    band = "B8A" if "B8A" in written else next(iter(scene.truth.data_vars))
    middle = args.size // 2
    figures = {  # input and reconstruction side by side, on one colour scale
        "maps.png": written.stori.plot_maps(variable=band, input=scene.optical),
        "pixel.png": written.stori.plot_pixel(
            x=middle, y=middle, index=True, input=scene.optical, sar=scene.sar
        ),
    }
    for name, fig in figures.items():
        fig.savefig(out_dir / name, dpi=90, bbox_inches="tight")
        plt.close(fig)
        print(f"wrote {out_dir / name}")
    print(f"done in {time.perf_counter() - start:.1f} s; outputs in {out_dir.resolve()}")
    return EXIT_OK


def _gap_rmse(written: Any, scene: Any) -> float:
    """RMSE of the written bands on the cloud gaps, by dask reductions chunk by chunk."""
    import dask
    import numpy as np
    import xarray as xr

    gaps = ~scene.optical.clear
    with xr.set_options(arithmetic_join="exact"):  # misaligned labels raise, never drop
        squared = [((written[b] - scene.truth[b]) ** 2).where(gaps) for b in scene.truth]
    sums, counts = dask.compute([sq.sum() for sq in squared], [sq.count() for sq in squared])
    return float(np.sqrt(sum(float(s) for s in sums) / max(sum(int(n) for n in counts), 1)))


def _interpolate(args: argparse.Namespace) -> int:
    from stori_xr.fill import interpolate
    from stori_xr.io import open_optical, open_sar
    from stori_xr.output import tiles_written, to_zarr

    start = time.perf_counter()
    out = Path(args.out)
    refusal = _output_refusal(out, args.overwrite, args.resume)
    if refusal:
        return _error(refusal)
    missing = [p for p in (*args.optical, *(args.sar or ())) if not Path(p).exists()]
    if missing:  # before a cluster is started
        return _error(f"input not found: {' '.join(missing)}")
    # absolute paths: the tasks that read the files may run in processes with another folder
    optical_paths = [os.path.abspath(p) for p in args.optical]
    sar_paths = [os.path.abspath(p) for p in args.sar or ()]
    say = (lambda text: None) if args.quiet else (lambda text: print(text, file=sys.stderr))
    with contextlib.ExitStack() as stack:
        client, scheduler = _scheduler(args, stack)  # a bad address fails before reading
        chunks = {"y": args.chunks, "x": args.chunks}
        optical = open_optical(optical_paths, chunks=chunks)
        sar = open_sar(sar_paths, chunks=chunks) if sar_paths else None
        say(_inputs_line("optical", optical_paths, optical))
        if sar is not None:
            say(_inputs_line("SAR", sar_paths, sar))
        # under the client: a chunk too large for its workers is refused here
        result = interpolate(
            optical, sar, times=args.times, method=args.method, **dict(args.option)
        )
        before = tiles_written(out)[0] if args.resume and out.exists() else 0
        mode = "w" if args.overwrite else "w-"
        try:
            writes = to_zarr(result, out, mode=mode, resume=args.resume, compute=False)
        except StoreExistsError as err:  # --resume of a store of another result
            return _error(_in_cli_words(_message(err)))
        shape = _pixels(result)
        say(
            f"running {args.method} on {shape[0]} x {shape[1]} px in tiles of {args.chunks} px"
            f" with {scheduler}; writing {out.resolve()}"
        )
        computing = time.perf_counter()
        _compute(writes, client, args.threads, progress=not args.quiet)
        seconds = time.perf_counter() - computing
    written, total = tiles_written(out)
    return _summary(out, result, seconds, time.perf_counter() - start, written - before, total)


def _output_refusal(out: Path, overwrite: bool, resume: bool) -> str | None:
    """Why ``stori interpolate`` will not write to ``out`` (None: it may)."""
    if not out.exists():
        return None
    store = any((out / name).is_file() for name in ("zarr.json", ".zgroup"))
    if not store and (not out.is_dir() or any(out.iterdir())):
        kind = "a folder" if out.is_dir() else "a file"
        return (
            f"{out} exists and is {kind}, not a Zarr store; --overwrite and --resume only "
            "replace or finish Zarr stores: give another --out"
        )
    if overwrite or resume:  # to_zarr checks that a store to resume holds this result
        return None
    status = _write_status(out)
    if status not in (None, COMPLETE):
        return (
            f"{out} already exists (an incomplete stori_xr store, from a write that failed "
            "or was interrupted); pass --resume to finish it, or --overwrite to replace it"
        )
    state = {COMPLETE: "a complete stori_xr store", None: "a Zarr store"}[status]
    state = state if store else "an empty folder"
    return f"{out} already exists ({state}); pass --overwrite to replace it, or give another --out"


def _write_status(store: Path) -> str | None:
    """The ``stori_write_status`` attribute of a Zarr store (None: none, or not Zarr)."""
    import zarr

    try:
        return zarr.open_group(str(store), mode="r").attrs.get(WRITE_STATUS)
    except Exception:  # not a Zarr group: no status to report
        return None


#: The Python spellings in stori_xr.output's messages, and the options that do the same.
_CLI_WORDS = {"mode='w'": "--overwrite", "resume=True": "--resume"}


def _in_cli_words(message: str) -> str:
    for python, option in _CLI_WORDS.items():
        message = message.replace(python, option)
    return message


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


def _scheduler(args: argparse.Namespace, stack: contextlib.ExitStack) -> tuple[Any, str]:
    """The distributed client to compute with (None: dask's threaded scheduler), described.

    The client and any cluster it starts are closed when ``stack`` closes.
    """
    if args.scheduler:
        from distributed import Client

        try:
            client = Client(args.scheduler, timeout=CONNECT_TIMEOUT)
        except (OSError, ValueError) as err:
            raise ConnectionError(
                f"cannot connect to the dask scheduler at {args.scheduler} within "
                f"{CONNECT_TIMEOUT} s ({_message(err)}): check the address (such as "
                "tcp://host:8786) and that the scheduler runs, or leave out --scheduler"
            ) from None
        stack.enter_context(client)
        workers = len(client.scheduler_info().get("workers", {}))
        plural = "s" if workers != 1 else ""
        return client, f"the dask scheduler at {args.scheduler} ({workers} worker{plural})"
    if args.workers:
        from distributed import Client, LocalCluster

        threads = args.threads or 1
        memory = args.memory_limit or "auto"
        cluster = stack.enter_context(
            LocalCluster(
                n_workers=args.workers,
                threads_per_worker=threads,
                processes=True,
                memory_limit=memory,
                dashboard_address="127.0.0.1:0",  # any free port, on this machine only
            )
        )
        client = stack.enter_context(Client(cluster))
        return client, (
            f"a LocalCluster of {args.workers} worker processes x {threads} thread"
            f"{'s' if threads > 1 else ''}, memory limit {memory} each"
        )
    from dask.system import CPU_COUNT

    return None, f"dask's threaded scheduler ({args.threads or CPU_COUNT} threads)"


def _compute(writes: Any, client: Any, threads: int | None, progress: bool) -> None:
    """Compute the delayed write, with a progress bar on stderr when asked."""
    from stori_xr.progress import compute

    compute(writes, client, threads, progress=progress, scheduler="threads")


def _summary(
    out: Path, result: Any, seconds: float, in_all: float, tiles_now: int, tiles: int
) -> int:
    """Print what was written and how fast; exit code 0 when the store is complete.

    The throughput counts the pixels of the tiles written in this run (all of them,
    unless resumed), at the tiles' mean size.
    """
    rows, cols = _pixels(result)
    bands = [str(v) for v in result.data_vars if f"{v}_sigma" in result.data_vars]
    status = _write_status(out)
    done = f", {tiles_now} of {tiles} tiles written in this run" if tiles else ""
    print(f"output      {out.resolve()} ({status or 'no write status'}{done})")
    print(f"pixels      {rows * cols} ({rows} x {cols})")
    print(f"dates       {result.sizes['time']}")
    print(f"bands       {len(bands)}: {' '.join(bands)}")
    print(f"seconds     {seconds:.1f} computing and writing, {in_all:.1f} in all")
    computed = rows * cols * (tiles_now / tiles if tiles else 1.0)
    if computed and seconds > 0:
        print(f"throughput  {computed / seconds:,.0f} pixel-series/s")
    if status != COMPLETE:
        return _error(f"{out} is incomplete; run the same command with --resume to finish it")
    return EXIT_OK


def _evaluate(args: argparse.Namespace) -> int:
    from stori_xr.evaluate import (
        evaluate,
        format_table,
        load_worldcereal_patch,
        summarise,
        write_plots,
        write_summary,
    )
    from stori_xr.io import open_sentinel1, open_sentinel2

    if args.plots:
        import matplotlib

        matplotlib.use("Agg")

    # read every input first: a missing or bad file stops the command before any scoring
    cases = []
    for folder in args.patch:
        kw = {"bands": tuple(args.bands)} if args.bands else {}
        cases.append((Path(folder).name, *load_worldcereal_patch(folder, **kw)))
    if args.optical:
        optical = open_sentinel2(args.optical, bands=args.bands)
        sar = open_sentinel1(args.sar) if args.sar else None
        cases.append((Path(args.optical[0]).name, optical, sar))
    methods = list(dict.fromkeys(args.methods))  # a method named twice runs once
    protocols = list(dict.fromkeys(args.protocol))
    tables = []
    for name, optical, sar in cases:
        for protocol in protocols:
            table = evaluate(
                optical,
                sar,
                methods=methods,
                seeds=range(args.seeds),
                protocol=protocol,
                keep_values=bool(args.plots),
            )
            table, values = table if args.plots else (table, None)
            empty = _nothing_scored(name, table, methods, protocol)
            if empty:
                return _error(empty)
            table.insert(0, "scene", name)
            table.insert(1, "protocol", protocol)
            tables.append(table)
            summary = summarise(table.drop(columns=["scene", "protocol"]))
            print(format_table(summary, title=f"{name}, protocol {protocol}"))
            print()
            if values is not None:
                written = write_plots(values, args.plots, prefix=f"{name}-{protocol}-")
                if "calibration" not in written:
                    print(f"no calibration plot for {name}: none of the methods gives sigma")
                for path in written.values():
                    print(f"wrote {path}")
    about = {
        "scenes": [name for name, _, _ in cases],
        "protocols": protocols,
        "methods": methods,
        "seeds": list(range(args.seeds)),
    }
    jsons = [args.json] if args.json else []
    jsons += [str(Path(args.plots) / "summary.json")] if args.plots else []
    for path in jsons:
        write_summary(pd.concat(tables), path, **about)
        print(f"wrote {path}")
    if args.csv:
        pd.concat(tables).to_csv(args.csv, index=False)
        print(f"wrote {args.csv}")
    return EXIT_OK


def _nothing_scored(
    name: str, table: pd.DataFrame, methods: Sequence[str], protocol: str
) -> str | None:
    """Why no value of a scene was scored, or None when some were."""
    from stori_xr.evaluate import ALL_BANDS, resolve_protocol

    pooled = table[(table["band"] == ALL_BANDS) & (table["gap"] == "all")]
    if pooled["n"].sum() > 0:
        return None
    hidden = int(table["n_hidden"].max())
    if hidden:
        return (
            f"nothing to score in {name}: {', '.join(methods)} filled none of the {hidden} "
            "hidden values"
        )
    rules = resolve_protocol(protocol)
    cloudy, days = rules.donor_cloud, rules.window_days
    return (
        f"nothing to score in {name}: no clear value could be hidden; stori evaluate hides "
        f"the clear values of mostly clear dates (at least {rules.clear_share:.0%} clear) "
        f"under the clouds of a cloudy date ({cloudy[0]:.0%} to {cloudy[1]:.0%} "
        f"cloudy), and every clear value within a window of {days[0]:g} to {days[1]:g} days; "
        "give a longer series with such dates"
    )


# ----------------------------------------------------------------------------- parser


def _table_help() -> str:
    width = max(len(column) for column, _ in TABLE_COLUMNS)
    lines = [
        "the table (one per scene; the bands pooled; the mean over the seeds):",
        *(f"  {column:<{width}}  {text}" for column, text in TABLE_COLUMNS),
    ]
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    """The ``stori`` argument parser.

    Returns
    -------
    argparse.ArgumentParser
        The parser of ``stori`` and its subcommands ``demo`` and ``evaluate``; each
        subcommand's namespace carries ``func`` (the command), ``check`` (what is
        wrong with its values, checked before any side effect) and ``parser`` (the
        subcommand's own parser, for its usage line).

    Examples
    --------
    >>> args = build_parser().parse_args(["demo", "--size", "32", "--method", "linear"])
    >>> args.size, args.method, args.out
    (32, 'linear', 'stori-demo')
    >>> args.check(args) is None
    True
    """
    raw = argparse.RawDescriptionHelpFormatter
    methods = sorted(METHODS)
    parser = argparse.ArgumentParser(
        prog="stori",
        description="STORI: cloud-free optical time series fused with SAR.",
        epilog=_EXIT_CODES,
        formatter_class=raw,
    )
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s {__version__}", help="print the version"
    )
    sub = parser.add_subparsers(
        dest="command", required=True, metavar="{demo,interpolate,evaluate,pretrain}"
    )

    demo = sub.add_parser(
        "demo",
        help="run the pipeline on the built-in synthetic scene and write its outputs",
        description=(
            "Gap-fill a seeded synthetic Sentinel-2 scene with its Sentinel-1 and write\n"
            "reflectance.zarr, maps.png and pixel.png into --out."
        ),
        epilog=_EXIT_CODES,
        formatter_class=raw,
    )
    demo.add_argument(
        "--out",
        default="stori-demo",
        metavar="FOLDER",
        help="output folder, created if missing; one that holds a reflectance.zarr is "
        "refused unless --overwrite (default: %(default)s)",
    )
    demo.add_argument(
        "--overwrite",
        action="store_true",
        help="replace the reflectance.zarr and PNGs of an earlier run in --out "
        "(default: off, an existing reflectance.zarr is refused)",
    )
    demo.add_argument(
        "--size",
        type=_int_at_least(1),
        default=128,
        metavar="PX",
        help="side of the square scene in pixels, at least the method's neighbourhood "
        f"({_demo_min_size('kernel')} for kernel, 1 for the others) (default: %(default)s)",
    )
    demo.add_argument(
        "--periods",
        type=_int_at_least(1),
        default=73,
        metavar="N",
        help="number of optical dates, 5 days apart (default: %(default)s)",
    )
    _add_times_and_method(
        demo, methods, "scene's", "the optical dates, scored against the synthetic truth"
    )
    demo.add_argument(
        "--seed",
        type=_int_at_least(0),
        default=0,
        metavar="N",
        help="seed of the synthetic scene; the same seed gives the same scene "
        "(default: %(default)s)",
    )
    demo.set_defaults(func=_demo, check=_check_demo, parser=demo)
    _add_interpolate(sub, methods)

    ev = sub.add_parser(
        "evaluate",
        help="hide real clear values, reconstruct them, score every method",
        description=(
            "Hide real clear values (transplanted cloud masks and a long window),\n"
            "reconstruct them with each method and print one table of scores per scene\n"
            "and protocol."
        ),
        epilog=f"{_table_help()}\n\n{_EXIT_CODES}",
        formatter_class=raw,
    )
    ev.add_argument(
        "patch",
        nargs="*",
        metavar="PATCH",
        help="WorldCereal patch folders, each holding an S2_L2A_20m_*.nc and an "
        "S1_GRD-*_20m_*.nc file",
    )
    ev.add_argument(
        "--optical",
        nargs="+",
        metavar="FILE",
        help="Sentinel-2 L2A files of one more scene to score (several files: its bands at "
        "several resolutions) (default: none)",
    )
    ev.add_argument(
        "--sar",
        metavar="FILE",
        help="Sentinel-1 file to go with --optical, needed by "
        f"{', '.join(m for m in methods if METHODS[m].needs_sar)} (default: none)",
    )
    ev.add_argument(
        "--bands",
        nargs="+",
        metavar="BAND",
        help="bands to score (default: every band of --optical; B05 B06 B07 B8A B11 B12 of "
        "a patch folder)",
    )
    ev.add_argument(
        "--methods",
        nargs="+",
        default=list(_EVALUATE_METHODS),
        choices=methods,
        metavar="METHOD",
        help="methods to compare, one or more of: %(choices)s "
        f"(default: {' '.join(_EVALUATE_METHODS)})",
    )
    ev.add_argument(
        "--seeds",
        type=_int_at_least(1),
        default=3,
        metavar="N",
        help="number of random hiding draws (seeds 0 to N-1); the table shows their mean "
        "(default: %(default)s)",
    )
    ev.add_argument(
        "--protocol",
        nargs="+",
        default=["partial"],
        choices=sorted(PROTOCOLS),
        metavar="PROTOCOL",
        help="how clear values are hidden, one or more of: %(choices)s; partial: partly "
        "cloudy masks and a window over part of the scene (most hidden values keep clear "
        "neighbours); whole: also whole dates and whole-scene windows, like the scene's "
        "real gaps (default: partial)",
    )
    ev.add_argument(
        "--csv",
        metavar="FILE",
        help="also write the long table of scores (every method, band, gap class, seed and "
        "protocol) to this CSV file (default: none)",
    )
    ev.add_argument(
        "--json",
        metavar="FILE",
        help="also write the summary (the mean over the seeds of every method, band and gap "
        "class, per scene and protocol) to this JSON file (default: none)",
    )
    ev.add_argument(
        "--plots",
        metavar="DIR",
        help="write the plots into this folder (created if missing), per scene and "
        "protocol: <scene>-<protocol>-gap_error.png (RMSE against gap length per method), "
        "-predicted_observed.png (estimate against truth, 1:1 line, R2) and "
        "-calibration.png (share of errors within +-k sigma against k, with the Gaussian "
        "ideal; methods with sigma only), and summary.json, as --json (default: none)",
    )
    ev.set_defaults(func=_evaluate, check=_check_evaluate, parser=ev)
    cli_pretrain.add_parser(sub)
    return parser


def _add_times_and_method(
    parser: argparse.ArgumentParser, methods: list[str], period: str, default_times: str
) -> None:
    """``--times`` and ``--method``, as ``stori demo`` and ``stori interpolate`` take them."""
    parser.add_argument(
        "--times",
        type=_target_dates,
        default=None,
        metavar="FREQ|DATE",
        help="target dates: a pandas frequency such as 5D or 1W (a regular series over the "
        f"{period} period) or one date such as 2021-06-01 (default: {default_times})",
    )
    parser.add_argument(
        "--method",
        default="stori",
        choices=methods,
        metavar="METHOD",
        help="gap-filling method, one of: %(choices)s (default: %(default)s)",
    )


def _add_interpolate(sub: Any, methods: list[str]) -> None:
    """The ``stori interpolate`` subparser."""
    cmd = sub.add_parser(
        "interpolate",
        help="gap-fill optical files (with SAR files) and write a Zarr store",
        description=(
            "Gap-fill optical time series with SAR and write the bands, <band>_sigma and\n"
            "stori_source on the target dates to a Zarr store, tile by tile, with a progress\n"
            "bar on stderr and a summary on stdout. Each file's layout picks its reader:\n"
            "Sentinel-2 L2A (WorldCereal, openEO gfmap, FuseTS), Landsat 8, Sentinel-1 GRD\n"
            "(WorldCereal, openEO gfmap), an EOPatch folder, else a generic NetCDF, Zarr or\n"
            "GeoTIFF cube (one GeoTIFF per band, named after its file)."
        ),
        epilog=_EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    cmd.add_argument(
        "--optical",
        nargs="+",
        required=True,
        metavar="PATH",
        help="optical files of one place, all of one layout (several files: the bands at "
        "several resolutions, or other dates) (default: none, required)",
    )
    cmd.add_argument(
        "--sar",
        nargs="+",
        metavar="PATH",
        help="SAR files (VV/VH) of the same place, combined along time; needed by "
        f"{', '.join(m for m in methods if METHODS[m].needs_sar)} (default: none)",
    )
    cmd.add_argument(
        "--out",
        required=True,
        metavar="STORE",
        help="the Zarr store to write, such as out.zarr; an existing one is refused unless "
        "--overwrite or --resume (default: none, required)",
    )
    _add_times_and_method(cmd, methods, "optical", "the optical dates")
    cmd.add_argument(
        "--option",
        action="append",
        type=_method_option,
        default=[],
        metavar="KEY=VALUE",
        help="an option of the method, repeated for several, such as radius=6 or "
        "candidates=temporal,sar; numbers, true/false and comma lists are read as such "
        "(default: none, the method's defaults)",
    )
    where = cmd.add_mutually_exclusive_group()
    where.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="compute on a running dask scheduler, such as tcp://host:8786 (connection "
        f"timeout {CONNECT_TIMEOUT} s) (default: none, compute on this machine)",
    )
    where.add_argument(
        "--workers",
        type=_int_at_least(1),
        metavar="N",
        help="start a dask LocalCluster of N worker processes on this machine "
        "(default: none, dask's threaded scheduler in this process)",
    )
    cmd.add_argument(
        "--memory-limit",
        type=_memory_limit,
        metavar="SIZE",
        help="memory limit of each --workers process, such as 2GB "
        "(default: auto, the machine's memory shared between the workers)",
    )
    cmd.add_argument(
        "--threads",
        type=_int_at_least(1),
        metavar="N",
        help="threads of each --workers process, or of the threaded scheduler "
        "(default: 1 per worker process; one per core for the threaded scheduler)",
    )
    cmd.add_argument(
        "--chunks",
        type=_int_at_least(1),
        default=DEFAULT_CHUNKS,
        metavar="PX",
        help="side of the square tiles read, computed and written, in pixels; the memory "
        "of each task grows with it (default: %(default)s)",
    )
    exists = cmd.add_mutually_exclusive_group()
    exists.add_argument(
        "--overwrite",
        action="store_true",
        help="replace an existing --out store (default: off, an existing store is refused)",
    )
    exists.add_argument(
        "--resume",
        action="store_true",
        help="finish an incomplete --out store left by an interrupted run of the same "
        "command, computing only its missing tiles (default: off)",
    )
    cmd.add_argument(
        "--quiet",
        action="store_true",
        help="no progress bar and no lines on stderr before computing; the summary is "
        "still printed (default: off)",
    )
    cmd.set_defaults(func=_interpolate, check=_check_interpolate, parser=cmd)


# ----------------------------------------------------------------------------- main


def _message(err: BaseException) -> str:
    """One line saying what went wrong."""
    if isinstance(err, OSError) and err.strerror and err.filename is not None:
        text = f"{err.strerror}: {err.filename}"
    else:
        text = str(err) or type(err).__name__
    return " ".join(text.split())


def _format_warning(default: Callable[..., str]) -> Callable[..., str]:
    """``warnings.formatwarning`` that shows stori_xr's own warnings as one line."""

    def format_warning(message, category, filename, lineno, line=None) -> str:
        if issubclass(category, StoriWarning):
            return f"stori: warning: {' '.join(str(message).split())}\n"
        return default(message, category, filename, lineno, line)

    return format_warning


def _error(message: str) -> int:
    print(f"stori: error: {message}", file=sys.stderr)
    return EXIT_ERROR


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``stori`` command.

    Parameters
    ----------
    argv : sequence of str, optional
        The arguments after ``stori``; default: those of the process.

    Returns
    -------
    int
        The exit code: 0 done, 1 an error the user can fix (printed as one line
        ``stori: error: <message>``), 130 interrupted. A bad command line exits
        through :class:`SystemExit` with code 2 (argparse's usage error), as do
        ``--help`` and ``--version`` with 0. Other exceptions are bugs and propagate
        with their traceback.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    problem = args.check(args)
    if problem:
        args.parser.error(problem)  # the subcommand's usage, exit code 2
    default_format = warnings.formatwarning
    warnings.formatwarning = _format_warning(default_format)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except (StoriError, *_USER_OS_ERRORS) as err:
        return _error(_message(err))
    finally:
        warnings.formatwarning = default_format


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
