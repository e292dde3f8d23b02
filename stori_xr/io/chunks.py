"""The readers' chunking rule: one chunk layout for the whole output.

A reader returns every dask-backed variable with the same chunks along each dimension,
whatever the files' native resolutions and on-disk layouts, so that ``ds.chunks`` works
and each output block is computed from one block of every file. The rule, in the output
dimension names (``time``, ``y``, ``x``), applied to the output grid (the finest grid
of the files read):

* an int ``n`` (as ``chunks=512``): ``n`` × ``n`` pixels in ``y``/``x``; time whole;
* ``"auto"``: ``y``/``x`` chosen by dask for float32 values (``array.chunk-size``,
  following the on-disk chunks of the finest file); time whole;
* ``{}``: the on-disk chunks of the finest file in ``y``/``x`` (whole dimensions for a
  file stored contiguously); time whole;
* a dict: as ``{}``, with the dimensions it names set as asked (an int, a tuple of
  sizes, ``-1`` or None for whole, ``"auto"``); time is split only when it names
  ``time`` (or the file's own name for it, such as ``timestamp``).

Other dimensions (a ``band`` dimension of a generic cube …) are whole unless a dict
names them, or ``{}`` finds them chunked on disk. Every function here works on sizes and
names only; :mod:`stori_xr.io.decode` applies them to files.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping
from typing import Any

import numpy as np
import xarray as xr

from stori_xr.exceptions import ChunkingError

#: What a reader's ``chunks=`` takes: None (numpy), an int, ``"auto"`` or a dict.
Chunks = str | int | Mapping[Hashable, Any] | None

SPATIAL = ("y", "x")
WHOLE = -1


def in_output_names(chunks: Chunks, names: Mapping[Hashable, Hashable]) -> Chunks:
    """Rename the keys of a chunks dict from a file's dimension names to the output's.

    Parameters
    ----------
    chunks : dict, int, str or None
        The user's ``chunks=``; only a dict is changed.
    names : mapping
        ``{file dimension: output dimension}``, e.g. ``{"timestamp": "time"}``.

    Returns
    -------
    dict, int, str or None
        ``chunks`` with keys in output names (a key already in output names wins).

    Examples
    --------
    >>> in_output_names({"timestamp": 10, "x": 64}, {"timestamp": "time"})
    {'time': 10, 'x': 64}
    """
    if not isinstance(chunks, Mapping):
        return chunks
    out = {names.get(key, key): value for key, value in chunks.items()}
    output_names = set(names.values())
    return out | {key: value for key, value in chunks.items() if key in output_names}


def resolve(
    chunks: Chunks,
    sizes: Mapping[Hashable, int],
    preferred: Mapping[Hashable, int] | None = None,
) -> dict[Hashable, tuple[int, ...]]:
    """The explicit chunks of an output grid under the readers' rule (see the module).

    Parameters
    ----------
    chunks : dict, int or str
        The user's ``chunks=`` in output dimension names.
    sizes : mapping
        ``{dimension: size}`` of the output.
    preferred : mapping, optional
        ``{dimension: size}`` of the on-disk chunks of the finest file.

    Returns
    -------
    dict
        ``{dimension: tuple of chunk sizes}`` for every dimension of ``sizes``.

    Raises
    ------
    ChunkingError
        When ``chunks`` is not a chunk specification, or sizes given as a tuple do not
        add up to the dimension's size.

    Examples
    --------
    >>> resolve(48, {"time": 118, "y": 64, "x": 64})
    {'time': (118,), 'y': (48, 16), 'x': (48, 16)}
    >>> resolve({}, {"time": 118, "y": 64, "x": 64}, {"time": 1, "y": 32, "x": 32})
    {'time': (118,), 'y': (32, 32), 'x': (32, 32)}
    """
    preferred = dict(preferred or {})
    spec = _spec(chunks, sizes, preferred)
    return normalize(spec, sizes, chunks, "the output grid", preferred)


def normalize(
    spec: Mapping[Hashable, Any],
    sizes: Mapping[Hashable, int],
    chunks: Any,
    grid: str,
    preferred: Mapping[Hashable, int] | None = None,
) -> dict[Hashable, tuple[int, ...]]:
    """Explicit chunk sizes for ``spec`` (dask's rules), each dimension's sizes checked.

    Parameters
    ----------
    spec : mapping
        Per dimension of ``sizes``: an int (``-1`` for whole), ``"auto"`` or a tuple.
    sizes : mapping
        ``{dimension: size}`` of the grid.
    chunks : object
        What the user gave, for the message.
    grid : str
        The grid, for the message (``"the output grid"``).
    preferred : mapping, optional
        ``{dimension: size}`` of the on-disk chunks, which ``"auto"`` follows.

    Returns
    -------
    dict
        The sizes of the chunks along each dimension (all those of ``sizes``).

    Raises
    ------
    ChunkingError
        Naming the dimension whose size is not an int of 1 or more (or -1), or whose
        tuple of sizes does not add up to its length.

    Examples
    --------
    >>> normalize({"y": (10, 22), "x": -1}, {"y": 32, "x": 32}, None, "the grid")
    {'y': (10, 22), 'x': (32,)}
    """
    from dask.array.core import normalize_chunks

    preferred = dict(preferred or {})
    dims = list(sizes)
    for dim in dims:
        _check_sizes(spec[dim], dim, int(sizes[dim]), chunks, grid)
    shape = tuple(int(sizes[d]) for d in dims)
    previous = tuple(int(preferred.get(d, sizes[d]) or 1) for d in dims)
    try:
        normal = normalize_chunks(
            tuple(spec[d] for d in dims), shape=shape, dtype=np.float32, previous_chunks=previous
        )
    except ValueError as error:
        raise ChunkingError(
            f"chunks={chunks!r} does not fit {grid} {dict(sizes)} ({error}): give an int "
            "per dimension, -1 for whole, 'auto', or sizes that add up to the dimension."
        ) from error
    return dict(zip(dims, normal, strict=True))


def _check_sizes(value: Any, dim: Hashable, size: int, chunks: Any, grid: str) -> None:
    """ChunkingError unless ``value`` is -1, "auto", or ints of 1 or more (``size`` in all)."""
    if isinstance(value, tuple | list):
        if not all(isinstance(v, int | np.integer) and v > 0 for v in value):
            raise ChunkingError(
                f"chunks={chunks!r}: the sizes for {dim!r} must be ints of 1 or more that "
                f"add up to {size}; give such sizes, or one int."
            )
        if sum(value) != size:
            raise ChunkingError(
                f"chunks={chunks!r}: the sizes for {dim!r} add up to {sum(value)}, but "
                f"{grid} has {size} along {dim!r}; give sizes that add up to {size}, or "
                f"one int (e.g. {{{dim!r}: {max(value)}}})."
            )
    elif isinstance(value, int | np.integer) and not isinstance(value, bool):
        if value == 0 or value < -1:
            raise ChunkingError(
                f"chunks={chunks!r}: {value} is not a chunk size for {dim!r}; give an int "
                "of 1 or more, or -1 for whole."
            )


def for_file(
    chunks: Chunks,
    sizes: Mapping[Hashable, int],
    preferred: Mapping[Hashable, int] | None = None,
    scale: float = 1.0,
) -> dict[Hashable, tuple[int, ...]]:
    """The chunks to read one file with, so that its blocks map onto the output's.

    The rule is applied to the file's own grid, with ``y``/``x`` sizes divided by
    ``scale`` (the file's cell size over the output's: 2 for a 20 m file read onto a
    10 m grid), so that a block of the file covers the ground of a block of the output.
    Sizes given as tuples (for the output grid) become their largest size, and sizes
    are rounded to whole on-disk chunks (``preferred``), so that no stored chunk is read
    by several blocks; :func:`rechunk` then gives the output its exact layout.

    Parameters
    ----------
    chunks : dict, int or str
        The user's ``chunks=`` in output dimension names.
    sizes : mapping
        ``{dimension: size}`` of the file, in output names.
    preferred : mapping, optional
        The file's on-disk chunks, in output names.
    scale : float, default 1
        The file's cell size over the output's.

    Returns
    -------
    dict
        ``{dimension: tuple of chunk sizes}`` in output names.

    Examples
    --------
    >>> for_file({"y": 512, "x": 512}, {"time": 118, "y": 320, "x": 320}, scale=2)
    {'time': (118,), 'y': (256, 64), 'x': (256, 64)}
    """
    preferred = dict(preferred or {})
    spec = _spec(chunks, sizes, preferred)
    for dim, value in spec.items():
        if isinstance(value, tuple):
            value = max(value)
        if dim in SPATIAL and isinstance(value, int) and value > 0 and scale > 1:
            value = max(1, math.ceil(value / scale))
        stored = preferred.get(dim)
        if isinstance(value, int) and value > 0 and stored:
            value = max(1, round(value / stored)) * stored
        spec[dim] = value
    return normalize(spec, sizes, chunks, "the file's grid", preferred)


def rechunk(obj: Any, chunks: Chunks, preferred: Mapping[Hashable, int] | None = None) -> Any:
    """Give every dask-backed variable of ``obj`` the output chunks of the rule.

    Numpy-backed variables (a coordinate taken from the file's attributes …) stay numpy.

    Parameters
    ----------
    obj : Dataset or DataArray
        A reader's output, in output dimension names.
    chunks : dict, int or str
        The user's ``chunks=`` in output dimension names.
    preferred : mapping, optional
        The on-disk chunks of the finest file, in output names.

    Returns
    -------
    Dataset or DataArray
        A new object; ``obj.chunks`` is consistent.
    """
    target = resolve(chunks, dict(obj.sizes), preferred)

    def chunked(var: xr.Variable) -> xr.Variable:
        return var.chunk({d: target[d] for d in var.dims})

    coords = {
        n: chunked(c.variable)
        for n, c in obj.coords.items()
        if c.chunks is not None and n not in obj.indexes
    }
    if isinstance(obj, xr.DataArray):
        out = obj.copy(data=chunked(obj.variable).data) if obj.chunks is not None else obj
    else:
        data = {n: chunked(v.variable) for n, v in obj.data_vars.items() if v.chunks is not None}
        out = obj.assign(data)
    return out.assign_coords(coords)


def _spec(
    chunks: Chunks, sizes: Mapping[Hashable, int], preferred: Mapping[Hashable, int]
) -> dict[Hashable, Any]:
    """Per dimension: an int, ``-1`` (whole), ``"auto"`` or a tuple, before normalising."""
    if isinstance(chunks, Mapping):
        on_disk = {d: WHOLE if d == "time" else preferred.get(d, WHOLE) for d in sizes}
        asked = {d: WHOLE if v is None else v for d, v in chunks.items() if d in sizes}
        return on_disk | asked
    if isinstance(chunks, str) and chunks == "auto":
        return {d: "auto" if d in SPATIAL else WHOLE for d in sizes}
    if isinstance(chunks, int | np.integer) and not isinstance(chunks, bool):
        return {d: int(chunks) if d in SPATIAL else WHOLE for d in sizes}
    raise ChunkingError(
        f"chunks={chunks!r} is not a chunking the readers take: pass an int (pixels in y "
        "and x), a dict such as {'y': 512, 'x': 512} or {'time': 10}, 'auto', {} (the "
        "file's own chunks) or None (numpy)."
    )
