"""``method="stori"``: the kernel's candidates, ranked by a network fitted on the target.

Registered in :data:`stori_xr.fill.METHODS` (no torch at import):

- :func:`fit`, the fit hook, run eagerly by :func:`stori_xr.fill.interpolate` before the
  graph is built: it starts from ``model=`` (a path or bytes; by default the weights
  shipped in the package, :func:`default_model`) and, unless ``fit=False``, fine-tunes it
  on the target itself: :data:`WINDOWS` windows of :data:`WINDOW` px drawn at random
  (independent of the chunking), their clear values hidden ``maskings`` times
  (:mod:`stori_xr.ranker.rank_train`), then σ calibrated on held-out hidden values. It
  returns the block function's options: the weights as bytes, the device, the kernel's
  options.
- :func:`block`, the block function, run tile by tile inside dask tasks: the candidate
  stack (:mod:`stori_xr.ranker.candidates`), the network
  (:mod:`stori_xr.ranker.rank_runtime`), values, σ and flags. Observed values pass
  unchanged; values the kernel screens are ranked like gaps and flagged ``screened``.
- :func:`check`, the options' check.

Options (:data:`DEFAULTS`, besides the kernel's own, which shape its candidates):
``model``, ``fit``, ``save_model`` (a path to write the fitted model to), ``seed``,
``device`` (``"auto"``: CUDA when present), ``epochs`` (of the fit; by default
:data:`FROM_WEIGHTS_EPOCHS` from the shipped weights, :data:`FROM_SCRATCH_EPOCHS` from
scratch when the target's bands are not the ones they read), ``maskings``.
"""

from __future__ import annotations

import os
from importlib import resources
from typing import Any

import numpy as np

from stori_xr.exceptions import OptionError
from stori_xr.kernels import stori as kernel
from stori_xr.ranker.weights import FittedModel, load_fitted

#: The SAR features the candidates and the network read.
SAR_FEATURES = ("VV", "VH", "RVI")

#: Options of ``method="stori"`` (besides the kernel's) and their defaults.
DEFAULTS: dict[str, Any] = {
    "model": None,
    "fit": True,
    "save_model": None,
    "seed": 0,
    "device": "auto",
    "epochs": None,
    "maskings": None,
}

#: Epochs of the fit on the target from the shipped weights, and from scratch (when
#: they read other bands than the target's). From weights, 0: the network is not
#: fine-tuned (on the real patches, fine-tuning on the target's own hidden values raised
#: the RMSE and lowered the σ coverage), only its σ is calibrated on the target.
FROM_WEIGHTS_EPOCHS, FROM_SCRATCH_EPOCHS = 0, 10

#: Hidings of each window in the fit from the shipped weights (σ calibration), and from
#: scratch (a network learns from them: fewer than 4 left it worse than untrained on a
#: synthetic scene).
FROM_WEIGHTS_MASKINGS, FROM_SCRATCH_MASKINGS = 2, 4

#: Pixel series an epoch of the fit on the target reads at most (drawn anew each epoch):
#: keeps a fit from scratch within about two minutes on 2 cores.
FIT_SERIES_PER_EPOCH = 2048

#: Side (px) of the windows the fit reads, and how many.
WINDOW = 32
WINDOWS = 6

#: Pixels of a tile whose candidates are made at once: a stripe of whole rows, at most
#: :data:`STRIPE` of them (bounds a task's memory whatever the tile's width; see
#: :func:`task_extra_bytes`). The network reads a stripe :data:`BATCH` pixels at a time.
STRIPE_PIXELS = 8192
STRIPE = 32

#: Pixel series the network inputs are made for at once.
BATCH = 1024

#: Bytes per pixel, date and band that a stripe of candidates and a batch of network
#: inputs hold at their peak (see :func:`task_extra_bytes`).
STRIPE_BYTES = 180

#: The shipped weights, inside the package.
DEFAULT_WEIGHTS = "default.bin"


def default_model() -> FittedModel | None:
    """The weights shipped in the package (``stori pretrain`` made them), or None."""
    path = resources.files("stori_xr.ranker") / "weights" / DEFAULT_WEIGHTS
    if not path.is_file():
        return None
    return FittedModel.from_bytes(path.read_bytes())


def _shipped_bands() -> list[str] | None:
    model = default_model()
    return None if model is None else list(model.config["bands"])


def stripe_rows(width: int) -> int:
    """Rows of a tile ``width`` px wide whose candidates are made at once."""
    return max(1, min(STRIPE, STRIPE_PIXELS // width))


def task_extra_bytes(nb: int, nt: int, tile: tuple[int, int]) -> int:
    """Memory a task of ``method="stori"`` on a ``tile`` holds beyond the kernel's.

    A stripe's candidates (at most :data:`STRIPE_PIXELS` pixels, fewer on a narrow or
    short tile), the network inputs of a batch of them and the network. Measured (peak
    RSS of a task, less the kernel's on the same tile) with 73 dates and 6 bands: 157
    MiB on a 128 px tile (stripes of 32 rows, 4096 px), 423 MiB on 256 px and 605 MiB on
    512 px (8192 px); :data:`STRIPE_BYTES` per pixel, date and band of a stripe gives 308
    and 616. Stripes of 4096 px held 390 and 467
    MiB but made 512 px tiles 12 % slower (8 rows: the spatial search's halo weighs more);
    stripes of whole 32-row bands held 928 MiB on 256 px.

    Examples
    --------
    >>> round(task_extra_bytes(6, 73, (256, 256)) / 2**20)  # MiB
    616
    >>> round(task_extra_bytes(6, 73, (128, 128)) / 2**20)  # stripes of 4096 px
    308
    """
    ny, nx = tile
    return min(ny, stripe_rows(nx)) * nx * nt * nb * STRIPE_BYTES


def check(options: dict[str, Any]) -> None:
    """OptionError for an option value ``method='stori'`` cannot use, naming what to give."""

    def refuse(name: str, need: str) -> OptionError:
        return OptionError(f"{name}={options[name]!r}: give {need} (an option of method='stori').")

    for name, low in (("seed", 0), ("epochs", 0), ("maskings", 1)):
        value = options.get(name, DEFAULTS[name])
        if value is None and name in ("epochs", "maskings"):
            continue
        if not isinstance(value, int | np.integer) or isinstance(value, bool) or value < low:
            raise refuse(name, f"a whole number, {low} or more")
    if not isinstance(options.get("fit", True), bool):
        raise refuse("fit", "True or False")
    device = options.get("device", "auto")
    if not isinstance(device, str) or device.split(":")[0] not in ("auto", "cpu", "cuda"):
        raise refuse("device", "'auto', 'cpu' or 'cuda' (or 'cuda:N')")
    model = options.get("model")
    if model is not None and not isinstance(model, bytes | str | os.PathLike | FittedModel):
        raise refuse("model", "a path to a saved model, its bytes, or None for the shipped one")
    save = options.get("save_model")
    if save is not None and not isinstance(save, str | os.PathLike):
        raise refuse("save_model", "a file path, or None")


def kernel_options(options: dict[str, Any]) -> dict[str, Any]:
    """The kernel's options among ``options``."""
    return {k: v for k, v in options.items() if k in kernel.DEFAULTS}


def _load(model: Any) -> FittedModel:
    return load_fitted(
        model,
        "stori",
        "a model saved by opt.stori.fit(...).save(path) or stori pretrain, or leave model=None",
    )


def fit_model(
    samples, opts: dict[str, Any], init: FittedModel | None, record=None, hold_out="pixels"
):
    """Fit a ranker on the windows of one or more scenes.

    Parameters
    ----------
    samples : sequence of (PixelSample, t)
        The scenes and their dates in days.
    opts : dict
        The method's options (``seed``, ``epochs``, ``maskings``, the kernel's), and
        ``windows`` (how many per scene).
    init : FittedModel or None
        The model to start from.
    record : dict, optional
        Added to the model's record.
    hold_out : {"pixels", "dates"}, default "pixels"
        What the fit keeps apart to calibrate σ (:func:`stori_xr.ranker.rank_train.train`):
        ``"dates"`` on the target, whose dates a network fitted there learns.
    """
    from stori_xr.ranker import rank_train

    seed = int(opts.get("seed", 0))
    parts, names = [], None
    mean = std = None
    if init is not None:
        mean, std = init.mean, init.std
    for i, (sample, t) in enumerate(samples):
        windows = sample.blocks(WINDOW, int(opts.get("windows", WINDOWS)), seed + i)
        names = list(sample.names)
        if mean is None:
            mean, std = _standardisation(windows)
        seeds = [seed * 1000 + i * 100 + k for k in range(int(opts["maskings"]))]
        hidings = rank_train.TARGET_HIDINGS if hold_out == "dates" else rank_train.HIDINGS
        parts.append(
            rank_train.examples(windows, t, mean, std, kernel_options(opts), seeds, hidings)
        )
    if init is not None:
        _check_bands(init, names)
        config = init.config
    else:
        config = rank_train.config_for(len(names), 3, names, SAR_FEATURES)
    return rank_train.train(
        parts,
        config=config,
        mean=mean,
        std=std,
        init=init,
        epochs=int(opts["epochs"]),
        seed=seed,
        record=record,
        series_per_epoch=opts.get("series_per_epoch"),
        hold_out=hold_out,
        # on the target (whose dates are held out), the choice of network or kernel per
        # σ class is the target's own
        choose_kernel=hold_out == "dates",
    )


def _standardisation(windows) -> tuple[np.ndarray, np.ndarray]:
    """Per band, mean and standard deviation of the usable values of the windows."""
    vals = np.concatenate(
        [np.where(u[None], v, np.nan).reshape(v.shape[0], -1) for v, u, _ in windows], axis=1
    )
    mean = np.nan_to_num(np.nanmean(vals, axis=1))
    std = np.maximum(np.nan_to_num(np.nanstd(vals, axis=1)), 1e-3)
    return mean, std


def _check_bands(fitted: FittedModel, names: list[str]) -> None:
    if not _same_bands(fitted, names):
        raise OptionError(
            f"the model was fitted on bands {fitted.config['bands']}; this input has "
            f"{names}: give bands= the model's bands, or fit one on this input "
            "(model=None)."
        )


def _same_bands(fitted: FittedModel, names: list[str]) -> bool:
    """Whether the model reads these bands (in any order)."""
    return sorted(fitted.config["bands"]) == sorted(names)


def fit(sample: Any, t: np.ndarray, options: dict[str, Any]) -> dict[str, Any]:
    """The fit hook: the model to rank with (fitted on the target unless ``fit=False``).

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
        ``weights`` (bytes), ``device`` and the kernel's options: those of :func:`block`.
    """
    opts = {**DEFAULTS, **options}
    names = list(sample.names)
    if opts["model"] is not None:
        init = _load(opts["model"])
        _check_bands(init, names)
    else:
        init = default_model()
        if init is not None and not _same_bands(init, names):
            init = None  # shipped for other bands: fit a network from scratch
    # the network reads the bands in its model's order
    order = [names.index(b) for b in init.config["bands"]] if init is not None else None
    if order is not None:
        sample = sample.reordered(order)
    if opts["epochs"] is None:
        opts["epochs"] = FROM_WEIGHTS_EPOCHS if init is not None else FROM_SCRATCH_EPOCHS
    if opts["maskings"] is None:
        opts["maskings"] = FROM_WEIGHTS_MASKINGS if init is not None else FROM_SCRATCH_MASKINGS
    opts["series_per_epoch"] = FIT_SERIES_PER_EPOCH
    if opts["fit"] and (int(opts["epochs"]) > 0 or init is not None):
        # epochs=0 from a model: its σ calibrated on the target's hidden values only
        record = {"fitted_on": "target"}
        fitted = fit_model([(sample, t)], opts, init, record=record, hold_out="dates")
    elif init is None:
        raise OptionError(
            f"fit=False needs a model for bands {names}: the shipped weights read "
            f"{_shipped_bands()}; give model= a model fitted on these bands, or fit=True."
        )
    else:
        fitted = init
    if opts["save_model"] is not None:
        fitted.save(opts["save_model"])
    return {
        "weights": fitted.to_bytes(),
        "device": opts["device"],
        "band_order": order,
        **kernel_options(opts),
    }


def block(
    values: np.ndarray,
    clear: np.ndarray,
    sar: np.ndarray | None,
    t: np.ndarray,
    out_idx: np.ndarray,
    *,
    weights: bytes,
    device: str = "auto",
    band_order: list[int] | None = None,
    core: tuple[int, int, int, int] | None = None,
    **options: Any,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The block function (see :class:`stori_xr.fill.Method`): candidates, ranked.

    ``band_order``: the input's bands in the model's order (None: the same order).
    """
    if band_order is not None and list(band_order) != list(range(values.shape[0])):
        out, sigma, src = block(
            values[band_order],
            clear,
            sar,
            t,
            out_idx,
            weights=weights,
            device=device,
            core=core,
            **options,
        )
        back = np.argsort(band_order)
        return out[back], sigma[back], src
    from stori_xr.ranker import rank_runtime
    from stori_xr.ranker.candidates import candidate_stack, screened
    from stori_xr.ranker.inputs import savgol_matrix
    from stori_xr.ranker.ranked import flags_of, network_inputs

    fitted = FittedModel.from_bytes(weights)
    nb, ny, nx, nt = values.shape
    y0, y1, x0, x1 = core if core is not None else (0, ny, 0, nx)
    m, cx = out_idx.size, x1 - x0
    work = kernel.work_dtype(values)
    out = np.empty((nb, m, y1 - y0, cx), work)
    sigma = np.empty_like(out)
    src = np.empty((m, y1 - y0, cx), np.int8)
    smoother = savgol_matrix(t)
    rows = stripe_rows(cx)
    for sy in range(y0, y1, rows):
        ey = min(sy + rows, y1)
        cands = candidate_stack(values, clear, sar, t, (sy, ey, x0, x1), options)
        window = (slice(sy, ey), slice(x0, x1))
        npix = (ey - sy) * cx
        flat = values[:, *window].reshape(nb, npix, nt)
        usable = clear[window].reshape(npix, nt) & ~screened(cands)
        flat_sar = None if sar is None else sar[:, *window].reshape(sar.shape[0], npix, nt)
        stripe_out, stripe_sigma = np.empty((2, nb, npix, m), work)
        flags = np.empty((npix, m), np.int8)
        for start in range(0, npix, BATCH):  # the network's inputs a batch at a time
            part = slice(start, min(start + BATCH, npix))
            some = cands.pixels(part)
            ok = usable[part]
            part_sar = None if flat_sar is None else flat_sar[:, part]
            x = network_inputs(
                flat[:, part], ok, part_sar, t, some, fitted.mean, fitted.std, smoother
            )
            value, sig, mixed = rank_runtime.rank(
                weights, x, ok, t, some.neighbours, device=device
            )
            del x
            value = np.where(ok[None], flat[:, part], value)
            sig = np.where(ok[None], some.kernel_sigma, sig)
            nodata = ~ok.any(axis=1)
            value[:, nodata] = np.nan
            sig[:, nodata] = np.nan
            stripe_out[:, part] = value[..., out_idx]
            stripe_sigma[:, part] = sig[..., out_idx]
            flags[part] = flags_of(mixed, some, ok, t)[:, out_idx]
        band_rows = slice(sy - y0, ey - y0)
        shape = (nb, ey - sy, cx, m)
        out[:, :, band_rows] = stripe_out.reshape(shape).transpose(0, 3, 1, 2)
        sigma[:, :, band_rows] = stripe_sigma.reshape(shape).transpose(0, 3, 1, 2)
        src[:, band_rows] = flags.reshape(ey - sy, cx, m).transpose(2, 0, 1)
    return out, sigma, src
