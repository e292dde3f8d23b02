"""Writing results: Zarr stores, written tile by tile, that say how far they got.

A store written by :func:`to_zarr` carries the global attribute ``stori_write_status``
(:data:`stori_xr.metadata.WRITE_STATUS`): ``"incomplete"`` from the moment it is
created, ``"complete"`` once every chunk is written — the last thing the write does. A
store whose write failed or was interrupted therefore says so; unwritten chunks read as
NaN for the bands and sigmas and as ``no_data`` for ``stori_source``.

The dask-backed variables are written by one task per spatial tile (the dask chunk grid
along y and x, all dates): the task writes every variable's block of its tile, then marks
the tile in the store's record (the group ``stori_write``, :data:`RECORD`). A write
interrupted for any reason is finished by ``to_zarr(..., resume=True)``, which computes
only the tiles the record does not mark.
"""

from __future__ import annotations

import json
import os
import shutil
import warnings
from collections.abc import Callable, Hashable, Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from stori_xr.exceptions import (
    ChunkingError,
    OptionError,
    SpatialDimError,
    StoreExistsError,
    StoriWarning,
    warn,
)
from stori_xr.kernels.flags import NODATA
from stori_xr.metadata import (
    COMPLETE,
    INCOMPLETE,
    WRITE_STATUS,
    history_without_times,
    provenance,
)
from stori_xr.validate import find_spatial_dims

#: The flag variable whose unwritten chunks must read as ``no_data``.
_FLAGS = "stori_source"

#: The group of a store that records which tiles are written. A child group, so
#: ``xr.open_zarr(store)`` does not show it; ``xr.open_datatree(store, engine="zarr")``
#: shows it as the node ``/stori_write``.
RECORD = "stori_write"
#: In :data:`RECORD`: int8 ``(tile_<y>, tile_<x>)``, 1 where the tile is written, one
#: Zarr chunk per tile so that concurrent writers never touch the same object.
_TILES = "tiles"
#: In :data:`RECORD`: int8 ``(variable,)``, 1 where a dask-backed variable without both
#: spatial dims (written whole, in one task) is written.
_WHOLE = "whole"
_WRITTEN = 1

#: Keyword arguments of :meth:`xarray.Dataset.to_zarr` that say where the store is, not
#: what it holds (left out of the layout comparison of ``resume=True``).
_LOCATION = frozenset({"storage_options"})


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


# --- where the write goes ---------------------------------------------------------


@dataclass(frozen=True)
class _Target:
    """A store, the group in it that :meth:`xarray.Dataset.to_zarr` writes, and how."""

    store: Any
    group: str | None = None
    storage_options: dict | None = None
    consolidated: bool = True
    write_empty_chunks: bool | None = None

    @classmethod
    def of(cls, store: Any, kwargs: Mapping[str, Any]) -> _Target:
        return cls(
            store,
            kwargs.get("group"),
            kwargs.get("storage_options"),
            kwargs.get("consolidated", None) is not False,
            kwargs.get("write_empty_chunks"),
        )

    def open(self, mode: str = "r+") -> Any:
        """The Zarr group, read from its own metadata (not the consolidated copy)."""
        import zarr

        extra = {"storage_options": self.storage_options} if self.storage_options else {}
        return zarr.open_group(
            self.store, mode=mode, path=self.group or "", use_consolidated=False, **extra
        )

    def array(self, group: Any, name: str) -> Any:
        """A Zarr array of the group, opened to be written as xarray would."""
        if self.write_empty_chunks is None:
            return group[name]
        import zarr

        return zarr.open_array(
            group.store_path / name,
            mode="r+",
            config={"write_empty_chunks": self.write_empty_chunks},
        )


def _exists(target: _Target, path: Path | None) -> bool:
    """Whether the store holds anything (an empty folder holds nothing)."""
    if path is not None:
        return path.exists() and not (path.is_dir() and not any(path.iterdir()))
    try:
        target.open("r")
    except FileNotFoundError:  # zarr's GroupNotFoundError is one
        return False
    return True


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


# --- the tiles ----------------------------------------------------------------------


@dataclass(frozen=True)
class _Plan:
    """How the dask-backed variables are cut into write tasks."""

    dims: tuple[Hashable, Hashable] | None  #: the spatial (y, x) dims the tiles cut
    starts: tuple[tuple[int, ...], tuple[int, ...]]  #: first row / column of each tile
    tiled: tuple[str, ...]  #: dask-backed variables with both spatial dims
    whole: tuple[str, ...]  #: other dask-backed variables, one task each

    @classmethod
    def of(cls, ds: xr.Dataset) -> _Plan:
        lazy = [str(k) for k, v in ds.variables.items() if v.chunks is not None]
        try:
            dims = find_spatial_dims(ds)
        except SpatialDimError:
            dims = None
        tiled = [k for k in lazy if dims is not None and set(dims) <= set(ds[k].dims)]
        if not tiled:
            return cls(None, ((), ()), (), tuple(lazy))
        sizes = ds[tiled[0]].chunksizes
        starts = tuple(tuple(int(s) for s in np.cumsum((0, *sizes[d][:-1]))) for d in dims)
        whole = tuple(k for k in lazy if k not in tiled)
        return cls(dims, starts, tuple(tiled), whole)

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.starts[0]), len(self.starts[1])


def _check_tiles_align(group: Any, plan: _Plan) -> None:
    """Refuse Zarr chunks (or shards) that two tiles would share: they would race."""
    for name in plan.tiled:
        array = group[name]
        dims = _array_dims(array)
        grid = array.shards or array.chunks
        for dim, starts in zip(plan.dims, plan.starts, strict=True):
            size = grid[dims.index(str(dim))]
            if any(start % size for start in starts):
                raise ChunkingError(
                    f"the Zarr chunks of {name!r} ({size} along {dim!r}) cut across the "
                    f"dask chunks, which start at {list(starts)}: give Zarr chunks that "
                    f"divide the dask chunks (encoding={{{name!r}: {{'chunks': ...}}}}), or "
                    "none (they follow the dask chunks)."
                )


def _array_dims(array: Any) -> list[str]:
    names = array.metadata.dimension_names if array.metadata.zarr_format == 3 else None
    return list(names or array.attrs["_ARRAY_DIMENSIONS"])


def _create_record(group: Any, plan: _Plan) -> Any:
    """Make the store's record of written tiles, every tile unwritten.

    None when nothing is left to write once the store is created (no dask-backed data).
    """
    if not (plan.tiled or plan.whole):
        return None
    record = group.create_group(
        RECORD,
        overwrite=True,
        attributes={
            "description": (
                "Which parts of this store stori_xr.output.to_zarr has written: 1 where "
                "written, 0 (the fill value) where not. Each part is written before it is "
                "marked, so a 0 is a part to (re)write; to_zarr(..., resume=True) does so."
            )
        },
    )
    v3 = group.metadata.zarr_format == 3
    if plan.tiled:
        ydim, xdim = (str(d) for d in plan.dims)
        attrs = {
            "long_name": "spatial tiles written",
            "flag_values": [0, _WRITTEN],
            "flag_meanings": "not_written written",
            "tile_dims": [ydim, xdim],
            "tile_starts": [list(s) for s in plan.starts],
            "variables": list(plan.tiled),
        }
        _record_array(record, _TILES, plan.shape, [f"tile_{ydim}", f"tile_{xdim}"], attrs, v3)
    if plan.whole:
        attrs = {
            "long_name": "variables without both spatial dims, written whole",
            "flag_values": [0, _WRITTEN],
            "flag_meanings": "not_written written",
            "variables": list(plan.whole),
        }
        _record_array(record, _WHOLE, (len(plan.whole),), ["variable"], attrs, v3)
    return record


def _record_array(record: Any, name: str, shape: tuple, dims: list, attrs: dict, v3: bool):
    named = {"dimension_names": dims} if v3 else {}
    if not v3:
        attrs = {**attrs, "_ARRAY_DIMENSIONS": dims}
    record.create_array(
        name,
        shape=shape,
        chunks=(1,) * len(shape),
        dtype="int8",
        fill_value=0,
        attributes=attrs,
        overwrite=True,
        **named,
    )


def _read_record(group: Any, plan: _Plan) -> tuple[np.ndarray, np.ndarray] | None:
    """The marks of the record (tiles, whole variables); None when it has none.

    Raises
    ------
    StoreExistsError
        When the record describes other tiles than ``plan``.
    """
    if RECORD not in group:
        return None
    record = group[RECORD]
    tiles = np.zeros(plan.shape if plan.tiled else (0, 0), np.int8)
    whole = np.zeros(len(plan.whole), np.int8)
    for name, marks, variables, starts in (
        (_TILES, tiles, plan.tiled, [list(s) for s in plan.starts]),
        (_WHOLE, whole, plan.whole, None),
    ):
        if not variables:
            continue
        array = record.get(name)
        if (
            array is None
            or array.shape != marks.shape
            or array.attrs.get("variables") != list(variables)
            or array.attrs.get("tile_starts", None) != starts
        ):
            raise StoreExistsError(
                f"cannot resume: the record of written tiles in {group.store_path} "
                f"({RECORD}/{name}) does not match this result's tiles; pass mode='w' "
                "to write the store again."
            )
        marks[...] = array[...]
    return tiles, whole


def _drop_record(target: _Target) -> None:
    """Remove the record (before an append, which is not written tile by tile)."""
    try:
        group = target.open()
    except FileNotFoundError:
        return
    if RECORD in group:
        del group[RECORD]


def _writes(
    ds: xr.Dataset,
    plan: _Plan,
    target: _Target,
    group: Any,
    done: tuple[np.ndarray, np.ndarray] | None,
    kwargs: Mapping[str, Any],
):
    """The delayed write of what ``done`` does not mark, then of the status.

    One dask graph of one task per tile (and per whole variable), culled to the tasks
    to run: dask computes only what they need.
    """
    import dask
    import dask.array as da
    from dask.base import tokenize
    from dask.delayed import Delayed
    from dask.highlevelgraph import HighLevelGraph

    zarr_format = group.metadata.zarr_format
    names = plan.tiled + plan.whole
    data = {k: _encoded(ds, k, kwargs.get("encoding"), zarr_format) for k in names}
    token = tokenize(
        str(target.store) if isinstance(target.store, str) else id(target.store),
        target.group,
        [data[k].data.name for k in names],
    )
    record = group[RECORD] if names else None
    arrays = dask.delayed(
        _Arrays(
            tuple(target.array(group, k) for k in names),
            record[_TILES] if plan.tiled else None,
            record[_WHOLE] if plan.whole else None,
        ),
        name=f"stori-zarr-arrays-{token}",
        traverse=False,
    )
    layers, keys = [], []
    dim_index = {d: f"d{i}" for i, d in enumerate(ds.dims)}
    if plan.tiled:
        ydim, xdim = plan.dims
        index = {**dim_index, ydim: "ty", xdim: "tx"}
        pairs = []
        for k in plan.tiled:
            pairs += [data[k].data, tuple(index[d] for d in data[k].dims)]
        ny, nx = plan.shape
        marks = da.blockwise(
            _write_tile,
            ("ty", "tx"),
            da.arange(ny, chunks=1),
            ("ty",),
            da.arange(nx, chunks=1),
            ("tx",),
            *pairs,
            concatenate=True,
            align_arrays=False,
            adjust_chunks={"ty": 1, "tx": 1},
            dtype=np.int8,
            meta=np.empty((0, 0), np.int8),
            name=f"stori-write-tiles-{token}",
            arrays=arrays,
            axes=tuple((data[k].dims.index(ydim), data[k].dims.index(xdim)) for k in plan.tiled),
            starts=plan.starts,
        )
        todo = np.ones(plan.shape, bool) if done is None else done[0] != _WRITTEN
        layers.append(marks.dask)
        keys += [(marks.name, int(i), int(j)) for i, j in np.argwhere(todo)]
    for n, k in enumerate(plan.whole):
        written = da.blockwise(
            _write_whole,
            (),
            data[k].data,
            tuple(dim_index[d] for d in data[k].dims),
            concatenate=True,
            dtype=np.int8,
            meta=np.empty((), np.int8),
            name=f"stori-write-whole-{n}-{token}",
            arrays=arrays,
            position=len(plan.tiled) + n,
            mark=n,
        )
        layers.append(written.dask)
        if done is None or done[1][n] != _WRITTEN:
            keys.append((written.name,))
    # the graph as built (dask optimises it when it computes): a whole tile's tasks are
    # not materialised here; only a resume culls it to the tasks still to run
    final = f"stori-mark-complete-{tokenize(token, keys)}"
    graph = HighLevelGraph.merge(*layers) if keys else HighLevelGraph({}, {})
    if done is not None and keys:
        graph = graph.cull(set(keys))
    layer = {final: (_mark_complete, list(keys), target)}
    graph = HighLevelGraph(
        {**graph.layers, final: layer},
        {**graph.dependencies, final: set(graph.layers)},
    )
    return Delayed(final, graph)


def _run(writes: Any, compute: bool) -> Any:
    if not compute:
        return writes
    writes.compute()
    return None


def _encoded(ds: xr.Dataset, name: str, encoding: Mapping | None, zarr_format: int):
    """The variable as xarray writes it to Zarr: CF-encoded (dtype, scale, dates …)."""
    from xarray.backends.zarr import encode_zarr_variable

    var = ds.variables[name].copy(deep=False)
    if encoding and name in encoding:
        var.encoding = dict(encoding[name])
    return encode_zarr_variable(var, name=name, zarr_format=zarr_format)


@dataclass(frozen=True)
class _Arrays:
    """What the write tasks write to: the variables' Zarr arrays, then the record."""

    variables: tuple
    tiles: Any
    whole: Any


def _write_tile(
    iy: np.ndarray,
    ix: np.ndarray,
    *blocks: np.ndarray,
    arrays: _Arrays,
    axes: tuple,
    starts: tuple,
) -> np.ndarray:
    """Write every variable's block of tile (iy, ix), then mark the tile written."""
    i, j = int(iy[0]), int(ix[0])
    tiled = arrays.variables[: len(blocks)]  # the whole variables come after
    for array, block, (ya, xa) in zip(tiled, blocks, axes, strict=True):
        region = [slice(None)] * block.ndim
        region[ya] = slice(starts[0][i], starts[0][i] + block.shape[ya])
        region[xa] = slice(starts[1][j], starts[1][j] + block.shape[xa])
        array[tuple(region)] = block
    arrays.tiles[i, j] = _WRITTEN
    return np.full((1, 1), _WRITTEN, np.int8)


def _write_whole(block: np.ndarray, *, arrays: _Arrays, position: int, mark: int):
    """Write a whole variable (one without both spatial dims), then mark it written."""
    arrays.variables[position][...] = block
    arrays.whole[mark] = _WRITTEN
    return np.int8(_WRITTEN)


def _mark_complete(_writes: Any, target: _Target) -> None:
    """Write ``stori_write_status="complete"``, then (re)consolidate the metadata.

    ``_writes`` is the finished write, passed only to order this after it in a graph.
    """
    group = target.open()
    group.attrs[WRITE_STATUS] = COMPLETE
    _consolidate(group, target)


def _consolidate(group: Any, target: _Target) -> None:
    """(Re)write the consolidated metadata of the whole store, as xarray writes it."""
    import zarr

    if target.consolidated:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Consolidated metadata", UserWarning)
            zarr.consolidate_metadata(group.store, zarr_format=group.metadata.zarr_format)


# --- resuming -----------------------------------------------------------------------


def _check_resume(mode: str, resume: bool, kwargs: Mapping[str, Any]) -> None:
    if not resume:
        return
    if mode != "w-":
        raise OptionError(
            f"resume=True finishes the write of an existing store, mode={mode!r} "
            + ("replaces it" if mode == "w" else "writes into it otherwise")
            + ": pass one or the other (resume=True alone writes a missing store)."
        )
    for key in ("region", "append_dim"):
        if kwargs.get(key) is not None:
            raise OptionError(
                f"resume=True finishes the write of a whole store; it does not take "
                f"{key}=: resume the write that created the store, without {key}=."
            )


def _resume(ds: xr.Dataset, target: _Target, compute: bool, kwargs: dict, where: str) -> Any:
    """Finish an incomplete store of the same layout; leave a complete one as it is."""
    try:
        group = target.open()
    except Exception as error:  # a file, a folder of other things, broken metadata
        raise StoreExistsError(
            f"cannot resume {where}: it exists but is not a readable Zarr store; write "
            "to another path, or pass mode='w' to replace it."
        ) from error
    status = group.attrs.get(WRITE_STATUS)
    if status is None:
        raise StoreExistsError(
            f"cannot resume {where}: it was not written by stori_xr (it has no "
            f"{WRITE_STATUS} attribute); pass mode='w' to replace it, or write to "
            "another path."
        )
    differences = _layout_differences(ds, group, kwargs)
    if differences:
        shown = "; ".join(differences[:3])
        more = f" (and {len(differences) - 3} more)" if len(differences) > 3 else ""
        raise StoreExistsError(
            f"cannot resume {where}: it holds another result than this one ({shown}{more}). "
            "Resume with the call that started the write, pass mode='w' to replace the "
            "store, or write to another path."
        )
    plan = _Plan.of(ds)
    if status == COMPLETE:
        warn(f"{where} is already complete: nothing to resume, nothing written.", StoriWarning)
        if compute:
            return None
        import dask

        return dask.delayed(None)
    _check_tiles_align(group, plan)
    done = _read_record(group, plan)
    if done is None and _create_record(group, plan) is not None:
        _consolidate(group, target)  # interrupted before its record was made: all to write
    return _run(_writes(ds, plan, target, group, done, kwargs), compute)


def _layout_differences(ds: xr.Dataset, group: Any, kwargs: Mapping[str, Any]) -> list[str]:
    """How the store differs from the one this call would create (empty: the same).

    The store is created afresh in memory (metadata and the variables held in memory),
    and its metadata and in-memory values compared with the store's, time stamps of
    ``history`` and the write status aside.
    """
    import zarr

    memory = zarr.storage.MemoryStore()
    template, options = _metadata_only(ds, kwargs)
    options = {k: v for k, v in options.items() if k not in _LOCATION}
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Consolidated metadata", UserWarning)
        template.to_zarr(memory, mode="w-", compute=False, **options)
    fresh = _Target(memory, kwargs.get("group")).open("r")
    attrs = _compare(_global_attrs(group), _global_attrs(fresh))
    out = [f"attribute {line}" for line in attrs if not line.startswith("'history'")]
    stored = {k: a for k, a in group.arrays()}
    made = {k: a for k, a in fresh.arrays()}
    for name in sorted(set(stored) ^ set(made)):
        out.append(f"variable {name!r} only in {'the store' if name in stored else 'this result'}")
    variables: dict[str, list[str]] = {}  # a difference: the variables that have it
    for name in sorted(set(stored) & set(made)):
        lines = _compare(_metadata(stored[name]), _metadata(made[name]))
        held = ds.variables[name].chunks is None
        if held and not lines and not _same_values(stored[name][...], made[name][...]):
            lines = ["other values"]
        for line in lines:
            variables.setdefault(line, []).append(name)
    for line, names in variables.items():
        listed = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
        out.append(f"{line} ({listed})")
    return out + [f"attribute {line}" for line in attrs if line.startswith("'history'")]


def _global_attrs(group: Any) -> dict[str, Any]:
    attrs = {k: v for k, v in group.attrs.items() if k != WRITE_STATUS}
    if "history" in attrs:
        attrs["history"] = history_without_times(attrs["history"])
    return attrs


def _metadata(array: Any) -> dict[str, Any]:
    return dict(array.metadata.to_dict())


def _compare(stored: Mapping, fresh: Mapping) -> list[str]:
    """The keys whose values differ, one line each, nested keys by their own name.

    Shapes, dims and data types come first: they tell most about the difference.
    """
    out = []
    absent = object()
    first = ("shape", "dimension_names", "data_type", "dtype")
    for key in sorted(set(stored) | set(fresh), key=lambda k: (str(k) not in first, str(k))):
        a, b = stored.get(key, absent), fresh.get(key, absent)
        if _canonical(a) == _canonical(b):
            continue
        if isinstance(a, Mapping) and isinstance(b, Mapping):
            out += _compare(a, b)
        else:
            out.append(f"{key!r}: {_show(a, b, absent)}")
    return out


def _canonical(value: Any) -> str:
    """Text that is equal for equal metadata values (NaN included, tuples as lists)."""
    return json.dumps(value, sort_keys=True, default=repr)


def _show(stored: Any, fresh: Any, absent: object) -> str:
    """The two values, from where two texts first differ."""
    if isinstance(stored, str) and isinstance(fresh, str):
        start = next(
            (i for i, (a, b) in enumerate(zip(stored, fresh, strict=False)) if a != b),
            min(len(stored), len(fresh)),
        )
        start = max(0, start - 10)
        stored, fresh = (("…" if start else "") + s[start:] for s in (stored, fresh))
    texts = ["absent" if v is absent else _cut(repr(v)) for v in (stored, fresh)]
    return f"{texts[0]} in the store, {texts[1]} in this result"


def _cut(text: str) -> str:
    return text if len(text) <= 50 else text[:47] + "..."


def _same_values(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal arrays, NaN equal to NaN (floats compared as bytes)."""
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if a.dtype.kind in "fc":
        return a.tobytes() == b.tobytes()
    return bool(np.array_equal(a, b))


# --- preparing the Dataset ----------------------------------------------------------


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
                "that failed or was interrupted; resume=True finishes it)"
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
