"""How an existing store differs from the one a write would create (``resume=True``).

:func:`_layout_differences` creates the store afresh in memory and compares its metadata
and in-memory values with the existing store's, one line per difference, time stamps of
``history`` and the write status aside.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
import xarray as xr

from stori_xr.metadata import WRITE_STATUS, history_without_times
from stori_xr.output.prepare import _metadata_only
from stori_xr.output.store import _Target

#: Keyword arguments of :meth:`xarray.Dataset.to_zarr` that say where the store is, not
#: what it holds (left out of the layout comparison of ``resume=True``).
_LOCATION = frozenset({"storage_options"})


def _layout_differences(ds: xr.Dataset, group: Any, kwargs: Mapping[str, Any]) -> list[str]:
    """How the store differs from the one this call would create (empty: the same).

    The store is created afresh in memory (metadata and the variables held in memory),
    and its metadata and in-memory values compared with the store's, time stamps of
    ``history`` and the write status aside.
    """
    import zarr

    memory = zarr.storage.MemoryStore()
    template, options = _metadata_only(ds, kwargs)
    options = {k: v for k, v in options.items() if k not in _LOCATION}
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Consolidated metadata", UserWarning)
        template.to_zarr(memory, mode="w-", compute=False, **options)
    fresh = _Target(memory, kwargs.get("group")).open("r")
    attrs = _compare(_global_attrs(group), _global_attrs(fresh))
    out = [f"attribute {line}" for line in attrs if not line.startswith("'history'")]
    stored = {k: a for k, a in group.arrays()}
    made = {k: a for k, a in fresh.arrays()}
    for name in sorted(set(stored) ^ set(made)):
        out.append(f"variable {name!r} only in {'the store' if name in stored else 'this result'}")
    variables: dict[str, list[str]] = {}  # a difference: the variables that have it
    for name in sorted(set(stored) & set(made)):
        lines = _compare(_metadata(stored[name]), _metadata(made[name]))
        held = ds.variables[name].chunks is None
        if held and not lines and not _same_values(stored[name][...], made[name][...]):
            lines = ["other values"]
        for line in lines:
            variables.setdefault(line, []).append(name)
    for line, names in variables.items():
        listed = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
        out.append(f"{line} ({listed})")
    return out + [f"attribute {line}" for line in attrs if line.startswith("'history'")]


def _global_attrs(group: Any) -> dict[str, Any]:
    attrs = {k: v for k, v in group.attrs.items() if k != WRITE_STATUS}
    if "history" in attrs:
        attrs["history"] = history_without_times(attrs["history"])
    return attrs


def _metadata(array: Any) -> dict[str, Any]:
    return dict(array.metadata.to_dict())


def _compare(stored: Mapping, fresh: Mapping) -> list[str]:
    """The keys whose values differ, one line each, nested keys by their own name.

    Shapes, dims and data types come first: they tell most about the difference.
    """
    out = []
    absent = object()
    first = ("shape", "dimension_names", "data_type", "dtype")
    for key in sorted(set(stored) | set(fresh), key=lambda k: (str(k) not in first, str(k))):
        a, b = stored.get(key, absent), fresh.get(key, absent)
        if _canonical(a) == _canonical(b):
            continue
        if isinstance(a, Mapping) and isinstance(b, Mapping):
            out += _compare(a, b)
        else:
            out.append(f"{key!r}: {_show(a, b, absent)}")
    return out


def _canonical(value: Any) -> str:
    """Text that is equal for equal metadata values (NaN included, tuples as lists)."""
    return json.dumps(value, sort_keys=True, default=repr)


def _show(stored: Any, fresh: Any, absent: object) -> str:
    """The two values, from where two texts first differ."""
    if isinstance(stored, str) and isinstance(fresh, str):
        start = next(
            (i for i, (a, b) in enumerate(zip(stored, fresh, strict=False)) if a != b),
            min(len(stored), len(fresh)),
        )
        start = max(0, start - 10)
        stored, fresh = (("…" if start else "") + s[start:] for s in (stored, fresh))
    texts = ["absent" if v is absent else _cut(repr(v)) for v in (stored, fresh)]
    return f"{texts[0]} in the store, {texts[1]} in this result"


def _cut(text: str) -> str:
    return text if len(text) <= 50 else text[:47] + "..."


def _same_values(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal arrays, NaN equal to NaN (floats compared as bytes)."""
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    if a.dtype.kind in "fc":
        return a.tobytes() == b.tobytes()
    return bool(np.array_equal(a, b))
