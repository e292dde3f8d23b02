"""Speed and peak memory of every gap-filling method on a synthetic cube.

A pixel-series is one pixel's whole time series with all its bands. Each method
runs in its own subprocess (so that peak memory is its own), on one core: numpy
input, the eager path, numba warmed up first on a small cube. xarray's own
``interpolate_na(dim="time")`` (linear, no SAR, no neighbours) runs on the same cube
as the reference point::

    python benchmarks/speed.py                      # 512 x 512 px x 73 dates x 6 bands
    python benchmarks/speed.py --size 128 --methods kernel linear
    python benchmarks/speed.py --quick              # 48 x 48 px (tests)
    python benchmarks/speed.py --kernel-only --size 256   # the numba kernel alone

``--kernel-only`` times STORI's kernel by itself, in CPU seconds (``time.process_time``,
so that other work on the machine counts less), on the very blocks that
``interpolate(method="kernel")`` hands it: the two WorldCereal patches (when
``$STORI_DATA`` or ``../shared/data`` holds them; 32 x 32 px each, repeated) and the
synthetic scene of ``--size``.

Timings are printed, never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shlex
import subprocess
import sys
import time

METHODS = (
    "kernel",
    "linear",
    "whittaker",
    "sar-regression",
    "xarray-interpolate_na",
    "python-loop-np.interp",
)


def _scene(size: int, periods: int):
    from stori_xr.datasets import make_scene

    return make_scene(size, size, periods=periods, seed=0)


def _run_one(method: str, size: int, periods: int) -> dict:
    """Time one method in this process; return the figures."""
    import numpy as np

    from stori_xr.fill import interpolate

    scene = _scene(size, periods)
    bands = list(scene.truth.data_vars)
    # warm-up: numba compiles the kernels for whole-array outputs (one tile) and for
    # windows of them (more than one tile)
    warm = _scene(16, 12)
    if method == "xarray-interpolate_na":
        masked = scene.optical[bands]
        warm.optical[bands].interpolate_na(dim="time")
        start = time.perf_counter()
        # linear in time inside the series; the ends stay NaN (not scored)
        out = masked.interpolate_na(dim="time", use_coordinate=True)
        seconds = time.perf_counter() - start
    elif method == "python-loop-np.interp":
        # the reference point of issue 3 (about 14,000 pixel-series/s on its machine):
        # tells how fast this machine is
        start = time.perf_counter()
        out = _interp_loop(scene.optical[bands])
        seconds = time.perf_counter() - start
    else:
        interpolate(warm.optical, warm.sar, method=method)
        tiles = _scene(160, 12)
        interpolate(tiles.optical, tiles.sar, method=method)
        start = time.perf_counter()
        out = interpolate(scene.optical, scene.sar, method=method)
        seconds = time.perf_counter() - start
    gaps = ~scene.optical.clear.values
    err = np.concatenate([(out[b].values - scene.truth[b].values)[gaps] for b in bands])
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB -> MiB on Linux
    n = size * size
    return {
        "method": method,
        "pixels": n,
        "dates": int(scene.optical.sizes["time"]),
        "bands": len(bands),
        "seconds": seconds,
        "px_per_s": n / seconds,
        "peak_mib": peak,
        "rmse_gaps": float(np.sqrt(np.nanmean(err**2))),
    }


def _kernel_blocks(optical, sar) -> list[tuple]:
    """The blocks and options that ``interpolate(method="kernel")`` hands the kernel."""
    import dataclasses

    from stori_xr import fill
    from stori_xr.kernels import stori

    blocks = []

    def record(values, clear, sar, t, out_idx, **options):
        blocks.append((values, clear, sar, t, out_idx, options))
        return stori.stori_fill(values, clear, sar, t, out_idx, **options)

    kernel = fill.METHODS["kernel"]
    fill.register_method(dataclasses.replace(kernel, name="kernel-recorded", block=record))
    fill.interpolate(optical, sar, method="kernel-recorded")
    return blocks


def _kernel_scenes(size: int, periods: int) -> dict[str, list[tuple]]:
    """Kernel blocks of the WorldCereal patches (when found) and of a synthetic scene."""
    from pathlib import Path

    from stori_xr.evaluate.patches import load_worldcereal_patch

    scenes = {}
    here = Path(__file__).resolve().parents[1]
    data = Path(os.environ.get("STORI_DATA") or here.parent / "shared" / "data") / "worldcereal"
    for folder in sorted(data.glob("0000*")) if data.is_dir() else []:
        optical, sar = load_worldcereal_patch(folder)
        scenes[f"WorldCereal {folder.name}"] = _kernel_blocks(optical, sar)
    scene = _scene(size, periods)
    scenes[f"synthetic {size} x {size}"] = _kernel_blocks(scene.optical, scene.sar)
    return scenes


def _run_kernel_only(size: int, periods: int, seconds: float = 2.0) -> list[dict]:
    """Pixel-series per CPU-second of the kernel alone, per scene (repeated to ``seconds``)."""
    from stori_xr.kernels import stori

    rows = []
    for name, blocks in _kernel_scenes(size, periods).items():
        reps = 0
        pixels = 0
        start = time.process_time()
        while reps == 0 or time.process_time() - start < seconds:
            for values, clear, sar, t, out_idx, options in blocks:
                _, _, source = stori.stori_fill(values, clear, sar, t, out_idx, **options)
                pixels += source.shape[1] * source.shape[2]
            reps += 1
        cpu = time.process_time() - start
        nb, _, _, nt = blocks[0][0].shape
        rows.append(
            {
                "scene": name,
                "dates": nt,
                "bands": nb,
                "runs": reps,
                "cpu_s": cpu,
                "px_per_cpu_s": pixels / cpu,
            }
        )
    return rows


def _interp_loop(ds):
    """Linear interpolation in time with a plain Python loop of ``np.interp`` per pixel."""
    import numpy as np

    t = ds["time"].values.astype("datetime64[s]").astype(np.float64) / 86400.0
    cube = np.stack([ds[b].values for b in ds.data_vars])  # (band, t, y, x)
    nb, nt, ny, nx = cube.shape
    series = np.ascontiguousarray(cube.transpose(2, 3, 0, 1)).reshape(ny * nx, nb, nt)
    filled = np.empty_like(series)
    for p in range(ny * nx):
        for k in range(nb):
            v = series[p, k]
            ok = np.isfinite(v)
            filled[p, k] = np.interp(t, t[ok], v[ok]) if ok.any() else np.nan
    out = filled.reshape(ny, nx, nb, nt).transpose(2, 3, 0, 1)
    return ds.copy(data={b: out[k] for k, b in enumerate(ds.data_vars)})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=512, help="scene size in pixels (square)")
    parser.add_argument("--periods", type=int, default=73, help="number of optical dates")
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    parser.add_argument("--quick", action="store_true", help="48 x 48 px, for the tests")
    parser.add_argument(
        "--kernel-only", action="store_true", help="the numba kernel alone, per CPU-second"
    )
    parser.add_argument("--one", help=argparse.SUPPRESS)  # internal: run one method
    args = parser.parse_args(argv)
    size = 48 if args.quick else args.size
    if args.one:
        print(json.dumps(_run_one(args.one, size, args.periods)))
        return 0
    if args.kernel_only:
        return _print_kernel_only(size, args.periods, argv)
    env = dict(os.environ, OMP_NUM_THREADS="1", NUMBA_NUM_THREADS="1", MKL_NUM_THREADS="1")
    cmd = [sys.executable, os.path.abspath(__file__), "--size", str(size)]
    cmd += ["--periods", str(args.periods)]
    rows = []
    for method in args.methods:
        # pin to one core when the platform allows it
        pin = ["taskset", "-c", "0"] if platform.system() == "Linux" and _has("taskset") else []
        res = subprocess.run(
            [*pin, *cmd, "--one", method], env=env, capture_output=True, text=True, check=True
        )
        rows.append(json.loads(res.stdout.strip().splitlines()[-1]))
    print(f"$ python benchmarks/{os.path.basename(__file__)} {shlex.join(argv or sys.argv[1:])}")
    print(
        f"synthetic cube: {size} x {size} px, {rows[0]['dates']} dates, {rows[0]['bands']} "
        f"bands; one core ({platform.processor() or platform.machine()}, {os.cpu_count()} "
        "cores on the machine)"
    )
    ref = next((r for r in rows if r["method"] == "xarray-interpolate_na"), None)
    head = f"{'method':<24}{'seconds':>9}{'px-series/s':>13}{'x xarray':>10}{'peak MiB':>10}"
    print(head + f"{'RMSE gaps':>11}")
    print("-" * (len(head) + 11))
    for r in rows:
        ratio = f"{r['seconds'] / ref['seconds']:.2f}" if ref else "-"
        print(
            f"{r['method']:<24}{r['seconds']:>9.2f}{r['px_per_s']:>13,.0f}{ratio:>10}"
            f"{r['peak_mib']:>10.0f}{r['rmse_gaps']:>11.4f}"
        )
    return 0


def _print_kernel_only(size: int, periods: int, argv: list[str] | None) -> int:
    """Run :func:`_run_kernel_only` in this process (the kernel is serial) and print a table."""
    rows = _run_kernel_only(size, periods)
    print(f"$ python benchmarks/{os.path.basename(__file__)} {shlex.join(argv or sys.argv[1:])}")
    print("the numba kernel alone, one thread, CPU seconds (process_time); numba warmed up")
    head = f"{'scene':<30}{'dates':>6}{'bands':>6}{'runs':>6}{'CPU s':>8}{'px-series/CPU-s':>17}"
    print(head)
    print("-" * len(head))
    for r in rows:
        print(
            f"{r['scene']:<30}{r['dates']:>6}{r['bands']:>6}{r['runs']:>6}{r['cpu_s']:>8.2f}"
            f"{r['px_per_cpu_s']:>17,.0f}"
        )
    return 0


def _has(program: str) -> bool:
    from shutil import which

    return which(program) is not None


if __name__ == "__main__":
    sys.exit(main())
