"""Accuracy protocol: hiding, gap lengths, scores, splits, the evaluation and its benchmark."""

import ast
import importlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import stori_xr.evaluate
from stori_xr.datasets import make_scene
from stori_xr.evaluate import (
    GAP_CLASSES,
    PROTOCOLS,
    SPLITS,
    evaluate,
    format_against_best,
    format_split,
    format_table,
    gap_days,
    hide_mask,
    load_worldcereal_patch,
    neighbour_clear,
    score,
    summarise,
)
from stori_xr.exceptions import OptionError
from stori_xr.kernels.flags import FLAG_MEANINGS
from stori_xr.kernels.stori import DEFAULTS as KERNEL_DEFAULTS

REPO_ROOT = Path(__file__).resolve().parents[1]
BANDS = ["B05", "B06", "B07", "B8A", "B11", "B12"]
DAY = np.timedelta64(1, "D")


def regular_times(nt, step=5):
    return np.datetime64("2020-01-01T10:30") + np.arange(nt) * step * DAY


def patterned_clear(nt=60, ny=16, nx=16, seed=0):
    """Fully clear dates every 3rd date; the others carry distinct random cloud blobs."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:ny, :nx]
    clear = np.ones((nt, ny, nx), dtype=bool)
    for i in range(nt):
        if i % 3 == 0:
            continue
        cloudy = np.zeros((ny, nx), dtype=bool)
        while cloudy.mean() < 0.3:
            cy, cx, r = rng.uniform(0, ny), rng.uniform(0, nx), rng.uniform(2, 5)
            cloudy |= (yy - cy) ** 2 + (xx - cx) ** 2 <= r**2
        clear[i] = ~cloudy
    return clear


@pytest.fixture(scope="module")
def patch1(wc1):
    return load_worldcereal_patch(wc1)


@pytest.fixture(scope="module")
def small1(patch1):
    optical, sar = patch1
    window = {"y": slice(10, 22), "x": slice(10, 22)}
    return optical.isel(window), sar.isel(window)


# ----------------------------------------------------------------------------- hide_mask


def test_hide_mask_hides_only_clear_values_and_is_deterministic():
    rng = np.random.default_rng(1)
    clear = patterned_clear() & (rng.random((60, 16, 16)) > 0.05)
    times = regular_times(60)
    a = hide_mask(clear, times, seed=3)
    assert a.dtype == bool and a.shape == clear.shape
    assert a.any()
    assert not (a & ~clear).any()
    np.testing.assert_array_equal(a, hide_mask(clear, times, seed=3))
    assert not np.array_equal(a, hide_mask(clear, times, seed=4))
    # numeric days give the same mask as datetimes
    days = (times - times[0]) / DAY
    np.testing.assert_array_equal(a, hide_mask(clear, days.astype(float), seed=3))


def test_hide_mask_transplants_real_cloud_shapes():
    clear = patterned_clear()
    times = regular_times(60)
    hidden = hide_mask(clear, times, seed=0, n_windows=0)
    donors = [j for j in range(60) if 0.2 <= 1 - clear[j].mean() <= 0.8]
    for i in range(0, 60, 3):  # every mostly clear date gets one donor's cloud shape
        assert 0 < hidden[i].mean() < 1
        assert any(np.array_equal(hidden[i], ~clear[j]) for j in donors)
    assert not hidden[[i for i in range(60) if i % 3]].any()  # cloudy dates untouched
    # donors are drawn at random: several different shapes are used
    shapes = {hidden[i].tobytes() for i in range(0, 60, 3)}
    assert len(shapes) > 3


def test_hide_mask_transplants_on_real_patch(patch1):
    optical, _ = patch1
    clear = optical.clear.values
    hidden = hide_mask(clear, optical.time.values, seed=0)
    cloudy = 1 - clear.mean(axis=(1, 2))
    donors = np.flatnonzero((cloudy >= 0.2) & (cloudy <= 0.8))
    mostly = np.flatnonzero(cloudy <= 0.2)
    assert mostly.size > 10
    for i in mostly:
        shapes = [clear[i] & ~clear[j] for j in donors if j != i]
        assert any(s.any() and not (s & ~hidden[i]).any() for s in shapes)
        assert hidden[i].sum() < clear[i].sum()  # partial, not the whole date


def test_hide_mask_long_window_over_a_rectangle():
    clear = np.ones((100, 20, 20), dtype=bool)  # no partly cloudy date: windows only
    times = regular_times(100)
    for seed in range(5):
        hidden = hide_mask(clear, times, seed=seed, n_windows=1)
        footprint = hidden.any(axis=0)
        rows, cols = np.flatnonzero(footprint.any(1)), np.flatnonzero(footprint.any(0))
        box = np.zeros_like(footprint)
        box[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1] = True
        np.testing.assert_array_equal(footprint, box)
        assert 0.25 <= footprint.mean() <= 0.55
        dates = np.flatnonzero(hidden.any(axis=(1, 2)))
        np.testing.assert_array_equal(dates, np.arange(dates[0], dates[-1] + 1))
        span = (times[dates[-1]] - times[dates[0]]) / DAY
        assert 55 <= span <= 120  # 60-120 days, dates every 5 days
        assert hidden[dates][:, footprint].all()


def test_hide_mask_hides_twin_acquisitions_together():
    clear = patterned_clear(nt=30)
    times = regular_times(30)
    times[7] = times[6] + np.timedelta64(7, "s")  # two granules of one overpass
    clear[7] = clear[6] = True
    for seed in range(6):
        hidden = hide_mask(clear, times, seed=seed)
        np.testing.assert_array_equal(hidden[6], hidden[7])


# ----------------------------------------------------------------------------- protocols


def windows_only_clear(nt=100, n=20):
    """Every value clear: no date is cloudy, so only the long windows hide anything."""
    return np.ones((nt, n, n), dtype=bool), regular_times(nt)


def fully_hidden_dates(hidden, clear):
    """Dates with clear values, every one of them hidden."""
    per_date = clear.sum(axis=(1, 2))
    return (hidden.sum(axis=(1, 2)) == per_date) & (per_date > 0)


def test_protocols_are_named_and_partial_is_the_default():
    assert list(PROTOCOLS) == ["partial", "whole"]
    assert PROTOCOLS["partial"].donor_cloud == (0.2, 0.8)
    assert PROTOCOLS["whole"].donor_cloud[1] == 1.0 and PROTOCOLS["whole"].window_whole > 0
    clear = patterned_clear()
    times = regular_times(60)
    for seed in range(3):
        np.testing.assert_array_equal(
            hide_mask(clear, times, seed=seed),
            hide_mask(clear, times, seed=seed, protocol="partial"),
        )


@pytest.mark.parametrize("protocol", list(PROTOCOLS))
def test_protocols_are_reproducible_by_seed(patch1, protocol):
    optical, _ = patch1
    clear, times = optical.clear.values, optical.time.values
    a = hide_mask(clear, times, seed=5, protocol=protocol)
    np.testing.assert_array_equal(a, hide_mask(clear, times, seed=5, protocol=protocol))
    assert not np.array_equal(a, hide_mask(clear, times, seed=6, protocol=protocol))
    assert a.any() and not (a & ~clear).any()


def _check_whole_dates(clear, times):
    """The whole protocol hides mostly clear dates whole; the partial one never does."""
    mostly = clear.mean(axis=(1, 2)) >= 0.8
    assert mostly.sum() >= 10 and (~clear.any(axis=(1, 2))).any()  # fully cloudy donors exist
    for seed in range(3):
        whole = hide_mask(clear, times, seed=seed, protocol="whole", n_windows=0)
        assert not (whole & ~clear).any()
        gone = fully_hidden_dates(whole, clear) & mostly
        assert gone.sum() >= 2  # every clear value of these dates hidden
        # the patterns come from real dates, fully cloudy ones included
        for i in np.flatnonzero(whole.any(axis=(1, 2))):
            assert mostly[i]
            assert any(np.array_equal(whole[i], clear[i] & ~clear[j]) for j in range(len(clear)))
        # half of the mostly clear dates receive a pattern
        assert 0 < whole.any(axis=(1, 2)).sum() <= round(0.5 * mostly.sum())
        partial = hide_mask(clear, times, seed=seed, protocol="partial", n_windows=0)
        assert not (fully_hidden_dates(partial, clear) & mostly).any()


def _check_whole_windows(clear, times):
    """Whole-protocol windows cover the whole scene for some seeds, a part for others."""
    covered = []
    for seed in range(10):
        hidden = hide_mask(clear, times, seed=seed, protocol="whole", transplant_share=0.0)
        dates = hidden.any(axis=(1, 2))
        np.testing.assert_array_equal(hidden[dates], clear[dates] & hidden.any(axis=0))
        covered.append(bool(hidden.any(axis=0).all()))
        if covered[-1]:  # every clear value of the window's dates is hidden
            np.testing.assert_array_equal(hidden[dates], clear[dates])
        partial = hide_mask(clear, times, seed=seed, transplant_share=0.0)
        assert not partial.any(axis=0).all()
    assert 0 < sum(covered) < len(covered)


def test_whole_protocol_on_a_synthetic_scene():
    scene = make_scene(24, 24, periods=60, seed=1)
    clear, times = scene.optical.clear.values, scene.optical.time.values
    _check_whole_dates(clear, times)
    _check_whole_windows(clear, times)


def test_whole_protocol_on_real_patch(patch1):
    optical, _ = patch1
    clear, times = optical.clear.values, optical.time.values
    _check_whole_dates(clear, times)
    _check_whole_windows(clear, times)


def test_whole_protocol_window_is_a_whole_scene_or_a_large_rectangle():
    clear, times = windows_only_clear()
    shapes = set()
    for seed in range(12):
        hidden = hide_mask(clear, times, seed=seed, protocol="whole")
        footprint = hidden.any(axis=0)
        rows, cols = np.flatnonzero(footprint.any(1)), np.flatnonzero(footprint.any(0))
        box = np.zeros_like(footprint)
        box[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1] = True
        np.testing.assert_array_equal(footprint, box)
        assert footprint.mean() >= 0.4  # 50-100 % of the scene, before rounding
        dates = np.flatnonzero(hidden.any(axis=(1, 2)))
        span = (times[dates[-1]] - times[dates[0]]) / DAY
        assert 55 <= span <= 120
        shapes.add("whole" if footprint.all() else "part")
    assert shapes == {"whole", "part"}


# ----------------------------------------------------------------------------- gap_days


def test_gap_days_hand_example():
    t = np.array([0.0, 10.0, 20.0, 40.0, 50.0, 100.0])
    usable = np.array(
        [
            [True, False, False, True, False, False],
            [False, False, True, False, False, False],
            [False, False, False, False, False, False],
            [False, False, False, False, False, True],
        ]
    ).T  # (time, pixel)
    expected = np.array(
        [
            [0, 10, 20, 0, 10, 60],
            [20, 10, 0, 20, 30, 80],
            [np.nan] * 6,
            [100, 90, 80, 60, 50, 0],
        ],
        dtype=float,
    ).T
    np.testing.assert_array_equal(gap_days(usable, t), expected)
    times = np.datetime64("2021-03-01T10:00") + (t * 86400).astype("timedelta64[s]")
    np.testing.assert_allclose(gap_days(usable, times), expected)
    cube = gap_days(usable.reshape(6, 2, 2), t)
    np.testing.assert_array_equal(cube.reshape(6, 4), expected)


# ----------------------------------------------------------------------------- score


def test_score_hand_example():
    truth = np.array([[0.1, 0.2, 0.3, 0.4, 0.5]])
    est = np.array([[0.3, 0.3, 0.3, 0.2, 0.6]])  # errors on hidden: +0.1, 0, -0.2, +0.1
    sigma = np.array([[0.1, 0.05, 0.1, 0.15, 0.2]])
    hidden = np.array([False, True, True, True, True])
    gap = np.array([0.0, 5.0, 10.0, 20.0, 60.0])
    table = score(truth, est, sigma, hidden, gap, ["B8A"], method="m")
    assert list(table.gap.unique()) == list(GAP_CLASSES)
    assert set(table.band) == {"B8A", "all bands"}
    assert (table.method == "m").all()
    row = table[(table.band == "B8A") & (table.gap == "all")].iloc[0]
    assert row.n == 4 and row.n_missing == 0
    assert row.rmse == pytest.approx(np.sqrt(0.015))
    assert row.mae == pytest.approx(0.1)
    assert row.bias == pytest.approx(0.0, abs=1e-12)
    assert row.r2 == pytest.approx(1 - 0.06 / 0.05)  # truth 0.2..0.5: SST 0.05, SSE 0.06
    assert row.within_1sigma == pytest.approx(0.5)  # |err|/sigma = 2, 0, 1.33, 0.5
    assert row.within_2sigma == pytest.approx(1.0)
    by_gap = table[table.band == "B8A"].set_index("gap")
    assert by_gap.loc["<=15d", "n"] == 2
    assert by_gap.loc["<=15d", "rmse"] == pytest.approx(np.sqrt(0.01 / 2))
    assert by_gap.loc["15-45d", "rmse"] == pytest.approx(0.2)
    assert by_gap.loc["15-45d", "bias"] == pytest.approx(-0.2)
    assert by_gap.loc[">45d", "rmse"] == pytest.approx(0.1)
    assert np.isnan(by_gap.loc[">45d", "r2"])  # one value: R² undefined
    pooled = table[(table.band == "all bands") & (table.gap == "all")].iloc[0]
    assert pooled.rmse == pytest.approx(row.rmse)
    assert np.isnan(pooled.sam)  # one band: no spectral angle


def test_score_pooled_sam_ndvi_and_missing_sigma():
    truth = np.array([[0.1, 0.2, 0.1], [0.5, 0.2, 0.3]])  # B04, B08
    est = np.array([[0.1, 0.2, np.nan], [0.3, 0.4, np.nan]])
    hidden = np.array([True, True, True])
    gap = np.array([3.0, 30.0, np.nan])
    table = score(truth, est, None, hidden, gap, ["B04", "B08"])
    assert table.within_1sigma.isna().all() and table.within_2sigma.isna().all()
    by = table.set_index(["band", "gap"])
    assert by.loc[("B04", "all"), "n"] == 2 and by.loc[("B04", "all"), "n_missing"] == 1
    assert by.loc[("all bands", "all"), "n"] == 4
    assert by.loc[("all bands", "all"), "rmse"] == pytest.approx(np.sqrt(0.08 / 4))
    # spectral angles: (0.1, 0.5) vs (0.1, 0.3), and (0.2, 0.2) vs (0.2, 0.4)
    angle = np.degrees(np.arctan(5) - np.arctan(3)) + np.degrees(np.arctan(2) - np.pi / 4)
    assert by.loc[("all bands", "all"), "sam"] == pytest.approx(angle / 2)
    ndvi_err = np.array([0.2 / 0.4 - 0.4 / 0.6, 0.2 / 0.6 - 0.0])
    assert by.loc[("NDVI", "all"), "rmse"] == pytest.approx(np.sqrt(np.mean(ndvi_err**2)))
    assert by.loc[("NDVI", "all"), "bias"] == pytest.approx(ndvi_err.mean())
    assert by.loc[("NDVI", "<=15d"), "n"] == 1
    assert by.loc[("B04", ">45d"), "n"] == 0 and np.isnan(by.loc[("B04", ">45d"), "rmse"])


# ----------------------------------------------------------------------------- splits


def slow_neighbour_clear(usable, radius):
    """Whether another pixel within ``radius`` (square window) is usable: plain loops."""
    nt, ny, nx = usable.shape
    out = np.zeros_like(usable)
    for t in range(nt):
        for y in range(ny):
            for x in range(nx):
                for dy in range(-radius, radius + 1):
                    for dx in range(-radius, radius + 1):
                        yy, xx = y + dy, x + dx
                        if (dy, dx) != (0, 0) and 0 <= yy < ny and 0 <= xx < nx:
                            out[t, y, x] |= usable[t, yy, xx]
    return out


def test_neighbour_clear_hand_example():
    usable = np.zeros((2, 5, 5), dtype=bool)
    usable[0, 0, 0] = True  # one clear pixel in a corner
    usable[1] = True
    usable[1, 2, 2] = False  # a hole in the middle of a clear date
    near = neighbour_clear(usable, radius=1)
    expected = np.zeros((5, 5), dtype=bool)
    expected[:2, :2] = True
    expected[0, 0] = False  # its own value does not count
    np.testing.assert_array_equal(near[0], expected)
    assert near[1].all()
    assert not neighbour_clear(usable[:1], radius=0).any()


@pytest.mark.parametrize("radius", [0, 1, 2, 3, 9])
def test_neighbour_clear_equals_plain_loops(radius):
    rng = np.random.default_rng(radius)
    usable = rng.random((4, 7, 9)) > 0.85
    usable[1] = False
    np.testing.assert_array_equal(
        neighbour_clear(usable, radius), slow_neighbour_clear(usable, radius)
    )
    if radius == KERNEL_DEFAULTS["radius"]:
        np.testing.assert_array_equal(neighbour_clear(usable), neighbour_clear(usable, radius))


def hand_made_scene():
    """30 dates of 6 x 6 px, B04 and B08 smooth in time and space; hand-made clouds:
    the left half cloudy on dates 1, 4, 7 ...; fully cloudy dates 2, 8, 14 ...;
    the others clear."""
    nt, ny, nx = 30, 6, 6
    times = regular_times(nt)
    t = np.arange(nt)[:, None, None]
    yy, xx = np.mgrid[:ny, :nx]
    red = 0.05 + 0.02 * np.cos(t / 4) + 0.002 * yy + 0.001 * xx
    nir = 0.3 + 0.1 * np.sin(t / 5) + 0.004 * xx - 0.002 * yy
    clear = np.ones((nt, ny, nx), dtype=bool)
    clear[1::3, :, :3] = False
    clear[2::6] = False
    dims = ("time", "y", "x")
    coords = {"time": times, "y": np.arange(ny) * -20.0, "x": np.arange(nx) * 20.0}
    return xr.Dataset(
        {"B04": (dims, red), "B08": (dims, nir), "clear": (dims, clear)}, coords=coords
    )


def test_neighbour_split_rows_match_plain_loops():
    scene = hand_made_scene()
    clear, times = scene.clear.values, scene.time.values
    table = evaluate(
        scene,
        methods=["linear"],
        seeds=[0, 1],
        protocol="whole",
        splits=["neighbour"],
        neighbour_radius=1,
    )
    # one band's rows count pixel-dates (the pooled rows count every band's values)
    pooled = table[table.band == "B04"].set_index(["seed", "split", "part", "gap"])
    for seed in (0, 1):
        hidden = hide_mask(clear, times, seed=seed, protocol="whole")
        near = slow_neighbour_clear(clear & ~hidden, 1)
        gap = gap_days(clear & ~hidden, times)
        assert (hidden & near).any() and (hidden & ~near).any()
        for part, mask in (("yes", near), ("no", ~near)):
            row = pooled.loc[(seed, "neighbour", part, "all")]
            assert row.n + row.n_missing == (hidden & mask).sum()
            assert row.share == pytest.approx((hidden & mask).sum() / hidden.sum())
            long = pooled.loc[(seed, "neighbour", part, ">45d")]
            assert long.n + long.n_missing == (hidden & mask & (gap > 45)).sum()
        # the parts' squared errors add up to the whole
        rows = [
            pooled.loc[(seed, s, p, "all")]
            for s, p in [("neighbour", "yes"), ("neighbour", "no"), ("all", "all")]
        ]
        yes, no, every = rows
        assert yes.n * yes.rmse**2 + no.n * no.rmse**2 == pytest.approx(every.n * every.rmse**2)


def test_source_split_rows_add_up_and_match_the_kernels_flags(small1):
    optical, sar = small1
    kw = {"seeds": [0, 1], "protocol": "whole", "splits": ["neighbour", "source"]}
    table = evaluate(optical, sar, methods=["linear", "whittaker"], **kw)
    assert "kernel" not in set(table.method)  # run for its flags, not scored
    assert set(table.split) == {"all", "neighbour", "source"}
    parts = set(table[table.split == "source"].part)
    assert parts <= set(FLAG_MEANINGS.split()) - {"observed", "screened"}
    assert {"sar", "temporal"} <= parts
    keys = ["method", "seed", "band", "gap"]
    every = table[table.split == "all"].set_index(keys)[["n", "n_missing"]]
    for split in ("neighbour", "source"):
        rows = table[table.split == split]
        sums = rows.groupby(keys)[["n", "n_missing"]].sum()
        pd.testing.assert_frame_equal(sums, every.loc[sums.index], check_dtype=False)
        shares = rows[(rows.band == "all bands") & (rows.gap == "all")]
        assert shares.groupby(["method", "seed"]).share.sum().to_numpy() == pytest.approx(1.0)
    # the same parts whether the kernel is compared or only gives its flags
    scored = evaluate(optical, sar, methods=["kernel", "linear"], **kw)
    assert {"kernel", "linear"} == set(scored.method)
    cols = ["seed", "split", "part", "band", "gap", "n", "rmse"]
    pd.testing.assert_frame_equal(
        table[table.method == "linear"][cols].reset_index(drop=True),
        scored[scored.method == "linear"][cols].reset_index(drop=True),
    )
    # the kernel's "spatial" part is where a neighbour is clear
    kernel = scored[(scored.method == "kernel") & (scored.band == "all bands")]
    kernel = kernel[kernel.gap == "all"].set_index(["seed", "split", "part"])
    for seed in (0, 1):
        if (seed, "source", "spatial") in kernel.index:
            spatial = kernel.loc[(seed, "source", "spatial")]
            near = kernel.loc[(seed, "neighbour", "yes")]
            assert spatial.n + spatial.n_missing <= near.n + near.n_missing

    summary = summarise(table)
    shares = summary[(summary.band == "all bands") & (summary.gap == "all")]
    for split in ("neighbour", "source"):
        got = shares[(shares.split == split) & (shares.method == "linear")].share.sum()
        assert got == pytest.approx(1.0)
    text = format_split(summary, "source")
    assert text.splitlines()[0] == SPLITS["source"]
    assert "temporal" in text and "whittaker" in text and "x best other" in text
    text = format_split(table, "neighbour", title="by neighbour")
    lines = text.splitlines()
    assert lines[0] == "by neighbour" and lines[1].split()[:3] == ["part", "share", "method"]
    assert lines[3].split()[:3][0] == "yes" and "no" in text
    # format_table shows the rows of every hidden value only
    assert format_table(summary) == format_table(summary[summary.split == "all"])


def _long_table(rows):
    """A long table of evaluate's columns from (method, seed, split, part, gap, n, rmse)."""
    columns = ["method", "seed", "split", "part", "gap", "n", "rmse"]
    table = pd.DataFrame(rows, columns=columns)
    table.insert(4, "band", "all bands")
    return table


def test_format_against_best_pools_the_seeds_by_hand():
    rows = [
        # every hidden value: stori sqrt((100*.02^2 + 300*.04^2)/400) = sqrt(.0013)
        ("stori", 0, "all", "all", "all", 100, 0.02),
        ("stori", 1, "all", "all", "all", 300, 0.04),
        ("linear", 0, "all", "all", "all", 100, 0.05),
        ("linear", 1, "all", "all", "all", 300, 0.05),
        ("kernel", 0, "all", "all", "all", 100, 0.03),  # sqrt((.0009 + 3*.0016)/4)
        ("kernel", 1, "all", "all", "all", 300, 0.04),
        # a band's row and a row of no value are left out
        ("linear", 0, "all", "all", "<=15d", 0, np.nan),
        ("stori", 0, "all", "all", "<=15d", 50, 0.01),
        ("kernel", 0, "all", "all", "<=15d", 50, 0.02),
        ("stori", 0, "neighbour", "no", "all", 10, 0.06),
        ("linear", 0, "neighbour", "no", "all", 10, 0.03),
        ("kernel", 0, "neighbour", "no", "all", 10, 0.04),
    ]
    table = _long_table(rows)
    band = table.iloc[:1].assign(band="B05", rmse=1e-6)
    text = format_against_best(pd.concat([table, band], ignore_index=True))
    lines = text.splitlines()
    assert lines[0] == "stori against the best other method (RMSE ratio, pooled over seeds):"
    stori, kernel = np.sqrt(0.0013), np.sqrt((0.0009 + 3 * 0.0016) / 4)  # kernel 0.03775
    assert lines[1].split()[:5] == ["all", "values", "all", f"{stori / kernel:.3f}x", "(kernel)"]
    assert f"{stori / kernel:.3f}x" == "0.955x"
    assert "<=15d 0.500x (kernel)  15-45d -  >45d -" in lines[1]
    # the neighbour parts: "yes" has no row, "no" has one seed
    assert lines[2].split()[:4] == ["neighbour", "clear:", "yes", "all"]
    assert "all -" in lines[2]
    assert "all 2.000x (linear)" in lines[3]
    assert len(lines) == 4


def test_format_against_best_without_the_neighbour_split():
    rows = [
        ("stori", 0, "all", "all", "all", 100, 0.02),
        ("linear", 0, "all", "all", "all", 100, 0.04),
        ("stori", 0, "source", "spatial", "all", 100, 0.02),
        ("linear", 0, "source", "spatial", "all", 100, 0.04),
    ]
    text = format_against_best(_long_table(rows))
    assert text.splitlines()[1:] == [
        "  all values             all 0.500x (linear)  <=15d -  15-45d -  >45d -"
    ]
    # a table without split columns is every hidden value
    table = _long_table(rows[:2]).drop(columns=["split", "part"])
    assert format_against_best(table, method="linear").splitlines()[1].split()[3] == "2.000x"
    # alone, or absent, the method has nothing to compare
    assert "all -" in format_against_best(_long_table(rows[:1]))
    with pytest.raises(OptionError, match=r"method='stori' has no rows in the table"):
        format_against_best(_long_table(rows[1:2]))


def test_evaluate_whole_protocol_methods_see_only_the_masked_input(small1):
    from stori_xr.fill import interpolate

    optical, sar = small1
    table = evaluate(optical, sar, methods=["linear"], seeds=[2], protocol="whole")
    again = evaluate(optical, sar, methods=["linear"], seeds=[2], protocol="whole")
    cols = [c for c in table.columns if c != "seconds"]
    pd.testing.assert_frame_equal(table[cols], again[cols])
    # the same scores from a copy masked by hand: the method saw no hidden value
    bands = BANDS
    truth = np.stack([optical[b].values for b in bands]).astype(float)
    clear = optical.clear.values & np.isfinite(truth).all(axis=0)
    hidden = hide_mask(clear, optical.time.values, seed=2, protocol="whole")
    masked = optical[bands].where(~xr.DataArray(hidden, dims=("time", "y", "x")))
    masked["clear"] = (("time", "y", "x"), clear & ~hidden)
    out = interpolate(masked, method="linear", clear="clear")
    est = np.stack([out[b].values for b in bands])
    err = (est - truth)[:, hidden]
    err = err[:, np.isfinite(err).all(axis=0)]
    pooled = table[(table.band == "all bands") & (table.gap == "all")].iloc[0]
    assert pooled.n_hidden == hidden.sum()
    assert pooled.rmse == pytest.approx(np.sqrt(np.mean(err**2)))
    assert pooled.rmse > 0.005


# ----------------------------------------------------------------------------- evaluate


def test_evaluate_cropped_real_patch(small1):
    optical, sar = small1
    before = optical.copy(deep=True)
    table = evaluate(optical, sar, methods=["linear", "sar-regression"], seeds=[0, 1])
    xr.testing.assert_identical(optical, before)
    assert set(table.method) == {"linear", "sar-regression"}
    assert set(table.seed) == {0, 1}
    for (_method, _seed), rows in table.groupby(["method", "seed"]):
        assert set(rows.gap) == set(GAP_CLASSES)
        assert set(rows.band) == {*BANDS, "all bands"}
        assert len(rows) == len(GAP_CLASSES) * (len(BANDS) + 1)
    alls = table[(table.gap == "all") & (table.band == "all bands")]
    assert (alls.n > 0).all()
    # both methods see the same hidden values
    assert alls.groupby("seed").n_hidden.nunique().eq(1).all()
    assert alls.groupby("seed").n.nunique().eq(1).all()
    assert alls.rmse.between(0.005, 0.3).all()
    summary = summarise(table)
    assert len(summary) == len(table) // 2 and (summary.seeds == 2).all()
    text = format_table(summary, title="patch 1")
    assert "linear" in text and "sar-regression" in text and "RMSE all" in text
    assert ">45d" in text


def test_evaluate_dask_equals_numpy(small1):
    optical, sar = small1
    eager = evaluate(optical, sar, methods=["linear"], seeds=[2])
    lazy = evaluate(
        optical.chunk({"time": -1, "y": 6, "x": 6}), sar, methods=["linear"], seeds=[2]
    )
    cols = ["band", "gap", "n", "rmse", "mae", "bias", "r2"]
    pd.testing.assert_frame_equal(eager[cols], lazy[cols])


def test_evaluate_clear_mask_forms(small1):
    optical, sar = small1
    cols = ["band", "gap", "n", "rmse", "bias"]
    ref = evaluate(optical, sar, methods=["linear"], seeds=[1])[cols]
    # no clear variable: NaN marks the gaps
    nan_masked = optical[BANDS].where(optical.clear)
    pd.testing.assert_frame_equal(evaluate(nan_masked, methods=["linear"], seeds=[1])[cols], ref)
    # a clear variable of another name, in another dim order
    renamed = optical.rename(clear="usable").transpose("x", "y", "time")
    got = evaluate(renamed, methods=["linear"], seeds=[1], clear="usable")[cols]
    pd.testing.assert_frame_equal(got, ref)


def test_evaluate_linear_whole_patch_plausible(patch1):
    optical, sar = patch1
    table = evaluate(optical, sar, methods=["linear"], seeds=[0])
    pooled = table[(table.band == "all bands")].set_index("gap")
    # DESIGN.md reports 0.056 for linear on this patch with its own masks
    assert 0.03 <= pooled.loc["all", "rmse"] <= 0.09
    assert (pooled.n > 0).all()


# ----------------------------------------------------------------------------- benchmark


def test_accuracy_benchmark_quick(data_dir, tmp_path):
    env = {**os.environ, "STORI_DATA": str(data_dir)}
    csv = tmp_path / "acc.csv"
    proc = subprocess.run(
        [sys.executable, str(REPO_ROOT / "benchmarks" / "accuracy.py"), "--quick", "--csv", csv],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "RMSE all" in proc.stdout and "linear" in proc.stdout
    assert "command:" in proc.stdout
    for protocol in PROTOCOLS:
        assert f"== protocol {protocol}, patch 00002806639B424A" in proc.stdout
    for split in SPLITS.values():
        assert f"split by {split}" in proc.stdout
    table = pd.read_csv(csv)
    assert set(table.patch) == {"00002806639B424A", "000028085BF08E7E"}
    assert set(table.protocol) == set(PROTOCOLS)
    assert set(table.split) == {"all", *SPLITS}


def test_cli_evaluate_protocols(wc1, tmp_path, capsys):
    from stori_xr.cli import main

    csv = tmp_path / "scores.csv"
    argv = ["evaluate", str(wc1), "--seeds", "1", "--methods", "linear", "--csv", str(csv)]
    assert main([*argv, "--protocol", "partial", "whole"]) == 0
    printed = capsys.readouterr().out
    assert "00002806639B424A, protocol partial" in printed
    assert "00002806639B424A, protocol whole" in printed
    table = pd.read_csv(csv)
    assert set(table.protocol) == {"partial", "whole"}
    assert set(table.split) == {"all", *SPLITS}  # the split rows, by default
    with pytest.raises(SystemExit):
        main([*argv, "--protocol", "cloudy"])
    assert "--protocol: invalid choice: 'cloudy'" in capsys.readouterr().err


# ----------------------------------------------------------------------------- layout

#: The rooms of stori_xr.evaluate; each may import only the rooms before it.
ROOMS = ("masks", "metrics", "splits", "patches", "report", "plots", "run")


def _imports(path):
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def test_evaluate_is_a_package_of_rooms_importing_one_way():
    package = REPO_ROOT / "stori_xr" / "evaluate"
    assert not (REPO_ROOT / "stori_xr" / "evaluate.py").exists()
    assert {p.stem for p in package.glob("*.py")} == {"__init__", *ROOMS}
    for i, room in enumerate(ROOMS):
        names = _imports(package / f"{room}.py")
        ours = {n.removeprefix("stori_xr.evaluate.") for n in names if "stori_xr.evaluate" in n}
        assert ours <= set(ROOMS[:i]), (room, ours)
        assert not any(n.startswith(("stori_xr.cli", "stori_xr.accessor")) for n in names)
        importlib.import_module(f"stori_xr.evaluate.{room}")
    # the names other modules use, importable from the package, each from its room
    homes = {
        "hide_mask": "masks",
        "gap_days": "masks",
        "PROTOCOLS": "masks",
        "score": "metrics",
        "GAP_CLASSES": "metrics",
        "ALL_BANDS": "metrics",
        "neighbour_clear": "splits",
        "SPLITS": "splits",
        "load_worldcereal_patch": "patches",
        "summarise": "report",
        "format_table": "report",
        "format_split": "report",
        "format_against_best": "report",
        "plot_gap_error": "plots",
        "plot_predicted_observed": "plots",
        "plot_calibration": "plots",
        "write_plots": "plots",
        "write_summary": "plots",
        "evaluate": "run",
    }
    assert set(homes) <= set(stori_xr.evaluate.__all__)
    for name, room in homes.items():
        module = importlib.import_module(f"stori_xr.evaluate.{room}")
        assert getattr(stori_xr.evaluate, name) is getattr(module, name)
    assert callable(stori_xr.evaluate.evaluate)  # the function, not the room "run"
    # the users of the package import through it
    users = ("cli/evaluate.py", "cli/parser.py", "cli/pretrain.py", "accessor.py")
    for user in (*(f"stori_xr/{u}" for u in users), "benchmarks/accuracy.py"):
        names = _imports(REPO_ROOT / user)
        assert "stori_xr.evaluate" in names
        assert not any(n.startswith("stori_xr.evaluate.") for n in names)
