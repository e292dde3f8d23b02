"""Slow, plain numpy reference of the STORI kernel :func:`stori_xr.kernels.stori.stori_fill`.

The algorithm of :mod:`stori_xr.kernels.stori` (read its module docstring) written
again, independently, for clarity and not for speed: one pixel at a time, one
date at a time, with small helpers named for what they compute. Only the
options (:data:`~stori_xr.kernels.stori.DEFAULTS`) and the neighbour pattern
(:func:`~stori_xr.kernels.stori.neighbour_offsets`) are shared with the numba
kernel. The tests compare the two.

Every candidate is "a guide series plus a bridge": the pixel-minus-guide
difference on the anchor dates, interpolated linearly in between
(:func:`guided_bridge`), with a Brownian-bridge error variance
(:func:`bridge_variance`) whose nugget ``s2`` and rate ``c`` come from the
squared increments of the difference series (:func:`fit_increment_model`).
Per pixel: error models, neighbour ranking (:func:`rank_neighbours`), the
whole-series SAR model (:func:`sar_model`), calibration
(:func:`calibration_scales`), screening (:func:`screen_clear_values`), then for
each requested date the temporal, SAR-anchored and spatial candidates and their
fusion (:func:`fuse`, :func:`source_flag`).

Written independently of the numba kernel, from its docstring: a value is
usable where ``clear`` is True and every band is finite (the pixel's own values
and its neighbours'); the SAR fit is centred on the gap's middle rounded to a
multiple of ``sar_scale_days / 4``; two anchors on the same date interpolate
with weight 1/2; a byte-swapped float32 input gives a (native) float32 output.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from stori_xr.kernels.flags import (
    EXTRAPOLATED,
    NODATA,
    OBSERVED,
    SAR,
    SCREENED,
    SPATIAL,
    TEMPORAL,
)
from stori_xr.kernels.fusion import TIE
from stori_xr.kernels.stori import DEFAULTS, neighbour_offsets

#: Candidate families, in the order that wins ties of the fusion weight.
FAMILIES = ("temporal", "sar", "spatial")
#: Length of the gap (days, one-sided) at which neighbour stability is scored.
SCORE_GAP_DAYS = 30.0
#: Time scale (days) of the whole-series SAR fit: practically uniform weights.
GLOBAL_SCALE_DAYS = 1e9
#: Below this a determinant or a Cholesky pivot counts as singular.
SINGULAR = 1e-12


class IncrementPrior(NamedTuple):
    """Prior of the increment model and its weight in pseudo-increments."""

    s2: float
    c: float
    weight: float


class Neighbour(NamedTuple):
    """A ranked neighbour: position and per-band error model of its difference."""

    y: int
    x: int
    s2: np.ndarray
    c: np.ndarray
    score: float


class Candidate(NamedTuple):
    """One candidate estimate of all bands on one date, with its error variance."""

    family: str
    value: np.ndarray
    var: np.ndarray


# ---------------------------------------------------------------- error model


def bridge_factor(d1: float | None, d2: float | None) -> float:
    """Brownian-bridge factor ``d1·d2/(d1+d2)``, or the one known distance.

    Parameters
    ----------
    d1, d2 : float or None
        Days to the anchor before and after (None: no anchor on that side).

    Returns
    -------
    float
        ``d1·d2/(d1+d2)`` (0 when both are 0), or ``d1`` or ``d2`` alone.
    """
    if d1 is not None and d2 is not None:
        return d1 * d2 / (d1 + d2) if d1 + d2 > 0.0 else 0.0
    return d1 if d1 is not None else d2


def bridge_variance(s2: np.ndarray, c: np.ndarray, d1: float | None, d2: float | None):
    """Error variance of a bridged candidate: ``s2 + c · bridge_factor(d1, d2)``."""
    return s2 + c * bridge_factor(d1, d2)


def fit_increment_model(
    dt: np.ndarray, sq: np.ndarray, prior: IncrementPrior
) -> tuple[float, float]:
    """Fit ``E[Δ²] = 2 s2 + c Δt`` to squared increments, shrunk towards the prior.

    Least squares line of ``sq`` on ``dt`` (at least 3 increments; a negative
    slope is replaced by the mean, a negative intercept by the line through the
    origin). When all ``dt`` are equal ``c`` is not identifiable: ``s2`` takes
    the whole mean and ``c`` keeps the prior. With fewer than 3 increments both
    keep the prior. The result is shrunk towards the prior with
    ``prior.weight`` pseudo-increments.

    Parameters
    ----------
    dt : ndarray, shape (n,)
        Days between consecutive anchor dates.
    sq : ndarray, shape (n,)
        Squared increments of the difference series.
    prior : IncrementPrior
        Prior ``s2``, ``c`` and weight.

    Returns
    -------
    s2, c : float
        Nugget and rate.
    """
    n = dt.size
    s2, c = prior.s2, prior.c
    if n >= 3:
        det = n * np.sum(dt * dt) - np.sum(dt) ** 2
        if det > SINGULAR:
            design = np.column_stack([np.ones(n), dt])
            icpt, slope = np.linalg.solve(design.T @ design, design.T @ sq)
            if slope < 0.0:
                icpt, slope = np.mean(sq), 0.0
            if icpt < 0.0:
                icpt, slope = 0.0, np.sum(dt * sq) / np.sum(dt * dt)
            s2, c = 0.5 * icpt, slope
        else:
            s2 = 0.5 * np.mean(sq)
    s2 = (n * s2 + prior.weight * prior.s2) / (n + prior.weight)
    c = (n * c + prior.weight * prior.c) / (n + prior.weight)
    return float(s2), float(c)


def increment_model(
    series: np.ndarray, mask: np.ndarray, t: np.ndarray, prior: IncrementPrior
) -> tuple[np.ndarray, np.ndarray]:
    """Per-band ``(s2, c)`` of a series from its increments between consecutive masked dates.

    Parameters
    ----------
    series : ndarray, shape (nb, nt)
        The difference series (pixel minus guide), one row per band.
    mask : ndarray of bool, shape (nt,)
        The anchor dates.
    t : ndarray, shape (nt,)
        Times in days.
    prior : IncrementPrior
        Prior of the fit.

    Returns
    -------
    s2, c : ndarray, shape (nb,)
    """
    idx = np.flatnonzero(mask)
    dt = np.diff(t[idx])
    s2 = np.empty(series.shape[0])
    c = np.empty(series.shape[0])
    for k in range(series.shape[0]):
        inc = np.diff(series[k, idx])
        s2[k], c[k] = fit_increment_model(dt, inc * inc, prior)
    return s2, c


# ----------------------------------------------------------- bridged guides


def nearest_anchors(mask: np.ndarray, i: int) -> tuple[int | None, int | None]:
    """The last masked date before ``i`` and the first after it (``i`` itself excluded)."""
    before = np.flatnonzero(mask[:i])
    after = np.flatnonzero(mask[i + 1 :])
    a = int(before[-1]) if before.size else None
    b = i + 1 + int(after[0]) if after.size else None
    return a, b


def anchor_distances(t: np.ndarray, i: int, a: int | None, b: int | None):
    """Days from the anchor before to ``t[i]`` and from ``t[i]`` to the anchor after."""
    d1 = t[i] - t[a] if a is not None else None
    d2 = t[b] - t[i] if b is not None else None
    return d1, d2


def interpolation_weight(d1: float, d2: float) -> float:
    """Weight of the later anchor in a linear interpolation (1/2 for anchors on one date)."""
    return d1 / (d1 + d2) if d1 + d2 > 0.0 else 0.5


def guided_bridge(
    target: np.ndarray,
    guide: np.ndarray,
    t: np.ndarray,
    i: int,
    a: int | None,
    b: int | None,
) -> np.ndarray:
    """Guide on date ``i`` plus the target-minus-guide difference bridged from the anchors.

    Parameters
    ----------
    target, guide : ndarray, shape (nb, nt)
        The pixel's series and the guide series.
    t : ndarray, shape (nt,)
        Times in days.
    i : int
        The date to estimate.
    a, b : int or None
        Anchor dates before and after (at least one of them).

    Returns
    -------
    ndarray, shape (nb,)
        Linear interpolation of the difference between two anchors, or the one
        anchor's difference, added to ``guide[:, i]``.
    """
    if a is not None and b is not None:
        w = interpolation_weight(*anchor_distances(t, i, a, b))
        diff = (1.0 - w) * (target[:, a] - guide[:, a]) + w * (target[:, b] - guide[:, b])
    else:
        anchor = a if a is not None else b
        diff = target[:, anchor] - guide[:, anchor]
    return guide[:, i] + diff


def temporal_candidate(pixel, t, i, a, b, s2, c) -> Candidate:
    """Linear interpolation between the bracketing anchors (guide 0)."""
    value = guided_bridge(pixel, np.zeros_like(pixel), t, i, a, b)
    return Candidate("temporal", value, bridge_variance(s2, c, *anchor_distances(t, i, a, b)))


# ---------------------------------------------------------------------- SAR


def sar_features(
    sar: np.ndarray, y: int, x: int, usable: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """SAR features of one pixel: 3×3 mean (NaN ignored), standardised over its clear dates.

    Parameters
    ----------
    sar : ndarray, shape (nf, ny, nx, nt)
        SAR features of the block, NaN where missing.
    y, x : int
        The pixel.
    usable : ndarray of bool, shape (nt,)
        The pixel's usable optical dates.

    Returns
    -------
    feat : ndarray, shape (nf, nt)
        Features, each standardised (population variance) over the usable dates
        where all are available (so that dates without an optical value, such as
        extra output dates, change nothing); left unscaled when its variance is
        below 1e-12.
    ok : ndarray of bool, shape (nt,)
        Dates where every feature is available.
    """
    nf, _, _, nt = sar.shape
    window = sar[:, max(y - 1, 0) : y + 2, max(x - 1, 0) : x + 2, :].reshape(nf, -1, nt)
    present = ~np.isnan(window)
    count = present.sum(axis=1)
    total = np.where(present, window, 0.0).sum(axis=1)
    feat = np.full((nf, nt), np.nan)
    feat[count > 0] = total[count > 0] / count[count > 0]
    ok = ~np.isnan(feat).any(axis=0)
    fit = ok & usable
    for f in range(nf):
        if not fit.any():
            continue
        mean = feat[f, fit].mean()
        var = feat[f, fit].var()
        sd = np.sqrt(var) if var > SINGULAR else 1.0
        feat[f] = (feat[f] - mean) / sd
    return feat, ok


def biweight(t: np.ndarray, centre: float, scale_days: float) -> np.ndarray:
    """Weights ``(1 - (Δt / 3L)²)²`` of the distance to ``centre``, zero beyond ``3L``."""
    u = (t - centre) / (3.0 * scale_days)
    return np.where(u * u < 1.0, (1.0 - u * u) ** 2, 0.0)


def weighted_ridge_fit(
    pixel: np.ndarray,
    rows: np.ndarray,
    feat: np.ndarray,
    t: np.ndarray,
    centre: float,
    scale_days: float,
    ridge: float,
) -> np.ndarray | None:
    """Ridge regression of every band on the features, weighted by a biweight in time.

    The normal equations ``(Xᵀ W X + ridge · Σw · I') β = Xᵀ W y`` (``I'``: no
    penalty on the intercept) over the dates ``rows`` within ``3 L`` of
    ``centre`` (:func:`biweight`), solved with :func:`numpy.linalg.solve`.

    Parameters
    ----------
    pixel : ndarray, shape (nb, nt)
        The pixel's band values.
    rows : ndarray of bool, shape (nt,)
        Dates that may enter the fit.
    feat : ndarray, shape (nf, nt)
        Standardised features.
    t : ndarray, shape (nt,)
        Times in days.
    centre, scale_days : float
        Centre and time scale ``L`` of the weights.
    ridge : float
        Ridge penalty, relative to the sum of the weights.

    Returns
    -------
    ndarray, shape (nb, nf + 1), or None
        Intercept and slopes per band; None with fewer than ``nf + 3`` dates of
        positive weight or a (numerically) singular system.
    """
    nf = feat.shape[0]
    weight = biweight(t, centre, scale_days)
    rows = rows & (weight > 0.0)
    if rows.sum() < nf + 3:
        return None
    design = np.column_stack([np.ones(rows.sum()), feat[:, rows].T])
    w = weight[rows]
    gram = design.T @ (w[:, None] * design)
    gram[1:, 1:] += ridge * w.sum() * np.eye(nf)
    rhs = design.T @ (w[:, None] * pixel[:, rows].T)
    try:
        chol = np.linalg.cholesky(gram)
    except np.linalg.LinAlgError:
        return None
    if np.min(np.diag(chol)) ** 2 <= SINGULAR:
        return None
    return np.linalg.solve(gram, rhs).T


def sar_prediction(coef: np.ndarray, feat: np.ndarray) -> np.ndarray:
    """The fitted guide ``f(SAR)`` on every date, shape (nb, nt)."""
    return coef[:, :1] + coef[:, 1:] @ feat


class SarModel(NamedTuple):
    """A pixel's SAR features, whole-series fit and error model of its anchored residuals."""

    feat: np.ndarray
    ok: np.ndarray
    guide: np.ndarray
    s2: np.ndarray
    c: np.ndarray


def sar_model(pixel, usable, feat, ok, t, ridge, prior) -> SarModel | None:
    """Whole-series SAR fit of a pixel and the increment model of its residuals."""
    rows = usable & ok
    coef = weighted_ridge_fit(pixel, rows, feat, t, 0.5 * (t[0] + t[-1]), GLOBAL_SCALE_DAYS, ridge)
    if coef is None:
        return None
    guide = sar_prediction(coef, feat)
    s2, c = increment_model(pixel - guide, rows, t, prior)
    return SarModel(feat, ok, guide, s2, c)


def sar_candidate(pixel, usable, model: SarModel, t, i, a, b, opts) -> Candidate | None:
    """SAR-anchored candidate: a local fit centred on the gap, anchored to its clear values.

    The fit is centred on the middle of the gap, ``(t_a + t_b) / 2`` (``t_i``
    standing in for a missing anchor), rounded to a multiple of
    ``sar_scale_days / 4``. A gap between anchors at most ``sar_scale_days / 2``
    apart uses the whole-series fit instead.
    """
    if not model.ok[i]:
        return None
    if any(d is not None and not model.ok[d] for d in (a, b)):
        return None
    variance = bridge_variance(model.s2, model.c, *anchor_distances(t, i, a, b))
    if a is not None and b is not None and t[b] - t[a] <= 0.5 * opts["sar_scale_days"]:
        # a short gap: the whole-series fit, anchored, is close enough to linear
        return Candidate("sar", guided_bridge(pixel, model.guide, t, i, a, b), variance)
    ta = t[a] if a is not None else t[i]
    tb = t[b] if b is not None else t[i]
    step = 0.25 * opts["sar_scale_days"]
    centre = np.floor(0.5 * (ta + tb) / step + 0.5) * step
    coef = weighted_ridge_fit(
        pixel,
        usable & model.ok,
        model.feat,
        t,
        centre,
        opts["sar_scale_days"],
        opts["ridge"],
    )
    if coef is None:
        return None
    value = guided_bridge(pixel, sar_prediction(coef, model.feat), t, i, a, b)
    return Candidate("sar", value, variance)


# ------------------------------------------------------------------ spatial


def rank_neighbours(values, usable_all, y, x, t, opts, prior) -> list[Neighbour]:
    """The ``pool`` most stable neighbours of a pixel, most stable first.

    Every offset of :func:`neighbour_offsets` inside the block with at least
    ``min_joint`` jointly usable dates is scored by the variance of its
    pixel-minus-neighbour difference over a 30-day one-sided gap,
    ``Σ_bands (s2 + 30 c)``; a stable sort keeps the earlier offset on ties.
    """
    _, ny, nx, _ = values.shape
    found = []
    for dy, dx in neighbour_offsets(int(opts["radius"])):
        yy, xx = y + int(dy), x + int(dx)
        if not (0 <= yy < ny and 0 <= xx < nx):
            continue
        joint = usable_all[y, x] & usable_all[yy, xx]
        if joint.sum() < opts["min_joint"]:
            continue
        s2, c = increment_model(values[:, y, x] - values[:, yy, xx], joint, t, prior)
        found.append(Neighbour(yy, xx, s2, c, float(np.sum(s2 + SCORE_GAP_DAYS * c))))
    order = np.argsort([n.score for n in found], kind="stable")
    return [found[q] for q in order[: int(opts["pool"])]]


def combine_correlated(estimates: np.ndarray, variances: np.ndarray, rho: float):
    """Inverse-variance mean of estimates with equicorrelated errors.

    Parameters
    ----------
    estimates, variances : ndarray, shape (n, nb)
        The estimates and their error variances.
    rho : float
        Correlation of the errors.

    Returns
    -------
    value, var : ndarray, shape (nb,)
        The weighted mean, and ``v̄ · (rho + (1 - rho) / n)`` where ``v̄`` is the
        harmonic mean of the variances.
    """
    n = estimates.shape[0]
    w = 1.0 / variances
    value = np.sum(w * estimates, axis=0) / np.sum(w, axis=0)
    vbar = n / np.sum(w, axis=0)
    return value, vbar * (rho + (1.0 - rho) / n)


def spatial_candidate(
    values, usable_all, usable, y, x, t, i, neighbours, opts
) -> Candidate | None:
    """Spatial candidate on date ``i`` from the best neighbours clear on that date.

    Each of the first ``n_similar`` ranked neighbours that is usable on date ``i``
    and shares an anchor date with the pixel (``i`` itself never an anchor) gives
    its value plus the bridged pixel-minus-neighbour difference.
    """
    pixel = values[:, y, x]
    estimates, variances = [], []
    for nbr in neighbours:
        nbr_usable = usable_all[nbr.y, nbr.x]
        if not nbr_usable[i]:
            continue
        a, b = nearest_anchors(usable & nbr_usable, i)
        if a is None and b is None:
            continue
        estimates.append(guided_bridge(pixel, values[:, nbr.y, nbr.x], t, i, a, b))
        variances.append(bridge_variance(nbr.s2, nbr.c, *anchor_distances(t, i, a, b)))
        if len(estimates) >= opts["n_similar"]:
            break
    if not estimates:
        return None
    value, var = combine_correlated(np.array(estimates), np.array(variances), opts["rho"])
    return Candidate("spatial", value, var)


# -------------------------------------------------------------- calibration


def calibration_scales(pixel, usable, t, s2, c, sar: SarModel | None, prior_weight: float):
    """How far off the temporal and SAR error models are on this pixel.

    For every usable date with usable dates on both sides, the leave-one-out
    error of the temporal (and, where the features allow, the SAR-anchored,
    whole-series fit) estimate is compared with ``2 s2 + c·br``, the variance of
    an observation minus a candidate (as in the screening). The mean of
    ``error² / var`` over dates and bands, shrunk towards 1 with ``prior_weight``
    pseudo-values per band, scales that family's candidate variance.

    Returns
    -------
    scale_t, scale_s : float
        Scales of the temporal and SAR candidate variances.
    """
    ratios_t, ratios_s = [], []
    for i in np.flatnonzero(usable):
        a, b = nearest_anchors(usable, i)
        if a is None or b is None:
            continue
        br = bridge_factor(*anchor_distances(t, i, a, b))
        loo = guided_bridge(pixel, np.zeros_like(pixel), t, i, a, b)
        ratios_t.extend((pixel[:, i] - loo) ** 2 / (2.0 * s2 + c * br))
        if sar is not None and sar.ok[i] and sar.ok[a] and sar.ok[b]:
            loo = guided_bridge(pixel, sar.guide, t, i, a, b)
            ratios_s.extend((pixel[:, i] - loo) ** 2 / (2.0 * sar.s2 + sar.c * br))
    pseudo = prior_weight * pixel.shape[0]
    scale_t = (np.sum(ratios_t) + pseudo) / (len(ratios_t) + pseudo)
    scale_s = (np.sum(ratios_s) + pseudo) / (len(ratios_s) + pseudo)
    return float(scale_t), float(scale_s)


# ---------------------------------------------------------------- screening


def mean_squared_z(error: np.ndarray, var: np.ndarray) -> float:
    """Mean over the bands of ``error² / var``."""
    return float(np.mean(error * error / var))


def screen_clear_values(
    values, usable_all, y, x, t, s2, c, sar: SarModel | None, neighbours, opts
) -> np.ndarray:
    """Clear values that every available leave-one-out family contradicts.

    For each usable date with usable dates on both sides, the temporal
    (variance ``2 s2 + c·br``), spatial (``var + s2``) and SAR-anchored
    (``2 s2_r + c_r·br``, whole-series fit) estimates that leave the date out
    are compared with it; the value is screened when at least two families are
    available and each has a mean squared z-score above ``screen_z²``. The
    pixel's own model (``s2``, ``c``) and that of its SAR residuals
    (``s2_r``, ``c_r``) are fitted without the date too — a single outlier
    inflates a model fitted with it, enough to hide itself on a short series.
    (The neighbours' pair models, behind the spatial ``var``, keep it.)

    Returns
    -------
    ndarray of bool, shape (nt,)
    """
    usable = usable_all[y, x]
    screened = np.zeros(usable.shape, dtype=bool)
    if opts["screen_z"] <= 0.0 or usable.sum() < 3:
        return screened
    pixel = values[:, y, x]
    limit = opts["screen_z"] ** 2
    prior = IncrementPrior(
        float(opts["prior_s2"]), float(opts["prior_c"]), float(opts["prior_weight"])
    )
    for i in np.flatnonzero(usable):
        a, b = nearest_anchors(usable, i)
        if a is None or b is None:
            continue
        without = usable.copy()
        without[i] = False
        s2_i, c_i = increment_model(pixel, without, t, prior)
        d1, d2 = anchor_distances(t, i, a, b)
        loo = temporal_candidate(pixel, t, i, a, b, s2_i, c_i)
        verdicts = [mean_squared_z(pixel[:, i] - loo.value, s2_i + loo.var) > limit]
        if neighbours:
            sp = spatial_candidate(values, usable_all, usable, y, x, t, i, neighbours, opts)
            if sp is not None:
                verdicts.append(mean_squared_z(pixel[:, i] - sp.value, sp.var + s2_i) > limit)
        if sar is not None and sar.ok[i] and sar.ok[a] and sar.ok[b]:
            rs2_i, rc_i = increment_model(pixel - sar.guide, without & sar.ok, t, prior)
            est = guided_bridge(pixel, sar.guide, t, i, a, b)
            var = 2.0 * rs2_i + rc_i * bridge_factor(d1, d2)
            verdicts.append(mean_squared_z(pixel[:, i] - est, var) > limit)
        screened[i] = len(verdicts) >= 2 and all(verdicts)
    return screened


# ------------------------------------------------------------------- fusion


def fuse(candidates: list[Candidate], s2: np.ndarray, opts) -> tuple[np.ndarray, np.ndarray, str]:
    """Inverse-variance fusion with the spread term and the pixel's nugget.

    Returns
    -------
    value, sigma : ndarray, shape (nb,)
        ``x̄ = Σ x_f/var_f / Σ 1/var_f`` and
        ``sigma_scale · sqrt((1 + spread_weight · S) / Σ 1/var_f + s2)`` with
        ``S = Σ (x_f - x̄)² / var_f``.
    best : str
        The family with the largest total weight ``Σ_bands 1/var_f``; a later
        family (in :data:`FAMILIES` order) must exceed an earlier one by a relative
        :data:`TIE`, so that rounding does not decide between equal weights.
    """
    est = np.array([cand.value for cand in candidates])
    var = np.array([cand.var for cand in candidates])
    w = 1.0 / var
    total = np.sum(w, axis=0)
    value = np.sum(w * est, axis=0) / total
    spread = np.sum((est - value) ** 2 / var, axis=0)
    sigma = opts["sigma_scale"] * np.sqrt((1.0 + opts["spread_weight"] * spread) / total + s2)
    weight = np.sum(w, axis=1)
    best = 0
    for f in range(1, len(candidates)):
        if weight[f] > weight[best] * (1.0 + TIE):
            best = f
    return value, sigma, candidates[best].family


def source_flag(best: str, screened: bool, one_sided: bool) -> np.int8:
    """Provenance of a filled value."""
    if screened:
        return SCREENED
    if best == "sar":
        return SAR
    if best == "spatial":
        return SPATIAL
    return EXTRAPOLATED if one_sided else TEMPORAL


# ------------------------------------------------------------------- driver


def usable_mask(values: np.ndarray, clear: np.ndarray) -> np.ndarray:
    """Clear dates whose bands are all finite, shape (ny, nx, nt)."""
    return np.asarray(clear, dtype=bool) & np.isfinite(values).all(axis=0)


def output_dtype(dtype: np.dtype) -> np.dtype:
    """float32 (of either byte order) stays float32; everything else becomes float64."""
    return np.dtype(np.float32) if dtype.kind == "f" and dtype.itemsize == 4 else np.dtype(float)


def enabled_families(candidates) -> set[str]:
    """The candidate families asked for; ValueError on an unknown name."""
    names = {candidates} if isinstance(candidates, str) else set(candidates)
    unknown = sorted(names - set(FAMILIES))
    if unknown:
        raise ValueError(f"unknown candidates {unknown}; choose among {list(FAMILIES)}.")
    return names


def fill_pixel(values, usable_all, sar, y, x, t, out_idx, opts):
    """Fill one pixel on the dates ``out_idx``.

    Returns
    -------
    value, sigma : ndarray, shape (nb, m)
    flag : ndarray of int8, shape (m,)
    """
    nb, m = values.shape[0], len(out_idx)
    out_v = np.full((nb, m), np.nan)
    out_s = np.full((nb, m), np.nan)
    out_f = np.full(m, NODATA, dtype=np.int8)
    usable = usable_all[y, x].copy()
    if not usable.any():
        return out_v, out_s, out_f
    prior = IncrementPrior(
        float(opts["prior_s2"]), float(opts["prior_c"]), float(opts["prior_weight"])
    )
    enabled = enabled_families(opts["candidates"])
    pixel = values[:, y, x]
    s2, c = increment_model(pixel, usable, t, prior)
    neighbours = rank_neighbours(values, usable_all, y, x, t, opts, prior)
    model = None
    if sar is not None and sar.shape[0] > 0:
        feat, ok = sar_features(sar, y, x, usable)
        model = sar_model(pixel, usable, feat, ok, t, float(opts["ridge"]), prior)
    scale_t, scale_s = 1.0, 1.0
    if opts["calibrate"] and usable.sum() >= 3:
        scale_t, scale_s = calibration_scales(
            pixel, usable, t, s2, c, model, float(opts["prior_weight"])
        )
    screened = screen_clear_values(values, usable_all, y, x, t, s2, c, model, neighbours, opts)
    usable &= ~screened
    for j, i in enumerate(out_idx):
        if usable[i]:
            out_v[:, j] = pixel[:, i]
            out_s[:, j] = opts["sigma_scale"] * np.sqrt(s2)
            out_f[j] = OBSERVED
            continue
        a, b = nearest_anchors(usable, i)
        if a is None and b is None:
            continue
        temporal = temporal_candidate(pixel, t, i, a, b, s2, c)
        temporal = temporal._replace(var=temporal.var * scale_t)
        candidates = [temporal] if "temporal" in enabled else []
        if "sar" in enabled and model is not None:
            sar_cand = sar_candidate(pixel, usable, model, t, i, a, b, opts)
            if sar_cand is not None:
                candidates.append(sar_cand._replace(var=sar_cand.var * scale_s))
        if "spatial" in enabled and neighbours:
            candidates.append(
                spatial_candidate(values, usable_all, usable, y, x, t, i, neighbours, opts)
            )
        candidates = [cand for cand in candidates if cand is not None] or [temporal]
        out_v[:, j], out_s[:, j], best = fuse(candidates, s2, opts)
        out_f[j] = source_flag(best, screened[i], a is None or b is None)
    return out_v, out_s, out_f


def stori_fill_reference(
    values: np.ndarray,
    clear: np.ndarray,
    sar: np.ndarray | None,
    t: np.ndarray,
    out_idx: np.ndarray,
    *,
    core: tuple[int, int, int, int] | None = None,
    **options: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Slow numpy reference of :func:`stori_xr.kernels.stori.stori_fill`.

    Parameters
    ----------
    values : ndarray, shape (nb, ny, nx, nt)
        Band values; only clear, finite ones are used.
    clear : ndarray of bool, shape (ny, nx, nt)
        Usable values.
    sar : ndarray, shape (nf, ny, nx, nt), or None
        SAR features on the same dates (NaN where missing).
    t : ndarray, shape (nt,)
        Times in days, sorted.
    out_idx : ndarray of int, shape (m,)
        Output dates as indices into ``t``.
    core : (y0, y1, x0, x1), optional
        The window of pixels to fill; the rest of the block is halo that the
        spatial candidate reads. Default: the whole block.
    **options
        Overrides of :data:`~stori_xr.kernels.stori.DEFAULTS`.

    Returns
    -------
    values : ndarray, shape (nb, m, cy, cx)
        Filled values: float32 for float32 input (either byte order), else
        float64; clear values unchanged unless screened (then replaced, and
        flagged so).
    sigma : ndarray, shape (nb, m, cy, cx)
        One-sigma uncertainty, same dtype.
    source : ndarray of int8, shape (m, cy, cx)
        Provenance flags (:mod:`stori_xr.kernels.flags`).

    Examples
    --------
    >>> import numpy as np
    >>> v = np.array([0.1, np.nan, 0.3, 0.4]).reshape(1, 1, 1, 4)
    >>> out, sigma, src = stori_fill_reference(
    ...     v, np.isfinite(v[0]), None, np.arange(4.0), np.arange(4)
    ... )
    >>> out.round(3).ravel().tolist(), src.ravel().tolist()
    ([0.1, 0.2, 0.3, 0.4], [0, 1, 0, 0])
    """
    opts = {**DEFAULTS, **options}
    enabled_families(opts["candidates"])
    dtype = output_dtype(np.asarray(values).dtype)
    values = np.asarray(values, dtype=np.float64)
    sar = None if sar is None else np.asarray(sar, dtype=np.float64)
    t = np.asarray(t, dtype=np.float64)
    out_idx = [int(i) for i in np.asarray(out_idx).ravel()]
    nb, ny, nx, _ = values.shape
    y0, y1, x0, x1 = core if core is not None else (0, ny, 0, nx)
    usable_all = usable_mask(values, clear)
    out_v = np.full((nb, y1 - y0, x1 - x0, len(out_idx)), np.nan)
    out_s = np.full_like(out_v, np.nan)
    out_f = np.full((y1 - y0, x1 - x0, len(out_idx)), NODATA, dtype=np.int8)
    for y in range(y0, y1):
        for x in range(x0, x1):
            v, s, f = fill_pixel(values, usable_all, sar, y, x, t, out_idx, opts)
            out_v[:, y - y0, x - x0], out_s[:, y - y0, x - x0], out_f[y - y0, x - x0] = v, s, f
    # the layout of the kernel's results: dates before pixels
    return (
        np.ascontiguousarray(out_v.transpose(0, 3, 1, 2), dtype=dtype),
        np.ascontiguousarray(out_s.transpose(0, 3, 1, 2), dtype=dtype),
        np.ascontiguousarray(out_f.transpose(2, 0, 1)),
    )
