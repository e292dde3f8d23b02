"""What the plots draw: a band, NDVI or true colour and its σ, from a result or an input.

Nothing here computes: every function takes and returns (possibly dask-backed) xarray
objects, and the plotting functions compute the few values they draw in one go.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

from stori_xr import validate
from stori_xr.exceptions import MissingVariableError, OptionError
from stori_xr.kernels import flags

#: Sentinel-2 bands of a true-colour image (red, green, blue).
RGB = ("B04", "B03", "B02")
#: Near-infrared bands usable for NDVI, in order of preference (10 m first).
NIR = ("B08", "B8A")
RED = "B04"
SOURCE = "stori_source"


@dataclass(frozen=True)
class View:
    """One quantity to draw: a band (``key`` is its name), ``"ndvi"`` or ``"rgb"``."""

    key: str
    label: str
    bands: tuple[str, ...]
    units: str


def as_dataset(obj: xr.Dataset | xr.DataArray) -> xr.Dataset:
    """A Dataset of bands; a band-dim DataArray result keeps ``<band>_sigma`` and flags."""
    if isinstance(obj, xr.Dataset):
        return obj
    sigma = obj.coords.get("sigma")
    ds, _ = validate.as_band_dataset(obj.drop_vars(["sigma"], errors="ignore"))
    if sigma is not None and "band" in sigma.dims:
        for b in sigma["band"].values:
            ds[f"{b}_sigma"] = sigma.sel(band=b, drop=True).assign_attrs(
                coverage_content_type="qualityInformation"
            )
    if SOURCE in ds.coords:
        ds = ds.reset_coords(SOURCE)
    return ds


def bands_of(ds: xr.Dataset) -> list[str]:
    """The band variables of ``ds`` (not ``<band>_sigma``, flags, masks or SAR)."""
    tdim = validate.find_time_dim(ds)
    names = validate.select_bands(ds, tdim, None)
    return [
        str(n)
        for n in names
        if not str(n).endswith("_sigma") and str(n) not in ("VV", "VH", "clear")
    ]


def choose(ds: xr.Dataset, variable: str | None) -> View:
    """The :class:`View` for ``variable`` (a band, ``"ndvi"``, ``"rgb"``; None: a default).

    The default is true colour when B02, B03 and B04 are there, else the first band.

    Raises
    ------
    MissingVariableError
        When the bands ``variable`` needs are not in ``ds``.
    """
    names = bands_of(ds)
    key = (variable or ("rgb" if all(b in names for b in RGB) else names[0])).strip()
    lowered = key.lower().replace(" ", "").replace("_", "")
    if lowered in ("rgb", "truecolor", "truecolour"):
        missing = [b for b in RGB if b not in names]
        if missing:
            raise MissingVariableError(
                f"true colour needs the bands {list(RGB)}, and {missing} are not there; "
                f"pick one band instead (variable={names[0]!r}) or variable='ndvi'."
            )
        return View("rgb", "true colour (B04, B03, B02)", RGB, "1")
    if lowered == "ndvi":
        nir = next((b for b in NIR if b in names), None)
        if nir is None or RED not in names:
            raise MissingVariableError(
                f"NDVI needs B04 and B08 (or B8A); the bands are {names}. Pick one band "
                f"instead (variable={names[0]!r})."
            )
        return View("ndvi", f"NDVI ({nir}, {RED})", (nir, RED), "1")
    if key not in ds.data_vars:
        raise MissingVariableError(
            f"{key!r} is not a variable here; choose a band among {names}, 'ndvi' or 'rgb'."
        )
    return View(key, key, (key,), str(ds[key].attrs.get("units", "")))


def values(ds: xr.Dataset, view: View) -> xr.DataArray:
    """The values of ``view`` (true colour: a last dim ``channel`` of red, green, blue)."""
    if view.key == "rgb":
        return xr.concat([ds[b] for b in RGB], dim="channel").transpose(..., "channel")
    if view.key == "ndvi":
        nir, red = (ds[b] for b in view.bands)
        return (nir - red) / (nir + red)
    return ds[view.key]


def sigma(ds: xr.Dataset, view: View) -> xr.DataArray | None:
    """The 1σ uncertainty of ``view``, or None when ``ds`` has no ``<band>_sigma``.

    NDVI's is propagated from its bands' (taken as independent); true colour's is the
    root mean square of the three bands'.
    """
    if any(f"{b}_sigma" not in ds for b in view.bands):
        return None
    s = [ds[f"{b}_sigma"] for b in view.bands]
    if view.key == "rgb":
        return np.sqrt(sum(v**2 for v in s) / 3)
    if view.key == "ndvi":
        nir, red = (ds[b] for b in view.bands)
        return 2 * np.sqrt((red * s[0]) ** 2 + (nir * s[1]) ** 2) / (nir + red) ** 2
    return s[0]


def observed_only(ds: xr.Dataset, view: View) -> xr.DataArray:
    """``view`` where ``stori_source`` says observed: the clear input values that were kept."""
    return values(ds, view).where(ds[SOURCE] == flags.OBSERVED)


def clear_input(ds: xr.Dataset, view: View) -> xr.DataArray:
    """``view`` of an input, NaN where its ``clear`` mask (when there is one) is False."""
    da = values(ds, view)
    if "clear" in ds:
        da = da.where(ds["clear"].astype(bool))
    return da


def nearest_index(times: np.ndarray, value: Any) -> int:
    """Position of the date in ``times`` nearest ``value`` (an int is a position already)."""
    if isinstance(value, int | np.integer):
        if not -len(times) <= value < len(times):
            raise OptionError(
                f"time={value} is out of range: there are {len(times)} dates; give a position "
                f"from {-len(times)} to {len(times) - 1} or a date."
            )
        return int(value) % len(times)
    target = np.datetime64(value, "ns")
    return int(np.argmin(np.abs(times.astype("datetime64[ns]") - target)))


def pixel_index(ds: xr.Dataset, dim: Hashable, value: Any, index: bool) -> int:
    """Position along ``dim`` of ``value``: a position when ``index``, else nearest label."""
    size = ds.sizes[dim]
    if value is None:
        return size // 2
    if index:
        if not -size <= int(value) < size:
            raise OptionError(
                f"{dim}={value} is out of range: {dim!r} has {size} pixels; give a position "
                f"from {-size} to {size - 1}, or a coordinate value with index=False."
            )
        return int(value) % size
    if dim not in ds.coords:
        raise MissingVariableError(
            f"{dim!r} has no coordinate to select {dim}={value!r} from; pass index=True to "
            "give positions."
        )
    return int(np.argmin(np.abs(ds[dim].values - value)))
