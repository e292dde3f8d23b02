"""Pretraining rank-STORI on source scenes: the weights the package ships, made by one command.

``stori pretrain PATCH... --synthetic N --out default.bin`` (:func:`pretrain`) fits the
ranker from scratch on windows of real scenes (WorldCereal patch folders) and of ``N``
synthetic scenes of :func:`stori_xr.datasets.make_scene`, hiding their clear values as
the target fit does (:mod:`stori_xr.ranker.rank_train`), with more windows, maskings
and epochs. Seeded: one command, one seed, the same bytes. Beside the weights it writes
``<out>.json``: the command's settings, the sources, the losses, the σ calibration, the
seconds it took and the weights' SHA-256.

The weights shipped in ``stori_xr/ranker/weights/`` were made this way (their JSON
says how); a figure measured on a scene they were pretrained on says so.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import xarray as xr

from stori_xr.ranker.rank_method import fit_model
from stori_xr.ranker.weights import FittedModel

#: The bands the shipped weights read (the WorldCereal patches' 20 m bands).
BANDS = ("B05", "B06", "B07", "B8A", "B11", "B12")


def synthetic_scenes(count: int, size: int, seed: int) -> list[tuple[xr.Dataset, xr.Dataset, str]]:
    """``count`` synthetic scenes of ``size`` px, 73 dates, the bands of :data:`BANDS`."""
    from stori_xr.datasets import make_scene

    out = []
    for k in range(count):
        scene = make_scene(size, size, periods=73, seed=1000 + seed + k)
        names = [b for b in BANDS if b in scene.optical]
        out.append((scene.optical[[*names, "clear"]], scene.sar, f"synthetic:{1000 + seed + k}"))
    return out


def pretrain(
    scenes: Sequence[tuple[xr.Dataset, xr.Dataset, str]],
    *,
    seed: int = 0,
    epochs: int = 10,
    windows: int = 8,
    maskings: int = 6,
) -> FittedModel:
    """Fit the ranker from scratch on source scenes.

    Parameters
    ----------
    scenes : sequence of (optical, sar, name)
        The sources, as :func:`stori_xr.fill.interpolate` reads them, and a name for the
        record.
    seed, epochs, windows, maskings
        Of the fit (windows per scene, hidings per window: they take the protocols of
        :data:`stori_xr.ranker.rank_train.HIDINGS` in turn). The defaults are those of
        ``stori pretrain`` and of the shipped weights.

    Returns
    -------
    FittedModel
    """
    from stori_xr.fill import pixel_sample

    samples = [pixel_sample(opt, sar, "stori") for opt, sar, _ in scenes]
    opts = {"seed": seed, "epochs": epochs, "windows": windows, "maskings": maskings}
    record = {"fitted_on": "sources", "sources": [name for _, _, name in scenes]}
    return fit_model(samples, opts, None, record=record)


def write(model: FittedModel, out: str | Path, settings: dict[str, Any]) -> Path:
    """Write the model and, beside it, ``<out>.json`` saying how it was made."""
    out = Path(out)
    model.save(out)
    about = {
        "kind": model.kind,
        "sha256": model.digest,
        "parameters": model.n_parameters,
        "settings": settings,
        "record": model.record,
        "seconds": round(float(getattr(model, "seconds", float("nan"))), 1),
        "written": time.strftime("%Y-%m-%d"),
    }
    Path(f"{out}.json").write_text(json.dumps(about, indent=2, sort_keys=True) + "\n")
    return out
