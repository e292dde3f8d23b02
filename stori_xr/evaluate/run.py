"""The evaluation driver: hide, reconstruct with every method, score, split.

:func:`evaluate` runs the whole protocol of the design ("How we know it works") on one
scene, for several seeds, and returns one long table. Library code computes eagerly here
only because the user asked for an evaluation; inputs are never modified.
"""

from __future__ import annotations

import os
import time
from collections.abc import Hashable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from stori_xr import fill, validate
from stori_xr.dates import MERGE_WITHIN, to_timedelta_days
from stori_xr.evaluate.masks import Protocol, gap_days, hide_mask, merge_twins, resolve_protocol
from stori_xr.evaluate.metrics import score
from stori_xr.evaluate.plots import VALUE_COLUMNS, write_plots
from stori_xr.evaluate.splits import SPLITS, neighbour_parts, source_parts
from stori_xr.exceptions import DataFormatError, MissingVariableError, OptionError
from stori_xr.kernels.stori import DEFAULTS as KERNEL_DEFAULTS

__all__ = ["evaluate"]

#: The method whose ``stori_source`` flags make the ``"source"`` split.
FLAG_METHOD = "kernel"


def evaluate(
    optical: xr.Dataset | xr.DataArray,
    sar: xr.Dataset | None = None,
    *,
    methods: Sequence[str] = ("kernel", "linear", "whittaker", "sar-regression"),
    seeds: Sequence[int] = (0, 1, 2),
    protocol: str | Protocol = "partial",
    splits: Sequence[str] = (),
    neighbour_radius: int | None = None,
    bands: Sequence[str] | None = None,
    clear: xr.DataArray | str | None = None,
    time_dim: Hashable | None = None,
    hide: Mapping[str, Any] | None = None,
    method_options: Mapping[str, Mapping[str, Any]] | None = None,
    keep_values: bool = False,
    plots: str | os.PathLike[str] | None = None,
    max_gap: str | float | None = None,
    tolerance: str | float = "12D",
    sar_units: str | None = None,
    valid_range: fill.ValidRange = fill.VALID_RANGE,
) -> pd.DataFrame | tuple[pd.DataFrame, pd.DataFrame]:
    """Hide real clear values, reconstruct them with each method, and score them.

    For each seed, :func:`~stori_xr.evaluate.hide_mask` chooses the values to hide
    under ``protocol``; a copy of the input has them set to NaN and not clear; every
    method runs on that same copy through :func:`stori_xr.fill.interpolate` (on the
    optical dates), so no method ever sees a hidden value; the hidden values are
    scored by :func:`~stori_xr.evaluate.score`, split by gap length
    (:func:`~stori_xr.evaluate.gap_days`) and, when asked, by each of ``splits``.

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
    protocol : str or Protocol, default "partial"
        How values are hidden (:data:`~stori_xr.evaluate.PROTOCOLS`): ``"partial"``
        (partly cloudy masks and partial windows: most hidden values keep clear
        neighbours) or ``"whole"`` (whole dates and whole-scene windows too).
    splits : sequence of str, default ()
        Splits of every method's error besides the gap length
        (:data:`~stori_xr.evaluate.SPLITS`): ``"neighbour"`` (a neighbour within
        ``neighbour_radius`` is clear on that date after hiding: yes / no) and
        ``"source"`` (the kernel's ``stori_source`` flag of the same value; the
        kernel runs once more per seed for its flags when it is not among
        ``methods``, with ``method_options["kernel"]``, and is not scored then).
        None by default, so the table keeps the rows of earlier versions.
    neighbour_radius : int, optional
        Radius in pixels of the ``"neighbour"`` split; default the kernel's search
        radius (``method_options["kernel"]["radius"]``, else
        ``stori_xr.kernels.stori.DEFAULTS["radius"]``).
    bands : sequence of str, optional
        Bands to score; default: every band variable.
    clear : DataArray or str, optional
        Boolean mask (True = usable) or the name of such a variable of ``optical``.
    time_dim : hashable, optional
        The time dimension, when it cannot be found as the one datetime dim.
    hide : mapping, optional
        Rules of the protocol to replace (keywords of
        :func:`~stori_xr.evaluate.hide_mask`: ``n_windows``, ``window_days``, …).
    method_options : mapping of str to mapping, optional
        Options of single methods, e.g. ``{"whittaker": {"lmbda": 1e3}}``.
    keep_values : bool, default False
        Also return every hidden value's truth, estimate and σ per method (the rows
        the plots of :mod:`~stori_xr.evaluate.plots` draw).
    plots : str or path-like, optional
        A folder (created if missing) to write the evaluation's figures and summary
        into, with :func:`~stori_xr.evaluate.write_plots`: ``gap_error.png`` (RMSE
        against gap length per method), ``predicted_observed.png`` (estimate against
        truth, 1:1 line, R²), ``calibration.png`` (share of errors within ±kσ against
        k, beside the Gaussian ideal; only when a method gives σ) and
        ``summary.json`` (the table averaged over the seeds and the numbers behind the
        plots).
    max_gap, tolerance, sar_units, valid_range
        As for :func:`stori_xr.fill.interpolate`, given to every method.

    Returns
    -------
    pandas.DataFrame
        The rows of :func:`~stori_xr.evaluate.score` for every method and seed, and
        for every part of every split, with columns ``seed``; ``split`` and ``part``
        (``"all"`` and ``"all"`` for every hidden value; ``"neighbour"`` and
        ``"yes"``/``"no"``; ``"source"`` and a flag meaning); ``share`` (the part's
        share of the seed's hidden pixel-dates); ``seconds`` (wall time of the
        method on this seed, computing included) and ``n_hidden`` (pixel-dates
        hidden by this seed). Within a split, the parts' ``n`` and ``n_missing``
        add up to those of the ``"all"`` rows.
    values : pandas.DataFrame
        Only with ``keep_values=True``, returned as ``(table, values)``: one row per
        seed, method, band and hidden value (:data:`~stori_xr.evaluate.VALUE_COLUMNS`):
        ``seed``; ``method`` and ``band`` (categorical); ``time``, ``y``, ``x`` (the
        value's coordinates, or positions along dims without one); ``gap_days``
        (:func:`~stori_xr.evaluate.gap_days`, the table's gap length); ``truth``,
        ``estimate`` and ``sigma`` (NaN where the method gives none). The RMSE of a
        method's rows with a finite estimate is the table's ``rmse`` of that seed, band
        and gap class ``"all"``.

    Raises
    ------
    stori_xr.fill.MethodError
        When a method is not registered (the message lists the registered ones).
    MissingVariableError
        When a method needs SAR and ``sar`` is None, or a band is missing.
    OptionError
        For bad seeds, an unknown protocol, rule or split, or ``plots`` naming a file.

    Examples
    --------
    >>> from stori_xr.datasets import make_scene
    >>> scene = make_scene(12, 12, periods=40, seed=3)
    >>> table = evaluate(scene.optical, scene.sar, methods=["linear"], seeds=[0])
    >>> sorted(table.gap.unique())
    ['15-45d', '<=15d', '>45d', 'all']
    >>> table = evaluate(
    ...     scene.optical, methods=["linear"], seeds=[0], protocol="whole", splits=["neighbour"]
    ... )
    >>> sorted(table.part.unique())
    ['all', 'no', 'yes']

    Keep the hidden values, or write the plots and the JSON summary into a folder:

    >>> import os, tempfile
    >>> table, values = evaluate(scene.optical, methods=["linear"], seeds=[0], keep_values=True)
    >>> list(values.columns[:3])
    ['seed', 'method', 'band']
    >>> folder = tempfile.mkdtemp()
    >>> table = evaluate(scene.optical, scene.sar, methods=["kernel"], seeds=[0], plots=folder)
    >>> sorted(os.listdir(folder))
    ['calibration.png', 'gap_error.png', 'predicted_observed.png', 'summary.json']
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
    splits = [splits] if isinstance(splits, str) else list(dict.fromkeys(splits))
    unknown = [s for s in splits if s not in SPLITS]
    if unknown:
        raise OptionError(
            f"splits={splits!r}: {unknown} are not splits; give some of {sorted(SPLITS)}."
        )
    rules = resolve_protocol(protocol, **dict(hide or {}))
    if plots is not None and Path(plots).exists() and not Path(plots).is_dir():
        raise OptionError(f"plots={str(plots)!r} is a file: give a folder for the plots.")
    keep = keep_values or plots is not None
    method_options = dict(method_options or {})
    if neighbour_radius is None:
        kernel_options = method_options.get(FLAG_METHOD, {})
        neighbour_radius = kernel_options.get("radius", KERNEL_DEFAULTS["radius"])
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

    def run(method: str, masked: xr.Dataset) -> tuple[xr.Dataset, float]:
        start = time.perf_counter()
        out = fill.interpolate(
            masked,
            sar,
            times=None,
            method=method,
            bands=names,
            clear="clear",
            time_dim=tdim,
            max_gap=max_gap,
            tolerance=tolerance,
            sar_units=sar_units,
            valid_range=valid_range,
            **dict(method_options.get(method, {})),
        ).compute()
        seconds = time.perf_counter() - start
        # acquisitions seconds apart come back merged (and were hidden together):
        # each one is scored against its merged date's estimate
        out = out.reindex(
            {tdim: times},
            method="nearest",
            tolerance=np.timedelta64(int(to_timedelta_days(MERGE_WITHIN) * 86400), "s"),
        )
        return out, seconds

    tables = []
    kept: list[dict[str, np.ndarray]] = []
    positions = [ds[d].values if d in ds.coords else np.arange(ds.sizes[d]) for d in order]
    for seed in seeds:
        hidden = hide_mask(usable0, times, seed=seed, protocol=rules)
        usable = usable0 & ~hidden
        gap = gap_days(usable, times)
        shown = xr.DataArray(~hidden, dims=order, coords=grid)
        masked = xr.Dataset(
            {b: ds[b].where(shown) for b in names}, coords=ds.coords, attrs=ds.attrs
        )
        masked["clear"] = xr.DataArray(usable, dims=order, coords=grid)
        if chunks:
            masked["clear"] = masked["clear"].chunk(chunks)
        parts: dict[str, dict[str, np.ndarray]] = {"all": {"all": np.ones_like(hidden)}}
        if "neighbour" in splits:
            merged = merge_twins(usable, times, MERGE_WITHIN)  # the methods merge twins
            parts["neighbour"] = neighbour_parts(merged, neighbour_radius)
        runs = {}
        if "source" in splits:
            runs[FLAG_METHOD] = run(FLAG_METHOD, masked)
            flags = _stack(runs[FLAG_METHOD][0], ["stori_source"], order, (1, *hidden.shape))
            parts["source"] = source_parts(flags[0], hidden)
        for method in methods:
            out, seconds = runs[method] if method in runs else run(method, masked)
            est = _stack(out, names, order, truth.shape)
            sig = _stack(out, [f"{b}_sigma" for b in names], order, truth.shape)
            if keep:
                kept.append(_kept(seed, method, names, truth, est, sig, hidden, gap, positions))
            for split, masks in parts.items():
                for part, mask in masks.items():
                    table = score(truth, est, sig, hidden & mask, gap, names, method=method)
                    table.insert(1, "seed", seed)
                    table.insert(2, "split", split)
                    table.insert(3, "part", part)
                    table.insert(4, "share", (hidden & mask).sum() / max(hidden.sum(), 1))
                    table["seconds"] = seconds
                    table["n_hidden"] = int(hidden.sum())
                    tables.append(table)
    table = pd.concat(tables, ignore_index=True)
    if not keep:
        return table
    values = _values(kept, methods, names)
    if plots is not None:
        about = {"methods": methods, "seeds": [int(s) for s in seeds], "bands": list(names)}
        about["protocol"] = rules.name
        write_plots(values, plots, table, about=about)
    return (table, values) if keep_values else table


def _kept(
    seed: int,
    method: str,
    names: Sequence[str],
    truth: np.ndarray,
    est: np.ndarray,
    sig: np.ndarray,
    hidden: np.ndarray,
    gap: np.ndarray,
    positions: Sequence[np.ndarray],
) -> dict[str, np.ndarray]:
    """One method's hidden values of one seed, band after band, as columns."""
    where = np.nonzero(hidden)
    n, nb = where[0].size, len(names)
    axes = zip(("time", "y", "x"), positions, where, strict=True)
    coords = {name: np.tile(p[i], nb) for name, p, i in axes}
    return {
        "seed": np.full(n * nb, seed, dtype=np.int64),
        "method": np.full(n * nb, method, dtype=object),
        "band": np.repeat(np.asarray(names, dtype=object), n),
        **coords,
        "gap_days": np.tile(gap[where], nb),
        "truth": truth[(slice(None), *where)].ravel(),
        "estimate": est[(slice(None), *where)].ravel(),
        "sigma": sig[(slice(None), *where)].ravel(),
    }


def _values(
    kept: list[dict[str, np.ndarray]], methods: Sequence[str], names: Sequence[str]
) -> pd.DataFrame:
    """The kept values as one table of :data:`VALUE_COLUMNS`."""
    values = pd.DataFrame({c: np.concatenate([k[c] for k in kept]) for c in VALUE_COLUMNS})
    values["method"] = pd.Categorical(values["method"], categories=list(dict.fromkeys(methods)))
    values["band"] = pd.Categorical(values["band"], categories=list(names))
    return values


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
