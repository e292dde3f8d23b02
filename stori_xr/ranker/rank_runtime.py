"""rank-STORI's inference inside a dask task: the network over a tile's pixels, in batches.

The model is built once per worker process and device (the cache of
:func:`stori_xr.ranker.runtime.model_for`, keyed by the weights' SHA-256); torch runs
one thread per dask thread on a CPU, under ``torch.inference_mode``.
"""

from __future__ import annotations

import numpy as np
import torch

from stori_xr.ranker import ranknet, runtime
from stori_xr.ranker.ranked import NetworkInputs, gap_class, n_sigma_classes, sigma_class

#: Pixels per forward call (bounds a task's working memory).
BATCH = 1024


def heads(net: ranknet.RankNet, x: NetworkInputs, device: torch.device):
    """The network's combined value, variance and weights, as tensors on ``device``."""
    arrays = (x.inputs, x.sar, x.delta, x.candidates)
    inputs, sar, delta, cands = (torch.from_numpy(a).to(device) for a in arrays)
    scores, direct, log_var = net(inputs, sar, delta)
    return ranknet.combine(scores, direct, log_var, cands)


def rank(
    weights: bytes,
    x: NetworkInputs,
    usable: np.ndarray,
    t: np.ndarray,
    neighbours: np.ndarray,
    *,
    device: str | torch.device = "auto",
    batch: int = BATCH,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The ranked values, their σ and the weights of a tile's pixels.

    Parameters
    ----------
    weights : bytes
        A fitted rank-STORI model (:meth:`~stori_xr.ranker.weights.FittedModel.to_bytes`).
    x : NetworkInputs
        What the network reads (:func:`stori_xr.ranker.ranked.network_inputs`).
    usable : ndarray of bool, shape (npix, nt)
    t : ndarray, shape (nt,)
    neighbours : ndarray, shape (npix, nt)
        The neighbours' usable share (:class:`~stori_xr.ranker.candidates.Candidates`).
    device : str or torch.device, default "auto"
    batch : int, default :data:`BATCH`

    Returns
    -------
    value, sigma : ndarray of float64, shape (nb, npix, nt)
        In reflectance; σ calibrated per σ class (:func:`~stori_xr.ranker.ranked.sigma_class`).
    weights : ndarray of float32, shape (npix, nt, K + 1)
        The weights, averaged over bands (all on the kernel's fusion where it is used).

    Where the model's fit chose the kernel's fusion for a σ class
    (``record["kernel_classes"]``, :func:`stori_xr.ranker.rank_train.calibrate`), the
    values of that class are the kernel's fusion, with the network's σ calibrated for them.
    """
    dev = runtime.resolve_device(device)
    if dev.type == "cpu":
        torch.set_num_threads(1)
    fitted, net = runtime.model_for(weights, dev)
    npix, nt, nb, k = x.candidates.shape
    value = np.empty((npix, nt, nb), np.float32)
    variance = np.empty((npix, nt, nb), np.float32)
    mixed = np.empty((npix, nt, k + 1), np.float32)
    with torch.inference_mode():
        for start in range(0, npix, batch):
            part = slice(start, start + batch)
            sub = NetworkInputs(x.inputs[part], x.sar[part], x.delta[part], x.candidates[part])
            v, var, w = heads(net, sub, dev)
            value[part] = v.cpu().numpy()
            variance[part] = var.cpu().numpy()
            mixed[part] = w.mean(dim=2).cpu().numpy()
    scale = np.asarray(fitted.record.get("sigma_scale", [1.0] * n_sigma_classes()), np.float64)
    if scale.size == n_sigma_classes():
        cls = sigma_class(usable, t, neighbours)
        factor = scale[cls]
        use_chosen_kernel(fitted.record, cls, x.candidates[..., 0], value, mixed)
    else:  # a model calibrated per gap class only
        factor = scale[gap_class(usable, t)]
    std = fitted.std[:, None, None]
    out = value.transpose(2, 0, 1) * std + fitted.mean[:, None, None]
    sigma = np.sqrt(variance.transpose(2, 0, 1)) * std * factor[None]
    return out, sigma, mixed


def use_chosen_kernel(
    record: dict, cls: np.ndarray, kernel: np.ndarray, value: np.ndarray, weights: np.ndarray
) -> None:
    """The kernel's fusion, in place, for the values of the classes the fit chose it for.

    ``cls (npix, nt)``: σ classes; ``kernel`` and ``value (npix, nt, nb)``: the kernel's
    fusion and the network's value, standardised; ``weights (npix, nt, K + 1)``: set to
    the kernel's fusion alone there (so that the flag is the kernel's).
    """
    chosen = record.get("kernel_classes")
    if not chosen or not any(chosen):
        return
    there = np.asarray(chosen, bool)[cls] & np.isfinite(kernel).all(axis=-1)
    value[there] = kernel[there]
    weights[there] = 0.0
    weights[there, 0] = 1.0
