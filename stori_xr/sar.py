"""SAR preparation for alignment: units, reprojection, orbits, time interpolation, features.

The rules are those of :mod:`stori_xr.align` (see its docstring and ``docs/alignment.md``).
"""

from __future__ import annotations

import threading
from collections.abc import Hashable
from typing import Any

import dask.array as dsa
import numpy as np
import rioxarray  # noqa: F401  (registers .rio)
import xarray as xr
from dask.base import tokenize

from stori_xr import validate
from stori_xr.blocks import pick
from stori_xr.dates import time_groups, to_days
from stori_xr.exceptions import (
    DataFormatError,
    MissingCRSError,
    MissingVariableError,
    NoOverlapError,
)
from stori_xr.kernels import interp_time
from stori_xr.kernels.sarseries import normalise_merge
from stori_xr.metadata import crs_of

SAR_FEATURES = ("VV", "VH", "VH_VV", "RVI")

_TRACK_GAP_MINUTES = 3.0


def infer_tracks(times: np.ndarray) -> np.ndarray:
    """Group acquisitions into tracks by their time of day.

    Passes of one relative orbit over a place recur at the same time of day within
    a minute or two; different relative orbits differ by several minutes. Times of
    day are clustered with a gap of 3 minutes (circularly over midnight).

    Returns
    -------
    ndarray of int
        A track label per acquisition, 0, 1, ...
    """
    ns = np.asarray(times, dtype="datetime64[ns]")
    minutes = (ns - ns.astype("datetime64[D]")).astype(np.int64) / 60e9
    order = np.argsort(minutes)
    sm = minutes[order]
    if sm.size == 0:
        return np.zeros(0, dtype=np.int64)
    labels_sorted = np.cumsum(np.r_[0, np.diff(sm) > _TRACK_GAP_MINUTES])
    # wrap around midnight: the last cluster joins the first when they are close
    if labels_sorted[-1] > 0 and (sm[0] + 1440.0 - sm[-1]) <= _TRACK_GAP_MINUTES:
        labels_sorted[labels_sorted == labels_sorted[-1]] = 0
    labels = np.empty_like(labels_sorted)
    labels[order] = labels_sorted
    return np.unique(labels, return_inverse=True)[1]


#: Names of a DataArray's polarisation dimension, as SAR stacks call it.
_POLARISATION_DIMS = ("polarisation", "polarization", "pol", "band")


def sar_dataset(sar: xr.Dataset | xr.DataArray) -> xr.Dataset:
    """The SAR input as a Dataset of polarisations.

    A DataArray is accepted with a polarisation dimension (``polarisation``,
    ``polarization``, ``pol`` or ``band``, labelled ``VV``/``VH`` in any case), or
    named ``VV`` or ``VH``.

    Raises
    ------
    MissingVariableError
        When a DataArray has neither.
    DataFormatError
        When ``sar`` is not an xarray object.
    """
    if isinstance(sar, xr.Dataset):
        return sar
    if not isinstance(sar, xr.DataArray):
        raise DataFormatError(
            f"sar= must be an xarray Dataset with VV and/or VH variables, not "
            f"{type(sar).__name__}; read SAR files with stori_xr.io.open_sentinel1."
        )
    dim = next((d for d in _POLARISATION_DIMS if d in sar.dims), None)
    if dim is not None:
        ds, _ = validate.as_band_dataset(sar, band_dim=dim)
        for var in ds.data_vars.values():  # the array's attributes (units) hold for each
            var.attrs = {**sar.attrs, **var.attrs}
        return ds.rename(
            {v: str(v).upper() for v in ds.data_vars if str(v).upper() in ("VV", "VH")}
        )
    if sar.name in ("VV", "VH"):
        return sar.to_dataset()
    raise MissingVariableError(
        f"the SAR input is a DataArray named {sar.name!r} with dims {list(sar.dims)} and no "
        "polarisation dimension: pass a Dataset, e.g. xr.Dataset({'VV': vv, 'VH': vh}), a "
        "DataArray named 'VV' or 'VH' (sar.rename('VV')), or one with a 'polarisation' "
        "dimension labelled VV / VH."
    )


def prepare_sar(
    sar: xr.Dataset,
    *,
    sar_units: str | None,
    rechunk: bool,
) -> tuple[xr.Dataset, Hashable]:
    """Validate the SAR input and return its ``VV``/``VH`` in dB, with its time dim."""
    sar = sar_dataset(sar)
    pols = [p for p in ("VV", "VH") if p in sar.data_vars]
    if not pols:
        raise MissingVariableError(
            f"the SAR input has neither 'VV' nor 'VH' (it has {list(sar.data_vars)}); rename "
            "its backscatter variables, e.g. sar.rename({'sigma0_vv': 'VV', 'sigma0_vh': 'VH'})."
        )
    tdim = validate.find_time_dim(sar)
    validate.find_spatial_dims(sar)
    validate.check_sorted(sar, tdim, "SAR")
    sar = validate.check_time_chunks(sar, tdim, "SAR", rechunk)
    out = {}
    for p in pols:
        var = sar[p]
        units = validate.sar_units(var, sar_units)
        var = validate.check_sar_values(var.astype(np.float32, copy=False), units)
        validate.check_not_all_missing(var, "SAR variable")
        if units == "linear":
            var = 10.0 * np.log10(var.where(var > 0))
        out[p] = var.astype(np.float32, copy=False)
    ds = xr.Dataset(out, coords={c: sar.coords[c] for c in sar.coords})
    return ds, tdim


def _same_grid(a: xr.Dataset | xr.DataArray, b: xr.Dataset | xr.DataArray) -> bool:
    ya, xa = validate.find_spatial_dims(a)
    yb, xb = validate.find_spatial_dims(b)
    if a.sizes[ya] != b.sizes[yb] or a.sizes[xa] != b.sizes[xb]:
        return False
    return bool(
        np.allclose(a[ya].values, b[yb].values, rtol=0, atol=1e-6)
        and np.allclose(a[xa].values, b[xb].values, rtol=0, atol=1e-6)
    )


def _grid(obj: xr.Dataset | xr.DataArray) -> tuple[Any, Any, tuple[int, int]]:
    """(crs, affine transform, (ny, nx)) of an object with y/x dims."""
    y, x = validate.find_spatial_dims(obj)
    return crs_of(obj), _transform(obj), (obj.sizes[y], obj.sizes[x])


def _transform(obj: xr.Dataset | xr.DataArray) -> Any:
    """The affine transform of the cell-centre ``y``/``x`` coordinates (regular grid)."""
    from affine import Affine

    y, x = validate.find_spatial_dims(obj)
    xs, ys = obj[x].values.astype(np.float64), obj[y].values.astype(np.float64)
    if xs.size < 2 or ys.size < 2:  # one row or column: the spacing is in the metadata
        return obj.rio.set_spatial_dims(x_dim=x, y_dim=y, inplace=False).rio.transform()
    rx = (xs[-1] - xs[0]) / (xs.size - 1)
    ry = (ys[-1] - ys[0]) / (ys.size - 1)
    return Affine(rx, 0.0, xs[0] - rx / 2, 0.0, ry, ys[0] - ry / 2)


def _bounds(obj: xr.Dataset | xr.DataArray) -> tuple[float, float, float, float]:
    """(left, bottom, right, top) of the grid's outer cell edges."""
    _, transform, (ny, nx) = _grid(obj)
    x0, y0 = transform.c, transform.f
    x1, y1 = transform @ (nx, ny)
    return min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)


#: rasterio builds an in-memory dataset before giving it its transform; when several
#: threads reproject at once it sometimes warns "Dataset has no geotransform" although
#: every transform is given (the results are right). One reprojection at a time per
#: process avoids that without touching the user's warning filters; it is a small part
#: of the work, and dask's processes (a distributed cluster) still run in parallel.
_RASTERIO_LOCK = threading.Lock()


def _reproject_block(
    block: np.ndarray,
    src_transform: Any,
    src_crs: Any,
    dst_transform: Any,
    dst_crs: Any,
    dst_shape: tuple[int, int],
    resampling: str,
) -> np.ndarray:
    """Reproject a (t, y, x) block of dB values through linear power."""
    from rasterio.enums import Resampling
    from rasterio.warp import reproject

    linear = np.power(10.0, block.astype(np.float64) / 10.0)
    dst = np.full((block.shape[0], *dst_shape), np.nan, dtype=np.float64)
    if block.shape[0]:
        with _RASTERIO_LOCK:
            reproject(
                linear,
                dst,
                src_transform=src_transform,
                src_crs=src_crs,
                dst_transform=dst_transform,
                dst_crs=dst_crs,
                src_nodata=np.nan,
                dst_nodata=np.nan,
                resampling=Resampling[resampling],
            )
    with np.errstate(divide="ignore", invalid="ignore"):
        return (10.0 * np.log10(np.where(dst > 0, dst, np.nan))).astype(np.float32)


def regrid_sar(sar: xr.Dataset, tdim: Hashable, optical: xr.Dataset) -> xr.Dataset:
    """Bring SAR onto the optical grid (no-op when the grids are the same)."""
    oy, ox = validate.find_spatial_dims(optical)
    sy, sx = validate.find_spatial_dims(sar)
    if _same_grid(sar, optical):
        return sar.rename({sy: oy, sx: ox}).assign_coords({oy: optical[oy], ox: optical[ox]})
    src_crs, src_tr, _ = _grid(sar)
    dst_crs, dst_tr, dst_shape = _grid(optical)
    if src_crs is None or dst_crs is None:
        which = "SAR" if src_crs is None else "optical"
        raise MissingCRSError(
            f"the SAR and optical grids differ and the {which} input has no CRS to reproject "
            "with; write it with .rio.write_crs('EPSG:32631') (your CRS) on both inputs."
        )
    _check_spatial_overlap(sar, optical, src_crs, dst_crs)
    resampling = "average" if _cell_size(sar, src_crs, dst_crs) < abs(dst_tr.a) else "bilinear"
    kwargs = {
        "src_transform": src_tr,
        "src_crs": src_crs,
        "dst_transform": dst_tr,
        "dst_crs": dst_crs,
        "dst_shape": dst_shape,
        "resampling": resampling,
    }
    ref = next(iter(optical.data_vars.values()))
    tiles = ref.chunksizes if ref.chunks is not None else {}
    ychunks = tiles.get(oy, (dst_shape[0],))
    xchunks = tiles.get(ox, (dst_shape[1],))
    out = {}
    for name, var in sar.data_vars.items():
        var = var.transpose(tdim, sy, sx)
        if var.chunks is None:
            data = _reproject_block(var.values, **kwargs)
        else:
            data = _reproject_tiles(var.data, ychunks, xchunks, kwargs)
        out[name] = xr.DataArray(data, dims=(tdim, oy, ox), attrs=var.attrs)
    coords = {tdim: sar[tdim], oy: optical[oy], ox: optical[ox]}
    coords.update({c: sar.coords[c] for c in sar.coords if sar.coords[c].dims == (tdim,)})
    return xr.Dataset(out, coords=coords)


def _reproject_tiles(
    src: dsa.Array, ychunks: tuple[int, ...], xchunks: tuple[int, ...], kwargs: dict[str, Any]
) -> dsa.Array:
    """Reproject lazily, one task per tile of the optical grid.

    Each task reads only the SAR window that covers its tile (plus a margin of two
    SAR cells for the resampling kernels), so memory per task stays that of a tile.
    """
    from affine import Affine
    from rasterio.warp import transform_bounds

    src_tr, dst_tr = kwargs["src_transform"], kwargs["dst_transform"]
    _, sny, snx = src.shape
    rows = []
    y0 = 0
    for h in ychunks:
        row = []
        x0 = 0
        for w in xchunks:
            tile_tr = dst_tr @ Affine.translation(x0, y0)
            west, north = tile_tr @ (0, 0)
            east, south = tile_tr @ (w, h)
            bounds = transform_bounds(
                kwargs["dst_crs"],
                kwargs["src_crs"],
                min(west, east),
                min(north, south),
                max(west, east),
                max(north, south),
            )
            cols, lines = zip(
                *[~src_tr @ (bx, by) for bx in bounds[::2] for by in bounds[1::2]], strict=True
            )
            c0 = int(np.clip(np.floor(min(cols)) - 2, 0, snx))
            c1 = int(np.clip(np.ceil(max(cols)) + 2, 0, snx))
            r0 = int(np.clip(np.floor(min(lines)) - 2, 0, sny))
            r1 = int(np.clip(np.ceil(max(lines)) + 2, 0, sny))
            tile_kwargs = {
                **kwargs,
                "src_transform": src_tr @ Affine.translation(c0, r0),
                "dst_transform": tile_tr,
                "dst_shape": (h, w),
            }
            if c1 > c0 and r1 > r0:
                window = src[:, r0:r1, c0:c1].rechunk({1: -1, 2: -1})
                tile = dsa.map_blocks(
                    _reproject_block,
                    window,
                    **tile_kwargs,
                    chunks=(window.chunks[0], (h,), (w,)),
                    dtype=np.float32,
                    meta=np.array((), dtype=np.float32),
                )
            else:  # the tile lies outside the SAR extent
                tile = dsa.full(
                    (src.shape[0], h, w),
                    np.nan,
                    dtype=np.float32,
                    chunks=(src.chunks[0], (h,), (w,)),
                )
            row.append(tile)
            x0 += w
        rows.append(row)
        y0 += h
    return dsa.block([[tile for tile in row] for row in rows])


def _cell_size(sar: xr.Dataset, src_crs: Any, dst_crs: Any) -> float:
    """Width of a SAR cell measured in the units of the optical CRS."""
    from rasterio.warp import transform_bounds

    _, sx = validate.find_spatial_dims(sar)
    left, _, right, _ = transform_bounds(src_crs, dst_crs, *_bounds(sar))
    return abs(right - left) / sar.sizes[sx]


def _check_spatial_overlap(sar: xr.Dataset, optical: xr.Dataset, src_crs, dst_crs) -> None:
    from rasterio.warp import transform_bounds

    sb, ob = _bounds(sar), _bounds(optical)
    if src_crs != dst_crs:
        sb = transform_bounds(src_crs, dst_crs, *sb)
    if sb[0] >= ob[2] or sb[2] <= ob[0] or sb[1] >= ob[3] or sb[3] <= ob[1]:
        raise NoOverlapError(
            f"the SAR extent {tuple(round(v, 1) for v in sb)} and the optical extent "
            f"{tuple(round(v, 1) for v in ob)} (in the optical CRS) do not overlap; check that "
            "both cover the same area and that their CRS are right."
        )


def sar_tracks(sar: xr.Dataset, tdim: Hashable) -> np.ndarray:
    """Orbit label per SAR acquisition: ``relative_orbit`` when known, else inferred."""
    if "relative_orbit" in sar.coords and sar["relative_orbit"].dims == (tdim,):
        return np.unique(sar["relative_orbit"].values, return_inverse=True)[1]
    return infer_tracks(sar[tdim].values)


#: Everything :func:`sar_features` can compute, in the order of its output.
SAR_OUTPUTS = (*SAR_FEATURES, "sar_days", "sar_flag")


def _sar_block(
    *pols: np.ndarray,
    names: tuple[str, ...],
    outputs: tuple[str, ...],
    t: np.ndarray,
    tracks: np.ndarray,
    groups: np.ndarray,
    target: np.ndarray,
    tolerance: float,
    normalise: bool,
) -> tuple[np.ndarray, ...]:
    """SAR features of one spatial block; inputs (y, x, t) in dB, outputs (y, x, target)."""
    tm = t[np.unique(groups, return_index=True)[1]]
    interp, days, flags = {}, [], []
    for n, v in zip(names, pols, strict=True):
        series = normalise_merge(v, tracks, groups, normalise)
        interp[n], d, f = interp_time(series, tm, target, tolerance)
        days.append(d)
        flags.append(f)
    out = {}
    for n in ("VV", "VH"):
        if n in outputs:
            out[n] = interp[n]
    if "VH_VV" in outputs:
        out["VH_VV"] = interp["VH"] - interp["VV"]
    if "RVI" in outputs:
        with np.errstate(invalid="ignore", over="ignore"):
            # 4 VH / (VV + VH) in linear power, as 4 / (1 + VV/VH): one power, not two
            ratio = np.power(np.float32(10.0), (interp["VV"] - interp["VH"]) / np.float32(10.0))
            out["RVI"] = np.float32(4.0) / (np.float32(1.0) + ratio)
    if "sar_days" in outputs:
        out["sar_days"] = np.maximum.reduce(days) if len(days) > 1 else days[0]
    if "sar_flag" in outputs:
        out["sar_flag"] = np.maximum.reduce(flags) if len(flags) > 1 else flags[0]
    return tuple(out[n] for n in outputs)


def _sar_tile(*pols: np.ndarray, **kwargs) -> tuple[np.ndarray, ...]:
    """:func:`_sar_block` on ``(t, y, x)`` blocks; outputs ``(target, y, x)`` (views)."""
    outs = _sar_block(*(np.moveaxis(p, 0, -1) for p in pols), **kwargs)
    return tuple(np.moveaxis(o, -1, 0) for o in outs)


def sar_features(
    sar: xr.Dataset,
    tdim: Hashable,
    targets: np.ndarray,
    out_tdim: Hashable,
    *,
    tolerance: float,
    merge_within: float,
    normalise: bool,
    outputs: tuple[str, ...] | None = None,
) -> xr.Dataset:
    """SAR features on the target dates (same grid as ``sar``).

    ``outputs`` names the variables to compute (default: every one of
    :data:`SAR_OUTPUTS` that the polarisations allow).
    """
    names = tuple(str(p) for p in sar.data_vars)
    derived = ("VH_VV", "RVI") if len(names) == 2 else ()
    possible = (*names, *derived, "sar_days", "sar_flag")
    outputs = tuple(o for o in SAR_OUTPUTS if o in possible and (outputs is None or o in outputs))
    t = to_days(sar[tdim].values)
    tau = to_days(targets)
    kwargs = {
        "names": names,
        "outputs": outputs,
        "t": t,
        "tracks": sar_tracks(sar, tdim),
        "groups": time_groups(sar[tdim].values, merge_within),
        "target": tau,
        "tolerance": tolerance,
        "normalise": normalise,
    }
    ydim, xdim = validate.find_spatial_dims(sar)
    pols = [sar[n].transpose(tdim, ydim, xdim).data for n in names]
    dtypes = [np.int8 if o == "sar_flag" else np.float32 for o in outputs]
    if not any(isinstance(p, dsa.Array) for p in pols):
        arrays = _sar_tile(*pols, **kwargs)
    else:  # one task per tile for every feature, then one per output (no transposes)
        pols = [dsa.asarray(p).rechunk({0: -1}) for p in pols]
        pols = [p.rechunk(dict(enumerate(pols[0].chunks))) for p in pols]
        tiles = dsa.map_blocks(
            _sar_tile,
            *pols,
            drop_axis=0,
            chunks=pols[0].chunks[1:],
            dtype=object,
            meta=np.empty((0, 0), dtype=object),
            name=f"stori-sar-features-{tokenize(*pols, kwargs)}",
            **kwargs,
        )
        arrays = [
            pick(tiles, str(o), tau.size, i, None, d)
            for i, (o, d) in enumerate(zip(outputs, dtypes, strict=True))
        ]
    dims = (out_tdim, ydim, xdim)
    coords = {out_tdim: targets, ydim: sar[ydim], xdim: sar[xdim]}
    return xr.Dataset({o: (dims, a) for o, a in zip(outputs, arrays, strict=True)}, coords=coords)
