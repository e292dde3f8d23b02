"""Finishing an interrupted write: ``to_zarr(..., resume=True)``.

:func:`_check_resume` refuses the options a resume does not take; :func:`_resume` checks
that the store was written by stori_xr and holds this result's layout, leaves a complete
store as it is, and writes only the tiles its record does not mark.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import xarray as xr

from stori_xr.exceptions import OptionError, StoreExistsError, StoriWarning, warn
from stori_xr.metadata import COMPLETE, WRITE_STATUS
from stori_xr.output.compare import _layout_differences
from stori_xr.output.record import _check_tiles_align, _create_record, _Plan, _read_record
from stori_xr.output.store import _Target
from stori_xr.output.tasks import _consolidate, _run, _writes


def _check_resume(mode: str, resume: bool, kwargs: Mapping[str, Any]) -> None:
    if not resume:
        return
    if mode != "w-":
        raise OptionError(
            f"resume=True finishes the write of an existing store, mode={mode!r} "
            + ("replaces it" if mode == "w" else "writes into it otherwise")
            + ": pass one or the other (resume=True alone writes a missing store)."
        )
    for key in ("region", "append_dim"):
        if kwargs.get(key) is not None:
            raise OptionError(
                f"resume=True finishes the write of a whole store; it does not take "
                f"{key}=: resume the write that created the store, without {key}=."
            )


def _resume(ds: xr.Dataset, target: _Target, compute: bool, kwargs: dict, where: str) -> Any:
    """Finish an incomplete store of the same layout; leave a complete one as it is."""
    try:
        group = target.open()
    except Exception as error:  # a file, a folder of other things, broken metadata
        raise StoreExistsError(
            f"cannot resume {where}: it exists but is not a readable Zarr store; write "
            "to another path, or pass mode='w' to replace it."
        ) from error
    status = group.attrs.get(WRITE_STATUS)
    if status is None:
        raise StoreExistsError(
            f"cannot resume {where}: it was not written by stori_xr (it has no "
            f"{WRITE_STATUS} attribute); pass mode='w' to replace it, or write to "
            "another path."
        )
    differences = _layout_differences(ds, group, kwargs)
    if differences:
        shown = "; ".join(differences[:3])
        more = f" (and {len(differences) - 3} more)" if len(differences) > 3 else ""
        raise StoreExistsError(
            f"cannot resume {where}: it holds another result than this one ({shown}{more}). "
            "Resume with the call that started the write, pass mode='w' to replace the "
            "store, or write to another path."
        )
    plan = _Plan.of(ds)
    if status == COMPLETE:
        warn(f"{where} is already complete: nothing to resume, nothing written.", StoriWarning)
        if compute:
            return None
        import dask

        return dask.delayed(None)
    _check_tiles_align(group, plan)
    done = _read_record(group, plan)
    if done is None and _create_record(group, plan) is not None:
        _consolidate(group, target)  # interrupted before its record was made: all to write
    return _run(_writes(ds, plan, target, group, done, kwargs), compute)
