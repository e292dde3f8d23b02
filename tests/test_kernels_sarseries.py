"""Orbit normalisation and merging of SAR series against the numpy reference."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stori_xr.kernels.sarseries import normalise_merge, normalise_merge_reference


def series(seed, nt, shape=(4, 5), missing=0.2):
    rng = np.random.default_rng(seed)
    v = rng.normal(-12.0, 3.0, (nt, *shape)).astype(np.float32)
    v[rng.random(v.shape) < missing] = np.nan
    return np.moveaxis(v, 0, -1)  # time-last view of time-first data, as the glue gives


@given(
    seed=st.integers(0, 10_000),
    nt=st.integers(1, 40),
    ntracks=st.integers(1, 3),
    normalise=st.booleans(),
    missing=st.sampled_from([0.0, 0.3, 0.9, 1.0]),
)
@settings(max_examples=60, deadline=None)
def test_matches_reference(seed, nt, ntracks, normalise, missing):
    rng = np.random.default_rng(seed)
    v = series(seed, nt, missing=missing)
    tracks = rng.integers(0, ntracks, nt)
    groups = np.cumsum(np.r_[0, rng.random(nt - 1) < 0.7])  # some groups of 2 or more
    got = normalise_merge(v, tracks, groups, normalise)
    want = normalise_merge_reference(v, tracks, groups, normalise)
    assert got.dtype == np.float32
    assert got.shape == (*v.shape[:-1], groups[-1] + 1)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-4)


def test_other_shapes_and_input_unchanged():
    v = series(1, 12, shape=(6,))
    before = v.copy()
    tracks = np.arange(12) % 2
    groups = np.arange(12) // 2
    got = normalise_merge(v, tracks, groups, True)
    assert got.shape == (6, 6)
    np.testing.assert_array_equal(v, before)
    np.testing.assert_allclose(got, normalise_merge_reference(v, tracks, groups, True), atol=1e-4)


@pytest.mark.parametrize("normalise", [True, False])
def test_same_result_for_any_block_of_pixels(normalise):
    v = series(2, 30, shape=(6, 8))
    tracks = np.arange(30) % 3
    groups = np.arange(30) // 3
    whole = normalise_merge(v, tracks, groups, normalise)
    part = normalise_merge(np.ascontiguousarray(v[2:5, 1:7]), tracks, groups, normalise)
    np.testing.assert_array_equal(whole[2:5, 1:7], part)
