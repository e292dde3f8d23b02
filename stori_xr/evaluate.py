"""Accuracy on real data: hide real clear values, reconstruct them, score the hidden ones.

This module is the accuracy protocol of the design ("How we know it works") as
library code:

1. :func:`hide_mask` chooses clear values to hide, in two ways: *transplanted
   cloud masks* (the cloud pattern of a partly cloudy date copied onto a mostly
   clear date, whose labels are the most trustworthy truth) and *long windows*
   (all clear values of a rectangle of the scene hidden for 60–120 days, the long
   gaps where SAR matters).
2. :func:`gap_days` gives, for every pixel-date, the days to the nearest value
   still usable at that pixel; hidden values are scored by gap class
   (``<=15d``, ``15-45d``, ``>45d``).
3. :func:`score` computes RMSE, MAE, bias, R², the uncertainty calibration (share
   of errors inside ±1σ and ±2σ), the spectral angle (SAM) and the NDVI error.
4. :func:`evaluate` runs every method on the same masked copy of the input, for
   several seeds, and returns one tidy table; :func:`summarise` averages it over
   the seeds and :func:`format_table` prints it like the design's table.

This is the one place where library code computes eagerly: the user asked for an
evaluation. Inputs are never modified.
"""

from __future__ import annotations

import time
from collections.abc import Hashable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from stori_xr import fill, validate
from stori_xr.dates import MERGE_WITHIN, time_groups, to_days, to_timedelta_days
from stori_xr.exceptions import DataFormatError, MissingVariableError, OptionError

__all__ = [
    "GAP_CLASSES",
    "evaluate",
    "format_table",
    "gap_days",
    "hide_mask",
    "load_worldcereal_patch",
    "score",
    "summarise",
]

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
_METRICS = ("rmse", "mae", "bias", "r2", "within_1sigma", "within_2sigma", "sam")
_COLUMNS = ("method", "band", "gap", "n", "n_missing", *_METRICS)


# ----------------------------------------------------------------------------- hiding


def hide_mask(
    clear: np.ndarray,
    times: np.ndarray,
    *,
    seed: int,
    clear_share: float = 0.8,
    donor_cloud: tuple[float, float] = (0.2, 0.8),
    window_days: tuple[float, float] = (60.0, 120.0),
    window_area: tuple[float, float] = (0.3, 0.5),
    n_windows: int = 1,
    transplant_share: float = 1.0,
    merge_within: str | float = "60s",
) -> np.ndarray:
    """Choose clear values to hide: transplanted cloud masks and long windows.

    Two kinds of artificial gaps, both made of real clear values:

    * **Transplanted cloud masks.** Every *mostly clear* date (at least
      ``clear_share`` of the scene clear) receives the not-clear pattern of
      another date drawn at random among the *partly cloudy* ones (cloudy share
      within ``donor_cloud``): its clear values under that pattern are hidden.
      The gaps have the shapes of real clouds, on dates whose values are the
      most trustworthy truth.
    * **Long windows.** ``n_windows`` times, a duration is drawn uniformly in
      ``window_days`` and a start uniformly so that the window lies inside the
      series; a rectangle covering a share of the scene drawn uniformly in
      ``window_area`` (aspect ratio log-uniform in 1/2–2, position uniform) is
      blanked: every clear value inside it on the dates of the window is hidden.

    Acquisitions closer than ``merge_within`` (e.g. two Sentinel-2 granules of
    one overpass, seconds apart) show the same ground at the same moment: a value
    hidden on one of them is hidden on the others too, so that the truth does not
    leak through its twin.

    Parameters
    ----------
    clear : ndarray of bool, shape (time, y, x)
        Usable (clear) values.
    times : ndarray of datetime64 or float, shape (time,)
        Acquisition times (sorted); floats are days.
    seed : int
        Seed of the random generator; the same seed gives the same mask.
    clear_share : float, default 0.8
        Lowest clear share of the scene for a date to receive a transplanted mask.
    donor_cloud : (float, float), default (0.2, 0.8)
        Range of the cloudy (not clear) share of the dates whose pattern is
        transplanted. Without such a date no mask is transplanted.
    window_days : (float, float), default (60, 120)
        Range of the window durations, in days.
    window_area : (float, float), default (0.3, 0.5)
        Range of the share of the scene covered by a window's rectangle.
    n_windows : int, default 1
        Number of long windows.
    transplant_share : float, default 1.0
        Share of the mostly clear dates that receive a transplanted mask (drawn at
        random when below 1).
    merge_within : str or float, default "60s"
        Acquisitions closer than this are hidden together.

    Returns
    -------
    ndarray of bool, shape (time, y, x)
        True where a clear value is hidden (never where ``clear`` is False).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> clear = rng.random((40, 10, 10)) > 0.3
    >>> clear[::4] = True  # mostly clear dates
    >>> times = np.datetime64("2020-01-01") + np.arange(40) * np.timedelta64(5, "D")
    >>> hidden = hide_mask(clear, times, seed=1)
    >>> bool((hidden <= clear).all()) and bool(hidden.any())
    True
    >>> bool((hide_mask(clear, times, seed=1) == hidden).all())
    True
    """
    clear = np.asarray(clear, dtype=bool)
    if clear.ndim != 3:
        raise DataFormatError(f"clear must have dims (time, y, x); got shape {clear.shape}.")
    t = _days(times)
    if t.shape != clear.shape[:1]:
        raise DataFormatError(
            f"times has {t.size} values for a clear mask with {clear.shape[0]} dates."
        )
    nt, ny, nx = clear.shape
    rng = np.random.default_rng(seed)
    hidden = np.zeros_like(clear)

    # (a) transplanted cloud masks
    share = clear.reshape(nt, -1).mean(axis=1) if clear.size else np.zeros(nt)
    cloudy = 1.0 - share
    targets = np.flatnonzero(share >= clear_share)
    donors = np.flatnonzero((cloudy >= donor_cloud[0]) & (cloudy <= donor_cloud[1]))
    if transplant_share < 1.0:
        keep = round(transplant_share * targets.size)
        targets = np.sort(rng.choice(targets, size=keep, replace=False))
    for i in targets:
        choices = donors[donors != i]
        if choices.size == 0:
            continue
        j = rng.choice(choices)
        hidden[i] |= ~clear[j]

    # (b) long windows over a rectangle
    span = float(t[-1] - t[0]) if nt else 0.0
    for _ in range(n_windows):
        length = rng.uniform(*window_days)
        start = t[0] + rng.uniform(0.0, max(span - length, 0.0))
        area = rng.uniform(*window_area)
        aspect = np.exp(rng.uniform(np.log(0.5), np.log(2.0)))
        hy = min(np.sqrt(area * aspect), 1.0)
        hx = min(area / hy, 1.0)
        h = int(np.clip(round(hy * ny), 1, ny))
        w = int(np.clip(round(hx * nx), 1, nx))
        y0 = int(rng.integers(0, ny - h + 1))
        x0 = int(rng.integers(0, nx - w + 1))
        dates = (t >= start) & (t <= start + length)
        hidden[dates, y0 : y0 + h, x0 : x0 + w] = True

    # twins (acquisitions seconds apart) are hidden together
    groups = time_groups(_as_datetime(times, t), to_timedelta_days(merge_within))
    if groups.size and groups[-1] < nt - 1:
        for g in np.unique(groups):
            members = np.flatnonzero(groups == g)
            if members.size > 1:
                hidden[members] |= hidden[members].any(axis=0)
    return hidden & clear


def gap_days(usable: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Days from each pixel-date to the nearest value still usable at that pixel.

    This is the gap length by which the design splits the scores: 0 for a
    usable value itself, otherwise the distance in days to the closest usable
    date of the same pixel, before or after.

    Parameters
    ----------
    usable : ndarray of bool, shape (time, ...)
        Values still usable after hiding (clear and not hidden).
    times : ndarray of datetime64 or float, shape (time,)
        Acquisition times (sorted); floats are days.

    Returns
    -------
    ndarray of float64, shape (time, ...)
        Days to the nearest usable value; NaN at pixels without any usable value.

    Examples
    --------
    >>> import numpy as np
    >>> usable = np.array([True, False, False, True, False])
    >>> gap_days(usable, np.array([0.0, 10.0, 20.0, 40.0, 50.0])).tolist()
    [0.0, 10.0, 20.0, 0.0, 10.0]
    """
    usable = np.asarray(usable, dtype=bool)
    t = _days(times)
    if t.shape != usable.shape[:1]:
        raise DataFormatError(f"times has {t.size} values for {usable.shape[0]} dates.")
    nt = usable.shape[0]
    shape = (nt,) + (1,) * (usable.ndim - 1)
    idx = np.arange(nt).reshape(shape)
    last = np.maximum.accumulate(np.where(usable, idx, -1), axis=0)
    nxt = np.flip(np.minimum.accumulate(np.flip(np.where(usable, idx, nt), 0), axis=0), 0)
    tt = t.reshape(shape)
    before = np.where(last >= 0, tt - t[np.clip(last, 0, nt - 1)], np.inf)
    after = np.where(nxt < nt, t[np.clip(nxt, 0, nt - 1)] - tt, np.inf)
    gap = np.minimum(before, after)
    return np.where(np.isfinite(gap), gap, np.nan)


def _days(times: np.ndarray) -> np.ndarray:
    values = np.asarray(times)
    if values.dtype.kind == "M":
        return to_days(values)
    return values.astype(np.float64)


def _as_datetime(times: np.ndarray, days: np.ndarray) -> np.ndarray:
    values = np.asarray(times)
    if values.dtype.kind == "M":
        return values
    return (days * 86_400e9).astype("int64").astype("datetime64[ns]")


# ----------------------------------------------------------------------------- scoring


def _metrics(truth: np.ndarray, est: np.ndarray, sigma: np.ndarray | None) -> dict[str, float]:
    """RMSE, MAE, bias, R² and ±1σ/±2σ coverage of paired 1-D values (already finite)."""
    n = truth.size
    out = dict.fromkeys(_METRICS, np.nan)
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


# ----------------------------------------------------------------------------- evaluate


def evaluate(
    optical: xr.Dataset | xr.DataArray,
    sar: xr.Dataset | None = None,
    *,
    methods: Sequence[str] = ("kernel", "linear", "whittaker", "sar-regression"),
    seeds: Sequence[int] = (0, 1, 2),
    bands: Sequence[str] | None = None,
    clear: xr.DataArray | str | None = None,
    time_dim: Hashable | None = None,
    hide: Mapping[str, Any] | None = None,
    method_options: Mapping[str, Mapping[str, Any]] | None = None,
    **options: Any,
) -> pd.DataFrame:
    """Hide real clear values, reconstruct them with each method, and score them.

    For each seed, :func:`hide_mask` chooses the values to hide; a copy of the
    input has them set to NaN and not clear; every method runs on that same copy
    through :func:`stori_xr.fill.interpolate` (on the optical dates); the hidden
    values are scored by :func:`score`, split by :func:`gap_days`.

    Parameters
    ----------
    optical : Dataset or DataArray
        Optical reflectance as for :func:`stori_xr.fill.interpolate`, with a boolean
        ``clear`` variable (or ``clear=``); without one, every finite value counts
        as clear. It is loaded into memory; it is not modified.
    sar : Dataset, optional
        ``VV`` and/or ``VH`` for the methods that use SAR.
    methods : sequence of str, default ("kernel", "linear", "whittaker", "sar-regression")
        Registered methods (:data:`stori_xr.fill.METHODS`) to compare.
    seeds : sequence of int, default (0, 1, 2)
        One hiding draw per seed.
    bands : sequence of str, optional
        Bands to score; default: every band variable.
    clear : DataArray or str, optional
        Boolean mask (True = usable) or the name of such a variable of ``optical``.
    time_dim : hashable, optional
        The time dimension, when it cannot be found as the one datetime dim.
    hide : mapping, optional
        Keyword options of :func:`hide_mask` (``clear_share``, ``window_days``, …).
    method_options : mapping of str to mapping, optional
        Options of single methods, e.g. ``{"whittaker": {"lmbda": 1e3}}``.
    **options
        Keywords of :func:`stori_xr.fill.interpolate` given to every method
        (``tolerance=``, ``max_gap=``, ``sar_units=`` …).

    Returns
    -------
    pandas.DataFrame
        The rows of :func:`score` for every method and seed, with columns ``seed``,
        ``seconds`` (wall time of the method on this seed, computing included) and
        ``n_hidden`` (values hidden by this seed).

    Raises
    ------
    stori_xr.fill.MethodError
        When a method is not registered (the message lists the registered ones).
    MissingVariableError
        When a method needs SAR and ``sar`` is None, or a band is missing.

    Examples
    --------
    >>> from stori_xr.datasets import make_scene
    >>> scene = make_scene(12, 12, periods=40, seed=3)
    >>> table = evaluate(scene.optical, scene.sar, methods=["linear"], seeds=[0])
    >>> sorted(table.gap.unique())
    ['15-45d', '<=15d', '>45d', 'all']
    """
    methods = list(methods)
    unknown = [m for m in methods if m not in fill.METHODS]
    if unknown:
        raise fill.MethodError(
            f"methods {unknown} are not registered; the registered methods are "
            f"{sorted(fill.METHODS)}."
        )
    if sar is None:
        needs = [m for m in methods if fill.METHODS[m].needs_sar]
        if needs:
            raise MissingVariableError(f"methods {needs} need SAR: pass sar=.")
    seeds = list(seeds)
    bad = [s for s in seeds if not isinstance(s, int | np.integer) or isinstance(s, bool) or s < 0]
    if bad or not seeds:
        raise OptionError(
            f"seeds={seeds!r}: give one or more integers of 0 or more (random seeds of the "
            "hiding), e.g. seeds=[0, 1, 2]."
        )
    method_options = dict(method_options or {})
    ds, _ = validate.as_band_dataset(optical)
    tdim = validate.find_time_dim(ds, time_dim)
    ydim, xdim = validate.find_spatial_dims(ds)
    validate.check_sorted(ds, tdim, "optical")
    names = validate.select_bands(ds, tdim, bands)
    order = (tdim, ydim, xdim)
    truth = np.stack([np.asarray(ds[b].transpose(*order).values, np.float64) for b in names])
    usable0 = np.isfinite(truth).all(axis=0) & _clear_mask(ds, clear, names[0], order)
    times = ds[tdim].values
    chunks = ds[names[0]].transpose(*order).chunksizes or None
    grid = {d: ds[d] for d in order if d in ds.coords}

    tables = []
    for seed in seeds:
        hidden = hide_mask(usable0, times, seed=seed, **dict(hide or {}))
        usable = usable0 & ~hidden
        gap = gap_days(usable, times)
        keep = xr.DataArray(~hidden, dims=order, coords=grid)
        masked = xr.Dataset(
            {b: ds[b].where(keep) for b in names}, coords=ds.coords, attrs=ds.attrs
        )
        masked["clear"] = xr.DataArray(usable, dims=order, coords=grid)
        if chunks:
            masked["clear"] = masked["clear"].chunk(chunks)
        for method in methods:
            start = time.perf_counter()
            out = fill.interpolate(
                masked,
                sar,
                times=None,
                method=method,
                bands=names,
                clear="clear",
                time_dim=tdim,
                **options,
                **dict(method_options.get(method, {})),
            ).compute()
            seconds = time.perf_counter() - start
            # acquisitions seconds apart come back merged (and were hidden together):
            # each one is scored against its merged date's estimate
            out = out.reindex(
                {tdim: optical[tdim].values},
                method="nearest",
                tolerance=np.timedelta64(int(to_timedelta_days(MERGE_WITHIN) * 86400), "s"),
            )
            est = _stack(out, names, order, truth.shape)
            sig = _stack(out, [f"{b}_sigma" for b in names], order, truth.shape)
            table = score(truth, est, sig, hidden, gap, names, method=method)
            table.insert(1, "seed", seed)
            table["seconds"] = seconds
            table["n_hidden"] = int(hidden.sum())
            tables.append(table)
    return pd.concat(tables, ignore_index=True)


def _clear_mask(
    ds: xr.Dataset, clear: xr.DataArray | str | None, band: str, order: tuple[Hashable, ...]
) -> np.ndarray:
    """The clear mask as a numpy (time, y, x) array (all True when there is none)."""
    mask = validate.clear_mask(ds, clear)
    if mask is None:
        return np.ones([ds.sizes[d] for d in order], dtype=bool)
    return np.asarray(mask.broadcast_like(ds[band]).transpose(*order).values)


def _stack(
    out: xr.Dataset, names: Sequence[str], order: tuple[Hashable, ...], shape: tuple[int, ...]
) -> np.ndarray:
    """Variables of the result as one (band, time, y, x) array; NaN for absent ones."""
    arrays = []
    for name in names:
        if name in out:
            arrays.append(np.asarray(out[name].transpose(*order).values, np.float64))
        else:
            arrays.append(np.full(shape[1:], np.nan))
    stacked = np.stack(arrays)
    if stacked.shape != shape:
        raise DataFormatError(
            f"the result has shape {stacked.shape[1:]} instead of the input's {shape[1:]}: "
            "the method did not return the optical dates and grid."
        )
    return stacked


def summarise(table: pd.DataFrame) -> pd.DataFrame:
    """Average the rows of :func:`evaluate` over the seeds.

    Parameters
    ----------
    table : pandas.DataFrame
        The table of :func:`evaluate`.

    Returns
    -------
    pandas.DataFrame
        One row per method, band and gap class (in the order of ``table``): the
        mean over seeds of every numeric column, ``rmse_sd`` (standard deviation of
        the RMSE over the seeds, NaN with one seed) and ``seeds`` (their number).
    """
    keys = ["method", "band", "gap"]
    numeric = [c for c in table.columns if c not in (*keys, "seed")]
    grouped = table.groupby(keys, sort=False)
    out = grouped[numeric].mean()
    out["rmse_sd"] = grouped["rmse"].std()
    out["seeds"] = grouped["seed"].nunique() if "seed" in table else 1
    return out.reset_index()


def format_table(summary: pd.DataFrame, band: str = ALL_BANDS, title: str | None = None) -> str:
    """A readable text table of a summary: one row per method.

    Parameters
    ----------
    summary : pandas.DataFrame
        The result of :func:`summarise`; a table of :func:`evaluate` (with a ``seed``
        column) is summarised first.
    band : str, default "all bands"
        The rows to show: ``"all bands"`` (pooled, as in the design's table), a
        band name or ``"NDVI"``.
    title : str, optional
        A first line.

    Returns
    -------
    str
        Columns: RMSE for all hidden values (and its standard deviation over the
        seeds, ``sd``, when there are several) and per gap class, then, over all of
        them, MAE, bias, R², SAM (degrees; pooled rows only), the shares of errors
        inside ±1σ and ±2σ ("-" without σ) and the seconds per run. A last line
        gives the number of scored values per class.
    """
    if "seed" in summary.columns:
        summary = summarise(summary)
    rows = summary[summary.band == band]
    classes = list(GAP_CLASSES)
    spread = "rmse_sd" in rows and bool(rows["rmse_sd"].notna().any())
    head = ["method", "RMSE all", *(["sd"] if spread else []), *classes[1:]]
    head += ["MAE", "bias", "R2", "SAM deg"]
    head += ["<=1sig", "<=2sig", *(["s/run"] if "seconds" in rows else [])]
    body = []
    for method, group in rows.groupby("method", sort=False):
        by = group.set_index("gap")
        every = by.loc["all"]
        cells = [str(method)]
        rmse = [_fmt(by.loc[g, "rmse"] if g in by.index else np.nan) for g in classes]
        cells += rmse[:1] + ([_fmt(every["rmse_sd"])] if spread else []) + rmse[1:]
        cells += [_fmt(every["mae"]), _fmt(every["bias"], signed=True), _fmt(every["r2"], 2)]
        cells += [_fmt(every["sam"], 2)]
        cells += [_fmt(every["within_1sigma"], 2), _fmt(every["within_2sigma"], 2)]
        cells += [_fmt(every["seconds"], 2)] if "seconds" in rows else []
        body.append(cells)
    if len(rows):
        first = rows[rows.method == rows.method.iloc[0]].set_index("gap")
        counts = [f"{first.loc[g, 'n']:.0f}" if g in first.index else "-" for g in classes]
        counts = counts[:1] + ([""] if spread else []) + counts[1:]
        body.append(["n scored", *counts] + [""] * (len(head) - 1 - len(counts)))
    widths = [max(len(r[i]) for r in [head, *body]) for i in range(len(head))]
    lines = [] if title is None else [title]
    lines.append(_row(head, widths))
    lines.append("-" * len(lines[-1]))
    lines += [_row(cells, widths) for cells in body]
    return "\n".join(lines)


def _row(cells: Sequence[str], widths: Sequence[int]) -> str:
    """Cells padded to their widths: the first left-aligned, the others right-aligned."""
    first = cells[0].ljust(widths[0])
    rest = (c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True))
    return "  ".join([first, *rest]).rstrip()


def _fmt(value: float, digits: int = 3, signed: bool = False) -> str:
    if value is None or not np.isfinite(value):
        return "-"
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"


# ----------------------------------------------------------------------------- real data


def load_worldcereal_patch(
    folder: str | Path,
    bands: Sequence[str] = ("B05", "B06", "B07", "B8A", "B11", "B12"),
) -> tuple[xr.Dataset, xr.Dataset]:
    """Read one WorldCereal patch: 20 m Sentinel-2 bands with their clear mask, and Sentinel-1.

    Parameters
    ----------
    folder : path
        The patch folder, holding ``S2_L2A_20m_*.nc`` and ``S1_GRD-*_20m_*.nc``.
    bands : sequence of str, default ("B05", "B06", "B07", "B8A", "B11", "B12")
        Sentinel-2 bands of the 20 m file.

    Returns
    -------
    optical : Dataset
        The bands (float32 reflectance) and ``clear`` (SCL 4, 5, 6 and every band
        present), dims (time, y, x), numpy-backed.
    sar : Dataset
        ``VV`` and ``VH`` in dB on the same 20 m grid.

    Raises
    ------
    FileNotFoundError
        When the folder lacks one of the two files.
    """
    from stori_xr.io import open_sentinel1, open_sentinel2

    folder = Path(folder)
    s2 = sorted(folder.glob("S2_L2A_20m_*.nc"))
    s1 = sorted(folder.glob("S1_GRD-*_20m_*.nc"))
    if not s2 or not s1:
        raise FileNotFoundError(
            f"{folder} must hold an S2_L2A_20m_*.nc and an S1_GRD-*_20m_*.nc file; "
            f"found {[p.name for p in folder.glob('*.nc')]}."
        )
    optical = open_sentinel2(s2[0], bands=list(bands))
    optical = optical[[*bands, "clear"]]
    sar = open_sentinel1(s1[0])
    return optical, sar[[v for v in ("VV", "VH") if v in sar]]
