"""Command line: ``stori demo`` and ``stori evaluate``.

The command behaves like a tool: a bad command line is refused by argparse (exit
code 2) before anything is read or written; an error the user can fix (any
:class:`~stori_xr.exceptions.StoriError`, a missing input file, a folder that
cannot be written) prints one line, ``stori: error: <message>``, and exits with 1;
Ctrl-C exits quietly with 130. Any other exception is a bug and keeps its
traceback. ``docs/cli.md`` describes every subcommand, option and exit code.
"""

from __future__ import annotations

import argparse
import inspect
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pandas as pd

from stori_xr import __version__
from stori_xr.exceptions import StoriError
from stori_xr.fill import METHODS

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
)

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
  {EXIT_ERROR}    an error in the input (files, data, nothing to score): one line on stderr
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
    if args.csv:
        csv = Path(args.csv)
        if csv.is_dir():
            return f"argument --csv: {csv} is a folder; give a file name"
        if not csv.resolve().parent.is_dir():
            return f"argument --csv: the folder {csv.parent} does not exist"
    return None


# ----------------------------------------------------------------------------- commands


def _demo(args: argparse.Namespace) -> int:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from stori_xr.datasets import make_scene
    from stori_xr.fill import interpolate
    from stori_xr.io import open_cube
    from stori_xr.output import to_zarr

    start = time.perf_counter()
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
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    store = out_dir / "reflectance.zarr"
    to_zarr(result, store, mode="w")
    print(
        f"wrote {store}  ({args.method}: bands, <band>_sigma, stori_source on "
        f"{result.sizes['time']} dates)"
    )

    written = open_cube(store, chunks={})  # refuses a store whose write did not finish
    if args.times is None:
        gaps = ~scene.optical.clear.values
        bands = [str(b) for b in scene.truth.data_vars]
        err = np.concatenate([(written[b].values - scene.truth[b].values)[gaps] for b in bands])
        print(f"RMSE on the gaps against the synthetic truth: {np.sqrt(np.nanmean(err**2)):.4f}")
    band = "B8A" if "B8A" in written else next(iter(scene.truth.data_vars))
    figures = {
        "input.png": scene.optical.stori.plot_maps(band),  # the cloud gaps, for comparison
        "quicklook.png": written.stori.plot_maps(band),
        "pixel.png": written.stori.plot_pixel(args.size // 2, args.size // 2),
    }
    for name, fig in figures.items():
        fig.savefig(out_dir / name, dpi=90, bbox_inches="tight")
        plt.close(fig)
        print(f"wrote {out_dir / name}")
    print(f"done in {time.perf_counter() - start:.1f} s; outputs in {out_dir.resolve()}")
    return EXIT_OK


def _evaluate(args: argparse.Namespace) -> int:
    from stori_xr.evaluate import evaluate, format_table, load_worldcereal_patch, summarise
    from stori_xr.io import open_sentinel1, open_sentinel2

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
    tables = []
    for name, optical, sar in cases:
        table = evaluate(optical, sar, methods=methods, seeds=range(args.seeds))
        empty = _nothing_scored(name, table, methods)
        if empty:
            return _error(empty)
        table.insert(0, "scene", name)
        tables.append(table)
        print(format_table(summarise(table.drop(columns="scene")), title=name))
        print()
    if args.csv:
        pd.concat(tables).to_csv(args.csv, index=False)
        print(f"wrote {args.csv}")
    return EXIT_OK


def _nothing_scored(name: str, table: pd.DataFrame, methods: Sequence[str]) -> str | None:
    """Why no value of a scene was scored, or None when some were."""
    from stori_xr.evaluate import ALL_BANDS, hide_mask

    pooled = table[(table["band"] == ALL_BANDS) & (table["gap"] == "all")]
    if pooled["n"].sum() > 0:
        return None
    hidden = int(table["n_hidden"].max())
    if hidden:
        return (
            f"nothing to score in {name}: {', '.join(methods)} filled none of the {hidden} "
            "hidden values"
        )
    rules = {k: p.default for k, p in inspect.signature(hide_mask).parameters.items()}
    cloudy, days = rules["donor_cloud"], rules["window_days"]
    return (
        f"nothing to score in {name}: no clear value could be hidden; stori evaluate hides "
        f"the clear values of mostly clear dates (at least {rules['clear_share']:.0%} clear) "
        f"under the clouds of a partly cloudy date ({cloudy[0]:.0%} to {cloudy[1]:.0%} "
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
    sub = parser.add_subparsers(dest="command", required=True, metavar="{demo,evaluate}")

    demo = sub.add_parser(
        "demo",
        help="run the pipeline on the built-in synthetic scene and write its outputs",
        description=(
            "Gap-fill a seeded synthetic Sentinel-2 scene with its Sentinel-1 and write\n"
            "reflectance.zarr, input.png, quicklook.png and pixel.png into --out."
        ),
        epilog=_EXIT_CODES,
        formatter_class=raw,
    )
    demo.add_argument(
        "--out",
        default="stori-demo",
        metavar="FOLDER",
        help="output folder, created if missing; its reflectance.zarr and PNGs are replaced "
        "(default: %(default)s)",
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
    demo.add_argument(
        "--times",
        type=_target_dates,
        default=None,
        metavar="FREQ|DATE",
        help="target dates: a pandas frequency such as 5D or 1W (a regular series over the "
        "scene's period) or one date such as 2021-06-01 (default: the optical dates, "
        "scored against the synthetic truth)",
    )
    demo.add_argument(
        "--method",
        default="kernel",
        choices=methods,
        metavar="METHOD",
        help="gap-filling method, one of: %(choices)s (default: %(default)s)",
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

    ev = sub.add_parser(
        "evaluate",
        help="hide real clear values, reconstruct them, score every method",
        description=(
            "Hide real clear values (transplanted cloud masks and a long window),\n"
            "reconstruct them with each method and print one table of scores per scene."
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
        "--csv",
        metavar="FILE",
        help="also write the long table of scores (every method, band, gap class and seed) "
        "to this CSV file (default: none)",
    )
    ev.set_defaults(func=_evaluate, check=_check_evaluate, parser=ev)
    return parser


# ----------------------------------------------------------------------------- main


def _message(err: BaseException) -> str:
    """One line saying what went wrong."""
    if isinstance(err, OSError) and err.strerror and err.filename is not None:
        text = f"{err.strerror}: {err.filename}"
    else:
        text = str(err) or type(err).__name__
    return " ".join(text.split())


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
    try:
        return args.func(args)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except (StoriError, *_USER_OS_ERRORS) as err:
        return _error(_message(err))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
