"""method="stori": the kernel's candidates ranked by a network fitted on the target.

Small and fast: 16-24 px synthetic scenes and one or two epochs, except where a test
says why it needs more.
"""

import re
import subprocess
import sys

import numpy as np
import pytest
import torch  # a dependency: a test that cannot import it fails, never skips
import xarray as xr
from builders import compute_on_process_cluster, one_worker_client

import stori_xr  # noqa: F401
from stori_xr.datasets import make_scene
from stori_xr.evaluate import hide_mask
from stori_xr.kernels.flags import FLAG_VALUES, NODATA, OBSERVED, SCREENED
from stori_xr.ranker.candidates import CANDIDATES, candidate_stack, neighbour_share
from stori_xr.ranker.rank_train import ONE_SIGMA, TWO_SIGMA, clear_share, scale_for
from stori_xr.ranker.ranked import n_sigma_classes, sigma_class
from stori_xr.ranker.weights import FittedModel

FAST = {"epochs": 1, "maskings": 1}


@pytest.fixture(scope="module")
def scene():
    return make_scene(16, 20, periods=30, seed=2)


@pytest.fixture(scope="module")
def model(scene):
    return scene.optical.stori.fit(scene.sar, **FAST)


@pytest.fixture(scope="module")
def filled(scene, model):
    return scene.optical.stori.interpolate(scene.sar, method="stori", model=model, fit=False)


def test_network_shapes_and_weights():
    from stori_xr.ranker.ranknet import RankNet, combine

    net = RankNet(n_inputs=10, n_sar=3, n_bands=2, n_candidates=3)
    scores, direct, log_var = net(
        torch.zeros(4, 7, 10), torch.zeros(4, 7, 3), torch.zeros(4, 7, 2)
    )
    assert scores.shape == (4, 7, 2, 4) and direct.shape == log_var.shape == (4, 7, 2)
    cands = torch.rand(4, 7, 2, 3)
    cands[0, 0, 0, 1] = float("nan")  # a candidate without a value weighs nothing
    value, var, w = combine(torch.randn(4, 7, 2, 4), direct, log_var, cands)
    torch.testing.assert_close(w.sum(-1), torch.ones(4, 7, 2))
    assert float(w[0, 0, 0, 1]) == 0.0 and torch.isfinite(value).all()
    assert (var > 0).all()
    n = sum(p.numel() for p in RankNet(73, 3, 6, len(CANDIDATES)).parameters())
    assert n < 60_000  # small: CPU speed falls fast with size


def test_neighbour_share_against_a_loop():
    rng = np.random.default_rng(0)
    usable = rng.random((7, 9, 3)) < 0.4
    got = neighbour_share(usable, radius=2)
    for y in range(7):
        for x in range(9):
            win = usable[max(y - 2, 0) : y + 3, max(x - 2, 0) : x + 3]
            others = win.sum(axis=(0, 1)) - usable[y, x]
            np.testing.assert_allclose(got[y, x], others / (win.shape[0] * win.shape[1] - 1))


def test_sigma_class_by_gap_length_and_clear_neighbours():
    usable = np.array([[1, 0, 0, 1, 0]], bool)
    t = np.array([0.0, 10.0, 20.0, 30.0, 100.0])
    share = np.array([[0.0, 0.0, 0.3, 0.6, 1e-7]], np.float32)
    # gap class (0: ≤15 d, 1: 15-45 d, 3: extrapolated) · 3 + neighbour class
    # (0: none clear, 1: under half, 2: half or more)
    assert sigma_class(usable, t, share).tolist() == [[0, 3, 4, 2, 9]]
    assert n_sigma_classes() == 12


def test_fit_hides_short_gaps_on_a_cloudy_scene_too():
    # a scene with no mostly clear date (e.g. one an evaluation already hid values of)
    # still gets transplanted cloud shapes, hence gaps under 45 days, in the fit
    rng = np.random.default_rng(1)
    t = np.arange(60) * 5.0
    clear = rng.random((16, 16, 60)) < 0.55
    share = clear_share(clear, "partial")
    assert 0.45 < share < 0.8
    hidden = hide_mask(clear.transpose(2, 0, 1), t, seed=0, protocol="partial", clear_share=share)
    plain = hide_mask(clear.transpose(2, 0, 1), t, seed=0, protocol="partial")
    dates = (hidden.any(axis=(1, 2)).sum(), plain.any(axis=(1, 2)).sum())
    assert dates[0] > dates[1] + 5
    sunny = clear.copy()
    sunny[..., ::3] = True  # a third of the dates clear: the protocol's own rule
    assert clear_share(sunny, "partial") == 0.8


def _coverage(z, factor):
    return (np.abs(z) <= factor).mean(), (np.abs(z) <= 2 * factor).mean()


def test_sigma_factor_meets_both_coverages():
    rng = np.random.default_rng(0)
    normal = rng.normal(scale=3.0, size=200_000)
    assert scale_for(np.abs(normal)) == pytest.approx(3.0, rel=0.02)
    heavy = rng.laplace(size=200_000)  # ±1σ at its 68 % quantile leaves ±2σ at 90 %
    one, two = _coverage(heavy, np.quantile(np.abs(heavy), ONE_SIGMA))
    assert abs(two - TWO_SIGMA) > 0.045
    one, two = _coverage(heavy, scale_for(np.abs(heavy)))
    assert abs(one - ONE_SIGMA) < 0.04 and abs(two - TWO_SIGMA) < 0.04


def test_candidates_are_the_methods_outputs(scene):
    from stori_xr.fill import METHODS

    opt = scene.optical
    names = ["B05", "B06", "B07", "B8A", "B11", "B12"]
    values = np.stack([opt[b].values for b in names]).transpose(0, 2, 3, 1)
    usable = opt.clear.values.transpose(1, 2, 0) & np.isfinite(values).all(axis=0)
    from stori_xr.align import align

    sar = align(opt, scene.sar)
    feats = np.stack([sar[f].values for f in ("VV", "VH", "RVI")]).transpose(0, 2, 3, 1)
    t = opt.time.values.astype("datetime64[ns]").astype(np.int64) / 86400e9
    every = np.arange(t.size)
    cands = candidate_stack(values, usable, feats, t, (2, 10, 3, 12), {})
    assert cands.values.shape == (len(CANDIDATES), 6, 8 * 9, t.size)
    kern, _, flags = METHODS["kernel"].block(values, usable, feats, t, every, core=(2, 10, 3, 12))
    np.testing.assert_array_equal(
        cands.values[0], kern.transpose(0, 2, 3, 1).reshape(6, -1, t.size)
    )
    np.testing.assert_array_equal(cands.flags, flags.transpose(1, 2, 0).reshape(-1, t.size))
    smooth, _, _ = METHODS["whittaker"].block(
        values[:, 2:10, 3:12], usable[2:10, 3:12], None, t, every
    )
    np.testing.assert_allclose(
        cands.values[4], smooth.transpose(0, 2, 3, 1).reshape(6, -1, t.size), rtol=1e-6
    )


def test_contract(scene, filled):
    out, opt = filled, scene.optical
    clear = opt.clear.values
    src = out.stori_source.values
    for b in ("B05", "B8A"):
        kept = clear & (src != SCREENED)
        np.testing.assert_array_equal(out[b].values[kept], opt[b].values[kept])
        assert out[b].dtype == opt[b].dtype
        assert np.isfinite(out[b].values).all()
        sigma = out[f"{b}_sigma"].values
        assert np.isfinite(sigma).all() and (sigma[~clear] > 0).all()
    assert (src[clear & (src != SCREENED)] == OBSERVED).all()
    assert set(np.unique(src)) <= set(FLAG_VALUES.tolist()) - {NODATA}
    assert out.attrs["stori_method"] == "stori"
    assert '"weights": "sha256:' in out.attrs["stori_options"]


def test_saved_model_round_trip(scene, model, filled, tmp_path):
    path = model.save(tmp_path / "model.bin")
    loaded = FittedModel.load(path)
    assert loaded.kind == "stori" and loaded.digest == model.digest
    assert len(loaded.record["sigma_scale"]) == n_sigma_classes()
    again = scene.optical.stori.interpolate(scene.sar, method="stori", model=str(path), fit=False)
    xr.testing.assert_identical(again.drop_attrs(), filled.drop_attrs())


def test_fit_is_deterministic_and_seeded(scene, model):
    again = scene.optical.stori.fit(scene.sar, **FAST)
    assert again.digest == model.digest
    other = scene.optical.stori.fit(scene.sar, seed=1, **FAST)
    assert other.digest != model.digest


@pytest.mark.parametrize("chunks", [{"y": 16, "x": 20}, {"y": 7, "x": 9}])
def test_dask_equals_numpy_and_is_lazy(scene, model, filled, chunks, raise_if_dask_computes):
    opt = scene.optical.chunk(chunks)
    with raise_if_dask_computes(0):  # a given model and fit=False: nothing computed
        lazy = opt.stori.interpolate(scene.sar, method="stori", model=model, fit=False)
    first, second = lazy.compute(), lazy.compute()
    xr.testing.assert_identical(first, second)  # the same chunking: bit for bit
    xr.testing.assert_allclose(first, filled, atol=1e-5, rtol=0)
    with raise_if_dask_computes(1):  # the fit's sample is the one computation
        opt.stori.interpolate(scene.sar, method="stori", **FAST)


def test_stripes_and_batches_do_not_change_the_result(scene, model, filled, monkeypatch):
    from stori_xr.ranker import rank_method

    # stripes of 3 rows (60 px of a 20 px wide tile), network inputs 25 pixels at a time
    monkeypatch.setattr(rank_method, "STRIPE_PIXELS", 60)
    monkeypatch.setattr(rank_method, "BATCH", 25)
    small = scene.optical.stori.interpolate(scene.sar, method="stori", model=model, fit=False)
    xr.testing.assert_allclose(small, filled, atol=1e-5, rtol=0)


def test_the_chunk_check_counts_the_rankers_memory():
    import dask.array as dsa

    from stori_xr.exceptions import ChunkingError

    small = make_scene(8, 8, seed=0)
    n = 512

    def big(ds, value):
        return xr.Dataset(
            {
                v: (("time", "y", "x"), dsa.full((ds.sizes["time"], n, n), value, "float32"))
                for v in ds.data_vars
                if ds[v].ndim == 3 and v != "clear"
            },
            coords={"time": ds.time, "y": np.arange(n) * -20.0, "x": np.arange(n) * 20.0},
        )

    opt = big(small.optical, 0.2).chunk({"y": 128, "x": 128})
    sar = big(small.sar, -12.0)
    for v in sar.data_vars:
        sar[v].attrs = small.sar[v].attrs
    # a 128 px task of the kernel needs about 210 MiB, the ranker's about 310 MiB more:
    # one thread of 1 GiB (512 MiB a task) fits the first and not the second, and the
    # chunk size the error names fits (the ranker's stripe narrows with the tile)
    with one_worker_client("1GiB"):
        opt.stori.interpolate(sar, method="kernel")  # fits
        with pytest.raises(ChunkingError, match=r"use chunks of (\d+) px or fewer") as err:
            opt.stori.interpolate(sar, method="stori", fit=False)
        side = int(re.search(r"use chunks of (\d+) px", str(err.value)).group(1))
        assert side >= 32
        smaller = opt.chunk({"y": side, "x": side})
        smaller.stori.interpolate(sar, method="stori", fit=False)  # lazy: checked, not run


def test_fit_lowers_the_error_on_held_out_values():
    # a larger scene: the fit on the target must beat the untrained network it starts from
    scene = make_scene(32, 32, periods=40, seed=4)
    opt = scene.optical
    hidden = hide_mask(opt.clear.values, opt.time.values, seed=0, protocol="whole")
    masked = opt.assign(clear=opt.clear & ~xr.DataArray(hidden, dims=opt.clear.dims))
    bands = ["B05", "B06", "B07", "B8A", "B11", "B12"]

    def error(**options):
        out = masked.stori.interpolate(scene.sar, method="stori", **options)
        diff = [out[b].values[hidden] - opt[b].values[hidden] for b in bands]
        return float(np.sqrt(np.nanmean(np.square(diff))))

    from stori_xr.fill import pixel_sample
    from stori_xr.ranker.rank_method import fit_model

    sample = pixel_sample(masked, scene.sar)
    untrained = fit_model([sample], {"epochs": 0, "maskings": 1}, None)
    before = error(model=untrained, fit=False)
    after = error(model=untrained, epochs=10, maskings=4)
    assert after < 0.8 * before, (after, before)


def test_a_fit_on_the_target_calibrates_sigma_on_dates_it_never_learned(model):
    from stori_xr.ranker.rank_train import CALIBRATION_SHARE, Examples, _split_dates

    rng = np.random.default_rng(0)
    hidden = rng.random((50, 40)) < 0.2
    hidden[:, :3] = False  # dates with nothing hidden are never drawn
    ex = Examples(None, np.zeros((50, 40, 2), np.float32), hidden, np.zeros((50, 40), int))
    fit, cal = _split_dates(ex, np.random.default_rng(1))
    kept = cal.hidden.any(axis=0)
    assert kept.sum() == round(CALIBRATION_SHARE * 37)
    assert not fit.hidden[:, kept].any()  # the fit learns from no value of those dates
    assert np.array_equal(fit.hidden | cal.hidden, hidden) and not (fit.hidden & cal.hidden).any()
    assert fit.truth is ex.truth and cal.cls is ex.cls  # no copy of the examples
    assert hidden.sum() == ex.hidden.sum()  # the input is left as it was

    record = model.record
    assert record["fitted_on"] == "target" and record["hold_out"] == "dates"
    assert record["calibration_values"] > 0
    assert len(record["kernel_classes"]) == len(record["sigma_scale"])


def test_the_kernel_is_chosen_per_class_where_it_beats_the_network_on_held_out_values():
    from stori_xr.ranker.rank_runtime import use_chosen_kernel as use_kernel
    from stori_xr.ranker.rank_train import MIN_CLASS, kernel_classes

    rng = np.random.default_rng(0)
    n = 3 * MIN_CLASS
    cls = np.repeat([0, 1, 2], n // 3)
    net = rng.normal(0, 1.0, (n, 2))
    kernel = rng.normal(0, 1.0, (n, 2))
    kernel[cls == 0] *= 0.5  # the kernel is better in class 0 ...
    kernel[cls == 1] *= 2.0  # ... worse in class 1
    kernel[(cls == 2)] *= 0.5
    kernel[cls == 2, 1] = np.nan  # ... and has no value in class 2's second band
    route = kernel_classes(net, kernel, cls, np.array([1.0, 1.0]), 4)
    # class 2: the network's error counts where the kernel has none, and the kernel's
    # half-size errors on the first band win; class 3 has no values
    assert route == [True, False, True, False]
    # the errors are weighed in reflectance: the bands' scales count
    ones = np.ones((MIN_CLASS, 2))
    better_first = ones * [0.5, 1.2]  # better on the first band, worse on the second
    zero = np.zeros(MIN_CLASS, int)
    assert kernel_classes(ones, better_first, zero, np.array([1.0, 1.0]), 1) == [True]
    assert kernel_classes(ones, better_first, zero, np.array([1.0, 10.0]), 1) == [False]
    few = kernel_classes(net[:10], kernel[:10] * 0, cls[:10], np.ones(2), 4)
    assert few == [False] * 4  # too few values to choose on

    value = np.zeros((2, 3, 2), np.float32)
    kern = np.ones((2, 3, 2), np.float32)
    kern[1, 2, 0] = np.nan
    weights = np.full((2, 3, 4), 0.25, np.float32)
    classes = np.array([[0, 1, 0], [1, 0, 0]])
    use_kernel({"kernel_classes": [True, False]}, classes, kern, value, weights)
    chosen = np.array([[True, False, True], [False, True, False]])  # [1, 2]: no kernel value
    assert np.array_equal(value[..., 0] == 1, chosen)
    assert np.array_equal(value[..., 1] == 1, chosen)
    assert np.array_equal(weights[..., 0] == 1, chosen)
    assert np.array_equal(weights[..., 1] == 0, chosen)
    before = value.copy()
    use_kernel({"sigma_scale": [1.0]}, classes, kern, value, weights)  # a model without choice
    assert np.array_equal(value, before)


def test_options_are_checked(scene):
    from stori_xr.exceptions import OptionError

    for bad in ({"epochs": -1}, {"fit": "yes"}, {"device": "tpu"}, {"radius": -2}):
        with pytest.raises(OptionError, match=r"method='(stori|kernel)'"):
            scene.optical.stori.interpolate(scene.sar, method="stori", **bad)
    with pytest.raises(OptionError, match="no such file"):
        scene.optical.stori.interpolate(scene.sar, method="stori", model="nowhere.bin")


def test_import_does_not_import_torch():
    code = (
        "import sys, stori_xr, stori_xr.fill, stori_xr.ranker.rank_method, "
        "stori_xr.ranker.candidates, stori_xr.ranker.ranked; print('torch' in sys.modules)"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert res.stdout.strip() == "False"


def test_on_a_process_cluster_the_model_is_built_once_per_worker(scene, model, filled):
    lazy = scene.optical.chunk({"y": 16, "x": 10}).stori.interpolate(  # 2 tiles
        scene.sar, method="stori", model=model, fit=False
    )
    tiles = len(lazy.B05.chunks[1]) * len(lazy.B05.chunks[2])
    result, stats = compute_on_process_cluster(lazy)
    xr.testing.assert_allclose(result, filled, atol=1e-5, rtol=0)
    assert sum(s["calls"] for s in stats) == tiles == 2  # one call per tile
    assert all(s["builds"] == (1 if s["calls"] else 0) for s in stats), stats


@pytest.mark.parametrize(
    ("environ", "raised"),
    [
        ({"MALLOC_TRIM_THRESHOLD_": "65536"}, True),  # a dask.distributed worker
        ({}, False),  # a plain process: glibc's own, dynamic threshold kept
        ({"MALLOC_TRIM_THRESHOLD_": "65536", "MALLOC_MMAP_THRESHOLD_": "1048576"}, False),
    ],
)
def test_inference_keeps_large_arrays_in_the_heap_on_distributed_workers(environ, raised):
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    code = (
        "from stori_xr.ranker import runtime\n"
        "print(runtime.keep_large_arrays_in_the_heap(), runtime.keep_large_arrays_in_the_heap())"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env={**env, **environ}, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == [str(raised)] * 2
