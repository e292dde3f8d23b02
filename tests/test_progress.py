"""Progress on stderr (stori_xr.set_options(progress=...)): eager, lazy, fit, workers."""

import io
import sys

import dask
import pytest

import stori_xr
from stori_xr import progress
from stori_xr.datasets import make_scene
from stori_xr.exceptions import OptionError

ON = {"progress": True, "progress_after": 0}
OFF = {"progress": False, "progress_after": 0}


@pytest.fixture(scope="module")
def scene():
    return make_scene(16, 16, periods=12, seed=1)


@pytest.fixture(scope="module")
def lazy_scene():
    return make_scene(16, 16, periods=12, seed=1, chunks={"y": 8, "x": 8})


@pytest.mark.parametrize("options", [ON, OFF])
def test_eager_path_shows_a_bar_over_the_tiles(scene, capsys, options):
    with stori_xr.set_options(**options):
        scene.optical.stori.interpolate(scene.sar, method="linear")
    err = capsys.readouterr().err
    if options["progress"]:
        assert "stori linear: [" in err and "1/1 tiles" in err and "100%" in err
    else:
        assert "tiles" not in err and "Completed" not in err


@pytest.mark.parametrize("options", [ON, OFF])
def test_lazy_path_shows_dask_bar_when_computed(lazy_scene, capsys, options):
    with stori_xr.set_options(**options):
        out = lazy_scene.optical.stori.interpolate(lazy_scene.sar, method="linear")
        assert "Completed" not in capsys.readouterr().err  # building the graph: no bar
        out.compute()
    err = capsys.readouterr().err
    if options["progress"]:
        assert "| 100% Completed |" in err
        assert "tiles" not in err  # dask's bar only, not the eager one besides
    else:
        assert "Completed" not in err


@pytest.mark.parametrize("options", [ON, OFF])
def test_to_zarr_shows_dask_bar(lazy_scene, tmp_path, capsys, options):
    out = lazy_scene.optical.stori.interpolate(lazy_scene.sar, method="linear")
    with stori_xr.set_options(**options):
        out.stori.to_zarr(tmp_path / "out.zarr")
    err = capsys.readouterr().err
    assert ("100% Completed" in err) == options["progress"]


@pytest.mark.parametrize("options", [ON, OFF])
def test_fit_shows_a_bar_over_the_epochs(scene, capsys, options):
    with stori_xr.set_options(**options):
        scene.optical.stori.fit(scene.sar, epochs=2)
    err = capsys.readouterr().err
    if options["progress"]:
        assert "stori fit: [" in err and "2/2 epochs" in err
    else:
        assert "epochs" not in err


def test_a_quick_computation_stays_silent(scene, capsys):
    with stori_xr.set_options(progress=True, progress_after=60):
        scene.optical.stori.interpolate(scene.sar, method="linear")
    assert "tiles" not in capsys.readouterr().err


def test_nothing_inside_a_dask_task(scene, capsys):
    def inside():
        assert progress.in_worker()
        assert not progress.enabled()
        scene.optical.stori.interpolate(scene.sar, method="linear")
        return True

    with stori_xr.set_options(**ON):
        assert not progress.in_worker()
        assert dask.delayed(inside)().compute(scheduler="threads")
    assert "tiles" not in capsys.readouterr().err


def test_nothing_inside_a_distributed_worker_and_its_bar_on_the_client(scene, capsys):
    import distributed  # a dependency (dask[distributed]): fails, never skips

    def inside():
        scene.optical.stori.interpolate(scene.sar, method="linear")
        return progress.in_worker()

    cluster = distributed.LocalCluster(
        n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None
    )
    with cluster, distributed.Client(cluster) as client, stori_xr.set_options(**ON):
        assert client.submit(inside, pure=False).result()
        assert "tiles" not in capsys.readouterr().err
        progress.compute(dask.delayed(sum)([1, 2]))  # the client's: distributed's bar
    out = capsys.readouterr()
    assert "100% Completed" in out.err and "Completed" not in out.out


def test_first_call_says_once_that_numba_compiles(scene, capsys, monkeypatch):
    monkeypatch.setattr(progress, "_said", set())
    with stori_xr.set_options(**ON):
        scene.optical.stori.interpolate(scene.sar, method="linear")
        scene.optical.stori.interpolate(scene.sar, method="linear")
    err = capsys.readouterr().err
    assert err.count("stori_xr: the first call of this session loads the numba kernels") == 1


def test_first_call_is_only_logged_when_progress_is_off(scene, capsys, caplog, monkeypatch):
    monkeypatch.setattr(progress, "_said", set())
    with stori_xr.set_options(**OFF), caplog.at_level("INFO", logger="stori_xr"):
        scene.optical.stori.interpolate(scene.sar, method="linear")
    assert "numba" not in capsys.readouterr().err
    assert "numba" in caplog.text


def test_auto_is_on_in_an_interactive_session_only(monkeypatch):
    with stori_xr.set_options(progress="auto"):
        monkeypatch.delattr(sys, "ps1", raising=False)
        assert not progress.enabled()  # pytest: not interactive
        monkeypatch.setattr(sys, "ps1", ">>> ", raising=False)
        assert progress.enabled()


def test_set_options_restores_and_checks():
    before = stori_xr.get_options()
    assert before["progress"] == "auto"
    with stori_xr.set_options(progress=True):
        assert stori_xr.get_options()["progress"] is True
    assert stori_xr.get_options() == before
    with pytest.raises(OptionError, match="progress='yes': give True, False or 'auto'"):
        stori_xr.set_options(progress="yes")
    with pytest.raises(TypeError, match="bar"):
        stori_xr.set_options(bar=1)
    with pytest.raises(OptionError, match="progress_after=-1: give a number of seconds"):
        stori_xr.set_options(progress_after=-1)
    assert stori_xr.get_options() == before


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_a_bar_in_a_log_file_is_a_line_per_state_and_seldom(monkeypatch):
    monkeypatch.delattr(sys, "ps1", raising=False)  # not interactive
    clock = iter(range(0, 1000, 3))  # each reading of the clock 3 s later
    monkeypatch.setattr(progress.time, "perf_counter", lambda: next(clock))
    log, terminal = io.StringIO(), _Terminal()
    with stori_xr.set_options(progress_after=0):
        for out in (log, terminal):
            with progress.Bar(10, "stori fit", "epochs", out=out) as bar:
                for _ in range(10):
                    bar.update()
    lines = log.getvalue().splitlines()
    # in a file: no carriage returns, a state every 10 s at most (the clock ticks 3 s a
    # step), the last state always
    assert "\r" not in log.getvalue() and log.getvalue().endswith("\n")
    assert len(lines) == 4 and lines[-1].startswith("stori fit: [") and "10/10" in lines[-1]
    # in a terminal: redrawn in place at every step, one line in the end
    assert terminal.getvalue().count("\r") == 10 and terminal.getvalue().count("\n") == 1
    assert progress.redraw_seconds(log) == progress.LOG_SECONDS
    assert progress.redraw_seconds(terminal) == progress.REDRAW_SECONDS
