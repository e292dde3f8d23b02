"""Learning to rank on hidden values: the fit of rank-STORI, on the target or on a source.

No training data but scenes and their own clouds. From windows of a scene (their tile
and neighbourhood, so that the kernel's spatial candidate sees what it sees in use):

1. :func:`examples` hides clear values with the evaluation's protocols, in turn
   (:data:`HIDINGS`: ``"whole"`` — the scene's own cloud shapes transplanted onto clear
   dates, whole dates, long windows over the whole window — and ``"partial"`` — partly
   cloudy shapes, where neighbours stay clear; :func:`stori_xr.evaluate.masks.hide_mask`),
   a new draw per seed — computes every candidate on what is left, and keeps the pixels with hidden
   values: their inputs, the hidden truth, and each hidden value's gap class.
2. :func:`train` fits the network (from a given model, e.g. the pretrained weights, or
   from scratch) on most of those pixels. Loss on the hidden values only, bands
   standardised: a smooth L1 of the ranked value, plus a ranking term (cross-entropy of
   the scores against the candidate closest to the truth, per band: the closest should
   score highest), plus the Gaussian negative log-likelihood of the variance.
3. It calibrates σ on the hidden values kept apart from the fit (on every hidden value
   when ``epochs=0``: the model's σ calibrated on the target, its weights unchanged):
   per σ class — the gap's length and the neighbours' usable share
   (:func:`stori_xr.ranker.ranked.sigma_class`) — the factor whose ±1σ and ±2σ
   coverages are nearest 68.3 % and 95.4 %. What is kept apart (``hold_out``): the
   hidden values of a share of the pixels (a fit on sources), or of a share of the
   dates (a fit on the target: a network fitted on a scene learns its dates — the hidden
   value of one pixel on a date tells of its neighbours' on the same date — and σ
   calibrated on other pixels of the dates it learned was too narrow for the dates a
   user's clouds hide, which it never saw).

Seeded (the draws, the split, the batches, torch) and run on one torch thread, so that
one seed and one sample give the same weights.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import torch

from stori_xr import progress
from stori_xr.ranker import ranknet
from stori_xr.ranker.candidates import CANDIDATES, candidate_stack, screened
from stori_xr.ranker.inputs import savgol_matrix
from stori_xr.ranker.ranked import (
    NEIGHBOUR_CLASSES,
    NetworkInputs,
    n_inputs,
    n_sigma_classes,
    network_inputs,
    sigma_class,
)
from stori_xr.ranker.train import torch_threads
from stori_xr.ranker.weights import FittedModel

#: The hiding protocols (:data:`stori_xr.evaluate.masks.PROTOCOLS`) the maskings take in
#: turn: whole dates and whole-window runs, where no neighbour is clear, then partial
#: cloud shapes, where neighbours are; real gaps are of both kinds.
HIDINGS = ("whole", "partial", "whole")

#: The hidings of a fit on the target, in turn: as many partial as whole, so that σ is
#: calibrated, and the choice of network or kernel made (:func:`kernel_classes`), on
#: enough short gaps with clear neighbours (with :data:`HIDINGS`, 2 % of its held-out
#: values had half their neighbours clear).
TARGET_HIDINGS = ("whole", "partial")

#: Share of a window's dates (with a clear value) that take a transplanted cloud mask
#: at least (:func:`clear_share`).
MOSTLY_CLEAR = 0.25

#: Share of the pixels, or of the dates, whose hidden values are kept apart to calibrate σ.
CALIBRATION_SHARE = 0.25

#: What a fit keeps apart to calibrate σ (:func:`train`'s ``hold_out``).
HOLD_OUTS = ("pixels", "dates")

#: Weights of the ranking and likelihood terms of the loss.
RANK_WEIGHT, NLL_WEIGHT = 0.3, 0.1

#: The normal's ±1σ and ±2σ coverages σ is calibrated to.
ONE_SIGMA, TWO_SIGMA = 0.6827, 0.9545

#: Pixel series per forward call of the calibration.
BATCH = 1024

#: Fewest hidden values a σ class is calibrated on by itself.
MIN_CLASS = 100


@dataclass
class Examples:
    """Pixel series with hidden values: what the network reads, and the truth."""

    x: NetworkInputs
    truth: np.ndarray  # (N, nt, nb) float32, standardised
    hidden: np.ndarray  # (N, nt) bool
    cls: np.ndarray  # (N, nt) int, σ class (stori_xr.ranker.ranked.sigma_class)

    @property
    def size(self) -> int:
        """Number of pixel series."""
        return self.hidden.shape[0]

    def take(self, idx: np.ndarray) -> Examples:
        """The pixel series ``idx``."""
        x = self.x
        sub = NetworkInputs(x.inputs[idx], x.sar[idx], x.delta[idx], x.candidates[idx])
        return Examples(sub, self.truth[idx], self.hidden[idx], self.cls[idx])

    @classmethod
    def join(cls, parts: list[Examples]) -> Examples:
        """All pixel series of ``parts``, one after the other; ``parts`` is emptied.

        A field at a time, each freed from the parts once joined: the examples are held
        once plus one field, not twice (a fit from scratch holds about a gigabyte).
        """
        columns = [
            [p.x.inputs for p in parts],
            [p.x.sar for p in parts],
            [p.x.delta for p in parts],
            [p.x.candidates for p in parts],
            [p.truth for p in parts],
            [p.hidden for p in parts],
            [p.cls for p in parts],
        ]
        parts.clear()
        joined = []
        while columns:
            joined.append(np.concatenate(columns.pop(0), axis=0))
        inputs, sar, delta, candidates, truth, hidden, classes = joined
        return cls(NetworkInputs(inputs, sar, delta, candidates), truth, hidden, classes)


def examples(
    windows: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray | None]],
    t: np.ndarray,
    mean: np.ndarray,
    std: np.ndarray,
    kernel_options: dict,
    seeds: Sequence[int],
    hidings: Sequence[str] = HIDINGS,
) -> Examples:
    """Hide values of each window, compute the candidates, keep the pixels with hidden values.

    Parameters
    ----------
    windows : sequence of (values, usable, sar)
        ``values (nb, ny, nx, nt)``, ``usable (ny, nx, nt)`` bool, ``sar (nf, ny, nx,
        nt)`` or None.
    t : ndarray, shape (nt,)
        Dates in days.
    mean, std : ndarray, shape (nb,)
        The standardisation of the bands.
    kernel_options : dict
        Options of the kernel's candidates.
    seeds : sequence of int
        One hiding per seed and window.
    hidings : sequence of str, default :data:`HIDINGS`
        The protocols the seeds' hidings take in turn.
    """
    from stori_xr.evaluate.masks import hide_mask

    smoother = savgol_matrix(t)
    parts = []
    for w, (values, usable, sar) in enumerate(windows):
        nb, ny, nx, nt = values.shape
        flat = values.reshape(nb, ny * nx, nt)
        flat_sar = None if sar is None else sar.reshape(sar.shape[0], ny * nx, nt)
        truth = ((flat - mean[:, None, None]) / std[:, None, None]).transpose(1, 2, 0)
        for k, seed in enumerate(seeds):
            protocol = hidings[k % len(hidings)]
            hide = hide_mask(
                usable.transpose(2, 0, 1),
                t,
                seed=int(seed) * 7919 + w,
                protocol=protocol,
                clear_share=clear_share(usable, protocol),
            ).transpose(1, 2, 0)
            shown = usable & ~hide
            cands = candidate_stack(values, shown, sar, t, (0, ny, 0, nx), kernel_options)
            net_usable = shown.reshape(-1, nt) & ~screened(cands)
            x = network_inputs(flat, net_usable, flat_sar, t, cands, mean, std, smoother)
            hidden = hide.reshape(-1, nt)
            keep = np.flatnonzero(hidden.any(axis=1))
            if not keep.size:
                continue
            cls = sigma_class(net_usable, t, cands.neighbours)
            parts.append(Examples(x, truth.astype(np.float32), hidden, cls).take(keep))
    if not parts:
        raise ValueError("no clear values could be hidden in the sample: too few clear dates.")
    return Examples.join(parts)


def clear_share(usable: np.ndarray, protocol: str) -> float:
    """The clear share a date of a window needs to take a transplanted cloud mask.

    The protocol's (``clear_share``, 0.8) where at least :data:`MOSTLY_CLEAR` of the
    window's dates with a clear value are that clear; otherwise the share that many of
    them reach. A cloudy scene — or one whose clear values an evaluation has already
    hidden — has few mostly clear dates: with the protocol's rule its hidings would be
    the long windows only, every gap over 45 days, and σ would be calibrated, and a
    network fitted, on long gaps alone.

    ``usable`` is ``(ny, nx, nt)``.
    """
    from stori_xr.evaluate.masks import resolve_protocol

    need = resolve_protocol(protocol).clear_share
    shares = usable.mean(axis=(0, 1))
    shares = shares[shares > 0]
    if not shares.size:
        return need
    return float(min(need, np.quantile(shares, 1.0 - MOSTLY_CLEAR)))


def config_for(n_bands: int, n_sar: int, bands: Sequence[str], sar_features: Sequence[str]):
    """The network configuration of a model for these bands and SAR features."""
    return {
        "n_inputs": n_inputs(n_bands),
        "n_sar": 3,
        "n_bands": n_bands,
        "n_candidates": len(CANDIDATES),
        "width": 48,
        "hidden": 32,
        "sar_hidden": 16,
        "bands": list(bands),
        "sar_features": list(sar_features),
        "candidates": list(CANDIDATES),
    }


def forward(net: ranknet.RankNet, x: NetworkInputs):
    """The ranked value, its variance and the candidates' scores of the network on ``x``."""
    scores, direct, log_var = net(*(torch.from_numpy(a) for a in (x.inputs, x.sar, x.delta)))
    value, variance, _ = ranknet.combine(scores, direct, log_var, torch.from_numpy(x.candidates))
    return value, variance, scores


def _loss(net: ranknet.RankNet, ex: Examples) -> torch.Tensor:
    """Smooth L1 of the ranked value + ranking cross-entropy + Gaussian NLL, hidden values."""
    value, variance, scores = forward(net, ex.x)
    truth = torch.from_numpy(ex.truth)
    hidden = torch.from_numpy(ex.hidden)
    cands = torch.from_numpy(ex.x.candidates)
    e = (value - truth)[hidden]
    fit = torch.nn.functional.smooth_l1_loss(e, torch.zeros_like(e), beta=0.5)
    dist = (cands - truth[..., None]).abs()
    dist = torch.where(torch.isfinite(dist), dist, torch.full_like(dist, 1e6))
    best = dist.argmin(-1)[hidden]  # (n, nb): the candidate closest to the truth
    k = cands.shape[-1]
    rank = torch.nn.functional.cross_entropy(
        scores[hidden][..., :k].reshape(-1, k), best.reshape(-1)
    )
    var = variance[hidden]
    nll = 0.5 * (torch.log(var) + e.detach() ** 2 / var).mean()
    return fit + RANK_WEIGHT * rank + NLL_WEIGHT * nll


def train(
    groups: Sequence[Examples],
    *,
    config: dict,
    mean: np.ndarray,
    std: np.ndarray,
    init: FittedModel | None = None,
    epochs: int = 4,
    batch_size: int = 128,
    learning_rate: float = 1e-3,
    seed: int = 0,
    record: dict | None = None,
    series_per_epoch: int | None = None,
    hold_out: str = "pixels",
    choose_kernel: bool = False,
) -> FittedModel:
    """Fit the ranker on hidden values and calibrate its σ (see the module's description).

    Parameters
    ----------
    groups : sequence of Examples
        From :func:`examples`, one per scene (scenes may have different dates: a batch
        holds pixels of one scene).
    config : dict
        From :func:`config_for` (or the ``init`` model's).
    mean, std : ndarray
        The standardisation the examples were made with.
    init : FittedModel, optional
        The model to start from (its parameters); from scratch when None.
    epochs, batch_size, learning_rate, seed
        Of the optimisation (Adam).
    record : dict, optional
        Added to the model's record (e.g. where its data came from).
    series_per_epoch : int, optional
        At most this many pixel series per epoch, drawn anew each epoch (the same share
        of each scene); all of them when None.
    hold_out : {"pixels", "dates"}, default "pixels"
        Whose hidden values are kept apart from the fit to calibrate σ: those of
        :data:`CALIBRATION_SHARE` of the pixel series of each scene, or those of that share
        of the dates of each scene (every pixel's; the fit never learns from a value on
        those dates). Unused when ``epochs=0``: σ is then calibrated on every hidden value.
    choose_kernel : bool, default False
        Also choose, per σ class, between the network's value and the kernel's fusion on
        the values σ is calibrated on (:func:`calibrate`): a fit on the target, where the
        choice is the target's.

    Returns
    -------
    FittedModel
        ``kind="stori"``; its record holds ``sigma_scale`` (one factor per σ class,
        :func:`stori_xr.ranker.ranked.sigma_class`) and the calibration coverage, and
        with ``choose_kernel`` ``kernel_classes`` (the σ classes where the kernel's fusion
        is used instead of the network's value).
    """
    start = time.perf_counter()
    rng = np.random.default_rng(seed)
    if hold_out not in HOLD_OUTS:
        raise ValueError(f"hold_out={hold_out!r}: give one of {HOLD_OUTS}.")
    if int(epochs) > 0 and hold_out == "dates":
        split = [_split_dates(ex, rng) for ex in groups]
        groups = [fit for fit, _ in split]
        cal_groups = [cal for _, cal in split]
        fit_idx = [np.flatnonzero(ex.hidden.any(axis=1)) for ex in groups]
        cal = [np.flatnonzero(ex.hidden.any(axis=1)) for ex in cal_groups]
    else:
        cal, fit_idx = [], []
        for ex in groups:  # a share of each scene's pixels is kept apart for σ
            order = rng.permutation(ex.size)
            n_cal = max(round(CALIBRATION_SHARE * ex.size), 1) if ex.size > 1 else 0
            if int(epochs) == 0:  # nothing is fitted: σ is calibrated on every pixel
                n_cal = ex.size
            cal.append(np.sort(order[:n_cal]))
            fit_idx.append(order[n_cal:])
        cal_groups = list(groups)
    n_fit = sum(f.size for f in fit_idx)
    losses = []
    with torch_threads(1):
        torch.manual_seed(seed)
        net = ranknet.build(config, None if init is None else init.params)
        optimiser = torch.optim.Adam(net.parameters(), lr=learning_rate)
        net.train()
        for _ in progress.iterate(range(int(epochs)), int(epochs), "stori fit", "epochs"):
            share = 1.0 if not series_per_epoch else min(1.0, series_per_epoch / max(n_fit, 1))
            batches = [
                (g, idx)
                for g, f in enumerate(fit_idx)
                for idx in np.array_split(
                    rng.permutation(f)[: max(round(share * f.size), 1)],
                    max(round(share * f.size) // batch_size, 1),
                )
                if idx.size
            ]
            total, seen = 0.0, 0
            for b in rng.permutation(len(batches)):
                g, idx = batches[b]
                loss = _loss(net, groups[g].take(np.sort(idx)))
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
                total += float(loss.detach()) * idx.size
                seen += idx.size
            losses.append(round(total / max(seen, 1), 5))
        net.eval()
        scale, coverage, route = calibrate(net, cal_groups, cal, std if choose_kernel else None)
    params = {k: v.detach().numpy().astype(np.float32) for k, v in net.state_dict().items()}
    rec = {
        **(record or {}),
        "seed": int(seed),
        "epochs": int(epochs),
        "pixels": int(n_fit),
        "calibration_pixels": int(sum(c.size for c in cal)),
        "hidden_values": int(
            sum(ex.hidden[f].sum() for ex, f in zip(groups, fit_idx, strict=True))
        ),
        "loss": losses,
        "sigma_scale": scale,
        "calibration_coverage": coverage,
        "from": None if init is None else init.digest,
    }
    if route is not None:
        rec["kernel_classes"] = route
    if int(epochs) > 0 and hold_out == "dates":  # (a pretraining's record is as it was)
        rec["hold_out"] = "dates"
        rec["calibration_values"] = int(
            sum(ex.hidden[c].sum() for ex, c in zip(cal_groups, cal, strict=True))
        )
    fitted = FittedModel("stori", config, params, np.asarray(mean), np.asarray(std), rec)
    object.__setattr__(fitted, "seconds", time.perf_counter() - start)
    return fitted


def _split_dates(ex: Examples, rng: np.random.Generator) -> tuple[Examples, Examples]:
    """``ex`` twice: without, and with only, the hidden values of a share of its dates.

    :data:`CALIBRATION_SHARE` of the dates with a hidden value are drawn; both parts
    share every array of ``ex`` but ``hidden`` (no copy of the examples).
    """
    dates = np.flatnonzero(ex.hidden.any(axis=0))
    n_cal = max(round(CALIBRATION_SHARE * dates.size), 1) if dates.size > 1 else 0
    kept = np.zeros(ex.hidden.shape[1], dtype=bool)
    kept[rng.permutation(dates)[:n_cal]] = True
    return replace(ex, hidden=ex.hidden & ~kept), replace(ex, hidden=ex.hidden & kept)


def calibrate(
    net,
    groups: Sequence[Examples],
    rows: Sequence[np.ndarray] | None = None,
    std: np.ndarray | None = None,
) -> tuple[list[float], list[float], list[bool] | None]:
    """Per σ class, the factor on σ whose ±1σ and ±2σ coverages are nearest the normal's.

    Measured on the hidden values of ``groups`` (of their pixel series ``rows``, one
    array per group; all of them when None), in the classes of
    :func:`stori_xr.ranker.ranked.sigma_class`; a class with under :data:`MIN_CLASS`
    values takes its gap class's factor, or the overall one (:func:`scale_for`). Also
    returns the ±1σ, ±2σ coverage after it (over all classes).

    With ``std`` (the bands' standardisation), it first chooses, per σ class, between
    the network's value and the kernel's fusion (the first candidate): the kernel's
    where its squared error in reflectance, summed over the class's hidden values, is
    the smaller (:func:`kernel_classes`); σ is then calibrated on the values chosen.
    The choice is returned (one flag per class; None without ``std``).
    """
    n_classes, n_near = n_sigma_classes(), len(NEIGHBOUR_CLASSES)
    errors, kernel_errors, sigmas, classes = [], [], [], []
    for g, group in enumerate(groups):
        idx = np.arange(group.size) if rows is None else rows[g]
        for start in range(0, idx.size, BATCH):  # in batches: bounded memory
            ex = group.take(idx[start : start + BATCH])
            with torch.inference_mode():
                value, variance, _ = forward(net, ex.x)
            errors.append((value.numpy() - ex.truth)[ex.hidden])  # (n, nb), standardised
            kernel_errors.append((ex.x.candidates[..., 0] - ex.truth)[ex.hidden])
            sigmas.append(np.sqrt(variance.numpy())[ex.hidden])
            classes.append(ex.cls[ex.hidden])
    if not errors:
        return [1.0] * n_classes, [float("nan")] * 2, None if std is None else [False] * n_classes
    e, sigma, cls = (np.concatenate(a) for a in (errors, sigmas, classes))
    route = None
    if std is not None:
        e_kernel = np.concatenate(kernel_errors)
        route = kernel_classes(e, e_kernel, cls, np.asarray(std, np.float64), n_classes)
        use = np.asarray(route)[cls][:, None] & np.isfinite(e_kernel)
        e = np.where(use, e_kernel, e)
    z = np.abs(e / sigma).ravel()
    cls = np.broadcast_to(cls[:, None], e.shape).ravel()
    overall = scale_for(z)
    scale = []
    for c in range(n_classes):
        part = z[cls == c]
        if part.size < MIN_CLASS:
            gap = z[cls // n_near == c // n_near]
            part = gap if gap.size >= MIN_CLASS else None
        scale.append(round(overall if part is None else scale_for(part), 5))
    ratio = z / np.asarray(scale)[cls]
    coverage = [round(float((ratio <= 1).mean()), 4), round(float((ratio <= 2).mean()), 4)]
    return scale, coverage, route


def kernel_classes(
    errors: np.ndarray, kernel_errors: np.ndarray, cls: np.ndarray, std: np.ndarray, n: int
) -> list[bool]:
    """Per σ class, whether the kernel's fusion beats the network on these hidden values.

    ``errors`` and ``kernel_errors`` are ``(n_values, nb)``, standardised (the kernel's
    NaN where it has no value: the network's error counts there); each band's error is
    scaled back to reflectance by ``std``. A class with under :data:`MIN_CLASS` values
    keeps the network.
    """
    scale = std[None, :]
    net = (errors * scale) ** 2
    kernel = np.where(np.isfinite(kernel_errors), kernel_errors * scale, errors * scale) ** 2
    route = []
    for c in range(n):
        here = cls == c
        enough = here.sum() * errors.shape[1] >= MIN_CLASS
        route.append(bool(enough and kernel[here].sum() < net[here].sum()))
    return route


def scale_for(z: np.ndarray) -> float:
    """The factor ``s`` on σ that brings ``P(|z| ≤ s)`` and ``P(|z| ≤ 2s)`` nearest the normal's.

    The largest miss of the two is made smallest: errors heavier-tailed than a normal
    cannot meet both, and a factor set on the ±1σ coverage alone leaves ±2σ short.
    """
    z = np.sort(np.asarray(z, np.float64))
    lo, hi = np.quantile(z, [0.5, 0.99])
    factors = np.geomspace(max(lo, 1e-6), max(hi, 2e-6), 400)
    one = np.searchsorted(z, factors, side="right") / z.size
    two = np.searchsorted(z, 2.0 * factors, side="right") / z.size
    miss = np.maximum(np.abs(one - ONE_SIGMA), np.abs(two - TWO_SIGMA))
    return float(factors[np.argmin(miss)])
