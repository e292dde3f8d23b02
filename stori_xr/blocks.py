"""Running a gap-filling method over a cube, tile by tile, the same way for numpy and dask.

The arrays-only core of :func:`stori_xr.fill.interpolate` (no xarray here). The graph
has one layer per operation, built with dask's own tools:

1. the bands and the SAR features, ``(t, y, x)`` each, become one ``(k, t, y, x)``
   stack per tile (:func:`dask.array.stack`), whole along ``k`` and ``t``;
2. :func:`dask.array.overlap.overlap` gives each tile of the stack and of the clear
   mask its halo of neighbouring pixels, for the methods that look at neighbours;
3. one layer runs the method's block function on each tile (:func:`run_tile`) and keeps
   its results together, as a tuple per tile;
4. one layer per output variable takes its array out of the tuples: the values and the
   sigma of each band, ``(m, y, x)`` in the dtype of the bands, and the int8 source flags.

That is about ``k + 1`` stacking tasks, ``2 × 10`` overlap tasks (stack and mask), one
method task and ``2 nb + 1`` output tasks per tile. Numpy input takes the same path:
it is cut into tiles of :data:`TILE` pixels, computed with dask's threaded scheduler
(synchronous when called from a thread other than the main one, e.g. inside a dask
task: no second pool) and stored into preallocated numpy outputs.

With ``stori_xr.set_options(progress=True)``, numpy input shows a bar over its tiles
(:func:`stori_xr.progress.tiles`); dask input, dask's bar when it is computed.

Memory per task is bounded by the tile: the method task holds its haloed stack and
mask, one copy of it in the kernels' layout and its outputs (see
:func:`task_bytes`); :func:`check_task_memory` refuses chunks too large for the workers
of a ``dask.distributed`` cluster before anything runs.
"""

from __future__ import annotations

import itertools
import sys
import threading
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import dask
import dask.array as dsa
import numpy as np
from dask.base import tokenize
from dask.highlevelgraph import HighLevelGraph

from stori_xr import progress
from stori_xr.exceptions import ChunkingError
from stori_xr.kernels.flags import OBSERVED
from stori_xr.validate import check_reflectance_block

#: Tile size (pixels) that numpy input is cut into; the halo comes on top.
TILE = 128

#: Per band, (lowest fill, ceiling) as two arrays of shape (nb,), or None (no bounds).
Bounds = tuple[np.ndarray, np.ndarray] | None


def bound_fills(
    out: np.ndarray, src: np.ndarray, values: np.ndarray, clear: np.ndarray, bounds: Bounds
) -> None:
    """Clip filled values into their band's range, in place; observed values are kept.

    Parameters
    ----------
    out : ndarray, shape (nb, m, ny, nx)
        The method's values on the output dates.
    src : ndarray of int8, shape (m, ny, nx)
        Their source flags: every value not flagged ``observed`` is a fill.
    values : ndarray, shape (nb, ny, nx, nt)
        The input band values of the same pixels.
    clear : ndarray of bool, shape (ny, nx, nt)
        Which input values are usable.
    bounds : (lo, hi) of arrays of shape (nb,), or None
        Per band, the lowest fill and the ceiling; a pixel whose clear values exceed
        the ceiling may be filled up to its largest clear value. None: no bounds.

    Examples
    --------
    >>> out = np.array([[[[-0.2]], [[0.5]], [[1.3]]]], dtype=np.float32)  # (1, 3, 1, 1)
    >>> src = np.array([[[1]], [[0]], [[1]]], dtype=np.int8)
    >>> values = np.array([[[[0.5, 0.5, 0.9]]]], dtype=np.float32)
    >>> bound_fills(out, src, values, np.ones((1, 1, 3), bool), (np.zeros(1), np.ones(1)))
    >>> out.ravel().tolist()
    [0.0, 0.5, 1.0]
    """
    if bounds is None:
        return
    lo, hi = bounds
    fill = src != OBSERVED
    for k in range(out.shape[0]):
        top = np.where(clear, values[k], -np.inf).max(axis=-1, initial=-np.inf)
        top = np.maximum(top, hi[k]).astype(out.dtype)
        np.clip(out[k], out.dtype.type(lo[k]), top[None], out=out[k], where=fill)


def run_tile(
    stack: np.ndarray,
    clear: np.ndarray | None,
    *,
    block: Callable[..., tuple[np.ndarray, np.ndarray, np.ndarray]],
    names: Sequence[str],
    t: np.ndarray,
    out_idx: np.ndarray,
    core: tuple[int, int, int, int],
    options: dict[str, Any],
    bounds: Bounds,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Run a method's block function on one tile and its halo.

    Parameters
    ----------
    stack : ndarray, shape (k, nt, ny, nx)
        The ``nb`` bands, then the SAR features, of the tile and its halo.
    clear : ndarray of bool, shape (nt, ny, nx), or None
        Usable values; a value is used only where every band is also finite (None:
        wherever every band is finite).
    block : callable
        The method's block function (see :class:`stori_xr.fill.Method`).
    names : sequence of str
        The bands' names: the first ``len(names)`` layers of ``stack``.
    t, out_idx : ndarray
        Times in days, and the output dates as indices into ``t``.
    core : (y0, y1, x0, x1)
        The tile within the block (the rest is halo).
    options : dict
        The method's options.
    bounds : (lo, hi) or None
        Range of the filled values, see :func:`bound_fills`.

    Returns
    -------
    values, sigma : ndarray, shape (nb, m, cy, cx)
    source : ndarray of int8, shape (m, cy, cx)
    """
    nb = len(names)
    for k, name in enumerate(names):  # reflectance, not digital numbers: checked in the task
        check_reflectance_block(stack[k], name)
    values = stack[:nb].transpose(0, 2, 3, 1)  # views: the kernels copy into their layout
    sar = stack[nb:].transpose(0, 2, 3, 1) if stack.shape[0] > nb else None
    usable = np.isfinite(stack[:nb]).all(axis=0)
    if clear is not None:
        usable &= clear
    usable = usable.transpose(1, 2, 0)
    y0, y1, x0, x1 = core
    whole = core == (0, stack.shape[2], 0, stack.shape[3])
    extra = {} if whole else {"core": core}
    out, sigma, src = block(values, usable, sar, t, out_idx, **extra, **options)
    window = (slice(y0, y1), slice(x0, x1))
    bound_fills(out, src, values[:, *window], usable[window], bounds)
    return out, sigma, src


def _core(location: Sequence[int], counts: Sequence[int], shape: Sequence[int], halo: int):
    """(y0, y1, x0, x1) of a tile within its overlapped block (no halo at the cube's edge)."""
    (iy, ix), (ny, nx), (sy, sx) = location, counts, shape
    y0 = halo if iy > 0 else 0
    x0 = halo if ix > 0 else 0
    y1 = sy - (halo if iy < ny - 1 else 0)
    x1 = sx - (halo if ix < nx - 1 else 0)
    return y0, y1, x0, x1


def _tile_task(stack, clear=None, *, halo, block_info=None, **kwargs):
    """The method task of one tile: find its core, run it, return the tuple of results."""
    info = block_info[0]
    location, counts = info["chunk-location"][2:], info["num-chunks"][2:]
    core = _core(location, counts, stack.shape[2:], halo)
    return run_tile(stack, clear, core=core, **kwargs)


def _pick(results: tuple, index: int, band: int | None) -> np.ndarray:
    """One output of a tile's results: ``results[index]``, or its band ``band``."""
    array = results[index]
    return array if band is None else array[band]


def _widen(chunks: tuple[int, ...], halo: int) -> tuple[int, ...]:
    """Chunk sizes where every chunk narrower than ``halo`` joins its neighbour."""
    out: list[int] = []
    for size in chunks:
        if out and (size < halo or out[-1] < halo):
            out[-1] += size
        else:
            out.append(size)
    return tuple(out)


def task_bytes(
    k: int,
    nb: int,
    nt: int,
    m: int,
    tile: tuple[int, int],
    halo: int,
    itemsize: int,
    extra: int = 0,
) -> int:
    """Bytes one method task holds at its peak: the documented bound of memory per task.

    The haloed stack and mask it receives, one copy of the stack in the kernels' layout
    (each pixel's dates and bands together), the bands' finiteness, its outputs (values
    and sigma of every band on the ``m`` output dates, and the flags) and the kernel's
    own buffers (:data:`KERNEL_BUFFERS`), plus ``extra`` bytes that the method holds
    besides (:attr:`stori_xr.fill.Method.task_extra`: the ranker's stripe of candidates
    and network inputs). Measured with tracemalloc (``python benchmarks/task_memory.py``)
    on a 256 px tile of 73 dates, 6 bands and 3 SAR features: 646 MiB (3.9 times the
    input chunk), for 668 MiB here; 198 MiB on a 128 px tile (4.8 times, the halo
    weighing more), for 205.

    Examples
    --------
    >>> task_bytes(9, 6, 73, 73, (256, 256), 9, 4) / 2**20  # doctest: +ELLIPSIS
    668.4...
    """
    haloed = (tile[0] + 2 * halo) * (tile[1] + 2 * halo)
    inputs = haloed * nt * (2 * k * itemsize + 1 + nb)
    outputs = tile[0] * tile[1] * m * (2 * nb * itemsize + 1)
    return inputs + outputs + KERNEL_BUFFERS + extra


#: Bytes of the kernel's own buffers in a task (pair models of a 64 px sub-window …).
KERNEL_BUFFERS = 32 * 2**20


def _worker_share() -> tuple[int, int] | None:
    """(memory limit, threads) of the smallest worker of the current distributed client."""
    distributed = sys.modules.get("distributed")
    if distributed is None:
        return None
    try:
        client = distributed.get_client()
    except ValueError:  # no client: the local schedulers share this process's memory
        return None
    workers = client.scheduler_info().get("workers", {}).values()
    shares = [
        (int(w["memory_limit"]), max(int(w.get("nthreads", 1)), 1))
        for w in workers
        if w.get("memory_limit")
    ]
    return min(shares, key=lambda s: s[0] / s[1]) if shares else None


#: Share of a worker thread's memory a task may plan to use (dask spills above 60 %).
MEMORY_SHARE = 0.5

#: glibc's mmap threshold for the processes of dask.distributed workers, whose
#: ``MALLOC_TRIM_THRESHOLD_`` fixes it at 128 KiB: larger arrays are then mapped and
#: zero-filled afresh each time (:mod:`stori_xr.ranker.runtime` and ``stori interpolate
#: --workers`` raise it to this).
MMAP_THRESHOLD = 64 * 2**20


def check_task_memory(
    k: int,
    nb: int,
    nt: int,
    m: int,
    ychunks,
    xchunks,
    halo: int,
    itemsize: int,
    extra: Callable[[tuple[int, int]], int] | None = None,
) -> None:
    """Refuse chunks whose tasks would not fit the memory of a distributed cluster's workers.

    Raises
    ------
    ChunkingError
        With the chunk size to use, when a task needs more than :data:`MEMORY_SHARE` of
        a worker thread's memory.
    """
    share = _worker_share()
    if share is None:
        return
    limit, threads = share
    budget = MEMORY_SHARE * limit / threads
    tile = (max(ychunks), max(xchunks))

    def need(tile: tuple[int, int]) -> int:
        more = 0 if extra is None else extra(tile)
        return task_bytes(k, nb, nt, m, tile, halo, itemsize, more)

    if need(tile) <= budget:
        return
    side = max(tile)
    while side > 16 and need((side, side)) > budget:
        side //= 2
    raise ChunkingError(
        f"each task of this computation needs about {need(tile) / 2**30:.1f} GiB (chunks of "
        f"{tile[0]} x {tile[1]} px, {nt} dates and {k} layers in, {m} dates out), more than "
        f"half of a worker thread's memory ({limit / 2**30:.1f} GiB for {threads} thread(s)):"
        f" use chunks of {side} px or fewer, e.g. .chunk({{'y': {side}, 'x': {side}}}) "
        "on the inputs, or give the workers more memory."
    )


def run(
    block: Callable[..., tuple[np.ndarray, np.ndarray, np.ndarray]],
    name: str,
    bands: Sequence[np.ndarray | dsa.Array],
    clear: np.ndarray | dsa.Array | None,
    sar: Sequence[np.ndarray | dsa.Array] | None,
    t: np.ndarray,
    out_idx: np.ndarray,
    *,
    halo: int = 0,
    options: dict[str, Any] | None = None,
    bounds: Bounds = None,
    names: Sequence[str] | None = None,
    extra_bytes: Callable[[tuple[int, int]], int] | None = None,
) -> tuple[list[Any], list[Any], Any]:
    """Run a method's block function over a whole cube, tile by tile.

    Parameters
    ----------
    block : callable
        The method's block function.
    name : str
        The method's name, for the task names.
    bands : sequence of arrays, shape (nt, ny, nx)
        Band values, numpy or dask (time in one chunk).
    clear : array of bool, shape (nt, ny, nx), or None
        Usable values (None: wherever every band is finite).
    sar : sequence of arrays, shape (nt, ny, nx), or None
        SAR features.
    t : ndarray of float64, shape (nt,)
        Times in days.
    out_idx : ndarray of int, shape (m,)
        Output dates as indices into ``t``.
    halo : int, default 0
        Pixels of neighbourhood that one pixel's result depends on.
    options : dict, optional
        Keyword options of the method.
    bounds : (lo, hi) of arrays of shape (nb,), optional
        Range of the filled values (see :func:`bound_fills`).
    names : sequence of str, optional
        The bands' names, for messages (default ``band 0``, ``band 1`` …).
    extra_bytes : callable, optional
        Memory a task of the method holds beyond what :func:`task_bytes` counts, from
        the tile's shape ``(ny, nx)`` (for :func:`check_task_memory`).

    Returns
    -------
    values, sigma : list of arrays, shape (m, ny, nx)
        One per band: dask arrays for dask input, numpy arrays for numpy input.
    source : array of int8, shape (m, ny, nx)
    """
    options = dict(options or {})
    names = tuple(names) if names is not None else tuple(f"band {k}" for k in range(len(bands)))
    arrays = [*bands, *(sar or ())]
    lazy = any(isinstance(a, dsa.Array) for a in (*arrays, clear))
    if lazy:
        inputs, ychunks, xchunks, token = _dask_inputs(arrays, clear, halo)
    else:
        inputs, ychunks, xchunks, token = _numpy_inputs(arrays, clear, halo)
    nb, nt, m = len(names), arrays[0].shape[0], out_idx.size
    dtype = inputs[0].dtype
    check_task_memory(len(arrays), nb, nt, m, ychunks, xchunks, halo, dtype.itemsize, extra_bytes)
    token = tokenize(token, t, out_idx, sorted(options.items()), name, bounds, halo, names)
    tiles = dsa.map_blocks(
        _tile_task,
        *inputs,
        drop_axis=[0, 1],
        chunks=(ychunks, xchunks),
        dtype=object,
        meta=np.empty((0, 0), dtype=object),
        name=f"stori-{name}-{token}",
        halo=halo,
        block=block,
        names=names,
        t=t,
        out_idx=out_idx,
        options=options,
        bounds=bounds,
    )
    values = [pick(tiles, f"values{k}", m, 0, k, dtype) for k in range(nb)]
    sigma = [pick(tiles, f"sigma{k}", m, 1, k, dtype) for k in range(nb)]
    results = values, sigma, pick(tiles, "source", m, 2, None, np.int8)
    if lazy:
        return results
    with progress.tiles(tiles.name, tiles.npartitions, f"stori {name}"):
        return _compute_into_numpy(results)


def _dask_inputs(arrays, clear, halo):
    """The haloed ``(k, t, y, x)`` stack (and mask) of dask input: dask's stack and overlap."""
    first = arrays[0]
    ychunks = _widen(first.chunks[1], halo) if halo else first.chunks[1]
    xchunks = _widen(first.chunks[2], halo) if halo else first.chunks[2]
    spatial = {1: ychunks, 2: xchunks}
    stack = dsa.stack([a.rechunk({0: -1, **spatial}) for a in arrays]).rechunk({0: -1})
    inputs = [stack] if clear is None else [stack, clear.rechunk({0: -1, **spatial})]
    if halo:
        # no halo along an axis of one chunk (dask refuses a depth larger than the array)
        dy = halo if len(ychunks) > 1 else 0
        dx = halo if len(xchunks) > 1 else 0
        inputs = [
            dsa.overlap.overlap(a, depth={a.ndim - 2: dy, a.ndim - 1: dx}, boundary="none")
            for a in inputs
        ]
    return inputs, ychunks, xchunks, tokenize(*inputs)


class _Cube:
    """Numpy input carried through the graph by reference (threads share it, no copy)."""

    def __init__(self, arrays: Sequence[np.ndarray], clear: np.ndarray | None):
        self.arrays, self.clear = arrays, clear


def _window(cube: _Cube, ys: slice, xs: slice, kind: str) -> np.ndarray:
    """A tile and its halo of numpy input: the ``(k, t, y, x)`` stack (a copy) or the mask."""
    if kind == "clear":
        return cube.clear[:, ys, xs]
    return np.stack([a[:, ys, xs] for a in cube.arrays])


def _numpy_inputs(arrays, clear, halo):
    """The haloed stack (and mask) of numpy input, one task per tile of :data:`TILE` px.

    Each task takes its tile and halo straight from the input arrays: the blocks are
    those dask's overlap would give (no halo at the cube's edges), at the cost of one
    copy, as the stack of dask input costs one.
    """
    nt, ny, nx = arrays[0].shape
    ychunks = _widen(dsa.core.normalize_chunks(TILE, (ny,))[0], halo)
    xchunks = _widen(dsa.core.normalize_chunks(TILE, (nx,))[0], halo)
    token = uuid.uuid4().hex  # hashing the whole input would cost more than a copy
    source = f"stori-numpy-input-{token}"
    kinds = {"stack": (len(arrays), nt), "clear": (nt,)} if clear is not None else None
    kinds = kinds or {"stack": (len(arrays), nt)}
    windows = [_windows(c, halo) for c in (ychunks, xchunks)]
    inputs = []
    for kind, lead in kinds.items():
        name = f"stori-numpy-{kind}-{token}"
        layer: dict[Any, Any] = {source: _Cube(arrays, clear)}
        for iy, ys in enumerate(windows[0][0]):
            for ix, xs in enumerate(windows[1][0]):
                layer[(name, *(0,) * len(lead), iy, ix)] = (_window, source, ys, xs, kind)
        graph = HighLevelGraph.from_collections(name, layer, dependencies=())
        chunks = (*((n,) for n in lead), windows[0][1], windows[1][1])
        dtype = arrays[0].dtype if kind == "stack" else np.dtype(bool)
        meta = np.empty((0,) * (len(lead) + 2), dtype=dtype)
        inputs.append(dsa.Array(graph, name, chunks, meta=meta))
    return inputs, ychunks, xchunks, token


def _windows(chunks: tuple[int, ...], halo: int) -> tuple[list[slice], tuple[int, ...]]:
    """Slices of each chunk with its halo (none at the edges), and their sizes."""
    starts = np.cumsum((0, *chunks))
    last = len(chunks) - 1
    slices = [
        slice(int(a) - (halo if i > 0 else 0), int(b) + (halo if i < last else 0))
        for i, (a, b) in enumerate(itertools.pairwise(starts))
    ]
    return slices, tuple(s.stop - s.start for s in slices)


def pick(
    tiles: dsa.Array, label: str, length: int, index: int, band: int | None, dtype: Any
) -> dsa.Array:
    """One output array of a layer of tuples: one task per tile, no computation.

    Parameters
    ----------
    tiles : dask array of object, shape (ny, nx)
        Each block holds a tile's results as a tuple.
    label : str
        The output's name, for its tasks' names.
    length : int
        Its length along its first axis (the output dates).
    index, band : int, int or None
        The output is ``results[index]`` of each tile, or its band ``band``.
    dtype : dtype
        The output's dtype.

    Returns
    -------
    dask array, shape (length, ny, nx)
    """
    leaf = f"{tiles.name.rsplit('-', 1)[0]}-{label}-{tiles.name.rsplit('-', 1)[-1]}"
    layer = {
        (leaf, 0, iy, ix): (_pick, (tiles.name, iy, ix), index, band)
        for iy in range(tiles.numblocks[0])
        for ix in range(tiles.numblocks[1])
    }
    graph = HighLevelGraph.from_collections(leaf, layer, dependencies=[tiles])
    chunks = ((length,), *tiles.chunks)
    return dsa.Array(graph, leaf, chunks, meta=np.empty((0, 0, 0), dtype=dtype))


def _compute_into_numpy(results: tuple[list, list, Any]) -> tuple[list, list, np.ndarray]:
    """Compute the graph of numpy input into preallocated numpy outputs, tile by tile."""
    values, sigma, source = results
    sources = [*values, *sigma, source]
    targets = [np.empty(a.shape, dtype=a.dtype) for a in sources]
    if threading.current_thread() is threading.main_thread():
        scheduler = {"scheduler": "threads", "num_workers": usable_cores()}
    else:  # e.g. inside a dask task: dask's pool is already busy, add none of our own
        scheduler = {"scheduler": "synchronous"}
    with dask.config.set(**{"array.slicing.split_large_chunks": False}):
        dsa.store(sources, targets, lock=False, **scheduler)
    nb = len(values)
    return targets[:nb], targets[nb : 2 * nb], targets[-1]


def usable_cores() -> int:
    """Cores this process may run on (all of the machine's where that is not known)."""
    import os

    if hasattr(os, "sched_getaffinity"):  # Linux
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1
