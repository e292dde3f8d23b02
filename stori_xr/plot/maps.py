"""Maps of one date: the input beside the reconstruction, its σ and the source flags."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from stori_xr import validate
from stori_xr.plot import style, views


def plot_maps(
    ds: xr.Dataset | xr.DataArray,
    time: Any = None,
    *,
    input: xr.Dataset | xr.DataArray | None = None,
    variable: str | None = None,
    sigma: bool = True,
    source: bool = True,
    vmin: float | None = None,
    vmax: float | None = None,
    cmap: str | None = None,
    robust: bool = True,
    figsize: tuple[float, float] | None = None,
):
    """Maps of one date: input and reconstruction on one colour scale, σ and source flags.

    One row per date, with these panels: the input (cells without a clear value drawn
    as gaps, in light grey), the reconstruction, its 1σ uncertainty and the
    ``stori_source`` flags as a categorical map with a legend (the share of each flag
    in the legend). Input and reconstruction share one colour scale and one colour
    bar, so they can be compared cell by cell. Axes are labelled with the x and y
    coordinates.

    Only the drawn dates and the variables the view needs are computed, in one
    ``dask.compute`` call: a lazy (dask-backed) result or input stays lazy.

    Parameters
    ----------
    ds : Dataset or DataArray
        A result of :func:`stori_xr.fill.interpolate` (band variables, ``<band>_sigma``
        and ``stori_source``); a cube without ``stori_source`` (an input, a result of
        :func:`stori_xr.align.align`) is drawn alone.
    time : date-like, int or sequence of them, optional
        The date(s) to draw, one row each: a date (the nearest date of ``ds`` is
        drawn) or a position along time. Default: the middle date.
    input : Dataset or DataArray, optional
        The optical input, drawn at its date nearest each drawn date, NaN where its
        ``clear`` mask (if it has one) is False. Default: the values of ``ds`` whose
        ``stori_source`` is ``observed`` (the clear values the method kept; screened
        values are then gaps).
    variable : str, optional
        A band (``"B8A"``), ``"ndvi"`` (from B08 or B8A, and B04) or ``"rgb"`` (true
        colour from B04, B03, B02). Default: true colour when those bands are there,
        else the first band.
    sigma : bool, default True
        Draw the σ map (of NDVI: propagated from its bands' σ; of true colour: the
        root mean square of the three bands' σ).
    source : bool, default True
        Draw the ``stori_source`` flags.
    vmin, vmax : float, optional
        Limits of the shared colour scale (of the stretch, for true colour). Default:
        the 2nd and 98th percentiles of input and reconstruction together (their
        minimum and maximum with ``robust=False``).
    cmap : str, optional
        Colour map of input and reconstruction: default ``"viridis"``, ``"RdYlGn"``
        for NDVI.
    robust : bool, default True
        Default limits from percentiles rather than the extremes.
    figsize : (float, float), optional
        Figure size in inches; default 3.6 × 3.4 per panel.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    MissingVariableError
        When ``variable`` (or the bands it needs) is not in ``ds`` or ``input``.
    OptionError
        When ``time`` is a position out of range.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from stori_xr.datasets import make_scene
    >>> scene = make_scene(24, 24, periods=20, bands=("B02", "B03", "B04", "B08"))
    >>> out = scene.optical.stori.interpolate(scene.sar, method="kernel", radius=3)
    >>> fig = out.stori.plot_maps(time="2021-02-15", input=scene.optical, variable="ndvi")
    >>> [ax.get_title() for ax in fig.axes[:4]]  # doctest: +NORMALIZE_WHITESPACE
    ['input, 2021-02-15 (0% gaps)', 'reconstruction, 2021-02-15', 'σ (1 sigma)',
     'source (stori_source)']
    """
    import dask
    import matplotlib.pyplot as plt
    from matplotlib.colors import Normalize

    out = views.as_dataset(ds)
    view = views.choose(out, variable)
    tdim = validate.find_time_dim(out)
    ydim, xdim = validate.find_spatial_dims(out)
    is_result = views.SOURCE in out
    rows = _positions(out[tdim].values, time)

    inp = in_t = None
    if input is not None:
        inp = views.as_dataset(input)
        in_t = validate.find_time_dim(inp)
        views.choose(inp, view.key)  # the input has the bands the view needs
    pieces = []
    for i in rows:
        at = out.isel({tdim: i})
        recon = views.values(at, view)
        if inp is not None:
            j = views.nearest_index(inp[in_t].values, out[tdim].values[i])
            first = views.clear_input(inp.isel({in_t: j}), view)
            first_date = inp[in_t].values[j]
        elif is_result:
            first, first_date = views.observed_only(at, view), out[tdim].values[i]
        else:
            first = first_date = None
        sig = views.sigma(at, view) if is_result and sigma else None
        src = at[views.SOURCE] if is_result and source else None
        pieces.append((first, first_date, recon, sig, src))
    (pieces,) = dask.compute(pieces)  # only the drawn dates and variables

    lo, hi = _limits([p[0] for p in pieces] + [p[2] for p in pieces], vmin, vmax, robust)
    norm = Normalize(lo, hi)
    cmap_ = plt.get_cmap(cmap or ("RdYlGn" if view.key == "ndvi" else "viridis"))
    cmap_ = cmap_.with_extremes(bad=style.GAP_COLOR)
    has_first = pieces[0][0] is not None
    ncols = 1 + has_first + (pieces[0][3] is not None) + (pieces[0][4] is not None)
    fig, axes = plt.subplots(
        len(rows),
        ncols,
        figsize=figsize or (3.6 * ncols + 1.2, 3.4 * len(rows) + 0.6),
        squeeze=False,
        sharex=True,
        sharey=True,
        layout="constrained",
    )
    extent = _extent(out, ydim, xdim)
    value_images, sigma_images, sigma_axes = [], [], []
    for row, (i, (first, first_date, recon, sig, src)) in enumerate(
        zip(rows, pieces, strict=True)
    ):
        date = style.date_text(out[tdim].values[i])
        col = iter(axes[row])
        if first is not None:
            ax = next(col)
            what = "input" if inp is not None else "observed"
            value_images.append(_show(ax, first, view, norm, cmap_, extent, ydim, xdim))
            gaps = _gap_share(first, view)
            ax.set_title(f"{what}, {style.date_text(first_date)} ({gaps:.0%} gaps)")
        ax = next(col)
        value_images.append(_show(ax, recon, view, norm, cmap_, extent, ydim, xdim))
        ax.set_title(f"reconstruction, {date}" if is_result else date)
        if sig is not None:
            ax = next(col)
            sigma_axes.append(ax)
            sigma_images.append((ax, sig))
            ax.set_title("σ (1 sigma)")
        if src is not None:
            ax = next(col)
            _show_flags(ax, src, extent, ydim, xdim)
            ax.set_title("source (stori_source)")
        for ax in axes[row]:
            style.label_map_axes(ax, style.coord_label(out, xdim), style.coord_label(out, ydim))
    if sigma_images:
        _show_sigmas(fig, sigma_images, view, extent, ydim, xdim, robust)
    units = f" [{view.units}]" if view.units else ""
    stretch = ""
    if view.key != "rgb":
        fig.colorbar(
            value_images[-1],
            ax=axes[:, : 1 + has_first].ravel().tolist(),
            label=f"{view.label}{units}",
            shrink=0.9,
        )
    else:
        stretch = f", stretch {lo:.3g} to {hi:.3g}"
    method = out.attrs.get("stori_method")
    single = f" on {style.date_text(out[tdim].values[rows[0]])}" if len(rows) == 1 else ""
    by = f" (method {method!r})" if method else ""
    fig.suptitle(f"{view.label}{single}: input and reconstruction{by}{stretch}")
    return fig


def _positions(times: np.ndarray, time: Any) -> list[int]:
    """The positions along time of the dates to draw."""
    if time is None:
        return [len(times) // 2]
    if isinstance(time, list | tuple):
        items = list(time)
    elif isinstance(time, np.ndarray | pd.Index) or (isinstance(time, xr.DataArray) and time.ndim):
        items = list(np.asarray(time).ravel())
    else:
        items = [time.values[()] if isinstance(time, xr.DataArray) else time]
    return [views.nearest_index(times, t) for t in items]


def _gap_share(da: xr.DataArray, view: views.View) -> float:
    """The share of cells without a value."""
    finite = np.isfinite(np.asarray(da.values, dtype=float))
    if view.key == "rgb":
        finite = finite.all(axis=-1)
    return 1.0 - float(finite.mean()) if finite.size else 1.0


def _limits(
    arrays: list[xr.DataArray | None], vmin: float | None, vmax: float | None, robust: bool
) -> tuple[float, float]:
    """The shared colour limits: given, or from the finite values of all ``arrays``."""
    if vmin is not None and vmax is not None:
        return float(vmin), float(vmax)
    finite = np.concatenate(
        [np.asarray(a.values, dtype=float).ravel() for a in arrays if a is not None]
    )
    finite = finite[np.isfinite(finite)]
    if finite.size == 0:
        lo, hi = 0.0, 1.0
    elif robust:
        lo, hi = (float(v) for v in np.percentile(finite, [2, 98]))
    else:
        lo, hi = float(finite.min()), float(finite.max())
    lo = lo if vmin is None else float(vmin)
    hi = hi if vmax is None else float(vmax)
    return (lo, hi) if hi > lo else (lo - 0.5, lo + 0.5)


def _extent(ds: xr.Dataset, ydim: Hashable, xdim: Hashable) -> tuple[float, ...]:
    """``imshow`` extent (left, right, bottom, top) from the cell-centre coordinates."""

    def edges(dim: Hashable) -> tuple[float, float]:
        c = ds[dim].values.astype(float) if dim in ds.coords else np.arange(ds.sizes[dim])
        step = c[1] - c[0] if c.size > 1 else 1.0
        return c[0] - step / 2, c[-1] + step / 2

    left, right = edges(xdim)
    top, bottom = edges(ydim)
    return left, right, bottom, top


def _show(ax, da, view, norm, cmap, extent, ydim, xdim):
    """Draw one value map (NaN as a gap); return the image."""
    ax.set_facecolor(style.GAP_COLOR)
    if view.key == "rgb":
        rgb = da.transpose(ydim, xdim, "channel").values.astype(float)
        scaled = np.clip((rgb - norm.vmin) / (norm.vmax - norm.vmin), 0, 1)
        alpha = np.isfinite(rgb).all(axis=-1).astype(float)[..., None]
        rgba = np.concatenate([np.nan_to_num(scaled), alpha], axis=-1)
        return ax.imshow(rgba, extent=extent, origin="upper", interpolation="nearest")
    values = np.ma.masked_invalid(da.transpose(ydim, xdim).values.astype(float))
    return ax.imshow(
        values, norm=norm, cmap=cmap, extent=extent, origin="upper", interpolation="nearest"
    )


def _show_sigmas(fig, images, view, extent, ydim, xdim, robust):
    """Draw the σ maps on one colour scale of their own, with a colour bar."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import Normalize

    lo, hi = _limits([s for _, s in images], 0.0, None, robust)
    norm = Normalize(lo, hi)
    cmap = plt.get_cmap("magma").with_extremes(bad=style.GAP_COLOR)
    any_finite = False
    for ax, sig in images:
        image = _show(ax, sig, views.View("sigma", "", (), ""), norm, cmap, extent, ydim, xdim)
        if np.isfinite(np.asarray(sig.values, dtype=float)).any():
            any_finite = True
        else:
            ax.text(0.5, 0.5, "no σ from this method", transform=ax.transAxes, ha="center")
    if not any_finite:
        return
    units = f" [{view.units}]" if view.units else ""
    fig.colorbar(image, ax=[ax for ax, _ in images], label=f"σ of {view.label}{units}", shrink=0.9)


def _show_flags(ax, src, extent, ydim, xdim):
    """Draw the ``stori_source`` flags as categories, with a legend of those present."""
    cmap, norm = style.flag_cmap()
    flags = np.asarray(src.transpose(ydim, xdim).values, dtype=float)  # CF-masked: NaN
    flags = np.where(np.isfinite(flags), flags, len(style.FLAG_NAMES) - 1).astype(np.int64)
    ax.imshow(flags, cmap=cmap, norm=norm, extent=extent, origin="upper", interpolation="nearest")
    counts = np.bincount(flags.ravel(), minlength=len(style.FLAG_NAMES))
    share = {name: counts[k] / flags.size for k, name in enumerate(style.FLAG_NAMES) if counts[k]}
    ax.legend(
        handles=style.flag_handles(share, share),
        loc="upper left",
        bbox_to_anchor=(1.02, 1.0),
        fontsize=8,
        frameon=False,
        title="source",
    )
