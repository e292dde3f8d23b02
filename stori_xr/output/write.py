"""The two public functions: :func:`to_zarr`, which writes a result, and :func:`tiles_written`.

:func:`to_zarr` prepares the Dataset, creates the store (metadata, the variables held in
memory and the record of tiles; :func:`_create`) and returns or computes the write of
the tiles, or resumes an interrupted write; :func:`tiles_written` counts the write tasks
a store's record marks done.
"""

from __future__ import annotations

import os
import shutil
import warnings
from collections.abc import Callable, MutableMapping
from pathlib import Path
from typing import Any

import xarray as xr

from stori_xr.exceptions import StoreExistsError
from stori_xr.metadata import INCOMPLETE, WRITE_STATUS, provenance
from stori_xr.output.prepare import _for_zarr, _metadata_only
from stori_xr.output.record import (
    _TILES,
    _WHOLE,
    _WRITTEN,
    RECORD,
    _check_tiles_align,
    _create_record,
    _drop_record,
    _Plan,
)
from stori_xr.output.resume import _check_resume, _resume
from stori_xr.output.store import _exists, _exists_message, _local_path, _Target
from stori_xr.output.tasks import _consolidate, _mark_complete, _run, _writes


def to_zarr(
    obj: xr.Dataset | xr.DataArray,
    store: str | os.PathLike | MutableMapping,
    *,
    mode: str = "w-",
    compute: bool = True,
    resume: bool = False,
    **kwargs: Any,
):
    """Write a result to a Zarr store, tile by tile for dask-backed data; resume a write.

    The store says whether it is complete: its ``stori_write_status`` attribute reads
    ``"incomplete"`` until the last chunk is written, then ``"complete"``
    (:func:`stori_xr.io.open_cube` refuses an incomplete store). Unwritten chunks of
    ``stori_source`` read as ``no_data`` (the Zarr fill value; with ``zarr_format=2``
    the flag is CF-masked instead, so they read as NaN), those of the bands and sigmas
    as NaN. After :func:`xarray.open_zarr`, the CRS variable (``spatial_ref``) is a
    coordinate again. The global attribute ``stori_version`` names the version of
    stori_xr that wrote the store; ``stori_method``, ``history`` and ``source`` are
    the result's own.

    The dask-backed variables are written by one dask task per spatial tile (the dask
    chunks along y and x, all dates), which writes every variable's block of that tile
    and then marks the tile written in the store's record, the group ``stori_write``
    (:data:`RECORD`; see :func:`tiles_written`). Variables held in memory are written
    when the store is created.

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
        appends (see :meth:`xarray.Dataset.to_zarr`). An append is written by xarray's
        own writer and removes the tile record.
    compute : bool, default True
        When False, return a :class:`dask.delayed.Delayed` that writes the tiles (with
        ``resume=True``: the tiles still missing) and then marks the store complete.
    resume : bool, default False
        Finish the write of an incomplete store made by an earlier call with the same
        result (same variables, shapes, chunks, coordinates, attributes and options):
        only the tiles its record does not mark are computed and written, and the store
        ends identical to one written without interruption. A complete store is left
        as it is (with a warning); a missing store is written from scratch. A store of
        another layout is refused.
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
        When ``mode="w-"`` and the store exists (the message says whether it is
        complete); with ``resume=True``, when the store was not written by stori_xr or
        holds another layout (the message names the differences).
    OptionError
        When ``resume=True`` comes with ``mode="w"``, ``"a"`` or ``"r+"``, or with
        ``region=`` or ``append_dim=``.
    ChunkingError
        When the Zarr chunks asked for (``encoding=``) cut across the dask tiles.

    Examples
    --------
    >>> import tempfile
    >>> from stori_xr.datasets import make_scene
    >>> scene = make_scene(16, 16, periods=12, seed=1, chunks={"y": 8, "x": 8})
    >>> out = scene.optical.stori.interpolate(scene.sar, method="linear")
    >>> store = Path(tempfile.mkdtemp()) / "out.zarr"
    >>> out.stori.to_zarr(store)
    >>> xr.open_zarr(store).attrs["stori_write_status"]
    'complete'
    >>> tiles_written(store)  # 2 x 2 tiles of 8 x 8 px
    (4, 4)

    A write that was interrupted is finished by the same call with ``resume=True``. On
    a complete store, as this one, it writes nothing (and warns so):

    >>> out.stori.to_zarr(store, resume=True)  # doctest: +SKIP
    >>> shutil.rmtree(store.parent)
    """
    _check_resume(mode, resume, kwargs)
    ds = _for_zarr(obj, mode, kwargs.get("zarr_format"))
    path = _local_path(store)
    if isinstance(store, os.PathLike):
        store = os.fspath(store)
    if "region" in kwargs:  # a region of an existing store: its status stays as it is
        writes = ds.to_zarr(store, mode=mode, compute=False, **kwargs)
        return writes.compute() if compute else writes
    ds.attrs[WRITE_STATUS] = INCOMPLETE
    ds.attrs.update(provenance())
    # an absolute path: the tasks may run in worker processes with another folder
    target = _Target.of(os.path.abspath(store) if path is not None else store, kwargs)
    if resume and _exists(target, path):
        return _resume(ds, target, compute, kwargs, f"the Zarr store {str(store)!r}")
    if mode == "w-" and path is not None and path.exists() and not resume:
        raise StoreExistsError(_exists_message(path))
    if mode not in ("w", "w-"):  # an append, written by xarray's writer
        _drop_record(target)  # first: it would say the appended tiles are written
        writes = _create(ds, store, path, mode, kwargs)
        if not compute:
            import dask

            return dask.delayed(_mark_complete, pure=False)(writes, target)
        writes.compute()
        _mark_complete(None, target)
        return None
    plan = _Plan.of(ds)

    def prepare() -> Any:  # inside _create: a refusal removes the store
        group = target.open()
        _check_tiles_align(group, plan)
        if _create_record(group, plan) is not None:
            _consolidate(group, target)  # readers of the consolidated metadata see it
        return group

    template, options = _metadata_only(ds, kwargs)
    mode = "w" if resume and path is not None else mode
    group = _create(template, store, path, mode, options, prepare)
    return _run(_writes(ds, plan, target, group, None, kwargs), compute)


def tiles_written(
    store: str | os.PathLike | MutableMapping,
    *,
    group: str | None = None,
    storage_options: dict | None = None,
) -> tuple[int, int]:
    """How many of a store's write tasks are done: ``(written, total)``.

    One task per spatial tile, plus one per dask-backed variable without both spatial
    dims, as :func:`to_zarr` wrote them. ``(0, 0)`` for a store without a record (one
    written from data held in memory, an append, or a store not written by stori_xr):
    its ``stori_write_status`` attribute alone tells whether it is complete.

    Examples
    --------
    >>> tiles_written(tmp_path / "out.zarr")  # doctest: +SKIP
    (16, 16)
    """
    if isinstance(store, os.PathLike):
        store = os.fspath(store)
    target = _Target(store, group, storage_options)
    try:
        record = target.open("r")[RECORD]
    except (KeyError, FileNotFoundError):
        return 0, 0
    written = total = 0
    for name in (_TILES, _WHOLE):
        if name in record:
            marks = record[name][...]
            written, total = written + int((marks == _WRITTEN).sum()), total + marks.size
    return written, total


def _create(
    ds: xr.Dataset,
    store: Any,
    path: Path | None,
    mode: str,
    kwargs: dict,
    then: Callable[[], Any] | None = None,
) -> Any:
    """Create the store: metadata and the variables held in memory (xarray's writer).

    Returns xarray's delayed write of the dask-backed variables, or what ``then()``
    returns when given (run once the store is created). A failure (nothing was computed
    yet) removes the store this call created, so that a retry can start afresh.
    """
    created = path is not None and not path.exists()
    try:
        with warnings.catch_warnings():
            # zarr 3 warns that consolidated metadata is not in its spec; xarray still
            # writes and reads it, and it saves one request per variable on object stores
            warnings.filterwarnings("ignore", "Consolidated metadata", UserWarning)
            writes = ds.to_zarr(store, mode=mode, compute=False, **kwargs)
        return writes if then is None else then()
    except FileExistsError as error:  # a remote store, or one created meanwhile
        raise StoreExistsError(_exists_message(store)) from error
    except BaseException:
        if created and path.exists():
            shutil.rmtree(path)
        raise
