"""What a worker holds at its peak: Zarr -> Zarr on a one-worker LocalCluster.

Runs ``interpolate`` and ``to_zarr`` on a scene that ``benchmarks/scale.py`` wrote (its
``--work`` folder keeps it), on one worker process of one thread, and samples the
worker every 0.3 s: its resident memory and the results it holds between tasks (dask's
managed memory), summed by kind of task. Prints the sample of highest resident memory
and the worker's peak (``ru_maxrss``)::

    python benchmarks/scale.py --size 1024 --chunks 256 --workers 1 --work /tmp/scale1024
    python benchmarks/worker_memory.py /tmp/scale1024/scene-1024-73-256
"""

from __future__ import annotations

import argparse
import resource
import shutil
import tempfile
import time
from pathlib import Path


def held(dask_worker) -> tuple[float, float, dict[str, tuple[int, float]]]:
    """Resident MiB, managed MiB and (count, MiB) by kind of the results a worker holds."""
    import os

    import psutil

    fast = dask_worker.data.fast  # the results in memory (not spilled)
    kinds: dict[str, tuple[int, float]] = {}
    for key in list(fast.keys()):
        name = key[0] if isinstance(key, tuple) else str(key)
        kind = name.rsplit("-", 1)[0]
        count, mib = kinds.get(kind, (0, 0.0))
        kinds[kind] = (count + 1, mib + fast.weights.get(key, 0) / 2**20)
    rss = psutil.Process(os.getpid()).memory_info().rss / 2**20
    return rss, fast.total_weight / 2**20, kinds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scene", type=Path, help="a folder with optical.zarr and sar.zarr")
    parser.add_argument("--method", default="kernel")
    parser.add_argument("--memory-limit", default="2GB")
    args = parser.parse_args(argv)

    import xarray as xr
    from dask.distributed import Client, LocalCluster

    import stori_xr  # noqa: F401
    from stori_xr.output import to_zarr

    out = Path(tempfile.mkdtemp()) / "out.zarr"
    with (
        LocalCluster(
            n_workers=1,
            threads_per_worker=1,
            memory_limit=args.memory_limit,
            dashboard_address=None,
        ) as cluster,
        Client(cluster) as client,
    ):
        optical = xr.open_zarr(args.scene / "optical.zarr")
        sar = xr.open_zarr(args.scene / "sar.zarr")
        result = optical.stori.interpolate(sar, method=args.method)
        future = client.compute(to_zarr(result, out, compute=False))
        top = (0.0, 0.0, {})
        while not future.done():
            sample = next(iter(client.run(held).values()))
            top = max(top, sample, key=lambda s: s[0])
            time.sleep(0.3)
        future.result()
        maxrss = client.run(lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
        peak = next(iter(maxrss.values()))
    shutil.rmtree(out.parent, ignore_errors=True)
    chunks = dict(optical.chunks)
    sizes = dict(optical.sizes)
    print(f"scene {args.scene} ({sizes}, chunks {chunks['y'][0]} x {chunks['x'][0]} px)")
    print(f"worker peak (ru_maxrss) {peak / 1024:,.0f} MiB")
    print(f"highest sample: resident {top[0]:,.0f} MiB, results held {top[1]:,.0f} MiB:")
    for kind, (count, mib) in sorted(top[2].items(), key=lambda kv: -kv[1][1]):
        if mib >= 1:
            print(f"  {kind:40s} {count:4d} results {mib:8,.0f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
