"""Summaries and printed tables of an evaluation's long table.

:func:`summarise` averages the rows of :func:`stori_xr.evaluate.evaluate` over the
seeds; :func:`format_table` prints one row per method, like the design's table;
:func:`format_split` prints one split (:data:`stori_xr.evaluate.splits.SPLITS`): for
each part, its share of the hidden values and every method's scores on it;
:func:`format_against_best` prints one method's RMSE over the best other method's,
pooled over the seeds, for every value and each part of the ``"neighbour"`` split.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from stori_xr.evaluate.metrics import ALL_BANDS, GAP_CLASSES
from stori_xr.evaluate.splits import SPLITS
from stori_xr.exceptions import OptionError

__all__ = ["format_against_best", "format_split", "format_table", "summarise"]

#: The columns that name a row of the long table, in this order, where present.
KEYS = ("method", "split", "part", "band", "gap")


def summarise(table: pd.DataFrame) -> pd.DataFrame:
    """Average the rows of :func:`~stori_xr.evaluate.evaluate` over the seeds.

    Parameters
    ----------
    table : pandas.DataFrame
        The table of :func:`~stori_xr.evaluate.evaluate`. Its text columns
        (``method``, ``split``, ``part``, ``band``, ``gap``, and any added one such as
        ``patch``) name the rows; the numeric ones are averaged.

    Returns
    -------
    pandas.DataFrame
        One row per method, split, part, band and gap class (in the order of
        ``table``): the mean over seeds of every numeric column, except ``share``
        (summed over the seeds and divided by their number: a part absent from a
        seed counts as 0 there); ``rmse_sd`` (standard deviation of the RMSE over
        the seeds, NaN with one seed) and ``seeds`` (the seeds with that row).
    """
    is_number = pd.api.types.is_numeric_dtype
    text = [c for c in table.columns if c != "seed" and not is_number(table[c])]
    keys = [k for k in KEYS if k in text] + [c for c in text if c not in KEYS]
    numeric = [c for c in table.columns if c not in (*keys, "seed")]
    grouped = table.groupby(keys, sort=False, dropna=False)
    out = grouped[numeric].mean()
    seeds = table["seed"].nunique() if "seed" in table else 1
    if "share" in out:
        out["share"] = grouped["share"].sum() / seeds
    out["rmse_sd"] = grouped["rmse"].std()
    out["seeds"] = grouped["seed"].nunique() if "seed" in table else 1
    return out.reset_index()


def format_table(summary: pd.DataFrame, band: str = ALL_BANDS, title: str | None = None) -> str:
    """A readable text table of a summary: one row per method.

    Parameters
    ----------
    summary : pandas.DataFrame
        The result of :func:`summarise`; a table of
        :func:`~stori_xr.evaluate.evaluate` (with a ``seed`` column) is summarised
        first. Only the rows of every hidden value are shown (split ``"all"``).
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
    rows = _rows(summary, band, "all")
    spread = _spread(rows)
    head = ["method", *_rmse_head(spread), "MAE", "bias", "R2", "SAM deg", "<=1sig", "<=2sig"]
    head += ["s/run"] if "seconds" in rows else []
    body = []
    for method, group in rows.groupby("method", sort=False):
        by = group.set_index("gap")
        every = by.loc["all"]
        cells = [str(method), *_rmse_cells(by, spread)]
        cells += [_fmt(every["mae"]), _fmt(every["bias"], signed=True), _fmt(every["r2"], 2)]
        cells += [_fmt(every["sam"], 2)]
        cells += [_fmt(every["within_1sigma"], 2), _fmt(every["within_2sigma"], 2)]
        cells += [_fmt(every["seconds"], 2)] if "seconds" in rows else []
        body.append(cells)
    if len(rows):
        first = rows[rows.method == rows.method.iloc[0]].set_index("gap")
        counts = _count_cells(first, spread)
        body.append(["n scored", *counts] + [""] * (len(head) - 1 - len(counts)))
    return _render(head, body, title)


def format_split(
    summary: pd.DataFrame, split: str, band: str = ALL_BANDS, title: str | None = None
) -> str:
    """A readable text table of one split: every method's scores on each part.

    Parameters
    ----------
    summary : pandas.DataFrame
        The result of :func:`summarise` (or a table of
        :func:`~stori_xr.evaluate.evaluate`, summarised first), made with that split.
    split : str
        ``"neighbour"`` or ``"source"`` (:data:`~stori_xr.evaluate.splits.SPLITS`).
    band : str, default "all bands"
        The rows to show, as for :func:`format_table`.
    title : str, optional
        A first line; default the split's description.

    Returns
    -------
    str
        One row per part and method. Columns: ``part``; ``share``, the part's share
        of the hidden pixel-dates (on the part's first row); ``method``; RMSE for the
        part's hidden values (``sd`` over the seeds when there are several) and per
        gap class; ``x best other``, the method's RMSE divided by the lowest RMSE of
        the other methods on the same part; bias; the shares of errors inside ±1σ
        and ±2σ; and ``n scored``, the values scored (mean over the seeds).

    Raises
    ------
    OptionError
        When ``split`` is not a split, or ``summary`` has no rows of it.
    """
    if split not in SPLITS:
        raise OptionError(f"split={split!r} is not a split; give one of {sorted(SPLITS)}.")
    rows = _rows(summary, band, split)
    if not len(rows):
        raise OptionError(
            f"the table has no rows of the {split!r} split: evaluate with splits=[{split!r}]."
        )
    spread = _spread(rows)
    head = ["part", "share", "method", *_rmse_head(spread), "x best other", "bias"]
    head += ["<=1sig", "<=2sig", "n scored"]
    body = []
    for part, group in rows.groupby("part", sort=False):
        every = group[group.gap == "all"].set_index("method")
        for k, (method, rows_m) in enumerate(group.groupby("method", sort=False)):
            by = rows_m.set_index("gap")
            one = by.loc["all"]
            others = every.rmse.drop(method)
            best = others.min() if others.notna().any() else np.nan
            cells = [str(part) if k == 0 else "", _fmt(one["share"], 2) if k == 0 else ""]
            cells += [str(method), *_rmse_cells(by, spread)]
            cells += [_fmt(one["rmse"] / best, 2), _fmt(one["bias"], signed=True)]
            cells += [_fmt(one["within_1sigma"], 2), _fmt(one["within_2sigma"], 2)]
            cells += [f"{one['n']:.0f}"]
            body.append(cells)
    return _render(head, body, SPLITS[split] if title is None else title, left=(0, 2))


def format_against_best(table: pd.DataFrame, method: str = "stori", band: str = ALL_BANDS) -> str:
    """One method's RMSE over the best other method's, pooled over the seeds.

    Parameters
    ----------
    table : pandas.DataFrame
        The table of :func:`~stori_xr.evaluate.evaluate`, one row per seed (every row
        is pooled: give the table of one scene and protocol). With the rows of the
        ``"neighbour"`` split (``evaluate(..., splits=["neighbour"])``), its parts get a
        line each.
    method : str, default "stori"
        The method to compare with the others of the table.
    band : str, default "all bands"
        The rows to compare, as for :func:`format_table`.

    Returns
    -------
    str
        A title line, then one line for every hidden value (``all values``) and, with
        the ``"neighbour"`` split, one for each of its parts (``neighbour clear: yes``
        and ``no``). Each line has, per gap class, ``method``'s RMSE divided by the
        lowest RMSE of the other methods, and which method that is; ``-`` where
        ``method`` or every other method scored no value. A method's RMSE is pooled
        over the rows with values scored: the square root of the mean of the rows'
        mean squares weighted by their counts, ``sqrt(sum(n * rmse**2) / sum(n))``.

    Raises
    ------
    OptionError
        When ``method`` has no rows in ``table``.

    Examples
    --------
    >>> import pandas as pd
    >>> table = pd.DataFrame(
    ...     {
    ...         "method": ["stori", "stori", "linear", "linear"],
    ...         "seed": [0, 1, 0, 1],
    ...         "band": "all bands",
    ...         "gap": "all",
    ...         "n": [100, 300, 100, 300],
    ...         "rmse": [0.02, 0.04, 0.05, 0.05],
    ...     }
    ... )
    >>> print(format_against_best(table))
    stori against the best other method (RMSE ratio, pooled over seeds):
      all values             all 0.721x (linear)  <=15d -  15-45d -  >45d -
    """
    if method not in set(table["method"]):
        raise OptionError(
            f"method={method!r} has no rows in the table; give one of "
            f"{sorted(set(table['method']))}."
        )
    rows = table[(table["band"] == band) & (table["n"] > 0)]
    split = rows["split"] if "split" in rows else pd.Series("all", index=rows.index)
    part = rows["part"] if "part" in rows else pd.Series("all", index=rows.index)
    parts = [("all", "all", "all values")]
    if "split" in table and (table["split"] == "neighbour").any():
        parts += [("neighbour", p, f"neighbour clear: {p}") for p in ("yes", "no")]
    lines = [f"{method} against the best other method (RMSE ratio, pooled over seeds):"]
    for name, value, label in parts:
        chosen = rows[(split == name) & (part == value)]
        cells = []
        for gap in GAP_CLASSES:
            rmse = _pooled_rmse(chosen[chosen["gap"] == gap])
            others = rmse.drop(method, errors="ignore")
            if method not in rmse or others.empty:
                cells.append(f"{gap} -")
                continue
            cells.append(f"{gap} {rmse[method] / others.min():.3f}x ({others.idxmin()})")
        lines.append(f"  {label:22s} " + "  ".join(cells))
    return "\n".join(lines)


def _rows(summary: pd.DataFrame, band: str, split: str) -> pd.DataFrame:
    """The summary's rows of one band and split (a table without splits is all "all")."""
    if "seed" in summary.columns:
        summary = summarise(summary)
    rows = summary[summary.band == band]
    if "split" in rows:
        return rows[rows.split == split]
    return rows if split == "all" else rows.iloc[:0]


def _pooled_rmse(rows: pd.DataFrame) -> pd.Series:
    """Each method's RMSE over its rows: ``sqrt(sum(n * rmse**2) / sum(n))``."""
    weighted = (rows["n"] * rows["rmse"] ** 2).groupby(rows["method"], sort=False).sum()
    return np.sqrt(weighted / rows.groupby("method", sort=False)["n"].sum())


def _spread(rows: pd.DataFrame) -> bool:
    """Whether to show the RMSE's standard deviation over the seeds."""
    return "rmse_sd" in rows and bool(rows["rmse_sd"].notna().any())


def _rmse_head(spread: bool) -> list[str]:
    classes = list(GAP_CLASSES)
    return ["RMSE all", *(["sd"] if spread else []), *classes[1:]]


def _rmse_cells(by_gap: pd.DataFrame, spread: bool) -> list[str]:
    """RMSE of every gap class (and its spread over the seeds) of one method's rows."""
    rmse = [_fmt(by_gap.loc[g, "rmse"] if g in by_gap.index else np.nan) for g in GAP_CLASSES]
    return rmse[:1] + ([_fmt(by_gap.loc["all", "rmse_sd"])] if spread else []) + rmse[1:]


def _count_cells(by_gap: pd.DataFrame, spread: bool) -> list[str]:
    """Values scored per gap class, aligned with :func:`_rmse_cells`."""
    counts = [f"{by_gap.loc[g, 'n']:.0f}" if g in by_gap.index else "-" for g in GAP_CLASSES]
    return counts[:1] + ([""] if spread else []) + counts[1:]


def _render(
    head: list[str], body: list[list[str]], title: str | None, left: Sequence[int] = (0,)
) -> str:
    """Lines of a table: ``title``, the head, a rule, the body; ``left`` columns left-aligned."""
    widths = [max(len(r[i]) for r in [head, *body]) for i in range(len(head))]
    lines = [] if title is None else [title]
    lines.append(_row(head, widths, left))
    lines.append("-" * len(lines[-1]))
    lines += [_row(cells, widths, left) for cells in body]
    return "\n".join(lines)


def _row(cells: Sequence[str], widths: Sequence[int], left: Sequence[int]) -> str:
    """Cells padded to their widths: the ``left`` ones left-aligned, the others right."""
    padded = (
        c.ljust(w) if i in left else c.rjust(w)
        for i, (c, w) in enumerate(zip(cells, widths, strict=True))
    )
    return "  ".join(padded).rstrip()


def _fmt(value: float, digits: int = 3, signed: bool = False) -> str:
    if value is None or not np.isfinite(value):
        return "-"
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"
