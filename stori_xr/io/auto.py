"""Any input the readers read: each file's layout picks its reader.

:func:`detect_layout` looks at a file's variables, without reading their values, and
names the product layout it recognises; :func:`open_optical` and :func:`open_sar` read
files with the reader of their layout, or as a generic cube
(:func:`~stori_xr.io.open_cube`) when no product layout fits. The layouts, tried in
this order:

========================================  ==========================================
layout                                    recognised by
========================================  ==========================================
Sentinel-2 L2A (openEO gfmap)             variables ``S2-L2A-*``
Landsat 8 (WorldCereal)                   a ``pixel_qa`` or ``QA-PIXEL`` variable
Sentinel-2 L2A (WorldCereal)              bands ``B01`` … ``B12``, ``B8A`` stored as
                                          integers (DN)
Sentinel-2 L2A (FuseTS)                   such bands stored as floats, with ``SCL``
                                          and no ``clear`` variable
Sentinel-1 GRD (openEO gfmap)             variables ``S1-SIGMA0-*``
Sentinel-1 GRD (WorldCereal)              ``VV``/``VH`` stored as integers (dB × 1e4)
eo-learn EOPatch                          a folder with ``timestamps.json``
generic NetCDF / Zarr / GeoTIFF cube      anything else (a ``clear`` variable and
                                          float bands are a tidy cube: a reader's
                                          output, ``make_scene``'s scene)
========================================  ==========================================

Files of one product are read together (Sentinel-2: one :func:`open_sentinel2` call,
which merges the 10 m and 20 m files); files read one by one are combined, variables of
the same dates merged and other dates concatenated along time. A GeoTIFF is the time
stack of one band (its raster bands are the dates, dated by their descriptions), named
after its file (``B04.tif`` → ``B04``): several GeoTIFFs are the bands of one cube.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import xarray as xr

from stori_xr.exceptions import DataFormatError, TimeDimError
from stori_xr.io import chunks as chunking
from stori_xr.io import decode
from stori_xr.io.chunks import Chunks
from stori_xr.io.cube import open_cube
from stori_xr.io.decode import PathLike
from stori_xr.io.eopatch import open_eopatch
from stori_xr.io.landsat import open_landsat8
from stori_xr.io.sentinel1 import open_sentinel1
from stori_xr.io.sentinel2 import S2_BANDS, open_sentinel2

Sensor = Literal["optical", "sar"]
#: How each kind of input is given, for messages.
_AS = {"optical": "optical input (--optical, open_optical)", "sar": "SAR input (--sar, open_sar)"}

#: ``{variable name: (dtype kind, attributes)}`` of a file, as stored.
_Variables = Mapping[str, tuple[str, Mapping[str, Any]]]


@dataclass(frozen=True)
class Layout:
    """What a file holds, as :func:`detect_layout` sees it.

    Attributes
    ----------
    name : str
        The layout, e.g. ``"Sentinel-2 L2A (WorldCereal)"`` or ``"generic Zarr cube"``.
    sensor : {"optical", "sar"} or None
        What the product is; None for a generic cube, which can hold either.
    reader : str
        The function of :mod:`stori_xr.io` that reads it.
    """

    name: str
    sensor: Sensor | None
    reader: str


@dataclass(frozen=True)
class _Product:
    layout: Layout
    rule: str  #: how it is recognised, for the error that lists what was tried
    matches: Callable[[_Variables], bool]


def _s2_bands(variables: _Variables, kinds: str) -> bool:
    return any(n in S2_BANDS and kind in kinds for n, (kind, _) in variables.items())


def _prefixed(prefix: str) -> Callable[[_Variables], bool]:
    return lambda variables: any(n.startswith(prefix) for n in variables)


_PRODUCTS = (
    _Product(
        Layout("Sentinel-2 L2A (openEO gfmap)", "optical", "open_sentinel2"),
        "variables S2-L2A-*",
        _prefixed("S2-L2A-"),
    ),
    _Product(
        Layout("Landsat 8 (WorldCereal)", "optical", "open_landsat8"),
        "a pixel_qa or QA-PIXEL variable",
        lambda v: "pixel_qa" in v or "QA-PIXEL" in v,
    ),
    _Product(
        Layout("Sentinel-2 L2A (WorldCereal)", "optical", "open_sentinel2"),
        "bands B01 ... B12, B8A stored as integers",
        lambda v: _s2_bands(v, "iu"),
    ),
    _Product(
        Layout("Sentinel-2 L2A (FuseTS)", "optical", "open_sentinel2"),
        "such bands as floats with SCL and no clear variable",
        lambda v: _s2_bands(v, "f") and "SCL" in v and "clear" not in v,
    ),
    _Product(
        Layout("Sentinel-1 GRD (openEO gfmap)", "sar", "open_sentinel1"),
        "variables S1-SIGMA0-*",
        _prefixed("S1-SIGMA0-"),
    ),
    _Product(
        Layout("Sentinel-1 GRD (WorldCereal)", "sar", "open_sentinel1"),
        "VV/VH stored as integers",
        lambda v: any(v[p][0] in "iu" for p in ("VV", "VH") if p in v),
    ),
)
_EOPATCH = Layout("eo-learn EOPatch", None, "open_eopatch")
#: The readers of single files that take ``chunks=``.
_READERS: dict[str, Callable[..., xr.Dataset]] = {
    "open_sentinel1": open_sentinel1,
    "open_landsat8": open_landsat8,
}


def detect_layout(path: PathLike) -> Layout:
    """The layout of one file or folder, from its variables (no values are read).

    Parameters
    ----------
    path : path
        A NetCDF file, a Zarr store, a GeoTIFF or an EOPatch folder.

    Returns
    -------
    Layout
        The first product layout whose rule the file meets (see :mod:`stori_xr.io.auto`),
        else a generic cube, read by :func:`~stori_xr.io.open_cube`.

    Raises
    ------
    FileNotFoundError
        When the path does not exist.
    DataFormatError
        When the file is damaged or not NetCDF/HDF5 (nor Zarr, nor GeoTIFF).

    Examples
    --------
    >>> detect_layout("S2_L2A_10m_00002806639B424A.nc")  # doctest: +SKIP
    Layout(name='Sentinel-2 L2A (WorldCereal)', sensor='optical', reader='open_sentinel2')
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"file not found: {path}")
    suffix = path.suffix.lower()
    if suffix in (".tif", ".tiff"):
        return Layout("generic GeoTIFF stack", None, "open_cube")
    if path.is_dir() and (path / "timestamps.json").is_file():
        return _EOPATCH
    zarr = path.is_dir() or suffix == ".zarr"
    variables = _variables(path, zarr)
    for product in _PRODUCTS:
        if product.matches(variables):
            return product.layout
    return Layout(f"generic {'Zarr' if zarr else 'NetCDF'} cube", None, "open_cube")


def _variables(path: Path, zarr: bool) -> dict[str, tuple[str, Mapping[str, Any]]]:
    """The file's data variables as stored: dtype kind and attributes."""
    engine = {"engine": "zarr"} if zarr else {}
    raw = decode.open_file(path, netcdf=not zarr, decode_cf=False, **engine)
    try:
        return {str(n): (v.dtype.kind, dict(v.attrs)) for n, v in raw.data_vars.items()}
    finally:
        raw.close()


def open_optical(paths: PathLike | Sequence[PathLike], chunks: Chunks = None) -> xr.Dataset:
    """Read optical files of any layout the readers know into one cube.

    Parameters
    ----------
    paths : path or sequence of paths
        Files of one place: Sentinel-2 L2A (WorldCereal 10 m and 20 m, openEO gfmap,
        FuseTS), Landsat 8, an EOPatch folder, or generic NetCDF / Zarr / GeoTIFF cubes
        (see :mod:`stori_xr.io.auto`), all of one reader.
    chunks : int, dict, "auto", {} or None, optional
        As for every reader (:mod:`stori_xr.io`); None reads into numpy.

    Returns
    -------
    xarray.Dataset
        The cube, as its reader returns it.

    Raises
    ------
    FileNotFoundError
        When a file does not exist.
    DataFormatError
        When a file is a SAR product, the files need several readers, or a file is
        neither a product layout nor a cube :func:`~stori_xr.io.open_cube` reads (the
        message lists the layouts tried).
    """
    return _open(paths, "optical", chunks)


def open_sar(paths: PathLike | Sequence[PathLike], chunks: Chunks = None) -> xr.Dataset:
    """Read SAR files of any layout the readers know into one cube with ``VV``/``VH``.

    Parameters
    ----------
    paths : path or sequence of paths
        Sentinel-1 GRD files (WorldCereal, openEO gfmap) or generic NetCDF / Zarr cubes
        holding ``VV`` and/or ``VH`` with their units (see :mod:`stori_xr.io.auto`).
        Several files (orbits, years) are combined along time.
    chunks : int, dict, "auto", {} or None, optional
        As for every reader (:mod:`stori_xr.io`); None reads into numpy.

    Returns
    -------
    xarray.Dataset
        ``VV`` and/or ``VH`` (time, y, x).

    Raises
    ------
    FileNotFoundError
        When a file does not exist.
    DataFormatError
        When a file is an optical product, the files need several readers, or no
        ``VV``/``VH`` is found (the message lists the layouts tried).
    """
    ds = _open(paths, "sar", chunks)
    if "VV" not in ds.data_vars and "VH" not in ds.data_vars:
        raise DataFormatError(
            f"no VV or VH in {_listed(decode.path_list(paths))} (variables "
            f"{list(map(str, ds.data_vars))}): tried {_tried('sar')}, then read it as a "
            "generic cube. Give Sentinel-1 backscatter, or name its variables VV and VH "
            "(with units='dB' or '1')."
        )
    return ds


def _open(paths: PathLike | Sequence[PathLike], sensor: Sensor, chunks: Chunks) -> xr.Dataset:
    files = decode.path_list(paths)
    layouts = [detect_layout(path) for path in files]
    for path, layout in zip(files, layouts, strict=True):
        if layout.sensor not in (None, sensor):
            raise DataFormatError(
                f"{path} is a {layout.name} file: give it as {_AS[layout.sensor]}, not as "
                f"{_AS[sensor].split(' (')[0]}."
            )
    readers = {layout.reader for layout in layouts}
    if len(readers) > 1:
        described = "; ".join(
            f"{p.name}: {lay.name}" for p, lay in zip(files, layouts, strict=True)
        )
        raise DataFormatError(
            f"the {sensor} files are of several layouts ({described}): give files of one "
            "layout, or convert them to one first."
        )
    (reader,) = readers
    if reader == "open_sentinel2":
        return open_sentinel2(files, chunks=chunks)
    parts = [_read_one(path, reader, sensor, chunks) for path in files]
    return parts[0] if len(parts) == 1 else _combine(parts, chunks)


def _read_one(path: Path, reader: str, sensor: Sensor, chunks: Chunks) -> xr.Dataset:
    """One file, by its reader; a generic cube it cannot read names the layouts tried."""
    if reader == "open_eopatch":
        ds = open_eopatch(path)
        return ds if chunks is None else chunking.rechunk(ds.chunk(), chunks)
    if reader != "open_cube":
        return _READERS[reader](path, chunks=chunks)
    try:
        cube = open_cube(path, chunks=chunks)
    except (TimeDimError, DataFormatError) as error:
        raise DataFormatError(
            f"{path} is in no layout stori_xr reads as {sensor} input: it is not "
            f"{_tried(sensor)}, and as a generic cube: {error}"
        ) from error
    if isinstance(cube, xr.DataArray):  # a GeoTIFF: one band's time stack
        return cube.to_dataset(name=path.stem)
    return cube


def _tried(sensor: Sensor) -> str:
    """The product layouts of a sensor and how each is recognised, as one phrase."""
    return "; ".join(f"{p.layout.name} ({p.rule})" for p in _PRODUCTS if p.layout.sensor == sensor)


def _listed(files: Sequence[Path]) -> str:
    return ", ".join(str(f) for f in files)


def _combine(parts: Sequence[xr.Dataset], chunks: Chunks) -> xr.Dataset:
    """Parts as one cube: same dates merged, others concatenated; time one chunk."""
    crs = decode.common_crs(parts)
    ds = decode.tidy(decode.combine(parts), "time", crs)
    if chunks is None:
        return ds
    first = {d: max(c) for d, c in parts[0].chunks.items() if d != "time"}
    return chunking.rechunk(ds, chunks, first)  # concatenated dates: time one chunk again
