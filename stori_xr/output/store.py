"""Where a write goes: the store, the group in it, and what the store holds already.

:class:`_Target` names the store, the group that :meth:`xarray.Dataset.to_zarr` writes
and how (consolidated metadata, empty chunks), and opens it; :func:`_local_path`,
:func:`_exists`, :func:`_status` and :func:`_exists_message` say whether the store is a
local folder, holds anything, how far its write got, and why an existing one is not
replaced.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stori_xr.metadata import COMPLETE, WRITE_STATUS


@dataclass(frozen=True)
class _Target:
    """A store, the group in it that :meth:`xarray.Dataset.to_zarr` writes, and how."""

    store: Any
    group: str | None = None
    storage_options: dict | None = None
    consolidated: bool = True
    write_empty_chunks: bool | None = None

    @classmethod
    def of(cls, store: Any, kwargs: Mapping[str, Any]) -> _Target:
        return cls(
            store,
            kwargs.get("group"),
            kwargs.get("storage_options"),
            kwargs.get("consolidated", None) is not False,
            kwargs.get("write_empty_chunks"),
        )

    def open(self, mode: str = "r+") -> Any:
        """The Zarr group, read from its own metadata (not the consolidated copy)."""
        import zarr

        extra = {"storage_options": self.storage_options} if self.storage_options else {}
        return zarr.open_group(
            self.store, mode=mode, path=self.group or "", use_consolidated=False, **extra
        )

    def array(self, group: Any, name: str) -> Any:
        """A Zarr array of the group, opened to be written as xarray would."""
        if self.write_empty_chunks is None:
            return group[name]
        import zarr

        return zarr.open_array(
            group.store_path / name,
            mode="r+",
            config={"write_empty_chunks": self.write_empty_chunks},
        )


def _exists(target: _Target, path: Path | None) -> bool:
    """Whether the store holds anything (an empty folder holds nothing)."""
    if path is not None:
        return path.exists() and not (path.is_dir() and not any(path.iterdir()))
    try:
        target.open("r")
    except FileNotFoundError:  # zarr's GroupNotFoundError is one
        return False
    return True


def _local_path(store: Any) -> Path | None:
    """The store as a local path, or None (a mapping, a zarr store, a URL)."""
    if isinstance(store, os.PathLike) or (isinstance(store, str) and "://" not in store):
        return Path(store)
    return None


def _exists_message(store: Any) -> str:
    """Why an existing store is not replaced, and what to do."""
    state = ""
    path = _local_path(store)
    if path is not None:
        status = _status(path)
        if status not in (None, COMPLETE):
            state = (
                f" and is an incomplete stori_xr store ({WRITE_STATUS}={status!r}: a write "
                "that failed or was interrupted; resume=True finishes it)"
            )
        elif path.is_dir() and not any(path.iterdir()):
            state = " (an empty folder)"
        else:
            state = " and holds data"
    return (
        f"the Zarr store {str(store)!r} already exists{state}; pass mode='w' to replace "
        "it, or write to another path."
    )


def _status(path: Path) -> Any:
    """The store's ``stori_write_status`` attribute (None when unreadable or absent)."""
    try:
        import zarr

        return zarr.open_group(str(path), mode="r").attrs.get(WRITE_STATUS)
    except Exception:  # not a Zarr group (any folder or file): no status to report
        return None
