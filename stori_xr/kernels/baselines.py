"""Comparator kernels: per-pixel linear interpolation and per-pixel SAR regression.

Arrays are laid out ``values (nb, npix, nt)`` (bands, pixels, time), ``clear
(npix, nt)`` (bool), ``sar (nf, npix, nt)``; ``t`` holds float64 days, sorted.
Outputs are on the dates ``out_idx`` (indices into ``t``): values ``(nb, npix, m)``
and a source flag ``(npix, m)`` (see :mod:`stori_xr.kernels.flags`). Clear values
are returned unchanged.
"""

from __future__ import annotations

import numpy as np

from stori_xr.kernels.dtypes import work_dtype
from stori_xr.kernels.flags import EXTRAPOLATED, NODATA, OBSERVED, SAR, TEMPORAL
from stori_xr.kernels.jit import jit
from stori_xr.kernels.linalg import cholesky_solve


@jit
def brackets(clear_row, prev, nxt):  # pragma: no cover - numba
    """Index of the last clear date at or before, and first at or after, each date (-1: none)."""
    nt = clear_row.shape[0]
    last = -1
    for i in range(nt):
        if clear_row[i]:
            last = i
        prev[i] = last
    first = -1
    for i in range(nt - 1, -1, -1):
        if clear_row[i]:
            first = i
        nxt[i] = first


@jit
def _temporal(values, t, p, i, j, a, b, out, src):  # pragma: no cover - numba
    """Output j of pixel p at date i from its clear brackets a, b.

    Observed when i is clear, linear between a and b, the nearest one at the ends
    of the series (extrapolated), or no data.
    """
    nb = values.shape[0]
    if a == i:
        for k in range(nb):
            out[k, p, j] = values[k, p, i]
        src[p, j] = OBSERVED
    elif a >= 0 and b >= 0:
        w = (t[i] - t[a]) / (t[b] - t[a])
        for k in range(nb):
            out[k, p, j] = (1.0 - w) * values[k, p, a] + w * values[k, p, b]
        src[p, j] = TEMPORAL
    elif a >= 0 or b >= 0:
        c = a if a >= 0 else b
        for k in range(nb):
            out[k, p, j] = values[k, p, c]
        src[p, j] = EXTRAPOLATED
    else:
        for k in range(nb):
            out[k, p, j] = np.nan
        src[p, j] = NODATA


@jit
def _linear(values, clear, t, out_idx, out, src):  # pragma: no cover - numba
    _, npix, nt = values.shape
    prev = np.empty(nt, dtype=np.int64)
    nxt = np.empty(nt, dtype=np.int64)
    for p in range(npix):
        brackets(clear[p], prev, nxt)
        for j in range(out_idx.shape[0]):
            i = out_idx[j]
            _temporal(values, t, p, i, j, prev[i], nxt[i], out, src)


def linear(
    values: np.ndarray, clear: np.ndarray, t: np.ndarray, out_idx: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per-pixel linear interpolation in time between the clear values that bracket a gap.

    Before the first and after the last clear value the nearest clear value is
    repeated (flagged extrapolated).

    Parameters
    ----------
    values : ndarray, shape (nb, npix, nt)
        Band values; only those where ``clear`` is True are used.
    clear : ndarray of bool, shape (npix, nt)
        Usable values.
    t : ndarray of float64, shape (nt,)
        Times in days, sorted.
    out_idx : ndarray of int, shape (m,)
        Output dates, as indices into ``t``.

    Returns
    -------
    out : ndarray, shape (nb, npix, m)
        Values in the dtype of ``values``.
    source : ndarray of int8, shape (npix, m)
        Source flags.

    Examples
    --------
    >>> import numpy as np
    >>> v = np.array([[[0.1, np.nan, 0.3]]])
    >>> out, src = linear(v, np.isfinite(v[0]), np.array([0.0, 1.0, 2.0]), np.arange(3))
    >>> out.round(3).tolist(), src.tolist()
    ([[[0.1, 0.2, 0.3]]], [[0, 1, 0]])
    """
    work = work_dtype(values)
    out = np.empty((values.shape[0], values.shape[1], out_idx.size), dtype=work)
    src = np.empty((values.shape[1], out_idx.size), dtype=np.int8)
    _linear(
        np.ascontiguousarray(values, dtype=work),
        np.ascontiguousarray(clear, dtype=np.bool_),
        np.ascontiguousarray(t, dtype=np.float64),
        np.ascontiguousarray(out_idx, dtype=np.int64),
        out,
        src,
    )
    return out, src


def linear_reference(
    values: np.ndarray, clear: np.ndarray, t: np.ndarray, out_idx: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Slow numpy reference of :func:`linear` (``np.interp`` per pixel and band)."""
    nb, npix, _ = values.shape
    out = np.full((nb, npix, len(out_idx)), np.nan)
    src = np.full((npix, len(out_idx)), NODATA, dtype=np.int8)
    for p in range(npix):
        c = clear[p]
        if not c.any():
            continue
        tc = t[c]
        for j, i in enumerate(out_idx):
            for k in range(nb):
                out[k, p, j] = np.interp(t[i], tc, values[k, p][c])
            if c[i]:
                src[p, j] = OBSERVED
                out[:, p, j] = values[:, p, i]
            elif tc[0] < t[i] < tc[-1]:
                src[p, j] = TEMPORAL
            else:
                src[p, j] = EXTRAPOLATED
    return out.astype(values.dtype), src


@jit
def _sar_regression(values, clear, sar, t, out_idx, ridge, out, src):  # pragma: no cover
    nb, npix, nt = values.shape
    nf = sar.shape[0]
    p1 = nf + 1
    prev = np.empty(nt, dtype=np.int64)
    nxt = np.empty(nt, dtype=np.int64)
    xtx = np.empty((p1, p1))
    rhs = np.empty((1, p1))
    coef = np.empty((nb, p1))
    mean = np.empty(nf)
    scale = np.empty(nf)
    for p in range(npix):
        brackets(clear[p], prev, nxt)
        # standardise features over the dates where all are finite
        n = 0
        for f in range(nf):
            mean[f] = 0.0
            scale[f] = 0.0
        for i in range(nt):
            ok = clear[p, i]
            for f in range(nf):
                ok = ok and not np.isnan(sar[f, p, i])
            if ok:
                n += 1
                for f in range(nf):
                    mean[f] += sar[f, p, i]
                    scale[f] += sar[f, p, i] * sar[f, p, i]
        fitted = n >= p1 + 1
        if fitted:
            for f in range(nf):
                mean[f] /= n
                var = scale[f] / n - mean[f] * mean[f]
                scale[f] = np.sqrt(var) if var > 1e-12 else 1.0
            for k in range(nb):
                for a in range(p1):
                    rhs[0, a] = 0.0
                    for b in range(p1):
                        xtx[a, b] = 0.0
                for i in range(nt):
                    ok = clear[p, i]
                    for f in range(nf):
                        ok = ok and not np.isnan(sar[f, p, i])
                    if not ok:
                        continue
                    y = values[k, p, i]
                    for a in range(p1):
                        xa = 1.0 if a == 0 else (sar[a - 1, p, i] - mean[a - 1]) / scale[a - 1]
                        rhs[0, a] += xa * y
                        for b in range(a + 1):
                            xb = 1.0 if b == 0 else (sar[b - 1, p, i] - mean[b - 1]) / scale[b - 1]
                            xtx[a, b] += xa * xb
                for a in range(p1):
                    for b in range(a):
                        xtx[b, a] = xtx[a, b]
                    if a > 0:
                        xtx[a, a] += ridge * n
                if not cholesky_solve(xtx, rhs, p1, 1):
                    fitted = False
                    break
                for a in range(p1):
                    coef[k, a] = rhs[0, a]
        for j in range(out_idx.shape[0]):
            i = out_idx[j]
            a = prev[i]
            b = nxt[i]
            if a == i:
                _temporal(values, t, p, i, j, a, b, out, src)
                continue
            ok = fitted
            for f in range(nf):
                ok = ok and not np.isnan(sar[f, p, i])
            if ok:
                for k in range(nb):
                    s = coef[k, 0]
                    for f in range(nf):
                        s += coef[k, f + 1] * (sar[f, p, i] - mean[f]) / scale[f]
                    out[k, p, j] = s
                src[p, j] = SAR
            else:
                _temporal(values, t, p, i, j, a, b, out, src)


def sar_regression(
    values: np.ndarray,
    clear: np.ndarray,
    sar: np.ndarray,
    t: np.ndarray,
    out_idx: np.ndarray,
    *,
    ridge: float = 1e-3,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-pixel least squares of each band on the SAR features over its clear dates.

    Each band is regressed on the standardised SAR features (plus an intercept)
    over the pixel's clear dates where every feature is finite, with a small ridge
    penalty (``ridge`` × number of dates) for stability. Gaps with SAR take the
    prediction; gaps without SAR, and pixels with too few clear dates (fewer
    than the number of coefficients + 1), fall back to linear interpolation.

    Parameters
    ----------
    values, clear, t, out_idx
        As in :func:`linear`.
    sar : ndarray, shape (nf, npix, nt)
        SAR features (NaN where missing).
    ridge : float, default 1e-3
        Ridge penalty on the standardised coefficients, relative to the count.

    Returns
    -------
    out : ndarray, shape (nb, npix, m)
    source : ndarray of int8, shape (npix, m)
    """
    work = work_dtype(values)
    out = np.empty((values.shape[0], values.shape[1], out_idx.size), dtype=work)
    src = np.empty((values.shape[1], out_idx.size), dtype=np.int8)
    _sar_regression(
        np.ascontiguousarray(values, dtype=work),
        np.ascontiguousarray(clear, dtype=np.bool_),
        np.ascontiguousarray(sar, dtype=work),
        np.ascontiguousarray(t, dtype=np.float64),
        np.ascontiguousarray(out_idx, dtype=np.int64),
        float(ridge),
        out,
        src,
    )
    return out, src


def sar_regression_reference(
    values: np.ndarray,
    clear: np.ndarray,
    sar: np.ndarray,
    t: np.ndarray,
    out_idx: np.ndarray,
    *,
    ridge: float = 1e-3,
) -> tuple[np.ndarray, np.ndarray]:
    """Slow numpy reference of :func:`sar_regression` (``np.linalg.solve`` per pixel)."""
    out, src = linear_reference(values, clear, t, out_idx)
    out = out.astype(np.float64)
    nb, npix, _ = values.shape
    nf = sar.shape[0]
    for p in range(npix):
        finite = np.isfinite(sar[:, p]).all(axis=0)
        use = clear[p] & finite
        n = int(use.sum())
        if n < nf + 2:
            continue
        x = sar[:, p][:, use].T
        mu = x.mean(axis=0)
        sd = x.std(axis=0)
        sd[sd**2 <= 1e-12] = 1.0
        design = np.column_stack([np.ones(n), (x - mu) / sd])
        pen = np.diag([0.0] + [ridge * n] * nf)
        for j, i in enumerate(out_idx):
            if clear[p, i] or not finite[i]:
                continue
            z = np.r_[1.0, (sar[:, p, i] - mu) / sd]
            for k in range(nb):
                beta = np.linalg.solve(design.T @ design + pen, design.T @ values[k, p][use])
                out[k, p, j] = z @ beta
            src[p, j] = SAR
    return out.astype(values.dtype), src
