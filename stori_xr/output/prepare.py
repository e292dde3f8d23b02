"""The Dataset made ready for a new Zarr store, and the store's metadata made without its data.

:func:`_for_zarr` drops the storage attributes and encodings inherited from the source
files, lists the coordinates a ``grid_mapping`` names, gives ``stori_source`` its
``no_data`` fill value and makes irregular dask chunks regular; :func:`_metadata_only`
makes the template whose write creates the store's metadata (and the variables held in
memory) without xarray's own write graph for the data.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any

import xarray as xr

from stori_xr.kernels.flags import NODATA

#: The flag variable whose unwritten chunks must read as ``no_data``.
_FLAGS = "stori_source"


def _for_zarr(obj: xr.Dataset | xr.DataArray, mode: str, zarr_format: int | None) -> xr.Dataset:
    """A shallow copy of ``obj`` with attributes and encodings fit for a new Zarr store."""
    ds = obj.to_dataset(name=obj.name or "values") if isinstance(obj, xr.DataArray) else obj
    ds = ds.copy()
    for var in ds.variables.values():
        var.attrs = dict(var.attrs)
        link = var.attrs.pop("grid_mapping", var.encoding.get("grid_mapping"))
        var.attrs.pop("coordinates", None)  # xarray writes it from the coordinates
        var.encoding = {"grid_mapping": link} if link in ds.variables else {}
    _keep_coordinates(ds)
    if _FLAGS in ds.variables and mode in ("w", "w-"):
        fill = "fill_value" if _format(zarr_format) >= 3 else "_FillValue"
        ds[_FLAGS].encoding[fill] = NODATA
    return _uniform_chunks(ds)


def _keep_coordinates(ds: xr.Dataset) -> None:
    """List the scalar and auxiliary coordinates in each variable's ``coordinates``.

    xarray leaves a coordinate that a ``grid_mapping`` names (``spatial_ref``) out of
    the ``coordinates`` attributes it writes, so ``xr.open_zarr`` would read it back
    as a data variable.
    """
    auxiliary = [c for c in ds.coords if c not in ds.dims]
    for var in ds.data_vars.values():
        if "grid_mapping" not in var.encoding:
            continue
        names = sorted(str(c) for c in auxiliary if set(ds[c].dims) <= set(var.dims))
        if names:
            var.encoding["coordinates"] = " ".join(names)


def _format(zarr_format: int | None) -> int:
    """The Zarr format that will be written: the one asked for, else zarr's default."""
    if zarr_format is not None:
        return int(zarr_format)
    import zarr

    if int(zarr.__version__.split(".")[0]) < 3:
        return 2
    return int(zarr.config.get("default_zarr_format", 3))


def _uniform_chunks(ds: xr.Dataset) -> xr.Dataset:
    """Rechunk dims whose dask chunks are irregular (Zarr needs equal chunks but the last)."""
    fix: dict[Hashable, int] = {}
    for dim, sizes in ds.chunksizes.items():
        if len(sizes) > 1 and (len(set(sizes[:-1])) > 1 or sizes[-1] > sizes[0]):
            fix[dim] = max(sizes)
    return ds.chunk(fix) if fix else ds


def _metadata_only(ds: xr.Dataset, kwargs: Mapping[str, Any]) -> tuple[xr.Dataset, dict]:
    """``ds`` with each dask-backed variable as one empty chunk, and the encoding to use.

    Creating a store from it writes the same metadata as from ``ds`` (the Zarr chunks
    are set in the encoding to the dask chunks of ``ds``), without building xarray's own
    write graph for the data (seconds for a whole tile): the tiles write the data.
    """
    import dask.array as dsa

    encoding = {k: dict(v) for k, v in (kwargs.get("encoding") or {}).items()}
    template = ds.copy()
    for name, var in ds.variables.items():
        if var.chunks is None:
            continue
        chunks = tuple(c[0] for c in var.chunks)
        empty = var.copy(deep=False, data=dsa.empty(var.shape, dtype=var.dtype, chunks=-1))
        empty.encoding = {**var.encoding, "chunks": chunks}
        template[name] = empty
        if name in encoding:  # xarray replaces the variable's encoding with the given one
            encoding[name].setdefault("chunks", chunks)
    return template, ({**kwargs, "encoding": encoding} if encoding else dict(kwargs))
