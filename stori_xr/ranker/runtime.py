"""Inference of a fitted network inside dask tasks, chunk by chunk.

- **Weights in the graph, model once per process.** The tasks receive the model's bytes
  (:meth:`stori_xr.ranker.weights.FittedModel.to_bytes`, about 0.6 MB at hidden size 96;
  a graph pickles them once however many tasks refer to them). :func:`model_for` builds
  the network from them once per worker process and device, and keeps it in a small
  cache keyed by the bytes' SHA-256 (:data:`CACHE_SIZE` models); the threads of a worker
  share it (inference does not change it). :func:`stats` counts the builds and calls.
- **One torch thread per dask thread.** On a CPU, every call sets torch to one
  intra-op thread (``torch.set_num_threads(1)``, which is process-wide): dask's threads
  (or the threaded scheduler numpy input runs on) are the parallelism, as numba's
  serial target inside dask tasks. Inference runs under ``torch.inference_mode``.
- **Device.** ``device="auto"`` takes CUDA when torch sees a GPU, the CPU otherwise;
  ``"cpu"``, ``"cuda"`` or ``"cuda:1"`` choose.
- **Large arrays kept in the heap on dask workers.** dask.distributed starts its workers
  with ``MALLOC_TRIM_THRESHOLD_``, which also fixes glibc's mmap threshold at 128 KiB:
  every larger array is then mapped and zero-filled afresh, and inference, which makes
  many, ran 1.5 times slower (8.0 of 18.7 s of a 128 px tile in the system).
  :func:`keep_large_arrays_in_the_heap` raises the threshold once per such process.
- **Deterministic.** On a CPU one thread gives bit-identical output for the same
  pixels in the same batches; other chunkings batch the pixels differently, which moves
  values by float32 rounding only (well within 1e-5).
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import os
import threading
from collections import OrderedDict

import numpy as np
import torch

from stori_xr.blocks import MMAP_THRESHOLD
from stori_xr.kernels.flags import EXTRAPOLATED, MODEL, NODATA, OBSERVED
from stori_xr.ranker import rnn
from stori_xr.ranker.inputs import band_inputs, days_since_clear, sar_inputs, savgol_matrix
from stori_xr.ranker.weights import FittedModel

#: Pixels per forward call of the network (bounds a task's working memory).
BATCH = 2048

#: Models kept per process (the least recently used goes first).
CACHE_SIZE = 4

_LOCK = threading.Lock()
_MODELS: OrderedDict[tuple[str, str], tuple[FittedModel, rnn.StoriRNN]] = OrderedDict()
_STATS = {"builds": 0, "calls": 0}

#: glibc's ``mallopt`` parameter of the mmap threshold.
M_MMAP_THRESHOLD = -3


@functools.cache
def keep_large_arrays_in_the_heap() -> bool:
    """Raise glibc's mmap threshold where distributed fixed it (to ``blocks.MMAP_THRESHOLD``).

    Only in a process started with ``MALLOC_TRIM_THRESHOLD_`` (dask.distributed's
    workers; the trimming it asks for is kept) and without ``MALLOC_MMAP_THRESHOLD_``,
    on glibc; once per process. Returns whether it did.
    """
    if "MALLOC_TRIM_THRESHOLD_" not in os.environ or "MALLOC_MMAP_THRESHOLD_" in os.environ:
        return False
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):  # not glibc
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD))


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"``: CUDA when torch sees a GPU, else the CPU; otherwise the device named."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def model_for(weights: bytes, device: torch.device) -> tuple[FittedModel, rnn.StoriRNN]:
    """The fitted model of ``weights`` and its network on ``device``, built once per process."""
    keep_large_arrays_in_the_heap()
    key = (hashlib.sha256(weights).hexdigest(), str(device))
    with _LOCK:
        _STATS["calls"] += 1
        if key in _MODELS:
            _MODELS.move_to_end(key)
            return _MODELS[key]
        fitted = FittedModel.from_bytes(weights)
        net = _builder(fitted.kind)(fitted.config, fitted.params).to(device).eval()
        _MODELS[key] = (fitted, net)
        _STATS["builds"] += 1
        while len(_MODELS) > CACHE_SIZE:
            _MODELS.popitem(last=False)
        return fitted, net


def _builder(kind: str):
    """The function that builds the network of a model of this kind."""
    if kind == "stori":
        from stori_xr.ranker import ranknet

        return ranknet.build
    return rnn.build


def stats() -> dict[str, int]:
    """How many networks this process has built, and how many calls asked for one."""
    with _LOCK:
        return {**_STATS, "cached": len(_MODELS)}


def clear_cache() -> None:
    """Forget the built networks and reset :func:`stats` (for tests)."""
    with _LOCK:
        _MODELS.clear()
        _STATS.update(builds=0, calls=0)


def impute(
    weights: bytes,
    values: np.ndarray,
    usable: np.ndarray,
    sar: np.ndarray,
    t: np.ndarray,
    out_idx: np.ndarray,
    *,
    device: str | torch.device = "auto",
    batch: int = BATCH,
) -> tuple[np.ndarray, np.ndarray]:
    """Fill the gaps of pixel series with the network of ``weights``.

    Parameters
    ----------
    weights : bytes
        A fitted model (:meth:`FittedModel.to_bytes`).
    values : ndarray, shape (nb, npix, nt)
        Band values (anything where not usable).
    usable : ndarray of bool, shape (npix, nt)
    sar : ndarray, shape (nf, npix, nt)
        The SAR features the model reads, as aligned.
    t : ndarray, shape (nt,)
        Dates in days.
    out_idx : ndarray of int, shape (m,)
        Output dates, as indices into ``t``.
    device : str or torch.device, default "auto"
    batch : int, default :data:`BATCH`
        Pixels per forward call.

    Returns
    -------
    out : ndarray, shape (nb, npix, m), dtype of ``values``
        Usable values unchanged; gaps take the mean of the forward and backward
        predictions; NaN at pixels with no usable value.
    source : ndarray of int8, shape (npix, m)
        ``observed``, ``model`` (between the first and the last usable value),
        ``extrapolated`` (before the first or after the last) or ``no_data``.
    """
    dev = resolve_device(device)
    if dev.type == "cpu":
        torch.set_num_threads(1)
    fitted, net = model_for(weights, dev)
    nb, npix, nt = values.shape
    m = out_idx.size
    out = np.full((nb, npix, m), np.nan, dtype=values.dtype)
    work = np.flatnonzero(usable.any(axis=1))
    smoother = savgol_matrix(t)
    mean, std = fitted.mean[:, None, None], fitted.std[:, None, None]
    for start in range(0, work.size, batch):
        ix = work[start : start + batch]
        u = usable[ix]
        x = torch.from_numpy(band_inputs(values[:, ix], u, fitted.mean, fitted.std))
        mask = torch.from_numpy(u[..., None].astype(np.float32))
        s = torch.from_numpy(sar_inputs(sar[:, ix], t, smoother))
        d_f = torch.from_numpy(days_since_clear(u, t)[..., None])
        d_b = torch.from_numpy(days_since_clear(u, t, backward=True)[..., None])
        with torch.inference_mode():
            pf, pb = net(*(a.to(dev) for a in (x, mask, s, d_f, d_b)))
            pred = (0.5 * (pf + pb))[:, out_idx].cpu().numpy()
        out[:, ix] = pred.transpose(2, 0, 1) * std + mean
    observed = usable[:, out_idx]
    out = np.where(observed[None], values[:, :, out_idx], out)
    idx = np.arange(nt)
    first = np.where(usable, idx, nt).min(axis=1)[:, None]
    last = np.where(usable, idx, -1).max(axis=1)[:, None]
    inside = (out_idx[None] > first) & (out_idx[None] < last)
    source = np.where(inside, MODEL, EXTRAPOLATED)
    source = np.where(observed, OBSERVED, source)
    source = np.where(last < 0, NODATA, source).astype(np.int8)
    return out, source
