"""Writing results: Zarr stores, streamed chunk by chunk, that say whether they are complete.

A store written by :func:`to_zarr` carries the global attribute ``stori_write_status``
(:data:`stori_xr.metadata.WRITE_STATUS`): ``"incomplete"`` from the moment it is
created, ``"complete"`` once every chunk is written — the last thing the write does. A
store whose write failed or was interrupted therefore says so; unwritten chunks read as
NaN for the bands and sigmas and as ``no_data`` for ``stori_source``.
"""

from __future__ import annotations

import os
import shutil
import warnings
from collections.abc import Hashable, MutableMapping
from pathlib import Path
from typing import Any

import xarray as xr

from stori_xr.exceptions import StoreExistsError
from stori_xr.kernels.flags import NODATA
from stori_xr.metadata import COMPLETE, INCOMPLETE, WRITE_STATUS

#: The flag variable whose unwritten chunks must read as ``no_data``.
_FLAGS = "stori_source"


def to_zarr(
    obj: xr.Dataset | xr.DataArray,
    store: str | os.PathLike | MutableMapping,
    *,
    mode: str = "w-",
    compute: bool = True,
    **kwargs: Any,
):
    """Write a result to a Zarr store, chunk by chunk for dask-backed data.

    The store says whether it is complete: its ``stori_write_status`` attribute reads
    ``"incomplete"`` until the last chunk is written, then ``"complete"``
    (:func:`stori_xr.io.open_cube` refuses an incomplete store). Unwritten chunks of
    ``stori_source`` read as ``no_data`` (the Zarr fill value; with ``zarr_format=2``
    the flag is CF-masked instead, so they read as NaN), those of the bands and sigmas
    as NaN. After :func:`xarray.open_zarr`, the CRS variable (``spatial_ref``) is a
    coordinate again.

    Storage attributes inherited from the source files (fill values, scale factors,
    ``grid_mapping`` left in the attributes by ``xr.open_dataset``) and their encodings
    (NetCDF chunk sizes) are dropped so that they cannot clash with the new layout;
    irregular dask chunks are made regular, as Zarr requires. The input is not modified.

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
        When False, return a :class:`dask.delayed.Delayed` that writes the chunks and
        then marks the store complete.
    **kwargs
        Passed to :meth:`xarray.Dataset.to_zarr`. With ``region=`` only the region is
        written and the store's status is left as it is.

    Returns
    -------
    None or Delayed
        Nothing when ``compute`` is True (the store is written and marked complete).

    Raises
    ------
    StoreExistsError
        When ``mode="w-"`` and the store exists (the message says whether it is complete).

    Examples
    --------
    >>> from stori_xr.datasets import make_scene
    >>> scene = make_scene(16, 16, periods=12, seed=1)
    >>> out = scene.optical.stori.interpolate(scene.sar, method="linear")
    >>> out.stori.to_zarr(tmp_path / "out.zarr")  # doctest: +SKIP
    >>> xr.open_zarr(tmp_path / "out.zarr").attrs["stori_write_status"]  # doctest: +SKIP
    'complete'
    """
    ds = _for_zarr(obj, mode, kwargs.get("zarr_format"))
    path = _local_path(store)
    if isinstance(store, os.PathLike):
        store = os.fspath(store)
    if mode == "w-" and path is not None and path.exists():
        raise StoreExistsError(_exists_message(path))
    managed = "region" not in kwargs
    if managed:
        ds.attrs[WRITE_STATUS] = INCOMPLETE
    created = path is not None and not path.exists()
    try:
        with warnings.catch_warnings():
            # zarr 3 warns that consolidated metadata is not in its spec; xarray still
            # writes and reads it, and it saves one request per variable on object stores
            warnings.filterwarnings("ignore", "Consolidated metadata", UserWarning)
            writes = ds.to_zarr(store, mode=mode, compute=False, **kwargs)
    except FileExistsError as error:  # a remote store, or one created meanwhile
        raise StoreExistsError(_exists_message(store)) from error
    except BaseException:
        # nothing was computed yet: remove what this call created, so a retry can start
        if created and path.exists():
            shutil.rmtree(path)
        raise
    if not managed:
        return writes.compute() if compute else writes
    consolidated = kwargs.get("consolidated", None) is not False
    if not compute:
        import dask

        return dask.delayed(_mark_complete, pure=False)(writes, store, consolidated)
    writes.compute()
    _mark_complete(None, store, consolidated)
    return None


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


def _local_path(store: Any) -> Path | None:
    """The store as a local path, or None (a mapping, a zarr store, a URL)."""
    if isinstance(store, os.PathLike) or (isinstance(store, str) and "://" not in store):
        return Path(store)
    return None


def _exists_message(store: Any) -> str:
    """Why an existing store is not replaced, and what to do."""
    state = ""
    path = _local_path(store)
    if path is not None:
        status = _status(path)
        if status not in (None, COMPLETE):
            state = (
                f" and is an incomplete stori_xr store ({WRITE_STATUS}={status!r}: a write "
                "that failed or was interrupted)"
            )
        elif path.is_dir() and not any(path.iterdir()):
            state = " (an empty folder)"
        else:
            state = " and holds data"
    return (
        f"the Zarr store {str(store)!r} already exists{state}; pass mode='w' to replace "
        "it, or write to another path."
    )


def _status(path: Path) -> Any:
    """The store's ``stori_write_status`` attribute (None when unreadable or absent)."""
    try:
        import zarr

        return zarr.open_group(str(path), mode="r").attrs.get(WRITE_STATUS)
    except Exception:  # not a Zarr group (any folder or file): no status to report
        return None


def _mark_complete(_writes: Any, store: Any, consolidated: bool) -> None:
    """Write ``stori_write_status="complete"``, then (re)consolidate the metadata.

    ``_writes`` is the finished write, passed only to order this after it in a graph.
    """
    import zarr

    group = zarr.open_group(store, mode="r+")
    group.attrs[WRITE_STATUS] = COMPLETE
    if consolidated:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Consolidated metadata", UserWarning)
            zarr.consolidate_metadata(store)
