"""method="stori-rnn": the published STORI network as a comparator (stori_xr/ranker).

Small and fast: a 16-20 px synthetic scene, a small network (hidden 16) and a few epochs,
except where a test says why it needs more.
"""

import json
import subprocess
import sys

import numpy as np
import pytest
import torch  # a dependency: a test that cannot import it fails, never skips
import xarray as xr
from builders import compute_on_process_cluster

import stori_xr  # noqa: F401
from stori_xr.datasets import make_scene
from stori_xr.evaluate import evaluate, hide_mask
from stori_xr.kernels.flags import EXTRAPOLATED, MODEL, NODATA, OBSERVED
from stori_xr.ranker.inputs import days_since_clear, sar_inputs, savgol_matrix
from stori_xr.ranker.weights import FittedModel

FAST = {"hidden": 16, "epochs": 2, "sample": 128}


@pytest.fixture(scope="module")
def scene():
    return make_scene(16, 20, periods=30, seed=2)


@pytest.fixture(scope="module")
def filled(scene, tmp_path_factory):
    """The numpy result and the model it fitted (saved)."""
    path = tmp_path_factory.mktemp("rnn") / "model.bin"
    out = scene.optical.stori.interpolate(
        scene.sar, method="stori-rnn", save_model=str(path), **FAST
    )
    return out, path


def test_network_shapes_and_size():
    from stori_xr.ranker.rnn import StoriRNN

    net = StoriRNN(n_bands=6, n_sar=2, hidden=96)
    assert sum(p.numel() for p in net.parameters()) == 158_988  # the original: about 155 k
    assert tuple(net.fwd.sar_cell.weight_hh.shape) == (4 * 96, 96)
    assert tuple(net.fwd.opt_cell.weight_ih.shape) == (4 * 96, 7)  # 6 values and the mask
    assert tuple(net.bwd.decay.weight.shape) == (96, 1)
    assert tuple(net.bwd.head.weight.shape) == (6, 96)
    x, m = torch.zeros(5, 11, 6), torch.ones(5, 11, 1)
    s, d = torch.zeros(5, 11, 2), torch.zeros(5, 11, 1)
    fwd, bwd = net(x, m, s, d, d)
    assert fwd.shape == bwd.shape == (5, 11, 6)


def test_prediction_sees_sar_up_to_the_previous_date_only():
    from stori_xr.ranker.rnn import Direction

    torch.manual_seed(0)
    net = Direction(1, 2, 8)
    x, m = torch.rand(1, 6, 1), torch.ones(1, 6, 1)
    s, d = torch.rand(1, 6, 2), torch.zeros(1, 6, 1)
    base = net(x, m, s, d)
    s2 = s.clone()
    s2[0, 3] += 1.0  # SAR of date 3 changes the predictions of dates 4 and 5 only
    moved = (net(x, m, s2, d) - base).abs().squeeze()
    assert (moved[:4] == 0).all() and (moved[4:] > 0).all()


def test_inputs_on_irregular_dates():
    t = np.array([0.0, 3.0, 10.0, 11.0, 30.0])
    usable = np.array([[True, False, False, True, True]])
    assert days_since_clear(usable, t).tolist() == [[0.0, 3.0, 10.0, 11.0, 19.0]]
    assert days_since_clear(usable, t, backward=True).tolist() == [[11.0, 8.0, 1.0, 19.0, 0.0]]
    s = savgol_matrix(t, half_width=20.0)
    np.testing.assert_allclose(s @ (2.0 + 0.1 * t), 2.0 + 0.1 * t, atol=1e-12)
    feats = sar_inputs(np.array([[[-18.0, np.nan, -14.0, -12.0, -10.0]]]), t, np.eye(5))
    np.testing.assert_allclose(feats.ravel(), [0.0, 0.15, 0.5, 0.75, 1.0], atol=1e-6)


def test_contract(scene, filled):
    out, _ = filled
    opt = scene.optical
    clear = opt.clear.values
    for b in ("B05", "B8A"):
        np.testing.assert_array_equal(out[b].values[clear], opt[b].values[clear])
        assert out[b].dtype == opt[b].dtype
        assert np.isfinite(out[b].values).all()  # every pixel has clear values
        assert np.isnan(out[f"{b}_sigma"].values).all()  # no uncertainty model
    src = out.stori_source.values
    assert (src[clear] == OBSERVED).all()
    assert set(np.unique(src[~clear])) <= {MODEL, EXTRAPOLATED}
    assert (src == MODEL).any()
    assert out.attrs["stori_method"] == "stori-rnn"
    assert '"weights": "sha256:' in out.attrs["stori_options"]


def test_saved_model_round_trip(scene, filled):
    out, path = filled
    model = FittedModel.load(path)
    assert model.kind == "stori-rnn" and model.config["hidden"] == 16
    assert model.config["bands"] == ["B05", "B06", "B07", "B8A", "B11", "B12"]
    assert FittedModel.from_bytes(model.to_bytes()).digest == model.digest
    for given in (str(path), path.read_bytes()):  # the fit is skipped: the same values
        again = scene.optical.stori.interpolate(scene.sar, method="stori-rnn", model=given)
        xr.testing.assert_identical(again.drop_attrs(), out.drop_attrs())


def test_deterministic_and_seeded(scene, filled):
    out, _ = filled
    again = scene.optical.stori.interpolate(scene.sar, method="stori-rnn", **FAST)
    xr.testing.assert_identical(again.drop_attrs(), out.drop_attrs())
    digest = [json.loads(o.attrs["stori_options"])["weights"] for o in (again, out)]
    assert digest[0] == digest[1]  # the same weights, bit for bit
    other = scene.optical.stori.interpolate(scene.sar, method="stori-rnn", seed=1, **FAST)
    assert not np.array_equal(other.B05.values, out.B05.values)


@pytest.mark.parametrize("chunks", [{"y": 16, "x": 20}, {"y": 7, "x": 9}, {"y": 16, "x": 5}])
def test_dask_equals_numpy_and_is_lazy_after_the_fit(
    scene, filled, chunks, raise_if_dask_computes
):
    out, path = filled
    opt, sar = scene.optical.chunk(chunks), scene.sar
    with raise_if_dask_computes(1):  # the fit's sample is the one computation
        lazy = opt.stori.interpolate(sar, method="stori-rnn", **FAST)
    assert lazy.B05.chunks is not None
    first, second = lazy.compute(), lazy.compute()
    xr.testing.assert_identical(first, second)  # same chunking: bit for bit
    xr.testing.assert_allclose(first, out, atol=1e-5, rtol=0)
    xr.testing.assert_equal(first.stori_source, out.stori_source)
    with raise_if_dask_computes(0):  # a saved model: no computation at all
        opt.stori.interpolate(sar, method="stori-rnn", model=str(path))


def test_fit_lowers_the_error_on_held_out_clear_values():
    # larger than the other tests: the untrained network must be beaten by a margin
    scene = make_scene(24, 24, periods=40, seed=4)
    opt = scene.optical
    hidden = hide_mask(opt.clear.values, opt.time.values, seed=0)
    masked = opt.assign(clear=opt.clear & ~xr.DataArray(hidden, dims=opt.clear.dims))
    bands = ["B05", "B8A", "B11"]

    def error(epochs):
        out = masked.stori.interpolate(
            scene.sar, method="stori-rnn", hidden=32, epochs=epochs, sample=512, bands=bands
        )
        diff = [out[b].values[hidden] - opt[b].values[hidden] for b in bands]
        return float(np.sqrt(np.nanmean(np.square(diff))))

    untrained, trained = error(0), error(40)
    assert trained < 0.7 * untrained, (trained, untrained)


def test_evaluate_scores_it(scene):
    table = evaluate(
        scene.optical,
        scene.sar,
        methods=["stori-rnn", "linear"],
        seeds=[0],
        method_options={"stori-rnn": FAST},
    )
    rows = table[(table.method == "stori-rnn") & (table.gap == "all")]
    assert len(rows) and np.isfinite(rows.rmse).all()


def test_pixels_without_clear_values_are_no_data(scene):
    opt = scene.optical.copy(deep=True)
    opt["clear"][:, 0, :3] = False
    out = opt.stori.interpolate(scene.sar, method="stori-rnn", **FAST)
    assert (out.stori_source.values[:, 0, :3] == NODATA).all()
    assert np.isnan(out.B05.values[:, 0, :3]).all()


def test_runs_on_the_cpu_when_asked(scene, filled):
    out, path = filled
    cpu = scene.optical.stori.interpolate(
        scene.sar, method="stori-rnn", model=str(path), device="cpu"
    )
    xr.testing.assert_identical(cpu.drop_attrs(), out.drop_attrs())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_close_to_cpu(scene, filled):
    out, path = filled
    gpu = scene.optical.stori.interpolate(
        scene.sar, method="stori-rnn", model=str(path), device="cuda"
    )
    xr.testing.assert_allclose(gpu, out, atol=1e-4, rtol=0)


def test_import_does_not_import_torch():
    code = (
        "import sys, stori_xr, stori_xr.fill, stori_xr.ranker.method, stori_xr.ranker.weights; "
        "from stori_xr.datasets import make_scene; s = make_scene(8, 8, periods=8); "
        "s.optical.stori.interpolate(s.sar, method='linear'); print('torch' in sys.modules)"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert res.stdout.strip() == "False"


def test_on_a_process_cluster_the_model_is_built_once_per_worker(scene, filled):
    out, path = filled
    lazy = scene.optical.chunk({"y": 4, "x": 5}).stori.interpolate(  # 16 tiles
        scene.sar, method="stori-rnn", model=str(path)
    )
    result, stats = compute_on_process_cluster(lazy)
    xr.testing.assert_allclose(result, out, atol=1e-5, rtol=0)
    assert sum(s["calls"] for s in stats) == 16  # one call per tile
    assert all(s["builds"] == (1 if s["calls"] else 0) for s in stats), stats
