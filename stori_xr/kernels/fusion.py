"""The kernel's analytic fusion: one consumer of a gap value's candidate stack.

The candidate stage of :mod:`stori_xr.kernels.stori` gives, for a gap value, up to three
candidates (temporal, SAR-anchored, spatial: ``cand (3, nb)``), each with its
error variance (``cvar (3, nb)``) and whether it exists (``have (3,)``). The fusion
averages them with weights ``1 / var`` and gives the uncertainty of where a clear
observation on that date would fall::

    sigma² = sigma_scale² · ((1 + spread_weight · S) / Σ(1/var) + s2)

where ``S = Σ (x_f - x̄)² / var_f`` is the disagreement between the candidates and
``s2`` the pixel's own observation noise. It returns the family with the largest
total weight, which names the value's source. The ranker
(:mod:`stori_xr.ranker`) is the other consumer of the same stack.
"""

from __future__ import annotations

import numpy as np

from stori_xr.kernels.jit import jit

#: Relative margin by which a later candidate family must outweigh an earlier one to
#: name the source of a value (equal weights, e.g. identical candidates, keep the
#: earlier family whatever the rounding).
TIE = 1e-9


@jit(error_model="numpy", inline="always")
def fuse_value(
    cand, cvar, have, s2, sigma_scale, spread_weight, inv, out_v, out_s, j, ox
):  # pragma: no cover - numba
    """Fuse the candidates of one gap value into ``out_v[:, j, ox]``, ``out_s[:, j, ox]``.

    Parameters
    ----------
    cand, cvar : ndarray, shape (3, nb)
        Candidates and their error variances.
    have : ndarray of bool, shape (3,)
        The families that exist (at least one).
    s2 : ndarray, shape (nb,)
        The pixel's observation noise.
    sigma_scale, spread_weight : float
        Of the uncertainty (see the module's description).
    inv : ndarray, shape (3, nb)
        Scratch space (the weights).
    out_v, out_s : ndarray, shape (nb, m, nx)
        Where the value and its σ go, at date ``j`` and pixel ``ox``.

    Returns
    -------
    int
        The family with the largest total weight (0 temporal, 1 SAR, 2 spatial).
    """
    nb = cand.shape[1]
    best = 0
    best_w = -1.0
    for f in range(3):
        if not have[f]:
            continue
        tw = 0.0
        for k in range(nb):
            inv[f, k] = 1.0 / cvar[f, k]
            tw += inv[f, k]
        if tw > best_w * (1.0 + TIE):  # see TIE: rounding decides no ties
            best_w = tw
            best = f
    for k in range(nb):
        ws = 0.0
        vs = 0.0
        for f in range(3):
            if have[f]:
                ws += inv[f, k]
                vs += inv[f, k] * cand[f, k]
        mean = vs / ws
        spread = 0.0
        for f in range(3):
            if have[f]:
                spread += (cand[f, k] - mean) ** 2 * inv[f, k]
        out_v[k, j, ox] = mean
        out_s[k, j, ox] = np.sqrt((1.0 + spread_weight * spread) / ws + s2[k]) * sigma_scale
    return best
