"""Command line: ``stori demo`` and ``stori evaluate``."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path


def _demo(args: argparse.Namespace) -> int:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    import xarray as xr

    from stori_xr.datasets import make_scene
    from stori_xr.fill import interpolate
    from stori_xr.output import to_zarr

    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    chunk = max(args.size // 2, 16)
    scene = make_scene(
        args.size, args.size, periods=args.periods, seed=args.seed, chunks={"y": chunk, "x": chunk}
    )
    print(
        f"synthetic scene: {args.size}x{args.size} px, {scene.optical.sizes['time']} optical "
        f"dates ({float(1 - scene.optical.clear.mean()):.0%} cloudy), "
        f"{scene.sar.sizes['time']} SAR dates, seed {args.seed}"
    )
    result = interpolate(scene.optical, scene.sar, times=args.times, method=args.method)
    store = out_dir / "reflectance.zarr"
    to_zarr(result, store, mode="w")
    print(
        f"wrote {store}  ({args.method}: bands, <band>_sigma, stori_source on "
        f"{result.sizes['time']} dates)"
    )

    written = xr.open_zarr(store)
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
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from stori_xr.evaluate import evaluate, format_table, load_worldcereal_patch, summarise
    from stori_xr.io import open_sentinel1, open_sentinel2

    cases = []
    for folder in args.patch:
        kw = {"bands": tuple(args.bands)} if args.bands else {}
        cases.append((Path(folder).name, *load_worldcereal_patch(folder, **kw)))
    if args.optical:
        optical = open_sentinel2(args.optical, bands=args.bands)
        sar = open_sentinel1(args.sar) if args.sar else None
        cases.append((Path(args.optical[0]).name, optical, sar))
    if not cases:
        print("give WorldCereal patch folders, or --optical (and --sar) files", file=sys.stderr)
        return 2
    tables = []
    for name, optical, sar in cases:
        table = evaluate(optical, sar, methods=args.methods, seeds=range(args.seeds))
        table.insert(0, "scene", name)
        tables.append(table)
        print(format_table(summarise(table.drop(columns="scene")), title=name))
        print()
    if args.csv:
        import pandas as pd

        pd.concat(tables).to_csv(args.csv, index=False)
        print(f"wrote {args.csv}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The ``stori`` argument parser."""
    parser = argparse.ArgumentParser(
        prog="stori", description="STORI: cloud-free optical time series fused with SAR."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser(
        "demo", help="run the pipeline on the built-in synthetic scene and write its outputs"
    )
    demo.add_argument("--out", default="stori-demo", help="output folder (default ./stori-demo)")
    demo.add_argument("--size", type=int, default=128, help="scene size in pixels (square)")
    demo.add_argument("--periods", type=int, default=73, help="number of optical dates")
    demo.add_argument("--times", default=None, help="target dates as a frequency, e.g. 5D")
    demo.add_argument("--method", default="kernel", help="gap-filling method (default kernel)")
    demo.add_argument("--seed", type=int, default=0, help="random seed of the scene")
    demo.set_defaults(func=_demo)

    ev = sub.add_parser(
        "evaluate", help="hide real clear values, reconstruct them, score every method"
    )
    ev.add_argument("patch", nargs="*", help="WorldCereal patch folders (S2 20 m + S1 files)")
    ev.add_argument("--optical", nargs="+", help="Sentinel-2 files (instead of a patch folder)")
    ev.add_argument("--sar", help="Sentinel-1 file to go with --optical")
    ev.add_argument("--bands", nargs="+", help="bands to score (default: all)")
    ev.add_argument(
        "--methods", nargs="+", default=["kernel", "linear", "whittaker", "sar-regression"]
    )
    ev.add_argument("--seeds", type=int, default=3, help="number of random hiding seeds")
    ev.add_argument("--csv", help="write the long table of scores to this CSV file")
    ev.set_defaults(func=_evaluate)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``stori`` command."""
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
