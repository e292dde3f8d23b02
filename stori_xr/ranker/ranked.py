"""From a block's candidates to the ranker's inputs, and its outputs to reflectance, σ and flags.

The torch-free half of rank-STORI's inference (:mod:`stori_xr.ranker.rank_runtime` runs
the network in between):

- :func:`network_inputs` — what the network reads of a tile's pixels: the bands
  standardised with the model's constants (gaps zeroed), the usable mask, the
  candidates (standardised likewise), the date features, the SAR features and Δ;
- :func:`gap_class` — the length of the gap a value lies in (or extrapolated), and
  :func:`sigma_class`, with the neighbours' usable share beside it: the classes σ is
  calibrated in;
- :func:`flags_of` — the ``stori_source`` flag of a ranked value: the family of the
  candidate that weighs most (the direct estimate is ``model``), ``extrapolated``
  beyond the series' ends, ``screened`` where the kernel screened an observed value.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from stori_xr.kernels.flags import (
    EXTRAPOLATED,
    MODEL,
    NODATA,
    OBSERVED,
    SAR,
    SCREENED,
    SPATIAL,
    TEMPORAL,
)
from stori_xr.ranker.candidates import CANDIDATES, Candidates, date_features, days_between
from stori_xr.ranker.inputs import sar_inputs

#: Upper bounds (days) of the gap classes σ is calibrated in; the last class holds the
#: values before the first or after the last usable value.
GAP_CLASSES = (15.0, 45.0, np.inf)

#: Lower bounds of the classes of the neighbours' usable share σ is calibrated in, within
#: each gap class: none clear, under half clear, half or more (a value whose neighbours are
#: clear is easier, and its error smaller, than one in a wholly cloudy neighbourhood).
NEIGHBOUR_CLASSES = (0.0, 1e-6, 0.5)

#: The flag of each candidate when it weighs most (the kernel's fusion keeps its own flag),
#: then of the direct estimate.
CANDIDATE_FLAGS = (-1, TEMPORAL, SAR, SPATIAL, TEMPORAL, SAR, MODEL)


@dataclass
class NetworkInputs:
    """The arrays the network reads for ``npix`` pixel series of ``nt`` dates."""

    inputs: np.ndarray  # (npix, nt, F) float32
    sar: np.ndarray  # (npix, nt, nf) float32
    delta: np.ndarray  # (npix, nt, 2) float32
    candidates: np.ndarray  # (npix, nt, nb, K) float32, standardised, NaN kept


def n_inputs(n_bands: int) -> int:
    """Per-date inputs of the encoder for ``n_bands`` bands."""
    from stori_xr.ranker.candidates import N_DATE_FEATURES

    return n_bands + 1 + len(CANDIDATES) * n_bands + N_DATE_FEATURES


def network_inputs(
    values: np.ndarray,
    usable: np.ndarray,
    sar: np.ndarray | None,
    t: np.ndarray,
    cands: Candidates,
    mean: np.ndarray,
    std: np.ndarray,
    smoother: np.ndarray | None = None,
) -> NetworkInputs:
    """What the network reads.

    Parameters
    ----------
    values : ndarray, shape (nb, npix, nt)
    usable : ndarray of bool, shape (npix, nt)
        Usable values (clear, finite, not screened).
    sar : ndarray, shape (nf, npix, nt), or None
    t : ndarray, shape (nt,)
    cands : Candidates
    mean, std : ndarray, shape (nb,)
        The model's standardisation of the bands.
    smoother : ndarray, optional
        :func:`stori_xr.ranker.inputs.savgol_matrix` of ``t``, when already made.
    """
    npix, nt = values.shape[1:]
    # float32 throughout: a fit holds these for tens of thousands of series
    scale = tuple(np.asarray(a, np.float32)[:, None, None] for a in (mean, std))
    z = np.where(usable[None], (values.astype(np.float32, copy=False) - scale[0]) / scale[1], 0)
    cz = (cands.values - scale[0][None]) / scale[1][None]  # (K, nb, npix, nt)
    parts = [
        z.transpose(1, 2, 0),
        usable[..., None],
        np.nan_to_num(cz, nan=0.0).transpose(2, 3, 0, 1).reshape(npix, nt, -1),
        date_features(cands, usable, t),
    ]
    inputs = np.concatenate([np.asarray(p, np.float32) for p in parts], axis=-1)
    if sar is None or not sar.shape[0]:
        sar_in = np.full((npix, nt, 3), 0.5, np.float32)
    else:
        sar_in = sar_inputs(sar, t, smoother)
    since, until = days_between(usable, t)
    delta = np.stack(
        [np.log1p(np.where(np.isfinite(d), d, 365.0)) / 5.0 for d in (since, until)], axis=-1
    ).astype(np.float32)
    candidates = np.ascontiguousarray(cz.transpose(2, 3, 1, 0), dtype=np.float32)
    return NetworkInputs(inputs, sar_in, delta, candidates)


def gap_class(usable: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Class of each value's gap, ``(npix, nt)`` int: its length against :data:`GAP_CLASSES`.

    A gap's length is the time between the usable values around it; values before the
    first or after the last usable value are the last class.
    """
    since, until = days_between(usable, t)
    length = since + until
    ends = ~np.isfinite(length)
    cls = np.searchsorted(np.array(GAP_CLASSES[:-1]), np.where(ends, 0.0, length), side="left")
    return np.where(ends, len(GAP_CLASSES), cls).astype(np.int64)


def sigma_class(usable: np.ndarray, t: np.ndarray, neighbours: np.ndarray) -> np.ndarray:
    """Class of each value for the σ calibration, ``(npix, nt)`` int.

    ``gap_class · len(NEIGHBOUR_CLASSES) + neighbour class``: the gap's length
    (:func:`gap_class`) and the share of the neighbours usable on that date
    (:data:`NEIGHBOUR_CLASSES`; ``neighbours`` as in
    :class:`~stori_xr.ranker.candidates.Candidates`).
    """
    near = np.searchsorted(np.array(NEIGHBOUR_CLASSES[1:]), neighbours, side="right")
    return gap_class(usable, t) * len(NEIGHBOUR_CLASSES) + near


def n_sigma_classes() -> int:
    """Number of classes of :func:`sigma_class`."""
    return (len(GAP_CLASSES) + 1) * len(NEIGHBOUR_CLASSES)


def flags_of(
    weights: np.ndarray, cands: Candidates, usable: np.ndarray, t: np.ndarray
) -> np.ndarray:
    """The flag of every value, ``(npix, nt)`` int8.

    Parameters
    ----------
    weights : ndarray, shape (npix, nt, K + 1)
        The ranker's weights, averaged over bands.
    cands : Candidates
    usable : ndarray of bool, shape (npix, nt)
    t : ndarray, shape (nt,)
    """
    top = weights.argmax(-1)
    table = np.array(CANDIDATE_FLAGS, np.int8)
    flags = np.where(top == 0, cands.flags, table[top]).astype(np.int8)
    since, until = days_between(usable, t)
    flags = np.where(np.isfinite(since) & np.isfinite(until), flags, EXTRAPOLATED)
    flags = np.where(cands.flags == SCREENED, SCREENED, flags)
    flags = np.where(usable, OBSERVED, flags)
    return np.where(usable.any(axis=1)[:, None], flags, NODATA).astype(np.int8)
