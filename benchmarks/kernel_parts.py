"""Where the kernel's time goes: CPU seconds of one synthetic block with parts switched off.

Runs ``stori_fill`` on the blocks ``interpolate(method="kernel")`` hands it for a
synthetic scene (73 dates, 6 bands, 3 SAR features), with options that switch parts
of the kernel off, and prints the best of three CPU times of each. The differences
say what each part costs; pin it to one core (``taskset -c 1``) on a busy machine.

    python benchmarks/kernel_parts.py --size 128
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from speed import _kernel_blocks, _scene

from stori_xr.kernels import stori

QUIET = {"calibrate": False, "screen_z": np.inf}
TEMPORAL = {"candidates": ("temporal",), **QUIET}

#: (label, options, whether SAR is given)
RUNS = (
    ("as shipped", {}, True),
    ("no calibration, no screening", QUIET, True),
    ("temporal candidate only, no calibration or screening", TEMPORAL, True),
    ("  the same, radius 1", {**TEMPORAL, "radius": 1}, True),
    ("  the same, radius 1, no SAR", {**TEMPORAL, "radius": 1}, False),
)


def _cpu_seconds(blocks, options: dict, with_sar: bool, repeats: int = 3) -> float:
    best = np.inf
    for _ in range(repeats):
        start = time.process_time()
        for values, clear, sar, t, out_idx, given in blocks:
            sar = sar if with_sar else None
            stori.stori_fill(values, clear, sar, t, out_idx, **{**given, **options})
        best = min(best, time.process_time() - start)
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=128, help="scene side, pixels")
    args = parser.parse_args(argv)
    scene = _scene(args.size, 73)
    blocks = _kernel_blocks(scene.optical, scene.sar)
    n = args.size * args.size
    for label, options, with_sar in RUNS:
        _cpu_seconds(blocks, options, with_sar, repeats=1)  # compile
        seconds = _cpu_seconds(blocks, options, with_sar)
        print(f"{label:55s} {seconds:6.2f} CPU-s {n / seconds:9,.0f} px/CPU-s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
