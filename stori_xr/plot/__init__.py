"""Plots of results: one date's maps and one pixel's time series (matplotlib).

matplotlib is imported when a plot is drawn, never when :mod:`stori_xr` is imported.
Both functions are also methods of the ``.stori`` accessor
(``out.stori.plot_maps(...)``, ``out.stori.plot_pixel(...)``), return the
:class:`~matplotlib.figure.Figure`, and compute only the values they draw.
"""

from stori_xr.plot.maps import plot_maps
from stori_xr.plot.pixel import plot_pixel
from stori_xr.plot.style import FLAG_COLORS

__all__ = ["FLAG_COLORS", "plot_maps", "plot_pixel"]
