"""rank-STORI's network: it weighs the candidates of every gap value and adds its own estimate.

Per pixel, over its whole series (all bands at once):

1. **Encoder.** A 1-D convolution of the per-date inputs (bands standardised with gaps
   zeroed, the usable mask, the candidates, the date features of
   :mod:`stori_xr.ranker.candidates`) and one residual block (two convolutions, kernel 3).
2. **The STORI recurrence.** A bidirectional GRU reads the SAR features; its state in each
   direction is decayed by ``exp(-ReLU(W Δ + b))`` — Δ the days since (forwards) or until
   (backwards) the last usable optical value — and feeds the optical layer, a second
   bidirectional GRU over the encoder's output. SAR on the predicted date is read.
3. **Heads**, per date and band: a score for each candidate and for the network's direct
   estimate, the direct estimate, and a log-variance.

:func:`combine` turns the heads into the value (the candidates and the direct estimate
weighted by the softmax of their scores, unavailable candidates left out) and its
variance (the learned term plus the weighted spread of what was combined).

Examples
--------
>>> import torch
>>> net = RankNet(n_inputs=50, n_sar=3, n_bands=6, n_candidates=6)
>>> b, t = 2, 9
>>> heads = net(torch.zeros(b, t, 50), torch.zeros(b, t, 3), torch.zeros(b, t, 2))
>>> [tuple(h.shape) for h in heads]
[(2, 9, 6, 7), (2, 9, 6), (2, 9, 6)]
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


class RankNet(nn.Module):
    """The ranker (see the module's description).

    Parameters
    ----------
    n_inputs : int
        Per-date inputs of the encoder.
    n_sar : int
        SAR features.
    n_bands, n_candidates : int
        Bands, and candidates per band.
    width : int, default 48
        Channels of the encoder.
    hidden : int, default 32
        Hidden size of the optical GRU (each direction).
    sar_hidden : int, default 16
        Hidden size of the SAR GRU (each direction).
    """

    def __init__(
        self,
        n_inputs: int,
        n_sar: int,
        n_bands: int,
        n_candidates: int,
        width: int = 48,
        hidden: int = 32,
        sar_hidden: int = 16,
    ):
        super().__init__()
        self.n_bands, self.n_candidates = n_bands, n_candidates
        self.inp = nn.Conv1d(n_inputs, width, 3, padding=1)
        self.res1 = nn.Conv1d(width, width, 3, padding=1)
        self.res2 = nn.Conv1d(width, width, 3, padding=1)
        self.sar = nn.GRU(n_sar, sar_hidden, batch_first=True, bidirectional=True)
        self.decay = nn.Linear(1, sar_hidden)
        self.opt = nn.GRU(width + 2 * sar_hidden, hidden, batch_first=True, bidirectional=True)
        per_band = n_candidates + 1 + 2
        self.head = nn.Linear(2 * hidden + width, n_bands * per_band)

    def forward(
        self, inputs: torch.Tensor, sar: torch.Tensor, delta: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Scores ``(B, T, nb, K + 1)``, direct estimate and log-variance ``(B, T, nb)``.

        ``inputs (B, T, n_inputs)``, ``sar (B, T, n_sar)``, ``delta (B, T, 2)``: days
        since and until a usable value, scaled.
        """
        x = torch.relu(self.inp(inputs.transpose(1, 2)))
        x = x + self.res2(torch.relu(self.res1(x)))
        x = x.transpose(1, 2)
        s, _ = self.sar(sar)
        half = s.shape[-1] // 2
        gamma_f = torch.exp(-torch.relu(self.decay(delta[..., :1])))
        gamma_b = torch.exp(-torch.relu(self.decay(delta[..., 1:])))
        s = torch.cat([s[..., :half] * gamma_f, s[..., half:] * gamma_b], dim=-1)
        h, _ = self.opt(torch.cat([x, s], dim=-1))
        out = self.head(torch.cat([h, x], dim=-1))
        out = out.reshape(*out.shape[:2], self.n_bands, -1)
        k = self.n_candidates + 1
        return out[..., :k], out[..., k], out[..., k + 1]


def combine(
    scores: torch.Tensor, direct: torch.Tensor, log_var: torch.Tensor, cands: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The ranked value, its variance and the weights.

    Parameters
    ----------
    scores : tensor, shape (B, T, nb, K + 1)
    direct, log_var : tensor, shape (B, T, nb)
    cands : tensor, shape (B, T, nb, K)
        The candidates (NaN where a candidate has no value).

    Returns
    -------
    value, variance : tensor, shape (B, T, nb)
    weights : tensor, shape (B, T, nb, K + 1)
    """
    both = torch.cat([cands, direct[..., None]], dim=-1)
    there = torch.isfinite(both)
    both = torch.where(there, both, torch.zeros_like(both))
    scores = torch.where(there, scores, torch.full_like(scores, -1e4))
    weights = torch.softmax(scores, dim=-1)
    value = (weights * both).sum(-1)
    spread = (weights * (both - value[..., None]) ** 2).sum(-1)
    variance = torch.exp(log_var.clamp(-12.0, 6.0)) + spread
    return value, variance, weights


def build(config: dict, params: dict[str, np.ndarray] | None = None) -> RankNet:
    """The network of ``config``, with ``params`` loaded."""
    net = RankNet(
        int(config["n_inputs"]),
        int(config["n_sar"]),
        int(config["n_bands"]),
        int(config["n_candidates"]),
        int(config["width"]),
        int(config["hidden"]),
        int(config["sar_hidden"]),
    )
    if params is not None:
        state = {k: torch.from_numpy(np.array(v, dtype=np.float32)) for k, v in params.items()}
        net.load_state_dict(state)
    return net
