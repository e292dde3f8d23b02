"""Time-axis kernels against their numpy references, with curated and random cases."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from stori_xr.kernels import (
    SAR_INTERPOLATED,
    SAR_MISSING,
    SAR_NEAREST,
    clear_distance,
    clear_distance_reference,
    interp_time,
    interp_time_reference,
)


def sorted_times(n):
    # acquisition times in days, on a one-minute raster as real time stamps are
    minutes = hnp.arrays(np.int64, n, elements=st.integers(0, 400 * 1440), unique=True)
    return minutes.map(lambda m: np.sort(m) / 1440.0)


@st.composite
def series(draw):
    nt = draw(st.integers(1, 25))
    t = draw(sorted_times(nt))
    npix = draw(st.integers(1, 4))
    v = draw(
        hnp.arrays(
            np.float32,
            (npix, nt),
            elements=st.one_of(st.just(np.nan), st.floats(-30, 5, width=32)),
        )
    )
    nm = draw(st.integers(1, 20))
    target = draw(sorted_times(nm))
    tol = draw(st.floats(0.5, 40))
    return v, t, target, tol


@given(series())
@settings(max_examples=200, deadline=None)
def test_interp_time_matches_reference(case):
    v, t, target, tol = case
    got = interp_time(v, t, target, tol)
    want = interp_time_reference(v, t, target, tol)
    np.testing.assert_allclose(got[0], want[0], rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(got[1], want[1])
    np.testing.assert_array_equal(got[2], want[2])
    assert got[0].dtype == np.float32


@given(series())
@settings(max_examples=200, deadline=None)
def test_clear_distance_matches_reference(case):
    v, t, target, _ = case
    clear = np.isfinite(v)
    got = clear_distance(clear, t, target)
    want = clear_distance_reference(clear, t, target)
    np.testing.assert_array_equal(got[0], want[0])
    np.testing.assert_array_equal(got[1], want[1])


def test_interp_time_curated():
    t = np.array([0.0, 10.0, 20.0, 50.0])
    v = np.array([[0.0, 10.0, np.nan, 40.0]], dtype=np.float32)
    out, days, flag = interp_time(v, t, np.array([5.0, 10.0, 15.0, 38.0, 70.0]), 12.0)
    # 15: 10 is 5 days before, next valid (50) is 35 after -> nearest; 38 -> nearest 50
    np.testing.assert_allclose(out[0], [5.0, 10.0, 10.0, 40.0, np.nan])
    assert flag[0].tolist() == [
        SAR_INTERPOLATED,
        SAR_INTERPOLATED,
        SAR_NEAREST,
        SAR_NEAREST,
        SAR_MISSING,
    ]
    np.testing.assert_allclose(days[0], [5, 0, 5, 12, 20])


def test_interp_time_edge_cases():
    # all-NaN pixel, length-1 series, shape kept for leading dims
    v = np.full((2, 3, 1), np.nan, dtype=np.float32)
    v[1, 2, 0] = -7.0
    out, days, flag = interp_time(v, np.array([3.0]), np.array([0.0, 3.0, 20.0]), 5.0)
    assert out.shape == (2, 3, 3)
    assert np.isnan(out[0]).all() and (flag[0] == SAR_MISSING).all()
    np.testing.assert_allclose(out[1, 2], [-7.0, -7.0, np.nan])
    assert np.isinf(days[0]).all()


def test_interp_time_does_not_modify_input():
    v = np.array([[1.0, np.nan, 3.0]], dtype=np.float32)
    before = v.copy()
    interp_time(v, np.array([0.0, 1.0, 2.0]), np.array([1.0]), 5.0)
    np.testing.assert_array_equal(v, before)


def test_interp_time_byte_swapped_input():
    v = np.array([[1.0, 2.0, 3.0]], dtype=">f4")
    out, _, _ = interp_time(v, np.array([0.0, 1.0, 2.0]), np.array([0.5]), 5.0)
    np.testing.assert_allclose(out, [[1.5]])


def test_clear_distance_curated():
    clear = np.array([[False, True, False, True], [False, False, False, False]])
    t = np.array([0.0, 4.0, 8.0, 12.0])
    since, until = clear_distance(clear, t, np.array([0.0, 4.0, 6.0, 13.0]))
    np.testing.assert_array_equal(since[0], [np.nan, 0, 2, 1])
    np.testing.assert_array_equal(until[0], [4, 0, 6, np.nan])
    assert np.isnan(since[1]).all() and np.isnan(until[1]).all()
    assert since.dtype == np.float32


@pytest.mark.parametrize("fn", [clear_distance, clear_distance_reference])
def test_clear_distance_duplicate_times(fn):
    # two acquisitions at the same time: either one being clear counts
    clear = np.array([[True, False, False]])
    since, until = fn(clear, np.array([0.0, 0.0, 5.0]), np.array([0.0, 5.0]))
    np.testing.assert_array_equal(since[0], [0, 5])
    np.testing.assert_array_equal(until[0], [0, np.nan])
