"""Landsat-8: Collection-1 surface reflectance and Collection-2 surface temperature."""

from __future__ import annotations

from collections.abc import Sequence
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

_SATURATED_DN = 20_000
_C2_ST_OFFSET_K = 149.0


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
        The bands as float32, the QA variable as uint16, and ``clear`` (bool).

    Raises
    ------
    DataFormatError
        When the file is neither layout, or is damaged (truncated, corrupt or not
        NetCDF/HDF5).
    MissingVariableError
        When a requested band is not in the file.
    ChunkingError
        When ``chunks`` is not a chunking the readers take.
    """
    path = Path(path)
    raw = decode.read_file(path, chunks)
    time_dim = validate.find_time_dim(raw, require_datetime64=False, source=path)
    if "pixel_qa" in raw.data_vars:
        ds, level = _surface_reflectance(raw, bands, path), "L2 surface reflectance, Collection 1"
    elif "QA-PIXEL" in raw.data_vars:
        ds, level = _surface_temperature(raw, bands, path), "L2 surface temperature, Collection 2"
    else:
        raise DataFormatError(
            f"{path} is not a Landsat-8 layout stori_xr knows: its variables are "
            f"{[str(n) for n in raw.data_vars]}. Expected B02 … B07 with pixel_qa "
            "(surface reflectance) or ST-B10 with QA-PIXEL (surface temperature)."
        )
    ds.attrs = decode.file_attrs(raw.attrs)
    wanted = [str(v) for v in ds.data_vars if "common_name" in ds[v].attrs]
    table = L8_BANDS | L8_THERMAL | {"ST-B10": L8_THERMAL["B10"]}
    ds.attrs = decode.sensor_attrs(ds.attrs, [path], "Landsat-8", "OLI/TIRS", level, wanted, table)
    call = format_call("open_landsat8", path=str(path), bands=bands)
    ds = decode.tidy(ds, time_dim, decode.crs_of(raw))
    return decode.finish(ds, chunks, call, [raw])


def _surface_reflectance(raw: xr.Dataset, bands: Sequence[str] | None, path: Path) -> xr.Dataset:
    """Decode Collection-1 surface reflectance, thermal bands, pixel_qa and clear."""
    qa = decode.unsigned(raw.pixel_qa)
    fill = (qa == 0) | _bits(qa, 0)
    wanted = decode.wanted_bands(
        [raw], bands, L8_BANDS | L8_THERMAL, [path], always=("pixel_qa", "clear")
    )
    out: dict[str, xr.DataArray] = {}
    for name in wanted:
        dn = decode.unsigned(raw[name])
        bad = fill | (dn == 0) | (dn >= _SATURATED_DN)
        out[name] = _band(dn.astype(F32).where(~bad), name)
    clear = (_bits(qa, 1) | _bits(qa, 2)) & ~_bits(qa, 3, 4, 5) & ~fill
    out["pixel_qa"] = qa.assign_attrs(
        _qa_attrs(
            "Landsat Collection-1 pixel quality",
            [0, 1, 2, 3, 4, 5],
            "fill clear water cloud_shadow snow cloud",
        )
    )
    out["clear"] = decode.clear_attrs(
        clear & decode.all_present(out, wanted),
        "pixel_qa bit 1 (clear) or 2 (water), not 3-5 (shadow, snow, cloud), no band NaN",
    )
    return xr.Dataset(out)


def _surface_temperature(raw: xr.Dataset, bands: Sequence[str] | None, path: Path) -> xr.Dataset:
    """Decode Collection-2 surface temperature (kelvin), QA-PIXEL and clear."""
    thermal = {"ST-B10": L8_THERMAL["B10"]}
    decode.wanted_bands([raw], bands, thermal, [path], always=("QA-PIXEL", "clear"))
    qa, st = decode.unsigned(raw["QA-PIXEL"]), decode.unsigned(raw["ST-B10"])
    fill = _bits(qa, 0) | (st == 0) | (st <= _C2_ST_OFFSET_K)
    temperature = st.astype(F32).where(~fill)
    common, wavelength = L8_THERMAL["B10"]
    attrs = decode.band_attrs("Landsat-8 TIRS B10 surface temperature", common, wavelength)
    attrs |= {"units": "K", "standard_name": "surface_temperature"}
    clear = (_bits(qa, 6) | _bits(qa, 7)) & ~_bits(qa, 1, 2, 3, 4, 5) & ~fill
    meanings = "fill dilated_cloud cirrus cloud cloud_shadow snow clear water"
    return xr.Dataset(
        {
            "ST-B10": temperature.assign_attrs(attrs),
            "QA-PIXEL": qa.assign_attrs(
                _qa_attrs("Landsat Collection-2 pixel quality", list(range(8)), meanings)
            ),
            "clear": decode.clear_attrs(
                clear & temperature.notnull(),
                "QA-PIXEL bit 6 (clear) or 7 (water), not 0-5 (fill, clouds, shadow, snow)",
            ),
        }
    )


def _band(dn: xr.DataArray, name: str) -> xr.DataArray:
    """Scale a Landsat band: reflective DN / 10000, thermal DN / 10 (kelvin)."""
    if name in L8_THERMAL:
        common, wavelength = L8_THERMAL[name]
        attrs = decode.band_attrs(
            f"Landsat-8 TIRS {name} brightness temperature", common, wavelength
        )
        attrs |= {"units": "K", "standard_name": "toa_brightness_temperature"}
        return (dn / F32(10.0)).assign_attrs(attrs)
    common, wavelength = L8_BANDS[name]
    attrs = decode.band_attrs(f"Landsat-8 OLI {name} surface reflectance", common, wavelength)
    return (dn / F32(10_000.0)).assign_attrs(attrs)


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
