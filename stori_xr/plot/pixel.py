"""One pixel's time series: observed, screened and filled values, ±σ, SAR features."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np
import xarray as xr

from stori_xr import validate
from stori_xr.kernels import flags
from stori_xr.plot import style, views

#: SAR features drawn on the second axis when present.
SAR_FEATURES = ("VV", "VH")


def plot_pixel(
    ds: xr.Dataset | xr.DataArray,
    x: float | None = None,
    y: float | None = None,
    *,
    index: bool = False,
    variables: Sequence[str] | None = None,
    input: xr.Dataset | xr.DataArray | None = None,
    sar: xr.Dataset | None = None,
    sigma: bool = True,
    figsize: tuple[float, float] | None = None,
):
    """Time series of one pixel: how each value was made, its ±1σ band, and SAR.

    One panel per variable, sharing the time axis. The reconstruction is a line with
    its ±1σ band; each date has a marker whose *shape* says what the value is —
    filled circle: observed (a clear input value, passed through unchanged); open
    circle: filled (a gap, or a screened value replaced) — and whose *colour* is its
    ``stori_source`` flag (observed, temporal, sar, spatial, model, extrapolated,
    screened). With ``input=``, the input values that screening discarded are drawn
    as crosses. The SAR features (VV, VH) of ``sar=`` (or of ``ds``, for an aligned
    cube) are drawn on a second axis below. The legends are outside the axes.

    Only this pixel is computed (one ``dask.compute`` call for result, input and SAR):
    a lazy (dask-backed) result stays lazy.

    Parameters
    ----------
    ds : Dataset or DataArray
        A result of :func:`stori_xr.fill.interpolate` (or any cube with a time
        dimension, such as a result of :func:`stori_xr.align.align`: its finite
        values are drawn as observed).
    x, y : float, optional
        The pixel: coordinate values (the nearest pixel is drawn), or positions with
        ``index=True``. Default: the middle of the scene.
    index : bool, default False
        ``x`` and ``y`` are integer positions along the x and y dimensions, as with
        :meth:`xarray.Dataset.isel`.
    variables : sequence of str, optional
        Bands to draw, and ``"ndvi"`` (from B08 or B8A, and B04). Default: every band.
    input : Dataset or DataArray, optional
        The optical input, to draw the values that screening discarded (the nearest
        input pixel by coordinates).
    sar : Dataset, optional
        SAR backscatter (``VV``, ``VH``) to draw on the second axis (the nearest SAR
        pixel by coordinates, at its own dates). Default: the ``VV``/``VH`` variables
        of ``ds`` if it has them.
    sigma : bool, default True
        Draw the ±1σ band (where the method gives σ).
    figsize : (float, float), optional
        Figure size in inches; default 9 wide and 2.4 per panel.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    MissingVariableError
        When a variable (or the bands NDVI needs) is not in ``ds``.
    OptionError
        When ``x`` or ``y`` is a position out of range.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from stori_xr.datasets import make_scene
    >>> scene = make_scene(24, 24, periods=20)
    >>> out = scene.optical.stori.interpolate(scene.sar, method="kernel", radius=3)
    >>> fig = out.stori.plot_pixel(
    ...     x=5, y=7, index=True, variables=["B8A"], input=scene.optical, sar=scene.sar
    ... )
    >>> [ax.get_ylabel() for ax in fig.axes]
    ['B8A [1]', 'backscatter [dB]']
    """
    import dask
    import matplotlib.pyplot as plt
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

    out = views.as_dataset(ds)
    tdim = validate.find_time_dim(out)
    ydim, xdim = validate.find_spatial_dims(out)
    iy = views.pixel_index(out, ydim, y, index)
    ix = views.pixel_index(out, xdim, x, index)
    names = list(variables) if variables is not None else views.bands_of(out)
    chosen = [views.choose(out, n) for n in names]
    needed = {b for v in chosen for b in v.bands}
    keep = [
        n
        for n in out.data_vars
        if n in needed
        or str(n).removesuffix("_sigma") in needed
        or n in (views.SOURCE, "clear", *SAR_FEATURES)
    ]
    px = out[keep].isel({ydim: iy, xdim: ix})
    where = {d: out[d].values[i] for d, i in ((ydim, iy), (xdim, ix)) if d in out.coords}
    px_in = _nearest(views.as_dataset(input), where, iy, ix) if input is not None else None
    if sar is not None:
        px_sar = _nearest(sar, where, iy, ix)[[f for f in SAR_FEATURES if f in sar]]
    else:
        own = [f for f in SAR_FEATURES if f in px]
        px_sar = px[own] if own else None
    px, px_in, px_sar = dask.compute(px, px_in, px_sar)  # only this pixel

    nrows = len(chosen) + (px_sar is not None)
    fig, axes = plt.subplots(
        nrows,
        1,
        figsize=figsize or (9.0, 2.4 * nrows + 0.8),
        sharex=True,
        squeeze=False,
        layout="constrained",
    )
    axes = axes[:, 0]
    t = px[tdim].values
    present: set[str] = set()
    discarded = False
    for ax, view in zip(axes, chosen, strict=False):
        present |= _draw_series(ax, px, view, t, sigma)
        if px_in is not None and views.SOURCE in px:
            discarded |= _draw_screened(ax, px, px_in, view, t)
        units = f" [{view.units}]" if view.units else ""
        ax.set_ylabel(f"{view.label}{units}")
    if px_sar is not None:
        ax = axes[-1]
        st = px_sar[validate.find_time_dim(px_sar)].values
        for k, feat in enumerate(f for f in SAR_FEATURES if f in px_sar):
            ax.plot(
                st,
                px_sar[feat].values,
                ".-",
                color=("#17becf", "#bcbd22")[k],
                lw=1,
                ms=3,
                label=feat,
            )
        units = px_sar[next(f for f in SAR_FEATURES if f in px_sar)].attrs.get("units", "dB")
        ax.set_ylabel(f"backscatter [{units}]")
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, title="SAR")
    locator = AutoDateLocator()
    axes[-1].xaxis.set_major_locator(locator)
    axes[-1].xaxis.set_major_formatter(ConciseDateFormatter(locator))
    axes[-1].set_xlabel(str(tdim))
    with_sigma = sigma and any(f"{b}_sigma" in px for b in needed)
    _legends(fig, present, discarded, with_sigma, views.SOURCE in px)
    fig.suptitle(_title(out, iy, ix, ydim, xdim))
    return fig


def _nearest(obj: xr.Dataset, where: dict[Hashable, Any], iy: int, ix: int) -> xr.Dataset:
    """The pixel of ``obj`` nearest the coordinates ``where`` (same positions without)."""
    ydim, xdim = validate.find_spatial_dims(obj)
    sel = {}
    for dim, i, label in ((ydim, iy, where.get(ydim)), (xdim, ix, where.get(xdim))):
        if label is not None and dim in obj.coords:
            sel[dim] = int(np.argmin(np.abs(obj[dim].values - label)))
        else:
            sel[dim] = i
    return obj.isel(sel)


def _draw_series(ax, px: xr.Dataset, view: views.View, t: np.ndarray, with_sigma: bool):
    """The line, ±σ band and markers of one variable; return the flags drawn."""
    v = np.asarray(views.values(px, view).values, dtype=float)
    s = views.sigma(px, view) if with_sigma else None
    ax.plot(t, v, color="0.45", lw=1, zorder=1)
    if s is not None and np.isfinite(s.values).any():
        s = np.asarray(s.values, dtype=float)
        ax.fill_between(t, v - s, v + s, color="#9ecae1", alpha=0.6, lw=0, zorder=0)
    if views.SOURCE not in px:  # an input or aligned cube: finite values are observed
        ok = np.isfinite(v)
        if "clear" in px:
            ok &= px["clear"].values.astype(bool)
        ax.plot(t[ok], v[ok], color=style.FLAG_COLORS["observed"], **style.MARKERS["observed"])
        return {"observed"} if ok.any() else set()
    src = np.asarray(px[views.SOURCE].values, dtype=float)
    drawn = set()
    for value, name in enumerate(style.FLAG_NAMES):
        at = (src == value) & np.isfinite(v)
        if not at.any():
            continue
        drawn.add(name)
        kind = "observed" if value == flags.OBSERVED else "filled"
        marker = dict(style.MARKERS[kind])
        if kind == "observed":
            ax.plot(t[at], v[at], color=style.FLAG_COLORS[name], zorder=3, **marker)
        else:
            ax.plot(t[at], v[at], markeredgecolor=style.FLAG_COLORS[name], zorder=2, **marker)
    return drawn


def _draw_screened(ax, px, px_in, view, t) -> bool:
    """Crosses at the input values that screening discarded; return whether any."""
    tin = px_in[validate.find_time_dim(px_in)].values
    if any(b not in px_in for b in view.bands) or tin.size == 0:
        return False
    screened = np.asarray(px[views.SOURCE].values) == flags.SCREENED
    if not screened.any():
        return False
    vin = np.asarray(views.values(px_in, view).values, dtype=float)
    j = np.array([views.nearest_index(tin, d) for d in t[screened]])
    ok = np.isfinite(vin[j])
    ax.plot(
        t[screened][ok],
        vin[j][ok],
        color=style.FLAG_COLORS["screened"],
        zorder=4,
        **style.MARKERS["screened"],
    )
    return bool(ok.any())


def _legends(fig, present: set[str], discarded: bool, with_sigma: bool, result: bool) -> None:
    """Two legends right of the axes: what the markers are, and the source colours."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    kinds = [
        Line2D([], [], color="0.45", lw=1, label="reconstruction" if result else "series"),
        Line2D([], [], color="0.2", label="observed", **style.MARKERS["observed"]),
    ]
    if result:
        kinds.append(
            Line2D([], [], markeredgecolor="0.2", label="filled", **style.MARKERS["filled"])
        )
    if discarded:
        kinds.append(
            Line2D(
                [],
                [],
                color=style.FLAG_COLORS["screened"],
                label="screened input",
                **style.MARKERS["screened"],
            )
        )
    if with_sigma:
        kinds.append(Patch(facecolor="#9ecae1", alpha=0.6, label="±1σ"))
    fig.legend(handles=kinds, loc="outside right upper", frameon=False, title="values")
    if present and result:
        fig.legend(
            handles=style.flag_handles(present),
            loc="outside right lower",
            frameon=False,
            title="source (colour)",
        )


def _title(out: xr.Dataset, iy: int, ix: int, ydim: Hashable, xdim: Hashable) -> str:
    """``pixel x=600130 m, y=5699870 m (column 3, row 2), method 'kernel'``."""
    parts = []
    for dim, i in ((xdim, ix), (ydim, iy)):
        if dim in out.coords:
            units = out[dim].attrs.get("units", "")
            parts.append(f"{dim}={out[dim].values[i]:.10g}{' ' + units if units else ''}")
    where = f"pixel {', '.join(parts)} " if parts else "pixel "
    method = out.attrs.get("stori_method")
    return f"{where}(column {ix}, row {iy})" + (f", method {method!r}" if method else "")
