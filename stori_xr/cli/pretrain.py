"""``stori pretrain``: make rank-STORI's weights from source scenes, seeded and reproducible.

The shipped weights (``stori_xr/ranker/weights/default.bin``) are made by::

    stori pretrain ../shared/data/worldcereal/*/ --synthetic 2 \
        --out stori_xr/ranker/weights/default.bin

(see ``default.bin.json`` beside them for the exact settings, the sources, the losses
and the seconds it took).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

#: Settings of the command (the shipped weights' are these defaults).
DEFAULTS = {"seed": 0, "epochs": 10, "windows": 8, "maskings": 6, "synthetic": 0}

#: Side (px) of the synthetic scenes.
SYNTHETIC_SIZE = 32


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """The ``stori pretrain`` subparser (its ``func`` and ``check`` set)."""
    cmd = sub.add_parser(
        "pretrain",
        help="pretrain the ranker of method 'stori' on source scenes and write its weights",
        description=(
            "Fit rank-STORI from scratch on WorldCereal patch folders and/or synthetic\n"
            "scenes, hiding their clear values, and write the weights (give them to\n"
            "interpolate(model=...) or ship them as the package's defaults) and, beside\n"
            "them, <out>.json saying how they were made. Seeded: the same command gives\n"
            "the same bytes."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    cmd.add_argument(
        "source",
        nargs="*",
        metavar="PATCH",
        help="WorldCereal patch folders, each holding an S2_L2A_20m_*.nc and an "
        "S1_GRD-*_20m_*.nc file (default: none)",
    )
    cmd.add_argument(
        "--synthetic",
        type=int,
        default=DEFAULTS["synthetic"],
        metavar="N",
        help=f"also N synthetic scenes of {SYNTHETIC_SIZE} px (default: %(default)s)",
    )
    cmd.add_argument(
        "--out",
        required=True,
        metavar="FILE",
        help="the file to write the weights to; <FILE>.json is written beside it "
        "(default: none, required)",
    )
    helps = {
        "seed": "seed of the windows, the hidings and the network (default: %(default)s)",
        "epochs": "passes over the hidden values (default: %(default)s)",
        "windows": "windows of 32 px read from each scene (default: %(default)s)",
        "maskings": "hidings of each window, each a new draw (default: %(default)s)",
    }
    for name, text in helps.items():
        cmd.add_argument(f"--{name}", type=int, default=DEFAULTS[name], metavar="N", help=text)
    cmd.set_defaults(func=run, check=check, parser=cmd)
    return cmd


def check(args: argparse.Namespace) -> str | None:
    """What is wrong with the arguments, before anything runs."""
    if not args.source and args.synthetic < 1:
        return "give source PATCH folders, --synthetic N, or both"
    for name in ("synthetic", "seed", "epochs"):
        if getattr(args, name) < 0:
            return f"--{name} must be 0 or more"
    for name in ("windows", "maskings"):
        if getattr(args, name) < 1:
            return f"--{name} must be 1 or more"
    if Path(args.out).is_dir():
        return f"--out {args.out} is a folder; give a file path"
    return None


def run(args: argparse.Namespace) -> int:
    """Read the sources, pretrain, write the weights and their JSON."""
    from stori_xr.evaluate import load_worldcereal_patch
    from stori_xr.ranker.pretrain import BANDS, pretrain, synthetic_scenes, write

    start = time.perf_counter()
    scenes = [(*load_worldcereal_patch(p, bands=BANDS), Path(p).name) for p in args.source]
    scenes += synthetic_scenes(args.synthetic, SYNTHETIC_SIZE, args.seed)
    print(f"pretraining on {len(scenes)} scenes: {', '.join(n for *_, n in scenes)}")
    model = pretrain(
        scenes, seed=args.seed, epochs=args.epochs, windows=args.windows, maskings=args.maskings
    )
    settings = {
        "command": "stori pretrain",
        "sources": [Path(p).name for p in args.source],
        **{k: getattr(args, k) for k in ("synthetic", "seed", "epochs", "windows", "maskings")},
    }
    write(model, args.out, settings)
    seconds = time.perf_counter() - start
    print(
        f"wrote {args.out} ({model.n_parameters:,} parameters, {model.record['pixels']:,} "
        f"pixel series, final loss {model.record['loss'][-1] if model.record['loss'] else '-'}, "
        f"±1σ/±2σ on held-out values {model.record['calibration_coverage']}) in {seconds:.0f} s"
    )
    return 0
