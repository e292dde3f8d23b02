"""Draw the figures of the documentation site into docs/figures/ (committed as PNGs).

    python docs/make_figures.py

They come from the built-in synthetic scene (seed 0) and the STORI kernel
(``method="kernel"``), so they are the same on every machine; the site's build
(``mkdocs build --strict``) only copies them and needs neither numba nor this script.
Re-run it when the plots or the method change, and commit the PNGs.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np

import stori_xr  # noqa: F401  (registers .stori)
from stori_xr.datasets import make_scene

HERE = Path(__file__).resolve().parent / "figures"


def main() -> None:
    """Write maps.png and pixel.png into docs/figures/."""
    HERE.mkdir(exist_ok=True)
    scene = make_scene(64, 64, bands=("B02", "B03", "B04", "B8A", "B11"), seed=0)
    optical = scene.optical
    out = optical.stori.interpolate(scene.sar, method="kernel")

    # a date that is partly cloudy, so the maps show gaps and fills side by side
    share = optical["clear"].mean(("y", "x")).values
    date = optical.time.values[int(np.argmin(np.abs(share - 0.5)))]
    fig = out.stori.plot_maps(time=date, input=optical)  # true colour
    fig.savefig(HERE / "maps.png", dpi=80, bbox_inches="tight")

    # the pixel with the most gaps: fills of each kind, screening, SAR below
    y, x = np.unravel_index(int(np.argmin(optical["clear"].sum("time").values)), (64, 64))
    fig = out.stori.plot_pixel(
        x=int(x), y=int(y), index=True, variables=["B8A"], input=optical, sar=scene.sar
    )
    fig.savefig(HERE / "pixel.png", dpi=80, bbox_inches="tight")
    for name in ("maps.png", "pixel.png"):
        print(HERE / name)


if __name__ == "__main__":
    main()
