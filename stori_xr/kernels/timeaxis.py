"""Kernels along the time axis: distance to clear values, and SAR interpolation in time.

All functions take arrays whose *last* axis is time; leading axes are pixels
(any shape, flattened internally). Times are float64 days on a common origin
and must be sorted increasingly (the xarray glue checks this).
"""

from __future__ import annotations

import numpy as np

from stori_xr.kernels.dtypes import work_dtype
from stori_xr.kernels.jit import jit

#: Flag values of :func:`interp_time`: linear between two acquisitions, nearest one, none.
SAR_INTERPOLATED = np.int8(0)
SAR_NEAREST = np.int8(1)
SAR_MISSING = np.int8(2)


@jit
def _clear_distance_2d(clear, t, target, since, until):  # pragma: no cover - numba
    npix, nt = clear.shape
    nm = target.shape[0]
    for p in range(npix):
        # forward: last clear time at or before each target
        i = 0
        last = np.nan
        for j in range(nm):
            while i < nt and t[i] <= target[j]:
                if clear[p, i]:
                    last = t[i]
                i += 1
            since[p, j] = target[j] - last
        # backward: first clear time at or after each target
        i = nt - 1
        nxt = np.nan
        for j in range(nm - 1, -1, -1):
            while i >= 0 and t[i] >= target[j]:
                if clear[p, i]:
                    nxt = t[i]
                i -= 1
            until[p, j] = nxt - target[j]


def clear_distance(
    clear: np.ndarray, t: np.ndarray, target: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Days since the last and until the next clear value, for each target date.

    Parameters
    ----------
    clear : ndarray of bool, shape (..., nt)
        True where the optical value is usable.
    t : ndarray of float64, shape (nt,)
        Acquisition times in days, sorted increasingly.
    target : ndarray of float64, shape (nm,)
        Target times in days, sorted increasingly.

    Returns
    -------
    since, until : ndarray of float32, shape (..., nm)
        ``target - t_last`` and ``t_next - target``, where ``t_last`` is the last
        clear acquisition at or before the target and ``t_next`` the first at or
        after it. NaN where there is none.

    Examples
    --------
    >>> import numpy as np
    >>> since, until = clear_distance(
    ...     np.array([True, False, True]), np.array([0.0, 5.0, 10.0]), np.array([4.0, 10.0])
    ... )
    >>> since.tolist(), until.tolist()
    ([4.0, 0.0], [6.0, 0.0])
    """
    clear = np.asarray(clear, dtype=np.bool_)
    lead = clear.shape[:-1]
    c2 = np.ascontiguousarray(clear.reshape(-1, clear.shape[-1]))
    t = np.ascontiguousarray(t, dtype=np.float64)
    target = np.ascontiguousarray(target, dtype=np.float64)
    since = np.empty((c2.shape[0], target.size), dtype=np.float32)
    until = np.empty_like(since)
    _clear_distance_2d(c2, t, target, since, until)  # float64 differences, stored as float32
    shape = (*lead, target.size)
    return since.reshape(shape), until.reshape(shape)


def clear_distance_reference(
    clear: np.ndarray, t: np.ndarray, target: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Slow numpy reference of :func:`clear_distance`."""
    clear = np.asarray(clear, dtype=bool)
    c2 = clear.reshape(-1, clear.shape[-1])
    since = np.full((c2.shape[0], len(target)), np.nan)
    until = np.full_like(since, np.nan)
    for p in range(c2.shape[0]):
        tc = np.asarray(t)[c2[p]]
        for j, tau in enumerate(target):
            before = tc[tc <= tau]
            after = tc[tc >= tau]
            if before.size:
                since[p, j] = tau - before.max()
            if after.size:
                until[p, j] = after.min() - tau
    shape = (*clear.shape[:-1], len(target))
    return since.astype(np.float32).reshape(shape), until.astype(np.float32).reshape(shape)


@jit
def _interp_time_2d(values, t, target, tol, out, days, flag):  # pragma: no cover - numba
    npix, nt = values.shape
    nm = target.shape[0]
    prev = np.empty(nm, dtype=np.int64)
    nxt = np.empty(nm, dtype=np.int64)
    for p in range(npix):
        i = 0
        last = -1
        for j in range(nm):
            while i < nt and t[i] <= target[j]:
                if not np.isnan(values[p, i]):
                    last = i
                i += 1
            prev[j] = last
        i = nt - 1
        first = -1
        for j in range(nm - 1, -1, -1):
            while i >= 0 and t[i] >= target[j]:
                if not np.isnan(values[p, i]):
                    first = i
                i -= 1
            nxt[j] = first
        for j in range(nm):
            a = prev[j]
            b = nxt[j]
            da = target[j] - t[a] if a >= 0 else np.inf
            db = t[b] - target[j] if b >= 0 else np.inf
            days[p, j] = min(da, db)
            if da <= tol and db <= tol:
                if b == a or t[b] == t[a]:
                    out[p, j] = values[p, a]
                else:
                    w = da / (t[b] - t[a])
                    out[p, j] = (1.0 - w) * values[p, a] + w * values[p, b]
                flag[p, j] = 0
            elif da <= tol or db <= tol:
                out[p, j] = values[p, a] if da <= db else values[p, b]
                flag[p, j] = 1
            else:
                out[p, j] = np.nan
                flag[p, j] = 2


def interp_time(
    values: np.ndarray, t: np.ndarray, target: np.ndarray, tolerance: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Interpolate a series linearly in time onto target dates, within a tolerance.

    For each target date the last valid (finite) value at or before it and the
    first at or after it are found. When both lie within ``tolerance`` days the
    value is interpolated linearly between them; when only one does, the nearer
    of the two is taken; otherwise the result is NaN.

    Parameters
    ----------
    values : ndarray of float, shape (..., nt)
        The series (e.g. backscatter in dB); NaN marks a missing value.
    t : ndarray of float64, shape (nt,)
        Acquisition times in days, sorted increasingly.
    target : ndarray of float64, shape (nm,)
        Target times in days, sorted increasingly.
    tolerance : float
        Largest distance in days at which an acquisition is used.

    Returns
    -------
    out : ndarray, shape (..., nm)
        Interpolated values: float32 for float32 input, float64 otherwise.
    days : ndarray of float32, shape (..., nm)
        Days from each target date to the nearest valid acquisition (inf if none).
    flag : ndarray of int8, shape (..., nm)
        :data:`SAR_INTERPOLATED`, :data:`SAR_NEAREST` or :data:`SAR_MISSING`.

    Examples
    --------
    >>> import numpy as np
    >>> out, days, flag = interp_time(
    ...     np.array([0.0, 10.0]), np.array([0.0, 10.0]), np.array([2.0, 15.0, 40.0]), 12.0
    ... )
    >>> out.tolist(), days.tolist(), flag.tolist()
    ([2.0, 10.0, nan], [2.0, 5.0, 30.0], [0, 1, 2])
    """
    values = np.asarray(values)
    work = work_dtype(values)
    lead = values.shape[:-1]
    v2 = np.ascontiguousarray(values.reshape(-1, values.shape[-1]), dtype=work)
    t = np.ascontiguousarray(t, dtype=np.float64)
    target = np.ascontiguousarray(target, dtype=np.float64)
    out = np.empty((v2.shape[0], target.size), dtype=work)
    days = np.empty(out.shape, dtype=np.float32)
    flag = np.empty(out.shape, dtype=np.int8)
    _interp_time_2d(v2, t, target, float(tolerance), out, days, flag)
    shape = (*lead, target.size)
    return out.reshape(shape), days.reshape(shape), flag.reshape(shape)


def interp_time_reference(
    values: np.ndarray, t: np.ndarray, target: np.ndarray, tolerance: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Slow numpy reference of :func:`interp_time`."""
    values = np.asarray(values)
    dtype = values.dtype if values.dtype in (np.float32, np.float64) else np.float64
    v2 = values.reshape(-1, values.shape[-1]).astype(np.float64)
    t = np.asarray(t, dtype=np.float64)
    out = np.full((v2.shape[0], len(target)), np.nan)
    days = np.full_like(out, np.inf)
    flag = np.full(out.shape, SAR_MISSING, dtype=np.int8)
    for p in range(v2.shape[0]):
        ok = ~np.isnan(v2[p])
        tv, vv = t[ok], v2[p][ok]
        for j, tau in enumerate(target):
            before = np.flatnonzero(tv <= tau)
            after = np.flatnonzero(tv >= tau)
            da = tau - tv[before[-1]] if before.size else np.inf
            db = tv[after[0]] - tau if after.size else np.inf
            days[p, j] = min(da, db)
            if da <= tolerance and db <= tolerance:
                ta, tb = tv[before[-1]], tv[after[0]]
                va, vb = vv[before[-1]], vv[after[0]]
                out[p, j] = va if tb == ta else np.interp(tau, [ta, tb], [va, vb])
                flag[p, j] = SAR_INTERPOLATED
            elif min(da, db) <= tolerance:
                out[p, j] = vv[before[-1]] if da <= db else vv[after[0]]
                flag[p, j] = SAR_NEAREST
    shape = (*values.shape[:-1], len(target))
    return (
        out.astype(dtype).reshape(shape),
        days.astype(np.float32).reshape(shape),
        flag.reshape(shape),
    )
