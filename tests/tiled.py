"""A larger copy of a real patch: WorldCereal NetCDF files tiled in space.

The WorldCereal patch 00002806639B424A is 64 x 64 px at 10 m: smaller than the chunks
users ask for (512), so chunking bugs hide in it. :func:`write_tiled_copy` writes a copy
of one of its files tiled ``reps`` x ``reps`` times in space (10 x 10: 640 x 640 px at
10 m, 320 x 320 at 20 m), on a grid that continues the original one (same origin,
spacing and orientation, so the 10 m and 20 m copies still nest 2:1), with the stored
integers, attributes, encodings and CRS of the original, and optionally fewer dates.
The ``tiled_wc1`` fixture of ``conftest.py`` holds such a copy of the 10 m, 20 m and
Sentinel-1 files.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

#: Encoding entries that describe the source file's layout, not the values.
_LAYOUT_ENCODING = ("chunksizes", "contiguous", "original_shape", "source", "preferred_chunks")


@dataclass(frozen=True)
class TiledPatch:
    """The tiled copy of a patch: one file per product, in one folder.

    ``reps`` is the tiling (10: each file 10 x 10 times the original in y and x);
    ``s2_dates``/``s1_dates`` the ``isel`` selections of the original dates that were kept.
    """

    s2_10m: Path
    s2_20m: Path
    s1: Path
    reps: int
    s2_dates: Any
    s1_dates: Any

    @property
    def s2(self) -> list[Path]:
        """The 10 m and 20 m Sentinel-2 files, as ``open_sentinel2`` takes them."""
        return [self.s2_10m, self.s2_20m]


def write_tiled_copy(src: Path, dst: Path, reps: int = 10, dates: Any = slice(None)) -> Path:
    """Write ``src`` tiled ``reps`` x ``reps`` times in space (and ``isel`` ``dates``) to ``dst``.

    Spatial variables (``(..., y, x)``) are tiled with :func:`numpy.tile`; the x/y
    coordinates continue the original grid from its first cell; the global ``bounds``
    attribute is updated. Everything else (stored dtypes, ``_FillValue``, the
    ``spatial_ref`` variable, attributes, time encoding) is kept as read with
    ``mask_and_scale=False``.
    """
    with xr.open_dataset(src, mask_and_scale=False) as raw:
        time_dim = next(d for d in raw.dims if d not in ("y", "x"))
        raw = raw.isel({time_dim: dates}).load()
    ny, nx = raw.sizes["y"] * reps, raw.sizes["x"] * reps
    step_y = float(raw.y.values[1] - raw.y.values[0])
    step_x = float(raw.x.values[1] - raw.x.values[0])
    y = raw.y.values[0] + step_y * np.arange(ny)
    x = raw.x.values[0] + step_x * np.arange(nx)
    variables = {}
    for name, var in raw.data_vars.items():
        if var.dims[-2:] == ("y", "x"):
            tiles = (1,) * (var.ndim - 2) + (reps, reps)
            var = xr.Variable(var.dims, np.tile(var.values, tiles), var.attrs)
        variables[name] = var
    coords = {n: c.variable for n, c in raw.coords.items() if n not in ("y", "x")}
    coords |= {"y": ("y", y, raw.y.attrs), "x": ("x", x, raw.x.attrs)}
    tiled = xr.Dataset(variables, coords=coords)
    for name, var in tiled.variables.items():
        source = raw[name].encoding if name in raw.variables else {}
        var.encoding = {k: v for k, v in source.items() if k not in _LAYOUT_ENCODING}
    left, top = x[0] - abs(step_x) / 2, y[0] + abs(step_y) / 2
    bounds = (left, top - abs(step_y) * ny, left + abs(step_x) * nx, top)
    tiled.attrs = raw.attrs | {"bounds": str(tuple(round(float(b)) for b in bounds))}
    tiled.to_netcdf(dst)
    return dst


def write_tiled_patch(
    folder: Path,
    dst: Path,
    reps: int = 10,
    s2_dates: Any = slice(None),
    s1_dates: Any = slice(None),
) -> TiledPatch:
    """Tiled copies of a patch's ``S2_L2A_10m``, ``S2_L2A_20m`` and ``S1_GRD-*_20m`` files."""
    dst.mkdir(parents=True, exist_ok=True)

    def one(prefix: str, dates: Any) -> Path:
        (src,) = sorted(folder.glob(f"{prefix}_*.nc"))
        return write_tiled_copy(src, dst / src.name, reps, dates)

    return TiledPatch(
        s2_10m=one("S2_L2A_10m", s2_dates),
        s2_20m=one("S2_L2A_20m", s2_dates),
        s1=one("S1_GRD-ASCENDING_20m", s1_dates),
        reps=reps,
        s2_dates=s2_dates,
        s1_dates=s1_dates,
    )
