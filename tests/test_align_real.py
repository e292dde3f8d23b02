"""Alignment on the real data: 20 m SAR onto the 10 m WorldCereal grid, and the gfmap pair."""

import numpy as np
import pytest
from builders import assert_same

import stori_xr  # noqa: F401
from stori_xr.io import open_sentinel1, open_sentinel2
from stori_xr.sar import infer_tracks


@pytest.fixture(scope="module")
def worldcereal(wc1):
    s2 = open_sentinel2(
        [next(wc1.glob("S2_L2A_10m_*.nc")), next(wc1.glob("S2_L2A_20m_*.nc"))],
        bands=["B04", "B08", "B8A"],
    )
    s1 = open_sentinel1(next(wc1.glob("S1_GRD-*.nc")))
    return s2, s1


def test_worldcereal_20m_sar_onto_10m_optical(worldcereal):
    s2, s1 = worldcereal
    assert s2.sizes == {"time": 118, "y": 64, "x": 64} and s1.sizes["y"] == 32
    out = s2.stori.align(s1)
    assert out.VV.shape == (118, 64, 64)
    np.testing.assert_array_equal(out.x.values, s2.x.values)
    assert out.rio.crs.to_epsg() == 32631
    # S1 every 1-5 days: every optical date is interpolated between two acquisitions
    assert (out.sar_flag == 0).all() and float(out.sar_days.max()) <= 3.0
    vv = out.VV.values
    assert -25 < np.nanpercentile(vv, 1) and np.nanpercentile(vv, 99) < 10
    assert np.isfinite(vv).all()
    assert 0.3 < float(out.clear.mean()) < 0.5
    # a 10 m cell lies inside one 20 m cell: bilinear resampling keeps the 20 m
    # field's level (block means agree within a fraction of a dB)
    coarse = out.VV.isel(time=10).coarsen(y=2, x=2).mean().values
    ref = s1.VV.sel(time=out.time[10], method="nearest").values
    assert np.nanmedian(np.abs(coarse - ref)) < 1.5


def test_worldcereal_orbits_are_found_and_normalised(worldcereal):
    s2, s1 = worldcereal
    tracks = infer_tracks(s1.time.values)
    assert np.bincount(tracks).tolist() == [80, 79]
    on_sar = s1.time.values[10:-10]
    raw = s2.stori.align(s1, times=on_sar, orbit_normalise=False)
    norm = s2.stori.align(s1, times=on_sar)

    def jump(ds):  # mean absolute change from one acquisition to the next
        return float(np.abs(ds.VV.diff("time")).mean())

    assert jump(norm) < 0.9 * jump(raw)


def test_worldcereal_dask_equals_numpy_and_is_lazy(worldcereal, wc1, raise_if_dask_computes):
    s2, s1 = worldcereal
    ref = s2.stori.align(s1, times="5D")
    lazy_s2 = open_sentinel2(
        [next(wc1.glob("S2_L2A_10m_*.nc")), next(wc1.glob("S2_L2A_20m_*.nc"))],
        bands=["B04", "B08", "B8A"],
        chunks={"y": 32, "x": 32},
    )
    lazy_s1 = open_sentinel1(next(wc1.glob("S1_GRD-*.nc")), chunks={"y": 16})
    with raise_if_dask_computes():
        lazy = lazy_s2.stori.align(lazy_s1, times="5D")
    assert_same(ref, lazy.compute())


def test_patch2_same_day_pairs_are_merged(wc2):
    s2 = open_sentinel2(next(wc2.glob("S2_L2A_20m_*.nc")), bands=["B8A"])
    s1 = open_sentinel1(next(wc2.glob("S1_GRD-*.nc")))
    assert s2.sizes["time"] == 146
    out = s2.stori.align(s1)
    assert out.sizes["time"] == 143


def test_gfmap_pair(data_dir):
    s2 = open_sentinel2(data_dir / "gfmap" / "cdse_sentinel2_l2a.nc", bands=["B04", "B08"])
    s1 = open_sentinel1(data_dir / "gfmap" / "cdse_sentinel1_grd.nc")
    out = s2.stori.align(s1, times="1D")
    assert out.sizes["time"] == 29 and out.VV.shape[1:] == (66, 64)
    # same 10 m grid: no resampling, values are the SAR's own on its dates
    day = np.datetime64("2023-04-05")
    own = s1.VV.sel(time=day).values
    ok = np.isfinite(own)  # capped values are NaN in the file, filled in time by align
    np.testing.assert_allclose(out.VV.sel(time=day).values[ok], own[ok], rtol=0, atol=1e-5)
    assert np.isfinite(out.VV.sel(time=day).values).all()
    mostly_clear = out.clear.mean(("y", "x")) > 0.9
    assert mostly_clear.sum() == 2
    assert out.sar_flag.isin([0, 1]).all()
