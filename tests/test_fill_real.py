"""interpolate() on the real WorldCereal patch: filled reflectance stays physical."""

import numpy as np
import pytest

import stori_xr  # noqa: F401
from stori_xr.io import open_sentinel1, open_sentinel2
from stori_xr.kernels.flags import OBSERVED


@pytest.fixture(scope="module")
def patch(wc1):
    """10 m and 20 m Sentinel-2 together (B02 … B12) and Sentinel-1, numpy-backed."""
    s2 = open_sentinel2(sorted(wc1.glob("S2_L2A_*.nc")))
    s1 = open_sentinel1(next(wc1.glob("S1_*.nc")))
    return s2, s1


@pytest.fixture(scope="module")
def filled(patch):
    s2, s1 = patch
    bounded = s2.stori.interpolate(s1, times="5D", method="kernel")
    free = s2.stori.interpolate(s1, times="5D", method="kernel", valid_range=None)
    return bounded, free


def test_unbounded_kernel_fills_below_zero_on_this_patch(filled):
    # the reason for the bounds: without them dark bands are filled with negative values
    _, free = filled
    fill = (free.stori_source != OBSERVED).values
    assert (free.B02.values[fill] < 0).sum() > 100
    assert free.B08.values[fill].min() < -0.05


@pytest.mark.parametrize("band", ["B02", "B03", "B04", "B08", "B8A", "B11", "B12"])
def test_fills_are_clipped_into_the_valid_range(patch, filled, band):
    s2, _ = patch
    bounded, free = filled
    np.testing.assert_array_equal(bounded.stori_source.values, free.stori_source.values)
    fill = (bounded.stori_source != OBSERVED).values
    value, raw = bounded[band].values, free[band].values
    # observed values and every sigma are untouched
    np.testing.assert_array_equal(value[~fill], raw[~fill])
    np.testing.assert_array_equal(bounded[f"{band}_sigma"].values, free[f"{band}_sigma"].values)
    # fills: never below 0; above 1 only up to the pixel's own largest clear value
    top = np.maximum(1.0, s2[band].where(s2.clear).max("time").values)
    assert np.nanmin(value[fill]) >= 0.0
    assert (np.nan_to_num(value) <= top[None] + 1e-7)[fill].all()
    np.testing.assert_array_equal(
        value[fill], np.clip(raw[fill], 0.0, np.broadcast_to(top, raw.shape)[fill])
    )


def test_an_index_keeps_its_negative_values(patch):
    s2, s1 = patch
    ndvi = ((s2.B08 - s2.B04) / (s2.B08 + s2.B04)).assign_attrs(units="1")
    cube = s2[["clear"]].assign(NDVI=ndvi.astype("float32"))
    out = cube.stori.interpolate(s1, method="linear", valid_range=(-1.0, 1.0))
    free = cube.stori.interpolate(s1, method="linear", valid_range=None)
    np.testing.assert_array_equal(out.NDVI.values, np.clip(free.NDVI.values, -1.0, None))


def test_dask_input_is_bounded_the_same(patch, filled):
    s2, s1 = patch
    bounded, _ = filled
    lazy = s2.chunk({"y": 24, "x": 40}).stori.interpolate(s1, times="5D", method="kernel")
    for band in ("B02", "B08", "stori_source"):
        np.testing.assert_array_equal(lazy[band].values, bounded[band].values)
