"""Comparator kernels (linear, SAR regression) against their numpy references."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from stori_xr.kernels.baselines import (
    linear,
    linear_reference,
    sar_regression,
    sar_regression_reference,
)
from stori_xr.kernels.flags import EXTRAPOLATED, NODATA, OBSERVED, SAR, TEMPORAL


@st.composite
def cubes(draw):
    nb, npix, nt = draw(st.integers(1, 3)), draw(st.integers(1, 5)), draw(st.integers(1, 30))
    minutes = draw(hnp.arrays(np.int64, nt, elements=st.integers(0, 400 * 1440), unique=True))
    t = np.sort(minutes) / 1440.0
    values = draw(hnp.arrays(np.float32, (nb, npix, nt), elements=st.floats(0, 1, width=32)))
    clear = draw(hnp.arrays(np.bool_, (npix, nt)))
    sar = draw(
        hnp.arrays(
            np.float32,
            (3, npix, nt),
            elements=st.one_of(st.just(np.nan), st.floats(-25, 0, width=32)),
        )
    )
    out_idx = np.unique(
        draw(hnp.arrays(np.int64, draw(st.integers(1, nt)), elements=st.integers(0, nt - 1)))
    )
    return values, clear, sar, t, out_idx


@given(cubes())
@settings(max_examples=150, deadline=None)
def test_linear_matches_reference(cube):
    values, clear, _, t, out_idx = cube
    got, gsrc = linear(values, clear, t, out_idx)
    want, wsrc = linear_reference(values, clear, t, out_idx)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(gsrc, wsrc)
    assert got.dtype == np.float32


@given(cubes())
@settings(max_examples=150, deadline=None)
def test_sar_regression_matches_reference(cube):
    values, clear, sar, t, out_idx = cube
    got, gsrc = sar_regression(values, clear, sar, t, out_idx)
    want, wsrc = sar_regression_reference(values, clear, sar, t, out_idx)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(gsrc, wsrc)


def test_linear_flags_and_passthrough():
    values = np.array([[[np.nan, 0.2, 0.9, 0.4, np.nan]]], dtype=np.float32)
    clear = np.array([[False, True, False, True, False]])
    out, src = linear(values, clear, np.arange(5.0), np.arange(5))
    np.testing.assert_allclose(out[0, 0], [0.2, 0.2, 0.3, 0.4, 0.4])
    assert src[0].tolist() == [EXTRAPOLATED, OBSERVED, TEMPORAL, OBSERVED, EXTRAPOLATED]
    # the clear 0.9 is not clear: it is replaced; nothing clear -> no data
    none, nsrc = linear(values, clear & False, np.arange(5.0), np.arange(5))
    assert np.isnan(none).all() and (nsrc == NODATA).all()


def test_sar_regression_recovers_a_linear_relation():
    rng = np.random.default_rng(0)
    nt = 40
    sar = rng.normal(-12, 2, (3, 1, nt))
    values = (0.3 + 0.02 * sar[0] - 0.01 * sar[1])[None].astype(np.float64)
    clear = rng.random((1, nt)) < 0.6
    out, src = sar_regression(values, clear, sar, np.arange(nt, dtype=float), np.arange(nt))
    gaps = ~clear[0]
    np.testing.assert_allclose(out[0, 0, gaps], values[0, 0, gaps], atol=2e-3)
    assert (src[0, gaps] == SAR).all()
    assert not np.shares_memory(out, values)
