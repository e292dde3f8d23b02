"""Scores of the hidden values: RMSE, MAE, bias, R², σ calibration, spectral angle, NDVI.

:func:`score` scores one method's estimates of the hidden values per band and per gap
class (:data:`GAP_CLASSES`, by :func:`stori_xr.evaluate.masks.gap_days`), with rows that
pool every band (:data:`ALL_BANDS`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from stori_xr.exceptions import DataFormatError

__all__ = ["ALL_BANDS", "GAP_CLASSES", "METRICS", "score"]

#: Gap classes: name -> (lower, upper] bounds in days (``"all"`` takes every hidden value).
GAP_CLASSES: dict[str, tuple[float, float]] = {
    "all": (-np.inf, np.inf),
    "<=15d": (-np.inf, 15.0),
    "15-45d": (15.0, 45.0),
    ">45d": (45.0, np.inf),
}

#: Name of the rows that pool every band.
ALL_BANDS = "all bands"

_RED = ("B04",)
_NIR = ("B08", "B8A")
#: The metric columns of the rows of :func:`score`.
METRICS = ("rmse", "mae", "bias", "r2", "within_1sigma", "within_2sigma", "sam")
_COLUMNS = ("method", "band", "gap", "n", "n_missing", *METRICS)


def _metrics(truth: np.ndarray, est: np.ndarray, sigma: np.ndarray | None) -> dict[str, float]:
    """RMSE, MAE, bias, R² and ±1σ/±2σ coverage of paired 1-D values (already finite)."""
    n = truth.size
    out = dict.fromkeys(METRICS, np.nan)
    out["n"] = n
    if n == 0:
        return out
    err = est - truth
    out["rmse"] = float(np.sqrt(np.mean(err**2)))
    out["mae"] = float(np.mean(np.abs(err)))
    out["bias"] = float(np.mean(err))
    ss_tot = float(np.sum((truth - truth.mean()) ** 2))
    if n > 1 and ss_tot > 0:
        out["r2"] = 1.0 - float(np.sum(err**2)) / ss_tot
    if sigma is not None:
        has = np.isfinite(sigma)
        if has.any():
            z = np.abs(err[has]) / np.where(sigma[has] > 0, sigma[has], np.finfo(float).tiny)
            out["within_1sigma"] = float(np.mean(z <= 1.0))
            out["within_2sigma"] = float(np.mean(z <= 2.0))
    return out


def _sam(truth: np.ndarray, est: np.ndarray) -> float:
    """Mean spectral angle (degrees) between columns of (nb, n) arrays."""
    if truth.shape[0] < 2 or truth.shape[1] == 0:
        return np.nan
    dot = np.sum(truth * est, axis=0)
    norm = np.linalg.norm(truth, axis=0) * np.linalg.norm(est, axis=0)
    ok = norm > 0
    if not ok.any():
        return np.nan
    cos = np.clip(dot[ok] / norm[ok], -1.0, 1.0)
    return float(np.degrees(np.arccos(cos)).mean())


def _ndvi(values: np.ndarray, red: int, nir: int) -> np.ndarray:
    r, n = values[red], values[nir]
    with np.errstate(divide="ignore", invalid="ignore"):
        return (n - r) / (n + r)


def score(
    truth: np.ndarray,
    estimate: np.ndarray,
    sigma: np.ndarray | None,
    hidden: np.ndarray,
    gap: np.ndarray,
    bands: Sequence[str],
    *,
    method: str | None = None,
) -> pd.DataFrame:
    """Score the estimates of the hidden values, per band and per gap class.

    Parameters
    ----------
    truth, estimate : ndarray, shape (band, ...)
        True and reconstructed values; the bands come first, the other axes are
        those of ``hidden``.
    sigma : ndarray, shape (band, ...), or None
        The 1σ uncertainty of each estimate (NaN or None when the method has no
        uncertainty model: the calibration columns are then NaN).
    hidden : ndarray of bool, shape (...)
        The values to score.
    gap : ndarray of float, shape (...)
        Days to the nearest usable value (:func:`gap_days`); NaN values only count
        in the ``"all"`` class.
    bands : sequence of str
        Band names, in the order of the first axis.
    method : str, optional
        Written in a ``method`` column.

    Returns
    -------
    pandas.DataFrame
        One row per band and gap class (``"all"``, ``"<=15d"``, ``"15-45d"``,
        ``">45d"``), plus ``"all bands"`` rows pooling every value of every band
        (and carrying ``sam``, the mean spectral angle in degrees over the
        pixel-dates) and, when a red (``B04``) and a NIR band (``B08`` or ``B8A``)
        exist, ``"NDVI"`` rows. Columns: ``method``, ``band``, ``gap``, ``n``
        (values scored), ``n_missing`` (hidden values the method left NaN),
        ``rmse``, ``mae``, ``bias`` (mean of estimate − truth), ``r2`` (1 − SSE/SST
        around the mean of the scored truth), ``within_1sigma``, ``within_2sigma``
        (share of |error| ≤ 1σ, ≤ 2σ among values with a finite σ), ``sam``.

    Examples
    --------
    >>> import numpy as np
    >>> truth = np.array([[0.1, 0.2, 0.3, 0.4]])
    >>> est = np.array([[0.1, 0.3, 0.3, 0.2]])
    >>> hidden = np.array([False, True, True, True])
    >>> gap = np.array([0.0, 5.0, 20.0, 60.0])
    >>> table = score(truth, est, None, hidden, gap, ["B8A"])
    >>> row = table[(table.band == "B8A") & (table.gap == "all")].iloc[0]
    >>> int(row.n), round(float(row.rmse), 4), round(float(row.bias), 4)
    (3, 0.1291, -0.0333)
    """
    bands = list(bands)
    truth = np.asarray(truth, dtype=np.float64)
    estimate = np.asarray(estimate, dtype=np.float64)
    hidden = np.asarray(hidden, dtype=bool)
    gap = np.asarray(gap, dtype=np.float64)
    nb = len(bands)
    if truth.shape != estimate.shape or truth.shape != (nb, *hidden.shape):
        raise DataFormatError(
            f"truth {truth.shape} and estimate {estimate.shape} must both have shape "
            f"(band, ...) = {(nb, *hidden.shape)} for {nb} band{'s' if nb != 1 else ''} "
            f"and hidden {hidden.shape}."
        )
    if gap.shape != hidden.shape:
        raise DataFormatError(f"gap {gap.shape} must have the shape of hidden {hidden.shape}.")
    sig = None if sigma is None else np.asarray(sigma, dtype=np.float64)
    if sig is not None and sig.shape != truth.shape:
        raise DataFormatError(f"sigma {sig.shape} must have the shape of truth {truth.shape}.")
    red = next((bands.index(b) for b in _RED if b in bands), None)
    nir = next((bands.index(b) for b in _NIR if b in bands), None)

    rows: list[dict[str, Any]] = []
    for name, (lo, hi) in GAP_CLASSES.items():
        sel = hidden if name == "all" else hidden & (gap > lo) & (gap <= hi)
        t, e = truth[:, sel], estimate[:, sel]
        s = None if sig is None else sig[:, sel]
        for k, band in enumerate(bands):
            ok = np.isfinite(t[k]) & np.isfinite(e[k])
            m = _metrics(t[k, ok], e[k, ok], None if s is None else s[k, ok])
            rows.append({"band": band, "gap": name, "n_missing": int((~ok).sum()), **m})
        ok = np.isfinite(t).all(axis=0) & np.isfinite(e).all(axis=0)
        pooled = _metrics(
            t[:, ok].ravel(), e[:, ok].ravel(), None if s is None else s[:, ok].ravel()
        )
        pooled["sam"] = _sam(t[:, ok], e[:, ok])
        rows.append({"band": ALL_BANDS, "gap": name, "n_missing": int((~ok).sum()), **pooled})
        if red is not None and nir is not None:
            nt_, ne_ = _ndvi(t, red, nir), _ndvi(e, red, nir)
            ok = np.isfinite(nt_) & np.isfinite(ne_)
            m = _metrics(nt_[ok], ne_[ok], None)
            rows.append({"band": "NDVI", "gap": name, "n_missing": int((~ok).sum()), **m})
    table = pd.DataFrame(rows)
    table.insert(0, "method", method)
    return table[list(_COLUMNS)]
