"""How the plots look: one colour per ``stori_source`` flag, markers, axis labels.

matplotlib is imported inside the functions only, so that importing :mod:`stori_xr`
never imports it.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from typing import Any

import numpy as np
import xarray as xr

from stori_xr.kernels import flags

#: The flags by value, as ``flag_meanings`` of ``stori_source`` names them.
FLAG_NAMES: tuple[str, ...] = tuple(flags.FLAG_MEANINGS.split())

#: One colour per flag (tab10 hues, observed in black): categorical, never a colour ramp.
FLAG_COLORS: dict[str, str] = {
    "observed": "#000000",
    "temporal": "#1f77b4",
    "sar": "#ff7f0e",
    "spatial": "#2ca02c",
    "model": "#9467bd",
    "extrapolated": "#8c564b",
    "screened": "#d62728",
    "no_data": "#c7c7c7",
}

#: Markers of :func:`stori_xr.plot.plot_pixel`: what the value is, whatever filled it.
MARKERS: dict[str, dict[str, Any]] = {
    "observed": {"marker": "o", "markersize": 5, "linestyle": "none"},
    "filled": {
        "marker": "o",
        "markersize": 5,
        "linestyle": "none",
        "markerfacecolor": "white",
        "markeredgewidth": 1.3,
    },
    "screened": {"marker": "x", "markersize": 7, "linestyle": "none", "markeredgewidth": 1.6},
}

#: Colour of the cells of a map that hold no value (a gap), and of the map's background.
GAP_COLOR = "#e8e8e8"


def flag_cmap():
    """A :class:`~matplotlib.colors.ListedColormap` and a ``BoundaryNorm`` of the flags."""
    from matplotlib.colors import BoundaryNorm, ListedColormap

    cmap = ListedColormap([FLAG_COLORS[name] for name in FLAG_NAMES], name="stori_source")
    bounds = np.arange(len(FLAG_NAMES) + 1) - 0.5
    return cmap, BoundaryNorm(bounds, cmap.N)


def flag_handles(present: Iterable[str] | None = None, share: Mapping[str, float] | None = None):
    """Legend patches of the flags in ``present`` (default all), labelled with ``share``."""
    from matplotlib.patches import Patch

    present = set(FLAG_NAMES if present is None else present)
    share = share or {}
    return [
        Patch(
            facecolor=FLAG_COLORS[n],
            edgecolor="0.3",
            label=f"{n} ({share[n]:.0%})" if n in share else n,
        )
        for n in FLAG_NAMES
        if n in present
    ]


def coord_label(obj: xr.Dataset | xr.DataArray, name: Hashable) -> str:
    """An axis label for a coordinate: its name and its units (``"x [m]"``)."""
    if name not in obj.coords:
        return f"{name} (pixel)"
    units = obj[name].attrs.get("units")
    return f"{name} [{units}]" if units else str(name)


def label_map_axes(ax: Any, xlabel: str, ylabel: str) -> None:
    """Label a map's axes with its coordinates, in plain numbers, few ticks."""
    from matplotlib.ticker import MaxNLocator

    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    for axis in (ax.xaxis, ax.yaxis):
        axis.set_major_locator(MaxNLocator(nbins=3))
    ax.ticklabel_format(useOffset=False, style="plain")
    ax.label_outer()


def date_text(value: Any) -> str:
    """A date as ``YYYY-MM-DD``."""
    return np.datetime_as_string(np.datetime64(value, "ns"), unit="D")
