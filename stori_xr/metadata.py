"""Attributes and provenance of outputs: history lines, CF attributes, CRS."""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Mapping, Sequence
from typing import Any

import rioxarray  # noqa: F401  (registers .rio)
import xarray as xr

from stori_xr.exceptions import IncompleteStoreError, IncompleteStoreWarning, warn

#: Global attribute of the stores stori_xr writes: ``"incomplete"`` from the moment the
#: store is created, ``"complete"`` once every chunk is written (the last thing written).
WRITE_STATUS = "stori_write_status"
INCOMPLETE = "incomplete"
COMPLETE = "complete"

#: Global attribute of the stores stori_xr writes: the version of stori_xr that wrote it.
VERSION = "stori_version"

#: Global attribute of results: one sentence saying how the result was made, for people
#: (:func:`summary`); the full record is ``stori_options``, ``stori_inputs`` and ``history``.
SUMMARY = "stori_summary"

#: The time stamp that starts each ``history`` line (see :func:`history_line`).
_STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ: ", re.MULTILINE)

#: Attributes that describe how a source file stored its values, not the values: carried
#: over to a new variable they would change how it is written and read back.
_STORAGE_ATTRS = frozenset(
    {
        "_FillValue",
        "missing_value",
        "scale_factor",
        "add_offset",
        "_Unsigned",
        "valid_range",
        "valid_min",
        "valid_max",
        "grid_mapping",
        "coordinates",
        "dtype",
        "chunks",
    }
)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("stori_xr")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0+unknown"


def history_line(call: str) -> str:
    """One ``history`` line: UTC time stamp, package version, and the call made."""
    now = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"{now}: stori_xr {_version()} {call}"


def history_without_times(history: str) -> str:
    """``history`` with the time stamps of its lines removed (to compare two histories)."""
    return _STAMP.sub("", str(history))


def provenance() -> dict[str, str]:
    """The global attributes a store gets from the writer: the stori_xr version."""
    return {VERSION: _version()}


def append_history(attrs: Mapping[str, Any], call: str) -> dict[str, Any]:
    """Return a copy of ``attrs`` whose ``history`` ends with a line for ``call``.

    A store's write status and writer version are not carried over: the result is a new
    object, not a store.
    """
    out = {k: v for k, v in attrs.items() if k not in (WRITE_STATUS, VERSION)}
    previous = str(out.get("history", "")).rstrip("\n")
    line = history_line(call)
    out["history"] = f"{previous}\n{line}" if previous else line
    return out


def format_call(name: str, **kwargs: Any) -> str:
    """Render a call such as ``align(tolerance='12D')`` for the history attribute."""
    args = ", ".join(f"{k}={_short(v)}" for k, v in kwargs.items())
    return f"{name}({args})"


def summary(method: str, given: Mapping[str, Any], bands: Sequence[str], dates: int) -> str:
    """One sentence for :data:`SUMMARY`: version, method, the options given, what was made.

    Options that are None are left out; the others are at their defaults (every option,
    defaults included, is in ``stori_options``).

    Examples
    --------
    >>> summary("kernel", {"times": "10D", "max_gap": None, "radius": 3}, ["B04", "B08"], 37)
    "stori_xr ... interpolate, method 'kernel' (times='10D', radius=3; other options at \
their defaults): 2 bands (B04, B08) on 37 dates. Every option is in stori_options, the \
inputs in stori_inputs, the calls in history."
    """
    chosen = ", ".join(f"{k}={_short(v)}" for k, v in given.items() if v is not None)
    options = f"{chosen}; other options at their defaults" if chosen else "default options"
    names = ", ".join(str(b) for b in bands)
    return (
        f"stori_xr {_version()} interpolate, method {method!r} ({options}): "
        f"{len(bands)} band{'s' if len(bands) != 1 else ''} ({names}) on {dates} dates. "
        "Every option is in stori_options, the inputs in stori_inputs, the calls in history."
    )


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def crs_of(obj: xr.Dataset | xr.DataArray) -> Any:
    """The CRS of ``obj`` (a :class:`rasterio.crs.CRS`), or None when it has none.

    rioxarray's reading first; otherwise the CF grid-mapping variable that a
    ``grid_mapping`` attribute or encoding names (or one called ``spatial_ref`` or
    ``crs``), also when it is a data variable, as plain ``xr.open_dataset`` leaves it.
    """
    try:
        crs = obj.rio.crs
    except Exception:  # rioxarray raises when it cannot tell the spatial dims
        crs = None
    if crs is not None:
        return crs
    variables = obj.variables if isinstance(obj, xr.Dataset) else obj.coords.variables
    members = [obj.variable] if isinstance(obj, xr.DataArray) else []
    members += list(variables.values())
    names = [v.attrs.get("grid_mapping") or v.encoding.get("grid_mapping") for v in members]
    for name in [*names, "spatial_ref", "crs"]:
        if name is None or name not in variables:
            continue
        attrs = variables[name].attrs
        wkt = attrs.get("crs_wkt") or attrs.get("spatial_ref")
        if wkt:
            from rasterio.crs import CRS

            return CRS.from_wkt(str(wkt))
    return None


def copy_crs(target: xr.Dataset, source: xr.Dataset | xr.DataArray) -> xr.Dataset:
    """Write ``source``'s CRS (if any) on ``target``, the rioxarray way.

    ``rio.write_crs`` deep-copies the whole object; here the ``spatial_ref``
    coordinate is made on an empty Dataset and attached, which copies no data.
    """
    crs = crs_of(source)
    if crs is None:
        return target
    ref = xr.Dataset().rio.write_crs(crs)["spatial_ref"]
    out = target.assign_coords(spatial_ref=ref)
    for var in out.data_vars.values():
        var.encoding["grid_mapping"] = "spatial_ref"
    return out


def value_attrs(attrs: Mapping[Any, Any]) -> dict[Any, Any]:
    """``attrs`` without the storage attributes of a source file (fill value, scaling …).

    Opened without CF decoding, or with ``decode_coords=True``, a file leaves
    ``_FillValue``, ``scale_factor``, ``grid_mapping`` … in the attributes. On a new
    variable they would be wrong (its values are already decoded) or clash with the
    encoding written for it.
    """
    return {k: v for k, v in attrs.items() if k not in _STORAGE_ATTRS}


def check_write_status(
    attrs: Mapping[Any, Any], where: str, allow_incomplete: bool = False
) -> None:
    """Refuse (or, when allowed, warn about) a store whose write did not finish.

    Stores without a :data:`WRITE_STATUS` attribute (not written by stori_xr) pass.

    Raises
    ------
    IncompleteStoreError
        When the store is marked incomplete and ``allow_incomplete`` is False.
    """
    status = attrs.get(WRITE_STATUS)
    if status is None or status == COMPLETE:
        return
    message = (
        f"{where} is incomplete ({WRITE_STATUS}={status!r}): the write that made it failed "
        "or was interrupted, so some chunks hold no data (they read as NaN / no_data)"
    )
    if not allow_incomplete:
        raise IncompleteStoreError(
            f"{message}. Write it again (mode='w' overwrites it), or pass "
            "allow_incomplete=True to open it anyway."
        )
    warn(message + ".", IncompleteStoreWarning)


def options_record(**options: Any) -> str:
    """Options as one JSON object, for a global attribute (Zarr and NetCDF keep strings).

    Values JSON cannot hold (tuples become lists; dates, arrays …) are written as text.

    Examples
    --------
    >>> options_record(method="kernel", radius=8, valid_range=(0.0, 1.0))
    '{"method": "kernel", "radius": 8, "valid_range": [0.0, 1.0]}'
    """
    import json

    def plain(value: Any) -> Any:
        if isinstance(value, str | int | float | bool) or value is None:
            return value
        if isinstance(value, tuple | list):
            return [plain(v) for v in value]
        if isinstance(value, Mapping):
            return {str(k): plain(v) for k, v in value.items()}
        return str(value)

    return json.dumps({k: plain(v) for k, v in options.items()})
