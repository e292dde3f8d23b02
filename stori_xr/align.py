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

import numpy as np
import rioxarray  # noqa: F401  (registers .rio)
import xarray as xr

from stori_xr import validate
from stori_xr.dates import (
    MATCH_WITHIN,
    MERGE_WITHIN,
    TimesLike,
    nearest_within,
    resolve_times,
    span,
    time_groups,
    to_days,
    to_timedelta_days,
)
from stori_xr.exceptions import (
    AllMissingError,
    NoOverlapError,
    StoriError,
)
from stori_xr.kernels import clear_distance
from stori_xr.metadata import append_history, copy_crs, format_call
from stori_xr.sar import prepare_sar, regrid_sar, sar_features

# ----------------------------------------------------------------------------- optical


def prepare_optical(
    optical: xr.Dataset | xr.DataArray,
    *,
    time_dim: Hashable | None,
    clear: xr.DataArray | str | None,
    bands: Sequence[str] | None,
    rechunk: bool,
    in_tasks: bool = False,
) -> tuple[xr.Dataset, xr.DataArray, Hashable, list[str]]:
    """Validate the optical input; return (bands Dataset, clear mask, time dim, band names).

    The clear mask is the given one (or none) and every band finite. With
    ``in_tasks=True`` and a given mask, the mask is returned as given and the value
    checks (reflectance, not digital numbers) are left out: the caller's tasks do both
    (:func:`stori_xr.blocks.run_tile`), which saves three tasks per band and tile.
    """
    ds, _ = validate.as_band_dataset(optical)
    tdim = validate.find_time_dim(ds, time_dim)
    ydim, xdim = validate.find_spatial_dims(ds)
    validate.check_sorted(ds, tdim, "optical")
    names = validate.select_bands(ds, tdim, bands)
    mask = validate.clear_mask(ds, clear)
    *arrays, mask = one_chunking([*(ds[b] for b in names), mask], (tdim, ydim, xdim))
    ds = validate.check_time_chunks(
        xr.Dataset(dict(zip(names, arrays, strict=True))), tdim, "optical", rechunk
    )
    if mask is not None:
        mask = validate.check_time_chunks(mask, tdim, "clear mask", rechunk)
    if in_tasks and mask is not None:
        out = ds
        mask = mask.transpose(*[d for d in out[names[0]].dims if d in mask.dims])
    else:
        out = xr.Dataset({b: validate.check_reflectance_values(ds[b]) for b in names})
        finite = np.isfinite(out[names[0]])
        for b in names[1:]:
            finite = finite & np.isfinite(out[b])
        if mask is not None:
            finite = finite & mask.transpose(*[d for d in out[names[0]].dims if d in mask.dims])
        mask = finite
    mask = mask.rename("clear")
    for b in names:
        validate.check_not_all_missing(out[b], "optical band")
    if mask.chunks is None and not mask.values.any():
        raise AllMissingError(
            "the optical input has no clear value at all: every pixel-date is NaN or masked "
            "as not clear; check the clear mask (clear classes) and the selection."
        )
    return out, mask, tdim, names


def one_chunking(
    arrays: Sequence[xr.DataArray | None], dims: Sequence[Hashable]
) -> list[xr.DataArray | None]:
    """One chunking for the bands and the clear mask: that of the first dask-backed band.

    Variables read from files of several resolutions, or assembled by hand, may come
    with different chunks (xarray then refuses the Dataset's ``chunks``). Every array
    is rechunked along ``dims`` to the chunks of the first dask-backed one; numpy-backed
    arrays are chunked likewise when any is dask-backed. None entries pass through.
    """
    ref = next((a for a in arrays if a is not None and a.chunks is not None), None)
    if ref is None:
        return list(arrays)
    target = {d: ref.chunksizes[d] for d in dims if d in ref.dims}
    return [
        None if a is None else a.chunk({d: c for d, c in target.items() if d in a.dims})
        for a in arrays
    ]


def merge_optical_times(
    ds: xr.Dataset, clear: xr.DataArray, tdim: Hashable, within_days: float
) -> tuple[xr.Dataset, xr.DataArray]:
    """Merge optical acquisitions closer than ``within_days``: mean of clear values.

    Runs of single acquisitions are kept as slices (values not masked: the clear
    mask comes with them); only the (rare) groups of near-simultaneous acquisitions
    are averaged over their clear values, so the cost stays that of a copy.
    """
    times = ds[tdim].values
    groups = time_groups(times, within_days)
    if groups.size == 0 or groups[-1] == groups.size - 1:
        return ds, clear
    starts = np.flatnonzero(np.r_[True, np.diff(groups) > 0])
    ends = np.r_[starts[1:], groups.size]
    values, masks = [], []
    run = starts[0]
    for a, b in zip(starts, ends, strict=True):
        if b - a == 1:
            continue
        if run < a:  # the singletons before this group, as one slice
            values.append(ds.isel({tdim: slice(run, a)}))
            masks.append(clear.isel({tdim: slice(run, a)}))
        group = {tdim: slice(a, b)}
        first = {tdim: [times[a]]}
        masked = ds.isel(group).where(clear.isel(group))
        values.append(masked.mean(tdim, skipna=True).expand_dims(first))
        masks.append(clear.isel(group).any(tdim).expand_dims(first))
        run = b
    if run < groups.size:
        values.append(ds.isel({tdim: slice(run, None)}))
        masks.append(clear.isel({tdim: slice(run, None)}))
    merged = xr.concat(values, dim=tdim).transpose(*ds[next(iter(ds.data_vars))].dims)
    anyclear = xr.concat(masks, dim=tdim).transpose(*clear.dims)
    if merged.chunks:  # the pieces came as several chunks along time: one again
        merged, anyclear = merged.chunk({tdim: -1}), anyclear.chunk({tdim: -1})
    return merged, anyclear.rename("clear")


def optical_on_targets(
    ds: xr.Dataset, clear: xr.DataArray, tdim: Hashable, targets: np.ndarray, within_days: float
) -> tuple[xr.Dataset, xr.DataArray]:
    """Place optical values on the target dates whose nearest acquisition is close enough."""
    if ds.sizes[tdim] == targets.size and np.array_equal(ds[tdim].values, targets):
        return ds, clear
    nearest, hit = nearest_within(ds[tdim].values, targets, within_days)
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


# ----------------------------------------------------------------------------- attrs

_AUX = {"coverage_content_type": "auxiliaryInformation"}
_ATTRS = {
    "clear": {
        "long_name": "clear (usable) optical observation on this date",
        "coverage_content_type": "qualityInformation",
    },
    "VV": {**_AUX, "units": "dB", "long_name": "VV backscatter on the target date"},
    "VH": {**_AUX, "units": "dB", "long_name": "VH backscatter on the target date"},
    "VH_VV": {**_AUX, "units": "dB", "long_name": "cross-polarisation ratio VH - VV"},
    "RVI": {
        **_AUX,
        "units": "1",
        "long_name": "radar vegetation index 4 VH / (VV + VH), linear power",
    },
    "sar_days": {**_AUX, "units": "days", "long_name": "days to the nearest SAR acquisition"},
    "sar_flag": {
        "coverage_content_type": "qualityInformation",
        "long_name": "how the SAR value on this date was obtained",
        "flag_values": np.array([0, 1, 2], dtype=np.int8),
        "flag_meanings": "interpolated nearest missing",
    },
    "days_since_clear": {
        **_AUX,
        "units": "days",
        "long_name": "days since the last clear optical value",
    },
    "days_until_clear": {
        **_AUX,
        "units": "days",
        "long_name": "days until the next clear optical value",
    },
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
    merge_within: str | float = MERGE_WITHIN,
    match_within: str | float = MATCH_WITHIN,
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
    out = aligned_parts(
        optical,
        sar,
        times,
        tolerance=tolerance,
        clear=clear,
        bands=bands,
        time_dim=time_dim,
        sar_units=sar_units,
        orbit_normalise=orbit_normalise,
        merge_within=merge_within,
        match_within=match_within,
        rechunk=rechunk,
    )
    out.attrs = append_history(
        optical.attrs,
        format_call(
            "align",
            times=times,
            tolerance=tolerance,
            orbit_normalise=orbit_normalise,
            merge_within=merge_within,
        ),
    )
    return copy_crs(out, optical)


def aligned_parts(
    optical: xr.Dataset | xr.DataArray,
    sar: xr.Dataset | None,
    times: TimesLike,
    *,
    tolerance: str | float,
    clear: xr.DataArray | str | None,
    bands: Sequence[str] | None,
    time_dim: Hashable | None,
    sar_units: str | None,
    orbit_normalise: bool = True,
    merge_within: str | float = MERGE_WITHIN,
    match_within: str | float = MATCH_WITHIN,
    rechunk: bool,
    mask_bands: bool = True,
    in_tasks: bool = False,
    with_days: bool = True,
    sar_outputs: tuple[str, ...] | None = None,
) -> xr.Dataset:
    """:func:`align` without its attributes, optionally leaner (for the gap filling).

    ``mask_bands=False`` leaves the band values as they are where not clear (the
    ``clear`` variable says which to use), ``in_tasks=True`` leaves the value checks and
    the finiteness of the bands to the caller's tasks (see :func:`prepare_optical`),
    ``with_days=False`` leaves out ``days_since_clear`` and ``days_until_clear``, and
    ``sar_outputs`` names the SAR variables to compute (default: all). The rest is
    :func:`align`.
    """
    tol = to_timedelta_days(tolerance, "tolerance")
    merge = to_timedelta_days(merge_within, "merge_within")
    ds, mask, tdim, names = prepare_optical(
        optical,
        time_dim=time_dim,
        clear=clear,
        bands=bands,
        rechunk=rechunk,
        in_tasks=in_tasks and not with_days,  # the days need the finite mask
    )
    oy, ox = validate.find_spatial_dims(ds)
    sar_ds = None
    if sar is not None:
        sar_ds, stdim = prepare_sar(sar, sar_units=sar_units, rechunk=rechunk)
    ds, mask = merge_optical_times(ds, mask, tdim, merge)
    targets = resolve_times(times, ds[tdim].values)
    if with_days:
        since, until = clear_days(mask, tdim, targets)
    ds, mask = optical_on_targets(
        ds, mask, tdim, targets, to_timedelta_days(match_within, "match_within")
    )
    if mask_bands:
        ds = ds.where(mask)
    out = ds.assign(clear=mask)
    if with_days:
        out = out.assign(days_since_clear=since, days_until_clear=until)
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
            outputs=sar_outputs,
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
    return out


def _check_temporal_overlap(sar_times: np.ndarray, targets: np.ndarray, tol: float) -> None:
    """Raise :class:`NoOverlapError` when no SAR acquisition is near any target date."""
    if not nearest_within(sar_times, targets, tol)[1].any():
        raise NoOverlapError(
            f"no SAR acquisition ({span(sar_times)}) lies within tolerance={tol:g} days of "
            f"any target date ({span(targets)}); give SAR for the same period or a larger "
            "tolerance."
        )
