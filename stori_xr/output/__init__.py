"""Writing results: Zarr stores, written tile by tile, that say how far they got.

A store written by :func:`to_zarr` carries the global attribute ``stori_write_status``
(:data:`stori_xr.metadata.WRITE_STATUS`): ``"incomplete"`` from the moment it is
created, ``"complete"`` once every chunk is written — the last thing the write does. A
store whose write failed or was interrupted therefore says so; unwritten chunks read as
NaN for the bands and sigmas and as ``no_data`` for ``stori_source``.

The dask-backed variables are written by one task per spatial tile (the dask chunk grid
along y and x, all dates): the task writes every variable's block of its tile, then marks
the tile in the store's record (the group ``stori_write``, :data:`RECORD`). A write
interrupted for any reason is finished by ``to_zarr(..., resume=True)``, which computes
only the tiles the record does not mark.

One module per concern, each importing only the ones listed before it:

- :mod:`~stori_xr.output.store` — where the write goes, and what the store holds already;
- :mod:`~stori_xr.output.prepare` — the Dataset made ready for Zarr, and the metadata
  template that creates the store;
- :mod:`~stori_xr.output.record` — the tiles of a write and the record of those written;
- :mod:`~stori_xr.output.tasks` — the dask graph of the write tasks and of the status;
- :mod:`~stori_xr.output.compare` — how an existing store differs from this result;
- :mod:`~stori_xr.output.resume` — finishing an interrupted write;
- :mod:`~stori_xr.output.write` — :func:`to_zarr` and :func:`tiles_written`.
"""

from stori_xr.output.record import RECORD
from stori_xr.output.write import tiles_written, to_zarr

__all__ = ["RECORD", "tiles_written", "to_zarr"]
