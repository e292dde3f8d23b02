"""Gap filling: the xarray glue around the kernels (``opt.stori.interpolate``).

One function, :func:`interpolate`, aligns SAR and optical with
:func:`stori_xr.align.align`, then runs the method's block function tile by tile
(:mod:`stori_xr.blocks`: one dask layer per operation, with a halo of neighbouring
pixels when the method looks at neighbours, so results do not depend on the
chunking; numpy input through the same path) and assembles the output: the bands on
the target dates, ``<band>_sigma`` and ``stori_source``.

The methods are registered in :data:`METHODS`; each is a :class:`Method` whose
block function maps numpy blocks ``values (nb, ny, nx, nt)``, ``clear (ny, nx,
nt)``, ``sar (nf, ny, nx, nt)`` to ``(values, sigma, source)`` on the output dates,
shaped ``(nb, m, ny, nx)`` and ``(m, ny, nx)`` (dates before pixels, as in the
output cubes). A method that learns also has a fit hook, run eagerly on a sample of the
aligned target before the graph is built (:class:`PixelSample`; the one eager step of
:func:`interpolate`): it returns the block function's options, such as the fitted
weights as bytes, which travel in the graph to the tasks.
"""

from __future__ import annotations

import functools
import hashlib
import os
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import xarray as xr

from stori_xr import blocks, progress, validate
from stori_xr.align import aligned_parts
from stori_xr.dates import (
    MATCH_WITHIN,
    MAX_EXTRAPOLATION,
    MERGE_WITHIN,
    TimesLike,
    check_extrapolation,
    merged_times,
    nearest_within,
    resolve_times,
    to_days,
    to_timedelta_days,
)
from stori_xr.exceptions import MethodError, MissingVariableError, OptionError
from stori_xr.kernels import baselines, stori, whittaker
from stori_xr.kernels.flags import FLAG_MEANINGS, FLAG_VALUES, NODATA, OBSERVED
from stori_xr.metadata import (
    SUMMARY,
    append_history,
    copy_crs,
    format_call,
    options_record,
    summary,
    value_attrs,
)
from stori_xr.ranker import method as stori_rnn
from stori_xr.ranker import rank_method
from stori_xr.ranker.weights import FittedModel

BlockFunction = Callable[..., tuple[np.ndarray, np.ndarray, np.ndarray]]


class PixelSample:
    """Whole pixel series of the aligned target, read for a method's fit.

    Parameters
    ----------
    bands : sequence of arrays, shape (nt, ny, nx)
        The bands, numpy or dask.
    clear : array of bool, shape (nt, ny, nx), or None
    sar : sequence of arrays, shape (nt, ny, nx), or None
        The SAR features the method reads.
    names, sar_names : sequence of str
        The bands' and the SAR features' names.
    """

    def __init__(self, bands, clear, sar, names, sar_names):
        self.bands, self.clear, self.sar = list(bands), clear, list(sar or ())
        self.names, self.sar_names = tuple(names), tuple(sar_names)

    def windows(
        self, size: int, count: int, seed: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The pixels of ``count`` windows of a grid of ``size`` px, drawn at random.

        The grid starts at the cube's corner, so the windows do not depend on the
        chunking; computing them (dask input) reads only the chunks they touch.

        Returns
        -------
        values : ndarray, shape (nb, npix, nt)
        usable : ndarray of bool, shape (npix, nt)
            Clear and every band finite.
        sar : ndarray, shape (nf, npix, nt)
        """
        nt = self.bands[0].shape[0]
        parts = self._parts(size, count, seed)
        layers = [*self.bands, *self.sar] + ([self.clear] if self.clear is not None else [])
        stacked = [
            np.concatenate([np.asarray(p[k]).reshape(nt, -1) for p in parts], axis=1)
            for k in range(len(layers))
        ]
        nb, nf = len(self.bands), len(self.sar)
        values = np.stack(stacked[:nb])
        for k, name in enumerate(self.names):
            validate.check_reflectance_block(values[k], name)
        usable = np.isfinite(values).all(axis=0)
        if self.clear is not None:
            usable &= stacked[-1].astype(bool)
        sar = np.stack(stacked[nb : nb + nf]) if nf else np.empty((0, *usable.shape))
        return values.transpose(0, 2, 1), usable.T, sar.transpose(0, 2, 1)

    def reordered(self, order: Sequence[int]) -> PixelSample:
        """The same sample with its bands in ``order`` (indices into :attr:`names`)."""
        bands = [self.bands[i] for i in order]
        names = [self.names[i] for i in order]
        return PixelSample(bands, self.clear, self.sar, names, self.sar_names)

    def _parts(self, size: int, count: int, seed: int) -> list[list[np.ndarray]]:
        """The layers (bands, SAR features, mask) of ``count`` random windows, computed."""
        import dask

        _, ny, nx = self.bands[0].shape
        cells = [(y, x) for y in range(0, ny, size) for x in range(0, nx, size)]
        rng = np.random.default_rng(seed)
        picked = np.sort(rng.choice(len(cells), size=min(count, len(cells)), replace=False))
        layers = [*self.bands, *self.sar] + ([self.clear] if self.clear is not None else [])
        parts = [
            [a[:, y : y + size, x : x + size] for a in layers]
            for y, x in (cells[i] for i in picked)
        ]
        (parts,) = dask.compute(parts)
        return [[np.asarray(a) for a in p] for p in parts]

    def blocks(
        self, size: int, count: int, seed: int
    ) -> list[tuple[np.ndarray, np.ndarray, np.ndarray | None]]:
        """``count`` windows of a grid of ``size`` px, drawn at random, whole.

        As :meth:`windows`, but each window keeps its pixels in place, in the layout of
        the block functions: ``values (nb, ny, nx, nt)``, ``usable (ny, nx, nt)`` (clear
        and every band finite), ``sar (nf, ny, nx, nt)`` or None.
        """
        nb, nf = len(self.bands), len(self.sar)
        out = []
        for p in self._parts(size, count, seed):
            values = np.stack(p[:nb]).transpose(0, 2, 3, 1)
            for k, name in enumerate(self.names):
                validate.check_reflectance_block(values[k], name)
            usable = np.isfinite(values).all(axis=0)
            if self.clear is not None:
                usable &= p[-1].astype(bool).transpose(1, 2, 0)
            sar = np.stack(p[nb : nb + nf]).transpose(0, 2, 3, 1) if nf else None
            out.append((values, usable, sar))
        return out


#: A fit hook: ``fit(sample, t, options) -> options of the block function``.
FitFunction = Callable[[PixelSample, np.ndarray, dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class Method:
    """A gap-filling method: its block function and what it needs.

    ``fit``, for a method that learns, runs eagerly in :func:`interpolate` before the
    graph is built, on a :class:`PixelSample` of the aligned target, its dates (days)
    and the method's options; it returns the options the block function gets instead
    of the method's own (e.g. the fitted weights as bytes).

    ``task_extra``, for a method whose tasks hold memory beyond the tile's inputs,
    outputs and the kernel's buffers (:func:`stori_xr.blocks.task_bytes`), gives those
    bytes from the number of bands, of dates and the tile's shape; the check of the
    chunks against the workers' memory counts them.
    """

    name: str
    block: BlockFunction
    needs_sar: bool = False
    sar_features: tuple[str, ...] = ()
    halo_option: str | None = None
    halo_extra: int = 0
    options: tuple[str, ...] = ()
    defaults: dict[str, Any] = field(default_factory=dict)
    check: Callable[[dict[str, Any]], None] | None = None
    fit: FitFunction | None = None
    task_extra: Callable[[int, int, tuple[int, int]], int] | None = None

    def halo(self, options: dict[str, Any]) -> int:
        """Pixels of neighbourhood that one pixel's result depends on."""
        if self.halo_option is None:
            return 0
        radius = int(options.get(self.halo_option, self.defaults[self.halo_option]))
        return radius + self.halo_extra

    def task_extra_bytes(self, nb: int, nt: int, tile: tuple[int, int]) -> int:
        """Memory a task holds beyond what :func:`stori_xr.blocks.task_bytes` counts."""
        return 0 if self.task_extra is None else self.task_extra(nb, nt, tile)


def _per_pixel(fn: Callable[..., tuple[np.ndarray, np.ndarray]], with_sar: bool) -> BlockFunction:
    """Wrap a per-pixel kernel ``(nb, npix, nt) -> (nb, npix, m)`` as a block function."""

    def block(values, clear, sar, t, out_idx, **options):
        nb, ny, nx, nt = values.shape
        args = [values.reshape(nb, ny * nx, nt), clear.reshape(ny * nx, nt)]
        if with_sar:
            args.append(sar.reshape(sar.shape[0], ny * nx, nt))
        out, src = fn(*args, t, out_idx, **options)
        m = out_idx.size
        sigma = np.full((nb, m, ny, nx), np.nan, dtype=values.dtype)
        out = out.reshape(nb, ny, nx, m).transpose(0, 3, 1, 2)
        return out, sigma, src.reshape(ny, nx, m).transpose(2, 0, 1)

    return block


def _whittaker_block(values, clear, sar, t, out_idx, *, lmbda=1e4, order=2, step=1.0):
    nb, ny, nx, nt = values.shape
    masked = np.where(clear[None], values, np.nan).reshape(nb, ny * nx, nt)
    smooth = whittaker.whittaker(masked, t, t[out_idx], lmbda=lmbda, order=order, step=step)
    _, src = baselines.linear(masked[:1], clear.reshape(ny * nx, nt), t, out_idx)
    observed = clear.reshape(ny * nx, nt)[:, out_idx]
    out = np.where(observed[None], masked[:, :, out_idx], smooth)
    m = out_idx.size
    sigma = np.full((nb, m, ny, nx), np.nan, dtype=values.dtype)
    out = out.reshape(nb, ny, nx, m).astype(values.dtype).transpose(0, 3, 1, 2)
    return out, sigma, src.reshape(ny, nx, m).transpose(2, 0, 1)


def _check_whittaker(options: dict[str, Any]) -> None:
    lmbda = options.get("lmbda", 1e4)
    if isinstance(lmbda, str) and lmbda != "gcv":
        raise OptionError(
            f"lmbda={lmbda!r}: give a number (e.g. 1e4) or 'gcv' (an option of "
            "method='whittaker')."
        )


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float | np.integer | np.floating) and not isinstance(
        value, bool | np.timedelta64
    )


def _check_kernel(options: dict[str, Any]) -> None:
    """OptionError for a value out of range or not a number, naming what to give."""

    def refuse(name: str, need: str) -> OptionError:
        return OptionError(f"{name}={opts[name]!r}: give {need} (an option of method='kernel').")

    try:
        stori.enabled_candidates(options.get("candidates", stori.DEFAULTS["candidates"]))
    except ValueError as err:
        text = str(err).rstrip(".")
        raise OptionError(f"{text} (candidates= is an option of method='kernel').") from None
    opts = {**stori.DEFAULTS, **options}
    for name, value in options.items():
        kind = type(stori.DEFAULTS.get(name))
        if kind in (int, float) and not _is_number(value):
            raise refuse(name, f"a number, like the default {stori.DEFAULTS[name]!r}")
    if int(opts["radius"]) < 0:
        raise refuse("radius", "0 or more pixels")
    for name in ("n_similar", "pool", "min_joint"):
        if int(opts[name]) < 1:
            raise refuse(name, "1 or more")
    for name in ("prior_weight", "sar_scale_days", "sigma_scale"):
        if not float(opts[name]) > 0.0:
            raise refuse(name, "a positive number")
    for name in ("prior_s2", "prior_c", "ridge", "rho", "spread_weight", "screen_z"):
        if not float(opts[name]) >= 0.0:
            raise refuse(name, "0 or a positive number")


def _check_stori(options: dict[str, Any]) -> None:
    """The kernel's checks of its options, then the ranker's of its own."""
    _check_kernel({k: v for k, v in options.items() if k in stori.DEFAULTS})
    rank_method.check(options)


METHODS: dict[str, Method] = {
    "linear": Method("linear", _per_pixel(baselines.linear, with_sar=False)),
    "sar-regression": Method(
        "sar-regression",
        _per_pixel(baselines.sar_regression, with_sar=True),
        needs_sar=True,
        sar_features=("VV", "VH", "RVI"),
        options=("ridge",),
    ),
    "whittaker": Method(
        "whittaker",
        _whittaker_block,
        options=("lmbda", "order", "step"),
        check=_check_whittaker,
    ),
    "kernel": Method(
        "kernel",
        stori.stori_fill,
        sar_features=("VV", "VH", "RVI"),
        halo_option="radius",
        halo_extra=1,  # the SAR features are smoothed over 3 x 3 pixels
        options=tuple(stori.DEFAULTS),
        defaults=stori.DEFAULTS,
        check=_check_kernel,
    ),
    "stori": Method(
        "stori",
        rank_method.block,
        sar_features=rank_method.SAR_FEATURES,
        halo_option="radius",
        halo_extra=1,  # as the kernel's: its candidates are computed in the task
        options=tuple(rank_method.DEFAULTS) + tuple(stori.DEFAULTS),
        defaults={**stori.DEFAULTS, **rank_method.DEFAULTS},
        check=_check_stori,
        fit=rank_method.fit,
        task_extra=rank_method.task_extra_bytes,
    ),
    "stori-rnn": Method(
        "stori-rnn",
        stori_rnn.block,
        needs_sar=True,
        sar_features=stori_rnn.SAR_FEATURES,
        options=tuple(stori_rnn.DEFAULTS),
        defaults=stori_rnn.DEFAULTS,
        check=stori_rnn.check,
        fit=stori_rnn.fit,
    ),
}


def register_method(method: Method) -> None:
    """Add a method to :data:`METHODS` (used by the kernel and, later, the ranker)."""
    METHODS[method.name] = method


def _method(name: str, options: dict[str, Any]) -> Method:
    if name not in METHODS:
        raise MethodError(f"method={name!r} is not available; choose one of {sorted(METHODS)}.")
    spec = METHODS[name]
    unknown = sorted(set(options) - set(spec.options))
    if unknown:
        takes = f"its options are {list(spec.options)}" if spec.options else "it takes none"
        raise MethodError(
            f"method={name!r} takes no option {unknown} ({takes}); "
            + "; ".join(_owners(option) for option in unknown)
            + "."
        )
    if spec.check is not None:
        spec.check(options)
    return spec


def _owners(option: str) -> str:
    """Which methods take ``option``, as "lmbda is an option of 'whittaker'"."""
    owners = [repr(m) for m in sorted(METHODS) if option in METHODS[m].options]
    if not owners:
        return f"{option} is an option of no method"
    return f"{option} is an option of {' and '.join(owners)}"


def _time_axis(
    t_opt: np.ndarray, targets: np.ndarray, match_days: float
) -> tuple[np.ndarray, np.ndarray]:
    """The working time axis (optical dates plus unmatched targets) and target indices."""
    near, hit = nearest_within(t_opt, targets, match_days)
    t_all = np.union1d(t_opt, targets[~hit])
    matched = np.where(hit, t_opt[near], targets)
    return t_all, np.searchsorted(t_all, matched)


#: Default range of filled reflectance: a fill is never below 0; its ceiling is 1 or,
#: where the pixel has shown a larger clear value of that band, that value.
VALID_RANGE = (0.0, 1.0)

ValidRange = tuple[float, float] | Mapping[str, tuple[float, float]] | None


def _bounds(valid_range: ValidRange, names: Sequence[str]) -> blocks.Bounds:
    """Per band (low, ceiling) arrays from ``valid_range``; OptionError when it is wrong."""
    if valid_range is None:
        return None
    per_band = (
        valid_range if isinstance(valid_range, Mapping) else dict.fromkeys(names, valid_range)
    )
    missing = [b for b in names if b not in per_band]
    if missing:
        raise OptionError(
            f"valid_range has no range for bands {missing}: give one for every band, or "
            "one (low, high) pair for all."
        )
    lo, hi = [], []
    for b in names:
        pair = per_band[b]
        try:
            low, high = (float(v) for v in pair)
        except (TypeError, ValueError):
            low = high = np.nan
        if not (np.isfinite(low) and np.isfinite(high) and low < high):
            raise OptionError(
                f"valid_range={pair!r} for {b!r} is not a (low, high) pair with low < high; "
                "give e.g. (0.0, 1.0) for reflectance, or valid_range=None for no bounds."
            )
        lo.append(low)
        hi.append(high)
    return np.asarray(lo), np.asarray(hi)


_SOURCE_ATTRS = {
    "long_name": "source of each value",
    "coverage_content_type": "qualityInformation",
    "flag_values": FLAG_VALUES,
    "flag_meanings": FLAG_MEANINGS,
}


@dataclass
class _Prepared:
    """The input of a method, validated, aligned and laid out (see :func:`_prepare`)."""

    ds: xr.Dataset
    was_dataarray: bool
    tdim: Hashable
    names: list[str]
    bounds: Any
    targets: np.ndarray
    t_all: np.ndarray
    out_idx: np.ndarray
    aligned: xr.Dataset
    order: tuple[Hashable, Hashable, Hashable]
    band_arrays: list[Any]
    mask: Any
    sar_arrays: list[Any] | None
    feats: list[str]


def _prepare(
    optical,
    sar,
    times,
    spec: Method,
    *,
    tolerance,
    clear,
    bands,
    time_dim,
    sar_units,
    rechunk,
    with_days,
    valid_range,
) -> _Prepared:
    """Validate and align the input of :func:`interpolate` and :func:`fit`.

    Returns the arrays (time, y, x) a method reads, its dates and the output dates.
    """
    ds, was_dataarray = validate.as_band_dataset(optical)
    tdim = validate.find_time_dim(ds, time_dim)
    validate.check_sorted(ds, tdim, "optical")
    names = validate.select_bands(ds, tdim, bands)
    bounds = _bounds(valid_range, names)
    merged = merged_times(ds[tdim].values, to_timedelta_days(MERGE_WITHIN))
    targets = resolve_times(times, merged)
    match_days = to_timedelta_days(MATCH_WITHIN)
    check_extrapolation(targets, merged, match_days, to_timedelta_days(MAX_EXTRAPOLATION))
    t_all, out_idx = _time_axis(merged, targets, match_days)
    aligned = aligned_parts(
        ds,
        sar if spec.sar_features else None,
        t_all,
        tolerance=tolerance,
        clear=clear,
        bands=bands,
        time_dim=tdim,
        sar_units=sar_units,
        rechunk=rechunk,
        mask_bands=False,  # the methods read the clear mask
        in_tasks=True,  # value checks and finiteness: inside the method's tasks
        with_days=with_days,
        sar_outputs=spec.sar_features,
    )
    ydim, xdim = validate.find_spatial_dims(aligned)
    order = (tdim, ydim, xdim)
    band_arrays = [aligned[b].transpose(*order).data for b in names]
    dtype = np.result_type(*band_arrays)
    if dtype not in (np.float32, np.float64):  # e.g. float16: compute in float32
        dtype = np.float32 if dtype.itemsize <= 4 else np.float64
    band_arrays = [a.astype(dtype, copy=False) for a in band_arrays]
    feats = [f for f in spec.sar_features if f in aligned]
    sar_arrays = [aligned[f].transpose(*order).data for f in feats] if feats else None
    mask = aligned["clear"].transpose(*order).data if "clear" in aligned else None
    return _Prepared(
        ds,
        was_dataarray,
        tdim,
        names,
        bounds,
        targets,
        t_all,
        out_idx,
        aligned,
        order,
        band_arrays,
        mask,
        sar_arrays,
        feats,
    )


class _MethodDefault:
    """The default of a method option in a signature: reads as the value, means "not given".

    Only the options a caller gives reach the method (a method refuses options it does
    not take); the method applies its own default to the others.
    """

    __slots__ = ("value",)

    def __init__(self, value: Any):
        self.value = value

    def __repr__(self) -> str:
        return repr(self.value)


#: The named method options of :func:`interpolate` and :func:`fit`: those of the kernel
#: (:data:`stori_xr.kernels.stori.DEFAULTS`) and of ``method="stori"``
#: (:data:`stori_xr.ranker.rank_method.DEFAULTS`), each default marked "not given".
_OPT = {k: _MethodDefault(v) for k, v in {**stori.DEFAULTS, **rank_method.DEFAULTS}.items()}


def _given(values: Mapping[str, Any], options: Mapping[str, Any]) -> dict[str, Any]:
    """The named method options the caller gave (among ``values``), then ``options``."""
    named = {k: values[k] for k in _OPT if k in values}
    return {**{k: v for k, v in named.items() if not isinstance(v, _MethodDefault)}, **options}


def interpolate(
    optical: xr.Dataset | xr.DataArray,
    sar: xr.Dataset | None = None,
    times: TimesLike = None,
    method: str = "stori",
    *,
    max_gap: str | float | None = None,
    tolerance: str | float = "12D",
    clear: xr.DataArray | str | None = None,
    bands: Sequence[str] | None = None,
    time_dim: Hashable | None = None,
    sar_units: str | None = None,
    rechunk: bool = False,
    valid_range: ValidRange = VALID_RANGE,
    radius: int = _OPT["radius"],
    n_similar: int = _OPT["n_similar"],
    pool: int = _OPT["pool"],
    min_joint: int = _OPT["min_joint"],
    sar_scale_days: float = _OPT["sar_scale_days"],
    ridge: float = _OPT["ridge"],
    screen_z: float = _OPT["screen_z"],
    calibrate: bool = _OPT["calibrate"],
    rho: float = _OPT["rho"],
    sigma_scale: float = _OPT["sigma_scale"],
    spread_weight: float = _OPT["spread_weight"],
    prior_c: float = _OPT["prior_c"],
    prior_s2: float = _OPT["prior_s2"],
    prior_weight: float = _OPT["prior_weight"],
    candidates: Sequence[str] = _OPT["candidates"],
    model: str | os.PathLike | bytes | FittedModel | None = _OPT["model"],
    fit: bool = _OPT["fit"],
    save_model: str | os.PathLike | None = _OPT["save_model"],
    seed: int = _OPT["seed"],
    device: str = _OPT["device"],
    epochs: int | None = _OPT["epochs"],
    maskings: int | None = _OPT["maskings"],
    **options: Any,
) -> xr.Dataset | xr.DataArray:
    """Reconstruct cloud-free reflectance on the target dates.

    Parameters
    ----------
    optical : Dataset or DataArray
        Optical reflectance, as for :func:`stori_xr.align.align`.
    sar : Dataset, optional
        ``VV`` and/or ``VH`` with units; needed by the methods that use SAR.
    times : None, str or sequence of datetimes, optional
        Output dates: the optical dates (default), a frequency (``"5D"``) or a list.
        Dates outside the optical period are extrapolated, with an
        :class:`~stori_xr.exceptions.ExtrapolationWarning`; dates more than 90 days
        outside it (:data:`stori_xr.dates.MAX_EXTRAPOLATION`) are refused.
    method : str, default "stori"
        ``"stori"`` (rank-STORI: the kernel's candidates, a smooth temporal one and a
        SAR regression, ranked by a small pretrained network whose σ is first
        calibrated on a sample of the target, by hiding its clear values — that fit is
        the one eager step, the rest stays lazy; ``epochs=`` also fine-tunes the
        network there; ``fit=False`` uses ``model=``, by default the weights shipped in
        the package, as it is),
        ``"kernel"`` (STORI's numba kernel and its analytic fusion alone), or a
        comparator: ``"linear"``, ``"whittaker"``, ``"sar-regression"``,
        ``"stori-rnn"`` (the published STORI network, fitted on a sample of the target;
        ``model=`` a saved model skips the fit).
    max_gap : str or float, optional
        Leave NaN (flagged ``no_data``) the dates inside gaps longer than this (a
        gap's length is the time between the usable values around it, or to the one
        usable value on its side at the ends of the series). A duration longer than 0
        (``"60D"`` or a number of days).
    tolerance, clear, bands, time_dim, sar_units, rechunk
        As in :func:`stori_xr.align.align`.
    valid_range : (float, float), dict or None, default (0.0, 1.0)
        Range of the filled values: a fill below the first number is raised to it,
        one above the ceiling lowered to it, where the ceiling is the second number
        or, at a pixel whose clear values of that band exceed it, the largest of them.
        Observed values are never changed, and ``<band>_sigma`` is kept as the method
        gave it. The default suits surface reflectance; give ``(-1.0, 1.0)`` for an
        index such as NDVI, a ``{band: (low, high)}`` dict for bands of several kinds,
        or None to leave the fills unbounded.
    radius : int, default 8
        Options of ``method="kernel"`` and ``"stori"`` (the kernel makes the
        candidates that rank-STORI ranks; defaults in
        :data:`stori_xr.kernels.stori.DEFAULTS`, explained in ``docs/method.md``): the
        search radius (pixels) of the spatial candidate's neighbours.
    n_similar : int, default 8
        Neighbours, among the best-ranked ones clear on the date, that give the spatial
        candidate.
    pool : int, default 72
        The best-ranked neighbours that ``n_similar`` are taken from.
    min_joint : int, default 5
        Clear dates a neighbour must share with the pixel before it is considered.
    sar_scale_days : float, default 60.0
        Time scale (days) of the SAR-anchored candidate's regression weights (zero
        beyond three times this).
    ridge : float, default 0.05
        Ridge penalty of the SAR regressions (also the option of
        ``"sar-regression"``, whose own default then applies).
    screen_z : float, default 4.0
        Screening threshold in standard deviations (0 switches screening off).
    calibrate : bool, default True
        Scale each candidate family's variance by its errors on the pixel's own clear
        values.
    rho : float, default 0.15
        Assumed correlation between the errors of neighbours.
    sigma_scale, spread_weight : float, default 0.65 and 1.0
        Of the uncertainty: ``sigma² = sigma_scale² · ((1 + spread_weight · S) /
        Σ(1/var) + s2)``.
    prior_c, prior_s2, prior_weight : float, default 2e-5, 1e-4 and 4.0
        The prior of the per-pixel error models and its weight.
    candidates : sequence of str, default ("temporal", "sar", "spatial")
        The candidate families used (for ablation studies).
    model : str, path, bytes, FittedModel or None, default None
        Options of ``method="stori"`` (:data:`stori_xr.ranker.rank_method.DEFAULTS`,
        explained in ``docs/ranker.md``): the ranker to start from or to use, a saved
        model or one from :func:`fit`; None: the weights shipped in the package.
    fit : bool, default True
        Fit the ranker on the target before filling it; False uses ``model`` as it is.
    save_model : str, path or None, default None
        Write the fitted model there.
    seed : int, default 0
        Seed of the fit's windows and hidden values.
    device : str, default "auto"
        ``"cpu"``, ``"cuda"`` (or ``"cuda:N"``) or ``"auto"`` (CUDA when present).
    epochs : int or None, default None
        Epochs of the fit; None: 0 from the shipped weights (their σ is only calibrated
        on the target), 10 from scratch (when the target's bands are not the ones the
        weights read).
    maskings : int or None, default None
        Times each window's clear values are hidden differently in the fit, the
        protocols ``whole`` and ``partial`` in turn; None: 2 from the shipped weights,
        4 from scratch.
    **options
        Options of the other methods: ``lmbda`` (a number or ``"gcv"``), ``order``
        and ``step`` of ``"whittaker"``; ``hidden`` and ``sample`` of ``"stori-rnn"``,
        which also takes ``model``, ``save_model``, ``seed``, ``device`` and
        ``epochs``, with its own defaults (:data:`stori_xr.ranker.method.DEFAULTS`).

        Only the options given reach the method, which applies its own defaults to
        the others; a method refuses an option it does not take
        (:class:`~stori_xr.exceptions.MethodError`), e.g. ``radius`` with
        ``method="linear"``.

    Returns
    -------
    Dataset or DataArray
        The band variables on ``times``, ``<band>_sigma`` (NaN for comparators that
        have no uncertainty model) and ``stori_source`` (int8, CF flags). A DataArray
        with a ``band`` dim in gives a DataArray out, with ``sigma`` and
        ``stori_source`` as coordinates. Clear values come back unchanged (unless
        screened). Lazy for dask input; the same values for numpy input.

    Examples
    --------
    >>> from stori_xr.datasets import make_scene
    >>> scene = make_scene(16, 16, periods=12, seed=1)
    >>> out = scene.optical.stori.interpolate(scene.sar, times="10D", method="kernel", radius=4)
    >>> out.sizes["time"], sorted(out.data_vars)[:3]
    (6, ['B05', 'B05_sigma', 'B06'])
    >>> out.attrs["stori_method"]
    'kernel'

    The same call as a function, with a comparator that takes no option:

    >>> from stori_xr.fill import interpolate
    >>> out = interpolate(scene.optical, method="linear", max_gap="60D")
    >>> out.B05.dims, out.stori_source.dtype
    (('time', 'y', 'x'), dtype('int8'))
    """
    options = _given(locals(), options)
    progress.first_call()
    spec = _method(method, options)
    if sar is None and spec.needs_sar:
        raise MissingVariableError(f"method={method!r} needs SAR: pass sar=.")
    gap_days = None if max_gap is None else to_timedelta_days(max_gap, "max_gap", positive=True)
    to_timedelta_days(tolerance, "tolerance")
    p = _prepare(
        optical,
        sar,
        times,
        spec,
        tolerance=tolerance,
        clear=clear,
        bands=bands,
        time_dim=time_dim,
        sar_units=sar_units,
        rechunk=rechunk,
        with_days=max_gap is not None,
        valid_range=valid_range,
    )
    ds, was_dataarray, tdim, names, bounds = p.ds, p.was_dataarray, p.tdim, p.names, p.bounds
    targets, t_all, out_idx, aligned, order = p.targets, p.t_all, p.out_idx, p.aligned, p.order
    ydim, xdim = order[1:]
    band_arrays, mask, sar_arrays, feats = p.band_arrays, p.mask, p.sar_arrays, p.feats
    block_options = options
    if spec.fit is not None:  # the one eager step: fit on a sample of the target
        sample = PixelSample(band_arrays, mask, sar_arrays, names, feats)
        block_options = spec.fit(sample, to_days(t_all), options)
    filled, sigma, source = blocks.run(
        spec.block,
        spec.name,
        band_arrays,
        mask,
        sar_arrays,
        to_days(t_all),
        out_idx,
        halo=spec.halo(options),
        options=block_options,
        bounds=bounds,
        names=names,
        extra_bytes=functools.partial(spec.task_extra_bytes, len(names), t_all.size),
    )
    dims = order
    coords = {ydim: aligned[ydim], xdim: aligned[xdim], tdim: targets}
    out = xr.Dataset(coords=coords)
    for k, b in enumerate(names):
        out[b] = xr.DataArray(filled[k], dims=dims, attrs=value_attrs(ds[b].attrs))
        out[f"{b}_sigma"] = xr.DataArray(
            sigma[k],
            dims=dims,
            attrs={
                "units": ds[b].attrs.get("units", "1"),
                "long_name": f"uncertainty (1 sigma) of {b}",
                "coverage_content_type": "qualityInformation",
            },
        )
    out["stori_source"] = xr.DataArray(source, dims=dims, attrs=_SOURCE_ATTRS)
    if max_gap is not None:
        out = _apply_max_gap(out, aligned, out_idx, tdim, names, gap_days)
    out = out.transpose(*ds[names[0]].dims)
    out.attrs = append_history(
        ds.attrs,
        format_call(
            "interpolate",
            method=method,
            times=times,
            max_gap=max_gap,
            valid_range=valid_range,
            **options,
        ),
    )
    out.attrs["stori_method"] = method
    out.attrs["stori_options"] = options_record(
        times=times,
        max_gap=max_gap,
        tolerance=tolerance,
        valid_range=valid_range,
        bands=names,
        **_recorded({**spec.defaults, **options}),
        **_recorded({k: v for k, v in block_options.items() if isinstance(v, bytes)}),
    )
    inputs = {"optical": ds.attrs.get("source"), "sar": getattr(sar, "attrs", {}).get("source")}
    out.attrs["stori_inputs"] = options_record(**{k: v for k, v in inputs.items() if v})
    given = {"times": times, "max_gap": max_gap, **_recorded(options)}
    out.attrs[SUMMARY] = summary(method, given, names, len(targets))
    out = copy_crs(out, ds)
    if was_dataarray:
        return _to_band_dataarray(out, names, optical)
    return out


def pixel_sample(
    optical: xr.Dataset | xr.DataArray,
    sar: xr.Dataset | None = None,
    method: str = "stori",
    *,
    times: TimesLike = None,
    tolerance: str | float = "12D",
    clear: xr.DataArray | str | None = None,
    bands: Sequence[str] | None = None,
    time_dim: Hashable | None = None,
    sar_units: str | None = None,
) -> tuple[PixelSample, np.ndarray]:
    """The aligned target as a learning method's fit reads it, and its dates in days.

    The input is checked and aligned as :func:`interpolate` does; nothing is computed
    until the fit reads its windows.
    """
    spec = _method(method, {})
    p = _prepare(
        optical,
        sar,
        times,
        spec,
        tolerance=tolerance,
        clear=clear,
        bands=bands,
        time_dim=time_dim,
        sar_units=sar_units,
        rechunk=False,
        with_days=False,
        valid_range=None,
    )
    sample = PixelSample(p.band_arrays, p.mask, p.sar_arrays, p.names, p.feats)
    return sample, to_days(p.t_all)


def fit(
    optical: xr.Dataset | xr.DataArray,
    sar: xr.Dataset | None = None,
    method: str = "stori",
    *,
    times: TimesLike = None,
    tolerance: str | float = "12D",
    clear: xr.DataArray | str | None = None,
    bands: Sequence[str] | None = None,
    time_dim: Hashable | None = None,
    sar_units: str | None = None,
    radius: int = _OPT["radius"],
    n_similar: int = _OPT["n_similar"],
    pool: int = _OPT["pool"],
    min_joint: int = _OPT["min_joint"],
    sar_scale_days: float = _OPT["sar_scale_days"],
    ridge: float = _OPT["ridge"],
    screen_z: float = _OPT["screen_z"],
    calibrate: bool = _OPT["calibrate"],
    rho: float = _OPT["rho"],
    sigma_scale: float = _OPT["sigma_scale"],
    spread_weight: float = _OPT["spread_weight"],
    prior_c: float = _OPT["prior_c"],
    prior_s2: float = _OPT["prior_s2"],
    prior_weight: float = _OPT["prior_weight"],
    candidates: Sequence[str] = _OPT["candidates"],
    model: str | os.PathLike | bytes | FittedModel | None = _OPT["model"],
    save_model: str | os.PathLike | None = _OPT["save_model"],
    seed: int = _OPT["seed"],
    device: str = _OPT["device"],
    epochs: int | None = _OPT["epochs"],
    maskings: int | None = _OPT["maskings"],
    **options: Any,
):
    """Fit a learning method on the target itself; the model, for ``interpolate(model=...)``.

    The fit :func:`interpolate` runs before it builds its graph, on its own: for
    ``method="stori"``, the ranker starts from ``model=`` (by default the weights shipped
    in the package) and is fine-tuned on windows of the target whose clear values it
    hides (the target's own cloud shapes, whole dates, long runs), then its σ is
    calibrated on held-out hidden values. Computes the windows it reads (eager).

    Parameters
    ----------
    optical, sar, times, tolerance, clear, bands, time_dim, sar_units
        As for :func:`interpolate`.
    method : str, default "stori"
        A method that learns: ``"stori"`` or ``"stori-rnn"``.
    radius, n_similar, pool, min_joint, sar_scale_days, ridge, screen_z, calibrate
        As for :func:`interpolate`: the kernel's options, which shape the candidates
        the ranker of ``method="stori"`` learns to rank.
    rho, sigma_scale, spread_weight, prior_c, prior_s2, prior_weight, candidates
        As for :func:`interpolate`.
    model : str, path, bytes, FittedModel or None, default None
        The model to start from; None: the weights shipped in the package (from
        scratch when they read other bands than the target's).
    save_model : str, path or None, default None
        Write the fitted model there.
    seed : int, default 0
        Seed of the fit's windows and hidden values.
    device : str, default "auto"
        ``"cpu"``, ``"cuda"`` (or ``"cuda:N"``) or ``"auto"`` (CUDA when present).
    epochs : int or None, default None
        Epochs of the fit; None: 0 from the shipped weights (their σ is only calibrated
        on the target), 10 from scratch (when the target's bands are not the ones the
        weights read).
    maskings : int or None, default None
        Times each window's clear values are hidden differently in the fit, the
        protocols ``whole`` and ``partial`` in turn; None: 2 from the shipped weights,
        4 from scratch.
    **options
        ``hidden`` and ``sample`` of ``"stori-rnn"``, which also takes ``model``,
        ``save_model``, ``seed``, ``device`` and ``epochs``, with its own defaults
        (:data:`stori_xr.ranker.method.DEFAULTS`).

    Returns
    -------
    stori_xr.ranker.weights.FittedModel
        ``.save(path)`` writes it; ``interpolate(..., model=path or model, fit=False)``
        uses it.

    Examples
    --------
    >>> from stori_xr.datasets import make_scene
    >>> scene = make_scene(16, 16, periods=12, seed=1)
    >>> model = scene.optical.stori.fit(scene.sar, epochs=1)
    >>> model.kind, model.record["epochs"]
    ('stori', 1)
    >>> out = scene.optical.stori.interpolate(scene.sar, model=model, fit=False)
    >>> out.attrs["stori_method"]
    'stori'
    """
    options = _given(locals(), options)
    progress.first_call()
    spec = _method(method, options)
    if spec.fit is None:
        learning = sorted(name for name, m in METHODS.items() if m.fit is not None)
        raise MethodError(f"method={method!r} learns nothing to fit; choose one of {learning}.")
    if sar is None and spec.needs_sar:
        raise MissingVariableError(f"method={method!r} needs SAR: pass sar=.")
    sample, t = pixel_sample(
        optical,
        sar,
        method,
        times=times,
        tolerance=tolerance,
        clear=clear,
        bands=bands,
        time_dim=time_dim,
        sar_units=sar_units,
    )
    fitted = spec.fit(sample, t, options)
    return FittedModel.from_bytes(fitted["weights"])


def _recorded(options: dict[str, Any]) -> dict[str, Any]:
    """Options for the provenance record: bytes (a model) by their SHA-256."""
    return {
        k: f"sha256:{hashlib.sha256(v).hexdigest()}" if isinstance(v, bytes) else v
        for k, v in options.items()
    }


def _apply_max_gap(out, aligned, out_idx, tdim, names, max_gap):
    """NaN (flag ``no_data``) inside gaps longer than ``max_gap`` days."""
    sel = {tdim: out_idx}
    since = aligned["days_since_clear"].isel(sel).fillna(0.0)
    until = aligned["days_until_clear"].isel(sel).fillna(0.0)
    length = (since + until).assign_coords({tdim: out[tdim].values})
    too_long = (length > max_gap) & (out["stori_source"] != OBSERVED)
    for b in names:
        out[b] = out[b].where(~too_long)
        out[f"{b}_sigma"] = out[f"{b}_sigma"].where(~too_long)
    source = out["stori_source"].where(~too_long, NODATA).astype(np.int8)
    out["stori_source"] = source.assign_attrs(_SOURCE_ATTRS)
    return out


def _to_band_dataarray(out: xr.Dataset, names: list[str], optical: xr.DataArray) -> xr.DataArray:
    """The result in the input's layout: a ``band`` dim with the input's labels.

    Per-band coordinates of the input come back; ``sigma`` and ``stori_source`` are
    coordinates.
    """
    band_dim = "band"
    labels = optical[band_dim]
    selected = [i for i, b in enumerate(labels.values) if str(b) in names]
    labels = labels.isel({band_dim: selected})
    values = out[names].to_dataarray(band_dim).assign_coords({band_dim: labels.values})
    sigma = out[[f"{b}_sigma" for b in names]].to_dataarray(band_dim)
    sigma = sigma.assign_coords({band_dim: labels.values})
    per_band = {
        c: labels[c] for c in labels.coords if c != band_dim and labels[c].dims == (band_dim,)
    }
    da = values.assign_coords(sigma=sigma, stori_source=out["stori_source"], **per_band)
    da = da.transpose(*[d for d in optical.dims if d in da.dims])
    da.name = optical.name
    da.attrs = out.attrs
    return da
