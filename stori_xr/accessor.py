"""The ``.stori`` accessor: a table of contents that delegates to free functions."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

import xarray as xr

from stori_xr import plot
from stori_xr.align import align
from stori_xr.evaluate import evaluate
from stori_xr.fill import interpolate
from stori_xr.output import to_zarr


def _method(func: Callable[..., Any]) -> Callable[..., Any]:
    """An accessor method calling ``func(self._obj, ...)``.

    Its name, docstring and signature (without the first parameter, the object) are
    ``func``'s, so ``help(ds.stori.<name>)`` and tab completion show the real parameters.
    """

    @functools.wraps(func)
    def method(self: StoriAccessor, *args: Any, **kwargs: Any) -> Any:
        return func(self._obj, *args, **kwargs)

    params = list(inspect.signature(func).parameters.values())
    self_param = inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)
    method.__signature__ = inspect.signature(
        func
    ).replace(  # type: ignore[attr-defined]
        parameters=[self_param, *params[1:]]
    )
    return method


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
        method: str = "stori",
        **options: Any,
    ):
        """Fill the gaps on the target dates; see :func:`stori_xr.fill.interpolate`."""
        return interpolate(self._obj, sar, times, method, **options)

    def fit(self, sar: xr.Dataset | None = None, method: str = "stori", **options: Any):
        """Fit a learning method on this scene; see :func:`stori_xr.fill.fit`."""
        from stori_xr.fill import fit

        return fit(self._obj, sar, method, **options)

    def evaluate(self, sar: xr.Dataset | None = None, **options: Any):
        """Score methods on hidden clear values; see :func:`stori_xr.evaluate.evaluate`."""
        return evaluate(self._obj, sar, **options)

    def to_zarr(self, store: Any, **kwargs: Any):
        """Write to Zarr chunk by chunk; see :func:`stori_xr.output.to_zarr`."""
        return to_zarr(self._obj, store, **kwargs)

    plot_maps = _method(plot.plot_maps)
    plot_pixel = _method(plot.plot_pixel)


xr.register_dataset_accessor("stori")(StoriAccessor)
xr.register_dataarray_accessor("stori")(StoriAccessor)
