"""The evaluation's figures and its JSON summary, from the kept per-value errors.

:func:`~stori_xr.evaluate.evaluate` with ``keep_values=True`` returns, besides its
table of scores, one row per hidden value and method (:data:`VALUE_COLUMNS`). From
those rows:

- :func:`plot_gap_error` — RMSE against the gap length, one line per method, the
  number of hidden values per gap bin as bars on a second axis (:func:`gap_error_table`);
- :func:`plot_predicted_observed` — the estimate against the hidden truth, one hexbin
  panel per method, the 1:1 line, R² and RMSE in each title;
- :func:`plot_calibration` — the share of errors within ±kσ against k for each method
  that gives σ, beside the Gaussian ideal (:func:`calibration_table`);
- :func:`write_plots` — the three PNGs and ``summary.json`` (:func:`write_summary`) in
  one folder, as ``stori evaluate --plots DIR`` and ``evaluate(..., plots=DIR)`` write
  them.

matplotlib is imported when a figure is drawn, never when :mod:`stori_xr` is
imported; the figures are made with :mod:`matplotlib.pyplot` (so a notebook shows
them) and :func:`write_plots` closes the ones it saves. Every figure pools the bands
(each value counts once, like the ``"all bands"`` rows of the table) unless ``band=``
picks one.
"""

from __future__ import annotations

import itertools
import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from stori_xr.evaluate.metrics import _metrics
from stori_xr.evaluate.report import summarise
from stori_xr.exceptions import MissingVariableError, OptionError

__all__ = [
    "GAP_BINS",
    "VALUE_COLUMNS",
    "calibration_table",
    "gap_error_table",
    "plot_calibration",
    "plot_gap_error",
    "plot_predicted_observed",
    "write_plots",
    "write_summary",
]

#: The columns of the kept values (``evaluate(..., keep_values=True)``), one row per
#: hidden value, band and method.
VALUE_COLUMNS = (
    "seed",
    "method",
    "band",
    "time",
    "y",
    "x",
    "gap_days",
    "truth",
    "estimate",
    "sigma",
)

#: Upper edges (days) of the gap-length bins of :func:`plot_gap_error`; the last bin is
#: open. 15 and 45 days are the edges of the table's gap classes.
GAP_BINS: tuple[float, ...] = (5.0, 10.0, 15.0, 30.0, 45.0, 90.0)

#: The multiples of σ at which :func:`calibration_table` measures the coverage.
CALIBRATION_K = tuple(np.round(np.linspace(0.0, 3.0, 31), 2))

#: File names :func:`write_plots` writes (after its ``prefix``).
PLOT_FILES = {
    "gap_error": "gap_error.png",
    "predicted_observed": "predicted_observed.png",
    "calibration": "calibration.png",
    "summary": "summary.json",
}

_REFLECTANCE = "reflectance"

#: Markers of the methods' lines, so that lines drawn over each other stay visible.
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")


def _select(values: pd.DataFrame, band: str | None) -> pd.DataFrame:
    """The rows of one band (all bands when None), checked to be kept values."""
    missing = [c for c in ("method", "band", "gap_days", "truth", "estimate") if c not in values]
    if missing:
        raise MissingVariableError(
            f"the table has no columns {missing}: give the values kept by "
            "stori_xr.evaluate.evaluate(..., keep_values=True), not its table of scores."
        )
    if band is None:
        return values
    bands = list(pd.unique(values["band"]))
    if band not in bands:
        raise MissingVariableError(f"band={band!r} is not among the kept bands {bands}.")
    return values[values["band"] == band]


def _methods(values: pd.DataFrame) -> list[str]:
    """The methods in the order they were run."""
    return [str(m) for m in pd.unique(values["method"])]


def _bin_labels(bins: Sequence[float]) -> list[str]:
    edges = [float(b) for b in bins]
    labels = [f"≤{edges[0]:g}"]
    labels += [f"{lo:g}–{hi:g}" for lo, hi in itertools.pairwise(edges)]
    return [*labels, f">{edges[-1]:g}"]


def gap_error_table(
    values: pd.DataFrame, bins: Sequence[float] = GAP_BINS, band: str | None = None
) -> pd.DataFrame:
    """RMSE of every method per gap-length bin: the numbers of :func:`plot_gap_error`.

    Parameters
    ----------
    values : pandas.DataFrame
        The values kept by ``evaluate(..., keep_values=True)`` (:data:`VALUE_COLUMNS`).
    bins : sequence of float, default GAP_BINS
        Increasing upper edges of the bins, in days; a last, open bin takes the longer
        gaps.
    band : str, optional
        One band; default every band pooled.

    Returns
    -------
    pandas.DataFrame
        One row per method and bin: ``method``, ``gap`` (the bin, e.g. ``"15–30"``),
        ``lo``, ``hi`` (its edges in days, ``(lo, hi]``), ``n`` (values scored: truth
        and estimate finite), ``n_missing`` (hidden values the method left NaN) and
        ``rmse`` (reflectance; NaN for an empty bin). Values of pixels without any
        usable value (NaN gap) are left out.

    Examples
    --------
    >>> import pandas as pd
    >>> values = pd.DataFrame({"method": "linear", "band": "B04",
    ...     "gap_days": [3.0, 20.0, 20.0], "truth": [0.1, 0.2, 0.3],
    ...     "estimate": [0.1, 0.3, 0.2]})
    >>> gap_error_table(values, bins=[10])[["gap", "n", "rmse"]].round(3).to_dict("list")
    {'gap': ['≤10', '>10'], 'n': [1, 2], 'rmse': [0.0, 0.1]}
    """
    edges = np.asarray(bins, dtype=np.float64)
    if edges.ndim != 1 or edges.size == 0 or np.any(np.diff(edges) <= 0):
        raise OptionError(
            f"bins={list(bins)!r}: give increasing upper edges in days, e.g. [5, 15, 45]."
        )
    values = _select(values, band)
    labels = _bin_labels(edges)
    lows = [-np.inf, *edges]
    highs = [*edges, np.inf]
    rows = []
    for method in _methods(values):
        one = values[values["method"] == method]
        gap = one["gap_days"].to_numpy(np.float64)
        err = (one["estimate"] - one["truth"]).to_numpy(np.float64)
        for label, lo, hi in zip(labels, lows, highs, strict=True):
            sel = (gap > lo) & (gap <= hi)
            ok = np.isfinite(err[sel])
            e = err[sel][ok]
            rmse = float(np.sqrt(np.mean(e**2))) if e.size else np.nan
            rows.append(
                {
                    "method": method,
                    "gap": label,
                    "lo": lo,
                    "hi": hi,
                    "n": int(ok.sum()),
                    "n_missing": int((~ok).sum()),
                    "rmse": rmse,
                }
            )
    return pd.DataFrame(rows, columns=["method", "gap", "lo", "hi", "n", "n_missing", "rmse"])


def calibration_table(
    values: pd.DataFrame, k: Sequence[float] = CALIBRATION_K, band: str | None = None
) -> pd.DataFrame:
    """Share of errors within ±kσ for each method with σ: the numbers of :func:`plot_calibration`.

    Parameters
    ----------
    values : pandas.DataFrame
        The values kept by ``evaluate(..., keep_values=True)`` (:data:`VALUE_COLUMNS`).
    k : sequence of float, default 0, 0.1, …, 3
        Multiples of σ.
    band : str, optional
        One band; default every band pooled.

    Returns
    -------
    pandas.DataFrame
        One row per method that gives σ (a finite ``sigma`` for some scored value) and
        ``k``: ``method``, ``k``, ``within`` (share of the values with a finite σ whose
        |estimate − truth| ≤ kσ), ``ideal`` (the share for Gaussian errors of standard
        deviation σ, erf(k/√2): 0.683 at k = 1, 0.954 at k = 2) and ``n`` (values with
        a finite σ). No rows when no method gives σ.

    Examples
    --------
    >>> import pandas as pd
    >>> values = pd.DataFrame({"method": "kernel", "band": "B04", "gap_days": 5.0,
    ...     "truth": [0.1, 0.2], "estimate": [0.11, 0.3], "sigma": [0.02, 0.05]})
    >>> calibration_table(values, k=[1, 2])[["k", "within"]].to_dict("list")
    {'k': [1.0, 2.0], 'within': [0.5, 1.0]}
    """
    ks = np.asarray(k, dtype=np.float64)
    if ks.ndim != 1 or ks.size == 0 or np.any(ks < 0) or not np.all(np.isfinite(ks)):
        raise OptionError(f"k={list(k)!r}: give multiples of σ of 0 or more, e.g. [1, 2].")
    values = _select(values, band)
    rows = []
    ideal = [math.erf(v / math.sqrt(2.0)) for v in ks]
    if "sigma" not in values:
        return pd.DataFrame(rows, columns=["method", "k", "within", "ideal", "n"])
    for method in _methods(values):
        one = values[values["method"] == method]
        err = (one["estimate"] - one["truth"]).to_numpy(np.float64)
        sig = one["sigma"].to_numpy(np.float64)
        ok = np.isfinite(err) & np.isfinite(sig)
        if not ok.any():
            continue
        z = np.abs(err[ok]) / np.where(sig[ok] > 0, sig[ok], np.finfo(float).tiny)
        for kv, iv in zip(ks, ideal, strict=True):
            rows.append(
                {
                    "method": method,
                    "k": float(kv),
                    "within": float(np.mean(z <= kv)),
                    "ideal": iv,
                    "n": int(ok.sum()),
                }
            )
    return pd.DataFrame(rows, columns=["method", "k", "within", "ideal", "n"])


def _band_text(band: str | None) -> str:
    return "all bands pooled" if band is None else f"band {band}"


def plot_gap_error(
    values: pd.DataFrame,
    bins: Sequence[float] = GAP_BINS,
    band: str | None = None,
    title: str | None = None,
) -> Any:
    """RMSE against gap length, one line per method, with the count of each bin.

    Parameters
    ----------
    values : pandas.DataFrame
        The values kept by ``evaluate(..., keep_values=True)`` (:data:`VALUE_COLUMNS`).
    bins : sequence of float, default GAP_BINS
        Upper edges of the gap-length bins in days (:func:`gap_error_table`).
    band : str, optional
        One band; default every band pooled.
    title : str, optional
        The figure's title; default says what is drawn.

    Returns
    -------
    matplotlib.figure.Figure
        One axes: RMSE (reflectance) per bin of days to the nearest clear value (bins
        without hidden values left out), a line per method; grey bars on a right-hand
        axis give the number of hidden values in each bin; the legend is outside the
        data, on the right.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from stori_xr.datasets import make_scene
    >>> from stori_xr.evaluate import evaluate
    >>> scene = make_scene(16, 16, periods=20, seed=0)
    >>> table, values = evaluate(scene.optical, methods=["linear"], seeds=[0], keep_values=True)
    >>> fig = plot_gap_error(values)
    >>> fig.axes[0].get_ylabel()
    'RMSE (reflectance)'
    """
    import matplotlib.pyplot as plt

    table = gap_error_table(values, bins, band)
    labels = _bin_labels(bins)
    first = table[table["method"] == table["method"].iloc[0]] if len(table) else table
    n_all = (first["n"] + first["n_missing"]).to_numpy() if len(first) else np.zeros(0)
    shown = [i for i, n in enumerate(n_all) if n > 0]  # bins without hidden values left out
    labels = [labels[i] for i in shown]
    pos = np.arange(len(shown))
    fig, ax = plt.subplots(figsize=(8.0, 4.2), layout="constrained")
    counts = ax.twinx()
    counts.bar(pos, n_all[shown], width=0.7, color="0.85", zorder=0, label="hidden values per bin")
    counts.set_ylabel("hidden values per bin")
    ax.set_zorder(counts.get_zorder() + 1)  # the lines over the bars
    ax.patch.set_visible(False)
    for k, (method, rows) in enumerate(table.groupby("method", sort=False)):
        marker = _MARKERS[k % len(_MARKERS)]
        y = rows["rmse"].to_numpy()[shown]
        ax.plot(pos, y, marker=marker, color=f"C{k}", label=str(method))
    ax.set_xticks(pos, labels)
    ax.set_xlabel("gap length: days to the nearest clear value at the same pixel")
    ax.set_ylabel(f"RMSE ({_REFLECTANCE})")
    ax.set_ylim(bottom=0)
    ax.grid(axis="y", color="0.9")
    ax.set_title(title or f"Error against gap length ({_band_text(band)})")
    handles, names = ax.get_legend_handles_labels()
    bar_handles, bar_names = counts.get_legend_handles_labels()
    fig.legend(handles + bar_handles, names + bar_names, loc="outside right upper")
    return fig


def plot_predicted_observed(
    values: pd.DataFrame, band: str | None = None, title: str | None = None
) -> Any:
    """Estimate against the hidden truth: one hexbin panel per method, the 1:1 line.

    Parameters
    ----------
    values : pandas.DataFrame
        The values kept by ``evaluate(..., keep_values=True)`` (:data:`VALUE_COLUMNS`).
    band : str, optional
        One band; default every band pooled.
    title : str, optional
        The figure's title; default says what is drawn.

    Returns
    -------
    matplotlib.figure.Figure
        One panel per method on shared axes (observed, then predicted reflectance),
        the count of values per hexagon on a log colour scale with one colour bar, the
        1:1 line dashed, and R² (1 − SSE/SST, as in the table) and RMSE in each title.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from stori_xr.datasets import make_scene
    >>> from stori_xr.evaluate import evaluate
    >>> scene = make_scene(16, 16, periods=20, seed=0)
    >>> table, values = evaluate(scene.optical, methods=["linear"], seeds=[0], keep_values=True)
    >>> fig = plot_predicted_observed(values)
    >>> fig.axes[0].get_title().splitlines()[0]
    'linear'
    """
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    values = _select(values, band)
    methods = _methods(values)
    ok = np.isfinite(values["truth"]) & np.isfinite(values["estimate"])
    both = np.concatenate([values["truth"][ok], values["estimate"][ok]])
    lo, hi = np.quantile(both, [0.001, 0.999]) if both.size else (0.0, 1.0)
    pad = 0.05 * (hi - lo or 1.0)
    lo, hi = lo - pad, hi + pad
    n = max(len(methods), 1)
    fig, axes = plt.subplots(
        1, n, figsize=(3.4 * n + 1.2, 3.9), sharex=True, sharey=True, layout="constrained"
    )
    axes = np.atleast_1d(axes)
    mappable = None
    for ax, method in zip(axes, methods, strict=False):
        one = values[(values["method"] == method) & ok]
        t = one["truth"].to_numpy(np.float64)
        e = one["estimate"].to_numpy(np.float64)
        if t.size:
            mappable = ax.hexbin(
                t, e, gridsize=40, bins="log", mincnt=1, extent=(lo, hi, lo, hi), cmap="viridis"
            )
        ax.plot([lo, hi], [lo, hi], color="black", linestyle="--", linewidth=1)
        m = _metrics(t, e, None)
        ax.set_title(f"{method}\nR² = {m['r2']:.2f}, RMSE = {m['rmse']:.3f}", fontsize=10)
        ax.set_xlabel(f"observed {_REFLECTANCE} (hidden value)")
        ax.set_xlim(lo, hi)
        ax.set_ylim(lo, hi)
        ax.set_aspect("equal")
    axes[0].set_ylabel(f"predicted {_REFLECTANCE}")
    if mappable is not None:
        fig.colorbar(mappable, ax=list(axes), label="values per hexagon", shrink=0.85)
    line = Line2D([], [], color="black", linestyle="--", linewidth=1, label="1:1")
    fig.legend(handles=[line], loc="outside lower right")
    fig.suptitle(title or f"Predicted against observed ({_band_text(band)})")
    return fig


def plot_calibration(
    values: pd.DataFrame,
    k: Sequence[float] = CALIBRATION_K,
    band: str | None = None,
    title: str | None = None,
) -> Any:
    """Calibration of σ: the share of errors within ±kσ against k, and the Gaussian ideal.

    Parameters
    ----------
    values : pandas.DataFrame
        The values kept by ``evaluate(..., keep_values=True)`` (:data:`VALUE_COLUMNS`).
    k : sequence of float, default 0, 0.1, …, 3
        Multiples of σ (:func:`calibration_table`).
    band : str, optional
        One band; default every band pooled.
    title : str, optional
        The figure's title; default says what is drawn.

    Returns
    -------
    matplotlib.figure.Figure
        One axes: a line per method that gives σ (methods without σ are left out) and
        the Gaussian ideal erf(k/√2) dashed in black; above the ideal, σ is too wide;
        below, too narrow. The legend is outside the data, on the right.

    Raises
    ------
    MissingVariableError
        When no method of ``values`` gives σ (e.g. only ``"linear"``).

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from stori_xr.datasets import make_scene
    >>> from stori_xr.evaluate import evaluate
    >>> scene = make_scene(16, 16, periods=20, seed=0)
    >>> table, values = evaluate(
    ...     scene.optical, scene.sar, methods=["kernel"], seeds=[0], keep_values=True
    ... )
    >>> fig = plot_calibration(values)
    >>> fig.axes[0].get_legend_handles_labels()[1]
    ['Gaussian ideal', 'kernel']
    """
    import matplotlib.pyplot as plt

    table = calibration_table(values, k, band)
    if not len(table):
        raise MissingVariableError(
            f"none of the methods {_methods(values)} gives σ (<band>_sigma), so there is no "
            "calibration to draw: evaluate a method with σ, such as kernel."
        )
    fig, ax = plt.subplots(figsize=(6.8, 4.2), layout="constrained")
    first = table[table["method"] == table["method"].iloc[0]]
    ax.plot(first["k"], first["ideal"], color="black", linestyle="--", label="Gaussian ideal")
    colours = {m: f"C{k}" for k, m in enumerate(_methods(values))}  # as in plot_gap_error
    for method, rows in table.groupby("method", sort=False):
        ax.plot(rows["k"], rows["within"], color=colours[method], label=str(method))
    for kv in (1.0, 2.0):
        ax.axvline(kv, color="0.85", linewidth=0.8, zorder=0)
    ax.set_xlim(0, float(table["k"].max()) or 1.0)
    ax.set_ylim(0, 1.0)
    ax.set_xlabel("k: |estimate − truth| in multiples of the method's σ")
    ax.set_ylabel("share of hidden values within ±kσ")
    ax.set_title(title or f"Calibration of σ ({_band_text(band)})")
    fig.legend(loc="outside right upper")
    return fig


def _jsonable(value: Any) -> Any:
    """A value JSON writes: NaN and infinities as null, numpy scalars as Python ones."""
    if isinstance(value, float | np.floating):
        return float(value) if np.isfinite(value) else None
    if isinstance(value, np.integer | np.bool_):
        return value.item()
    return value


def _records(table: pd.DataFrame) -> list[dict[str, Any]]:
    return [{str(k): _jsonable(v) for k, v in row.items()} for row in table.to_dict("records")]


def write_summary(
    table: pd.DataFrame,
    path: str | os.PathLike[str],
    values: pd.DataFrame | None = None,
    **about: Any,
) -> Path:
    """Write an evaluation's summary (and the numbers behind its plots) as JSON.

    Parameters
    ----------
    table : pandas.DataFrame
        The table of scores of :func:`~stori_xr.evaluate.evaluate` (or several, with
        added text columns such as ``scene`` and ``protocol``).
    path : str or path-like
        The JSON file to write (replaced if it exists).
    values : pandas.DataFrame, optional
        The kept values: adds ``gap_error`` (:func:`gap_error_table`) and
        ``calibration`` (:func:`calibration_table`), all bands pooled.
    **about
        More entries of the top-level object (e.g. ``methods=[...]``).

    Returns
    -------
    pathlib.Path
        The file written. It holds one object: ``stori_xr`` (the version), the
        ``about`` entries, and ``summary``: the rows of
        :func:`~stori_xr.evaluate.summarise` (the mean over the seeds of every method,
        split, part, band and gap class) as objects keyed by column; NaN is written as
        ``null``.

    Examples
    --------
    >>> import json, tempfile, pathlib
    >>> from stori_xr.datasets import make_scene
    >>> from stori_xr.evaluate import evaluate
    >>> scene = make_scene(16, 16, periods=20, seed=0)
    >>> table = evaluate(scene.optical, methods=["linear"], seeds=[0])
    >>> path = write_summary(table, pathlib.Path(tempfile.mkdtemp()) / "summary.json")
    >>> sorted(json.loads(path.read_text()))
    ['stori_xr', 'summary']
    """
    from stori_xr import __version__

    path = Path(path)
    doc: dict[str, Any] = {"stori_xr": __version__}
    doc.update({k: _jsonable(v) for k, v in about.items()})
    doc["summary"] = _records(summarise(table))
    if values is not None:
        doc["gap_error"] = _records(gap_error_table(values))
        doc["calibration"] = _records(calibration_table(values))
    path.write_text(json.dumps(doc, indent=1, allow_nan=False) + "\n")
    return path


def write_plots(
    values: pd.DataFrame,
    folder: str | os.PathLike[str],
    table: pd.DataFrame | None = None,
    prefix: str = "",
    dpi: int = 120,
    about: Mapping[str, Any] | None = None,
) -> dict[str, Path]:
    """Write the evaluation's three figures (and its JSON summary) into a folder.

    Parameters
    ----------
    values : pandas.DataFrame
        The values kept by ``evaluate(..., keep_values=True)`` (:data:`VALUE_COLUMNS`).
    folder : str or path-like
        Where to write; created if missing. Files of the same names are replaced.
    table : pandas.DataFrame, optional
        The table of scores: ``summary.json`` (:func:`write_summary`) is written too.
    prefix : str, default ""
        Put before every file name (``stori evaluate`` writes ``<scene>-<protocol>-``).
    dpi : int, default 120
        Resolution of the PNGs.
    about : mapping, optional
        More entries of the JSON's top-level object.

    Returns
    -------
    dict of str to pathlib.Path
        The files written, by kind: ``"gap_error"`` (:func:`plot_gap_error`),
        ``"predicted_observed"`` (:func:`plot_predicted_observed`), ``"calibration"``
        (:func:`plot_calibration`; only when a method gives σ) and ``"summary"`` (with
        ``table``).

    Raises
    ------
    OptionError
        When ``folder`` is a file.

    Examples
    --------
    >>> import tempfile
    >>> from stori_xr.datasets import make_scene
    >>> from stori_xr.evaluate import evaluate
    >>> scene = make_scene(16, 16, periods=20, seed=0)
    >>> table, values = evaluate(scene.optical, methods=["linear"], seeds=[0], keep_values=True)
    >>> sorted(write_plots(values, tempfile.mkdtemp(), table))
    ['gap_error', 'predicted_observed', 'summary']
    """
    import matplotlib.pyplot as plt

    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise OptionError(f"{str(folder)!r} is a file: give a folder for the plots.")
    folder.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    figures = {"gap_error": plot_gap_error, "predicted_observed": plot_predicted_observed}
    if len(calibration_table(values, k=[1.0])):
        figures["calibration"] = plot_calibration
    for kind, draw in figures.items():
        fig = draw(values)
        path = folder / f"{prefix}{PLOT_FILES[kind]}"
        try:
            fig.savefig(path, dpi=dpi)
        finally:
            plt.close(fig)
        written[kind] = path
    if table is not None:
        path = folder / f"{prefix}{PLOT_FILES['summary']}"
        written["summary"] = write_summary(table, path, values, **dict(about or {}))
    return written
