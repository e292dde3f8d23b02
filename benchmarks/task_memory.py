"""Peak memory of one method task, against its input chunk and ``blocks.task_bytes``.

Runs :func:`stori_xr.blocks.run_tile` — what each tile's task runs inside dask — on one
synthetic haloed tile (73 dates, 6 bands, 3 SAR features, float32) under
:mod:`tracemalloc`, and prints its peak with and without the haloed stack it receives,
the input chunk (the tile's layers without halo) and the bound that
:func:`stori_xr.blocks.task_bytes` computes for it (what ``check_task_memory`` plans
with)::

    python benchmarks/task_memory.py --tiles 128 256
"""

from __future__ import annotations

import argparse
import sys
import tracemalloc

import numpy as np

from stori_xr import blocks
from stori_xr.fill import METHODS

DATES, BANDS, SAR = 73, 6, 3


def measure(tile: int, method: str) -> dict[str, float]:
    """MiB: the task's peak above its inputs, with them, its input chunk, and the bound."""
    spec = METHODS[method]
    halo = spec.halo({})
    side = tile + 2 * halo
    rng = np.random.default_rng(0)
    shape = (DATES, side, side)
    layers = [rng.uniform(0.01, 0.5, shape).astype(np.float32) for _ in range(BANDS)]
    layers += [rng.normal(-10.0, 2.0, shape).astype(np.float32) for _ in range(SAR)]
    stack = np.stack(layers)  # the haloed (k, t, y, x) stack a task receives
    del layers
    clear = rng.random(shape) < 0.6
    options = {
        "block": spec.block,
        "names": [f"B{k}" for k in range(BANDS)],
        "t": np.arange(DATES) * 5.0,
        "out_idx": np.arange(DATES),
        "options": {},
        "bounds": None,
    }
    small = (slice(None), slice(0, 24), slice(0, 24))  # compile first, outside the trace
    blocks.run_tile(stack[:, *small], clear[small], core=(0, 24, 0, 24), **options)
    core = (halo, halo + tile, halo, halo + tile)
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    blocks.run_tile(stack, clear, core=core, **options)
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    inputs = stack.nbytes + clear.nbytes
    chunk = stack.nbytes * tile**2 / side**2
    bound = blocks.task_bytes(BANDS + SAR, BANDS, DATES, DATES, (tile, tile), halo, 4)
    mib = 2.0**20
    return {
        "above": peak / mib,
        "with": (peak + inputs) / mib,
        "chunk": chunk / mib,
        "bound": bound / mib,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiles", type=int, nargs="+", default=[128, 256], help="tile sizes")
    parser.add_argument("--method", default="kernel", help="a method with a halo")
    args = parser.parse_args(argv)
    print(f"method {args.method}, {DATES} dates, {BANDS} bands, {SAR} SAR features, float32")
    print("tile px  peak above inputs MiB  peak MiB  input chunk MiB  x chunk  task_bytes MiB")
    for tile in args.tiles:
        r = measure(tile, args.method)
        print(
            f"{tile:7d}  {r['above']:21.0f}  {r['with']:8.0f}  {r['chunk']:15.0f}  "
            f"{r['with'] / r['chunk']:7.1f}  {r['bound']:14.0f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
