"""The ``.stori`` accessor: a table of contents that delegates to free functions."""

from __future__ import annotations

from typing import Any

import xarray as xr

from stori_xr.align import align
from stori_xr.evaluate import evaluate
from stori_xr.fill import interpolate
from stori_xr.output import to_zarr
from stori_xr.plot import plot_maps, plot_pixel


class StoriAccessor:
    """STORI methods on an optical (or result) cube; each one calls a free function."""

    def __init__(self, obj: xr.Dataset | xr.DataArray):
        self._obj = obj

    def align(self, sar: xr.Dataset | None = None, times: Any = None, **options: Any):
        """Align SAR and optical on the optical grid; see :func:`stori_xr.align.align`."""
        return align(self._obj, sar, times, **options)

    def interpolate(
        self,
        sar: xr.Dataset | None = None,
        times: Any = None,
        method: str = "kernel",
        **options: Any,
    ):
        """Fill the gaps on the target dates; see :func:`stori_xr.fill.interpolate`."""
        return interpolate(self._obj, sar, times, method, **options)

    def evaluate(self, sar: xr.Dataset | None = None, **options: Any):
        """Score methods on hidden clear values; see :func:`stori_xr.evaluate.evaluate`."""
        return evaluate(self._obj, sar, **options)

    def to_zarr(self, store: Any, **kwargs: Any):
        """Write to Zarr chunk by chunk; see :func:`stori_xr.output.to_zarr`."""
        return to_zarr(self._obj, store, **kwargs)

    def plot_maps(self, variable: str | None = None, **kwargs: Any):
        """Maps at a few dates; see :func:`stori_xr.plot.plot_maps`."""
        return plot_maps(self._obj, variable, **kwargs)

    def plot_pixel(self, y: int = 0, x: int = 0, **kwargs: Any):
        """One pixel's series; see :func:`stori_xr.plot.plot_pixel`."""
        return plot_pixel(self._obj, y, x, **kwargs)


xr.register_dataset_accessor("stori")(StoriAccessor)
xr.register_dataarray_accessor("stori")(StoriAccessor)
