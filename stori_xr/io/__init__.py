"""Readers that turn real satellite files into tidy cubes.

One module per product — :mod:`~stori_xr.io.sentinel2`, :mod:`~stori_xr.io.sentinel1`,
:mod:`~stori_xr.io.landsat`, :mod:`~stori_xr.io.cube` (generic NetCDF/Zarr/GeoTIFF,
band stacks, common names), :mod:`~stori_xr.io.eopatch` — over the steps they share in
:mod:`~stori_xr.io.decode` (opening, decoding, tidying, grids) and the chunking rule in
:mod:`~stori_xr.io.chunks`; :mod:`~stori_xr.io.auto` picks the reader from each file's
layout (:func:`open_optical`, :func:`open_sar`, as ``stori interpolate`` reads). Time is
found by :func:`stori_xr.validate.find_time_dim`
and SAR units read by :func:`stori_xr.validate.parse_sar_units`, as in the validation.

Every reader returns an :class:`xarray.Dataset` with dimensions ``time``, ``y``, ``x``
(in that order), a sorted ``datetime64[ns]`` ``time`` coordinate (a time coordinate of
ISO date strings is converted), one float32 variable per band in physical units, CF
attributes and the CRS written with rioxarray (the transform follows from the
``x``/``y`` cell-centre coordinates).

Files are opened with ``mask_and_scale=False`` (the default CF decoding fails on several
variables of the WorldCereal files) and decoded here, so that fill values, unsigned
integers stored as signed ones, scale factors and saturated values are handled explicitly.
A damaged file (truncated, corrupt, or not NetCDF/HDF5) raises
:class:`~stori_xr.exceptions.DataFormatError` naming it, at open or, for a lazy result,
when the damaged block is read.

How the readers chunk: with ``chunks=None`` the result is numpy-backed. Otherwise it
is dask-backed, and every variable has the same chunks along each dimension
(``ds.chunks`` works), whatever the native resolution of each file: the chunks are those
of the output grid (the finest grid read: 20 m bands replicated onto the 10 m grid are
chunked like the 10 m bands), in the output dimension names:

* an int ``n``: ``n`` × ``n`` pixels in ``y``/``x``; time in one chunk;
* ``"auto"``: ``y``/``x`` sized by dask for float32 values (dask's ``array.chunk-size``,
  following the finest file's on-disk chunks); time in one chunk;
* ``{}``: the finest file's on-disk chunks in ``y``/``x`` (one chunk for a file stored
  contiguously, as the WorldCereal files are); time in one chunk;
* a dict: as ``{}``, with the dimensions it names set as asked (keys ``time``, ``y``,
  ``x`` or the file's own names such as ``timestamp``; values an int, a tuple of sizes,
  ``-1``/None for whole, ``"auto"``). Time is split only when the dict names it.

Time in one chunk is what the gap filling needs (:func:`stori_xr.fill.interpolate`
refuses a split time axis unless asked to rechunk). The values do not depend on the
chunks: a lazy result computes to exactly the numpy one.

Each variable carries ``coverage_content_type`` (ACDD): ``physicalMeasurement`` for
bands, ``qualityInformation`` for masks (``SCL``, ``clear``, ``pixel_qa`` …) and
``auxiliaryInformation`` for the rest (angles, aerosol optical thickness, …).
"""

from __future__ import annotations

from stori_xr.io.auto import Layout as Layout
from stori_xr.io.auto import detect_layout, open_optical, open_sar
from stori_xr.io.chunks import Chunks as Chunks
from stori_xr.io.cube import bands_to_dataset, open_cube, to_common_names
from stori_xr.io.decode import PathLike as PathLike
from stori_xr.io.eopatch import open_eopatch
from stori_xr.io.landsat import L8_BANDS as L8_BANDS
from stori_xr.io.landsat import L8_THERMAL as L8_THERMAL
from stori_xr.io.landsat import open_landsat8
from stori_xr.io.sentinel1 import open_sentinel1
from stori_xr.io.sentinel2 import S2_BANDS as S2_BANDS
from stori_xr.io.sentinel2 import SCL_MEANINGS as SCL_MEANINGS
from stori_xr.io.sentinel2 import open_sentinel2

__all__ = [
    "bands_to_dataset",
    "detect_layout",
    "open_cube",
    "open_eopatch",
    "open_landsat8",
    "open_optical",
    "open_sar",
    "open_sentinel1",
    "open_sentinel2",
    "to_common_names",
]
