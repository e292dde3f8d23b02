"""Speed of the learned methods: inference per CPU-second, and the fit on the target.

``method="stori"`` (its candidates — the kernel four times, Whittaker, the SAR
regression — and the network) and ``method="stori-rnn"`` (the published STORI network),
on a synthetic cube of 73 dates and 6 bands, numpy input, one core (dask's synchronous
scheduler, torch on one thread). Inference uses a model fitted beforehand (``fit=False``
with the shipped weights for ``stori``, a saved fit for ``stori-rnn``); the fit is timed
apart, on the same cube (it samples windows, so its time does not grow with the scene)::

    python benchmarks/ranker_speed.py                  # 128 x 128 px
    python benchmarks/ranker_speed.py --size 256
    python benchmarks/ranker_speed.py --quick          # 32 x 32 px (tests)

Also prints the kernel's figure on the same cube, for scale. Timings are printed, never
asserted.
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import sys
import tempfile
import time
from pathlib import Path


def _timed(fn):
    """Wall and CPU seconds of ``fn()``, and its result."""
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return time.perf_counter() - wall, time.process_time() - cpu, out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=128, help="scene size in pixels (square)")
    parser.add_argument("--quick", action="store_true", help="32 x 32 px, for the tests")
    args = parser.parse_args(argv)
    size = 32 if args.quick else args.size

    import dask
    import torch

    import stori_xr  # noqa: F401
    from stori_xr.datasets import make_scene

    torch.set_num_threads(1)
    print("command:", shlex.join([Path(sys.executable).name, *sys.argv]))
    print(
        f"{size} x {size} px, 73 dates, 6 bands; python {platform.python_version()}, torch "
        f"{torch.__version__}, {os.cpu_count()} cpus; one core (synchronous scheduler)"
    )
    scene = make_scene(size, size, periods=73, seed=3)
    warm = make_scene(16, 16, periods=73, seed=4)
    opt, sar = scene.optical, scene.sar
    n = size * size
    with tempfile.TemporaryDirectory() as tmp, dask.config.set(scheduler="synchronous"):
        rnn_path = str(Path(tmp) / "rnn.bin")
        fits = {
            "stori": lambda: opt.stori.fit(sar),
            "stori-rnn": lambda: opt.stori.fit(sar, method="stori-rnn"),
        }
        runs = {
            "kernel": {},
            "stori": {"fit": False},
            "stori-rnn": {"model": rnn_path},
        }
        warm.optical.stori.interpolate(warm.sar, method="kernel")
        warm.optical.stori.interpolate(warm.sar, method="stori", fit=False)
        print(f"\n{'method':10s} {'px-series/cpu-s':>16s} {'wall s':>8s} {'cpu s':>8s}  fit")
        for method, options in runs.items():
            fit_text = "-"
            if method in fits:
                wall, cpu, model = _timed(fits[method])
                if method == "stori-rnn":
                    model.save(rnn_path)
                fit_text = f"{wall:.1f} s wall, {cpu:.1f} s cpu"
            wall, cpu, _ = _timed(
                lambda m=method, o=options: opt.stori.interpolate(sar, method=m, **o)
            )
            print(f"{method:10s} {n / cpu:16,.0f} {wall:8.1f} {cpu:8.1f}  {fit_text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
