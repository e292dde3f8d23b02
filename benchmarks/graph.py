"""Size and build time of the dask graph for a whole Sentinel-2 tile, Zarr to Zarr.

No data is read or computed: the input stores hold only their metadata (a 10,980 x
10,980 px tile of 6 bands, a clear mask and VV/VH on the same grid, 73 optical and 61
SAR dates), so the graph of ``interpolate`` and of writing its result is built exactly
as for a real tile::

    python benchmarks/graph.py                       # 10,980 px, chunks of 256 and 512
    python benchmarks/graph.py --size 2048 --chunks 256
    python benchmarks/graph.py --quick               # 512 px (tests)

"tasks" counts the unique tasks of the whole Zarr -> Zarr graph (reading, alignment,
kernel, writing) as the scheduler gets them, "interpolate" those of the result alone;
"tasks/chunk" divides the first by the chunks of the result (every variable's chunks).
Timings are printed, never asserted.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections import Counter
from pathlib import Path

import dask.array as dsa
import numpy as np
import pandas as pd
import xarray as xr

BANDS = ("B05", "B06", "B07", "B8A", "B11", "B12")


def _template(size: int, chunk: int, root: Path) -> tuple[Path, Path]:
    """Metadata-only Zarr stores of an optical and a SAR cube (no chunk is written)."""
    t = pd.date_range("2021-01-01", periods=73, freq="5D") + pd.Timedelta("10h50min")
    ts = pd.date_range("2020-12-28", periods=61, freq="6D") + pd.Timedelta("17h32min")
    y = 5_600_000 - 10.0 * (np.arange(size) + 0.5)
    x = 500_000 + 10.0 * (np.arange(size) + 0.5)

    def cube(n: int, dtype: str) -> dsa.Array:
        return dsa.zeros((n, size, size), dtype=dtype, chunks=(n, chunk, chunk))

    dims = ("time", "y", "x")
    optical = xr.Dataset(
        {b: (dims, cube(t.size, "float32"), {"units": "1"}) for b in BANDS},
        coords={"time": t, "y": y, "x": x},
    )
    optical["clear"] = (dims, cube(t.size, "bool"))
    sar = xr.Dataset(
        {p: (dims, cube(ts.size, "float32"), {"units": "dB"}) for p in ("VV", "VH")},
        coords={"time": ts, "y": y, "x": x},
    )
    paths = root / "optical.zarr", root / "sar.zarr"
    for ds, path in zip((optical, sar), paths, strict=True):
        ds.rio.write_crs("EPSG:32631").to_zarr(path, compute=False, consolidated=True)
    return paths


def measure(size: int, chunk: int, method: str) -> dict:
    """Build the Zarr -> Zarr graph for one chunk size; return its figures."""
    import stori_xr  # noqa: F401
    from stori_xr.output import to_zarr

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        optical_path, sar_path = _template(size, chunk, root)
        start = time.perf_counter()
        optical = xr.open_zarr(optical_path)
        sar = xr.open_zarr(sar_path)
        out = optical.stori.interpolate(sar, method=method)
        built = time.perf_counter() - start
        start = time.perf_counter()
        write = to_zarr(out, root / "out.zarr", compute=False)
        written = time.perf_counter() - start
        tasks = len(dict(write.__dask_graph__()))  # unique tasks, as the scheduler gets them
        graph = out.__dask_graph__()
        chunks = sum(int(np.prod([len(c) for c in v.chunks])) for v in out.data_vars.values())
        layers = Counter()
        for name, layer in graph.layers.items():
            layers[name.rsplit("-", 1)[0]] += len(layer)
    return {
        "size": size,
        "chunk": chunk,
        "tasks": tasks,
        "interpolate_tasks": len(dict(graph)),
        "output_chunks": chunks,
        "per_chunk": tasks / chunks,
        "interpolate_s": built,
        "to_zarr_s": written,
        "layers": layers.most_common(8),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=10_980, help="tile size in pixels")
    parser.add_argument("--chunks", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--method", default="kernel")
    parser.add_argument("--quick", action="store_true", help="512 px, chunks of 128")
    args = parser.parse_args(argv)
    size, chunks = (512, [128]) if args.quick else (args.size, args.chunks)
    print(f"command: python benchmarks/graph.py {' '.join(argv or [])}".rstrip())
    print(
        f"{'size':>6} {'chunk':>5} {'tasks':>9} {'interpolate':>11} {'out chunks':>10} "
        f"{'tasks/chunk':>11} {'interpolate s':>13} {'to_zarr s':>9}"
    )
    for chunk in chunks:
        r = measure(size, chunk, args.method)
        print(
            f"{r['size']:>6} {r['chunk']:>5} {r['tasks']:>9,} "
            f"{r['interpolate_tasks']:>11,} {r['output_chunks']:>10,} "
            f"{r['per_chunk']:>11.1f} {r['interpolate_s']:>13.2f} {r['to_zarr_s']:>9.2f}"
        )
        print("        largest layers:", ", ".join(f"{k} {v:,}" for k, v in r["layers"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
