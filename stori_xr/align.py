"""Alignment of SAR and optical cubes on one grid and one set of target dates.

:func:`align` is the first step of STORI. It returns, on the optical grid and
the target dates, everything the gap-filling kernel needs:

- the optical bands, NaN where not clear, and the boolean ``clear`` mask;
- per pixel, the days since the last and until the next clear optical value
  (computed from *all* optical acquisitions, not only those on target dates);
- the SAR features ``VV``, ``VH`` (dB), ``VH_VV`` (dB) and ``RVI`` on every
  target date, the days to the nearest SAR acquisition and a flag.

Rules (documented in ``docs/alignment.md``):

- **Grid.** SAR on the same grid as the optical is used as is. Otherwise it is
  reprojected with rasterio onto the optical grid (both need a CRS), in linear
  power, with ``average`` resampling when the SAR is finer (coarsening) and
  ``bilinear`` otherwise.
- **Orbits.** Backscatter depends on the incidence angle, so series that mix
  relative orbits alternate between two levels. Each orbit's per-pixel mean (dB)
  is replaced by the all-orbit per-pixel mean (``orbit_normalise=True``). The
  orbit of each acquisition is the ``relative_orbit`` coordinate when present;
  otherwise acquisitions are grouped into tracks by their time of day (passes of
  one relative orbit recur at the same time of day within a minute or two;
  different orbits differ by several minutes).
- **Same-time acquisitions.** Acquisitions closer than ``merge_within`` (default
  60 s, e.g. two adjacent Sentinel-2 granules) are merged into one at the first
  time stamp: optical values are the mean of the clear values (clear when any is),
  SAR values the mean in linear power.
- **Time.** SAR is interpolated linearly in dB between the last acquisition at or
  before and the first at or after each target date when both lie within
  ``tolerance``; the nearer one is taken when only one does; otherwise NaN with
  ``sar_flag = 2``. RVI = 4·VH/(VV+VH) is computed from the interpolated values
  in linear power. Optical values are placed on a target date when an
  acquisition lies within ``match_within`` (default 12 h) of it.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

import dask.array as dsa
import numpy as np
import pandas as pd
import rioxarray  # noqa: F401  (registers .rio)
import xarray as xr

from stori_xr import validate
from stori_xr.exceptions import (
    AllMissingError,
    MissingCRSError,
    MissingVariableError,
    NoOverlapError,
    StoriError,
    UnsortedTimeError,
)
from stori_xr.kernels import clear_distance, interp_time
from stori_xr.metadata import append_history, copy_crs, format_call

_NS_PER_DAY = 86_400e9
SAR_FEATURES = ("VV", "VH", "VH_VV", "RVI")
_TRACK_GAP_MINUTES = 3.0

TimesLike = str | Sequence[Any] | np.ndarray | pd.DatetimeIndex | xr.DataArray | None


def to_days(times: np.ndarray) -> np.ndarray:
    """Datetimes as float64 days since 1970-01-01."""
    ns = np.asarray(times, dtype="datetime64[ns]").astype(np.int64)
    return ns / _NS_PER_DAY


def to_timedelta_days(value: str | float | pd.Timedelta | np.timedelta64) -> float:
    """A tolerance given as ``"12D"``, a Timedelta or a number of days, in days."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return pd.Timedelta(value) / pd.Timedelta("1D")


def resolve_times(times: TimesLike, optical_times: np.ndarray) -> np.ndarray:
    """Target dates: the optical dates, a frequency string, or explicit dates.

    Parameters
    ----------
    times : None, str, or sequence of datetimes
        ``None`` keeps the optical dates; a pandas frequency such as ``"5D"`` makes
        a regular series from the first optical day to the last; anything else is
        converted with :func:`pandas.to_datetime`.
    optical_times : ndarray of datetime64
        The (merged, sorted) optical acquisition times.

    Returns
    -------
    ndarray of datetime64[ns]
        Sorted target dates without duplicates.
    """
    if times is None:
        return np.asarray(optical_times, dtype="datetime64[ns]")
    if isinstance(times, str):
        try:
            start = pd.Timestamp(optical_times[0]).floor("D")
            end = pd.Timestamp(optical_times[-1])
            out = pd.date_range(start, end, freq=times)
        except ValueError as err:
            raise UnsortedTimeError(
                f"times={times!r} is not a pandas frequency such as '5D' or '1W'; give a "
                "frequency or a list of dates."
            ) from err
        return out.values.astype("datetime64[ns]")
    values = times.values if isinstance(times, xr.DataArray) else times
    out = pd.to_datetime(np.asarray(values).ravel()).values.astype("datetime64[ns]")
    if out.size == 0:
        raise NoOverlapError("times= is empty; give at least one target date.")
    if np.any(out[1:] <= out[:-1]):
        raise UnsortedTimeError(
            "the target dates in times= must be increasing without repeats; pass "
            "np.unique(times) to sort them and drop duplicates."
        )
    return out


def time_groups(times: np.ndarray, within_days: float) -> np.ndarray:
    """Group labels: consecutive acquisitions closer than ``within_days`` share one."""
    t = to_days(times)
    if t.size == 0:
        return np.zeros(0, dtype=np.int64)
    new = np.r_[True, np.diff(t) > within_days]
    return np.cumsum(new) - 1


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


# ----------------------------------------------------------------------------- optical


def prepare_optical(
    optical: xr.Dataset | xr.DataArray,
    *,
    time_dim: Hashable | None,
    clear: xr.DataArray | str | None,
    bands: Sequence[str] | None,
    rechunk: bool,
) -> tuple[xr.Dataset, xr.DataArray, Hashable, list[str]]:
    """Validate the optical input; return (bands Dataset, clear mask, time dim, band names)."""
    ds, _ = validate.as_band_dataset(optical)
    tdim = validate.find_time_dim(ds, time_dim)
    validate.find_spatial_dims(ds)
    validate.check_sorted(ds, tdim, "optical")
    names = validate.select_bands(ds, tdim, bands)
    ds = validate.check_time_chunks(ds, tdim, "optical", rechunk)
    if isinstance(clear, str):
        if clear not in ds:
            raise MissingVariableError(f"clear={clear!r} is not a variable of the optical input.")
        mask = ds[clear]
    elif clear is not None:
        mask = clear
    elif "clear" in ds:
        mask = ds["clear"]
    else:
        mask = None
    out = xr.Dataset({b: validate.check_reflectance_values(ds[b]) for b in names})
    finite = np.isfinite(out[names[0]])
    for b in names[1:]:
        finite = finite & np.isfinite(out[b])
    if mask is not None:
        if mask.dtype != bool:
            raise MissingVariableError(
                f"the clear mask must be boolean (True = usable), got dtype {mask.dtype}; "
                "convert it, e.g. clear=(scl == 4) | (scl == 5) | (scl == 6)."
            )
        finite = finite & mask.transpose(*[d for d in out[names[0]].dims if d in mask.dims])
    mask = finite.rename("clear")
    for b in names:
        validate.check_not_all_missing(out[b], "optical band")
    if mask.chunks is None and not mask.values.any():
        raise AllMissingError(
            "the optical input has no clear value at all: every pixel-date is NaN or masked "
            "as not clear; check the clear mask (clear classes) and the selection."
        )
    return out, mask, tdim, names


def merge_optical_times(
    ds: xr.Dataset, clear: xr.DataArray, tdim: Hashable, within_days: float
) -> tuple[xr.Dataset, xr.DataArray]:
    """Merge optical acquisitions closer than ``within_days``: mean of clear values."""
    times = ds[tdim].values
    groups = time_groups(times, within_days)
    if groups.size == 0 or groups[-1] == groups.size - 1:
        return ds.where(clear), clear
    first = np.unique(groups, return_index=True)[1]
    label = xr.DataArray(groups, dims=tdim, name="_group")
    merged = ds.where(clear).groupby(label).mean(skipna=True)
    anyclear = clear.groupby(label).any()
    merged = merged.rename({"_group": tdim}).assign_coords({tdim: times[first]})
    anyclear = anyclear.rename({"_group": tdim}).assign_coords({tdim: times[first]})
    return merged, anyclear.rename("clear")


def optical_on_targets(
    ds: xr.Dataset, clear: xr.DataArray, tdim: Hashable, targets: np.ndarray, within_days: float
) -> tuple[xr.Dataset, xr.DataArray]:
    """Place optical values on the target dates whose nearest acquisition is close enough."""
    t = to_days(ds[tdim].values)
    if t.size == targets.size and np.array_equal(ds[tdim].values, targets):
        return ds, clear
    tau = to_days(targets)
    idx = np.clip(np.searchsorted(t, tau), 1, max(t.size - 1, 1))
    left = np.clip(idx - 1, 0, t.size - 1)
    right = np.clip(idx, 0, t.size - 1)
    nearest = np.where(np.abs(t[left] - tau) <= np.abs(t[right] - tau), left, right)
    hit = np.abs(t[nearest] - tau) <= within_days
    sel = {tdim: xr.DataArray(nearest, dims=tdim)}
    hit_da = xr.DataArray(hit, dims=tdim)
    out = ds.isel(sel).assign_coords({tdim: targets}).where(hit_da)
    mask = (clear.isel(sel) & hit_da).assign_coords({tdim: targets})
    return out, mask.rename("clear")


def clear_days(
    clear: xr.DataArray, tdim: Hashable, targets: np.ndarray
) -> tuple[xr.DataArray, xr.DataArray]:
    """Per pixel, days since the last and until the next clear value at each target."""
    t = to_days(clear[tdim].values)
    tau = to_days(targets)
    since, until = xr.apply_ufunc(
        clear_distance,
        clear,
        kwargs={"t": t, "target": tau},
        input_core_dims=[[tdim]],
        output_core_dims=[[tdim], [tdim]],
        exclude_dims={tdim},
        dask="parallelized",
        output_dtypes=[np.float32, np.float32],
        dask_gufunc_kwargs={"output_sizes": {tdim: tau.size}},
    )
    coords = {tdim: targets}
    return since.assign_coords(coords), until.assign_coords(coords)


# ----------------------------------------------------------------------------- SAR


def prepare_sar(
    sar: xr.Dataset,
    *,
    sar_units: str | None,
    rechunk: bool,
) -> tuple[xr.Dataset, Hashable]:
    """Validate the SAR input and return its ``VV``/``VH`` in dB, with its time dim."""
    if isinstance(sar, xr.DataArray):
        sar, _ = validate.as_band_dataset(sar)
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
        var = validate.check_sar_values(var.astype(np.float32), units)
        validate.check_not_all_missing(var, "SAR variable")
        if units == "linear":
            var = 10.0 * np.log10(var.where(var > 0))
        out[p] = var.astype(np.float32)
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
    spatial = obj.rio.set_spatial_dims(x_dim=x, y_dim=y, inplace=False)
    return spatial.rio.crs, spatial.rio.transform(recalc=True), (obj.sizes[y], obj.sizes[x])


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
    resampling = "average" if abs(src_tr.a) < abs(dst_tr.a) else "bilinear"
    kwargs = {
        "src_transform": src_tr,
        "src_crs": src_crs,
        "dst_transform": dst_tr,
        "dst_crs": dst_crs,
        "dst_shape": dst_shape,
        "resampling": resampling,
    }
    out = {}
    for name, var in sar.data_vars.items():
        var = var.transpose(tdim, sy, sx)
        if var.chunks is None:
            data = _reproject_block(var.values, **kwargs)
        else:
            src = var.data.rechunk({1: -1, 2: -1})
            data = dsa.map_blocks(
                _reproject_block,
                src,
                **kwargs,
                chunks=(src.chunks[0], (dst_shape[0],), (dst_shape[1],)),
                dtype=np.float32,
                meta=np.array((), dtype=np.float32),
            )
        out[name] = xr.DataArray(data, dims=(tdim, oy, ox), attrs=var.attrs)
    coords = {tdim: sar[tdim], oy: optical[oy], ox: optical[ox]}
    coords.update({c: sar.coords[c] for c in sar.coords if sar.coords[c].dims == (tdim,)})
    return xr.Dataset(out, coords=coords)


def _check_spatial_overlap(sar: xr.Dataset, optical: xr.Dataset, src_crs, dst_crs) -> None:
    from rasterio.warp import transform_bounds

    sy, sx = validate.find_spatial_dims(sar)
    oy, ox = validate.find_spatial_dims(optical)
    sb = sar.rio.set_spatial_dims(x_dim=sx, y_dim=sy, inplace=False).rio.bounds(recalc=True)
    ob = optical.rio.set_spatial_dims(x_dim=ox, y_dim=oy, inplace=False).rio.bounds(recalc=True)
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


def _sar_block(
    *pols: np.ndarray,
    names: tuple[str, ...],
    t: np.ndarray,
    tracks: np.ndarray,
    groups: np.ndarray,
    target: np.ndarray,
    tolerance: float,
    normalise: bool,
) -> tuple[np.ndarray, ...]:
    """SAR features of one spatial block; inputs (..., t) in dB, outputs (..., target)."""
    series = {n: _normalise_and_merge(v, tracks, groups, normalise) for n, v in zip(names, pols)}
    tm = t[np.unique(groups, return_index=True)[1]]
    interp, days, flags = {}, [], []
    for n, v in series.items():
        interp[n], d, f = interp_time(v, tm, target, tolerance)
        days.append(d)
        flags.append(f)
    nan = np.full(days[0].shape, np.nan, dtype=np.float32)
    vv, vh = interp.get("VV", nan), interp.get("VH", nan)
    with np.errstate(invalid="ignore", over="ignore"):
        lin_vv, lin_vh = 10.0 ** (vv / 10.0), 10.0 ** (vh / 10.0)
        rvi = (4.0 * lin_vh / (lin_vv + lin_vh)).astype(np.float32)
    return (
        vv.astype(np.float32),
        vh.astype(np.float32),
        (vh - vv).astype(np.float32),
        rvi,
        np.maximum.reduce(days),
        np.maximum.reduce(flags),
    )


def _normalise_and_merge(
    v: np.ndarray, tracks: np.ndarray, groups: np.ndarray, normalise: bool
) -> np.ndarray:
    v = v.astype(np.float64)
    with np.errstate(invalid="ignore"), _quiet_nanmean():
        if normalise and np.unique(tracks).size > 1:
            overall = np.nanmean(v, axis=-1, keepdims=True)
            out = v.copy()
            for k in np.unique(tracks):
                sel = tracks == k
                out[..., sel] = v[..., sel] - np.nanmean(v[..., sel], axis=-1, keepdims=True)
            v = out + overall
        first = np.unique(groups, return_index=True)[1]
        if first.size == groups.size:
            return v
        merged = v[..., first].copy()
        for g in np.flatnonzero(np.bincount(groups) > 1):
            lin = 10.0 ** (v[..., groups == g] / 10.0)
            merged[..., g] = 10.0 * np.log10(np.nanmean(lin, axis=-1))
        return merged


class _quiet_nanmean:
    """Silence numpy's 'Mean of empty slice' for all-NaN pixels (they stay NaN)."""

    def __enter__(self):
        import warnings

        self._ctx = warnings.catch_warnings()
        self._ctx.__enter__()
        warnings.filterwarnings("ignore", "Mean of empty slice", RuntimeWarning)
        return self

    def __exit__(self, *exc):
        return self._ctx.__exit__(*exc)


def sar_features(
    sar: xr.Dataset,
    tdim: Hashable,
    targets: np.ndarray,
    out_tdim: Hashable,
    *,
    tolerance: float,
    merge_within: float,
    normalise: bool,
) -> xr.Dataset:
    """SAR features on the target dates (same grid as ``sar``)."""
    names = tuple(str(p) for p in sar.data_vars)
    t = to_days(sar[tdim].values)
    tau = to_days(targets)
    kwargs = {
        "names": names,
        "t": t,
        "tracks": sar_tracks(sar, tdim),
        "groups": time_groups(sar[tdim].values, merge_within),
        "target": tau,
        "tolerance": tolerance,
        "normalise": normalise,
    }
    outs = xr.apply_ufunc(
        _sar_block,
        *[sar[n] for n in names],
        kwargs=kwargs,
        input_core_dims=[[tdim]] * len(names),
        output_core_dims=[["_target"]] * 6,
        dask="parallelized",
        output_dtypes=[np.float32] * 5 + [np.int8],
        dask_gufunc_kwargs={"output_sizes": {"_target": tau.size}},
    )
    keys = (*SAR_FEATURES, "sar_days", "sar_flag")
    ds = xr.Dataset(dict(zip(keys, outs)))
    ds = ds.drop_vars([c for c in ds.coords if tdim in ds[c].dims], errors="ignore")
    ds = ds.rename({"_target": out_tdim}).assign_coords({out_tdim: targets})
    derived = ("VH_VV", "RVI") if len(names) == 2 else ()
    return ds[[*names, *derived, "sar_days", "sar_flag"]]


def _span(times: np.ndarray) -> str:
    return f"{pd.Timestamp(times[0]):%Y-%m-%d} to {pd.Timestamp(times[-1]):%Y-%m-%d}"


# ----------------------------------------------------------------------------- attrs

_ATTRS = {
    "clear": {"long_name": "clear (usable) optical observation on this date"},
    "VV": {"units": "dB", "long_name": "VV backscatter on the target date"},
    "VH": {"units": "dB", "long_name": "VH backscatter on the target date"},
    "VH_VV": {"units": "dB", "long_name": "cross-polarisation ratio VH - VV"},
    "RVI": {"units": "1", "long_name": "radar vegetation index 4 VH / (VV + VH), linear power"},
    "sar_days": {"units": "days", "long_name": "days to the nearest SAR acquisition"},
    "sar_flag": {
        "long_name": "how the SAR value on this date was obtained",
        "flag_values": np.array([0, 1, 2], dtype=np.int8),
        "flag_meanings": "interpolated nearest missing",
    },
    "days_since_clear": {"units": "days", "long_name": "days since the last clear optical value"},
    "days_until_clear": {"units": "days", "long_name": "days until the next clear optical value"},
}


# ----------------------------------------------------------------------------- public


def align(
    optical: xr.Dataset | xr.DataArray,
    sar: xr.Dataset | None = None,
    times: TimesLike = None,
    *,
    tolerance: str | float = "12D",
    clear: xr.DataArray | str | None = None,
    bands: Sequence[str] | None = None,
    time_dim: Hashable | None = None,
    sar_units: str | None = None,
    orbit_normalise: bool = True,
    merge_within: str | float = "60s",
    match_within: str | float = "12h",
    rechunk: bool = False,
) -> xr.Dataset:
    """Put optical and SAR cubes on the optical grid and the target dates.

    Parameters
    ----------
    optical : Dataset or DataArray
        Optical reflectance: one variable per band with dims (time, y, x) in any
        order, or a DataArray with a ``band`` dimension. NaN marks a gap. A boolean
        ``clear`` variable, when present, marks usable values.
    sar : Dataset, optional
        ``VV`` and/or ``VH`` with a ``units`` attribute (``"dB"`` or ``"1"`` for
        linear power), on their own dates and grid. Without it only the optical
        part is aligned.
    times : None, str or sequence of datetimes, optional
        Target dates: the optical dates (default), a frequency (``"5D"``) or a list.
    tolerance : str or float, default "12D"
        Largest distance from a target date to a SAR acquisition that is used.
    clear : DataArray or str, optional
        Boolean mask (True = usable) or the name of such a variable of ``optical``.
    bands : sequence of str, optional
        Band variables to use; default: every floating-point variable with time and
        space dimensions except masks.
    time_dim : hashable, optional
        The optical time dimension, when it cannot be found as the one datetime dim.
    sar_units : str, optional
        Units of the SAR values when the variables have no ``units`` attribute.
    orbit_normalise : bool, default True
        Remove the per-orbit, per-pixel mean level of the backscatter (see module
        docstring) so that alternating orbits do not alias into the series.
    merge_within : str or float, default "60s"
        Acquisitions closer than this are merged into one.
    match_within : str or float, default "12h"
        An optical acquisition this close to a target date gives its value.
    rechunk : bool, default False
        Rechunk dask inputs whose time dimension spans several chunks instead of
        raising :class:`~stori_xr.exceptions.ChunkingError`.

    Returns
    -------
    Dataset
        On the optical grid and the target dates (time dimension keeps the optical
        name): the bands (NaN where not clear), ``clear``, ``days_since_clear``,
        ``days_until_clear`` and, with SAR, ``VV``, ``VH``, ``VH_VV``, ``RVI``,
        ``sar_days`` and ``sar_flag``. Lazy when the inputs are dask-backed; the
        same values for numpy input. The CRS of the optical input is kept and a
        line is appended to ``history``.

    Examples
    --------
    >>> from stori_xr.datasets import make_scene
    >>> scene = make_scene(16, 16, periods=12, seed=1)
    >>> out = align(scene.optical, scene.sar)
    >>> sorted(out.data_vars)[:4]
    ['B05', 'B06', 'B07', 'B11']
    >>> bool((out.sar_flag < 2).all())
    True
    """
    tol = to_timedelta_days(tolerance)
    merge = to_timedelta_days(merge_within)
    ds, mask, tdim, names = prepare_optical(
        optical, time_dim=time_dim, clear=clear, bands=bands, rechunk=rechunk
    )
    oy, ox = validate.find_spatial_dims(ds)
    sar_ds = None
    if sar is not None:
        sar_ds, stdim = prepare_sar(sar, sar_units=sar_units, rechunk=rechunk)
    ds, mask = merge_optical_times(ds, mask, tdim, merge)
    targets = resolve_times(times, ds[tdim].values)
    since, until = clear_days(mask, tdim, targets)
    ds, mask = optical_on_targets(ds, mask, tdim, targets, to_timedelta_days(match_within))
    out = ds.assign(clear=mask, days_since_clear=since, days_until_clear=until)
    if sar_ds is not None:
        _check_temporal_overlap(sar_ds[stdim].values, targets, tol)
        on_grid = regrid_sar(sar_ds, stdim, ds)
        feats = sar_features(
            on_grid,
            stdim,
            targets,
            tdim,
            tolerance=tol,
            merge_within=merge,
            normalise=orbit_normalise,
        )
        clash = [k for k in feats.data_vars if k in names]
        if clash:
            raise StoriError(
                f"optical variables {clash} clash with SAR feature names; rename them."
            )
        out = out.assign(feats.data_vars)
    dims = ds[names[0]].dims
    out = out.transpose(*dims)
    if ds.chunks:
        out = out.chunk({tdim: -1, oy: ds.chunks[oy], ox: ds.chunks[ox]})
    for k, attrs in _ATTRS.items():
        if k in out:
            out[k].attrs.update(attrs)
    src = optical if isinstance(optical, xr.Dataset) else optical.to_dataset(name="_")
    out.attrs = append_history(
        src.attrs,
        format_call(
            "align",
            times=times,
            tolerance=tolerance,
            orbit_normalise=orbit_normalise,
            merge_within=merge_within,
        ),
    )
    return copy_crs(out, optical)


def _check_temporal_overlap(sar_times: np.ndarray, targets: np.ndarray, tol: float) -> None:
    """Raise :class:`NoOverlapError` when no SAR acquisition is near any target date."""
    s, t = to_days(sar_times), to_days(targets)
    idx = np.clip(np.searchsorted(s, t), 1, max(s.size - 1, 1))
    gap = np.minimum(np.abs(s[idx - 1] - t), np.abs(s[np.minimum(idx, s.size - 1)] - t))
    if not (gap <= tol).any():
        raise NoOverlapError(
            f"no SAR acquisition ({_span(sar_times)}) lies within tolerance={tol:g} days of "
            f"any target date ({_span(targets)}); give SAR for the same period or a larger "
            "tolerance."
        )
