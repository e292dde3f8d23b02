"""Quick looks: maps of a band at a few dates, and one pixel's time series."""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np
import xarray as xr

from stori_xr import validate


def _as_dataset(obj: xr.Dataset | xr.DataArray) -> xr.Dataset:
    """A Dataset of bands; a band-dim DataArray result keeps its sigmas as ``<band>_sigma``."""
    if isinstance(obj, xr.Dataset):
        return obj
    sigma = obj.coords.get("sigma")
    ds, _ = validate.as_band_dataset(obj.drop_vars(["sigma"], errors="ignore"))
    if sigma is not None and "band" in sigma.dims:
        for b in sigma["band"].values:
            ds[f"{b}_sigma"] = sigma.sel(band=b, drop=True).assign_attrs(
                coverage_content_type="qualityInformation"
            )
    return ds


def plot_maps(
    ds: xr.Dataset | xr.DataArray,
    variable: str | None = None,
    *,
    ntimes: int = 6,
    cmap: str = "viridis",
    vmin: float | None = None,
    vmax: float | None = None,
    **subplots_kw: Any,
):
    """Maps of one variable at up to ``ntimes`` evenly spaced dates.

    Parameters
    ----------
    ds : Dataset
        A result of :func:`stori_xr.align` (or any cube with a time dimension).
    variable : str, optional
        The variable to show; default the first band.
    ntimes : int, default 6
        How many dates to show.
    cmap, vmin, vmax
        Colour map and limits (default: 2nd and 98th percentiles).
    **subplots_kw
        Passed to :func:`matplotlib.pyplot.subplots`.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    ds = _as_dataset(ds)
    tdim = validate.find_time_dim(ds)
    name = variable or validate.select_bands(ds, tdim, None)[0]
    da = ds[name]
    idx = np.unique(np.linspace(0, da.sizes[tdim] - 1, min(ntimes, da.sizes[tdim])).astype(int))
    sub = da.isel({tdim: idx}).compute()
    if vmin is None or vmax is None:
        finite = sub.values[np.isfinite(sub.values)]
        lo, hi = np.percentile(finite, [2, 98]) if finite.size else (0.0, 1.0)
        vmin = lo if vmin is None else vmin
        vmax = hi if vmax is None else vmax
    fig, axes = plt.subplots(
        1, idx.size, figsize=(2.6 * idx.size, 2.8), squeeze=False, **subplots_kw
    )
    y, x = validate.find_spatial_dims(da)
    for ax, i in zip(axes[0], range(idx.size), strict=True):
        img = sub.isel({tdim: i}).transpose(y, x)
        ax.imshow(img.values, cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
        ax.set_title(np.datetime_as_string(sub[tdim].values[i], unit="D"), fontsize=8)
        ax.set_axis_off()
    fig.suptitle(f"{name} ({da.attrs.get('units', '')})", fontsize=9)
    return fig


def plot_pixel(
    ds: xr.Dataset | xr.DataArray,
    y: int = 0,
    x: int = 0,
    variables: Sequence[Hashable] | None = None,
    **subplots_kw: Any,
):
    """Time series of one pixel: bands (with ±1 sigma when present) and SAR features.

    Parameters
    ----------
    ds : Dataset
        A result of :func:`stori_xr.align`.
    y, x : int
        Pixel position (integer indices along the y and x dimensions).
    variables : sequence of str, optional
        Bands to show; default all bands.
    **subplots_kw
        Passed to :func:`matplotlib.pyplot.subplots`.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    ds = _as_dataset(ds)
    tdim = validate.find_time_dim(ds)
    ydim, xdim = validate.find_spatial_dims(ds)
    px = ds.isel({ydim: y, xdim: x}).compute()
    names = list(variables) if variables is not None else validate.select_bands(ds, tdim, None)
    sar = [v for v in ("VV", "VH") if v in px]
    fig, axes = plt.subplots(
        2 if sar else 1,
        1,
        figsize=(8, 5 if sar else 3),
        sharex=True,
        squeeze=False,
        **subplots_kw,
    )
    for name in names:
        (line,) = axes[0, 0].plot(px[tdim].values, px[name].values, ".-", label=str(name), ms=4)
        sigma = f"{name}_sigma"
        if sigma in px and np.isfinite(px[sigma].values).any():
            lo = px[name].values - px[sigma].values
            hi = px[name].values + px[sigma].values
            axes[0, 0].fill_between(px[tdim].values, lo, hi, color=line.get_color(), alpha=0.2)
    axes[0, 0].set_ylabel("reflectance")
    axes[0, 0].legend(fontsize=7, ncol=min(len(names), 6))
    for name in sar:
        axes[1, 0].plot(px[tdim].values, px[name].values, label=name)
    if sar:
        axes[1, 0].set_ylabel("backscatter (dB)")
        axes[1, 0].legend(fontsize=7)
    axes[0, 0].set_title(f"pixel y={y}, x={x}", fontsize=9)
    fig.autofmt_xdate()
    return fig
