"""``stori demo``: the pipeline on the built-in synthetic scene, and the outputs it writes.

The smallest scene each method runs on (:func:`_demo_min_size`), the check of the
command's values before any output (:func:`_check_demo`), the command itself
(:func:`_demo`: reflectance.zarr, maps.png and pixel.png) and its score against the
synthetic truth (:func:`_gap_rmse`).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from stori_xr.cli.errors import EXIT_OK, _error
from stori_xr.fill import METHODS


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
