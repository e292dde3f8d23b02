"""The write tasks: one dask task per tile and per whole variable, then the status.

:func:`_writes` builds the delayed write as one dask graph: each task writes its
variables' blocks (:func:`_write_tile`, :func:`_write_whole`) and then marks them in the
record, and the last task marks the store complete and consolidates its metadata
(:func:`_mark_complete`); a resume culls the graph to the tasks still to run.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

from stori_xr.metadata import COMPLETE, WRITE_STATUS
from stori_xr.output.record import _TILES, _WHOLE, _WRITTEN, RECORD, _Plan
from stori_xr.output.store import _Target


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
