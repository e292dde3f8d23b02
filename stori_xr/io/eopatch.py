"""eo-learn EOPatch folders (``data/``, ``mask/``, ``scalar/`` … as ``.npy``)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
from rasterio.crs import CRS

from stori_xr.exceptions import DataFormatError
from stori_xr.io import decode
from stori_xr.io.decode import F32, PathLike
from stori_xr.metadata import format_call


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
    times = _times(folder)
    crs, (xmin, ymin, xmax, ymax) = _bbox(folder)
    variables = _features(folder, times.size)
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
    ds["clear"] = _clear(ds)
    ds.attrs = {"source": str(folder), "platform": "Sentinel-2", "title": "eo-learn EOPatch"}
    call = format_call("open_eopatch", folder=str(folder))
    return decode.finish(decode.tidy(ds, "time", crs), None, call)


def _times(folder: Path) -> np.ndarray:
    path = folder / "timestamps.json"
    if not path.is_file():
        raise DataFormatError(f"{folder} is not an EOPatch: {path.name} is missing.")
    return decode.to_ns(_read_json(path), None, path)


def _bbox(folder: Path) -> tuple[CRS, tuple[float, float, float, float]]:
    """CRS and (xmin, ymin, xmax, ymax) of the patch from ``bbox.geojson``."""
    path = folder / "bbox.geojson"
    if not path.is_file():
        raise DataFormatError(f"{folder} is not an EOPatch: {path.name} is missing.")
    geojson = _read_json(path)
    name = geojson.get("crs", {}).get("properties", {}).get("name", "EPSG:4326")
    points = np.asarray(geojson["coordinates"], dtype=float).reshape(-1, 2)
    lo, hi = points.min(axis=0), points.max(axis=0)
    return CRS.from_user_input(name), (lo[0], lo[1], hi[0], hi[1])


_DIMS: dict[str, tuple[str, ...]] = {
    "data": ("time", "y", "x"),
    "mask": ("time", "y", "x"),
    "scalar": ("time",),
    "data_timeless": ("y", "x"),
    "mask_timeless": ("y", "x"),
}


_CONTENT = {"NDVI": "physicalMeasurement", "CLM": "qualityInformation"}
_CONTENT |= {"IS_DATA": "qualityInformation", "IS_VALID": "qualityInformation"}
_ATTRS: dict[str, dict[str, str]] = {
    "NDVI": {"units": "1", "long_name": "normalised difference vegetation index"},
    "CLP": {"units": "1", "long_name": "cloud probability (s2cloudless)"},
    "CLM": {"long_name": "cloud mask (True = cloud)"},
    "IS_DATA": {"long_name": "data available (True = data)"},
    "IS_VALID": {"long_name": "valid data (True = valid)"},
    "CLOUD_COVERAGE": {"units": "1", "long_name": "cloud cover fraction of the patch"},
    "DEM": {"units": "m", "standard_name": "surface_altitude", "long_name": "elevation"},
    "LULC": {"long_name": "land use / land cover class"},
}


def _features(folder: Path, n_times: int) -> dict[str, xr.Variable]:
    """Every ``<feature type>/<name>.npy[.gz]`` of the patch as an xarray Variable."""
    variables: dict[str, xr.Variable] = {}
    for feature_type, dims in _DIMS.items():
        files = sorted((folder / feature_type).glob("*.npy*"))
        for path in files:
            name = path.name.split(".")[0]
            variable = _variable(_load_npy(path), dims, feature_type)
            variable.attrs = _ATTRS.get(name, {}) | {
                "coverage_content_type": _CONTENT.get(name, "auxiliaryInformation")
            }
            variables[name] = variable
    if not any("time" in v.dims and v.ndim == 3 for v in variables.values()):
        raise DataFormatError(f"{folder} holds no time-dependent raster feature (data/*.npy).")
    bad = [n for n, v in variables.items() if "time" in v.dims and v.shape[0] != n_times]
    if bad:
        raise DataFormatError(f"features {bad} do not have {n_times} dates like timestamps.json.")
    return variables


def _load_npy(path: Path) -> np.ndarray:
    """The array of a ``.npy`` or ``.npy.gz`` feature; DataFormatError naming a damaged one."""
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                return np.load(f)
        return np.load(path)
    except (OSError, EOFError, ValueError) as error:
        raise decode.damaged(path, "it cannot be read", "a numpy .npy file", error) from error


def _read_json(path: Path) -> Any:
    """The content of a JSON file of the patch; DataFormatError naming a damaged one."""
    try:
        return json.loads(path.read_text())
    except (UnicodeDecodeError, ValueError) as error:
        raise decode.damaged(path, "it cannot be read", "JSON", error) from error


def _variable(array: np.ndarray, dims: tuple[str, ...], kind: str) -> xr.Variable:
    """Squeeze the channel axis (or name it); 0/1 masks to bool; floats to float32."""
    if array.shape[-1] == 1:
        array = array[..., 0]
    else:
        dims = (*dims, "channel")
    if kind == "mask" and array.dtype.kind in "bu" and array.max(initial=0) <= 1:
        array = array.astype(bool)
    elif array.dtype.kind == "f":
        array = array.astype(F32)
    return xr.Variable(dims, array)


def _clear(ds: xr.Dataset) -> xr.DataArray:
    """``IS_DATA & ~CLM`` with the masks the patch has."""
    clear = xr.ones_like(ds[next(v for v in ds.data_vars if ds[v].ndim == 3)], dtype=bool)
    if "IS_DATA" in ds:
        clear = clear & ds.IS_DATA.astype(bool)
    if "CLM" in ds:
        clear = clear & ~ds.CLM.astype(bool)
    return decode.clear_attrs(clear, "IS_DATA & ~CLM")
