"""The real test scenes of the accuracy protocol: WorldCereal patches read from their files."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import xarray as xr

__all__ = ["load_worldcereal_patch"]


def load_worldcereal_patch(
    folder: str | Path,
    bands: Sequence[str] = ("B05", "B06", "B07", "B8A", "B11", "B12"),
) -> tuple[xr.Dataset, xr.Dataset]:
    """Read one WorldCereal patch: 20 m Sentinel-2 bands with their clear mask, and Sentinel-1.

    Parameters
    ----------
    folder : path
        The patch folder, holding ``S2_L2A_20m_*.nc`` and ``S1_GRD-*_20m_*.nc``.
    bands : sequence of str, default ("B05", "B06", "B07", "B8A", "B11", "B12")
        Sentinel-2 bands of the 20 m file.

    Returns
    -------
    optical : Dataset
        The bands (float32 reflectance) and ``clear`` (SCL 4, 5, 6 and every band
        present), dims (time, y, x), numpy-backed.
    sar : Dataset
        ``VV`` and ``VH`` in dB on the same 20 m grid.

    Raises
    ------
    FileNotFoundError
        When the folder lacks one of the two files.
    """
    from stori_xr.io import open_sentinel1, open_sentinel2

    folder = Path(folder)
    s2 = sorted(folder.glob("S2_L2A_20m_*.nc"))
    s1 = sorted(folder.glob("S1_GRD-*_20m_*.nc"))
    if not s2 or not s1:
        raise FileNotFoundError(
            f"{folder} must hold an S2_L2A_20m_*.nc and an S1_GRD-*_20m_*.nc file; "
            f"found {[p.name for p in folder.glob('*.nc')]}."
        )
    optical = open_sentinel2(s2[0], bands=list(bands))
    optical = optical[[*bands, "clear"]]
    sar = open_sentinel1(s1[0])
    return optical, sar[[v for v in ("VV", "VH") if v in sar]]
