"""The ``stori`` argument parser: its subcommands, their options and their help.

:func:`build_parser` makes the parser of ``stori`` and of ``stori demo``,
``stori interpolate``, ``stori evaluate`` and ``stori pretrain``; each subcommand's
namespace carries the command to run, the check of its values and its own parser.
"""

from __future__ import annotations

import argparse
from typing import Any

from stori_xr import __version__
from stori_xr.cli import pretrain
from stori_xr.cli.demo import _check_demo, _demo, _demo_min_size
from stori_xr.cli.errors import _EXIT_CODES
from stori_xr.cli.evaluate import _EVALUATE_METHODS, _check_evaluate, _evaluate, _table_help
from stori_xr.cli.interpolate import _check_interpolate, _interpolate
from stori_xr.cli.scheduler import CONNECT_TIMEOUT
from stori_xr.cli.values import _int_at_least, _memory_limit, _method_option, _target_dates
from stori_xr.evaluate import PROTOCOLS, SPLITS
from stori_xr.fill import METHODS

#: Side (pixels) of the tiles ``stori interpolate`` reads and computes, by default.
DEFAULT_CHUNKS = 128


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
        "--splits",
        nargs="*",
        default=list(SPLITS),
        choices=list(SPLITS),
        metavar="SPLIT",
        help="after each table, split every method's error by: neighbour (whether a pixel "
        "within the kernel's search radius is clear on that date: yes / no), source (the "
        "kernel's stori_source flag of the same value; when kernel is not among --methods "
        "it runs once more per seed for its flags, unscored); --splits alone: no split "
        "(default: neighbour source)",
    )
    ev.add_argument(
        "--csv",
        metavar="FILE",
        help="also write the long table of scores (every method, part of each split, band, "
        "gap class, seed and protocol) to this CSV file (default: none)",
    )
    ev.add_argument(
        "--json",
        metavar="FILE",
        help="also write the summary (the mean over the seeds of every method, part of each "
        "split, band and gap class, per scene and protocol) to this JSON file "
        "(default: none)",
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
    pretrain.add_parser(sub)
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
