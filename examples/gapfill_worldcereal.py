"""Fill the cloud gaps of a real Sentinel-2 patch with STORI and look at the result.

    python examples/gapfill_worldcereal.py ../shared/data/worldcereal/00002806639B424A

Reads the 20 m Sentinel-2 bands (SCL gives the clear mask) and the Sentinel-1
backscatter of a WorldCereal patch, fills every gap on a 5-day grid with the
STORI kernel, lazily through dask, writes a Zarr store and two figures.
"""

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import xarray as xr

import stori_xr  # noqa: F401  (registers .stori)
from stori_xr.io import open_sentinel1, open_sentinel2

folder = Path(sys.argv[1])
out_dir = Path(sys.argv[2]) if len(sys.argv) > 2 else Path("stori-example")
out_dir.mkdir(exist_ok=True)

s2 = open_sentinel2(next(folder.glob("S2_L2A_20m_*.nc")), chunks={"y": 16, "x": 16})
s1 = open_sentinel1(next(folder.glob("S1_GRD-*.nc")), chunks={"y": 16, "x": 16})

filled = s2.stori.interpolate(s1, times="5D", method="kernel", radius=8)  # lazy
filled.stori.to_zarr(out_dir / "reflectance.zarr", mode="w")  # computes, chunk by chunk
print(f"wrote {out_dir / 'reflectance.zarr'}")

written = xr.open_zarr(out_dir / "reflectance.zarr")  # plot what was written, not recompute
fig = written.stori.plot_pixel(x=16, y=16, index=True, variables=["B8A", "B11"])
fig.savefig(out_dir / "pixel.png", dpi=90, bbox_inches="tight")
fig = written.stori.plot_maps(input=s2, variable="B8A")  # the middle date
fig.savefig(out_dir / "maps.png", dpi=90, bbox_inches="tight")
plt.close("all")
print(f"wrote {out_dir / 'pixel.png'} and {out_dir / 'maps.png'}")
