"""What the STORI network reads, made from the aligned arrays (numpy only, no torch).

Arrays are laid out as in :mod:`stori_xr.kernels.baselines`: ``values (nb, npix, nt)``,
``usable (npix, nt)`` (bool), ``sar (nf, npix, nt)``, ``t (nt,)`` in days. The network
reads ``(npix, nt, k)`` float32 arrays:

- :func:`sar_inputs`: each SAR feature min–max scaled per pixel and smoothed in time by a
  Savitzky–Golay filter on the real dates (:func:`savgol_matrix`), as the public STORI
  code does on its regular 8-day grid;
- :func:`days_since_clear`: Δ, the days since the last usable optical value before each
  date (the BRITS time gap), forwards or backwards in time;
- :func:`band_inputs`: the bands standardised with the fit's constants, gaps zeroed.

Examples
--------
>>> t = np.arange(6) * 5.0
>>> usable = np.array([[True, False, False, True, False, True]])
>>> days_since_clear(usable, t).tolist()
[[0.0, 5.0, 10.0, 15.0, 5.0, 10.0]]
>>> days_since_clear(usable, t, backward=True).tolist()
[[15.0, 10.0, 5.0, 10.0, 5.0, 0.0]]
"""

from __future__ import annotations

import numpy as np

#: Half-width (days) of the Savitzky–Golay window: 19 steps of the original's 8-day grid.
SAVGOL_HALF_WIDTH = 72.0

#: Order of the Savitzky–Golay polynomial.
SAVGOL_ORDER = 2


def savgol_matrix(
    t: np.ndarray, half_width: float = SAVGOL_HALF_WIDTH, order: int = SAVGOL_ORDER
) -> np.ndarray:
    """The Savitzky–Golay smoother on irregular dates, as a matrix ``S``: ``smooth = x @ S.T``.

    At each date, the value of the least-squares polynomial of degree ``order`` through
    the dates within ``half_width`` days (the degree lowered where fewer dates are
    there). On a regular grid of step ``2 * half_width / 18`` days it is the 19-point
    filter (``scipy.signal.savgol_filter(x, 19, order)`` away from the ends).

    Examples
    --------
    >>> t = np.arange(30) * 8.0
    >>> s = savgol_matrix(t)
    >>> bool(np.allclose(s @ (0.5 + 0.01 * t), 0.5 + 0.01 * t))  # lines pass unchanged
    True
    >>> bool(np.allclose(s.sum(axis=1), 1.0))
    True
    """
    t = np.asarray(t, dtype=np.float64)
    nt = t.size
    out = np.zeros((nt, nt))
    for i in range(nt):
        near = np.flatnonzero(np.abs(t - t[i]) <= half_width)
        u = (t[near] - t[i]) / half_width
        degree = min(order, near.size - 1)
        design = np.vander(u, degree + 1, increasing=True)
        # the fitted polynomial's value at u = 0 is the first coefficient
        out[i, near] = np.linalg.pinv(design)[0]
    return out


def _fill_nan(a: np.ndarray, t: np.ndarray, default: float) -> np.ndarray:
    """NaN replaced by linear interpolation in time along the last axis.

    The nearest value at the ends, ``default`` where a row has no finite value.
    """
    npix, nt = a.shape
    finite = np.isfinite(a)
    if finite.all():
        return a
    idx = np.arange(nt)
    prev = np.maximum.accumulate(np.where(finite, idx, -1), axis=1)
    nxt = np.minimum.accumulate(np.where(finite, idx, nt)[:, ::-1], axis=1)[:, ::-1]
    rows = np.arange(npix)[:, None]
    has_prev, has_next = prev >= 0, nxt < nt
    p, n = np.clip(prev, 0, nt - 1), np.clip(nxt, 0, nt - 1)
    a0, a1 = a[rows, p], a[rows, n]
    span = t[n] - t[p]
    w = np.divide(t[None, :] - t[p], span, out=np.zeros(a.shape), where=span > 0)
    both = np.where(has_prev & has_next, a0 + w * (a1 - a0), np.nan)
    out = np.where(has_prev & ~has_next, a0, both)
    out = np.where(~has_prev & has_next, a1, out)
    out = np.where(finite, a, out)
    return np.where(np.isfinite(out), out, default)


def sar_inputs(sar: np.ndarray, t: np.ndarray, smoother: np.ndarray | None = None) -> np.ndarray:
    """SAR features as the network reads them: ``(npix, nt, nf)`` float32 in about [0, 1].

    Each feature of each pixel is min–max scaled over the pixel's dates, its missing
    dates (no acquisition within the alignment's tolerance) filled linearly in time, and
    smoothed by :func:`savgol_matrix` (``smoother``, computed from ``t`` when None). A
    constant or missing series reads 0.5.

    Examples
    --------
    >>> sar = np.array([[[-20.0, np.nan, -10.0, -15.0]]])  # (1 feature, 1 pixel, 4 dates)
    >>> sar_inputs(sar, np.arange(4) * 8.0, smoother=np.eye(4)).ravel().tolist()
    [0.0, 0.5, 1.0, 0.5]
    """
    sar = np.asarray(sar, dtype=np.float64)
    nf, npix, nt = sar.shape
    s = savgol_matrix(t) if smoother is None else smoother
    out = np.empty((npix, nt, nf), dtype=np.float32)
    for f in range(nf):
        a = sar[f]
        finite = np.isfinite(a)
        lo = np.where(finite, a, np.inf).min(axis=1, keepdims=True)
        hi = np.where(finite, a, -np.inf).max(axis=1, keepdims=True)
        span = hi - lo
        ok = np.isfinite(span) & (span > 0)
        scaled = np.where(ok, (a - np.where(ok, lo, 0.0)) / np.where(ok, span, 1.0), 0.5)
        scaled = np.where(finite, scaled, np.nan)
        out[:, :, f] = _fill_nan(scaled, np.asarray(t, np.float64), 0.5) @ s.T
    return out


def days_since_clear(usable: np.ndarray, t: np.ndarray, *, backward: bool = False) -> np.ndarray:
    """Δ: days from the last usable date before each date (``backward``: to the next after).

    The BRITS time gap: 0 on the first date, then the step to the previous date plus,
    when that date was not usable, its own Δ. ``(npix, nt)`` float32.
    """
    usable = np.asarray(usable, dtype=bool)
    t = np.asarray(t, dtype=np.float64)
    if backward:
        return np.ascontiguousarray(days_since_clear(usable[:, ::-1], -t[::-1])[:, ::-1])
    npix, nt = usable.shape
    out = np.zeros((npix, nt), dtype=np.float64)
    step = np.diff(t)
    for i in range(1, nt):
        out[:, i] = step[i - 1] + np.where(usable[:, i - 1], 0.0, out[:, i - 1])
    return out.astype(np.float32)


def band_inputs(
    values: np.ndarray, usable: np.ndarray, mean: np.ndarray, std: np.ndarray
) -> np.ndarray:
    """The bands standardised per band, ``(npix, nt, nb)`` float32, 0 where not usable.

    Examples
    --------
    >>> v = np.array([[[0.2, np.nan, 0.4]]])  # (1 band, 1 pixel, 3 dates)
    >>> u = np.array([[True, False, True]])
    >>> band_inputs(v, u, np.array([0.3]), np.array([0.1])).ravel().round(6).tolist()
    [-1.0, 0.0, 1.0]
    """
    z = (np.asarray(values, np.float64) - mean[:, None, None]) / std[:, None, None]
    z = np.where(usable[None], z, 0.0)
    return np.ascontiguousarray(z.transpose(1, 2, 0), dtype=np.float32)
