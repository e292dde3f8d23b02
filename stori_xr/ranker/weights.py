"""A fitted model as plain arrays and bytes: save, load and hash it without torch.

The bytes are what travels in a dask graph to the tasks (and what a ``model=`` option
gives back to :func:`stori_xr.fill.interpolate`): a magic line, the length of a JSON
header, the header (the network's configuration, the normalisation constants, how it
was fitted, and where each array lies) and the arrays' raw little-endian bytes. The same
model always gives the same bytes, so their SHA-256 names it (the per-worker cache of
:mod:`stori_xr.ranker.runtime` is keyed by it).

Examples
--------
>>> m = FittedModel(
...     kind="stori-rnn",
...     config={"hidden": 2},
...     params={"w": np.arange(3, dtype=np.float32)},
...     mean=np.array([0.2]),
...     std=np.array([0.1]),
...     record={"seed": 0},
... )
>>> back = FittedModel.from_bytes(m.to_bytes())
>>> back.params["w"].tolist(), back.mean.tolist(), back.config
([0.0, 1.0, 2.0], [0.2], {'hidden': 2})
>>> back.digest == m.digest
True
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from stori_xr.exceptions import DataFormatError, OptionError

MAGIC = b"stori-xr model\n"


@dataclass(frozen=True)
class FittedModel:
    """A fitted network: its configuration, parameters and normalisation constants.

    Attributes
    ----------
    kind : str
        The method it belongs to (``"stori-rnn"``).
    config : dict
        What builds the network (sizes, the bands and SAR features it reads).
    params : dict of str to ndarray
        The parameters, by their torch names (float32).
    mean, std : ndarray, shape (nb,)
        Per band, the constants that standardise the values it reads.
    record : dict
        How it was fitted (seed, epochs, pixels, losses), for provenance.
    """

    kind: str
    config: dict[str, Any]
    params: dict[str, np.ndarray]
    mean: np.ndarray
    std: np.ndarray
    record: dict[str, Any] = field(default_factory=dict)

    @property
    def n_parameters(self) -> int:
        """Number of parameters of the network."""
        return int(sum(a.size for a in self.params.values()))

    def to_bytes(self) -> bytes:
        """The model as bytes (the same model always gives the same bytes)."""
        arrays = {"mean": self.mean, "std": self.std, **self.params}
        index, chunks, offset = [], [], 0
        for name, a in arrays.items():
            raw = np.ascontiguousarray(a, dtype=a.dtype.newbyteorder("<")).tobytes()
            index.append([name, a.dtype.newbyteorder("<").str, list(a.shape), offset])
            chunks.append(raw)
            offset += len(raw)
        header = json.dumps(
            {"kind": self.kind, "config": self.config, "record": self.record, "arrays": index},
            sort_keys=True,
        ).encode()
        return MAGIC + struct.pack("<Q", len(header)) + header + b"".join(chunks)

    @classmethod
    def from_bytes(cls, data: bytes) -> FittedModel:
        """A model from :meth:`to_bytes`; :class:`DataFormatError` when it is not one."""
        data = bytes(data)
        start = len(MAGIC) + 8
        if not data.startswith(MAGIC) or len(data) < start:
            raise DataFormatError(
                "this is not a stori_xr model: give the bytes or the file that "
                "FittedModel.save (or interpolate's fitted model) wrote."
            )
        (size,) = struct.unpack("<Q", data[len(MAGIC) : start])
        try:
            header = json.loads(data[start : start + size])
            body = memoryview(data)[start + size :]
            arrays = {}
            for name, dtype, shape, offset in header["arrays"]:
                dt = np.dtype(dtype)
                count = int(np.prod(shape, dtype=np.int64))
                a = np.frombuffer(body, dtype=dt, count=count, offset=offset)
                arrays[name] = a.reshape(shape).astype(dt.newbyteorder("="))
        except (ValueError, KeyError, TypeError) as err:
            raise DataFormatError(f"this stori_xr model is damaged ({err}).") from None
        mean, std = arrays.pop("mean"), arrays.pop("std")
        return cls(header["kind"], header["config"], arrays, mean, std, header["record"])

    @cached_property
    def digest(self) -> str:
        """SHA-256 of :meth:`to_bytes`, in hex."""
        return hashlib.sha256(self.to_bytes()).hexdigest()

    def save(self, path: str | os.PathLike) -> Path:
        """Write the model to ``path`` (read back with :meth:`load`)."""
        path = Path(path)
        path.write_bytes(self.to_bytes())
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> FittedModel:
        """Read a model that :meth:`save` wrote."""
        return cls.from_bytes(Path(path).read_bytes())


def load_fitted(model: Any, kind: str, saved_by: str) -> FittedModel:
    """The model a method's option ``model=`` names, checked to be one of ``kind``.

    Parameters
    ----------
    model : FittedModel, bytes or path
        The option's value.
    kind : str
        The method the model must belong to (:attr:`FittedModel.kind`).
    saved_by : str
        Where a model of this kind comes from, for the message of a missing file.

    Raises
    ------
    OptionError
        When the path names no file.
    DataFormatError
        When the bytes are not a model, or a model of another method.
    """
    if isinstance(model, FittedModel):
        fitted = model
    elif isinstance(model, bytes):
        fitted = FittedModel.from_bytes(model)
    else:
        path = Path(model)
        if not path.is_file():
            raise OptionError(f"model={str(model)!r}: no such file; give the path of {saved_by}.")
        fitted = FittedModel.load(path)
    if fitted.kind != kind:
        raise DataFormatError(
            f"this model is a {fitted.kind!r} model; method={kind!r} needs one of its own."
        )
    return fitted
