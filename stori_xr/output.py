"""Writing results: Zarr stores, streamed chunk by chunk."""

from __future__ import annotations

import os
import warnings
from collections.abc import Hashable, MutableMapping
from typing import Any

import xarray as xr


def _uniform_chunks(ds: xr.Dataset) -> xr.Dataset:
    """Rechunk dims whose dask chunks are irregular (Zarr needs equal chunks but the last)."""
    fix: dict[Hashable, int] = {}
    for dim, sizes in ds.chunksizes.items():
        if len(sizes) > 1 and (len(set(sizes[:-1])) > 1 or sizes[-1] > sizes[0]):
            fix[dim] = max(sizes)
    return ds.chunk(fix) if fix else ds


def to_zarr(
    obj: xr.Dataset | xr.DataArray,
    store: str | os.PathLike | MutableMapping,
    *,
    mode: str = "w-",
    compute: bool = True,
    **kwargs: Any,
):
    """Write a result to a Zarr store, chunk by chunk for dask-backed data.

    Encodings inherited from the source files (NetCDF chunk sizes, integer fill
    values) are dropped so that they cannot clash with the new layout; irregular
    dask chunks are made regular, as Zarr requires.

    Parameters
    ----------
    obj : Dataset or DataArray
        What to write (a DataArray is written as a one-variable Dataset).
    store : str, path or mapping
        The Zarr store.
    mode : str, default "w-"
        ``"w-"`` refuses to overwrite an existing store, ``"w"`` replaces it, ``"a"``
        appends (see :meth:`xarray.Dataset.to_zarr`).
    compute : bool, default True
        When False, return a :class:`dask.delayed.Delayed` that writes on compute.
    **kwargs
        Passed to :meth:`xarray.Dataset.to_zarr`.

    Returns
    -------
    ZarrStore or Delayed
        As returned by :meth:`xarray.Dataset.to_zarr`.
    """
    ds = obj.to_dataset(name=obj.name or "values") if isinstance(obj, xr.DataArray) else obj
    ds = ds.copy()
    for var in ds.variables.values():
        # keep only the link to the CRS variable (CF grid_mapping)
        var.encoding = {k: v for k, v in var.encoding.items() if k == "grid_mapping"}
    ds = _uniform_chunks(ds)
    if isinstance(store, os.PathLike):
        store = os.fspath(store)
    with warnings.catch_warnings():
        # zarr 3 warns that consolidated metadata is not in its spec; xarray still
        # writes and reads it, and it saves one request per variable on object stores
        warnings.filterwarnings("ignore", "Consolidated metadata", UserWarning)
        return ds.to_zarr(store, mode=mode, compute=compute, **kwargs)
