"""The ``.stori`` accessor: a table of contents that delegates to free functions.

Each method is its free function with the object as first argument: the same name,
docstring and signature (less that argument), made from the function by
:func:`_method`, so ``help(ds.stori.interpolate)`` and tab completion show every
parameter, and the two can never drift apart.

Examples
--------
>>> import inspect
>>> from stori_xr.datasets import make_scene
>>> scene = make_scene(16, 16, periods=12, seed=1)
>>> list(inspect.signature(scene.optical.stori.align).parameters)[:3]
['sar', 'times', 'tolerance']
>>> out = scene.optical.stori.interpolate(scene.sar, method="linear")
>>> out.attrs["stori_method"]
'linear'
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

import xarray as xr

from stori_xr import align as _align
from stori_xr import fill, output, plot
from stori_xr.evaluate import evaluate as _evaluate


def _method(func: Callable[..., Any]) -> Callable[..., Any]:
    """An accessor method calling ``func(self._obj, ...)``.

    Its name, docstring and signature (without the first parameter, the object) are
    ``func``'s, so ``help(ds.stori.<name>)`` and tab completion show the real parameters.
    """

    @functools.wraps(func)
    def method(self: StoriAccessor, *args: Any, **kwargs: Any) -> Any:
        return func(self._obj, *args, **kwargs)

    signature = inspect.signature(func)
    params = list(signature.parameters.values())
    self_param = inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)
    method.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[self_param, *params[1:]]
    )
    return method


class StoriAccessor:
    """STORI methods on an optical (or result) cube; each one calls a free function."""

    def __init__(self, obj: xr.Dataset | xr.DataArray):
        self._obj = obj

    align = _method(_align.align)
    interpolate = _method(fill.interpolate)
    fit = _method(fill.fit)
    evaluate = _method(_evaluate)
    to_zarr = _method(output.to_zarr)
    plot_maps = _method(plot.plot_maps)
    plot_pixel = _method(plot.plot_pixel)


xr.register_dataset_accessor("stori")(StoriAccessor)
xr.register_dataarray_accessor("stori")(StoriAccessor)
