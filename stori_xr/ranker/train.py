"""The self-supervised fit of the STORI network on the target itself.

No training data but the scene at hand: a sample of its pixels (those with many clear
dates, chosen by :func:`stori_xr.ranker.method.fit`) is read whole, and the network
learns to predict each clear value from the dates before it (forward pass) and after it
(backward pass) — every clear value is a target the network has not seen when it
predicts it, as in the original (and in BRITS, which it follows). Each batch also hides
one window of 15–120 days of each pixel's clear values (drawn anew every epoch): the
hidden values are targets too, so the fit sees long gaps as well as the scene's own.

Loss: mean absolute error on the standardised clear values, of each pass, plus
``consistency`` (0.1, BRITS's weight) times the mean absolute difference between the
passes. Adam, learning rate 1e-3, batches of 128 pixels, a fixed number of epochs;
seeded (torch, the order of the pixels and the hidden windows), so that one seed, one
sample and one number of threads always give the same weights on a CPU.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from contextlib import contextmanager

import numpy as np
import torch

from stori_xr import progress
from stori_xr.ranker import rnn
from stori_xr.ranker.inputs import band_inputs, days_since_clear, sar_inputs
from stori_xr.ranker.weights import FittedModel

#: Lowest standard deviation used to standardise a band (a constant band reads 0).
MIN_STD = 1e-3

#: Range of the windows hidden in each pixel's series during the fit, in days.
HIDE_DAYS = (15.0, 120.0)


@contextmanager
def torch_threads(n: int | None):
    """Run torch's CPU operations on ``n`` threads inside the block (None: leave as is)."""
    if n is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(max(int(n), 1))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def hide_windows(usable: np.ndarray, t: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The usable values to hide: one window of :data:`HIDE_DAYS` days per pixel.

    At a random place; bool, the shape of ``usable``.
    """
    npix = usable.shape[0]
    length = rng.uniform(*HIDE_DAYS, size=npix)
    start = t[0] - length + rng.uniform(0.0, 1.0, size=npix) * (t[-1] - t[0] + length)
    inside = (t[None, :] >= start[:, None]) & (t[None, :] <= (start + length)[:, None])
    return inside & usable


def fit(
    values: np.ndarray,
    usable: np.ndarray,
    sar: np.ndarray,
    t: np.ndarray,
    *,
    bands: Sequence[str],
    sar_features: Sequence[str],
    hidden: int = 96,
    epochs: int = 30,
    batch_size: int = 128,
    learning_rate: float = 1e-3,
    consistency: float = 0.1,
    hide: bool = True,
    seed: int = 0,
    device: str | torch.device = "cpu",
    threads: int | None = None,
) -> FittedModel:
    """Fit the STORI network on pixel series of the target.

    Parameters
    ----------
    values : ndarray, shape (nb, npix, nt)
        Band values of the sampled pixels.
    usable : ndarray of bool, shape (npix, nt)
        Which values are clear and usable.
    sar : ndarray, shape (nf, npix, nt)
        The SAR features (as aligned: dB or ratio; scaled here per pixel).
    t : ndarray, shape (nt,)
        Dates in days.
    bands, sar_features : sequence of str
        Names, kept in the model so that it can check its input later.
    hidden, epochs, batch_size, learning_rate, consistency, hide, seed
        See the module docstring.
    device : str or torch.device, default "cpu"
        Where to fit.
    threads : int, optional
        Torch CPU threads for the fit (restored after it).

    Returns
    -------
    FittedModel
        Parameters, the bands' mean and standard deviation, and a record of the fit.
    """
    values = np.asarray(values, dtype=np.float64)
    usable = np.asarray(usable, dtype=bool)
    nb, npix, _ = values.shape
    masked = np.where(usable[None], values, np.nan)
    count = usable.sum()
    mean = np.nan_to_num(np.nanmean(masked, axis=(1, 2))) if count else np.zeros(nb)
    std = np.nan_to_num(np.nanstd(masked, axis=(1, 2))) if count else np.ones(nb)
    std = np.maximum(std, MIN_STD)
    config = {
        "n_bands": nb,
        "n_sar": int(sar.shape[0]),
        "hidden": int(hidden),
        "bands": list(bands),
        "sar_features": list(sar_features),
    }
    device = torch.device(device)
    losses: list[float] = []
    start = time.perf_counter()
    with torch_threads(threads):
        torch.manual_seed(seed)
        rng = np.random.default_rng(seed)
        net = rnn.build(config).to(device)
        optimiser = torch.optim.Adam(net.parameters(), lr=learning_rate)
        x_all = torch.from_numpy(band_inputs(values, usable, mean, std))
        s_all = torch.from_numpy(sar_inputs(sar, t))
        epochs_run = int(epochs) if npix else 0
        for _ in progress.iterate(range(epochs_run), epochs_run, "stori-rnn fit", "epochs"):
            total, seen = 0.0, 0
            for idx in np.array_split(rng.permutation(npix), max(npix // batch_size, 1)):
                u = usable[idx]
                shown = u & ~hide_windows(u, t, rng) if hide else u
                loss = _batch_loss(net, x_all[idx], u, shown, s_all[idx], t, consistency, device)
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
                total += float(loss.detach()) * idx.size
                seen += idx.size
            losses.append(round(total / max(seen, 1), 6))
    record = {
        "seed": int(seed),
        "epochs": int(epochs),
        "pixels": int(npix),
        "dates": int(t.size),
        "batch_size": int(batch_size),
        "learning_rate": float(learning_rate),
        "consistency": float(consistency),
        "hide_days": list(HIDE_DAYS) if hide else None,
        "loss": losses,
    }
    params = rnn.parameters_of(net)
    fitted = FittedModel("stori-rnn", config, params, mean, std, record)
    object.__setattr__(fitted, "seconds", time.perf_counter() - start)  # not in the bytes
    return fitted


def _batch_loss(net, x, usable, shown, s, t, consistency, device):
    """L1 of both passes on every usable value (shown and hidden) plus consistency."""
    shown_t = torch.from_numpy(shown[..., None].astype(np.float32))
    target_w = torch.from_numpy(usable[..., None].astype(np.float32)).to(device)
    d_f = torch.from_numpy(days_since_clear(shown, t)[..., None])
    d_b = torch.from_numpy(days_since_clear(shown, t, backward=True)[..., None])
    x_in = (x * shown_t).to(device)
    pf, pb = net(x_in, shown_t.to(device), s.to(device), d_f.to(device), d_b.to(device))
    x = x.to(device)
    n = torch.clamp(target_w.sum() * x.shape[-1], min=1.0)
    loss = ((pf - x).abs() * target_w).sum() / n + ((pb - x).abs() * target_w).sum() / n
    return loss + consistency * (pf - pb).abs().mean()
