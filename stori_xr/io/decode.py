"""The steps every reader shares: opening files, decoding values, tidying the cube.

Opening (:func:`read_file`) names a damaged file: a file that does not start like
NetCDF/HDF5, that the NetCDF library cannot open (HDF5 refuses a truncated file at
open), a classic NetCDF file shorter than its variables, and, when values are read
later from a lazy result, a block that cannot be read (a corrupt compressed chunk)
all raise :class:`~stori_xr.exceptions.DataFormatError` with the path and what to do.

Decoding turns stored integers into values without xarray's CF decoding (which fails
on several variables of the WorldCereal files): the unsigned view of ``_Unsigned``
integers and the fill value (:func:`unsigned`, :func:`fill_value`). Tidying
(:func:`tidy`) gives the cube its dims, sorted ``datetime64[ns]`` time, x/y attributes
and CRS; the grid steps bring files of nested resolutions onto the finest grid
(:func:`onto_grid`) and combine them (:func:`combine`).
"""

from __future__ import annotations

import operator
import os
from collections.abc import Callable, Hashable, Mapping, Sequence
from functools import partial, reduce
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr
from rasterio.crs import CRS

from stori_xr import validate
from stori_xr.exceptions import DataFormatError, MissingVariableError, TimeDimError
from stori_xr.io import chunks as chunking
from stori_xr.io.chunks import Chunks
from stori_xr.metadata import append_history

PathLike = str | os.PathLike[str]

F32 = np.float32

#: Names of the CF grid-mapping variable the files carry (dropped from the output).
GRID_MAPPING_NAMES = frozenset({"spatial_ref", "crs"})

_X_ALIASES = frozenset({"easting", "eastings", "x_coordinate", "xc", "x_coord"})
_Y_ALIASES = frozenset({"northing", "northings", "y_coordinate", "yc", "y_coord"})
_GEOGRAPHIC = frozenset({"lat", "lon", "latitude", "longitude"})

#: Suffixes of files that must be NetCDF (HDF5 or classic) for :func:`open_cube`.
NETCDF_SUFFIXES = frozenset({".nc", ".nc4", ".netcdf", ".cdf", ".h5", ".hdf5", ".he5"})
_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
_HDF5_OFFSETS = (0, 512, 1024, 2048, 4096)  # the superblock may follow a user block
_CLASSIC_SIGNATURES = (b"CDF\x01", b"CDF\x02", b"CDF\x05")
#: Errors of the NetCDF, HDF5, Zarr and GDAL libraries when a file cannot be read.
_READ_ERRORS = (OSError, RuntimeError)
_AGAIN = "download or copy it again"


# ----------------------------------------------------------------------------- opening


def path_list(paths: PathLike | Sequence[PathLike]) -> list[Path]:
    """One path or a sequence of paths as a list of existing files, each given once."""
    items = [paths] if isinstance(paths, str | os.PathLike) else list(paths)
    if not items:
        raise DataFormatError("no file given: pass a path or a list of paths.")
    out = [Path(p) for p in items]
    missing = [str(p) for p in out if not p.exists()]
    if missing:
        raise FileNotFoundError(f"files not found: {missing}")
    seen: dict[Path, Path] = {}
    for path in out:
        first = seen.setdefault(path.resolve(), path)
        if first is not path:
            spellings = f"{first}" if first == path else f"{first} and {path}"
            raise DataFormatError(
                f"the same file is given twice ({spellings}): pass each file once, e.g. "
                "the 10 m and the 20 m file of one patch."
            )
    return out


def read_file(
    path: Path,
    chunks: Chunks,
    *,
    load: bool = True,
    netcdf: bool = True,
    **kwargs: Any,
) -> xr.Dataset:
    """Open one file: numpy-backed when ``chunks`` is None, else dask-backed by the rule.

    Parameters
    ----------
    path : Path
        The file (or Zarr folder).
    chunks : dict, int, str or None
        The user's ``chunks=``, in output or file dimension names; the readers' rule
        (:mod:`stori_xr.io.chunks`) is applied to this file's grid.
    load : bool, default True
        With ``chunks=None``, read the values now (so that a read error names the file);
        False leaves them to be read on first access.
    netcdf : bool, default True
        The file must be NetCDF/HDF5 (checked from its first bytes).
    **kwargs
        Passed to :func:`xarray.open_dataset` (``mask_and_scale=False`` by default).

    Returns
    -------
    xarray.Dataset
        The file as stored (not decoded).

    Raises
    ------
    FileNotFoundError
        When the file does not exist.
    DataFormatError
        When the file is damaged or not NetCDF/HDF5.
    """
    raw = open_file(path, netcdf=netcdf, **kwargs)
    if chunks is None:
        return load_file(raw, path) if load else raw
    return _chunked(path, raw, chunks, 1.0, **kwargs)


def read_files(paths: Sequence[Path], chunks: Chunks, **kwargs: Any) -> list[xr.Dataset]:
    """:func:`read_file` for files of one place at nested resolutions.

    With ``chunks``, a coarser file's ``y``/``x`` chunks are divided by its cell size
    over the finest file's, so that its blocks cover the ground of the output's blocks.
    """
    raws = [open_file(path, **kwargs) for path in paths]
    if chunks is None:
        return [load_file(raw, path) for raw, path in zip(raws, paths, strict=True)]
    spacings = [_x_spacing(raw) for raw in raws]
    finest = min(spacings)
    return [
        _chunked(path, raw, chunks, spacing / finest if np.isfinite(spacing) else 1.0, **kwargs)
        for raw, path, spacing in zip(raws, paths, spacings, strict=True)
    ]


def finest_preferred_chunks(raws: Sequence[xr.Dataset]) -> dict[Hashable, int]:
    """The on-disk chunks (output names) of the file with the finest grid."""
    return preferred_chunks(min(raws, key=_x_spacing))


def _chunked(
    path: Path, raw: xr.Dataset, chunks: Chunks, scale: float, **kwargs: Any
) -> xr.Dataset:
    """Reopen ``raw`` dask-backed, with the rule's chunks for its grid (``scale``: cells)."""
    names = output_dim_names(raw)
    sizes = {names.get(d, d): n for d, n in raw.sizes.items()}
    user = chunking.in_output_names(chunks, names)
    wanted = chunking.for_file(user, sizes, preferred_chunks(raw), scale)
    native = {v: k for k, v in names.items()}
    raw.close()
    chunks_on_file = {native.get(d, d): c for d, c in wanted.items()}
    return open_file(path, chunks=chunks_on_file, netcdf=False, **kwargs)


def _x_spacing(raw: xr.Dataset) -> float:
    """The cell size along the file's x dimension (infinite when it has none)."""
    native = {v: k for k, v in output_dim_names(raw).items()}
    x = native.get("x", "x")
    if x not in raw.coords or raw.sizes.get(x, 0) < 2:
        return np.inf
    return float(abs(raw[x].values[1] - raw[x].values[0])) or np.inf


def open_file(
    path: Path, chunks: Mapping[Hashable, Any] | None = None, netcdf: bool = True, **kwargs: Any
) -> xr.Dataset:
    """:func:`xarray.open_dataset`, with damaged files named (see the module).

    With ``chunks``, every block is read through :func:`_read_block`, which names the
    file when a block cannot be read.
    """
    kwargs.setdefault("mask_and_scale", False)
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"file not found: {path}")
    if netcdf and path.is_file():
        _check_signature(path)
    kind = "Zarr" if kwargs.get("engine") == "zarr" else "NetCDF/HDF5"
    if chunks is not None:
        kwargs |= {"chunks": dict(chunks), "cache": False}
        kwargs["from_array_kwargs"] = {"getitem": partial(_read_block, str(path), kind)}
    # a Zarr store with broken metadata raises ValueError (JSON, zarr's own errors)
    errors = (*_READ_ERRORS, ValueError) if kind == "Zarr" else _READ_ERRORS
    try:
        ds = xr.open_dataset(path, **kwargs)
    except errors as error:
        if isinstance(error, FileNotFoundError | PermissionError | IsADirectoryError):
            raise
        raise damaged(path, "it cannot be opened", kind, error) from error
    _check_classic_size(path, ds)
    return ds


def chunk_file(obj: Any, path: PathLike, chunks: Mapping[Hashable, Any], kind: str) -> Any:
    """``obj.chunk(chunks)`` for an object opened lazily from ``path``, reads guarded.

    Every block is read through :func:`_read_block`, which names the file when a block
    cannot be read.
    """
    from dask.base import tokenize

    getitem = partial(_read_block, str(path), kind)
    token = tokenize(str(path), Path(path).stat().st_mtime, dict(chunks))
    return obj.chunk(dict(chunks), token=token, from_array_kwargs={"getitem": getitem})


def load_file(obj: Any, path: PathLike) -> Any:
    """``obj.load()``, then the file closed; a read error names ``path``."""
    try:
        obj.load()
    except _READ_ERRORS as error:
        raise damaged(path, "its values cannot be read", error=error) from error
    obj.close()
    return obj


def damaged(
    path: PathLike, what: str, kind: str = "NetCDF/HDF5", error: BaseException | None = None
) -> DataFormatError:
    """The error for a file that cannot be read: the path, what failed, what to do.

    ``error``, the library's, is quoted without the path it repeats. A Zarr store (a
    folder) is called a store.
    """
    if error is not None:
        what = f"{what} ({_without_path(str(error), path)})"
    if kind == "Zarr":
        return DataFormatError(
            f"{path} is damaged: {what}. The store is missing files (an interrupted download "
            f"or copy) or corrupt, or it is not a Zarr store: {_AGAIN}."
        )
    return DataFormatError(
        f"{path} is damaged: {what}. The file is truncated (an interrupted download or "
        f"copy) or corrupt, or it is not {kind}: {_AGAIN}."
    )


def _without_path(text: str, path: PathLike) -> str:
    """A library's message without the path it names (``: '<path>'``, ``'<path>' …``)."""
    for name in dict.fromkeys((str(path), str(Path(path).resolve()))):
        for quoted in (f"'{name}'", f'"{name}"', name):
            text = text.replace(f": {quoted}", "").replace(quoted, "")
    return text.strip(" .:") or "no reason given"


def _read_block(path: str, kind: str, array: Any, key: Any, **kwargs: Any) -> Any:
    """Dask's getter for one block of a file, naming the file when the read fails."""
    from dask.array.core import getter

    try:
        return getter(array, key, **kwargs)
    except _READ_ERRORS as error:
        raise damaged(path, "a block of its values cannot be read", kind, error) from error


def _check_signature(path: Path) -> None:
    """DataFormatError unless the file starts like HDF5 (NetCDF-4) or classic NetCDF."""
    with path.open("rb") as f:
        head = f.read(_HDF5_OFFSETS[-1] + len(_HDF5_SIGNATURE))
    if head.startswith(_CLASSIC_SIGNATURES):
        return
    if any(head[o : o + len(_HDF5_SIGNATURE)] == _HDF5_SIGNATURE for o in _HDF5_OFFSETS):
        return
    raise DataFormatError(
        f"{path} is not a NetCDF/HDF5 file: it starts with {head[:8]!r}, not with the "
        "NetCDF or HDF5 signature. It is damaged (cut short or overwritten while "
        f"downloading or copying) or another format: {_AGAIN}, or convert it to NetCDF."
    )


def _check_classic_size(path: Path, ds: xr.Dataset) -> None:
    """DataFormatError when a classic NetCDF file is shorter than its variables.

    HDF5 refuses a truncated file at open, but the NetCDF library reads the missing
    end of a truncated classic (NetCDF-3) file as zeros: compare the file's size with
    the bytes its variables need.
    """
    if not path.is_file():
        return
    with path.open("rb") as f:
        if not f.read(4).startswith(_CLASSIC_SIGNATURES):
            return
    stored = [(v.size, np.dtype(v.encoding.get("dtype", v.dtype))) for v in ds.variables.values()]
    needed = sum(size * dtype.itemsize for size, dtype in stored if dtype.kind != "O")
    size = path.stat().st_size
    if size < needed:
        raise damaged(path, f"it holds {size} bytes but its variables need {needed}")


# ----------------------------------------------------------------------------- dimensions


def output_dim_names(ds: xr.Dataset) -> dict[Hashable, Hashable]:
    """``{file dimension: output name}`` for the file's time and projected x/y dims."""
    names: dict[Hashable, Hashable] = dict(spatial_renames(ds))
    try:
        time_dim = validate.find_time_dim(ds, require_datetime64=False)
    except TimeDimError:
        return names
    if time_dim != "time":
        names[time_dim] = "time"
    return names


def preferred_chunks(ds: xr.Dataset) -> dict[Hashable, int]:
    """The on-disk chunks of the file's largest variable, in output dimension names."""
    names = output_dim_names(ds)
    variables = sorted(ds.variables.values(), key=lambda v: v.ndim, reverse=True)
    for var in variables:
        found = var.encoding.get("preferred_chunks")
        if found:
            return {names.get(d, d): int(n) for d, n in found.items()}
    return {}


def spatial_renames(ds: xr.Dataset) -> dict[Hashable, str]:
    """``{old: "x", old: "y"}`` for obviously spatial, non-geographic dimensions."""
    renames: dict[Hashable, str] = {}
    for axis, aliases in (("x", _X_ALIASES), ("y", _Y_ALIASES)):
        if axis in ds.dims:
            continue
        found = [d for d in ds.dims if _is_spatial(ds, d, axis, aliases)]
        if len(found) == 1:
            renames[found[0]] = axis
    return renames


def _is_spatial(ds: xr.Dataset, dim: Hashable, axis: str, aliases: frozenset[str]) -> bool:
    """True when ``dim`` is a projected ``axis`` coordinate by CF attributes or name."""
    name = str(dim).lower()
    if name in _GEOGRAPHIC:
        return False
    attrs = ds[dim].attrs if dim in ds.coords else {}
    if attrs.get("standard_name") == f"projection_{axis}_coordinate":
        return True
    return str(attrs.get("axis", "")).upper() == axis.upper() or name in aliases


def to_ns(values: Any, size: int | None, where: PathLike, per: str = "time step") -> np.ndarray:
    """Dates as datetime64[ns]; TimeDimError when they do not parse or miscount.

    ``per``: what each date stands for (``"band"`` of a GeoTIFF), for the message.
    """
    array = np.asarray(values)
    dates = validate.parse_dates(array)
    if dates is None:
        raise TimeDimError(f"{where}: the times {array[:3]!r}... do not parse as dates.")
    if size is not None and dates.size != size:
        raise TimeDimError(
            f"{where}: {dates.size} times given for {size} {per}s; pass times=[...] with "
            f"one date per {per}."
        )
    return dates


# ----------------------------------------------------------------------------- the cube


def tidy(obj: Any, time_dim: Hashable, crs: CRS | None) -> Any:
    """Rename time, make it sorted datetime64[ns], order dims, set x/y attrs, write CRS."""
    if time_dim != "time":
        obj = obj.rename({time_dim: "time"})
    times = to_ns(obj["time"].values, None, "the time coordinate")
    obj = obj.assign_coords(time=("time", times, {"standard_name": "time", "axis": "T"}))
    if not pd.Index(times).is_monotonic_increasing:
        obj = obj.sortby("time")
    spatial = [d for d in ("y", "x") if d in obj.dims]
    obj = obj.transpose("time", *spatial, ...)
    if isinstance(obj, xr.Dataset):  # the first variable sets the order of ds.dims
        full = ("time", *spatial)
        obj = obj[sorted(obj.data_vars, key=lambda name: obj[name].dims[:3] != full)]
    names = {*obj.coords, *getattr(obj, "data_vars", ())}
    obj = obj.drop_vars([n for n in GRID_MAPPING_NAMES if n in names]).drop_encoding()
    for axis in spatial:
        obj[axis].attrs = _xy_attrs(axis, crs)
    return obj.rio.write_crs(crs) if crs is not None else obj


def _xy_attrs(axis: str, crs: CRS | None) -> dict[str, str]:
    if crs is not None and not crs.is_projected:
        name = "longitude" if axis == "x" else "latitude"
        return {"standard_name": name, "units": f"degrees_{'east' if axis == 'x' else 'north'}"}
    return {
        "standard_name": f"projection_{axis}_coordinate",
        "long_name": f"{axis} coordinate of projection (cell centre)",
        "units": "m",
        "axis": axis.upper(),
    }


def crs_of(ds: xr.Dataset) -> CRS | None:
    """CRS from a grid-mapping variable (``crs_wkt``/``spatial_ref``), ``epsg``, or rio."""
    names = [*GRID_MAPPING_NAMES]
    names += [
        str(v.attrs["grid_mapping"]) for v in ds.data_vars.values() if "grid_mapping" in v.attrs
    ]
    for name in names:
        if name in ds.variables:
            wkt = ds[name].attrs.get("crs_wkt") or ds[name].attrs.get("spatial_ref")
            if wkt:
                return CRS.from_wkt(wkt)
    if "epsg" in ds.attrs:
        return CRS.from_epsg(int(ds.attrs["epsg"]))
    try:
        return ds.rio.crs
    except Exception:  # rioxarray raises when it cannot tell the spatial dims
        return None


def finish(
    obj: Any,
    chunks: Chunks,
    call: str,
    sources: Sequence[xr.Dataset] = (),
    *,
    load: bool = True,
) -> Any:
    """Append the history line; give a lazy result the output chunks of the rule.

    Parameters
    ----------
    obj : Dataset or DataArray
        The tidy result.
    chunks : dict, int, str or None
        The user's ``chunks=`` (keys in output names or those of the ``sources``).
    call : str
        The call, for the history line.
    sources : sequence of Dataset
        The files as opened: their dimension names translate the keys of ``chunks``,
        and the finest one's on-disk chunks serve ``{}`` and ``"auto"``.
    load : bool, default True
        Load a numpy-backed result (its files were read at open, so nothing is read
        here); False leaves lazily-read values to be read on first access.

    Returns
    -------
    Dataset or DataArray
        A dask-backed result gets one chunk layout for all its variables
        (:func:`stori_xr.io.chunks.rechunk`), without computing.
    """
    obj.attrs = append_history(obj.attrs, call)
    if chunks is None:
        return obj.load() if load else obj
    names: dict[Hashable, Hashable] = {}
    for raw in sources:
        names |= output_dim_names(raw)
    preferred = finest_preferred_chunks(sources) if sources else {}
    return chunking.rechunk(obj, chunking.in_output_names(chunks, names), preferred)


def file_attrs(attrs: Mapping[Hashable, Any]) -> dict[str, Any]:
    """The file's global attributes minus CRS leftovers; ``source`` becomes ``provider``."""
    out = {str(k): v for k, v in attrs.items() if k not in ("crs", "grid_mapping")}
    if "source" in out:
        out["provider"] = out.pop("source")
    return out


def sensor_attrs(
    attrs: Mapping[str, Any],
    files: Sequence[Path],
    platform: str,
    instrument: str,
    level: str,
    bands: Sequence[str],
    table: Mapping[str, tuple[str, float]],
) -> dict[str, Any]:
    """Dataset attributes: platform, instrument, level, source, common-name mapping."""
    out = dict(attrs)
    out |= {"platform": platform, "instrument": instrument, "processing_level": level}
    out["source"] = "; ".join(str(p) for p in files)
    out["common_names"] = " ".join(f"{b}={table[b][0]}" for b in bands)
    return out


def band_attrs(long_name: str, common_name: str, wavelength: float) -> dict[str, Any]:
    """CF/STAC attributes of a surface reflectance band."""
    return {
        "units": "1",
        "long_name": long_name,
        "standard_name": "surface_bidirectional_reflectance",
        "common_name": common_name,
        "wavelength": wavelength,
        "wavelength_units": "um",
        "coverage_content_type": "physicalMeasurement",
    }


def clear_attrs(clear: xr.DataArray, comment: str) -> xr.DataArray:
    """The ``clear`` mask with its attributes (and none of its inputs')."""
    return clear.drop_attrs().assign_attrs(
        long_name="usable clear-sky observation",
        comment=comment,
        coverage_content_type="qualityInformation",
    )


def attr_ci(attrs: Mapping[Hashable, Any], keys: Sequence[str]) -> Any:
    """The value of the first attribute whose lower-cased name is in ``keys``."""
    lowered = {str(k).lower(): v for k, v in attrs.items()}
    return next((lowered[k] for k in keys if k in lowered), None)


# ----------------------------------------------------------------------------- bands


def wanted_bands(
    parts: Sequence[xr.Dataset],
    bands: Sequence[str] | None,
    table: Mapping[str, Any],
    files: Sequence[Path],
    always: Sequence[str],
    hint: Callable[[list[str]], str] | None = None,
) -> list[str]:
    """The bands to return, in the sensor's order; MissingVariableError if one is absent.

    ``always``: the masks the reader always returns (asking for them is no error);
    ``hint``: a sentence on where the missing bands are (empty when it knows not).
    """
    available = [b for b in table if any(b in p.data_vars for p in parts)]
    asked = available if bands is None else [bands] if isinstance(bands, str) else list(bands)
    missing = [b for b in asked if b not in available and b not in always]
    wanted = [b for b in asked if b in available]
    if missing or not wanted:
        where = hint(missing) if hint is not None and missing else ""
        raise MissingVariableError(
            f"bands {missing or asked} are not in {[str(f) for f in files]}; the available "
            f"bands are {available}: ask for some of these ({' and '.join(always)} are "
            f"always returned).{f' {where}' if where else ''}"
        )
    return wanted


def drop_unwanted(ds: xr.Dataset, wanted: Sequence[str], table: Mapping[str, Any]) -> xr.Dataset:
    """``ds`` without the bands of ``table`` that are not ``wanted``."""
    return ds.drop_vars([v for v in ds.data_vars if v in table and v not in wanted])


def all_present(ds: Mapping[str, xr.DataArray] | xr.Dataset, bands: Sequence[str]) -> Any:
    """True where none of ``bands`` is NaN."""
    return reduce(operator.and_, [ds[b].notnull() for b in bands])


# ----------------------------------------------------------------------------- grids


def common_crs(parts: Sequence[xr.Dataset]) -> CRS | None:
    """The CRS shared by all parts; DataFormatError when the files disagree."""
    crs = [crs_of(part) for part in parts]
    if len({c.to_wkt() if c is not None else None for c in crs}) > 1:
        raise DataFormatError(
            f"the files are in different CRS ({[str(c) for c in crs]}); read them "
            "separately and bring one onto the other with stori_xr.align."
        )
    return crs[0]


def cell_size(ds: xr.Dataset) -> float:
    """The x spacing of ``ds`` (infinite when it has fewer than two columns)."""
    return float(abs(ds.x.values[1] - ds.x.values[0])) if ds.sizes.get("x", 0) > 1 else np.inf


def finest_grid(parts: Sequence[xr.Dataset]) -> xr.Dataset | None:
    """The part with the finest x spacing (None when no part has a grid)."""
    gridded = [p for p in parts if "x" in p.dims and "y" in p.dims]
    return min(gridded, key=cell_size) if gridded else None


def _bounds(ds: xr.Dataset) -> np.ndarray:
    rx, ry = cell_size(ds), float(abs(ds.y.values[1] - ds.y.values[0]))
    x, y = ds.x.values, ds.y.values
    return np.array([x.min() - rx / 2, y.min() - ry / 2, x.max() + rx / 2, y.max() + ry / 2])


def onto_grid(part: xr.Dataset, target: xr.Dataset | None) -> xr.Dataset:
    """Replicate a coarser grid that nests in ``target`` onto it (nearest neighbour)."""
    if target is None or "x" not in part.dims or part is target:
        return part
    if np.array_equal(part.x.values, target.x.values) and np.array_equal(
        part.y.values, target.y.values
    ):
        return part
    coarse, fine = cell_size(part), cell_size(target)
    ratio = coarse / fine
    same_ground = np.allclose(_bounds(part), _bounds(target), rtol=0, atol=fine * 1e-3)
    if ratio < 1 or abs(ratio - round(ratio)) > 1e-6 or not same_ground:
        raise DataFormatError(
            f"grids do not nest: {coarse:g} m cells with bounds {_bounds(part).tolist()} "
            f"cannot be replicated onto {fine:g} m cells with bounds "
            f"{_bounds(target).tolist()}; read files of the same patch, or read them "
            "separately and use stori_xr.align."
        )
    same_direction = all(
        np.sign(part[a].values[1] - part[a].values[0])
        == np.sign(target[a].values[1] - target[a].values[0])
        for a in ("y", "x")
    )
    if not same_direction:
        return part.reindex(x=target.x, y=target.y, method="nearest", tolerance=coarse / 2)
    return _replicate(part, round(ratio)).assign_coords(y=target.y, x=target.x)


def _replicate(part: xr.Dataset, ratio: int) -> xr.Dataset:
    """Each cell of ``part`` as ``ratio`` × ``ratio`` cells, block by block.

    The same values as nearest-neighbour reindexing onto the nested grid; a dask block
    becomes one block ``ratio`` times larger, so that a coarse file read with chunks
    divided by ``ratio`` (:func:`read_files`) lands on the output's chunks.
    """
    variables = {}
    for name, var in part.variables.items():
        axes = tuple(i for i, d in enumerate(var.dims) if d in ("y", "x"))
        if name in ("y", "x") or not axes:
            continue
        variables[name] = xr.Variable(
            var.dims, _repeat(var.data, ratio, axes), var.attrs, var.encoding
        )
    return part.drop_vars(["y", "x"]).assign(variables)


def _repeat(data: Any, ratio: int, axes: tuple[int, ...]) -> Any:
    """``np.repeat`` along each of ``axes``; for dask, within each block."""
    if not hasattr(data, "map_blocks"):
        return _repeat_block(np.asarray(data), ratio, axes)
    chunks = tuple(
        tuple(c * ratio for c in sizes) if i in axes else sizes
        for i, sizes in enumerate(data.chunks)
    )
    meta = np.empty((0,) * data.ndim, dtype=data.dtype)
    return data.map_blocks(_repeat_block, ratio, axes, chunks=chunks, dtype=data.dtype, meta=meta)


def _repeat_block(block: np.ndarray, ratio: int, axes: tuple[int, ...]) -> np.ndarray:
    for axis in axes:
        block = np.repeat(block, ratio, axis=axis)
    return block


def combine(parts: Sequence[xr.Dataset]) -> xr.Dataset:
    """Merge variables of files sharing dates; concatenate files of other dates."""
    if len(parts) == 1:
        return parts[0]
    parts = [p.drop_vars([n for n in GRID_MAPPING_NAMES if n in p.variables]) for p in parts]
    try:
        return xr.combine_by_coords(
            parts,
            join="outer",
            compat="override",
            data_vars="all",
            coords="minimal",
            combine_attrs="drop_conflicts",
        )
    except ValueError as error:
        raise DataFormatError(
            f"cannot combine the files ({error}): pass files that share their dates and "
            "hold different bands (10 m + 20 m), or files of different dates."
        ) from error


# ----------------------------------------------------------------------------- values


def unsigned(var: xr.DataArray) -> xr.DataArray:
    """The values without the file's attributes; ``_Unsigned="true"`` ints as unsigned."""
    bare = var.drop_attrs(deep=False)
    if str(var.attrs.get("_Unsigned", "")).lower() == "true" and var.dtype.kind == "i":
        return bare.astype(np.dtype(f"u{var.dtype.itemsize}"))
    return bare


def fill_value(var: xr.DataArray, default: float | None) -> Any:
    """The ``_FillValue`` (as the unsigned value when ``_Unsigned``), else ``default``."""
    fill = var.attrs.get("_FillValue", var.encoding.get("_FillValue", default))
    if fill is None or isnan(fill):
        return default if fill is None else fill
    if str(var.attrs.get("_Unsigned", "")).lower() == "true" and var.dtype.kind == "i":
        return np.asarray(fill, dtype=var.dtype).astype(np.dtype(f"u{var.dtype.itemsize}"))
    return fill


def isnan(value: Any) -> bool:
    """True for a floating-point NaN."""
    return bool(np.issubdtype(np.asarray(value).dtype, np.floating) and np.isnan(value))
