"""Generic cubes: NetCDF, Zarr and GeoTIFF time stacks, band stacks, common names."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import rioxarray
import xarray as xr

from stori_xr import validate
from stori_xr.exceptions import DataFormatError, TimeDimError
from stori_xr.io import chunks as chunking
from stori_xr.io import decode
from stori_xr.io.chunks import Chunks
from stori_xr.io.decode import PathLike
from stori_xr.metadata import append_history, check_write_status, format_call

_GEOTIFF_SUFFIXES = (".tif", ".tiff")


def open_cube(
    path: PathLike,
    time_dim: Hashable | None = None,
    times: Sequence[Any] | None = None,
    chunks: Chunks = None,
    allow_incomplete: bool = False,
) -> xr.Dataset | xr.DataArray:
    """Open a generic NetCDF, Zarr or GeoTIFF time stack as a tidy cube.

    The one time dimension (see :func:`stori_xr.validate.find_time_dim`) becomes
    ``time`` (a coordinate of ISO date strings is converted), projected spatial
    dimensions recognisable from their CF attributes (``projection_x_coordinate``,
    ``axis="X"``) or names (``easting`` …) become ``x``/``y`` (latitude/longitude
    dimensions are left alone), and the CRS is kept (``spatial_ref``/``crs``
    grid-mapping variable, ``grid_mapping`` attribute, or rioxarray's reading). NetCDF
    and Zarr are decoded with the default CF decoding.

    Parameters
    ----------
    path : path
        ``*.nc`` (or any file xarray opens), ``*.zarr`` or a Zarr folder, ``*.tif``.
    time_dim : hashable, optional
        The time dimension, when it is not the one datetime dimension.
    times : sequence, optional
        Dates to use for the time dimension (GeoTIFF: one per band).
    chunks : int, dict, "auto", {} or None, optional
        None reads into numpy (lazily, on first access). Otherwise the result is
        dask-backed with one chunk layout for every variable: an int sets ``y`` and
        ``x``; a dict sets the dimensions it names (``time``, ``y``, ``x`` or the file's
        names, such as a GeoTIFF's ``band``) and leaves the others as ``{}`` does;
        ``{}`` takes the file's on-disk chunks; ``"auto"`` lets dask size ``y``/``x``
        for float32. Time, and any other dimension, is one chunk unless the dict names
        it or (other dimensions) the file is chunked along it (see :mod:`stori_xr.io`).
    allow_incomplete : bool, default False
        Open a store whose write failed or was interrupted (its ``stori_write_status``
        attribute is not ``"complete"``, see :mod:`stori_xr.output`), with an
        :class:`~stori_xr.exceptions.IncompleteStoreWarning`, instead of refusing it.

    Returns
    -------
    xarray.Dataset or xarray.DataArray
        A Dataset for NetCDF and Zarr, a DataArray (time, y, x) for GeoTIFF.

    Raises
    ------
    TimeDimError
        When no (or more than one) time dimension is found, or a GeoTIFF's bands
        carry no dates and ``times`` is not given.
    DataFormatError
        When the file is damaged (truncated, corrupt, or a ``*.nc`` file that is not
        NetCDF/HDF5).
    ChunkingError
        When ``chunks`` is not a chunking the readers take.
    IncompleteStoreError
        When the store was written by stori_xr and its write did not finish.
    """
    path = Path(path)
    if path.suffix.lower() in _GEOTIFF_SUFFIXES:
        return _open_geotiff(path, times, chunks)
    engine = "zarr" if path.suffix.lower() == ".zarr" or path.is_dir() else None
    netcdf = path.suffix.lower() in decode.NETCDF_SUFFIXES
    raw = decode.read_file(
        path, chunks, load=False, netcdf=netcdf, engine=engine, mask_and_scale=True
    )
    check_write_status(raw.attrs, str(path), allow_incomplete)
    dim = validate.find_time_dim(raw, time_dim, require_datetime64=False, source=path)
    if times is None and dim not in raw.coords:
        raise TimeDimError(f"{path}: dimension {dim!r} has no coordinate; pass times=[...].")
    times = raw[dim].values if times is None else times
    ds = raw.assign_coords({dim: (dim, decode.to_ns(times, raw.sizes[dim], path))})
    ds = decode.tidy(ds.rename(decode.spatial_renames(ds)), dim, decode.crs_of(ds))
    call = format_call("open_cube", path=str(path))
    chunks = chunking.in_output_names(chunks, {dim: "time"})  # also when time_dim= names it
    return decode.finish(ds, chunks, call, [raw], load=False)


def _open_geotiff(path: Path, times: Sequence[Any] | None, chunks: Chunks) -> xr.DataArray:
    """GeoTIFF via rioxarray: its ``band`` dimension becomes ``time``."""
    try:
        da = rioxarray.open_rasterio(path, mask_and_scale=True, cache=chunks is None)
    except OSError as error:
        if isinstance(error, FileNotFoundError | PermissionError):
            raise
        raise decode.damaged(path, "it cannot be opened", "GeoTIFF", error) from error
    if not isinstance(da, xr.DataArray):
        raise DataFormatError(f"{path} holds several subdatasets; open them one by one.")
    names = {"band": "time"}
    on_disk = da.encoding.get("preferred_chunks", {})
    preferred = {names.get(d, d): int(n) for d, n in on_disk.items()}
    if chunks is not None:
        sizes = {names.get(d, d): n for d, n in da.sizes.items()}
        user = chunking.in_output_names(chunks, names)
        wanted = chunking.for_file(user, sizes, preferred)
        on_file = {("band" if d == "time" else d): c for d, c in wanted.items()}
        da = decode.chunk_file(da, path, on_file, "GeoTIFF")
    descriptions = da.attrs.pop("long_name", None)
    if times is None:
        times = validate.parse_dates(np.atleast_1d(descriptions)) if descriptions else None
        if times is None:
            raise TimeDimError(
                f"{path}: the GeoTIFF bands carry no dates (band descriptions "
                f"{descriptions!r}); pass times=[...] with one date per band."
            )
    dates = decode.to_ns(times, da.sizes["band"], path, per="band")
    da = da.rename(band="time").assign_coords(time=("time", dates))
    da = decode.tidy(da, "time", da.rio.crs)
    da.attrs = append_history(da.attrs, format_call("open_cube", path=str(path)))
    if chunks is None:
        return da
    return chunking.rechunk(da, chunking.in_output_names(chunks, names), preferred)


def bands_to_dataset(da: xr.DataArray, band_dim: Hashable = "band") -> xr.Dataset:
    """Turn a DataArray with a band dimension (stackstac, odc-stac) into a Dataset.

    Per-band coordinates (``common_name``, ``center_wavelength`` …) become attributes
    of each band variable; the other coordinates, the attributes and the CRS are kept.

    Parameters
    ----------
    da : xarray.DataArray
        The stack, e.g. (time, band, y, x).
    band_dim : hashable, default "band"
        Its band dimension; its labels become the variable names.

    Returns
    -------
    xarray.Dataset
        One variable per band.

    Raises
    ------
    DataFormatError
        When ``band_dim`` is missing or unlabelled, or two bands share a label.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> da = xr.DataArray(
    ...     np.zeros((2, 3)), dims=("band", "x"),
    ...     coords={"band": ["B04", "B08"], "common_name": ("band", ["red", "nir"])},
    ... )
    >>> ds = bands_to_dataset(da)
    >>> list(ds.data_vars), ds.B08.attrs["common_name"]
    (['B04', 'B08'], 'nir')
    """
    if band_dim not in da.dims or band_dim not in da.coords:
        raise DataFormatError(
            f"the DataArray has no labelled {band_dim!r} dimension (dims {list(da.dims)}): "
            "pass band_dim= the name of its band dimension, or label the bands with "
            f".assign_coords({band_dim}=['B04', 'B08', ...])."
        )
    labels = [str(v) for v in da[band_dim].values]
    if len(set(labels)) != len(labels):
        raise DataFormatError(f"band labels {labels} repeat; make them unique first.")
    per_band = [c for c in da.coords if c != band_dim and band_dim in da[c].dims]
    variables = {
        label: da.isel({band_dim: i}, drop=True)
        .drop_vars(per_band, errors="ignore")
        .drop_attrs(deep=False)
        .assign_attrs(_band_coord_attrs(da, per_band, i))
        for i, label in enumerate(labels)
    }
    ds = xr.Dataset(variables, attrs=dict(da.attrs))
    crs = da.rio.crs
    return ds.rio.write_crs(crs) if crs is not None else ds


def _band_coord_attrs(da: xr.DataArray, names: Sequence[Hashable], index: int) -> dict:
    """The values of 1-D per-band coordinates at ``index``, as plain attributes."""
    attrs: dict[str, Any] = {}
    for name in names:
        if da[name].ndim != 1:
            continue
        value = da[name].values[index]
        value = value.item() if isinstance(value, np.generic) else value
        if value is not None and not (isinstance(value, float) and np.isnan(value)):
            attrs[str(name)] = value
    return attrs


def to_common_names(ds: xr.Dataset) -> xr.Dataset:
    """Rename band variables to their ``common_name`` attribute (``B04`` → ``red``).

    Works on the output of :func:`~stori_xr.io.open_sentinel2` and
    :func:`~stori_xr.io.open_landsat8` alike; the original name is kept in each
    variable's ``band`` attribute. Variables without a ``common_name`` (``SCL``,
    ``clear`` …) keep their names.

    Parameters
    ----------
    ds : xarray.Dataset
        A Dataset whose band variables carry ``common_name`` attributes.

    Returns
    -------
    xarray.Dataset
        A new Dataset with renamed variables.

    Raises
    ------
    DataFormatError
        When two variables share a common name or one would replace another variable.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> ds = xr.Dataset({"B04": ("x", np.zeros(2), {"common_name": "red"})})
    >>> list(to_common_names(ds).data_vars)
    ['red']
    """
    mapping: Mapping[Hashable, str] = {
        name: str(var.attrs["common_name"])
        for name, var in ds.data_vars.items()
        if "common_name" in var.attrs
    }
    targets = list(mapping.values())
    clashes = {t for t in targets if targets.count(t) > 1}
    clashes |= {t for t in targets if t in ds.variables and t not in mapping}
    if clashes:
        raise DataFormatError(
            f"cannot rename to common names: {sorted(clashes)} would name several variables; "
            "drop or rename the duplicates first."
        )
    out = ds.rename(mapping)
    for name, common in mapping.items():
        out[common].attrs["band"] = str(name)
    out.attrs.pop("common_names", None)
    return out
