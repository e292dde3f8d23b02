"""Attributes and provenance of outputs: history lines, CF attributes, CRS."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping
from typing import Any

import rioxarray  # noqa: F401  (registers .rio)
import xarray as xr


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


def append_history(attrs: Mapping[str, Any], call: str) -> dict[str, Any]:
    """Return a copy of ``attrs`` whose ``history`` ends with a line for ``call``."""
    out = dict(attrs)
    previous = str(out.get("history", "")).rstrip("\n")
    line = history_line(call)
    out["history"] = f"{previous}\n{line}" if previous else line
    return out


def format_call(name: str, **kwargs: Any) -> str:
    """Render a call such as ``align(tolerance='12D')`` for the history attribute."""
    args = ", ".join(f"{k}={_short(v)}" for k, v in kwargs.items())
    return f"{name}({args})"


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def copy_crs(target: xr.Dataset, source: xr.Dataset | xr.DataArray) -> xr.Dataset:
    """Write ``source``'s CRS (if any) on ``target``, the rioxarray way.

    ``rio.write_crs`` deep-copies the whole object; here the ``spatial_ref``
    coordinate is made on an empty Dataset and attached, which copies no data.
    """
    crs = source.rio.crs
    if crs is None:
        return target
    ref = xr.Dataset().rio.write_crs(crs)["spatial_ref"]
    out = target.assign_coords(spatial_ref=ref)
    for var in out.data_vars.values():
        var.encoding["grid_mapping"] = "spatial_ref"
    return out
