"""Accuracy of every gap-filling method on the real WorldCereal patches, under both protocols.

Runs :func:`stori_xr.evaluate.evaluate` (hidden real clear values, several seeds) on both
WorldCereal patches with the six 20 m bands, under each hiding protocol
(:data:`stori_xr.evaluate.PROTOCOLS`: ``partial``, partly cloudy masks and a window over
part of the patch; ``whole``, whole dates and whole-patch windows too), and prints, per
protocol and patch: the pooled RMSE of the hidden values per gap class with the
calibration columns, the RMSE per band, and every method's error split by whether a
neighbour within the kernel's search radius is clear on that date and by the kernel's
``stori_source`` flag::

    python benchmarks/accuracy.py                       # both protocols and patches, 3 seeds
    python benchmarks/accuracy.py --protocol whole --methods linear whittaker --seeds 5
    python benchmarks/accuracy.py --csv acc.csv         # and the long table, every seed
    python benchmarks/accuracy.py --quick               # 1 seed, 12 x 12 px (tests)

The data are read from ``$STORI_DATA`` or ``<repo>/../shared/data`` (never the working
directory), or from ``--data``.
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from stori_xr import fill
from stori_xr.evaluate import (
    ALL_BANDS,
    PROTOCOLS,
    SPLITS,
    evaluate,
    format_against_best,
    format_split,
    format_table,
    hide_mask,
    load_worldcereal_patch,
    summarise,
)

REPO_ROOT = Path(__file__).resolve().parents[1]
PATCHES = ("00002806639B424A", "000028085BF08E7E")
DEFAULT_METHODS = ("stori", "kernel", "stori-rnn", "linear", "whittaker", "sar-regression")
QUICK_SIZE = 12

#: Options of the learned methods under --quick (the path is checked, not the accuracy).
QUICK_OPTIONS = {"stori": {"epochs": 1, "maskings": 1}, "stori-rnn": {"epochs": 1, "hidden": 16}}


def data_dir(explicit: str | None) -> Path:
    """``--data``, else ``$STORI_DATA``, else ``<repo>/../shared/data``."""
    if explicit:
        return Path(explicit)
    env = os.environ.get("STORI_DATA")
    return Path(env) if env else REPO_ROOT.parent / "shared" / "data"


def crop(optical, sar, size: int):
    """The central ``size`` x ``size`` pixels of both cubes (same grid)."""
    ny, nx = optical.sizes["y"], optical.sizes["x"]
    y0, x0 = max((ny - size) // 2, 0), max((nx - size) // 2, 0)
    window = {"y": slice(y0, y0 + size), "x": slice(x0, x0 + size)}
    return optical.isel(window), sar.isel(window)


def per_band(summary: pd.DataFrame) -> str:
    """RMSE of all hidden values, one row per method and one column per band."""
    rows = summary[(summary.gap == "all") & (summary.split == "all")]
    table = rows.pivot(index="method", columns="band", values="rmse")
    table = table.loc[rows.method.unique(), list(rows.band.unique())]
    return table.to_string(float_format=lambda v: f"{v:.3f}")


def hiding(optical, protocol: str, seeds: list[int], hide: dict) -> str:
    """What the protocol hid, in words: the share of clear values, the dates hidden whole."""
    clear = optical.clear.values
    per_date = clear.sum(axis=(1, 2))
    shares, whole_dates = [], []
    for seed in seeds:
        hidden = hide_mask(clear, optical.time.values, seed=seed, protocol=protocol, **hide)
        shares.append(hidden.sum() / max(clear.sum(), 1))
        whole_dates.append(int(((hidden.sum(axis=(1, 2)) == per_date) & (per_date > 0)).sum()))
    return (
        f"{np.mean(shares):.0%} of the clear values hidden, {np.mean(whole_dates):.1f} "
        f"dates hidden whole (mean over seeds)"
    )


def _learned_options(patch: str, models: dict[str, str], quick: bool) -> dict:
    """Options of the learned methods on a patch: the model given for it, quick settings."""
    options = {k: dict(v) for k, v in QUICK_OPTIONS.items()} if quick else {}
    if patch in models:
        options.setdefault("stori", {})["model"] = models[patch]
    return options


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patches", nargs="+", default=list(PATCHES), help="patch ids")
    parser.add_argument("--seeds", type=int, default=3, help="number of seeds (0, 1, ...)")
    parser.add_argument(
        "--protocol",
        nargs="+",
        default=list(PROTOCOLS),
        choices=list(PROTOCOLS),
        help="hiding protocols to run (default: all of them)",
    )
    parser.add_argument(
        "--methods",
        nargs="+",
        default=None,
        help="methods to compare (default: the registered ones among "
        f"{', '.join(DEFAULT_METHODS)})",
    )
    parser.add_argument(
        "--windows", type=int, default=None, help="long windows hidden per seed (default: 1)"
    )
    parser.add_argument(
        "--model",
        nargs="+",
        default=[],
        metavar="PATCH=FILE",
        help="the pretrained weights method 'stori' starts from on a patch (stori pretrain "
        "on the other patch, so that the patch is unseen; default: the shipped weights)",
    )
    parser.add_argument("--data", default=None, help="data folder (default: see module doc)")
    parser.add_argument("--csv", default=None, help="write the long table (all seeds) here")
    parser.add_argument(
        "--quick", action="store_true", help=f"1 seed, central {QUICK_SIZE}x{QUICK_SIZE} px"
    )
    args = parser.parse_args(argv)

    root = data_dir(args.data)
    methods = args.methods or [m for m in DEFAULT_METHODS if m in fill.METHODS]
    seeds = list(range(1 if args.quick else args.seeds))
    hide = {} if args.windows is None else {"n_windows": args.windows}
    models = dict(item.split("=", 1) for item in args.model)
    splits = list(SPLITS)
    print("command:", shlex.join([Path(sys.executable).name, *sys.argv]))
    print(
        f"data: {root}  methods: {', '.join(methods)}  seeds: {seeds}  "
        f"protocols: {', '.join(args.protocol)}  "
        f"python {platform.python_version()}  ({os.cpu_count()} cpus)"
    )
    patches = []
    for patch in args.patches:
        optical, sar = load_worldcereal_patch(root / "worldcereal" / patch)
        if args.quick:
            optical, sar = crop(optical, sar, QUICK_SIZE)
        patches.append((patch, optical, sar))

    if not args.quick:  # compile the numba kernels before anything is timed
        _, optical, sar = patches[0]
        evaluate(*crop(optical, sar, 8), methods=methods, seeds=[0])

    tables = []
    start = time.perf_counter()
    for protocol in args.protocol:
        for patch, optical, sar in patches:
            t0 = time.perf_counter()
            table = evaluate(
                optical,
                sar,
                methods=methods,
                seeds=seeds,
                protocol=protocol,
                splits=splits,
                hide=hide,
                method_options=_learned_options(patch, models, args.quick),
            )
            elapsed = time.perf_counter() - t0
            table.insert(0, "protocol", protocol)
            table.insert(1, "patch", patch)
            tables.append(table)
            summary = summarise(table.drop(columns=["protocol", "patch"]))
            sizes = optical.sizes
            clear = int(optical.clear.sum())
            head = f"== protocol {protocol}, patch {patch} "
            print(f"\n{head}{'=' * max(90 - len(head), 0)}")
            if "stori" in methods:
                print(f"method 'stori' starts from: {models.get(patch, 'the shipped weights')}")
            print(
                f"{sizes['time']} dates, {sizes['y']}x{sizes['x']} px, {clear} clear values; "
                f"{hiding(optical, protocol, seeds, hide)}; {elapsed:.1f} s"
            )
            print()
            bands = [b for b in table.band.unique() if b not in (ALL_BANDS, "NDVI")]
            title = f"pooled RMSE of the {len(bands)} bands, mean of {len(seeds)} seed(s)"
            print(format_table(summary, title=title))
            print()
            print("RMSE per band (all gaps):")
            print(per_band(summary))
            for split in splits:
                print()
                print(format_split(summary, split, title=f"split by {SPLITS[split]}"))
            if "stori" in methods and len(methods) > 1:
                print()
                print(format_against_best(table))
    print(f"\ntotal {time.perf_counter() - start:.1f} s")
    if args.csv:
        pd.concat(tables, ignore_index=True).to_csv(args.csv, index=False)
        print(f"wrote {args.csv}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
