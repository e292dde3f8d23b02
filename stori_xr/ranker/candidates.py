"""The candidates the ranker weighs, and what it reads beside them (numpy only, no torch).

For one block of the aligned cube (its tile and the halo the kernel's spatial candidate
reads), :func:`candidate_stack` runs on every date:

- the kernel's candidate stack, in one pass (:func:`stori_xr.kernels.stori.stori_candidates`):
  its analytic fusion and each of its candidate families alone — temporal, SAR-anchored,
  spatial — with the kernel's own σ of each;
- the smooth temporal candidate: the Whittaker smoother (weights 0 in gaps);
- the per-pixel regression of each band on the SAR features.

Candidates are given for the tile's pixels only, as ``(K, nb, npix, nt)`` float32 in the
order of :data:`CANDIDATES`. :func:`date_features` makes the per-date features the
network reads beside them (days since and until a usable value, the day of the year, the
share of the neighbourhood that is usable on that date, the kernel's flag).

Examples
--------
>>> usable = np.zeros((3, 3, 2), bool)  # (ny, nx, nt)
>>> usable[0, 0, 0] = True  # one usable pixel: a share of each neighbour's window
>>> (neighbour_share(usable, radius=1)[:, :, 0] * 40).round().astype(int).tolist()
[[0, 8, 0], [8, 5, 0], [0, 0, 0]]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from stori_xr.kernels import baselines, stori, whittaker
from stori_xr.kernels.flags import FLAG_VALUES, SCREENED

#: The candidates, in the order of the stack: the kernel's fusion, its three families
#: alone, the smooth temporal candidate and the SAR regression.
CANDIDATES = ("kernel", "temporal", "sar", "spatial", "whittaker", "sar-regression")

#: The candidates that come with the kernel's σ (the first ones of the stack).
WITH_SIGMA = 4

#: Smoothing of the Whittaker candidate (as ``method="whittaker"``'s default).
WHITTAKER_LAMBDA = 1e4

#: Ridge of the SAR regression candidate.
SAR_RIDGE = 1e-3

#: Number of per-date features :func:`date_features` makes (besides bands and candidates).
N_DATE_FEATURES = 7 + len(FLAG_VALUES) + WITH_SIGMA


@dataclass
class Candidates:
    """The candidate stack of a tile's pixels.

    Attributes
    ----------
    values : ndarray of float32, shape (K, nb, npix, nt)
        Each candidate's value on every date (observed values where usable).
    log_sigma : ndarray of float32, shape (WITH_SIGMA, npix, nt)
        Log of the kernel's σ of its fusion and of each family, mean over bands.
    flags : ndarray of int8, shape (npix, nt)
        The kernel's ``stori_source`` flag.
    neighbours : ndarray of float32, shape (npix, nt)
        Share of the usable pixels within the kernel's search radius on each date.
    kernel_sigma : ndarray, shape (nb, npix, nt)
        The kernel's σ of its fusion, per band (that of an observed value is its noise).
    """

    values: np.ndarray
    log_sigma: np.ndarray
    flags: np.ndarray
    neighbours: np.ndarray
    kernel_sigma: np.ndarray

    def pixels(self, part: slice) -> Candidates:
        """The stack of some of its pixels (views, no copy)."""
        return Candidates(
            self.values[:, :, part],
            self.log_sigma[:, part],
            self.flags[part],
            self.neighbours[part],
            self.kernel_sigma[:, part],
        )


def neighbour_share(usable: np.ndarray, radius: int) -> np.ndarray:
    """Share of the other pixels within ``radius`` (a square) usable on each date.

    ``usable`` is ``(ny, nx, nt)``; at the block's edges only the pixels inside count.
    """
    ny, nx, nt = usable.shape
    c = np.zeros((ny + 1, nx + 1, nt))
    c[1:, 1:] = np.cumsum(np.cumsum(usable, axis=0), axis=1)
    ones = np.zeros((ny + 1, nx + 1))
    ones[1:, 1:] = np.cumsum(np.cumsum(np.ones((ny, nx)), axis=0), axis=1)
    y = np.arange(ny)
    x = np.arange(nx)
    y0, y1 = np.clip(y - radius, 0, ny), np.clip(y + radius + 1, 0, ny)
    x0, x1 = np.clip(x - radius, 0, nx), np.clip(x + radius + 1, 0, nx)

    def box(a):
        return (
            a[y1[:, None], x1[None, :]]
            - a[y0[:, None], x1[None, :]]
            - a[y1[:, None], x0[None, :]]
            + a[y0[:, None], x0[None, :]]
        )

    count = box(c) - usable
    area = box(ones) - 1.0
    return (count / np.maximum(area, 1.0)[..., None]).astype(np.float32)


def candidate_stack(
    values: np.ndarray,
    usable: np.ndarray,
    sar: np.ndarray | None,
    t: np.ndarray,
    core: tuple[int, int, int, int],
    kernel_options: dict,
) -> Candidates:
    """Every candidate of the tile's pixels, on every date.

    Parameters
    ----------
    values : ndarray, shape (nb, ny, nx, nt)
        The block's bands (tile and halo).
    usable : ndarray of bool, shape (ny, nx, nt)
    sar : ndarray, shape (nf, ny, nx, nt), or None
        The SAR features VV, VH, RVI.
    t : ndarray, shape (nt,)
        Dates in days.
    core : (y0, y1, x0, x1)
        The tile within the block.
    kernel_options : dict
        Options of the kernel (``method="kernel"``'s).

    Returns
    -------
    Candidates
    """
    nb, nt = values.shape[0], values.shape[-1]
    y0, y1, x0, x1 = core
    npix = (y1 - y0) * (x1 - x0)
    every = np.arange(nt)
    stack = np.empty((len(CANDIDATES), nb, npix, nt), np.float32)
    log_sigma = np.empty((WITH_SIGMA, npix, nt), np.float32)
    kernel = stori.stori_candidates(values, usable, sar, t, every, core=core, **kernel_options)
    families = zip(kernel.family_values, kernel.family_sigma, strict=True)
    for k, (v, s) in enumerate([(kernel.values, kernel.sigma), *families]):
        stack[k] = v.transpose(0, 2, 3, 1).reshape(nb, npix, nt)
        mean_var = np.nan_to_num(np.square(s)).mean(axis=0)  # σ is NaN where no data
        sig = np.sqrt(mean_var).transpose(1, 2, 0).reshape(npix, nt)
        log_sigma[k] = np.log(np.maximum(sig, 1e-4))
    flags = kernel.source.transpose(1, 2, 0).reshape(npix, nt)
    kernel_sigma = kernel.sigma.transpose(0, 2, 3, 1).reshape(nb, npix, nt)
    window = (slice(y0, y1), slice(x0, x1))
    tile = values[:, *window].reshape(nb, npix, nt)
    tile_usable = usable[window].reshape(npix, nt)
    masked = np.where(tile_usable[None], tile, np.nan)
    # pixel-major: a pixel's bands share its weights, so the smoother factorises its
    # system once for all of them (the same values, 1.6 times faster)
    smooth = whittaker.whittaker(
        masked.transpose(1, 0, 2), t, t, lmbda=WHITTAKER_LAMBDA, order=2, step=1.0
    ).transpose(1, 0, 2)
    stack[4] = np.where(tile_usable[None], masked, smooth)
    if sar is not None and sar.shape[0]:
        tile_sar = sar[:, *window].reshape(sar.shape[0], npix, nt)
        stack[5], _ = baselines.sar_regression(
            masked, tile_usable, tile_sar, t, every, ridge=SAR_RIDGE
        )
    else:
        stack[5], _ = baselines.linear(masked, tile_usable, t, every)
    radius = int(kernel_options.get("radius", stori.DEFAULTS["radius"]))
    share = neighbour_share(usable, radius)[window].reshape(npix, nt)
    return Candidates(stack, log_sigma, flags, share, kernel_sigma)


def days_between(usable: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Days since the last and until the next usable value, ``(npix, nt)`` each.

    0 on a usable date; ``inf`` before the first or after the last usable value.
    """
    nt = usable.shape[1]
    idx = np.arange(nt)
    prev = np.maximum.accumulate(np.where(usable, idx, -1), axis=1)
    nxt = np.minimum.accumulate(np.where(usable, idx, nt)[:, ::-1], axis=1)[:, ::-1]
    tp = np.where(prev >= 0, t[np.clip(prev, 0, nt - 1)], -np.inf)
    tn = np.where(nxt < nt, t[np.clip(nxt, 0, nt - 1)], np.inf)
    return t[None, :] - tp, tn - t[None, :]


def date_features(cands: Candidates, usable: np.ndarray, t: np.ndarray) -> np.ndarray:
    """The per-date features beside bands and candidates, ``(npix, nt, N_DATE_FEATURES)``.

    Days since and until a usable value (log scale, 0 beyond the series' ends, with an
    indicator of each end), the day of the year (sine and cosine), the neighbours' usable
    share, the kernel's flag (one-hot) and the kernel's log σ of each candidate.
    """
    since, until = days_between(usable, t)
    doy = 2.0 * np.pi * (np.mod(t, 365.25) / 365.25)
    npix, nt = usable.shape
    out = np.zeros((npix, nt, N_DATE_FEATURES), np.float32)
    for k, days in enumerate((since, until)):
        out[..., k] = np.log1p(np.where(np.isfinite(days), days, 0.0)) / 5.0
    out[..., 2] = ~np.isfinite(since)
    out[..., 3] = ~np.isfinite(until)
    out[..., 4] = np.sin(doy)[None]
    out[..., 5] = np.cos(doy)[None]
    out[..., 6] = cands.neighbours
    nflag = len(FLAG_VALUES)
    out[..., 7 : 7 + nflag] = cands.flags[..., None] == FLAG_VALUES
    out[..., 7 + nflag :] = (cands.log_sigma.transpose(1, 2, 0) + 4.0) / 2.0
    return out


def screened(cands: Candidates) -> np.ndarray:
    """The values the kernel screened out (flag ``screened``), ``(npix, nt)``."""
    return cands.flags == SCREENED
