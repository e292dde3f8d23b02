"""Gap filling: the xarray glue around the kernels (``opt.stori.interpolate``).

One function, :func:`interpolate`, aligns SAR and optical with
:func:`stori_xr.align.align`, then runs one block function per dask chunk (with a
halo of neighbouring pixels when the method looks at neighbours, so results do
not depend on the chunking) and assembles the output: the bands on the target
dates, ``<band>_sigma`` and ``stori_source``.

The methods are registered in :data:`METHODS`; each is a :class:`Method` whose
block function maps numpy blocks ``values (nb, ny, nx, nt)``, ``clear (ny, nx,
nt)``, ``sar (nf, ny, nx, nt)`` to ``(values, sigma, source)`` on the output dates,
shaped ``(nb, m, ny, nx)`` and ``(m, ny, nx)`` (dates before pixels, as in the
output cubes).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import dask.array as dsa
import numpy as np
import xarray as xr

from stori_xr import validate
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
from stori_xr.metadata import append_history, copy_crs, format_call, value_attrs

BlockFunction = Callable[..., tuple[np.ndarray, np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class Method:
    """A gap-filling method: its block function and what it needs."""

    name: str
    block: BlockFunction
    needs_sar: bool = False
    sar_features: tuple[str, ...] = ()
    halo_option: str | None = None
    halo_extra: int = 0
    options: tuple[str, ...] = ()
    defaults: dict[str, Any] = field(default_factory=dict)
    check: Callable[[dict[str, Any]], None] | None = None
    #: the block function takes ``out=`` arrays to write its results into
    writes_out: bool = False

    def halo(self, options: dict[str, Any]) -> int:
        """Pixels of neighbourhood that one pixel's result depends on."""
        if self.halo_option is None:
            return 0
        radius = int(options.get(self.halo_option, self.defaults[self.halo_option]))
        return radius + self.halo_extra


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
        writes_out=True,
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


def _stack(out: np.ndarray, sigma: np.ndarray, src: np.ndarray) -> np.ndarray:
    """Values, sigmas and the source flag (as floats) in one array (2 nb + 1, y, x, m).

    That is the layout of the block's input, so that dask maps blocks one to one.
    """
    stacked = np.concatenate([out, sigma, src[None].astype(out.dtype)], axis=0)
    return stacked.transpose(0, 2, 3, 1)


#: Default range of filled reflectance: a fill is never below 0; its ceiling is 1 or,
#: where the pixel has shown a larger clear value of that band, that value.
VALID_RANGE = (0.0, 1.0)

ValidRange = tuple[float, float] | Mapping[str, tuple[float, float]] | None
Bounds = tuple[np.ndarray, np.ndarray] | None


def _bounds(valid_range: ValidRange, names: Sequence[str]) -> Bounds:
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


def bound_fills(
    out: np.ndarray, src: np.ndarray, values: np.ndarray, clear: np.ndarray, bounds: Bounds
) -> None:
    """Clip filled values into their band's range, in place; observed values are kept.

    Parameters
    ----------
    out : ndarray, shape (nb, m, ny, nx)
        The method's values on the output dates.
    src : ndarray of int8, shape (m, ny, nx)
        Their source flags: every value not flagged ``observed`` is a fill.
    values : ndarray, shape (nb, ny, nx, nt)
        The input band values of the same pixels.
    clear : ndarray of bool, shape (ny, nx, nt)
        Which input values are usable.
    bounds : (lo, hi) of arrays of shape (nb,), or None
        Per band, the lowest fill and the ceiling; a pixel whose clear values exceed
        the ceiling may be filled up to its largest clear value. None: no bounds.
    """
    if bounds is None:
        return
    lo, hi = bounds
    fill = src != OBSERVED
    for k in range(out.shape[0]):
        top = np.where(clear, values[k], -np.inf).max(axis=-1, initial=-np.inf)
        top = np.maximum(top, hi[k]).astype(out.dtype)
        np.clip(out[k], out.dtype.type(lo[k]), top[None], out=out[k], where=fill)


def _block_runner(
    spec: Method,
    options: dict[str, Any],
    t: np.ndarray,
    out_idx: np.ndarray,
    halo: int,
    bounds: Bounds,
):
    """A map_blocks function: run the method on the core of an overlapped block."""

    def run(values, clear, *rest, block_info=None):
        sar = rest[0] if rest else None
        y0, y1, x0, x1 = 0, values.shape[1], 0, values.shape[2]
        extra: dict[str, Any] = {}
        if halo:
            loc = block_info[None]["chunk-location"]
            num = block_info[None]["num-chunks"]
            y0 = halo if loc[1] > 0 else 0
            x0 = halo if loc[2] > 0 else 0
            y1 -= halo if loc[1] < num[1] - 1 else 0
            x1 -= halo if loc[2] < num[2] - 1 else 0
            extra["core"] = (y0, y1, x0, x1)
        out, sigma, src = spec.block(values, clear[0], sar, t, out_idx, **extra, **options)
        core = (slice(y0, y1), slice(x0, x1))
        bound_fills(out, src, values[:, *core], clear[0][core], bounds)
        return _stack(out, sigma, src)

    return run


#: Core size of the tiles that numpy input is cut into (the halo comes on top).
EAGER_TILE = 128


def _run_tiles(spec, bands, clear, sar, t, out_idx, options, bounds):
    """Numpy input: run the method tile by tile (with its halo) on threads.

    ``bands``, ``clear`` and ``sar`` are (t, y, x) arrays; each tile is gathered
    into the block layout of the methods, and its results are written into the
    outputs, ``(nb, m, y, x)`` and ``(m, y, x)``. A tile and its halo stay in the
    processor's cache while its pixels look at their neighbours, which a whole
    large cube does not; the kernels release the GIL, so tiles run in parallel.
    The result equals one call on the whole cube.
    """
    halo = spec.halo(options)
    _, ny, nx = clear.shape
    m = out_idx.size
    dtype = bands[0].dtype
    out = (
        np.empty((len(bands), m, ny, nx), dtype=dtype),
        np.empty((len(bands), m, ny, nx), dtype=dtype),
        np.empty((m, ny, nx), dtype=np.int8),
    )

    def gather(arrays, ys, xs):
        return np.stack([a[:, ys, xs] for a in arrays]).transpose(0, 2, 3, 1)

    def one(y0: int, x0: int) -> None:
        y1, x1 = min(y0 + EAGER_TILE, ny), min(x0 + EAGER_TILE, nx)
        ya, xa = max(y0 - halo, 0), max(x0 - halo, 0)
        yb, xb = min(y1 + halo, ny), min(x1 + halo, nx)
        ys, xs = slice(ya, yb), slice(xa, xb)
        extra: dict[str, Any] = {"core": (y0 - ya, y1 - ya, x0 - xa, x1 - xa)} if halo else {}
        window = (slice(y0, y1), slice(x0, x1))
        into = (out[0][:, :, *window], out[1][:, :, *window], out[2][:, *window])
        if spec.writes_out:
            extra["out"] = into
        tile = gather(bands, ys, xs)
        tile_clear = clear[:, ys, xs].transpose(1, 2, 0)
        part = spec.block(
            tile,
            tile_clear,
            None if sar is None else gather(sar, ys, xs),
            t,
            out_idx,
            **extra,
            **options,
        )
        if not spec.writes_out:
            for target, piece in zip(into, part, strict=True):
                target[...] = piece
        core = (slice(y0 - ya, y1 - ya), slice(x0 - xa, x1 - xa))
        bound_fills(into[0], into[2], tile[:, *core], tile_clear[core], bounds)

    from concurrent.futures import ThreadPoolExecutor

    starts = [(y0, x0) for y0 in range(0, ny, EAGER_TILE) for x0 in range(0, nx, EAGER_TILE)]
    workers = min(len(starts), _usable_cores())
    if workers <= 1:
        for y0, x0 in starts:
            one(y0, x0)
        return out
    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(lambda yx: one(*yx), starts))
    return out


def _usable_cores() -> int:
    """Cores this process may run on (all of the machine's where that is not known)."""
    if hasattr(os, "sched_getaffinity"):  # Linux
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _widen(chunks: tuple[int, ...], halo: int) -> tuple[int, ...]:
    """Chunk sizes where every chunk narrower than ``halo`` joins its neighbour."""
    out: list[int] = []
    for size in chunks:
        if out and (size < halo or out[-1] < halo):
            out[-1] += size
        else:
            out.append(size)
    return tuple(out)


def run_blocks(
    spec: Method,
    bands: Sequence[np.ndarray | dsa.Array],
    clear: np.ndarray | dsa.Array,
    sar: Sequence[np.ndarray | dsa.Array] | None,
    t: np.ndarray,
    out_idx: np.ndarray,
    options: dict[str, Any],
    bounds: Bounds = None,
) -> tuple[np.ndarray | dsa.Array, np.ndarray | dsa.Array, np.ndarray | dsa.Array]:
    """Run a method over a whole cube: tile by tile for numpy, chunk by chunk for dask.

    Parameters
    ----------
    spec : Method
        The method.
    bands : sequence of arrays, shape (nt, ny, nx)
        Band values.
    clear : array of bool, shape (nt, ny, nx)
        Usable values.
    sar : sequence of arrays, shape (nt, ny, nx), or None
        SAR features.
    t : ndarray of float64, shape (nt,)
        Times in days.
    out_idx : ndarray of int, shape (m,)
        Output dates as indices into ``t``.
    options : dict
        Keyword options of the method.
    bounds : (lo, hi) of arrays of shape (nb,), optional
        Range of the filled values (see :func:`bound_fills`); None leaves them as the
        method made them.

    Returns
    -------
    values, sigma : array, shape (nb, m, ny, nx)
    source : array of int8, shape (m, ny, nx)
    """
    if not isinstance(clear, dsa.Array):
        return _run_tiles(spec, bands, clear, sar, t, out_idx, options, bounds)
    halo = spec.halo(options)
    values = dsa.stack(bands).transpose(0, 2, 3, 1)
    clear = clear.transpose(1, 2, 0)
    sar = None if sar is None else dsa.stack(sar).transpose(0, 2, 3, 1)
    # dask's overlap needs every chunk at least as wide as the halo: merge narrower
    # ones into their neighbour (the values do not depend on the chunks)
    ychunks, xchunks = _widen(values.chunks[1], halo), _widen(values.chunks[2], halo)
    values = values.rechunk({1: ychunks, 2: xchunks})
    clear = clear.rechunk({0: ychunks, 1: xchunks})
    sar = None if sar is None else sar.rechunk({1: ychunks, 2: xchunks})
    # every argument as (k, y, x, t) with k and t in one chunk: the clear mask gets a
    # leading unit axis
    whole = {0: -1, 3: -1}
    args = [values.rechunk(whole), clear[None].rechunk(whole)]
    args += [sar.rechunk(whole)] if sar is not None else []
    if halo:
        # no halo along an axis of one chunk (dask refuses a depth larger than the array)
        depth = {1: halo if len(ychunks) > 1 else 0, 2: halo if len(xchunks) > 1 else 0}
        args = [dsa.overlap.overlap(a, depth=depth, boundary="none") for a in args]
    nb = values.shape[0]
    token = dsa.core.tokenize(
        values, clear, sar, t, out_idx, sorted(options.items()), spec.name, bounds
    )
    stacked = dsa.map_blocks(
        _block_runner(spec, options, t, out_idx, halo, bounds),
        *args,
        chunks=((2 * nb + 1,), ychunks, xchunks, (out_idx.size,)),
        dtype=values.dtype,
        meta=np.array((), dtype=values.dtype),
        name=f"stori-{spec.name}-{token}",
    ).transpose(0, 3, 1, 2)
    return stacked[:nb], stacked[nb : 2 * nb], stacked[2 * nb].astype(np.int8)


_SOURCE_ATTRS = {
    "long_name": "source of each value",
    "coverage_content_type": "qualityInformation",
    "flag_values": FLAG_VALUES,
    "flag_meanings": FLAG_MEANINGS,
}


def interpolate(
    optical: xr.Dataset | xr.DataArray,
    sar: xr.Dataset | None = None,
    times: TimesLike = None,
    method: str = "kernel",
    *,
    max_gap: str | float | None = None,
    tolerance: str | float = "12D",
    clear: xr.DataArray | str | None = None,
    bands: Sequence[str] | None = None,
    time_dim: Hashable | None = None,
    sar_units: str | None = None,
    rechunk: bool = False,
    valid_range: ValidRange = VALID_RANGE,
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
    method : str, default "kernel"
        ``"kernel"`` (STORI's numba kernel), or a comparator: ``"linear"``,
        ``"whittaker"``, ``"sar-regression"``.
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
    **options
        Options of the method (e.g. ``lmbda=`` for ``"whittaker"``).

    Returns
    -------
    Dataset or DataArray
        The band variables on ``times``, ``<band>_sigma`` (NaN for comparators that
        have no uncertainty model) and ``stori_source`` (int8, CF flags). A DataArray
        with a ``band`` dim in gives a DataArray out, with ``sigma`` and
        ``stori_source`` as coordinates. Clear values come back unchanged (unless
        screened). Lazy for dask input; the same values for numpy input.
    """
    spec = _method(method, options)
    if sar is None and spec.needs_sar:
        raise MissingVariableError(f"method={method!r} needs SAR: pass sar=.")
    gap_days = None if max_gap is None else to_timedelta_days(max_gap, "max_gap", positive=True)
    to_timedelta_days(tolerance, "tolerance")
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
        with_days=max_gap is not None,
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
    filled, sigma, source = run_blocks(
        spec,
        band_arrays,
        aligned["clear"].transpose(*order).data,
        sar_arrays,
        to_days(t_all),
        out_idx,
        options,
        bounds,
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
    out = copy_crs(out, ds)
    if was_dataarray:
        return _to_band_dataarray(out, names, optical)
    return out


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
