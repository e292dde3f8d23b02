"""``method="stori-rnn"``: the published STORI network as a comparator (no torch at import).

Registered in :data:`stori_xr.fill.METHODS` with three parts:

- :func:`fit`, the method's fit hook, run eagerly by :func:`stori_xr.fill.interpolate`
  before it builds the graph: it reads a sample of the aligned target (``sample`` pixels
  with the most clear dates among those of :data:`WINDOWS` windows of
  :data:`WINDOW` px drawn at random, so that the sample, and the fit, do not depend on
  the chunking) and fits the network on it (:func:`stori_xr.ranker.train.fit`); or it
  loads a saved model (``model=``, a path or bytes) and fits nothing. It returns the
  block function's options: the weights as bytes and the device.
- :func:`block`, the block function, run tile by tile inside dask tasks
  (:func:`stori_xr.ranker.runtime.impute`).
- :func:`check`, the options' check.

Options (:data:`DEFAULTS`): ``model`` (None: fit on the target; a path or bytes: use
that model), ``save_model`` (a path to write the fitted model to, for a later
``model=``), ``seed`` (of the sample and the fit), ``device`` (``"auto"``: CUDA when
present), ``hidden`` (LSTM size, 96 as in the original), ``epochs`` and ``sample``
(pixels fitted on).
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from stori_xr.exceptions import MissingVariableError, OptionError
from stori_xr.ranker.weights import FittedModel, load_fitted

#: The SAR features the network reads (as the original: VH and RVI).
SAR_FEATURES = ("VH", "RVI")

#: Options of ``method="stori-rnn"`` and their defaults.
DEFAULTS: dict[str, Any] = {
    "model": None,
    "seed": 0,
    "device": "auto",
    "hidden": 96,
    "epochs": 20,
    "sample": 1024,
    "save_model": None,
}

#: Side (px) of the windows the fit's sample is drawn from, and how many are drawn.
WINDOW = 32
WINDOWS = 16

#: Fewest usable dates of a pixel fitted on.
MIN_CLEAR = 4


def check(options: dict[str, Any]) -> None:
    """OptionError for an option value ``method='stori-rnn'`` cannot use, naming what to give."""

    def refuse(name: str, need: str) -> OptionError:
        return OptionError(
            f"{name}={options[name]!r}: give {need} (an option of method='stori-rnn')."
        )

    for name in ("seed", "hidden", "epochs", "sample"):
        if name not in options:
            continue
        value = options[name]
        whole = isinstance(value, int | np.integer) and not isinstance(value, bool)
        low = 0 if name in ("seed", "epochs") else 1
        if not whole or value < low:
            raise refuse(name, f"a whole number, {low} or more")
    device = options.get("device", "auto")
    if not isinstance(device, str) or device.split(":")[0] not in ("auto", "cpu", "cuda"):
        raise refuse("device", "'auto', 'cpu' or 'cuda' (or 'cuda:N')")
    model = options.get("model")
    if model is not None and not isinstance(model, bytes | str | os.PathLike):
        raise refuse("model", "a path to a saved model, its bytes, or None to fit one")
    save = options.get("save_model")
    if save is not None and not isinstance(save, str | os.PathLike):
        raise refuse("save_model", "a file path, or None")


def load_model(model: bytes | str | os.PathLike) -> FittedModel:
    """The model an option ``model=`` names (a path or bytes)."""
    return load_fitted(
        model,
        "stori-rnn",
        "a model saved with FittedModel.save, or leave model=None to fit one on the target",
    )


def fit(sample: Any, t: np.ndarray, options: dict[str, Any]) -> dict[str, Any]:
    """The fit hook: fit the network on the target (or load ``model=``); the block options.

    Parameters
    ----------
    sample : stori_xr.fill.PixelSample
        Reads windows of the aligned target (computes dask input).
    t : ndarray
        The aligned dates, in days.
    options : dict
        The method's options.

    Returns
    -------
    dict
        ``weights`` (bytes) and ``device``, the options of :func:`block`.
    """
    opts = {**DEFAULTS, **options}
    names = list(sample.names)
    if tuple(sample.sar_names) != SAR_FEATURES:
        raise MissingVariableError(
            "method='stori-rnn' reads VH and the radar vegetation index, made from VV "
            "and VH: give SAR with both VV and VH."
        )
    if opts["model"] is not None:
        fitted = load_model(opts["model"])
        _check_model(fitted, names)
    else:
        fitted = fit_on_target(sample, t, opts)
    if opts["save_model"] is not None:
        fitted.save(opts["save_model"])
    return {"weights": fitted.to_bytes(), "device": opts["device"]}


def fit_on_target(sample: Any, t: np.ndarray, opts: dict[str, Any]) -> FittedModel:
    """Fit a network on the pixels with the most clear dates among random windows."""
    from stori_xr.ranker import runtime, train

    seed = int(opts["seed"])
    values, usable, sar = sample.windows(WINDOW, WINDOWS, seed)
    rng = np.random.default_rng(seed)
    count = usable.sum(axis=1)
    order = np.lexsort((rng.random(count.size), -count))
    top = order[: int(opts["sample"])]
    chosen = np.sort(top[count[top] >= MIN_CLEAR])
    return train.fit(
        values[:, chosen],
        usable[chosen],
        sar[:, chosen],
        t,
        bands=list(sample.names),
        sar_features=list(SAR_FEATURES),
        hidden=int(opts["hidden"]),
        epochs=int(opts["epochs"]),
        seed=seed,
        device=runtime.resolve_device(opts["device"]),
        threads=1,
    )


def _check_model(fitted: FittedModel, names: list[str]) -> None:
    if list(fitted.config["bands"]) != names:
        raise OptionError(
            f"the model was fitted on bands {fitted.config['bands']}; this input has "
            f"{names}: give bands= the model's bands, or fit a model on this input "
            "(model=None)."
        )


def block(
    values: np.ndarray,
    clear: np.ndarray,
    sar: np.ndarray,
    t: np.ndarray,
    out_idx: np.ndarray,
    *,
    weights: bytes,
    device: str = "auto",
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The block function (see :class:`stori_xr.fill.Method`): the network, tile by tile."""
    from stori_xr.ranker import runtime

    nb, ny, nx, nt = values.shape
    out, src = runtime.impute(
        weights,
        values.reshape(nb, ny * nx, nt),
        clear.reshape(ny * nx, nt),
        sar.reshape(sar.shape[0], ny * nx, nt),
        t,
        out_idx,
        device=device,
    )
    m = out_idx.size
    sigma = np.full((nb, m, ny, nx), np.nan, dtype=values.dtype)
    out = out.reshape(nb, ny, nx, m).transpose(0, 3, 1, 2)
    return out, sigma, src.reshape(ny, nx, m).transpose(2, 0, 1)
