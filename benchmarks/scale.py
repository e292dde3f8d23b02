"""Zarr -> Zarr on a dask distributed LocalCluster: time, memory, spill, throughput.

A synthetic cube (``make_scene``: 6 bands, 73 optical dates, VV/VH) is written to Zarr
once (kept in ``--work`` between runs), then, on a ``LocalCluster`` of worker processes
with a memory limit each, for every chunk size:

- a plain copy, ``xr.open_zarr(src).to_zarr(dst)``, of the optical input (the speed of
  reading and writing that much data on this machine);
- ``open_zarr -> interpolate(method=...) -> stori_xr.output.to_zarr``.

Printed per run: seconds, throughput against the copy in the same run, the peak resident
memory of every worker process and of the client, what the workers spilled to disk, the
kernel's pixel-series per CPU-second of its tasks (from dask's task stream) and the
tasks of the graph, and, right after each run, ``interpolate`` on a numpy window of
the same scene in this process (the one-process figure, measured in the same hour)::

    python benchmarks/scale.py                                # 2048 px, chunks 512 and 256
    python benchmarks/scale.py --size 1024 --chunks 256 --workers 1 2
    python benchmarks/scale.py --quick                        # 128 px (tests)

The workers get the environment ``stori interpolate --workers`` gives them
(``stori_xr.cli.scheduler.worker_environ``: glibc's mmap threshold raised);
``--distributed-malloc`` leaves distributed's own.

Timings are printed, never asserted.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import tempfile
import time
import warnings
from pathlib import Path

import dask
import xarray as xr

from stori_xr.cli.scheduler import WORKER_ENVIRON, worker_environ
from stori_xr.exceptions import StoriError

warnings.filterwarnings("ignore", "Consolidated metadata", UserWarning)


def _scene(work: Path, size: int, periods: int, chunk: int) -> tuple[Path, Path]:
    """The synthetic cube in Zarr, chunked ``chunk`` x ``chunk`` (made once, then reused)."""
    from stori_xr.datasets import make_scene

    folder = work / f"scene-{size}-{periods}-{chunk}"
    optical, sar = folder / "optical.zarr", folder / "sar.zarr"
    if not (folder / "done").exists():
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        start = time.perf_counter()
        scene = make_scene(size, size, periods=periods, seed=0, chunks={"y": chunk, "x": chunk})
        scene.optical.to_zarr(optical)
        scene.sar.to_zarr(sar)
        (folder / "done").write_text("")
        print(f"  (wrote the {size} px scene in {time.perf_counter() - start:.0f} s)")
    return optical, sar


def _worker_peaks(client) -> list[float]:
    """Peak resident memory (MiB) of every worker process since it started."""
    peaks = client.run(lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return sorted(peaks.values())


def _spilled(client) -> float:
    """Bytes the workers wrote to disk (MiB)."""

    def spilled(dask_worker) -> float:
        total = getattr(dask_worker.data, "spilled_total", None)
        return float(total.disk) if total is not None else 0.0

    return sum(client.run(spilled).values()) / 2**20


def _breakdown(stream: list[dict]) -> list[tuple[str, float]]:
    """Compute seconds of the tasks by kind (the key's name without its token)."""
    seconds: dict[str, float] = {}
    for task in stream:
        key = task["key"]
        name = key[0] if isinstance(key, tuple) else str(key)
        kind = name.rsplit("-", 1)[0]
        for part in task["startstops"]:
            if part["action"] == "compute":
                seconds[kind] = seconds.get(kind, 0.0) + part["stop"] - part["start"]
    return sorted(seconds.items(), key=lambda kv: -kv[1])


def run_one(
    optical: Path,
    sar: Path,
    out: Path,
    workers: int,
    memory: str,
    method: str,
    environ: dict | None = None,
):
    """Copy, then interpolate, on a fresh cluster; return the figures of both."""
    from dask.distributed import Client, LocalCluster, get_task_stream

    import stori_xr  # noqa: F401
    from stori_xr.output import to_zarr

    figures = {}
    for job in ("copy", "stori"):
        target = out / f"{job}.zarr"
        shutil.rmtree(target, ignore_errors=True)
        with (
            dask.config.set({"distributed.nanny.pre-spawn-environ": environ}),
            LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                memory_limit=memory,
                dashboard_address=None,
            ) as cluster,
            Client(cluster) as client,
        ):
            start = time.perf_counter()
            src = xr.open_zarr(optical)
            if job == "copy":
                src.to_zarr(target)
                tasks = None
            else:
                result = src.stori.interpolate(xr.open_zarr(sar), method=method)
                write = to_zarr(result, target, compute=False)
                tasks = len(dict(write.__dask_graph__()))
                with get_task_stream(client) as stream:
                    write.compute()
            seconds = time.perf_counter() - start
            figures[job] = {
                "seconds": seconds,
                "peaks": _worker_peaks(client),
                "spilled": _spilled(client),
                "tasks": tasks,
            }
            if job == "stori":
                kernel = [
                    t
                    for t in stream.data
                    if str(t["key"]).startswith(f"('stori-{method}-")
                    and "values" not in str(t["key"])
                    and "sigma" not in str(t["key"])
                    and "source" not in str(t["key"])
                ]
                busy = sum(
                    sum(
                        s["stop"] - s["start"] for s in t["startstops"] if s["action"] == "compute"
                    )
                    for t in kernel
                )
                figures[job]["kernel_cpu_s"] = busy
                figures[job]["breakdown"] = _breakdown(stream.data)
    return figures


def one_process(optical: Path, sar: Path, method: str, side: int = 256) -> float:
    """Pixel-series per CPU-second of ``interpolate`` on numpy input, in this process.

    A ``side`` px window of the same scene, loaded into memory, after a warm-up on a
    small one: the one-process figure that the cluster's kernel is compared with, in
    the same run (this machine's speed changes from hour to hour).
    """
    import stori_xr  # noqa: F401

    def window(n: int):
        part = {"y": slice(0, n), "x": slice(0, n)}
        opt, radar = (xr.open_zarr(path).isel(part).load() for path in (optical, sar))
        return opt, radar

    opt, radar = window(32)
    opt.stori.interpolate(radar, method=method)
    opt, radar = window(side)
    start = time.process_time()
    opt.stori.interpolate(radar, method=method)
    return opt.sizes["y"] * opt.sizes["x"] / (time.process_time() - start)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=2048, help="scene size in pixels")
    parser.add_argument("--periods", type=int, default=73, help="optical dates")
    parser.add_argument("--chunks", type=int, nargs="+", default=[512, 256])
    parser.add_argument("--workers", type=int, nargs="+", default=[2])
    parser.add_argument("--memory-limit", default="2GB", help="per worker")
    parser.add_argument("--method", default="kernel")
    parser.add_argument(
        "--distributed-malloc",
        action="store_true",
        help="workers with distributed's environment only (not stori interpolate's)",
    )
    parser.add_argument("--work", type=Path, help="folder for the scenes (kept) and outputs")
    parser.add_argument("--quick", action="store_true", help="128 px, 24 dates (tests)")
    args = parser.parse_args(argv)
    if args.quick:
        args.size, args.periods, args.chunks, args.workers = 128, 24, [64], [2]
        args.memory_limit = "1GB"
    work = args.work or Path(tempfile.mkdtemp(prefix="stori-scale-"))
    environ = worker_environ()
    if args.distributed_malloc:
        environ = {k: v for k, v in environ.items() if k not in WORKER_ENVIRON}
    print(f"command: python benchmarks/scale.py {' '.join(argv or [])}".rstrip())
    print(
        f"scene {args.size} x {args.size} px, {args.periods} dates, 6 bands; method "
        f"{args.method}; workers of {args.memory_limit}, one thread each; work folder {work}"
    )
    print(f"worker environment: {environ}")
    header = (
        f"{'chunk':>5} {'workers':>7} {'copy s':>7} {'stori s':>8} {'x copy':>7} "
        f"{'px-series/s':>11} {'kernel px/cpu-s':>15} {'tasks':>7} {'worker peaks MiB':>18} "
        f"{'spilled MiB':>11}"
    )
    print(header)
    print("-" * len(header))
    for chunk in args.chunks:
        optical, sar = _scene(work, args.size, args.periods, chunk)
        for workers in args.workers:
            try:
                f = run_one(optical, sar, work, workers, args.memory_limit, args.method, environ)
            except StoriError as error:  # chunks too large for the workers: say so, go on
                print(f"{chunk:>5} {workers:>7}  refused: {error}")
                continue
            copy, stori = f["copy"], f["stori"]
            pixels = args.size**2
            peaks = "/".join(f"{p:.0f}" for p in stori["peaks"])
            print(
                f"{chunk:>5} {workers:>7} {copy['seconds']:>7.1f} {stori['seconds']:>8.1f} "
                f"{copy['seconds'] / stori['seconds']:>7.2f} {pixels / stori['seconds']:>11,.0f} "
                f"{pixels / max(stori['kernel_cpu_s'], 1e-9):>15,.0f} {stori['tasks']:>7,} "
                f"{peaks:>18} {stori['spilled']:>11.0f}"
            )
            top = stori["breakdown"][:6]
            print("        task seconds:", ", ".join(f"{k} {v:.0f}" for k, v in top))
            alone = one_process(optical, sar, args.method)
            kernel = pixels / max(stori["kernel_cpu_s"], 1e-9)
            print(
                f"        one process, numpy, right after: {alone:,.0f} px-series per "
                f"CPU-s; the cluster's kernel per CPU-s is {kernel / alone:.2f} of it"
            )
    client_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"client peak {client_peak:.0f} MiB")
    if args.work is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
