"""Sentinel-1 GRD backscatter: WorldCereal and openEO gfmap files."""

from __future__ import annotations

from collections.abc import Hashable
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from stori_xr import validate
from stori_xr.exceptions import DataFormatError
from stori_xr.io import decode
from stori_xr.io.chunks import Chunks
from stori_xr.io.decode import F32, PathLike
from stori_xr.metadata import format_call

_GFMAP_PREFIX = "S1-SIGMA0-"
_GFMAP_CAP = 65_534
_ORBIT_KEYS = (
    "relative_orbit",
    "sat:relative_orbit",
    "relativeOrbitNumber",
    "relative_orbit_number",
)
_DIRECTION_KEYS = ("orbit_direction", "sat:orbit_state", "orbitDirection", "orbit_state")


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
    units : str, default "dB"
        ``"dB"`` returns decibels (attribute ``units="dB"``); ``"linear"`` (or ``"1"``)
        returns linear power 10**(dB/10) (attribute ``units="1"``). The spellings are
        those of :func:`stori_xr.validate.parse_sar_units`.
    chunks : int, dict, "auto", {} or None, optional
        None reads into numpy. Otherwise the result is dask-backed with one chunk
        layout for every variable: an int sets ``y`` and ``x``; a dict sets the
        dimensions it names (``time``, ``y``, ``x`` or the file's names) and leaves the
        others as ``{}`` does; ``{}`` takes the file's on-disk chunks; ``"auto"`` lets
        dask size ``y``/``x`` for float32. Time is one chunk unless the dict names it
        (see :mod:`stori_xr.io`).

    Returns
    -------
    xarray.Dataset
        ``VV`` and/or ``VH`` as float32 (time, y, x). A ``relative_orbit`` coordinate
        along time when the file gives the relative orbit (attribute or variable), and
        an ``orbit_direction`` attribute when the file name or attributes say it.

    Raises
    ------
    UnitsError
        When ``units`` is neither decibels nor linear power.
    DataFormatError
        When the file is not a Sentinel-1 layout stori_xr knows, or is damaged
        (truncated, corrupt or not NetCDF/HDF5).
    ChunkingError
        When ``chunks`` is not a chunking the readers take.
    """
    kind = validate.parse_sar_units(units, "units")
    path = Path(path)
    raw = decode.read_file(path, chunks)
    layout = _layout(raw, path)
    time_dim = validate.find_time_dim(raw, require_datetime64=False, source=path)
    variables = {}
    for pol in ("VV", "VH"):
        name = pol if layout == "worldcereal" else f"{_GFMAP_PREFIX}{pol}"
        if name in raw.data_vars:
            db = _worldcereal_db(raw[name]) if layout == "worldcereal" else _gfmap_db(raw[name])
            variables[pol] = _sar_variable(db, pol, kind, layout)
    ds = xr.Dataset(variables, attrs=decode.file_attrs(raw.attrs))
    ds = _with_relative_orbit(ds, raw, time_dim)
    ds.attrs |= {"platform": "Sentinel-1", "instrument": "C-SAR", "product_type": "GRD"}
    ds.attrs["source"] = str(path)
    direction = _orbit_direction(raw, path)
    if direction is not None:
        ds.attrs["orbit_direction"] = direction
    call = format_call("open_sentinel1", path=str(path), units=units)
    ds = decode.tidy(ds, time_dim, decode.crs_of(raw))
    return decode.finish(ds, chunks, call, [raw])


def _layout(raw: xr.Dataset, path: Path) -> str:
    """``"worldcereal"`` (integer VV/VH, dB × 1e4) or ``"gfmap"`` (S1-SIGMA0-*)."""
    names = [str(n) for n in raw.data_vars]
    if any(n.startswith(_GFMAP_PREFIX) for n in names):
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


def _worldcereal_db(var: xr.DataArray) -> xr.DataArray:
    """WorldCereal: dB = DN / 10000, NaN where DN is the fill value (0)."""
    dn, fill = decode.unsigned(var), decode.fill_value(var, default=0)
    return dn.astype(F32).where(dn != fill) / F32(10_000.0)


def _gfmap_db(var: xr.DataArray) -> xr.DataArray:
    """The gfmap decoding: dB = 20·log10(DN) − 83; DN 0 and ≥ 65534 (saturated) are NaN."""
    dn = decode.unsigned(var)
    valid = (dn > 0) & (dn < _GFMAP_CAP)
    amplitude = dn.astype(F32).where(valid)
    return F32(20.0) * np.log10(amplitude) - F32(83.0)


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
    linear = F32(10.0) ** (db / F32(10.0))
    return linear.assign_attrs(
        attrs
        | {"units": "1", "standard_name": "surface_backwards_scattering_coefficient_of_radar_wave"}
    )


def _with_relative_orbit(ds: xr.Dataset, raw: xr.Dataset, time_dim: Hashable) -> xr.Dataset:
    """Add a ``relative_orbit`` coordinate along time when the file gives the orbit."""
    for key in _ORBIT_KEYS:
        if key in raw.variables and raw[key].dims == (time_dim,):
            return ds.assign_coords(relative_orbit=raw[key].variable.copy(deep=False))
    value = decode.attr_ci(raw.attrs, [k.lower() for k in _ORBIT_KEYS])
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
    value = decode.attr_ci(raw.attrs, [k.lower() for k in _DIRECTION_KEYS])
    text = str(value).upper() if value is not None else path.name.upper()
    for direction in ("DESCENDING", "ASCENDING"):
        if direction in text:
            return direction.lower()
    return None
