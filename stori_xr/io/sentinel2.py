"""Sentinel-2 L2A: WorldCereal, openEO gfmap and FuseTS files."""

from __future__ import annotations

import re
from collections.abc import Hashable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from stori_xr import validate
from stori_xr.exceptions import DataFormatError, NoCloudMaskWarning, warn
from stori_xr.io import decode
from stori_xr.io.chunks import Chunks
from stori_xr.io.decode import F32, PathLike
from stori_xr.metadata import format_call

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

#: The resolution (m) of each Sentinel-2 band in L2A products.
_RESOLUTION = {
    **dict.fromkeys(("B02", "B03", "B04", "B08"), 10),
    **dict.fromkeys(("B05", "B06", "B07", "B8A", "B11", "B12"), 20),
    **dict.fromkeys(("B01", "B09", "B10"), 60),
}

#: Scene classification (SCL) classes of Sentinel-2 L2A.
SCL_MEANINGS = (
    "no_data saturated_or_defective dark_area_pixels cloud_shadows vegetation "
    "not_vegetated water unclassified cloud_medium_probability cloud_high_probability "
    "thin_cirrus snow"
)

_REFLECTANCE_SCALE = 10_000.0
_FILL = 0
_GFMAP_PREFIX = "S2-L2A-"
_BOA_KEYS = ("boa_add_offset",)
_BASELINE_KEYS = ("processing_baseline", "s2:processing_baseline", "processingbaseline")

_AUX_ATTRS: dict[str, dict[str, str]] = {
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
_AUX_SCALE = {"AOT": 0.001, "WVP": 0.001}


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
    chunks : int, dict, "auto", {} or None, optional
        None reads into numpy. Otherwise the result is dask-backed with one chunk
        layout for every variable, on the output (finest) grid, whatever the native
        resolution of each file: an int sets ``y`` and ``x`` (``512``: 512 × 512 pixels
        of the 10 m grid); a dict sets the dimensions it names (``time``, ``y``, ``x``
        or the file's names) and leaves the others as ``{}`` does; ``{}`` takes the
        on-disk chunks of the finest file; ``"auto"`` lets dask size ``y``/``x`` for
        float32. Time is one chunk unless the dict names it (see :mod:`stori_xr.io`).

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
        When a file is not a Sentinel-2 layout stori_xr knows, is damaged (truncated,
        corrupt or not NetCDF/HDF5) or given twice, or the grids of several files do
        not nest.
    MissingVariableError
        When a requested band is not in the file(s).
    ChunkingError
        When ``chunks`` is not a chunking the readers take.

    Examples
    --------
    >>> s2 = open_sentinel2([path_10m, path_20m], bands=["B04", "B08", "B8A"])  # doctest: +SKIP
    >>> s2.B8A.sizes  # doctest: +SKIP
    Frozen({'time': 118, 'y': 64, 'x': 64})
    """
    files = decode.path_list(paths)
    raws = decode.read_files(files, chunks)
    parts = [_decode_file(raw, path, boa_offset) for raw, path in zip(raws, files, strict=True)]
    crs = decode.common_crs(parts)
    wanted = decode.wanted_bands(parts, bands, S2_BANDS, files, ("SCL", "clear"), _where_bands)
    parts = [decode.drop_unwanted(part, wanted, S2_BANDS) for part in parts]
    parts = [part for part in parts if part.data_vars]
    target = decode.finest_grid([part for part in parts if set(wanted) & set(part.data_vars)])
    ds = decode.combine([decode.onto_grid(part, target) for part in parts])
    ds = _finish_scl(ds)
    ds["clear"] = _clear(ds, wanted, clear_classes)
    ds = ds[[*wanted, *(v for v in ds.data_vars if v not in wanted)]]
    ds.attrs = decode.sensor_attrs(
        ds.attrs, files, "Sentinel-2", "MSI", "Level-2A", wanted, S2_BANDS
    )
    call = format_call("open_sentinel2", paths=[str(p) for p in files], bands=bands)
    return decode.finish(decode.tidy(ds, "time", crs), chunks, call, raws)


def _where_bands(missing: list[str]) -> str:
    """Where the Sentinel-2 bands among ``missing`` are: the file of their resolution."""
    sentences = []
    for res in (10, 20, 60):
        names = [b for b in missing if _RESOLUTION.get(b) == res]
        if not names:
            continue
        if len(names) == 1:
            subject = f"{names[0]} is a {res} m band"
        else:
            subject = f"{', '.join(names)} are {res} m bands"
        if res == 60:
            sentences.append(f"{subject}, in neither the 10 m nor the 20 m file.")
        else:
            sentences.append(
                f"{subject}, found in the {res} m file (S2_L2A_{res}m_*): add that file to paths."
            )
    return " ".join(sentences)


def _decode_file(raw: xr.Dataset, path: Path, boa_offset: float | None) -> xr.Dataset:
    """Decode one Sentinel-2 file into float32 reflectance, SCL and auxiliary variables."""
    raw = _rename_layout(raw, path)
    time_dim = validate.find_time_dim(raw, require_datetime64=False, source=path)
    out: dict[Hashable, xr.DataArray] = {}
    for name, var in raw.data_vars.items():
        if name in decode.GRID_MAPPING_NAMES or var.ndim == 0:
            continue
        if name in S2_BANDS:
            offset = _boa_offset(raw, var, boa_offset)
            out[name] = _reflectance(var, str(name), offset)
        elif name == "SCL":
            out[name] = _decode_scl(var)
        else:
            out[name] = _decode_aux(var, str(name))
    ds = xr.Dataset(out, attrs=decode.file_attrs(raw.attrs))
    return decode.tidy(ds, time_dim, decode.crs_of(raw))


def _rename_layout(raw: xr.Dataset, path: Path) -> xr.Dataset:
    """Detect the layout from the variable names; strip the gfmap ``S2-L2A-`` prefix."""
    names = [str(n) for n in raw.data_vars]
    if any(n in ("pixel_qa", "QA-PIXEL") for n in names):
        raise DataFormatError(
            f"{path} looks like a Landsat file (variables {names}): read it with "
            "stori_xr.io.open_landsat8."
        )
    gfmap = {n: n.removeprefix(_GFMAP_PREFIX) for n in names if n.startswith(_GFMAP_PREFIX)}
    if gfmap:
        return raw.rename(gfmap)
    if any(n in S2_BANDS or n == "SCL" for n in names):
        return raw
    raise DataFormatError(
        f"{path} is not a Sentinel-2 L2A layout stori_xr knows: its variables are {names}. "
        "Expected bands named B01 … B12, B8A with SCL (WorldCereal, FuseTS) or "
        "S2-L2A-B04 … (openEO gfmap); rename the variables to one of these layouts."
    )


def _reflectance(var: xr.DataArray, name: str, offset: float) -> xr.DataArray:
    """Reflectance = (DN + offset) / 10000, NaN where the DN is the fill value."""
    dn, fill = decode.unsigned(var), decode.fill_value(var, default=_FILL)
    scaled = (dn.astype(F32) + F32(offset)) / F32(_REFLECTANCE_SCALE)
    out = scaled.where(dn != fill)
    common, wavelength = S2_BANDS[name]
    return out.assign_attrs(
        decode.band_attrs(f"Sentinel-2 {name} surface reflectance", common, wavelength)
        | {"boa_offset_applied": float(offset)}
    )


def _boa_offset(raw: xr.Dataset, var: xr.DataArray, explicit: float | None) -> float:
    """The DN offset to add: explicit, ``BOA_ADD_OFFSET``, processing baseline, else 0."""
    if explicit is not None:
        return float(explicit)
    for attrs in (var.attrs, raw.attrs):
        value = decode.attr_ci(attrs, _BOA_KEYS)
        if value is not None:
            return float(np.ravel(value)[0])
    for attrs in (var.attrs, raw.attrs):
        value = decode.attr_ci(attrs, _BASELINE_KEYS)
        if value is not None:
            return -1000.0 if _baseline_number(value) >= 4.0 else 0.0
    return 0.0


def _baseline_number(value: Any) -> float:
    """Parse a processing baseline such as ``"04.00"``, ``"N0400"``, ``4.0`` or ``400``."""
    text = str(value).strip().upper().removeprefix("N")
    number = float(re.sub(r"[^0-9.]", "", text) or "nan")
    return number / 100.0 if "." not in text and number >= 100 else number


def _decode_scl(var: xr.DataArray) -> xr.DataArray:
    """Scene classification as uint8, 0 (no data) where the file has fill or NaN."""
    scl = decode.unsigned(var)
    fill = decode.fill_value(var, default=_FILL)
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
    values = decode.unsigned(var)
    fill = decode.fill_value(var, default=0 if values.dtype.kind in "iu" else None)
    out = values.astype(F32)
    if fill is not None and not decode.isnan(fill):
        out = out.where(values != fill)
    if name in _AUX_SCALE:
        out = out * F32(_AUX_SCALE[name])
    attrs = {k: var.attrs[k] for k in ("long_name", "units") if var.attrs.get(k)}
    attrs |= _AUX_ATTRS.get(name, {}) | {"coverage_content_type": "auxiliaryInformation"}
    return out.assign_attrs(attrs)


def _clear(ds: xr.Dataset, bands: Sequence[str], clear_classes: Iterable[int]) -> xr.DataArray:
    """True where SCL is a clear class and no band is fill."""
    classes = [int(c) for c in clear_classes]
    present = decode.all_present(ds, bands)
    attrs: Mapping[str, Any] = {
        "long_name": "usable clear-sky observation",
        "clear_classes": np.asarray(classes, dtype=np.int16),
        "coverage_content_type": "qualityInformation",
    }
    if "SCL" not in ds:
        warn(
            "no SCL in the Sentinel-2 input: 'clear' only marks band values that are "
            "not fill, not clouds; add the 20 m file (which has SCL) to mask clouds.",
            NoCloudMaskWarning,
        )
        return present.drop_attrs().assign_attrs(
            {**attrs, "comment": "no SCL: fill screening only"}
        )
    return (
        (ds.SCL.isin(classes) & present)
        .drop_attrs()
        .assign_attrs({**attrs, "comment": f"SCL in {classes} and every band present"})
    )
