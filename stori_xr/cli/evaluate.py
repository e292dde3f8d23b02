"""``stori evaluate``: hide real clear values, reconstruct them and score every method.

The methods it compares by default, the columns of the tables it prints
(:data:`TABLE_COLUMNS`, :data:`SPLIT_COLUMNS`, explained in its ``--help`` by
:func:`_table_help`), the check of its values before anything is read
(:func:`_check_evaluate`), the command itself (:func:`_evaluate`: per scene and
protocol, the table, the split tables and, with ``stori`` and another method, stori
against the best other) and why a scene gave nothing to score (:func:`_nothing_scored`).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from stori_xr.cli.errors import EXIT_OK, _error
from stori_xr.fill import METHODS

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

#: The columns of the split tables (:func:`stori_xr.evaluate.format_split`) that the
#: table has not, explained in the ``--help`` of ``stori evaluate`` and in docs/cli.md.
SPLIT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("part", "the part of the hidden values: yes / no (neighbour), a kernel flag (source)"),
    ("share", "the part's share of the hidden pixel-dates"),
    ("x best other", "the method's 'RMSE all' over the lowest of the other methods' on"),
    ("", "the same part"),
    ("n scored", "values scored in the part, every band's value counted"),
)


def _table_help() -> str:
    width = max(len(column) for column, _ in (*TABLE_COLUMNS, *SPLIT_COLUMNS))
    lines = [
        "the table (one per scene; the bands pooled; the mean over the seeds):",
        *(f"  {column:<{width}}  {text}" for column, text in TABLE_COLUMNS),
        "",
        "the split tables (--splits; one row per part and method), besides the above:",
        *(f"  {column:<{width}}  {text}" for column, text in SPLIT_COLUMNS),
        "",
        "with stori and another method: stori's RMSE over the lowest of the other methods'",
        "(pooled over the seeds, per gap class), for every hidden value and each part of the",
        "neighbour split",
    ]
    return "\n".join(lines)


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


def _evaluate(args: argparse.Namespace) -> int:
    from stori_xr.evaluate import (
        SPLITS,
        evaluate,
        format_against_best,
        format_split,
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
    splits = list(dict.fromkeys(args.splits))
    tables = []
    for name, optical, sar in cases:
        for protocol in protocols:
            table = evaluate(
                optical,
                sar,
                methods=methods,
                seeds=range(args.seeds),
                protocol=protocol,
                splits=splits,
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
            for split in splits:
                print(format_split(summary, split, title=f"split by {SPLITS[split]}"))
                print()
            if "stori" in methods and len(methods) > 1:
                print(format_against_best(table))
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
    if "split" in pooled:
        pooled = pooled[pooled["split"] == "all"]
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
