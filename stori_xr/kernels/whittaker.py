r"""Whittaker smoother (Eilers 2003) on a regular time grid, as FuseTS runs it.

The observations of each pixel are placed on a regular grid of spacing ``step``
days (FuseTS: daily), weighted 1 where a finite value exists and 0 elsewhere,
and the smooth series ``z`` solves the penalised least-squares problem

.. math:: (W + \lambda D^T D)\, z = W y

with :math:`D` the ``order``-th difference matrix. The matrix is banded
(half-bandwidth ``order``) and symmetric positive definite, so each pixel is
solved in O(n) with a banded :math:`LDL^T` factorisation. For
``lmbda="gcv"`` the smoothing parameter is chosen per pixel by generalised
cross-validation, with the trace of the hat matrix taken from the diagonal of
the inverse of the banded matrix (Hutchinson & de Hoog 1985), also in O(n).

All functions take arrays whose *last* axis is time; leading axes are pixels
(any shape, flattened internally). Times are float64 days on a common origin.

References
----------
P. H. C. Eilers, "A perfect smoother", Analytical Chemistry 75 (2003) 3631-3636.
M. F. Hutchinson & F. R. de Hoog, "Smoothing noisy data with spline functions",
Numerische Mathematik 47 (1985) 99-106.
"""

from __future__ import annotations

import numpy as np

from stori_xr.kernels.dtypes import work_dtype
from stori_xr.kernels.jit import jit

#: The smoothing parameters among which ``lmbda="gcv"`` chooses: 10^-1 ... 10^7,
#: in steps of 10^0.25.
GCV_LAMBDAS = 10.0 ** np.linspace(-1.0, 7.0, 33)

#: Largest grid the smoother accepts (a guard against times in mixed units).
MAX_NODES = 1_000_000


# --------------------------------------------------------------------------------------
# numba kernels
# --------------------------------------------------------------------------------------


@jit(error_model="numpy")
def _diff_coef(order):  # pragma: no cover - numba
    """Coefficients of one row of the difference matrix, ``(x - 1) ** order``."""
    coef = np.zeros(order + 1)
    coef[0] = 1.0
    for _ in range(order):
        for m in range(order, 0, -1):
            coef[m] = coef[m - 1] - coef[m]
        coef[0] = -coef[0]
    return coef


@jit(error_model="numpy")
def _fill_dtd(coef, n, band):  # pragma: no cover - numba
    """Band of D^T D for ``n`` nodes: ``band[i, m] = (D^T D)[i, i + m]``, ``m = 0 .. order``."""
    order = coef.shape[0] - 1
    band[:n] = 0.0
    for k in range(n - order):
        for a in range(order + 1):
            for b in range(a, order + 1):
                band[k + a, b - a] += coef[a] * coef[b]


@jit(error_model="numpy")
def _extend(coef, k0, k1, z):  # pragma: no cover - numba
    """Continue ``z[k0:k1 + 1]`` outwards with zero ``order``-th differences.

    Beyond the first and last weighted node the solution is the polynomial of
    degree ``order - 1`` through the nearest ``order`` nodes: it adds nothing to
    the penalty, so it is exact, and it avoids the ill-conditioned system a long
    unobserved end would give.
    """
    order = coef.shape[0] - 1
    for i in range(k0 - 1, -1, -1):
        s = 0.0
        for a in range(1, order + 1):
            s += coef[a] * z[i + a]
        z[i] = -s / coef[0]
    for i in range(k1 + 1, z.shape[0]):
        s = 0.0
        for a in range(order):
            s += coef[a] * z[i - order + a]
        z[i] = -s / coef[order]


@jit(error_model="numpy")
def _ldl(w, dtd, lam, low, diag):  # pragma: no cover - numba
    """Banded LDL^T of ``diag(w) + lam * D^T D``; ``low[i, m] = L[i, i - m]``."""
    n, b1 = dtd.shape
    p = b1 - 1
    for i in range(n):
        for m in range(min(p, i), 0, -1):
            j = i - m
            s = lam * dtd[j, m]
            for k in range(max(i - p, 0), j):
                s -= low[i, i - k] * low[j, j - k] * diag[k]
            low[i, m] = s / diag[j]
        s = w[i] + lam * dtd[i, 0]
        for k in range(max(i - p, 0), i):
            s -= low[i, i - k] * low[i, i - k] * diag[k]
        diag[i] = s


@jit(error_model="numpy")
def _ldl_solve(low, diag, rhs, z):  # pragma: no cover - numba
    """Solve ``L D L^T z = rhs`` with the factor from :func:`_ldl`."""
    n, b1 = low.shape
    p = b1 - 1
    for i in range(n):
        s = rhs[i]
        for m in range(1, min(p, i) + 1):
            s -= low[i, m] * z[i - m]
        z[i] = s
    for i in range(n):
        z[i] /= diag[i]
    for i in range(n - 1, -1, -1):
        s = z[i]
        for m in range(1, min(p, n - 1 - i) + 1):
            s -= low[i + m, m] * z[i + m]
        z[i] = s


@jit(error_model="numpy")
def _residual(w, dtd, lam, rhs, z, res):  # pragma: no cover - numba
    """``res = rhs - (diag(w) + lam * D^T D) z``, from the band of D^T D."""
    n, b1 = dtd.shape
    p = b1 - 1
    for i in range(n):
        s = dtd[i, 0] * z[i]
        for m in range(1, min(p, n - 1 - i) + 1):
            s += dtd[i, m] * z[i + m]
        for m in range(1, min(p, i) + 1):
            s += dtd[i - m, m] * z[i - m]
        res[i] = rhs[i] - w[i] * z[i] - lam * s


@jit(error_model="numpy")
def _merge(values, weights, p, node, use_w, y, w, cnt):  # pragma: no cover - numba
    """Put pixel ``p`` on the grid: node values and weights; returns the count of nodes."""
    n = y.shape[0]
    nt = node.shape[0]
    for i in range(n):
        y[i] = 0.0
        w[i] = 0.0
        cnt[i] = 0.0  # finite values per node
    for i in range(nt):
        v = values[p, i]
        if np.isfinite(v):
            k = node[i]
            wi = weights[p, i] if use_w else 1.0
            if not wi > 0.0:  # also NaN
                wi = 0.0
            cnt[k] += 1.0
            w[k] += wi
            y[k] += wi * v
    m = 0
    for k in range(n):
        if w[k] > 0.0:
            y[k] /= w[k]
            w[k] /= cnt[k]
            m += 1
    return m


@jit(error_model="numpy")
def _constant(y, w):  # pragma: no cover - numba
    """Weighted mean of the node values; NaN when no node has a weight."""
    sw = 0.0
    sy = 0.0
    for k in range(y.shape[0]):
        sw += w[k]
        sy += w[k] * y[k]
    return sy / sw if sw > 0.0 else np.nan


@jit(error_model="numpy")
def _read(z, pos, out, p):  # pragma: no cover - numba
    """Linear interpolation of the grid series ``z`` at grid positions ``pos``."""
    n = z.shape[0]
    for j in range(pos.shape[0]):
        s = pos[j]
        if n == 1:
            out[p, j] = z[0]
            continue
        k = int(np.floor(s))
        k = min(max(k, 0), n - 2)
        f = s - k
        if f <= 0.0:
            out[p, j] = z[k]
        elif f >= 1.0:
            out[p, j] = z[k + 1]
        else:
            out[p, j] = (1.0 - f) * z[k] + f * z[k + 1]


@jit(error_model="numpy")
def _ldl_many(w, dtd, lams, low, diag, dinv, acc):  # pragma: no cover - numba
    """:func:`_ldl` for all ``lams`` at once (last axis), keeping ``1 / D``.

    The recurrences run along the grid; running the lambdas side by side in the
    innermost loop lets the CPU overlap them (SIMD, no waiting on divisions).
    """
    n, b1 = dtd.shape
    p = b1 - 1
    nl = lams.shape[0]
    for i in range(n):
        for m in range(min(p, i), 0, -1):
            j = i - m
            c = dtd[j, m]
            for q in range(nl):
                acc[q] = lams[q] * c
            for k in range(max(i - p, 0), j):
                for q in range(nl):
                    acc[q] -= low[i, i - k, q] * low[j, j - k, q] * diag[k, q]
            for q in range(nl):
                low[i, m, q] = acc[q] * dinv[j, q]
        c = dtd[i, 0]
        for q in range(nl):
            acc[q] = w[i] + lams[q] * c
        for k in range(max(i - p, 0), i):
            for q in range(nl):
                acc[q] -= low[i, i - k, q] * low[i, i - k, q] * diag[k, q]
        for q in range(nl):
            diag[i, q] = acc[q]
            dinv[i, q] = 1.0 / acc[q]


@jit(error_model="numpy")
def _solve_many(low, dinv, rhs, z):  # pragma: no cover - numba
    """:func:`_ldl_solve` for all lambdas at once: ``z[:, q]`` for the factor ``q``."""
    n, b1, nl = low.shape
    p = b1 - 1
    for i in range(n):
        for q in range(nl):
            z[i, q] = rhs[i]
        for m in range(1, min(p, i) + 1):
            for q in range(nl):
                z[i, q] -= low[i, m, q] * z[i - m, q]
    for i in range(n):
        for q in range(nl):
            z[i, q] *= dinv[i, q]
    for i in range(n - 1, -1, -1):
        for m in range(1, min(p, n - 1 - i) + 1):
            for q in range(nl):
                z[i, q] -= low[i + m, m, q] * z[i + m, q]


@jit(error_model="numpy")
def _inv_band_many(low, dinv, sig):  # pragma: no cover - numba
    """Band of the inverses from the factors: ``sig[i, m, q] = inv_q[i, i + m]``.

    Hutchinson-de Hoog / Takahashi recursion, ``inv = D^-1 L^-1 + (I - L^T) inv``,
    run from the last row up; O(n * order^2).
    """
    n, b1, nl = low.shape
    p = b1 - 1
    for i in range(n - 1, -1, -1):
        top = min(p, n - 1 - i)
        for m in range(top, 0, -1):
            j = i + m
            for q in range(nl):
                sig[i, m, q] = 0.0
            for r in range(1, top + 1):
                k = i + r
                a, b = (k, j - k) if k <= j else (j, k - j)
                for q in range(nl):
                    sig[i, m, q] -= low[k, r, q] * sig[a, b, q]
        for q in range(nl):
            sig[i, 0, q] = dinv[i, q]
        for r in range(1, top + 1):
            for q in range(nl):
                sig[i, 0, q] -= low[i + r, r, q] * sig[i, r, q]


@jit(error_model="numpy")
def _gcv_pick(y, w, m, dtd, lams, work, wy, acc):  # pragma: no cover - numba
    """The GCV-optimal lambda among ``lams`` for one pixel (``wy = w * y``)."""
    low, diag, dinv, sig, z = work
    n = y.shape[0]
    nl = lams.shape[0]
    _ldl_many(w, dtd, lams, low, diag, dinv, acc)
    _solve_many(low, dinv, wy, z)
    _inv_band_many(low, dinv, sig)
    best_score = np.inf
    ib = 0
    for q in range(nl):
        rss = 0.0
        tr = 0.0
        for k in range(n):
            if w[k] > 0.0:
                r = y[k] - z[k, q]
                rss += w[k] * r * r
                tr += w[k] * sig[k, 0, q]
        dof = m - tr
        score = m * rss / (dof * dof)
        if score < best_score:
            best_score = score
            ib = q
    return lams[ib]


@jit(error_model="numpy")
def _whittaker_2d(  # pragma: no cover - numba
    values, weights, use_w, node, pos, n, order, lam, lams, out, lam_out
):
    """Smooth each row of ``values``; ``lams`` non-empty means choose lambda by GCV."""
    npix = values.shape[0]
    coef = _diff_coef(order)
    dtd = np.zeros((n, order + 1))
    y = np.empty(n)
    w = np.empty(n)
    wy = np.empty(n)
    z = np.empty(n)
    cnt = np.empty(n)
    res = np.empty(n)
    dz = np.empty(n)
    low = np.zeros((n, order + 1))
    diag = np.empty(n)
    nl = lams.shape[0]
    low_g = np.zeros((n, order + 1, nl))
    diag_g = np.empty((n, nl))
    dinv_g = np.empty((n, nl))
    sig_g = np.zeros((n, order + 1, nl))
    z_g = np.empty((n, nl))
    acc = np.empty(nl)
    prev_w = np.full(n, -1.0)  # weights, lambda and size of the last factorised core
    prev_lam = np.nan
    prev_nc = -1
    gcv = nl > 0
    for p in range(npix):
        m = _merge(values, weights, p, node, use_w, y, w, cnt)
        if m < order + 1:
            c = _constant(y, w)
            for j in range(pos.shape[0]):
                out[p, j] = c
            lam_out[p] = np.nan
            continue
        # solve on the core, from the first to the last weighted node
        k0 = 0
        while w[k0] == 0.0:
            k0 += 1
        k1 = n - 1
        while w[k1] == 0.0:
            k1 -= 1
        nc = k1 - k0 + 1
        if nc != prev_nc:
            _fill_dtd(coef, nc, dtd)
            prev_nc = nc
            prev_lam = np.nan
        yc = y[k0 : k1 + 1]
        wc = w[k0 : k1 + 1]
        dc = dtd[:nc]
        wyc = wy[:nc]
        for k in range(nc):
            wyc[k] = wc[k] * yc[k]
        if gcv:
            work = (low_g[:nc], diag_g[:nc], dinv_g[:nc], sig_g[:nc], z_g[:nc])
            lam_p = _gcv_pick(yc, wc, m, dc, lams, work, wyc, acc)
        else:
            lam_p = lam
        # the factor depends on lambda and the core weights only: reuse it when they repeat
        same = lam_p == prev_lam
        for k in range(nc):
            if not same or wc[k] != prev_w[k]:
                same = False
                break
        if not same:
            _ldl(wc, dc, lam_p, low[:nc], diag[:nc])
            prev_lam = lam_p
            for k in range(nc):
                prev_w[k] = wc[k]
        zc = z[k0 : k1 + 1]
        _ldl_solve(low[:nc], diag[:nc], wyc, zc)
        # one step of iterative refinement: a large lambda makes the system ill-conditioned
        _residual(wc, dc, lam_p, wyc, zc, res[:nc])
        _ldl_solve(low[:nc], diag[:nc], res[:nc], dz[:nc])
        for k in range(nc):
            zc[k] += dz[k]
        _extend(coef, k0, k1, z)
        lam_out[p] = lam_p
        _read(z, pos, out, p)


# --------------------------------------------------------------------------------------
# numpy wrappers
# --------------------------------------------------------------------------------------


def _grid(t: np.ndarray, target: np.ndarray, step: float) -> tuple[float, int]:
    """Origin and length of the regular grid covering ``t`` and ``target``."""
    ends = np.concatenate([t, target])
    if ends.size == 0:
        return 0.0, 1
    g0, g1 = float(ends.min()), float(ends.max())
    return g0, int(np.ceil((g1 - g0) / step - 1e-9)) + 1


def _check(values, t, target, order, step, weights):
    """Validate and convert the inputs (native byte order, float64, 2-D)."""
    values = np.asarray(values)
    if values.ndim == 0:
        raise ValueError("values must have at least one (time) axis")
    t = np.ascontiguousarray(t, dtype=np.float64)
    target = np.ascontiguousarray(target, dtype=np.float64)
    if t.ndim != 1 or t.size != values.shape[-1]:
        raise ValueError(
            f"t must be 1-D with one time per value along the last axis ({values.shape[-1]}), "
            f"got shape {t.shape}"
        )
    if target.ndim != 1:
        raise ValueError(f"target must be 1-D, got shape {target.shape}")
    if not (np.isfinite(t).all() and np.isfinite(target).all()):
        raise ValueError("t and target must be finite")
    if int(order) != order or order < 1:
        raise ValueError(f"order must be a positive integer, got {order!r}")
    if not (np.isfinite(step) and step > 0):
        raise ValueError(f"step must be a positive number of days, got {step!r}")
    lead, nt = values.shape[:-1], values.shape[-1]
    v2 = np.ascontiguousarray(values.reshape(int(np.prod(lead)), nt), dtype=np.float64)
    if weights is None:
        w2 = np.zeros((1, 1))
    else:
        weights = np.asarray(weights)
        if weights.shape != values.shape:
            raise ValueError(
                f"weights must have the shape of values {values.shape}, got {weights.shape}"
            )
        w2 = np.ascontiguousarray(weights.reshape(v2.shape), dtype=np.float64)
        if (w2 < 0).any():
            raise ValueError("weights must not be negative")
    g0, n = _grid(t, target, float(step))
    if n > MAX_NODES:
        raise ValueError(
            f"the grid from the first to the last date would have {n} nodes of {step} days "
            f"(at most {MAX_NODES}): check that t and target share one origin and unit, "
            "or use a larger step"
        )
    node = np.clip(np.rint((t - g0) / step), 0, n - 1).astype(np.int64)
    pos = (target - g0) / step
    return lead, v2, w2, weights is not None, node, pos, n


def _run(values, t, target, lmbda, order, step, weights):
    lead, v2, w2, use_w, node, pos, n = _check(values, t, target, order, step, weights)
    if isinstance(lmbda, str):
        if lmbda != "gcv":
            raise ValueError(f'lmbda must be a positive number or "gcv", got {lmbda!r}')
        lam, lams = np.nan, GCV_LAMBDAS
    else:
        lam, lams = float(lmbda), np.empty(0)
        if not (np.isfinite(lam) and lam > 0):
            raise ValueError(f'lmbda must be a positive number or "gcv", got {lmbda!r}')
    out = np.empty((v2.shape[0], pos.size), dtype=np.float64)
    lam_out = np.empty(v2.shape[0], dtype=np.float64)
    if v2.shape[0]:
        _whittaker_2d(v2, w2, use_w, node, pos, n, int(order), lam, lams, out, lam_out)
    return lead, out, lam_out


def whittaker(
    values: np.ndarray,
    t: np.ndarray,
    target: np.ndarray,
    *,
    lmbda: float | str = 1e4,
    order: int = 2,
    step: float = 1.0,
    weights: np.ndarray | None = None,
) -> np.ndarray:
    r"""Whittaker smoother (Eilers 2003) on a regular grid, read at target dates.

    The observations are placed on a regular grid of spacing ``step`` days that
    runs from ``min(t.min(), target.min())`` over ``max(t.max(), target.max())``
    (each time goes to its nearest node, ties to even); values that fall on the
    same node are averaged. Each node is weighted 1 where it holds a finite
    value and 0 elsewhere, and ``(W + lmbda D^T D) z = W y`` is solved with
    ``D`` the ``order``-th difference matrix by a banded ``LDL^T`` (O(n) per
    pixel). ``z`` is read at ``target``, linearly between grid nodes. This is
    FuseTS's ``whittaker`` service with its defaults (daily grid, order 2,
    lambda 10^4).

    Parameters
    ----------
    values : ndarray of float, shape (..., nt)
        The series (e.g. reflectance); NaN marks a gap.
    t : ndarray of float64, shape (nt,)
        Acquisition times in days. Duplicates are allowed.
    target : ndarray of float64, shape (nm,)
        Output times in days.
    lmbda : float or "gcv", default 1e4
        Smoothing parameter (> 0). ``"gcv"`` chooses it per pixel by
        generalised cross-validation among :data:`GCV_LAMBDAS` (see
        :func:`whittaker_gcv_lambda`).
    order : int, default 2
        Order of the differences in the penalty (1, 2, 3, ...).
    step : float, default 1.0
        Grid spacing in days.
    weights : ndarray of float, shape (..., nt), optional
        Non-negative observation weights (ignored where ``values`` is NaN), e.g.
        quality scores in [0, 1]. Values on one node are then averaged with these
        weights, and the node gets the mean of their weights. Weights are
        relative to ``lmbda``: non-zero weights many orders of magnitude below
        ``1 / lmbda`` make the system ill-conditioned; use 0 to drop a value.

    Returns
    -------
    ndarray, shape (..., nm)
        The smooth series at ``target``, float32 for float32 input and float64
        otherwise. A pixel with fewer than ``order + 1`` weighted grid nodes gets
        the (weighted) mean of its node values everywhere, or NaN if it has none.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.array([0.0, 1.0, 2.0, 3.0, 4.0])
    >>> values = np.array([1.0, np.nan, 3.0, np.nan, 5.0])
    >>> whittaker(values, t, np.array([1.0, 3.5]), lmbda=100.0).round(6).tolist()
    [2.0, 4.5]
    """
    dtype = work_dtype(np.asarray(values))
    lead, out, _ = _run(values, t, target, lmbda, order, step, weights)
    return out.astype(dtype).reshape((*lead, out.shape[1]))


def whittaker_gcv_lambda(
    values: np.ndarray,
    t: np.ndarray,
    *,
    order: int = 2,
    step: float = 1.0,
    weights: np.ndarray | None = None,
) -> np.ndarray:
    r"""Smoothing parameter chosen per pixel by generalised cross-validation.

    Among :data:`GCV_LAMBDAS` the one minimising

    .. math:: GCV(\lambda) = n_w \, RSS / (n_w - tr(H))^2

    is taken, where ``n_w`` is the number of grid nodes with a positive weight,
    ``RSS = sum w_i (y_i - z_i)^2`` and ``tr(H) = sum w_i (W + lambda D^T D)^-1_ii``
    (from the banded factor, in O(n)). Ties go to the smaller lambda. The grid
    spans ``t`` only, as in :func:`whittaker` with targets inside it.

    Parameters
    ----------
    values : ndarray of float, shape (..., nt)
        The series; NaN marks a gap.
    t : ndarray of float64, shape (nt,)
        Acquisition times in days.
    order : int, default 2
        Order of the differences in the penalty.
    step : float, default 1.0
        Grid spacing in days.
    weights : ndarray of float, shape (..., nt), optional
        Non-negative observation weights, as in :func:`whittaker`.

    Returns
    -------
    ndarray of float64, shape (...)
        The chosen lambda; NaN for a pixel with fewer than ``order + 1`` weighted
        grid nodes (which :func:`whittaker` sets to a constant).

    Examples
    --------
    >>> import numpy as np
    >>> t = np.arange(0.0, 100.0, 5.0)
    >>> noisy = np.sin(t / 30) + np.array([0.1, -0.1] * 10)
    >>> sharp = np.exp(-(((t - 50) / 10) ** 2))
    >>> whittaker_gcv_lambda(np.stack([noisy, sharp]), t).round(1).tolist()
    [3162.3, 0.1]
    """
    lead, _, lam = _run(values, t, np.empty(0), "gcv", order, step, weights)
    return lam.reshape(lead)


# --------------------------------------------------------------------------------------
# slow numpy references
# --------------------------------------------------------------------------------------


def _reference_pixel(v, wv, t, step, g0, n):
    """Node values and weights of one pixel (reference, plain numpy)."""
    grid_idx = np.clip(np.rint((t - g0) / step).astype(int), 0, n - 1)
    y = np.zeros(n)
    w = np.zeros(n)
    for k in range(n):
        at = (grid_idx == k) & np.isfinite(v)
        if at.any():
            wk = np.where(wv[at] > 0, wv[at], 0.0)  # NaN weight counts as 0
            if wk.sum() > 0:
                y[k] = np.sum(wk * v[at]) / wk.sum()
                w[k] = wk.mean()
    return y, w


def _reference_solve(y, w, lam, order):
    """Minimise ``|sqrt(W) (y - z)|^2 + lam |D z|^2`` densely; also return the normal matrix.

    Solved as the stacked least-squares problem rather than through the normal
    equations ``(W + lam D^T D) z = W y``: same solution, but the conditioning is
    the square root of theirs, which keeps the reference accurate when lambda is
    large and the series has long unobserved ends.
    """
    n = y.size
    d = np.diff(np.eye(n), order, axis=0)
    rw = np.sqrt(w)
    stacked = np.vstack([np.diag(rw), np.sqrt(lam) * d])
    z = np.linalg.lstsq(stacked, np.concatenate([rw * y, np.zeros(n - order)]), rcond=None)[0]
    return z, np.diag(w) + lam * d.T @ d


def _reference_gcv(y, w, order):
    """GCV choice of lambda for one gridded pixel, with a dense inverse for the trace."""
    n_w = np.count_nonzero(w)
    scores = []
    for lam in GCV_LAMBDAS:
        z, a = _reference_solve(y, w, lam, order)
        tr = np.sum(w * np.diag(np.linalg.inv(a)))
        rss = np.sum(w * (y - z) ** 2)
        scores.append(n_w * rss / (n_w - tr) ** 2)
    return GCV_LAMBDAS[int(np.argmin(scores))]


def whittaker_reference(
    values: np.ndarray,
    t: np.ndarray,
    target: np.ndarray,
    *,
    lmbda: float | str = 1e4,
    order: int = 2,
    step: float = 1.0,
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """Slow numpy reference of :func:`whittaker`, with dense matrices."""
    values = np.asarray(values)
    dtype = work_dtype(values)
    t = np.asarray(t, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    v2 = values.reshape(int(np.prod(values.shape[:-1])), values.shape[-1]).astype(np.float64)
    w2 = np.ones_like(v2) if weights is None else np.asarray(weights, np.float64).reshape(v2.shape)
    g0, n = _grid(t, target, step)
    grid = g0 + step * np.arange(n)
    out = np.full((v2.shape[0], target.size), np.nan)
    for p in range(v2.shape[0]):
        y, w = _reference_pixel(v2[p], w2[p], t, step, g0, n)
        if np.count_nonzero(w) < order + 1:
            if w.sum() > 0:
                out[p] = np.sum(w * y) / w.sum()
            continue
        lam = _reference_gcv(y, w, order) if isinstance(lmbda, str) else float(lmbda)
        z, _ = _reference_solve(y, w, lam, order)
        out[p] = np.interp(target, grid, z)
    return out.astype(dtype).reshape((*values.shape[:-1], target.size))


def whittaker_gcv_lambda_reference(
    values: np.ndarray,
    t: np.ndarray,
    *,
    order: int = 2,
    step: float = 1.0,
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """Slow numpy reference of :func:`whittaker_gcv_lambda`, with ``np.linalg.inv``."""
    values = np.asarray(values)
    t = np.asarray(t, dtype=np.float64)
    v2 = values.reshape(int(np.prod(values.shape[:-1])), values.shape[-1]).astype(np.float64)
    w2 = np.ones_like(v2) if weights is None else np.asarray(weights, np.float64).reshape(v2.shape)
    g0, n = _grid(t, np.empty(0), step)
    out = np.full(v2.shape[0], np.nan)
    for p in range(v2.shape[0]):
        y, w = _reference_pixel(v2[p], w2[p], t, step, g0, n)
        if np.count_nonzero(w) >= order + 1:
            out[p] = _reference_gcv(y, w, order)
    return out.reshape(values.shape[:-1])
