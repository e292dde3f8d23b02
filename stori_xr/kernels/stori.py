"""The STORI gap-filling kernel: temporal, SAR-anchored and spatial candidates, fused.

Everything here works on numpy blocks ``values (nb, ny, nx, nt)``, ``clear (ny,
nx, nt)``, ``sar (nf, ny, nx, nt)`` and fills the pixels of a *core* window of the
block; the rest of the block is the halo that the spatial candidate reads.

Per pixel:

1. **Error models.** Each candidate is "a guide series plus a bridge": the
   difference between the pixel and its guide is known on the anchor dates and
   interpolated linearly in between. Its error is modelled as a Brownian bridge
   with a nugget: ``var = s2 + c · d1·d2/(d1+d2)`` (``s2 + c·d`` when only one side
   is known), where ``d1, d2`` are the days to the anchors. ``s2`` and ``c`` are
   fitted per pixel by least squares to the squared increments of the difference
   series between consecutive anchor dates (``E[Δ²] = 2 s2 + c Δt``), shrunk
   towards a prior.
2. **Temporal candidate.** Guide 0: linear interpolation between the clear values
   that bracket the gap.
3. **SAR-anchored candidate.** Guide ``f(SAR)``: a ridge regression of the band on
   the standardised SAR features, fitted per gap on the pixel's clear dates
   weighted by the biweight ``(1 - (Δt / 3L)²)²`` of the distance
   to the gap's middle rounded to a multiple of ``L/4`` (zero beyond ``3L``,
   ``L = sar_scale_days``); its residuals are anchored to the
   bracketing clear values, so the fill is continuous with what was observed.
   A gap whose anchors are at most ``L/2`` apart uses the whole-series fit
   instead: the anchoring keeps such a fill close to linear whatever the fit.
4. **Spatial candidate.** Guide ``v_j``: a similar neighbour clear on the gap date.
   Neighbours (a fixed pattern of offsets within ``radius``) are ranked by the
   stability of their difference to the pixel over jointly clear dates (the
   error model above, evaluated for a 30-day gap); up to ``n_similar`` of the best
   ``pool`` that are clear on the date each give an estimate; they are combined by
   inverse variance, with correlated errors assumed (``rho``).
5. **Calibration.** Each interior clear value is estimated by the temporal and
   the (global-fit) SAR candidate from its neighbouring clear values; the mean
   of ``error² / (2 s2 + c·br)`` (the variance of an observation minus a
   candidate) over the pixel, shrunk towards 1, scales that
   family's variance, so a family that does worse than its model says on this
   pixel gets less weight (``calibrate=True``).
6. **Screening.** A clear value that its temporal, spatial and SAR
   leave-one-out estimates all contradict (mean squared z-score over the bands
   above ``screen_z²``, at least two families available) is not used as an anchor,
   and is replaced (flag ``screened``). The pixel's own error model and that of its
   SAR residuals are refitted without the value (:func:`_loo_model`).
7. **Fusion.** The candidates are averaged with weights ``1 / var``
   (:func:`stori_xr.kernels.fusion.fuse_value`). The
   uncertainty describes where a clear observation on that date would fall:
   ``sigma² = sigma_scale² · ((1 + spread_weight · S) / Σ(1/var) + s2)``, where
   ``S = Σ (x_f - x̄)² / var_f`` is the disagreement between the candidates and
   ``s2`` the pixel's own observation noise (``sigma_scale`` and ``spread_weight``
   were set on patch 00002806639B424A, see ``docs/benchmarks.md``). Observed values
   keep ``sigma = sigma_scale · sqrt(s2)``. The flag names the candidate family
   with the largest weight (``extrapolated`` when that is the temporal candidate
   on one side of the series only).

Candidates and fusion are separate stages: :func:`stori_fill` gives the fusion;
:func:`stori_candidates` gives, in the same pass, each family's candidate and σ as
well (and how many similar neighbours the spatial one found), which the ranker
(:mod:`stori_xr.ranker.candidates`) weighs instead.
"""

from __future__ import annotations

from collections import namedtuple
from typing import NamedTuple

import numpy as np
from numba.cpython.unsafe.numbers import leading_zeros, trailing_zeros

from stori_xr.kernels.baselines import brackets
from stori_xr.kernels.dtypes import work_dtype
from stori_xr.kernels.flags import (
    EXTRAPOLATED,
    NODATA,
    OBSERVED,
    SAR,
    SCREENED,
    SPATIAL,
    TEMPORAL,
)
from stori_xr.kernels.fusion import fuse_value
from stori_xr.kernels.jit import jit
from stori_xr.kernels.linalg import cholesky_solve

#: Default options of :func:`stori_fill`.
DEFAULTS = {
    "radius": 8,
    "n_similar": 8,
    "pool": 72,
    "sar_scale_days": 60.0,
    "ridge": 0.05,
    "screen_z": 4.0,
    "rho": 0.15,
    "sigma_scale": 0.65,
    "spread_weight": 1.0,
    "prior_c": 2e-5,
    "prior_s2": 1e-4,
    "prior_weight": 4.0,
    "min_joint": 5,
    "calibrate": True,
    "candidates": ("temporal", "sar", "spatial"),
}

_FAMILIES = ("temporal", "sar", "spatial")


def neighbour_offsets(radius: int) -> np.ndarray:
    """The fixed pattern of neighbour offsets: every pixel within 2, then 8 directions.

    Returns
    -------
    ndarray of int64, shape (n, 2)
        ``(dy, dx)`` pairs, nearest first.
    """
    offs = []
    for r in range(1, radius + 1):
        ring = []
        for dy in range(-r, r + 1):
            for dx in range(-r, r + 1):
                if max(abs(dy), abs(dx)) != r:
                    continue
                if r <= 2 or dy == 0 or dx == 0 or abs(dy) == abs(dx):
                    ring.append((dy, dx))
        offs.extend(ring)
    return np.array(offs, dtype=np.int64).reshape(-1, 2)


@jit(error_model="numpy", inline="always")
def _bridge(d1, d2):  # pragma: no cover - numba
    """Brownian-bridge factor: d1·d2/(d1+d2), or the one known distance."""
    if d1 >= 0.0 and d2 >= 0.0:
        s = d1 + d2
        return d1 * d2 / s if s > 0.0 else 0.0
    return d1 if d1 >= 0.0 else d2


@jit(error_model="numpy", inline="always")
def _weight(d1, d2):  # pragma: no cover - numba
    """Weight of the later anchor: d1/(d1+d2), or 1/2 when both anchors share the date."""
    s = d1 + d2
    return d1 / s if s > 0.0 else 0.5


@jit(error_model="numpy", inline="always")
def _fit_increments(n, st, stt, sy, sty, prior_s2, prior_c, prior_w):  # pragma: no cover
    """Fit E[Δ²] = 2 s2 + c Δt to increment sums, shrunk towards the prior."""
    s2 = prior_s2
    c = prior_c
    if n >= 3:
        det = n * stt - st * st
        if det > 1e-12:
            slope = (n * sty - st * sy) / det
            icpt = (sy - slope * st) / n
            if slope < 0.0:
                slope = 0.0
                icpt = sy / n
            if icpt < 0.0:
                icpt = 0.0
                slope = sty / stt if stt > 0 else 0.0
            s2 = 0.5 * icpt
            c = slope
        else:  # equally spaced steps: nugget only, the rate stays at the prior
            s2 = 0.5 * sy / n
    # shrink towards the prior (prior_w pseudo-increments)
    s2 = (n * s2 + prior_w * prior_s2) / (n + prior_w)
    c = (n * c + prior_w * prior_c) / (n + prior_w)
    return s2, c


@jit(error_model="numpy", inline="always")
def _series_models(series, use_idx, n_use, t, prior_s2, prior_c, prior_w, s2, c, steps, sums):
    # pragma: no cover - numba
    """(s2, c) per band of a series ``(nt, nb)`` over its dates ``use_idx[:n_use]``.

    The series is a pixel's own values, or the residuals of its SAR fit.

    Keeps the increment sums for the leave-one-out models of :func:`_loo_model`:
    ``steps = (n, Σ Δt, Σ Δt²)``, ``sums[0, k] = Σ Δ²`` and ``sums[1, k] = Σ Δ² Δt``.
    """
    n = n_use - 1
    st = stt = 0.0
    for q in range(1, n_use):
        dt = t[use_idx[q]] - t[use_idx[q - 1]]
        st += dt
        stt += dt * dt
    v = series
    for k in range(series.shape[1]):
        sy = sty = 0.0
        for q in range(1, n_use):
            i = use_idx[q]
            a = use_idx[q - 1]
            dt = t[i] - t[a]
            dv = v[i, k] - v[a, k]
            sy += dv * dv
            sty += dv * dv * dt
        s2[k], c[k] = _fit_increments(max(n, 0), st, stt, sy, sty, prior_s2, prior_c, prior_w)
        sums[0, k] = sy
        sums[1, k] = sty
    steps[0] = max(n, 0)
    steps[1] = st
    steps[2] = stt


@jit(error_model="numpy", inline="always")
def _sar_fit(
    values, iy, ix, feat, feat_ok, usable, t, centre, scale_days, ridge, coef, gram, rhs, x
):
    # pragma: no cover - numba
    """Time-weighted ridge fit of every band on the features; False when not possible."""
    nb = values.shape[3]
    nf = feat.shape[0]
    p = nf + 1
    gram[:, :] = 0.0
    rhs[:, :] = 0.0
    wsum = 0.0
    count = 0
    for i in range(t.shape[0]):
        if not (usable[i] and feat_ok[i]):
            continue
        u = (t[i] - centre) / (3.0 * scale_days)
        if u * u >= 1.0:
            continue
        w = (1.0 - u * u) ** 2
        count += 1
        wsum += w
        x[0] = 1.0
        for f in range(nf):
            x[f + 1] = feat[f, i]
        for a in range(p):
            for b in range(a + 1):
                gram[a, b] += w * x[a] * x[b]
            for k in range(nb):
                rhs[k, a] += w * x[a] * values[iy, ix, i, k]
    if count < p + 2:
        return False
    for a in range(p):
        for b in range(a):
            gram[b, a] = gram[a, b]
        if a > 0:
            gram[a, a] += ridge * wsum
    if not cholesky_solve(gram, rhs, p, nb):
        return False
    for k in range(nb):
        for a in range(p):
            coef[k, a] = rhs[k, a]
    return True


@jit(error_model="numpy", inline="always")
def _fit_centre(ta, tb, scale_days):  # pragma: no cover - numba
    """Centre of a gap's local SAR fit: its middle, rounded to a multiple of L/4.

    Gaps whose middles round to the same multiple share one fit, so the value on a
    date does not depend on which other dates are requested.
    """
    step = 0.25 * scale_days
    return np.floor(0.5 * (ta + tb) / step + 0.5) * step


@jit(error_model="numpy", inline="always")
def _predict(coef, k, feat, i):  # pragma: no cover - numba
    s = coef[k, 0]
    for f in range(feat.shape[0]):
        s += coef[k, f + 1] * feat[f, i]
    return s


@jit(error_model="numpy", inline="always")
def _predict_dates(coef, feat, feat_ok, usable, pred):  # pragma: no cover - numba
    """:func:`_predict` of every band on the usable dates with features, into ``pred``.

    ``pred (nt, nb)``; computed once per pixel for the whole-series fit, which the
    calibration, the screening and the anchors of short gaps all read.
    """
    for i in range(feat_ok.shape[0]):
        if feat_ok[i] and usable[i]:
            for k in range(coef.shape[0]):
                pred[i, k] = _predict(coef, k, feat, i)


@jit(error_model="numpy", inline="always")
def _loo_model(steps, sums, ra, ri, rb, ta, ti, tb, prior_s2, prior_c, prior_w, s2, c):
    # pragma: no cover - numba
    """(s2, c) per band of a series model fitted without the value at date ``i``.

    ``steps`` and ``sums`` are the increment sums of the whole series (see
    :func:`_series_models`);
    the two increments a→i and i→b are replaced by the one a→b, where a and b are
    the usable dates around i. ``ra``, ``ri``, ``rb`` hold the series at a, i, b
    per band. A single outlier inflates the model fitted with it (so that it can
    never look like one); without it, it stands out.
    """
    d1 = ti - ta
    d2 = tb - ti
    d3 = tb - ta
    n = steps[0] - 1.0
    st = steps[1] - d1 - d2 + d3
    stt = steps[2] - d1 * d1 - d2 * d2 + d3 * d3
    for k in range(s2.shape[0]):
        v1 = ri[k] - ra[k]
        v2 = rb[k] - ri[k]
        v3 = rb[k] - ra[k]
        sy = max(sums[0, k] - v1 * v1 - v2 * v2 + v3 * v3, 0.0)
        sty = max(sums[1, k] - v1 * v1 * d1 - v2 * v2 * d2 + v3 * v3 * d3, 0.0)
        s2[k], c[k] = _fit_increments(int(n), st, stt, sy, sty, prior_s2, prior_c, prior_w)


@jit(error_model="numpy", inline="always")
def _loo_temporal(values, iy, ix, i, a, b, w, br, s2, c):  # pragma: no cover - numba
    """Σ over bands of e² / (2 s2 + c·br): the clear value at i against the line a–b."""
    z = 0.0
    for k in range(values.shape[3]):
        e = values[iy, ix, i, k] - ((1.0 - w) * values[iy, ix, a, k] + w * values[iy, ix, b, k])
        z += e * e / (2.0 * s2[k] + c[k] * br)
    return z


@jit(error_model="numpy", inline="always")
def _loo_sar(values, iy, ix, i, a, b, w, br, pred, s2, c):  # pragma: no cover - numba
    """Σ over bands of e² / (2 s2 + c·br) against the SAR fit anchored at a and b.

    ``pred`` holds the fit's predictions ``(nt, nb)`` (see :func:`_predict_dates`).
    """
    z = 0.0
    for k in range(values.shape[3]):
        ra = values[iy, ix, a, k] - pred[a, k]
        rb = values[iy, ix, b, k] - pred[b, k]
        e = values[iy, ix, i, k] - (pred[i, k] + (1.0 - w) * ra + w * rb)
        z += e * e / (2.0 * s2[k] + c[k] * br)
    return z


@jit(error_model="numpy", inline="always")
def _pixel_features(sar, iy, ix, usable, feat, feat_ok):  # pragma: no cover - numba
    """3×3 mean of the SAR features around the pixel, standardised over its usable dates.

    Only dates with an optical value enter the standardisation, so dates added
    for output alone change nothing.
    """
    ny, nx, nt, nf = sar.shape
    for f in range(nf):
        for i in range(nt):
            s = 0.0
            n = 0
            for dy in range(-1, 2):
                for dx in range(-1, 2):
                    y = iy + dy
                    x = ix + dx
                    if 0 <= y < ny and 0 <= x < nx:
                        v = sar[y, x, i, f]
                        if not np.isnan(v):
                            s += v
                            n += 1
            feat[f, i] = s / n if n > 0 else np.nan
    for i in range(nt):
        ok = True
        for f in range(nf):
            ok = ok and not np.isnan(feat[f, i])
        feat_ok[i] = ok
    for f in range(nf):
        s = 0.0
        ss = 0.0
        n = 0
        for i in range(nt):
            if feat_ok[i] and usable[i]:
                s += feat[f, i]
                ss += feat[f, i] * feat[f, i]
                n += 1
        if n == 0:
            continue
        mean = s / n
        var = ss / n - mean * mean
        sd = np.sqrt(var) if var > 1e-12 else 1.0
        for i in range(nt):
            feat[f, i] = (feat[f, i] - mean) / sd


#: One as a 64-bit word (numba keeps the bit operations in uint64 with it).
_ONE = np.uint64(1)


@jit(error_model="numpy")
def _all_pairs(
    values,
    bits,
    t,
    offsets,
    opposite,
    y0,
    y1,
    x0,
    x1,
    min_joint,
    prior_s2,
    prior_c,
    prior_w,
    p_score,
    p_s2,
    p_c,
    joint_idx,
):  # pragma: no cover - numba
    """Pair models of every core pixel with every offset, each pair computed once.

    The model of one pair is the inner function ``pair``: numba inlines it, and as
    it reads the arrays of this function rather than taking them as arguments, no
    array changes hands per pair (each would cost two atomic reference counts).
    """
    ny, nx, _, nb = values.shape

    def pair(iy, ix, y, x, oy, ox, o):
        """Error model of the difference between two pixels over their jointly clear dates.

        Fills ``p_s2[oy, ox, o]``, ``p_c[oy, ox, o]`` per band and returns the
        ranking score ``Σ (s2 + 30 c)``, or inf with fewer than ``min_joint``
        joint dates. Symmetric in the two pixels (to the last bit), so one
        computation serves both. The jointly clear dates are listed first (bit
        operations on the masks), then the bands are taken six at a time with their
        sums in scalars (registers), which is what makes this loop fast.
        """
        joint = 0
        for wd in range(bits.shape[2]):
            word = bits[iy, ix, wd] & bits[y, x, wd]
            while word != 0:
                joint_idx[joint] = wd * 64 + int(trailing_zeros(word))
                word &= word - _ONE
                joint += 1
        if joint < min_joint:
            return np.inf
        n = max(joint - 1, 0)
        if joint == 0:  # (min_joint 0) no joint date: the prior alone
            total = 0.0
            for k in range(nb):
                s2k, ck = _fit_increments(0, 0.0, 0.0, 0.0, 0.0, prior_s2, prior_c, prior_w)
                p_s2[oy, ox, o, k] = s2k
                p_c[oy, ox, o, k] = ck
                total += s2k + 30.0 * ck
            return total
        st = stt = 0.0
        t_last = t[joint_idx[0]]
        for q in range(1, joint):
            dt = t[joint_idx[q]] - t_last
            t_last = t[joint_idx[q]]
            st += dt
            stt += dt * dt
        for k0 in range(0, nb, 6):
            # six bands at a time; past the last band, repeats that are not stored
            k1 = min(k0 + 1, nb - 1)
            k2 = min(k0 + 2, nb - 1)
            k3 = min(k0 + 3, nb - 1)
            k4 = min(k0 + 4, nb - 1)
            k5 = min(k0 + 5, nb - 1)
            i = joint_idx[0]
            l0 = np.float64(values[iy, ix, i, k0] - values[y, x, i, k0])
            l1 = np.float64(values[iy, ix, i, k1] - values[y, x, i, k1])
            l2 = np.float64(values[iy, ix, i, k2] - values[y, x, i, k2])
            l3 = np.float64(values[iy, ix, i, k3] - values[y, x, i, k3])
            l4 = np.float64(values[iy, ix, i, k4] - values[y, x, i, k4])
            l5 = np.float64(values[iy, ix, i, k5] - values[y, x, i, k5])
            t_last = t[i]
            sy0 = sy1 = sy2 = sy3 = sy4 = sy5 = 0.0
            sty0 = sty1 = sty2 = sty3 = sty4 = sty5 = 0.0
            for q in range(1, joint):
                i = joint_idx[q]
                dt = t[i] - t_last
                t_last = t[i]
                e0 = np.float64(values[iy, ix, i, k0] - values[y, x, i, k0])
                e1 = np.float64(values[iy, ix, i, k1] - values[y, x, i, k1])
                e2 = np.float64(values[iy, ix, i, k2] - values[y, x, i, k2])
                e3 = np.float64(values[iy, ix, i, k3] - values[y, x, i, k3])
                e4 = np.float64(values[iy, ix, i, k4] - values[y, x, i, k4])
                e5 = np.float64(values[iy, ix, i, k5] - values[y, x, i, k5])
                d0 = e0 - l0
                d1 = e1 - l1
                d2 = e2 - l2
                d3 = e3 - l3
                d4 = e4 - l4
                d5 = e5 - l5
                l0 = e0
                l1 = e1
                l2 = e2
                l3 = e3
                l4 = e4
                l5 = e5
                sy0 += d0 * d0
                sy1 += d1 * d1
                sy2 += d2 * d2
                sy3 += d3 * d3
                sy4 += d4 * d4
                sy5 += d5 * d5
                sty0 += d0 * d0 * dt
                sty1 += d1 * d1 * dt
                sty2 += d2 * d2 * dt
                sty3 += d3 * d3 * dt
                sty4 += d4 * d4 * dt
                sty5 += d5 * d5 * dt
            sums = ((sy0, sty0), (sy1, sty1), (sy2, sty2), (sy3, sty3), (sy4, sty4), (sy5, sty5))
            for r in range(min(6, nb - k0)):
                sy, sty = sums[r]
                s2k, ck = _fit_increments(n, st, stt, sy, sty, prior_s2, prior_c, prior_w)
                p_s2[oy, ox, o, k0 + r] = s2k
                p_c[oy, ox, o, k0 + r] = ck
        total = 0.0
        for k in range(nb):
            total += p_s2[oy, ox, o, k] + 30.0 * p_c[oy, ox, o, k]
        return total

    for iy in range(y0, y1):
        for ix in range(x0, x1):
            oy = iy - y0
            ox = ix - x0
            for o in range(offsets.shape[0]):
                y = iy + offsets[o, 0]
                x = ix + offsets[o, 1]
                if y < 0 or y >= ny or x < 0 or x >= nx:
                    p_score[oy, ox, o] = np.inf
                    continue
                partner_in_core = y0 <= y < y1 and x0 <= x < x1
                if partner_in_core and opposite[o] < o:
                    continue  # the partner computes this pair (and fills this slot)
                score = pair(iy, ix, y, x, oy, ox, o)
                p_score[oy, ox, o] = score
                if partner_in_core:
                    py = y - y0
                    px = x - x0
                    q = opposite[o]
                    p_score[py, px, q] = score
                    for k in range(nb):
                        p_s2[py, px, q, k] = p_s2[oy, ox, o, k]
                        p_c[py, px, q, k] = p_c[oy, ox, o, k]


@jit(error_model="numpy", inline="always")
def _neighbours(p_score, pool, order, score, found_order, found_score):
    # pragma: no cover - numba
    """The ``pool`` best offsets of a core pixel (indices into the pattern), best first.

    Offsets with no pair model (score inf) are left out; equal scores keep the
    earlier, nearer offset first. Each offset's place is counted (the offsets
    before it scoring no more, those after it scoring less): more comparisons than
    a sort, but without branches, which the processor cannot predict in a sort.
    ``order`` and ``score`` receive the offsets and their scores,
    ``found_order`` and ``found_score`` are scratch (all as long as the pattern).
    Returns how many offsets are kept.
    """
    n = 0
    for o in range(p_score.shape[0]):
        if p_score[o] != np.inf:
            found_score[n] = p_score[o]
            found_order[n] = o
            n += 1
    for a in range(n):
        s = found_score[a]
        place = 0
        for b in range(a):
            place += found_score[b] <= s
        for b in range(a + 1, n):
            place += found_score[b] < s
        if place < pool:
            score[place] = s
            order[place] = found_order[a]
    return min(n, pool)


@jit(error_model="numpy", inline="always")
def _pack(mask, words):  # pragma: no cover - numba
    """Set ``words`` (64-bit) to the packed boolean ``mask``, as :func:`clear_bits` does."""
    for wd in range(words.shape[0]):
        words[wd] = 0
    for i in range(mask.shape[0]):
        if mask[i]:
            words[i >> 6] |= _ONE << np.uint64(i & 63)


@jit(error_model="numpy", inline="always")
def _prev_bit(bits, i):  # pragma: no cover - numba
    """Highest set bit of the mask ``bits`` (64-bit words) below ``i``; -1 if none."""
    wd = i >> 6
    word = bits[wd] & ((_ONE << np.uint64(i & 63)) - _ONE)
    while word == 0:
        wd -= 1
        if wd < 0:
            return -1
        word = bits[wd]
    return wd * 64 + 63 - int(leading_zeros(word))


@jit(error_model="numpy", inline="always")
def _next_bit(bits, i, nt):  # pragma: no cover - numba
    """Lowest set bit of the mask ``bits`` above ``i``; ``nt`` if none."""
    wd = i >> 6
    below = (_ONE << np.uint64(i & 63)) - _ONE
    word = bits[wd] & ~(below | (_ONE << np.uint64(i & 63)))
    while word == 0:
        wd += 1
        if wd >= bits.shape[0]:
            return nt
        word = bits[wd]
    return wd * 64 + int(trailing_zeros(word))


@jit(error_model="numpy")
def _spatial_dates(
    values, bits, iy, ix, t, kept, offsets, pair_s2, pair_c, o, sp
):  # pragma: no cover - numba
    """Spatial candidate on every date set in ``sp.need_bits`` (never an anchor itself).

    Each of the best-ranked neighbours that is clear on a needed date gives an
    estimate: its value plus the pixel-minus-neighbour difference bridged between
    the jointly usable dates around it; up to ``n_similar`` estimates per date are
    combined by inverse variance (pair model ``s2 + c·br``), with correlated errors
    (``rho``). Walks the neighbours best first and, for each, only the needed dates
    on which it is clear, finding the anchors with bit operations on the 64-bit
    masks (``bits`` of every pixel, ``usable_bits`` of this one; see
    :func:`clear_bits`); stops when every needed date has ``n_similar``
    estimates. ``sp`` is the spatial state (:data:`_Spatial`), ``o`` the options
    (:data:`_Options`); fills ``sp.est`` and ``sp.var`` ``(nt, nb)`` and ``sp.count``
    (0 where there is no candidate) on the needed dates; ``sp.need_bits`` is used up.
    """
    usable_bits, need_bits, order = sp.usable_bits, sp.need_bits, sp.order
    est, var, acc, count, joint = sp.est, sp.var, sp.acc, sp.count, sp.joint
    n_similar, rho = o.n_similar, o.rho
    nb = values.shape[3]
    nt = t.shape[0]
    nw = bits.shape[2]
    wsum = acc[0]
    vsum = acc[1]
    remaining = 0
    for wd in range(nw):
        word = need_bits[wd]
        while word != 0:
            i = wd * 64 + int(trailing_zeros(word))
            word &= word - _ONE
            remaining += 1
            count[i] = 0
            for k in range(nb):
                est[i, k] = 0.0
                wsum[i, k] = 0.0
                vsum[i, k] = 0.0
    for q in range(kept):
        if remaining == 0:
            break
        o = order[q]
        y = iy + offsets[o, 0]
        x = ix + offsets[o, 1]
        for wd in range(nw):
            joint[wd] = usable_bits[wd] & bits[y, x, wd]
        for wd in range(nw):
            word = need_bits[wd] & bits[y, x, wd]
            while word != 0:
                i = wd * 64 + int(trailing_zeros(word))
                word &= word - _ONE
                a = _prev_bit(joint, i)
                b = _next_bit(joint, i, nt)
                if a < 0 and b >= nt:
                    continue
                d1 = t[i] - t[a] if a >= 0 else -1.0
                d2 = t[b] - t[i] if b < nt else -1.0
                br = _bridge(d1, d2)
                for k in range(nb):
                    if a >= 0 and b < nt:
                        w = _weight(d1, d2)
                        da = values[iy, ix, a, k] - values[y, x, a, k]
                        db = values[iy, ix, b, k] - values[y, x, b, k]
                        diff = (1.0 - w) * da + w * db
                    elif a >= 0:
                        diff = values[iy, ix, a, k] - values[y, x, a, k]
                    else:
                        diff = values[iy, ix, b, k] - values[y, x, b, k]
                    v = pair_s2[o, k] + pair_c[o, k] * br
                    wk = 1.0 / v
                    est[i, k] += wk * (values[y, x, i, k] + diff)
                    wsum[i, k] += wk
                    vsum[i, k] += wk * v
                count[i] += 1
                if count[i] >= n_similar:
                    remaining -= 1
                    need_bits[wd] &= ~(_ONE << np.uint64(i & 63))
    for i in range(nt):
        used = count[i]
        if used == 0:
            continue
        for k in range(nb):
            est[i, k] /= wsum[i, k]
            vbar = vsum[i, k] / wsum[i, k]
            var[i, k] = vbar * (rho + (1.0 - rho) / used)


#: The kernel's options, as :func:`_fill_block` reads them (from :data:`DEFAULTS`).
_Options = namedtuple(
    "_Options",
    "n_similar pool sar_scale_days ridge screen_z rho sigma_scale spread_weight "
    "prior_c prior_s2 prior_w min_joint calibrate enabled",
)
#: An error model of a pixel's series (its own, or its SAR residuals'): the fitted
#: ``s2`` and ``c`` per band, and the increments' count and sums it was fitted on.
_Model = namedtuple("_Model", "s2 c steps sums")
#: The pixel's SAR features and fits: features and where they exist, the local and the
#: whole-series coefficients, the fit's scratch, the whole-series predictions, and the
#: dates and values of its residuals.
_SarFits = namedtuple("_SarFits", "feat feat_ok coef gcoef gram rhs xrow gpred res_idx resid")
#: The spatial candidate's state: the ranked neighbours, the packed usable and needed
#: dates, and the estimates, variances, sums, counts and joint dates of every date.
_Spatial = namedtuple(
    "_Spatial",
    "order score found_order found_score usable_bits need_bits est var acc count joint",
)
#: Leave-one-out scratch: the anchors' and the value's bands, and the refitted models.
_LeaveOut = namedtuple("_LeaveOut", "a i b s2 c rs2 rc")
#: The candidates of a pixel's gap dates: ``value``, ``var`` ``(m, 3, nb)`` and
#: ``have`` ``(m, 3)``, one row per output date, one column per family.
_Candidates = namedtuple("_Candidates", "value var have")
#: One row of results (``x`` along the core), written to the outputs row by row; the
#: family stack's rows and the similar neighbours found when it is wanted.
_Row = namedtuple("_Row", "v s f n fam_v fam_s")


@jit(error_model="numpy", inline="always")
def _own_model(values, clear, iy, ix, t, o, usable, screened, use_idx, own):  # pragma: no cover
    """The pixel's usable dates and its own error model; returns the number usable."""
    nt = t.shape[0]
    n_clear = 0
    for i in range(nt):
        ok = clear[iy, ix, i]  # clear and finite (see stori_fill)
        usable[i] = ok
        screened[i] = False
        if ok:
            use_idx[n_clear] = i
            n_clear += 1
    if n_clear > 0:
        _series_models(
            values[iy, ix],
            use_idx,
            n_clear,
            t,
            o.prior_s2,
            o.prior_c,
            o.prior_w,
            own.s2,
            own.c,
            own.steps,
            own.sums,
        )
    return n_clear


@jit(error_model="numpy", inline="always")
def _sar_models(values, sar, iy, ix, usable, t, o, fits, res):  # pragma: no cover - numba
    """The pixel's SAR features, whole-series fit and the error model of its residuals.

    Returns whether the fit exists (enough usable dates with features).
    """
    nt = t.shape[0]
    nb = values.shape[3]
    _pixel_features(sar, iy, ix, usable, fits.feat, fits.feat_ok)
    centre = 0.5 * (t[0] + t[nt - 1])
    ok = _sar_fit(
        values,
        iy,
        ix,
        fits.feat,
        fits.feat_ok,
        usable,
        t,
        centre,
        1e9,
        o.ridge,
        fits.gcoef,
        fits.gram,
        fits.rhs,
        fits.xrow,
    )
    if ok:
        _predict_dates(fits.gcoef, fits.feat, fits.feat_ok, usable, fits.gpred)
        # error model of the anchored residuals of the global fit
        n_res = 0
        for i in range(nt):
            if usable[i] and fits.feat_ok[i]:
                fits.res_idx[n_res] = i
                n_res += 1
                for k in range(nb):
                    fits.resid[i, k] = values[iy, ix, i, k] - fits.gpred[i, k]
        _series_models(
            fits.resid,
            fits.res_idx,
            n_res,
            t,
            o.prior_s2,
            o.prior_c,
            o.prior_w,
            res.s2,
            res.c,
            res.steps,
            res.sums,
        )
    return ok


@jit(error_model="numpy", inline="always")
def _calibration(
    values, iy, ix, usable, prev, nxt, t, o, own, res, fits, sar_ok
):  # pragma: no cover
    """How far off the temporal and SAR error models are on this pixel: (scale_t, scale_s).

    From leave-one-out estimates of its interior usable values, shrunk towards 1 with
    ``prior_w`` pseudo-observations per band.
    """
    nt = t.shape[0]
    nb = values.shape[3]
    brackets(usable, prev, nxt)
    sum_t = 0.0
    sum_s = 0.0
    n_t = 0
    n_s = 0
    feat_ok = fits.feat_ok
    for i in range(nt):
        if not usable[i]:
            continue
        a = prev[i - 1] if i > 0 else -1
        b = nxt[i + 1] if i + 1 < nt else -1
        if a < 0 or b < 0:
            continue
        d1 = t[i] - t[a]
        d2 = t[b] - t[i]
        w = _weight(d1, d2)
        br = _bridge(d1, d2)
        sum_t += _loo_temporal(values, iy, ix, i, a, b, w, br, own.s2, own.c)
        n_t += nb
        if sar_ok and feat_ok[i] and feat_ok[a] and feat_ok[b]:
            sum_s += _loo_sar(values, iy, ix, i, a, b, w, br, fits.gpred, res.s2, res.c)
            n_s += nb
    pw = o.prior_w * nb
    return (sum_t + pw) / (n_t + pw), (sum_s + pw) / (n_s + pw)


@jit(error_model="numpy", inline="always")
def _screen(
    values,
    bits,
    iy,
    ix,
    usable,
    screened,
    prev,
    nxt,
    t,
    o,
    own,
    res,
    fits,
    sar_ok,
    loo,
    kept,
    offsets,
    pair_s2,
    pair_c,
    sp,
):  # pragma: no cover - numba
    """Mark in ``screened`` (and take out of ``usable``) the values every family contradicts.

    Each interior usable value is tested against its leave-one-out estimates: the
    temporal one, the whole-series SAR one and the spatial one, each with its error
    model refitted without the value; it is screened when at least two families are
    available and none agrees (mean squared z-score over the bands above
    ``screen_z²``). The cheap families are tested first, and the test stops at the
    first that agrees.
    """
    nt = t.shape[0]
    nb = values.shape[3]
    nw = bits.shape[2]
    feat_ok = fits.feat_ok
    gpred = fits.gpred
    brackets(usable, prev, nxt)
    bits_ready = False  # sp.usable_bits, built when the spatial test first needs it
    lim = o.screen_z * o.screen_z
    for i in range(nt):
        if not usable[i]:
            continue
        a = prev[i - 1] if i > 0 else -1
        b = nxt[i + 1] if i + 1 < nt else -1
        if a < 0 or b < 0:
            continue
        d1 = t[i] - t[a]
        d2 = t[b] - t[i]
        w = _weight(d1, d2)
        br = _bridge(d1, d2)
        # the shrinkage keeps every fitted variance above the prior's share:
        # when even that cannot flag the value, no model can (skip the fits)
        shrink = o.prior_w / (own.steps[0] - 1.0 + o.prior_w)
        floor = shrink * (2.0 * o.prior_s2 + o.prior_c * br)
        bound = 0.0
        for k in range(nb):
            e = values[iy, ix, i, k] - (
                (1.0 - w) * values[iy, ix, a, k] + w * values[iy, ix, b, k]
            )
            bound += e * e
        if floor > 0.0 and bound * (1.0 - 1e-9) <= lim * nb * floor:
            continue
        # each family's error model fitted without the value under test
        for k in range(nb):
            loo.a[k] = values[iy, ix, a, k]
            loo.i[k] = values[iy, ix, i, k]
            loo.b[k] = values[iy, ix, b, k]
        _loo_model(
            own.steps,
            own.sums,
            loo.a,
            loo.i,
            loo.b,
            t[a],
            t[i],
            t[b],
            o.prior_s2,
            o.prior_c,
            o.prior_w,
            loo.s2,
            loo.c,
        )
        # screened only when every available family contradicts the
        # value: test the cheap ones first and stop at the first that agrees
        z = _loo_temporal(values, iy, ix, i, a, b, w, br, loo.s2, loo.c)
        if z / nb <= lim:
            continue
        families = 1
        if sar_ok and feat_ok[i] and feat_ok[a] and feat_ok[b]:
            for k in range(nb):
                loo.a[k] = values[iy, ix, a, k] - gpred[a, k]
                loo.i[k] = values[iy, ix, i, k] - gpred[i, k]
                loo.b[k] = values[iy, ix, b, k] - gpred[b, k]
            _loo_model(
                res.steps,
                res.sums,
                loo.a,
                loo.i,
                loo.b,
                t[a],
                t[i],
                t[b],
                o.prior_s2,
                o.prior_c,
                o.prior_w,
                loo.rs2,
                loo.rc,
            )
            z = _loo_sar(values, iy, ix, i, a, b, w, br, gpred, loo.rs2, loo.rc)
            if z / nb <= lim:
                continue
            families += 1
        if kept > 0:
            # the spatial candidate of this one date (i is no anchor)
            if not bits_ready:
                _pack(usable, sp.usable_bits)
                bits_ready = True
            for wd in range(nw):
                sp.need_bits[wd] = 0
            sp.need_bits[i >> 6] = _ONE << np.uint64(i & 63)
            _spatial_dates(values, bits, iy, ix, t, kept, offsets, pair_s2, pair_c, o, sp)
            if sp.count[i] > 0:
                z = 0.0
                for k in range(nb):
                    e = values[iy, ix, i, k] - sp.est[i, k]
                    z += e * e / (sp.var[i, k] + loo.s2[k])
                if z / nb <= lim:
                    continue
                families += 1
        screened[i] = families >= 2
    for i in range(nt):
        if screened[i]:
            usable[i] = False


@jit(error_model="numpy", inline="always")
def _spatial_candidates(
    values, bits, iy, ix, usable, t, out_idx, o, kept, offsets, pair_s2, pair_c, sp
):  # pragma: no cover - numba
    """The spatial candidate of every output date the pixel has no usable value on."""
    nt = t.shape[0]
    for wd in range(bits.shape[2]):
        sp.need_bits[wd] = 0
    _pack(usable, sp.usable_bits)
    for i in range(nt):
        sp.count[i] = 0
    if o.enabled[2] and kept > 0:
        for j in range(out_idx.shape[0]):
            i = out_idx[j]
            if not usable[i]:
                sp.need_bits[i >> 6] |= _ONE << np.uint64(i & 63)
    _spatial_dates(values, bits, iy, ix, t, kept, offsets, pair_s2, pair_c, o, sp)


@jit(error_model="numpy", inline="always")
def _gap_candidates(
    values, iy, ix, usable, prev, nxt, t, out_idx, o, own, res, fits, sar_ok, scale, sp, cands
):  # pragma: no cover - numba
    """Every family's candidate and variance on each output date without a usable value.

    Temporal (linear between the anchors), SAR-anchored (a local fit centred on the
    gap, see :func:`_fit_centre`; the whole-series fit for a short gap) and spatial
    (computed by :func:`_spatial_candidates`) into ``cands``; ``scale`` holds the
    calibration factors of the temporal and SAR error models.
    """
    nb = values.shape[3]
    feat, feat_ok, gpred = fits.feat, fits.feat_ok, fits.gpred
    coef, gcoef = fits.coef, fits.gcoef
    s2, c, rs2, rc = own.s2, own.c, res.s2, res.c
    sp_count, sp_est, sp_var = sp.count, sp.est, sp.var
    values_c, variances, haves = cands.value, cands.var, cands.have
    fit_centre = -1e300
    fit_ok = False
    for j in range(out_idx.shape[0]):
        i = out_idx[j]
        a = prev[i]
        b = nxt[i]
        if usable[i] or (a < 0 and b < 0):
            continue
        cand = values_c[j]
        cvar = variances[j]
        have = haves[j]
        d1 = t[i] - t[a] if a >= 0 else -1.0
        d2 = t[b] - t[i] if b >= 0 else -1.0
        br = _bridge(d1, d2)
        w = _weight(d1, d2) if (a >= 0 and b >= 0) else 0.0
        # temporal
        for k in range(nb):
            if a >= 0 and b >= 0:
                cand[0, k] = (1.0 - w) * values[iy, ix, a, k] + w * values[iy, ix, b, k]
            else:
                cand[0, k] = values[iy, ix, a if a >= 0 else b, k]
            cvar[0, k] = (s2[k] + c[k] * br) * scale[0]
        have[0] = o.enabled[0]
        # SAR-anchored
        have[1] = False
        if o.enabled[1] and sar_ok and feat_ok[i]:
            ta = t[a] if a >= 0 else t[i]
            tb = t[b] if b >= 0 else t[i]
            centre = _fit_centre(ta, tb, o.sar_scale_days)
            short = a >= 0 and b >= 0 and tb - ta <= 0.5 * o.sar_scale_days
            # the anchoring keeps a short gap near linear: whole-series fit
            if not short and centre != fit_centre:
                fit_centre = centre
                fit_ok = _sar_fit(
                    values,
                    iy,
                    ix,
                    feat,
                    feat_ok,
                    usable,
                    t,
                    centre,
                    o.sar_scale_days,
                    o.ridge,
                    coef,
                    fits.gram,
                    fits.rhs,
                    fits.xrow,
                )
            use_ok = short or fit_ok
            if use_ok and (a < 0 or feat_ok[a]) and (b < 0 or feat_ok[b]):
                for k in range(nb):
                    if short:  # (anchors a and b exist, and are usable)
                        f_i = _predict(gcoef, k, feat, i)
                        ra = values[iy, ix, a, k] - gpred[a, k]
                        rb = values[iy, ix, b, k] - gpred[b, k]
                    else:
                        f_i = _predict(coef, k, feat, i)
                        ra = values[iy, ix, a, k] - _predict(coef, k, feat, a) if a >= 0 else 0.0
                        rb = values[iy, ix, b, k] - _predict(coef, k, feat, b) if b >= 0 else 0.0
                    if a >= 0 and b >= 0:
                        r = (1.0 - w) * ra + w * rb
                    else:
                        r = ra if a >= 0 else rb
                    cand[1, k] = f_i + r
                    cvar[1, k] = (rs2[k] + rc[k] * br) * scale[1]
                have[1] = True
        # spatial
        have[2] = sp_count[i] > 0
        if have[2]:
            for k in range(nb):
                cand[2, k] = sp_est[i, k]
                cvar[2, k] = sp_var[i, k]


@jit(error_model="numpy", inline="always")
def _fuse_pixel(
    values, iy, ix, ox, usable, screened, prev, nxt, out_idx, o, own, sp, cands, scratch, row
):  # pragma: no cover - numba
    """The pixel's results on every output date into ``row``: observed, fused or no data.

    A gap value is the fusion of its candidates (:func:`fuse_value`; the temporal one
    stands in when nothing else exists), flagged by the family weighing most; with the
    family stack wanted (``row.fam_v`` has 3 rows), each family alone too.
    ``scratch`` is ``(obs_sigma (nb,), inv (3, nb), only (3,))``.
    """
    nb = values.shape[3]
    obs_sigma, inv, only = scratch
    row_v, row_s, row_f, row_n, fam_row_v, fam_row_s = row
    want_stack = fam_row_v.shape[0] == 3
    s2 = own.s2
    for k in range(nb):
        obs_sigma[k] = np.sqrt(s2[k]) * o.sigma_scale
    for j in range(out_idx.shape[0]):
        i = out_idx[j]
        row_n[j, ox] = 0
        if usable[i]:
            for k in range(nb):
                row_v[k, j, ox] = values[iy, ix, i, k]
                row_s[k, j, ox] = obs_sigma[k]
            row_f[j, ox] = OBSERVED
            continue
        a = prev[i]
        b = nxt[i]
        if a < 0 and b < 0:
            for k in range(nb):
                row_v[k, j, ox] = np.nan
                row_s[k, j, ox] = np.nan
            row_f[j, ox] = NODATA
            continue
        cand = cands.value[j]
        cvar = cands.var[j]
        have = cands.have[j]
        row_n[j, ox] = sp.count[i]
        if want_stack:  # each family alone (the temporal one stands in)
            for f in range(3):
                for g in range(3):
                    only[g] = have[g] and g == f
                if not only[f]:
                    only[0] = True
                fuse_value(
                    cand,
                    cvar,
                    only,
                    s2,
                    o.sigma_scale,
                    o.spread_weight,
                    inv,
                    fam_row_v[f],
                    fam_row_s[f],
                    j,
                    ox,
                )
        if not (have[0] or have[1] or have[2]):
            have[0] = True
        best = fuse_value(
            cand, cvar, have, s2, o.sigma_scale, o.spread_weight, inv, row_v, row_s, j, ox
        )
        if screened[i]:
            row_f[j, ox] = SCREENED
        elif best == 1:
            row_f[j, ox] = SAR
        elif best == 2:
            row_f[j, ox] = SPATIAL
        elif a < 0 or b < 0:
            row_f[j, ox] = EXTRAPOLATED
        else:
            row_f[j, ox] = TEMPORAL


@jit(error_model="numpy", inline="always")
def _write_row(row, oy, out_v, out_s, out_f, fam_v, fam_s, out_n):  # pragma: no cover - numba
    """One row of results into the (band, date, y, x) outputs, in contiguous runs.

    (Writing each pixel's series straight there strides by whole maps, which the caches
    cannot hold.) Observed and no-data values go into the family stack as they are.
    """
    nb, m, nx = row.v.shape
    for k in range(nb):
        for j in range(m):
            for ox in range(nx):
                out_v[k, j, oy, ox] = row.v[k, j, ox]
                out_s[k, j, oy, ox] = row.s[k, j, ox]
    for j in range(m):
        for ox in range(nx):
            out_f[j, oy, ox] = row.f[j, ox]
    if row.fam_v.shape[0] == 3:
        for f in range(3):
            for k in range(nb):
                for j in range(m):
                    for ox in range(nx):
                        fv = row.fam_v[f, k, j, ox]
                        fs = row.fam_s[f, k, j, ox]
                        if row.f[j, ox] == OBSERVED or row.f[j, ox] == NODATA:
                            fv = row.v[k, j, ox]
                            fs = row.s[k, j, ox]
                        fam_v[f, k, j, oy, ox] = fv
                        fam_s[f, k, j, oy, ox] = fs
        for j in range(m):
            for ox in range(nx):
                out_n[j, oy, ox] = row.n[j, ox]


@jit(error_model="numpy")
def _fill_block(
    values,
    clear,
    bits,
    sar,
    t,
    out_idx,
    y0,
    y1,
    x0,
    x1,
    offsets,
    opposite,
    p_score,
    p_s2,
    p_c,
    o,
    out_v,
    out_s,
    out_f,
    fam_v,
    fam_s,
    out_n,
):  # pragma: no cover - numba
    """Candidates of every gap value of the core ``[y0:y1, x0:x1]``, fused into ``out_*``.

    ``o`` holds the options (:data:`_Options`). Per pixel, in stages: its own error
    model (:func:`_own_model`), its SAR models (:func:`_sar_models`), the calibration
    of both (:func:`_calibration`), the screening of its usable values
    (:func:`_screen`), the spatial candidates (:func:`_spatial_candidates`), every
    family's candidate on each gap date (:func:`_gap_candidates`), then their fusion
    (:func:`_fuse_pixel`). The pair models of every pixel and neighbour offset come
    first, for the whole core (:func:`_all_pairs`).

    When ``fam_v`` has a first axis of 3 (the family stack is wanted), every family's
    candidate alone, fused as if it were the only one enabled (the temporal one stands
    in where it does not exist), goes into ``fam_v``, ``fam_s`` ``(3, nb, m, cy, cx)``,
    and the number of similar neighbours found into ``out_n (m, cy, cx)``.
    """
    _, _, nt, nb = values.shape
    nf = sar.shape[3]
    m = out_idx.shape[0]
    n_off = offsets.shape[0]
    nw = bits.shape[2]
    usable = np.empty(nt, dtype=np.bool_)
    use_idx = np.empty(nt, dtype=np.int64)
    screened = np.zeros(nt, dtype=np.bool_)
    prev = np.empty(nt, dtype=np.int64)
    nxt = np.empty(nt, dtype=np.int64)
    own = _Model(np.empty(nb), np.empty(nb), np.zeros(3), np.zeros((2, nb)))
    res = _Model(np.empty(nb), np.empty(nb), np.zeros(3), np.zeros((2, nb)))
    fits = _SarFits(
        np.empty((max(nf, 1), nt)),
        np.zeros(nt, dtype=np.bool_),
        np.empty((nb, nf + 1)),
        np.empty((nb, nf + 1)),
        np.empty((nf + 1, nf + 1)),
        np.empty((nb, nf + 1)),
        np.empty(nf + 1),
        np.zeros((nt, nb)),
        np.empty(nt, dtype=np.int64),
        np.zeros((nt, nb)),
    )
    sp = _Spatial(
        np.empty(n_off, dtype=np.int64),
        np.empty(n_off),
        np.empty(n_off, dtype=np.int64),
        np.empty(n_off),
        np.zeros(nw, dtype=np.uint64),
        np.zeros(nw, dtype=np.uint64),
        np.empty((nt, nb)),
        np.empty((nt, nb)),
        np.empty((2, nt, nb)),
        np.zeros(nt, dtype=np.int64),
        np.empty(nw, dtype=np.uint64),
    )
    loo = _LeaveOut(
        np.empty(nb),
        np.empty(nb),
        np.empty(nb),
        np.empty(nb),
        np.empty(nb),
        np.empty(nb),
        np.empty(nb),
    )
    cands = _Candidates(
        np.empty((m, 3, nb)), np.empty((m, 3, nb)), np.zeros((m, 3), dtype=np.bool_)
    )
    scratch = (np.empty(nb), np.empty((3, nb)), np.zeros(3, dtype=np.bool_))
    row = _Row(
        np.empty((nb, m, x1 - x0)),
        np.empty((nb, m, x1 - x0)),
        np.empty((m, x1 - x0), dtype=np.int8),
        np.zeros((m, x1 - x0), dtype=np.int16),
        np.empty((fam_v.shape[0], nb, m, x1 - x0)),
        np.empty((fam_v.shape[0], nb, m, x1 - x0)),
    )
    _all_pairs(
        values,
        bits,
        t,
        offsets,
        opposite,
        y0,
        y1,
        x0,
        x1,
        o.min_joint,
        o.prior_s2,
        o.prior_c,
        o.prior_w,
        p_score,
        p_s2,
        p_c,
        np.empty(nt, dtype=np.int64),
    )
    for iy in range(y0, y1):
        for ix in range(x0, x1):
            oy = iy - y0
            ox = ix - x0
            n_clear = _own_model(values, clear, iy, ix, t, o, usable, screened, use_idx, own)
            if n_clear == 0:
                for j in range(m):
                    for k in range(nb):
                        row.v[k, j, ox] = np.nan
                        row.s[k, j, ox] = np.nan
                    row.f[j, ox] = NODATA
                    row.n[j, ox] = 0
                continue
            kept = _neighbours(
                p_score[oy, ox], o.pool, sp.order, sp.score, sp.found_order, sp.found_score
            )
            pair_s2 = p_s2[oy, ox]
            pair_c = p_c[oy, ox]
            sar_ok = nf > 0 and _sar_models(values, sar, iy, ix, usable, t, o, fits, res)
            scale = (1.0, 1.0)
            if o.calibrate and n_clear >= 3:
                scale = _calibration(
                    values, iy, ix, usable, prev, nxt, t, o, own, res, fits, sar_ok
                )
            if o.screen_z > 0.0 and n_clear >= 3:
                _screen(
                    values,
                    bits,
                    iy,
                    ix,
                    usable,
                    screened,
                    prev,
                    nxt,
                    t,
                    o,
                    own,
                    res,
                    fits,
                    sar_ok,
                    loo,
                    kept,
                    offsets,
                    pair_s2,
                    pair_c,
                    sp,
                )
            brackets(usable, prev, nxt)
            _spatial_candidates(
                values, bits, iy, ix, usable, t, out_idx, o, kept, offsets, pair_s2, pair_c, sp
            )
            _gap_candidates(
                values,
                iy,
                ix,
                usable,
                prev,
                nxt,
                t,
                out_idx,
                o,
                own,
                res,
                fits,
                sar_ok,
                scale,
                sp,
                cands,
            )
            _fuse_pixel(
                values,
                iy,
                ix,
                ox,
                usable,
                screened,
                prev,
                nxt,
                out_idx,
                o,
                own,
                sp,
                cands,
                scratch,
                row,
            )
        _write_row(row, iy - y0, out_v, out_s, out_f, fam_v, fam_s, out_n)


def clear_bits(clear: np.ndarray) -> np.ndarray:
    """Pack a boolean mask ``(..., nt)`` into 64-bit words ``(..., ceil(nt / 64))``.

    Bit ``i % 64`` of word ``i // 64`` is date ``i``.
    """
    nt = clear.shape[-1]
    words = -(-nt // 64)
    packed = np.packbits(clear, axis=-1, bitorder="little")
    pad = [(0, 0)] * (clear.ndim - 1) + [(0, 8 * words - packed.shape[-1])]
    packed = np.ascontiguousarray(np.pad(packed, pad))
    return packed.view("<u8").astype(np.uint64, copy=False)


#: Side of the square sub-windows whose pair models are computed together.
SUBTILE = 64


def _opposite(offsets: np.ndarray) -> np.ndarray:
    """Index of the offset pointing back, for every offset of the pattern."""
    index = {(int(dy), int(dx)): i for i, (dy, dx) in enumerate(offsets)}
    return np.array([index[(-int(dy), -int(dx))] for dy, dx in offsets], dtype=np.int64)


def enabled_candidates(candidates) -> np.ndarray:
    """Boolean mask of the candidate families named (temporal, sar, spatial).

    Raises
    ------
    ValueError
        For an unknown name.
    """
    names = [candidates] if isinstance(candidates, str) else list(candidates)
    unknown = sorted(set(names) - set(_FAMILIES))
    if unknown:
        raise ValueError(f"unknown candidates {unknown}; choose among {list(_FAMILIES)}.")
    return np.array([f in names for f in _FAMILIES], dtype=np.bool_)


def stori_fill(
    values: np.ndarray,
    clear: np.ndarray,
    sar: np.ndarray | None,
    t: np.ndarray,
    out_idx: np.ndarray,
    *,
    core: tuple[int, int, int, int] | None = None,
    out: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
    **options: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fill the gaps of a block with STORI's fused candidates.

    Parameters
    ----------
    values : ndarray, shape (nb, ny, nx, nt)
        Band values (reflectance); only clear, finite ones are used.
    clear : ndarray of bool, shape (ny, nx, nt)
        Usable values.
    sar : ndarray, shape (nf, ny, nx, nt), or None
        SAR features on the same dates (NaN where missing).
    t : ndarray of float64, shape (nt,)
        Times in days, sorted.
    out_idx : ndarray of int, shape (m,)
        Output dates as indices into ``t``.
    core : (y0, y1, x0, x1), optional
        The window of pixels to fill; the rest of the block is halo that the
        spatial candidate reads. Default: the whole block.
    out : (values, sigma, source), optional
        Arrays to write the results into (any strides, e.g. windows of the whole
        output), shaped and typed as the returned ones.
    **options
        Overrides of :data:`DEFAULTS`.

    Returns
    -------
    values : ndarray, shape (nb, m, cy, cx)
        Filled values, float32 for float32 input and float64 otherwise; clear
        values unchanged unless screened (then replaced, and flagged so).
    sigma : ndarray, shape (nb, m, cy, cx)
        One-sigma uncertainty.
    source : ndarray of int8, shape (m, cy, cx)
        Provenance flags.
    """
    return _run(values, clear, sar, t, out_idx, core, out, False, options)[:3]


def stori_candidates(
    values: np.ndarray,
    clear: np.ndarray,
    sar: np.ndarray | None,
    t: np.ndarray,
    out_idx: np.ndarray,
    *,
    core: tuple[int, int, int, int] | None = None,
    **options: float,
) -> CandidateStack:
    """Every candidate family of every value, beside their analytic fusion, in one pass.

    The same parameters as :func:`stori_fill`. Each family's entry is what
    :func:`stori_fill` gives with that family alone (``candidates=(family,)``), to
    the last bit: its candidate and σ on a gap value (the temporal candidate stands in
    where the family has none), the observed value elsewhere.

    Returns
    -------
    CandidateStack
    """
    return CandidateStack(*_run(values, clear, sar, t, out_idx, core, None, True, options))


class CandidateStack(NamedTuple):
    """The kernel's candidates of a block (:func:`stori_candidates`).

    ``values``, ``sigma`` and ``source`` are :func:`stori_fill`'s (the fusion);
    ``family_values`` and ``family_sigma`` ``(3, nb, m, cy, cx)`` are each family's
    (temporal, SAR-anchored, spatial) alone; ``found (m, cy, cx)`` is the number of
    similar neighbours the spatial candidate combined on each gap value (0 elsewhere).
    """

    values: np.ndarray
    sigma: np.ndarray
    source: np.ndarray
    family_values: np.ndarray
    family_sigma: np.ndarray
    found: np.ndarray


def _run(values, clear, sar, t, out_idx, core, out, families: bool, options):
    """The block driver of :func:`stori_fill` and :func:`stori_candidates`."""
    opts = {**DEFAULTS, **options}
    nb, ny, nx, nt = values.shape
    # usable = clear and every band finite, for the pixel and for its neighbours
    clear = np.asarray(clear, dtype=np.bool_) & np.isfinite(values).all(axis=0)
    y0, y1, x0, x1 = core if core is not None else (0, ny, 0, nx)
    m = out_idx.size
    # the kernel reads all bands (and features) of one date together: put them last;
    # float32 stays float32 (observed values must come back bit for bit)
    work = work_dtype(values)
    shape = (nb, m, y1 - y0, x1 - x0)
    if out is None:
        out = (np.empty(shape, work), np.empty(shape, work), np.empty(shape[1:], np.int8))
    out_v, out_s, out_f = out
    if out_v.shape != shape or out_s.shape != shape or out_f.shape != shape[1:]:
        raise ValueError(f"out= must be arrays of shape {shape}, {shape} and {shape[1:]}.")
    if out_v.dtype != work or out_s.dtype != work or out_f.dtype != np.int8:
        raise ValueError(f"out= must be arrays of {np.dtype(work)}, {np.dtype(work)} and int8.")
    n_fam = 3 if families else 0
    fam_v = np.empty((n_fam, *shape), work)
    fam_s = np.empty_like(fam_v)
    found = np.zeros(shape[1:] if families else (0, 0, 0), np.int16)
    if sar is None:
        sar = np.empty((0, ny, nx, nt), dtype=work)
    values_t = np.ascontiguousarray(np.moveaxis(values, 0, -1), dtype=work)
    sar_t = np.ascontiguousarray(np.moveaxis(sar, 0, -1), dtype=work)
    clear = np.ascontiguousarray(clear, dtype=np.bool_)
    bits = clear_bits(clear)
    t = np.ascontiguousarray(t, dtype=np.float64)
    out_idx = np.ascontiguousarray(out_idx, dtype=np.int64)
    offsets = neighbour_offsets(int(opts["radius"]))
    opposite = _opposite(offsets)
    options = _Options(
        int(opts["n_similar"]),
        int(opts["pool"]),
        float(opts["sar_scale_days"]),
        float(opts["ridge"]),
        float(opts["screen_z"]),
        float(opts["rho"]),
        float(opts["sigma_scale"]),
        float(opts["spread_weight"]),
        float(opts["prior_c"]),
        float(opts["prior_s2"]),
        float(opts["prior_weight"]),
        int(opts["min_joint"]),
        bool(opts["calibrate"]),
        enabled_candidates(opts["candidates"]),
    )
    # pair models are kept for one sub-window of the core at a time (bounded memory)
    tile = SUBTILE
    side_y, side_x = min(tile, y1 - y0), min(tile, x1 - x0)
    p_score = np.empty((side_y, side_x, len(offsets)))
    p_s2 = np.empty((side_y, side_x, len(offsets), nb))
    p_c = np.empty_like(p_s2)
    for sy in range(y0, y1, tile):
        for sx in range(x0, x1, tile):
            ey, ex = min(sy + tile, y1), min(sx + tile, x1)
            win = (slice(None), slice(sy - y0, ey - y0), slice(sx - x0, ex - x0))
            fam_win = (slice(None), slice(None), *win) if families else (slice(None),) * 5
            _fill_block(
                values_t,
                clear,
                bits,
                sar_t,
                t,
                out_idx,
                sy,
                ey,
                sx,
                ex,
                offsets,
                opposite,
                p_score,
                p_s2,
                p_c,
                options,
                out_v[(slice(None), *win)],
                out_s[(slice(None), *win)],
                out_f[win],
                fam_v[fam_win],
                fam_s[fam_win],
                found[win] if families else found,
            )
    return out_v, out_s, out_f, fam_v, fam_s, found
