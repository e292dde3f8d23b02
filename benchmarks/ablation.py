"""What each STORI candidate contributes: the kernel with subsets of its candidates.

Same protocol as ``benchmarks/accuracy.py`` (hidden real clear values, 3 seeds) on both
WorldCereal patches; prints the pooled RMSE per gap class for each candidate set::

    python benchmarks/ablation.py
    python benchmarks/ablation.py --quick     # 1 seed, 12 x 12 px (tests)
"""

from __future__ import annotations

import argparse
import shlex
import sys

from accuracy import PATCHES, QUICK_SIZE, data_dir

from stori_xr.evaluate import evaluate, load_worldcereal_patch, summarise

SETS = (
    ("temporal",),
    ("temporal", "sar"),
    ("temporal", "spatial"),
    ("temporal", "sar", "spatial"),
)
GAPS = ("all", "<=15d", "15-45d", ">45d")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="the shared data folder")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="1 seed, 12 x 12 px")
    args = parser.parse_args(argv)
    print(f"$ python benchmarks/ablation.py {shlex.join(argv or sys.argv[1:])}")
    seeds = range(1 if args.quick else args.seeds)
    for patch in PATCHES:
        optical, sar = load_worldcereal_patch(data_dir(args.data) / "worldcereal" / patch)
        if args.quick:
            crop = {"y": slice(0, QUICK_SIZE), "x": slice(0, QUICK_SIZE)}
            optical, sar = optical.isel(crop), sar.isel(crop)
        print(f"\n{patch}: pooled RMSE of the hidden values, mean of {len(seeds)} seed(s)")
        print(f"{'candidates':<28}" + "".join(f"{g:>9}" for g in GAPS))
        for cands in SETS:
            table = evaluate(
                optical,
                sar,
                methods=["kernel"],
                seeds=seeds,
                method_options={"kernel": {"candidates": cands, "radius": 4 if args.quick else 8}},
            )
            s = summarise(table)
            s = s[s.band == "all bands"].set_index("gap")
            print(
                f"{' + '.join(cands):<28}"
                + "".join(f"{s.rmse.get(g, float('nan')):>9.4f}" for g in GAPS)
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
