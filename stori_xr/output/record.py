"""The tiles of a write and the store's record of which are written.

:class:`_Plan` cuts the dask-backed variables into write tasks: one per spatial tile
(the dask chunk grid along y and x, all dates), one per variable without both spatial
dims. The record, the group :data:`RECORD` of the store, marks each task once its data
is written: :func:`_create_record` makes it (every tile unwritten), :func:`_read_record`
reads it back for a resume, :func:`_drop_record` removes it before an append, and
:func:`_check_tiles_align` refuses Zarr chunks that two tiles would share.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

from stori_xr.exceptions import ChunkingError, SpatialDimError, StoreExistsError
from stori_xr.output.store import _Target
from stori_xr.validate import find_spatial_dims

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
