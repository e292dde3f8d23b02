"""Readers that turn real satellite files into tidy cubes.

Every reader returns an :class:`xarray.Dataset` with dimensions ``time``, ``y``, ``x``
(in that order), a sorted ``datetime64[ns]`` ``time`` coordinate, one float32 variable
per band in physical units, CF attributes and the CRS written with rioxarray (the
transform follows from the ``x``/``y`` cell-centre coordinates).

Files are opened with ``mask_and_scale=False`` (the default CF decoding fails on several
variables of the WorldCereal files) and decoded here, so that fill values, unsigned
integers stored as signed ones, scale factors and saturated values are handled explicitly.
Pass ``chunks=`` (a dict, ``"auto"`` or ``{}``) for a lazy, dask-backed result; with
``chunks=None`` the result is numpy-backed. Chunk keys may use the output names
(``time``, ``y``, ``x``) whatever the file calls its dimensions.

Each variable carries ``coverage_content_type`` (ACDD): ``physicalMeasurement`` for
bands, ``qualityInformation`` for masks (``SCL``, ``clear``, ``pixel_qa`` …) and
``auxiliaryInformation`` for the rest (angles, aerosol optical thickness, …).
"""

from __future__ import annotations

import gzip
import json
import operator
import os
import re
import warnings
from collections.abc import Hashable, Iterable, Mapping, Sequence
from functools import reduce
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import rioxarray
import xarray as xr
from rasterio.crs import CRS

from stori_xr.exceptions import (
    DataFormatError,
    MissingVariableError,
    TimeDimError,
    UnitsError,
)
from stori_xr.metadata import append_history, format_call

__all__ = [
    "bands_to_dataset",
    "open_cube",
    "open_eopatch",
    "open_landsat8",
    "open_sentinel1",
    "open_sentinel2",
    "to_common_names",
]

PathLike = str | os.PathLike[str]
Chunks = str | int | Mapping[Hashable, Any] | None

_F32 = np.float32

#: Sentinel-2 MSI bands: STAC common name and centre wavelength (µm).
S2_BANDS: dict[str, tuple[str, float]] = {
    "B01": ("coastal", 0.443),
    "B02": ("blue", 0.490),
    "B03": ("green", 0.560),
    "B04": ("red", 0.665),
    "B05": ("rededge071", 0.705),
    "B06": ("rededge075", 0.740),
    "B07": ("rededge078", 0.783),
    "B08": ("nir", 0.842),
    "B8A": ("nir08", 0.865),
    "B09": ("nir09", 0.945),
    "B10": ("cirrus", 1.375),
    "B11": ("swir16", 1.610),
    "B12": ("swir22", 2.190),
}

#: Landsat-8 OLI reflective bands (Landsat band numbers): common name, wavelength (µm).
L8_BANDS: dict[str, tuple[str, float]] = {
    "B01": ("coastal", 0.443),
    "B02": ("blue", 0.482),
    "B03": ("green", 0.561),
    "B04": ("red", 0.655),
    "B05": ("nir", 0.865),
    "B06": ("swir16", 1.609),
    "B07": ("swir22", 2.201),
}

#: Landsat-8 TIRS thermal bands: common name, wavelength (µm).
L8_THERMAL: dict[str, tuple[str, float]] = {
    "B10": ("lwir11", 10.9),
    "B11": ("lwir12", 12.0),
}

#: Scene classification (SCL) classes of Sentinel-2 L2A.
SCL_MEANINGS = (
    "no_data saturated_or_defective dark_area_pixels cloud_shadows vegetation "
    "not_vegetated water unclassified cloud_medium_probability cloud_high_probability "
    "thin_cirrus snow"
)

_S2_REFLECTANCE_SCALE = 10_000.0
_S2_FILL = 0
_GFMAP_S2_PREFIX = "S2-L2A-"
_GFMAP_S1_PREFIX = "S1-SIGMA0-"
_GRID_MAPPING_NAMES = frozenset({"spatial_ref", "crs"})
_L8_SATURATED_DN = 20_000
_GFMAP_S1_CAP = 65_534
_C2_ST_OFFSET_K = 149.0
_BOA_KEYS = ("boa_add_offset",)
_BASELINE_KEYS = ("processing_baseline", "s2:processing_baseline", "processingbaseline")
_ORBIT_KEYS = (
    "relative_orbit",
    "sat:relative_orbit",
    "relativeOrbitNumber",
    "relative_orbit_number",
)
_DIRECTION_KEYS = ("orbit_direction", "sat:orbit_state", "orbitDirection", "orbit_state")
_X_ALIASES = frozenset({"easting", "eastings", "x_coordinate", "xc", "x_coord"})
_Y_ALIASES = frozenset({"northing", "northings", "y_coordinate", "yc", "y_coord"})
_GEOGRAPHIC = frozenset({"lat", "lon", "latitude", "longitude"})

_S2_AUX_ATTRS: dict[str, dict[str, str]] = {
    "sunAzimuthAngles": {
        "units": "degree",
        "standard_name": "solar_azimuth_angle",
        "long_name": "sun azimuth angle (scene mean)",
    },
    "sunZenithAngles": {
        "units": "degree",
        "standard_name": "solar_zenith_angle",
        "long_name": "sun zenith angle (scene mean)",
    },
    "viewAzimuthMean": {
        "units": "degree",
        "standard_name": "sensor_azimuth_angle",
        "long_name": "viewing azimuth angle (scene mean)",
    },
    "viewZenithMean": {
        "units": "degree",
        "standard_name": "sensor_zenith_angle",
        "long_name": "viewing zenith angle (scene mean)",
    },
    "AOT": {
        "units": "1",
        "standard_name": "atmosphere_optical_thickness_due_to_ambient_aerosol_particles",
        "long_name": "aerosol optical thickness at 550 nm",
    },
    "WVP": {"units": "cm", "long_name": "water vapour column"},
    "CLM": {"units": "1", "long_name": "producer's cloud mask (1 = cloud)"},
    "NDVI": {"units": "1", "long_name": "producer's normalised difference vegetation index"},
}
#: Scale of auxiliary Sentinel-2 L2A layers stored as integers (value = DN * scale).
_S2_AUX_SCALE = {"AOT": 0.001, "WVP": 0.001}


# ----------------------------------------------------------------------------- Sentinel-2


def open_sentinel2(
    paths: PathLike | Sequence[PathLike],
    bands: Sequence[str] | None = None,
    clear_classes: Iterable[int] = (4, 5, 6),
    boa_offset: float | None = None,
    chunks: Chunks = None,
) -> xr.Dataset:
    """Read Sentinel-2 L2A surface reflectance with its scene classification.

    Three layouts are recognised from the variable names: the WorldCereal files
    (``S2_L2A_10m_*`` with B02 B03 B04 B08, ``S2_L2A_20m_*`` with B05 B06 B07 B8A B11
    B12, ``SCL`` and sun/view angles; ``uint16`` DN, 0 = fill), the openEO gfmap cube
    (``S2-L2A-B04`` …, ``int16`` with ``_Unsigned="true"``, read as ``uint16``) and the
    FuseTS file (float32 DN, NaN where the producer masked clouds).

    Parameters
    ----------
    paths : path or sequence of paths
        One file, or several files of the same place: files sharing dates are merged
        variable by variable (WorldCereal 10 m + 20 m), files with other dates are
        concatenated along time.
    bands : sequence of str, optional
        Bands to return (``"B04"``, ``"B8A"`` …); all bands of the file(s) by default.
        ``SCL``, ``clear`` and the auxiliary variables are always returned.
    clear_classes : iterable of int, default (4, 5, 6)
        SCL classes counted as clear (vegetation, not vegetated, water).
    boa_offset : float, optional
        DN added before scaling, e.g. ``-1000`` for processing baseline 04.00 and later.
        By default it is taken from the metadata only: a ``BOA_ADD_OFFSET`` attribute,
        or ``-1000`` when a ``processing_baseline`` attribute is 4 or more; never from
        the date (harmonised products, such as the openEO cubes, need none).
    chunks : dict, int, "auto" or None, optional
        Dask chunks; None reads into numpy.

    Returns
    -------
    xarray.Dataset
        One float32 variable per band, reflectance = (DN + offset) / 10000, NaN only
        where the file has no data (values stay as measured under clouds); ``SCL``
        (uint8, 0 = no data); ``clear`` (bool: SCL in ``clear_classes`` and every band
        present); the file's other variables (angles, AOT …) decoded. When 10 m and
        20 m files are read together, the 20 m variables are replicated onto the 10 m
        grid (nearest neighbour, exact because the grids nest 2:1).

    Raises
    ------
    DataFormatError
        When a file is not a Sentinel-2 layout stori_xr knows, or the grids of several
        files do not nest.
    MissingVariableError
        When a requested band is not in the file(s).

    Examples
    --------
    >>> s2 = open_sentinel2([path_10m, path_20m], bands=["B04", "B08", "B8A"])  # doctest: +SKIP
    >>> s2.B8A.sizes  # doctest: +SKIP
    Frozen({'time': 118, 'y': 64, 'x': 64})
    """
    files = _path_list(paths)
    parts = [_read_s2_file(path, boa_offset, chunks) for path in files]
    crs = _common_crs(parts)
    wanted = _wanted_bands(parts, bands, S2_BANDS, files)
    parts = [_drop_unwanted(part, wanted, S2_BANDS) for part in parts]
    parts = [part for part in parts if part.data_vars]
    target = _finest_grid([part for part in parts if set(wanted) & set(part.data_vars)])
    ds = _combine([_onto_grid(part, target) for part in parts])
    ds = _finish_scl(ds)
    ds["clear"] = _s2_clear(ds, wanted, clear_classes)
    ds = ds[[*wanted, *(v for v in ds.data_vars if v not in wanted)]]
    ds.attrs = _sensor_attrs(ds.attrs, files, "Sentinel-2", "MSI", "Level-2A", wanted, S2_BANDS)
    call = format_call("open_sentinel2", paths=[str(p) for p in files], bands=bands)
    return _finish(_tidy(ds, "time", crs), chunks, call)


def _read_s2_file(path: Path, boa_offset: float | None, chunks: Chunks) -> xr.Dataset:
    """Decode one Sentinel-2 file into float32 reflectance, SCL and auxiliary variables."""
    raw = _open(path, chunks)
    raw = _rename_s2_layout(raw, path)
    time_dim = _find_time(raw)
    out: dict[Hashable, xr.DataArray] = {}
    for name, var in raw.data_vars.items():
        if name in _GRID_MAPPING_NAMES or var.ndim == 0:
            continue
        if name in S2_BANDS:
            offset = _boa_offset(raw, var, boa_offset)
            out[name] = _s2_reflectance(var, str(name), offset)
        elif name == "SCL":
            out[name] = _decode_scl(var)
        else:
            out[name] = _decode_aux(var, str(name))
    ds = xr.Dataset(out, attrs=_file_attrs(raw.attrs))
    return _tidy(ds, time_dim, _crs_of(raw))


def _rename_s2_layout(raw: xr.Dataset, path: Path) -> xr.Dataset:
    """Detect the layout from the variable names; strip the gfmap ``S2-L2A-`` prefix."""
    names = [str(n) for n in raw.data_vars]
    if any(n in ("pixel_qa", "QA-PIXEL") for n in names):
        raise DataFormatError(
            f"{path} looks like a Landsat file (variables {names}): read it with "
            "stori_xr.io.open_landsat8."
        )
    gfmap = {n: n.removeprefix(_GFMAP_S2_PREFIX) for n in names if n.startswith(_GFMAP_S2_PREFIX)}
    if gfmap:
        return raw.rename(gfmap)
    if any(n in S2_BANDS or n == "SCL" for n in names):
        return raw
    raise DataFormatError(
        f"{path} is not a Sentinel-2 L2A layout stori_xr knows: its variables are {names}. "
        "Expected bands named B01 … B12, B8A with SCL (WorldCereal, FuseTS) or "
        "S2-L2A-B04 … (openEO gfmap); rename the variables to one of these layouts."
    )


def _s2_reflectance(var: xr.DataArray, name: str, offset: float) -> xr.DataArray:
    """Reflectance = (DN + offset) / 10000, NaN where the DN is the fill value."""
    dn, fill = _unsigned(var), _fill_value(var, default=_S2_FILL)
    scaled = (dn.astype(_F32) + _F32(offset)) / _F32(_S2_REFLECTANCE_SCALE)
    out = scaled.where(dn != fill)
    common, wavelength = S2_BANDS[name]
    return out.assign_attrs(
        _band_attrs(f"Sentinel-2 {name} surface reflectance", common, wavelength)
        | {"boa_offset_applied": float(offset)}
    )


def _boa_offset(raw: xr.Dataset, var: xr.DataArray, explicit: float | None) -> float:
    """The DN offset to add: explicit, ``BOA_ADD_OFFSET``, processing baseline, else 0."""
    if explicit is not None:
        return float(explicit)
    for attrs in (var.attrs, raw.attrs):
        value = _attr_ci(attrs, _BOA_KEYS)
        if value is not None:
            return float(np.ravel(value)[0])
    for attrs in (var.attrs, raw.attrs):
        value = _attr_ci(attrs, _BASELINE_KEYS)
        if value is not None:
            return -1000.0 if _baseline_number(value) >= 4.0 else 0.0
    return 0.0


def _attr_ci(attrs: Mapping[Hashable, Any], keys: Sequence[str]) -> Any:
    """The value of the first attribute whose lower-cased name is in ``keys``."""
    lowered = {str(k).lower(): v for k, v in attrs.items()}
    return next((lowered[k] for k in keys if k in lowered), None)


def _baseline_number(value: Any) -> float:
    """Parse a processing baseline such as ``"04.00"``, ``"N0400"``, ``4.0`` or ``400``."""
    text = str(value).strip().upper().removeprefix("N")
    number = float(re.sub(r"[^0-9.]", "", text) or "nan")
    return number / 100.0 if "." not in text and number >= 100 else number


def _decode_scl(var: xr.DataArray) -> xr.DataArray:
    """Scene classification as uint8, 0 (no data) where the file has fill or NaN."""
    scl = _unsigned(var)
    fill = _fill_value(var, default=_S2_FILL)
    scl = scl.where((scl != fill) & scl.notnull(), 0)
    return scl.astype(np.uint8).assign_attrs(_scl_attrs())


def _finish_scl(ds: xr.Dataset) -> xr.Dataset:
    """Bring SCL back to uint8 after an outer join filled missing dates with NaN."""
    if "SCL" not in ds or ds.SCL.dtype == np.uint8:
        return ds
    return ds.assign(SCL=ds.SCL.fillna(0).astype(np.uint8).assign_attrs(_scl_attrs()))


def _scl_attrs() -> dict[str, Any]:
    return {
        "long_name": "Sentinel-2 L2A scene classification",
        "flag_values": np.arange(12, dtype=np.uint8),
        "flag_meanings": SCL_MEANINGS,
        "coverage_content_type": "qualityInformation",
    }


def _decode_aux(var: xr.DataArray, name: str) -> xr.DataArray:
    """Float32 auxiliary variable: unsigned view, fill to NaN, known scale applied."""
    values = _unsigned(var)
    fill = _fill_value(var, default=0 if values.dtype.kind in "iu" else None)
    out = values.astype(_F32)
    if fill is not None and not _isnan(fill):
        out = out.where(values != fill)
    if name in _S2_AUX_SCALE:
        out = out * _F32(_S2_AUX_SCALE[name])
    attrs = {k: var.attrs[k] for k in ("long_name", "units") if var.attrs.get(k)}
    attrs |= _S2_AUX_ATTRS.get(name, {}) | {"coverage_content_type": "auxiliaryInformation"}
    return out.assign_attrs(attrs)


def _s2_clear(ds: xr.Dataset, bands: Sequence[str], clear_classes: Iterable[int]) -> xr.DataArray:
    """True where SCL is a clear class and no band is fill."""
    classes = [int(c) for c in clear_classes]
    present = _all_present(ds, bands)
    attrs = {
        "long_name": "usable clear-sky observation",
        "clear_classes": np.asarray(classes, dtype=np.int16),
        "coverage_content_type": "qualityInformation",
    }
    if "SCL" not in ds:
        warnings.warn(
            "no SCL in the Sentinel-2 input: 'clear' only marks band values that are "
            "not fill, not clouds; add the 20 m file (which has SCL) to mask clouds.",
            UserWarning,
            stacklevel=3,
        )
        return present.drop_attrs().assign_attrs(
            attrs | {"comment": "no SCL: fill screening only"}
        )
    return (
        (ds.SCL.isin(classes) & present)
        .drop_attrs()
        .assign_attrs(attrs | {"comment": f"SCL in {classes} and every band present"})
    )


# ----------------------------------------------------------------------------- Sentinel-1


def open_sentinel1(path: PathLike, units: str = "dB", chunks: Chunks = None) -> xr.Dataset:
    """Read Sentinel-1 GRD backscatter (VV, VH) in dB or linear power.

    Two layouts are recognised: WorldCereal ``S1_GRD-*`` files (``VV``/``VH`` int32
    holding dB × 10000, 0 = no data) and the openEO gfmap cube (``S1-SIGMA0-VV``/``-VH``
    int16 with ``_Unsigned``, read as uint16; dB = 20·log10(DN) − 83, 0 = no data).
    In the gfmap layout, values at the uint16 cap (DN ≥ 65534) are saturated: they are
    set to NaN like no data.

    Parameters
    ----------
    path : path
        The file.
    units : {"dB", "linear"}
        ``"dB"`` returns decibels (attribute ``units="dB"``); ``"linear"`` returns
        linear power 10**(dB/10) (attribute ``units="1"``).
    chunks : dict, int, "auto" or None, optional
        Dask chunks; None reads into numpy.

    Returns
    -------
    xarray.Dataset
        ``VV`` and/or ``VH`` as float32 (time, y, x). A ``relative_orbit`` coordinate
        along time when the file gives the relative orbit (attribute or variable), and
        an ``orbit_direction`` attribute when the file name or attributes say it.

    Raises
    ------
    UnitsError
        When ``units`` is neither ``"dB"`` nor ``"linear"``.
    DataFormatError
        When the file is not a Sentinel-1 layout stori_xr knows.
    """
    kind = _sar_units(units)
    path = Path(path)
    raw = _open(path, chunks)
    layout = _s1_layout(raw, path)
    time_dim = _find_time(raw)
    variables = {}
    for pol in ("VV", "VH"):
        name = pol if layout == "worldcereal" else f"{_GFMAP_S1_PREFIX}{pol}"
        if name in raw.data_vars:
            db = _wc_db(raw[name]) if layout == "worldcereal" else _gfmap_db(raw[name])
            variables[pol] = _sar_variable(db, pol, kind, layout)
    ds = xr.Dataset(variables, attrs=_file_attrs(raw.attrs))
    ds = _with_relative_orbit(ds, raw, time_dim)
    ds.attrs |= {"platform": "Sentinel-1", "instrument": "C-SAR", "product_type": "GRD"}
    ds.attrs["source"] = str(path)
    direction = _orbit_direction(raw, path)
    if direction is not None:
        ds.attrs["orbit_direction"] = direction
    call = format_call("open_sentinel1", path=str(path), units=units)
    return _finish(_tidy(ds, time_dim, _crs_of(raw)), chunks, call)


def _sar_units(units: str) -> str:
    """Validate ``units``: return ``"dB"`` or ``"linear"``."""
    key = str(units).strip().lower()
    if key in ("db", "decibel", "decibels"):
        return "dB"
    if key in ("linear", "1", "power"):
        return "linear"
    raise UnitsError(
        f"units={units!r} is not supported: pass units='dB' for decibels or "
        "units='linear' for linear power."
    )


def _s1_layout(raw: xr.Dataset, path: Path) -> str:
    """``"worldcereal"`` (integer VV/VH, dB × 1e4) or ``"gfmap"`` (S1-SIGMA0-*)."""
    names = [str(n) for n in raw.data_vars]
    if any(n.startswith(_GFMAP_S1_PREFIX) for n in names):
        return "gfmap"
    pols = [n for n in ("VV", "VH") if n in names]
    if pols and all(raw[n].dtype.kind in "iu" for n in pols):
        return "worldcereal"
    raise DataFormatError(
        f"{path} is not a Sentinel-1 layout stori_xr knows: its variables are {names}. "
        "Expected integer VV/VH in dB x 10000 (WorldCereal) or S1-SIGMA0-VV/VH "
        "(openEO gfmap); a file already in float dB can be opened with xarray and "
        "given units='dB' attributes instead."
    )


def _wc_db(var: xr.DataArray) -> xr.DataArray:
    """WorldCereal: dB = DN / 10000, NaN where DN is the fill value (0)."""
    dn, fill = _unsigned(var), _fill_value(var, default=0)
    return dn.astype(_F32).where(dn != fill) / _F32(10_000.0)


def _gfmap_db(var: xr.DataArray) -> xr.DataArray:
    """The gfmap decoding: dB = 20·log10(DN) − 83; DN 0 and ≥ 65534 (saturated) are NaN."""
    dn = _unsigned(var)
    valid = (dn > 0) & (dn < _GFMAP_S1_CAP)
    amplitude = dn.astype(_F32).where(valid)
    return _F32(20.0) * np.log10(amplitude) - _F32(83.0)


def _sar_variable(db: xr.DataArray, pol: str, kind: str, layout: str) -> xr.DataArray:
    """Attach CF attributes; convert to linear power when asked."""
    attrs: dict[str, Any] = {
        "long_name": f"Sentinel-1 {pol} backscatter coefficient (sigma0)",
        "polarisation": pol,
        "coverage_content_type": "physicalMeasurement",
    }
    if layout == "gfmap":
        attrs["comment"] = "DN 0 (no data) and DN >= 65534 (saturated) set to NaN"
    if kind == "dB":
        return db.assign_attrs(attrs | {"units": "dB"})
    linear = _F32(10.0) ** (db / _F32(10.0))
    return linear.assign_attrs(
        attrs
        | {"units": "1", "standard_name": "surface_backwards_scattering_coefficient_of_radar_wave"}
    )


def _with_relative_orbit(ds: xr.Dataset, raw: xr.Dataset, time_dim: Hashable) -> xr.Dataset:
    """Add a ``relative_orbit`` coordinate along time when the file gives the orbit."""
    for key in _ORBIT_KEYS:
        if key in raw.variables and raw[key].dims == (time_dim,):
            return ds.assign_coords(relative_orbit=raw[key].variable.copy(deep=False))
    value = _attr_ci(raw.attrs, [k.lower() for k in _ORBIT_KEYS])
    if value is None:
        return ds
    orbits = np.ravel(np.asarray(value)).astype(np.int64)
    n = ds.sizes[time_dim]
    if orbits.size not in (1, n):
        raise DataFormatError(
            f"the relative-orbit attribute has {orbits.size} values for {n} dates: give "
            "one value, or one per date."
        )
    return ds.assign_coords(relative_orbit=(time_dim, np.broadcast_to(orbits, (n,)).copy()))


def _orbit_direction(raw: xr.Dataset, path: Path) -> str | None:
    """``"ascending"``/``"descending"`` from attributes or the file name, else None."""
    value = _attr_ci(raw.attrs, [k.lower() for k in _DIRECTION_KEYS])
    text = str(value).upper() if value is not None else path.name.upper()
    for direction in ("DESCENDING", "ASCENDING"):
        if direction in text:
            return direction.lower()
    return None


# ----------------------------------------------------------------------------- Landsat-8


def open_landsat8(
    path: PathLike, bands: Sequence[str] | None = None, chunks: Chunks = None
) -> xr.Dataset:
    """Read Landsat-8 surface reflectance (Collection 1) or surface temperature (C2).

    Surface reflectance (WorldCereal ``L8_SR_*``, detected by ``pixel_qa``): reflective
    bands B01–B07 (Landsat band numbers: B05 is NIR) as DN / 10000; thermal B10/B11 as
    DN / 10 in kelvin. NaN where ``pixel_qa`` marks fill (0 or bit 0), where a band is 0,
    and where a band is ≥ 20000 (saturated or invalid values near 65,5xx are left
    unmasked in these files). ``clear`` = (clear bit 1 or water bit 2) and none of cloud
    shadow (3), snow (4), cloud (5), and every band present.

    Surface temperature (WorldCereal ``L8_L2-ST_*``, detected by ``QA-PIXEL``):
    ``ST-B10`` is already in whole kelvin (Collection-2 scaling applied by the producer);
    fill is 0, ``QA-PIXEL`` bit 0, and 149 K (the Collection-2 offset, i.e. DN 0).
    ``clear`` = (clear bit 6 or water bit 7) and none of dilated cloud (1), cirrus (2),
    cloud (3), cloud shadow (4), snow (5), and not fill.

    Acquisitions are kept as delivered, including same-day pairs seconds apart.

    Parameters
    ----------
    path : path
        The file.
    bands : sequence of str, optional
        Bands to return (``"B04"``, ``"B10"`` … or ``"ST-B10"``); all by default.
    chunks : dict, int, "auto" or None, optional
        Dask chunks; None reads into numpy.

    Returns
    -------
    xarray.Dataset
        The bands as float32, the QA variable as uint16, and ``clear`` (bool).

    Raises
    ------
    DataFormatError
        When the file is neither layout.
    MissingVariableError
        When a requested band is not in the file.
    """
    path = Path(path)
    raw = _open(path, chunks)
    time_dim = _find_time(raw)
    if "pixel_qa" in raw.data_vars:
        ds, level = _landsat_sr(raw, bands, path), "L2 surface reflectance, Collection 1"
    elif "QA-PIXEL" in raw.data_vars:
        ds, level = _landsat_st(raw, bands, path), "L2 surface temperature, Collection 2"
    else:
        raise DataFormatError(
            f"{path} is not a Landsat-8 layout stori_xr knows: its variables are "
            f"{[str(n) for n in raw.data_vars]}. Expected B02 … B07 with pixel_qa "
            "(surface reflectance) or ST-B10 with QA-PIXEL (surface temperature)."
        )
    ds.attrs = _file_attrs(raw.attrs)
    wanted = [str(v) for v in ds.data_vars if "common_name" in ds[v].attrs]
    table = L8_BANDS | L8_THERMAL | {"ST-B10": L8_THERMAL["B10"]}
    ds.attrs = _sensor_attrs(ds.attrs, [path], "Landsat-8", "OLI/TIRS", level, wanted, table)
    call = format_call("open_landsat8", path=str(path), bands=bands)
    return _finish(_tidy(ds, time_dim, _crs_of(raw)), chunks, call)


def _landsat_sr(raw: xr.Dataset, bands: Sequence[str] | None, path: Path) -> xr.Dataset:
    """Decode Collection-1 surface reflectance, thermal bands, pixel_qa and clear."""
    qa = _unsigned(raw.pixel_qa)
    fill = (qa == 0) | _bits(qa, 0)
    wanted = _wanted_bands([raw], bands, L8_BANDS | L8_THERMAL, [path])
    out: dict[str, xr.DataArray] = {}
    for name in wanted:
        dn = _unsigned(raw[name])
        bad = fill | (dn == 0) | (dn >= _L8_SATURATED_DN)
        out[name] = _landsat_band(dn.astype(_F32).where(~bad), name)
    clear = (_bits(qa, 1) | _bits(qa, 2)) & ~_bits(qa, 3, 4, 5) & ~fill
    out["pixel_qa"] = qa.assign_attrs(
        _qa_attrs(
            "Landsat Collection-1 pixel quality",
            [0, 1, 2, 3, 4, 5],
            "fill clear water cloud_shadow snow cloud",
        )
    )
    out["clear"] = _clear_attrs(
        clear & _all_present(out, wanted),
        "pixel_qa bit 1 (clear) or 2 (water), not 3-5 (shadow, snow, cloud), no band NaN",
    )
    return xr.Dataset(out)


def _landsat_st(raw: xr.Dataset, bands: Sequence[str] | None, path: Path) -> xr.Dataset:
    """Decode Collection-2 surface temperature (kelvin), QA-PIXEL and clear."""
    _wanted_bands([raw], bands, {"ST-B10": L8_THERMAL["B10"]}, [path])
    qa, st = _unsigned(raw["QA-PIXEL"]), _unsigned(raw["ST-B10"])
    fill = _bits(qa, 0) | (st == 0) | (st <= _C2_ST_OFFSET_K)
    temperature = st.astype(_F32).where(~fill)
    common, wavelength = L8_THERMAL["B10"]
    attrs = _band_attrs("Landsat-8 TIRS B10 surface temperature", common, wavelength)
    attrs |= {"units": "K", "standard_name": "surface_temperature"}
    clear = (_bits(qa, 6) | _bits(qa, 7)) & ~_bits(qa, 1, 2, 3, 4, 5) & ~fill
    meanings = "fill dilated_cloud cirrus cloud cloud_shadow snow clear water"
    return xr.Dataset(
        {
            "ST-B10": temperature.assign_attrs(attrs),
            "QA-PIXEL": qa.assign_attrs(
                _qa_attrs("Landsat Collection-2 pixel quality", list(range(8)), meanings)
            ),
            "clear": _clear_attrs(
                clear & temperature.notnull(),
                "QA-PIXEL bit 6 (clear) or 7 (water), not 0-5 (fill, clouds, shadow, snow)",
            ),
        }
    )


def _landsat_band(dn: xr.DataArray, name: str) -> xr.DataArray:
    """Scale a Landsat band: reflective DN / 10000, thermal DN / 10 (kelvin)."""
    if name in L8_THERMAL:
        common, wavelength = L8_THERMAL[name]
        attrs = _band_attrs(f"Landsat-8 TIRS {name} brightness temperature", common, wavelength)
        attrs |= {"units": "K", "standard_name": "toa_brightness_temperature"}
        return (dn / _F32(10.0)).assign_attrs(attrs)
    common, wavelength = L8_BANDS[name]
    attrs = _band_attrs(f"Landsat-8 OLI {name} surface reflectance", common, wavelength)
    return (dn / _F32(10_000.0)).assign_attrs(attrs)


def _bits(qa: xr.DataArray, *bits: int) -> xr.DataArray:
    """True where any of ``bits`` is set in the integer QA array."""
    mask = sum(1 << b for b in bits)
    return (qa & mask) != 0


def _qa_attrs(long_name: str, bits: Sequence[int], meanings: str) -> dict[str, Any]:
    return {
        "long_name": long_name,
        "flag_masks": np.asarray([1 << b for b in bits], dtype=np.uint16),
        "flag_meanings": meanings,
        "coverage_content_type": "qualityInformation",
    }


def _clear_attrs(clear: xr.DataArray, comment: str) -> xr.DataArray:
    return clear.drop_attrs().assign_attrs(
        long_name="usable clear-sky observation",
        comment=comment,
        coverage_content_type="qualityInformation",
    )


# ----------------------------------------------------------------------------- common names


def to_common_names(ds: xr.Dataset) -> xr.Dataset:
    """Rename band variables to their ``common_name`` attribute (``B04`` → ``red``).

    Works on the output of :func:`open_sentinel2` and :func:`open_landsat8` alike; the
    original name is kept in each variable's ``band`` attribute. Variables without a
    ``common_name`` (``SCL``, ``clear`` …) keep their names.

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
    mapping = {
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


# ----------------------------------------------------------------------------- generic cubes


def open_cube(
    path: PathLike,
    time_dim: Hashable | None = None,
    times: Sequence[Any] | None = None,
    chunks: Chunks = None,
) -> xr.Dataset | xr.DataArray:
    """Open a generic NetCDF, Zarr or GeoTIFF time stack as a tidy cube.

    The one datetime dimension becomes ``time`` (a string coordinate that parses as
    dates is converted), projected spatial dimensions recognisable from their CF
    attributes (``projection_x_coordinate``, ``axis="X"``) or names (``easting`` …)
    become ``x``/``y`` (latitude/longitude dimensions are left alone), and the CRS is
    kept (``spatial_ref``/``crs`` grid-mapping variable, ``grid_mapping`` attribute, or
    rioxarray's reading). NetCDF and Zarr are decoded with the default CF decoding.

    Parameters
    ----------
    path : path
        ``*.nc`` (or any file xarray opens), ``*.zarr`` or a Zarr folder, ``*.tif``.
    time_dim : hashable, optional
        The time dimension, when it is not the one datetime dimension.
    times : sequence, optional
        Dates to use for the time dimension (GeoTIFF: one per band).
    chunks : dict, int, "auto" or None, optional
        Dask chunks; None reads into numpy (lazily, on first access).

    Returns
    -------
    xarray.Dataset or xarray.DataArray
        A Dataset for NetCDF and Zarr, a DataArray (time, y, x) for GeoTIFF.

    Raises
    ------
    TimeDimError
        When no (or more than one) datetime dimension is found, or a GeoTIFF's bands
        carry no dates and ``times`` is not given.
    """
    path = Path(path)
    if path.suffix.lower() in (".tif", ".tiff"):
        return _open_geotiff(path, times, chunks)
    engine = "zarr" if path.suffix.lower() == ".zarr" or path.is_dir() else None
    ds = _open(path, chunks, engine=engine, mask_and_scale=True)
    dim = _find_time(ds, time_dim)
    if times is None and dim not in ds.coords:
        raise TimeDimError(f"{path}: dimension {dim!r} has no coordinate; pass times=[...].")
    times = ds[dim].values if times is None else times
    ds = ds.assign_coords({dim: (dim, _to_ns(times, ds.sizes[dim], path))})
    ds = _tidy(ds.rename(_spatial_renames(ds)), dim, _crs_of(ds))
    ds.attrs = append_history(ds.attrs, format_call("open_cube", path=str(path)))
    return ds


def _open_geotiff(path: Path, times: Sequence[Any] | None, chunks: Chunks) -> xr.DataArray:
    """GeoTIFF via rioxarray: its ``band`` dimension becomes ``time``."""
    if isinstance(chunks, Mapping):
        chunks = {("band" if k == "time" else k): v for k, v in chunks.items()}
    da = rioxarray.open_rasterio(path, chunks=chunks, mask_and_scale=True)
    if not isinstance(da, xr.DataArray):
        raise DataFormatError(f"{path} holds several subdatasets; open them one by one.")
    descriptions = da.attrs.pop("long_name", None)
    if times is None:
        times = _dates_or_none(np.atleast_1d(descriptions)) if descriptions else None
        if times is None:
            raise TimeDimError(
                f"{path}: the GeoTIFF bands carry no dates (band descriptions "
                f"{descriptions!r}); pass times=[...] with one date per band."
            )
    da = da.rename(band="time").assign_coords(time=("time", _to_ns(times, da.sizes["band"], path)))
    da = _tidy(da, "time", da.rio.crs)
    da.attrs = append_history(da.attrs, format_call("open_cube", path=str(path)))
    return da


def _spatial_renames(ds: xr.Dataset) -> dict[Hashable, str]:
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


# ----------------------------------------------------------------------------- eo-learn


def open_eopatch(folder: PathLike) -> xr.Dataset:
    """Read an eo-learn EOPatch folder (``data/``, ``mask/``, ``scalar/``, … as .npy).

    Time-dependent features (``data/NDVI.npy`` of shape (time, y, x, 1) …) become
    (time, y, x) variables, scalar features (time,) variables and timeless features
    (y, x) variables; single-channel features are squeezed. Time-dependent 0/1 masks
    become booleans, and ``clear = IS_DATA & ~CLM`` (whichever of the two exists). The
    CRS and the cell-centre ``x``/``y`` coordinates come from ``bbox.geojson`` and the
    array shape; times from ``timestamps.json`` (same-day pairs are kept).

    Parameters
    ----------
    folder : path
        The EOPatch folder.

    Returns
    -------
    xarray.Dataset
        The features, ``clear``, the CRS.

    Raises
    ------
    DataFormatError
        When ``timestamps.json``, ``bbox.geojson`` or time-dependent features are missing.
    """
    folder = Path(folder)
    times = _eopatch_times(folder)
    crs, (xmin, ymin, xmax, ymax) = _eopatch_bbox(folder)
    variables = _eopatch_features(folder, times.size)
    grids = {(v.sizes["y"], v.sizes["x"]) for v in variables.values() if "y" in v.dims}
    if len(grids) != 1:
        raise DataFormatError(f"{folder}: no spatial feature, or features of several shapes.")
    (height, width) = grids.pop()
    dx, dy = (xmax - xmin) / width, (ymax - ymin) / height
    coords = {
        "time": ("time", times),
        "y": ("y", ymax - (np.arange(height) + 0.5) * dy),
        "x": ("x", xmin + (np.arange(width) + 0.5) * dx),
    }
    ds = xr.Dataset(variables, coords=coords)
    ds["clear"] = _eopatch_clear(ds)
    ds.attrs = {"source": str(folder), "platform": "Sentinel-2", "title": "eo-learn EOPatch"}
    return _finish(_tidy(ds, "time", crs), None, format_call("open_eopatch", folder=str(folder)))


def _eopatch_times(folder: Path) -> np.ndarray:
    path = folder / "timestamps.json"
    if not path.is_file():
        raise DataFormatError(f"{folder} is not an EOPatch: {path.name} is missing.")
    return _to_ns(json.loads(path.read_text()), None, path)


def _eopatch_bbox(folder: Path) -> tuple[CRS, tuple[float, float, float, float]]:
    """CRS and (xmin, ymin, xmax, ymax) of the patch from ``bbox.geojson``."""
    path = folder / "bbox.geojson"
    if not path.is_file():
        raise DataFormatError(f"{folder} is not an EOPatch: {path.name} is missing.")
    geojson = json.loads(path.read_text())
    name = geojson.get("crs", {}).get("properties", {}).get("name", "EPSG:4326")
    points = np.asarray(geojson["coordinates"], dtype=float).reshape(-1, 2)
    lo, hi = points.min(axis=0), points.max(axis=0)
    return CRS.from_user_input(name), (lo[0], lo[1], hi[0], hi[1])


_EOPATCH_DIMS: dict[str, tuple[str, ...]] = {
    "data": ("time", "y", "x"),
    "mask": ("time", "y", "x"),
    "scalar": ("time",),
    "data_timeless": ("y", "x"),
    "mask_timeless": ("y", "x"),
}


_EOPATCH_CONTENT = {"NDVI": "physicalMeasurement", "CLM": "qualityInformation"}
_EOPATCH_CONTENT |= {"IS_DATA": "qualityInformation", "IS_VALID": "qualityInformation"}
_EOPATCH_ATTRS: dict[str, dict[str, str]] = {
    "NDVI": {"units": "1", "long_name": "normalised difference vegetation index"},
    "CLP": {"units": "1", "long_name": "cloud probability (s2cloudless)"},
    "CLM": {"long_name": "cloud mask (True = cloud)"},
    "IS_DATA": {"long_name": "data available (True = data)"},
    "IS_VALID": {"long_name": "valid data (True = valid)"},
    "CLOUD_COVERAGE": {"units": "1", "long_name": "cloud cover fraction of the patch"},
    "DEM": {"units": "m", "standard_name": "surface_altitude", "long_name": "elevation"},
    "LULC": {"long_name": "land use / land cover class"},
}


def _eopatch_features(folder: Path, n_times: int) -> dict[str, xr.Variable]:
    """Every ``<feature type>/<name>.npy[.gz]`` of the patch as an xarray Variable."""
    variables: dict[str, xr.Variable] = {}
    for feature_type, dims in _EOPATCH_DIMS.items():
        files = sorted((folder / feature_type).glob("*.npy*"))
        for path in files:
            name = path.name.split(".")[0]
            variable = _eopatch_variable(_load_npy(path), dims, feature_type)
            variable.attrs = _EOPATCH_ATTRS.get(name, {}) | {
                "coverage_content_type": _EOPATCH_CONTENT.get(name, "auxiliaryInformation")
            }
            variables[name] = variable
    if not any("time" in v.dims and v.ndim == 3 for v in variables.values()):
        raise DataFormatError(f"{folder} holds no time-dependent raster feature (data/*.npy).")
    bad = [n for n, v in variables.items() if "time" in v.dims and v.shape[0] != n_times]
    if bad:
        raise DataFormatError(f"features {bad} do not have {n_times} dates like timestamps.json.")
    return variables


def _load_npy(path: Path) -> np.ndarray:
    if path.suffix == ".gz":
        with gzip.open(path, "rb") as f:
            return np.load(f)
    return np.load(path)


def _eopatch_variable(array: np.ndarray, dims: tuple[str, ...], kind: str) -> xr.Variable:
    """Squeeze the channel axis (or name it); 0/1 masks to bool; floats to float32."""
    if array.shape[-1] == 1:
        array = array[..., 0]
    else:
        dims = (*dims, "channel")
    if kind == "mask" and array.dtype.kind in "bu" and array.max(initial=0) <= 1:
        array = array.astype(bool)
    elif array.dtype.kind == "f":
        array = array.astype(_F32)
    return xr.Variable(dims, array)


def _eopatch_clear(ds: xr.Dataset) -> xr.DataArray:
    """``IS_DATA & ~CLM`` with the masks the patch has."""
    clear = xr.ones_like(ds[next(v for v in ds.data_vars if ds[v].ndim == 3)], dtype=bool)
    if "IS_DATA" in ds:
        clear = clear & ds.IS_DATA.astype(bool)
    if "CLM" in ds:
        clear = clear & ~ds.CLM.astype(bool)
    return _clear_attrs(clear, "IS_DATA & ~CLM")


# ----------------------------------------------------------------------------- shared steps


def _path_list(paths: PathLike | Sequence[PathLike]) -> list[Path]:
    """One path or a sequence of paths as a list of existing files."""
    items = [paths] if isinstance(paths, str | os.PathLike) else list(paths)
    if not items:
        raise DataFormatError("no file given: pass a path or a list of paths.")
    out = [Path(p) for p in items]
    missing = [str(p) for p in out if not p.exists()]
    if missing:
        raise FileNotFoundError(f"files not found: {missing}")
    return out


def _open(path: Path, chunks: Chunks, **kwargs: Any) -> xr.Dataset:
    """Open read-only; chunk keys named ``time``/``y``/``x`` are mapped to the file's dims."""
    kwargs.setdefault("mask_and_scale", False)
    if not Path(path).exists():
        raise FileNotFoundError(f"file not found: {path}")
    ds = xr.open_dataset(path, **kwargs)
    if chunks is None:
        return ds
    if isinstance(chunks, Mapping):
        chunks = _file_chunks(chunks, ds)
    ds.close()
    return xr.open_dataset(path, chunks=chunks, **kwargs)


def _file_chunks(chunks: Mapping[Hashable, Any], ds: xr.Dataset) -> dict[Hashable, Any]:
    """Translate ``time``/``y``/``x`` chunk keys to the file's dimension names."""
    names: dict[Hashable, Hashable] = {new: old for old, new in _spatial_renames(ds).items()}
    if "time" in chunks and "time" not in ds.dims:
        try:
            names["time"] = _find_time(ds)
        except TimeDimError:
            pass
    return {names.get(k, k): v for k, v in chunks.items()}


def _find_time(ds: xr.Dataset, time_dim: Hashable | None = None) -> Hashable:
    """The one dimension whose coordinate holds datetimes (or date strings)."""
    if time_dim is not None:
        if time_dim not in ds.dims:
            raise TimeDimError(
                f"time_dim={time_dim!r} is not a dimension; the dimensions are {list(ds.dims)}."
            )
        return time_dim
    found = [d for d in ds.dims if d in ds.coords and _is_time_coord(ds[d])]
    if len(found) != 1:
        raise TimeDimError(
            f"expected one datetime dimension, found {found} among {list(ds.dims)}: name "
            "the time dimension with time_dim=, or give its coordinate dates."
        )
    return found[0]


def _is_time_coord(coord: xr.DataArray) -> bool:
    if np.issubdtype(coord.dtype, np.datetime64):
        return True
    return coord.dtype.kind in "USO" and _dates_or_none(coord.values) is not None


def _dates_or_none(values: Any) -> np.ndarray | None:
    """``values`` parsed as ISO dates (datetime64[ns]), or None when they are not dates."""
    try:
        parsed = pd.to_datetime(np.asarray(values).astype(str), format="ISO8601")
    except (ValueError, TypeError, OverflowError):
        return None
    return np.asarray(parsed.as_unit("ns").values)


def _to_ns(values: Any, size: int | None, where: PathLike) -> np.ndarray:
    """Dates as datetime64[ns]; TimeDimError when they do not parse or miscount."""
    array = np.asarray(values)
    dates = array if array.dtype.kind == "M" else _dates_or_none(array)
    if dates is None:
        raise TimeDimError(f"{where}: the times {array[:3]!r}... do not parse as dates.")
    dates = np.asarray(pd.DatetimeIndex(dates).as_unit("ns").values)
    if size is not None and dates.size != size:
        raise TimeDimError(f"{where}: {dates.size} times given for {size} time steps.")
    return dates


def _tidy(obj: Any, time_dim: Hashable, crs: CRS | None) -> Any:
    """Rename time, make it sorted datetime64[ns], order dims, set x/y attrs, write CRS."""
    if time_dim != "time":
        obj = obj.rename({time_dim: "time"})
    times = _to_ns(obj["time"].values, None, "the time coordinate")
    obj = obj.assign_coords(time=("time", times, {"standard_name": "time", "axis": "T"}))
    if not pd.Index(times).is_monotonic_increasing:
        obj = obj.sortby("time")
    spatial = [d for d in ("y", "x") if d in obj.dims]
    obj = obj.transpose("time", *spatial, ...)
    if isinstance(obj, xr.Dataset):  # the first variable sets the order of ds.dims
        full = ("time", *spatial)
        obj = obj[sorted(obj.data_vars, key=lambda name: obj[name].dims[:3] != full)]
    names = {*obj.coords, *getattr(obj, "data_vars", ())}
    obj = obj.drop_vars([n for n in _GRID_MAPPING_NAMES if n in names]).drop_encoding()
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


def _crs_of(ds: xr.Dataset) -> CRS | None:
    """CRS from a grid-mapping variable (``crs_wkt``/``spatial_ref``), ``epsg``, or rio."""
    names = [*_GRID_MAPPING_NAMES]
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


def _finish(ds: xr.Dataset, chunks: Chunks, call: str) -> xr.Dataset:
    """Append the history line; load into numpy when no chunks were asked for."""
    ds.attrs = append_history(ds.attrs, call)
    return ds.load() if chunks is None else ds


def _file_attrs(attrs: Mapping[Hashable, Any]) -> dict[str, Any]:
    """The file's global attributes minus CRS leftovers; ``source`` becomes ``provider``."""
    out = {str(k): v for k, v in attrs.items() if k not in ("crs", "grid_mapping")}
    if "source" in out:
        out["provider"] = out.pop("source")
    return out


def _sensor_attrs(
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


def _band_attrs(long_name: str, common_name: str, wavelength: float) -> dict[str, Any]:
    return {
        "units": "1",
        "long_name": long_name,
        "standard_name": "surface_bidirectional_reflectance",
        "common_name": common_name,
        "wavelength": wavelength,
        "wavelength_units": "um",
        "coverage_content_type": "physicalMeasurement",
    }


def _wanted_bands(
    parts: Sequence[xr.Dataset],
    bands: Sequence[str] | None,
    table: Mapping[str, Any],
    files: Sequence[Path],
) -> list[str]:
    """The bands to return, in the sensor's order; MissingVariableError if one is absent."""
    available = [b for b in table if any(b in p.data_vars for p in parts)]
    asked = available if bands is None else [bands] if isinstance(bands, str) else list(bands)
    missing = [b for b in asked if b not in available and b not in ("SCL", "clear")]
    wanted = [b for b in asked if b in available]
    if missing or not wanted:
        raise MissingVariableError(
            f"bands {missing or asked} are not in {[str(f) for f in files]}; the available "
            f"bands are {available}. Ask for some of these (SCL and clear are always returned)."
        )
    return wanted


def _drop_unwanted(ds: xr.Dataset, wanted: Sequence[str], table: Mapping[str, Any]) -> xr.Dataset:
    return ds.drop_vars([v for v in ds.data_vars if v in table and v not in wanted])


def _all_present(ds: Mapping[str, xr.DataArray] | xr.Dataset, bands: Sequence[str]) -> Any:
    """True where none of ``bands`` is NaN."""
    return reduce(operator.and_, [ds[b].notnull() for b in bands])


def _common_crs(parts: Sequence[xr.Dataset]) -> CRS | None:
    """The CRS shared by all parts; DataFormatError when the files disagree."""
    crs = [_crs_of(part) for part in parts]
    if len({c.to_wkt() if c is not None else None for c in crs}) > 1:
        raise DataFormatError(
            f"the files are in different CRS ({[str(c) for c in crs]}); read them "
            "separately and bring one onto the other with stori_xr.align."
        )
    return crs[0]


def _resolution(ds: xr.Dataset) -> float:
    return float(abs(ds.x.values[1] - ds.x.values[0])) if ds.sizes.get("x", 0) > 1 else np.inf


def _finest_grid(parts: Sequence[xr.Dataset]) -> xr.Dataset | None:
    """The part with the finest x spacing (None when no part has a grid)."""
    gridded = [p for p in parts if "x" in p.dims and "y" in p.dims]
    return min(gridded, key=_resolution) if gridded else None


def _bounds(ds: xr.Dataset) -> np.ndarray:
    rx, ry = _resolution(ds), float(abs(ds.y.values[1] - ds.y.values[0]))
    x, y = ds.x.values, ds.y.values
    return np.array([x.min() - rx / 2, y.min() - ry / 2, x.max() + rx / 2, y.max() + ry / 2])


def _onto_grid(part: xr.Dataset, target: xr.Dataset | None) -> xr.Dataset:
    """Replicate a coarser grid that nests in ``target`` onto it (nearest neighbour)."""
    if target is None or "x" not in part.dims or part is target:
        return part
    if np.array_equal(part.x.values, target.x.values) and np.array_equal(
        part.y.values, target.y.values
    ):
        return part
    coarse, fine = _resolution(part), _resolution(target)
    ratio = coarse / fine
    same_ground = np.allclose(_bounds(part), _bounds(target), rtol=0, atol=fine * 1e-3)
    if ratio < 1 or abs(ratio - round(ratio)) > 1e-6 or not same_ground:
        raise DataFormatError(
            f"grids do not nest: {coarse:g} m cells with bounds {_bounds(part).tolist()} "
            f"cannot be replicated onto {fine:g} m cells with bounds "
            f"{_bounds(target).tolist()}; read files of the same patch, or read them "
            "separately and use stori_xr.align."
        )
    return part.reindex(x=target.x, y=target.y, method="nearest", tolerance=coarse / 2)


def _combine(parts: Sequence[xr.Dataset]) -> xr.Dataset:
    """Merge variables of files sharing dates; concatenate files of other dates."""
    if len(parts) == 1:
        return parts[0]
    parts = [p.drop_vars([n for n in _GRID_MAPPING_NAMES if n in p.variables]) for p in parts]
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


def _unsigned(var: xr.DataArray) -> xr.DataArray:
    """The values without the file's attributes; ``_Unsigned="true"`` ints as unsigned."""
    bare = var.drop_attrs(deep=False)
    if str(var.attrs.get("_Unsigned", "")).lower() == "true" and var.dtype.kind == "i":
        return bare.astype(np.dtype(f"u{var.dtype.itemsize}"))
    return bare


def _fill_value(var: xr.DataArray, default: float | None) -> Any:
    """The ``_FillValue`` (as the unsigned value when ``_Unsigned``), else ``default``."""
    fill = var.attrs.get("_FillValue", var.encoding.get("_FillValue", default))
    if fill is None or _isnan(fill):
        return default if fill is None else fill
    if str(var.attrs.get("_Unsigned", "")).lower() == "true" and var.dtype.kind == "i":
        return np.asarray(fill, dtype=var.dtype).astype(np.dtype(f"u{var.dtype.itemsize}"))
    return fill


def _isnan(value: Any) -> bool:
    return bool(np.issubdtype(np.asarray(value).dtype, np.floating) and np.isnan(value))
