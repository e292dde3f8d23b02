"""The command line, the accessor's import promise, and the benchmarks (run briefly)."""

import argparse
import dataclasses
import re
import shutil
import socket
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import stori_xr
from stori_xr import cli
from stori_xr.cli import main
from stori_xr.fill import METHODS
from stori_xr.kernels.flags import FLAG_MEANINGS

REPO = Path(__file__).resolve().parents[1]


def test_import_does_not_import_torch():
    code = (
        "import sys, stori_xr, xarray as xr; assert hasattr(xr.Dataset, 'stori'); "
        "print('torch' in sys.modules)"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert res.stdout.strip() == "False"


def test_demo_odd_size(tmp_path):
    assert main(["demo", "--out", str(tmp_path), "--size", "33", "--periods", "12"]) == 0


def test_demo_writes_zarr_and_pngs(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--size", "32", "--periods", "24"]) == 0
    printed = capsys.readouterr().out
    for name in ("reflectance.zarr", "maps.png", "pixel.png"):
        assert (out / name).exists(), name
        assert str(out / name) in printed
    assert "RMSE on the gaps" in printed
    ds = xr.open_zarr(out / "reflectance.zarr")
    assert {"B8A", "B8A_sigma", "stori_source"} <= set(ds.data_vars)
    assert ds.sizes["time"] == 24
    assert np.isfinite(ds.B8A.values).mean() > 0.99
    assert ds.stori_source.attrs["flag_meanings"].startswith("observed")


def test_evaluate_command_on_a_patch(wc1, capsys):
    assert main(["evaluate", str(wc1), "--seeds", "1", "--methods", "linear"]) == 0
    printed = capsys.readouterr().out
    assert "00002806639B424A" in printed and "linear" in printed


def test_speed_benchmark_runs():
    res = subprocess.run(
        [
            sys.executable,
            str(REPO / "benchmarks" / "speed.py"),
            "--quick",
            "--methods",
            "kernel",
            "xarray-interpolate_na",
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO.parent,
    )
    assert "px-series/s" in res.stdout and "kernel" in res.stdout


def test_graph_benchmark_runs():
    res = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "graph.py"), "--quick"],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO.parent,
    )
    assert "tasks/chunk" in res.stdout


def test_scale_benchmark_runs():
    res = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "scale.py"), "--quick"],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO.parent,
    )
    assert "kernel px/cpu-s" in res.stdout and "client peak" in res.stdout


def test_task_memory_benchmark_runs_and_the_planned_bound_holds():
    res = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "task_memory.py"), "--tiles", "64"],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO.parent,
    )
    tile, _, peak, _, _, bound = res.stdout.splitlines()[-1].split()
    assert tile == "64" and 0 < float(peak) <= float(bound)  # what check_task_memory plans


def test_example_script_runs(wc1, tmp_path):
    script = REPO / "examples" / "gapfill_worldcereal.py"
    res = subprocess.run(
        [sys.executable, str(script), str(wc1), str(tmp_path / "ex")],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    )
    assert "reflectance.zarr" in res.stdout
    out = xr.open_zarr(tmp_path / "ex" / "reflectance.zarr")
    assert np.isfinite(out.B8A.values).all()
    assert out.stori_source.isin(range(8)).all()


def test_ablation_benchmark_runs():
    res = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "ablation.py"), "--quick"],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO.parent,
    )
    assert res.stdout.count("temporal + sar + spatial") == 2


# ----------------------------------------------------------------------------- a tool's manners

FAST = ["--size", "32", "--periods", "24"]


def _one_error_line(err: str) -> str:
    """The single line a user-fixable error prints, checked to be the only one."""
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("stori: error: "), err
    return lines[0]


def test_stori_error_prints_one_line_and_exits_1(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), *FAST, "--times", "abc"]) == cli.EXIT_ERROR
    line = _one_error_line(capsys.readouterr().err)
    assert "times='abc' is neither a pandas frequency" in line
    assert not out.exists()  # refused before the output folder was made


def test_missing_input_file_prints_one_line_and_exits_1(tmp_path, capsys):
    missing = tmp_path / "missing.nc"
    assert main(["evaluate", "--optical", str(missing), "--methods", "linear"]) == 1
    assert "missing.nc" in _one_error_line(capsys.readouterr().err)


def test_unwritable_output_folder_prints_one_line(tmp_path, capsys):
    (tmp_path / "file").write_text("not a folder")
    assert main(["demo", "--out", str(tmp_path / "file" / "sub"), *FAST]) == 1
    assert "Not a directory" in _one_error_line(capsys.readouterr().err)


@pytest.mark.parametrize("command", ["demo", "evaluate"])
def test_unexpected_errors_keep_their_traceback(monkeypatch, command, tmp_path):
    def bug(args):
        raise ValueError("a bug")

    monkeypatch.setattr(cli.parser, f"_{command}", bug)  # where the parser finds it
    argv = [command, "--out", str(tmp_path)] if command == "demo" else [command, str(tmp_path)]
    with pytest.raises(ValueError, match="a bug"):
        main(argv)


def test_keyboard_interrupt_exits_quietly_with_130(monkeypatch, tmp_path, capsys):
    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli.parser, "_demo", interrupted)
    try:
        code = main(["demo", "--out", str(tmp_path)])
    except KeyboardInterrupt:  # escaping, it would stop the test session itself
        pytest.fail("KeyboardInterrupt escaped main()")
    assert code == 130
    assert capsys.readouterr().err == ""


def test_entry_point_exit_code_without_traceback(tmp_path):
    stori = Path(sys.executable).with_name("stori")
    assert stori.exists(), "the stori entry point is not installed in this environment"
    out = tmp_path / "demo"
    res = subprocess.run(
        [str(stori), "demo", "--out", str(out), *FAST, "--times", "abc"],
        capture_output=True,
        text=True,
    )
    assert res.returncode == 1, res.stderr
    assert "Traceback" not in res.stderr
    assert "times='abc'" in _one_error_line(res.stderr)
    assert not out.exists()


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out == f"stori {stori_xr.__version__}\n"


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = cli.build_parser()
    (action,) = (a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def test_every_option_has_help_choices_and_default():
    subparsers = _subparsers()
    assert set(subparsers) == {"demo", "interpolate", "evaluate", "pretrain"}
    for name, parser in subparsers.items():
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction):
                continue
            where = f"stori {name} {action.dest}"
            assert action.help and len(action.help) > 15, where
            if action.option_strings:  # an option: its default is shown, None included
                assert "default:" in action.help, where
    assert subparsers["demo"]._option_string_actions["--method"].choices == sorted(METHODS)
    assert subparsers["interpolate"]._option_string_actions["--method"].choices == sorted(METHODS)
    assert subparsers["evaluate"]._option_string_actions["--methods"].choices == sorted(METHODS)
    for name, parser in subparsers.items():
        text = re.sub(r"-\n\s*", "-", parser.format_help())  # argparse wraps at hyphens
        assert "(default: " in text
        if name == "pretrain":  # pretrains the one method that is pretrained
            continue
        for method in METHODS:
            assert method in text, (name, method)


def test_parser_does_not_import_torch():
    code = (
        "import sys; from stori_xr.cli import build_parser; build_parser().format_help(); "
        "print('torch' in sys.modules)"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert res.stdout.strip() == "False"


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        (["--size", "8"], "--size: 8 px is too small for --method stori"),
        (["--size", "0", "--method", "linear"], "--size: give 1 or more"),
        (["--method", "nope"], "--method: invalid choice: 'nope'"),
        (["--periods", "0"], "--periods: give 1 or more"),
        (["--periods", "-3"], "--periods: give 1 or more"),
        (["--seed", "-1"], "--seed: give 0 or more"),
        (["--size", "3.5"], "--size: '3.5' is not an integer"),
        (["--times", "0D"], "--times: '0D' does not step forward"),
        (["--times=-5D"], "--times: '-5D' does not step forward"),
    ],
)
def test_demo_refuses_bad_values_before_any_output(tmp_path, capsys, args, complaint):
    out = tmp_path / "demo"
    with pytest.raises(SystemExit) as exit_:
        main(["demo", "--out", str(out), *args])
    assert exit_.value.code == cli.EXIT_USAGE
    captured = capsys.readouterr()
    assert complaint in captured.err
    assert captured.out == ""
    assert not out.exists()


def test_demo_refuses_an_output_that_is_a_file(tmp_path, capsys):
    out = tmp_path / "taken"
    out.write_text("mine")
    with pytest.raises(SystemExit) as exit_:
        main(["demo", "--out", str(out), *FAST])
    assert exit_.value.code == 2
    assert "exists and is not a folder" in capsys.readouterr().err
    assert out.read_text() == "mine"


def test_demo_runs_at_its_smallest_size(tmp_path):
    smallest = cli._demo_min_size("kernel")
    assert smallest == METHODS["kernel"].halo({}) == 9
    assert main(["demo", "--out", str(tmp_path), "--size", str(smallest), "--periods", "12"]) == 0
    assert (tmp_path / "pixel.png").exists()


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        (["--seeds", "0"], "--seeds: give 1 or more"),
        (["--methods", "linear", "nope"], "--methods: invalid choice: 'nope'"),
        (["--sar", "s1.nc"], "--sar: goes with --optical"),
        (["--csv", "no/such/folder/scores.csv"], "--csv: the folder no/such/folder does not"),
        (["--csv", "."], "--csv: . is a folder"),
    ],
)
def test_evaluate_refuses_bad_values_before_reading(tmp_path, capsys, args, complaint):
    # the patch folder is empty: the values are refused before anything is read
    with pytest.raises(SystemExit) as exit_:
        main(["evaluate", str(tmp_path), *args])
    assert exit_.value.code == 2
    assert complaint in capsys.readouterr().err


def test_evaluate_refuses_sar_methods_without_sar(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["evaluate", "--optical", str(tmp_path / "s2.nc")])  # default methods
    assert exit_.value.code == 2
    assert "--methods: sar-regression needs SAR: give --sar" in capsys.readouterr().err


def test_evaluate_folder_without_patch_files_exits_1(tmp_path, capsys):
    assert main(["evaluate", str(tmp_path), "--methods", "linear", "--seeds", "1"]) == 1
    captured = capsys.readouterr()
    line = _one_error_line(captured.err)
    assert "S2_L2A_20m_*.nc" in line and "S1_GRD-*_20m_*.nc" in line
    assert captured.out == ""


@pytest.fixture
def two_clear_dates(wc1, tmp_path):
    """A WorldCereal patch cut to two clear dates 148 days apart: nothing can be hidden."""
    folder = tmp_path / "two-dates"
    folder.mkdir()
    (s2,) = wc1.glob("S2_L2A_20m_*.nc")
    (s1,) = wc1.glob("S1_GRD-*_20m_*.nc")
    with xr.open_dataset(s2, mask_and_scale=False) as ds:
        days = ds.timestamp.values.astype("datetime64[D]").astype(str).tolist()
        keep = [days.index("2018-02-25"), days.index("2018-07-23")]
        ds.isel(timestamp=keep).to_netcdf(folder / s2.name)
    shutil.copy(s1, folder / s1.name)
    return folder


def test_evaluate_with_nothing_to_score_exits_1(two_clear_dates, tmp_path, capsys):
    csv = tmp_path / "scores.csv"
    argv = ["evaluate", str(two_clear_dates), "--seeds", "2", "--methods", "linear"]
    assert main([*argv, "--csv", str(csv)]) == 1
    captured = capsys.readouterr()
    line = _one_error_line(captured.err)
    assert "nothing to score in two-dates: no clear value could be hidden" in line
    assert "mostly clear dates (at least 80% clear)" in line
    assert "RMSE" not in captured.out  # no table of "-"
    assert not csv.exists()


#: The titles of the split tables stori evaluate prints.
SPLIT_TITLES = {
    "neighbour": "split by a neighbour within the kernel's search radius is clear on that date",
    "source": "split by the kernel's stori_source flag of the same value",
}


@pytest.mark.parametrize(
    ("splits", "shown"),
    [
        ([], ["neighbour", "source"]),
        (["--splits"], []),
        (["--splits", "neighbour"], ["neighbour"]),
    ],
)
def test_evaluate_prints_the_split_tables_asked_for(wc1, tmp_path, capsys, splits, shown):
    csv = tmp_path / "scores.csv"
    argv = ["evaluate", str(wc1), "--seeds", "1", "--methods", "linear", "--csv", str(csv)]
    assert main([*argv, *splits]) == 0
    printed = capsys.readouterr().out
    for split, title in SPLIT_TITLES.items():
        assert (title in printed) == (split in shown), split
    parts = {line.split()[0] for line in printed.splitlines() if "linear" in line}
    assert ("yes" in parts and "no" in parts) == ("neighbour" in shown)
    # the source split's parts are the kernel's flags (the kernel runs for them, unscored)
    assert bool(parts & set(FLAG_MEANINGS.split())) == ("source" in shown)
    assert "against the best other method" not in printed  # no stori
    table = pd.read_csv(csv)
    assert set(table.split) == {"all", *shown}
    assert set(table.method) == {"linear"}


@pytest.mark.parametrize(("splits", "lines"), [([], 3), (["--splits", "source"], 1)])
def test_evaluate_prints_stori_against_the_best_other(wc1, monkeypatch, capsys, splits, lines):
    # linear under the name stori: what is printed, not the network, is tested here
    monkeypatch.setitem(METHODS, "stori", dataclasses.replace(METHODS["linear"], name="stori"))
    argv = ["evaluate", str(wc1), "--seeds", "1", "--methods", "stori", "linear", *splits]
    assert main(argv) == 0
    printed = capsys.readouterr().out.splitlines()
    start = printed.index("stori against the best other method (RMSE ratio, pooled over seeds):")
    ratios = printed[start + 1 : start + 1 + lines]
    labels = ["all values", "neighbour clear: yes", "neighbour clear: no"][:lines]
    assert [line[:24].strip() for line in ratios] == labels
    assert ratios[0].split()[3] == "1.000x"  # the same method twice
    assert printed[start + 1 + lines :] == [""]


def _table_columns() -> list[str]:
    """The column names format_table prints, with every optional column shown."""
    from stori_xr.datasets import make_scene
    from stori_xr.evaluate import evaluate, format_table

    scene = make_scene(12, 12, periods=40, seed=3)
    table = evaluate(scene.optical, scene.sar, methods=["linear"], seeds=[0, 1])
    lines = format_table(table).splitlines()
    head = re.split(r"\s{2,}", lines[0].strip())
    assert "sd" in head and "s/run" in head
    return [*head, lines[-1].split("  ")[0].strip()]  # and the "n scored" line


def test_table_columns_are_explained_in_help_and_docs(capsys):
    from stori_xr.datasets import make_scene
    from stori_xr.evaluate import evaluate, format_split

    columns = _table_columns()
    with pytest.raises(SystemExit):
        main(["evaluate", "--help"])
    text = capsys.readouterr().out
    docs = (REPO / "docs" / "cli.md").read_text()
    explained = {column for column, _ in cli.TABLE_COLUMNS}
    for column in columns:
        assert column in explained, column
        assert re.search(rf"^  {re.escape(column)}  +\S", text, re.M), column
        assert f"`{column}`" in docs, column

    # the columns of the split tables that the table has not
    scene = make_scene(12, 12, periods=40, seed=3)
    table = evaluate(scene.optical, methods=["linear"], seeds=[0], splits=["neighbour"])
    head = re.split(r"\s{2,}", format_split(table, "neighbour").splitlines()[1].strip())
    explained |= {column for column, _ in cli.SPLIT_COLUMNS}
    for column in set(head) - set(columns):
        assert column in explained, column
        assert re.search(rf"^  {re.escape(column)}  +\S", text, re.M), column
        assert f"`{column}`" in docs, column


def test_docs_cover_every_option_and_exit_code():
    docs = (REPO / "docs" / "cli.md").read_text()
    for name, parser in _subparsers().items():
        assert f"stori {name}" in docs
        for action in parser._actions:
            for option in action.option_strings:
                if option not in ("-h", "--help"):
                    assert f"`{option}" in docs, (name, option)
    assert "`--version`" in docs
    for code in (cli.EXIT_OK, cli.EXIT_ERROR, cli.EXIT_USAGE, cli.EXIT_INTERRUPTED):
        assert f"| {code} |" in docs, code


def test_demo_refuses_an_existing_store_unless_overwrite(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), *FAST, "--method", "linear"]) == 0
    before = _snapshot(out)
    capsys.readouterr()
    assert main(["demo", "--out", str(out), *FAST, "--method", "whittaker"]) == cli.EXIT_ERROR
    captured = capsys.readouterr()
    assert "reflectance.zarr already exists; pass --overwrite" in _one_error_line(captured.err)
    assert captured.out == ""  # refused before the scene was made
    assert _snapshot(out) == before
    assert main(["demo", "--out", str(out), *FAST, "--method", "whittaker", "--overwrite"]) == 0
    assert xr.open_zarr(out / "reflectance.zarr").attrs["stori_method"] == "whittaker"


def test_demo_scores_with_one_dask_computation(tmp_path, raise_if_dask_computes):
    from stori_xr.datasets import make_scene
    from stori_xr.io import open_cube

    scene = make_scene(24, 24, periods=16, seed=2, chunks={"y": 12, "x": 12})
    out = scene.optical.stori.interpolate(scene.sar, method="linear")
    out.stori.to_zarr(tmp_path / "out.zarr")
    written = open_cube(tmp_path / "out.zarr", chunks={})
    with raise_if_dask_computes(1):  # the reductions, not one load per band
        rmse = cli._gap_rmse(written, scene)
    gaps = ~scene.optical.clear.values
    err = np.concatenate([(written[b].values - scene.truth[b].values)[gaps] for b in scene.truth])
    assert rmse == pytest.approx(np.sqrt(np.nanmean(err**2)), rel=1e-6)


# ----------------------------------------------------------------------------- stori interpolate


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file below ``folder`` with its size and modification time."""
    return {
        str(f.relative_to(folder)): (f.stat().st_size, f.stat().st_mtime_ns)
        for f in sorted(folder.rglob("*"))
        if f.is_file()
    }


def _patch_args(wc1: Path) -> list[str]:
    s2 = sorted(str(f) for f in wc1.glob("S2_L2A_*m_*.nc"))  # 10 m and 20 m
    (s1,) = wc1.glob("S1_GRD-*_20m_*.nc")
    # the kernel: its result is exact whatever the reading (the ranker's fit is tested apart)
    return ["--optical", *s2, "--sar", str(s1), "--chunks", "32", "--method", "kernel"]


def _in_python(wc1: Path, method: str = "kernel", **kwargs) -> xr.Dataset:
    """What stori interpolate should write, computed in Python."""
    from stori_xr.io import open_sentinel1, open_sentinel2

    chunks = {"y": 32, "x": 32}
    s2 = open_sentinel2(sorted(wc1.glob("S2_L2A_*m_*.nc")), chunks=chunks)
    s1 = open_sentinel1(next(wc1.glob("S1_GRD-*_20m_*.nc")), chunks=chunks)
    return s2.stori.interpolate(s1, method=method, **kwargs).compute()


def _assert_written(store: Path, expected: xr.Dataset) -> None:
    written = xr.open_zarr(store)
    assert written.attrs["stori_write_status"] == "complete"
    xr.testing.assert_equal(written.drop_vars("spatial_ref"), expected.drop_vars("spatial_ref"))
    assert written.rio.crs == expected.rio.crs


def test_interpolate_real_patch_threaded(wc1, tmp_path, capsys):
    store = tmp_path / "out.zarr"
    start = time.perf_counter()
    assert main(["interpolate", *_patch_args(wc1), "--out", str(store)]) == 0
    seconds = time.perf_counter() - start
    _assert_written(store, _in_python(wc1))
    captured = capsys.readouterr()
    assert "% Completed" in captured.err and "% Completed" not in captured.out
    assert "optical: Sentinel-2 L2A (WorldCereal), 2 files, 118 dates" in captured.err
    assert "SAR: Sentinel-1 GRD (WorldCereal), 1 file, 159 dates" in captured.err
    assert "dask's threaded scheduler" in captured.err
    lines = dict(line.split(maxsplit=1) for line in captured.out.splitlines())
    assert set(lines) == {"output", "pixels", "dates", "bands", "seconds", "throughput"}
    assert lines["output"] == f"{store.resolve()} (complete, 4 of 4 tiles written in this run)"
    assert lines["pixels"] == "4096 (64 x 64)"
    assert lines["dates"] == "118"
    assert lines["bands"].startswith("10: B02 B03 B04")
    assert re.fullmatch(r"[\d,]+ pixel-series/s", lines["throughput"])
    assert "preparing (alignment)," in lines["seconds"]  # the kernel fits nothing
    print(f"stori interpolate, real patch, threaded: {seconds:.1f} s")  # reported, not asserted


def test_interpolate_real_patch_on_a_local_cluster(wc1, tmp_path, capsys):
    store = tmp_path / "out.zarr"
    argv = ["interpolate", *_patch_args(wc1), "--out", str(store), "--method", "linear"]
    start = time.perf_counter()
    assert main([*argv, "--workers", "2", "--memory-limit", "1GB"]) == 0
    seconds = time.perf_counter() - start
    _assert_written(store, _in_python(wc1, "linear"))
    captured = capsys.readouterr()
    assert "LocalCluster of 2 worker processes x 1 thread, memory limit 1GB each" in captured.err
    assert "% Completed" in captured.err and "% Completed" not in captured.out
    assert "(complete, 4 of 4 tiles written in this run)" in captured.out
    print(f"stori interpolate, real patch, LocalCluster: {seconds:.1f} s")


def test_the_local_cluster_workers_keep_large_arrays_off_fresh_mmaps():
    # distributed's fixed mmap threshold made method="stori" spend a third of its time
    # zero-filling fresh pages; the workers --workers starts get a larger one, and keep
    # distributed's own environment
    import argparse
    import contextlib
    import os

    from stori_xr.cli.scheduler import WORKER_ENVIRON, _scheduler

    args = argparse.Namespace(scheduler=None, workers=1, threads=None, memory_limit="1GB")
    with contextlib.ExitStack() as stack:
        client, _ = _scheduler(args, stack)
        (environ,) = client.run(
            lambda: {k: os.environ.get(k) for k in ("MALLOC_MMAP_THRESHOLD_", "OMP_NUM_THREADS")}
        ).values()
    assert environ == {
        "MALLOC_MMAP_THRESHOLD_": str(WORKER_ENVIRON["MALLOC_MMAP_THRESHOLD_"]),
        "OMP_NUM_THREADS": "1",
    }


@pytest.fixture
def scene_stores(tmp_path):
    """A synthetic scene (make_scene) written as two plain Zarr stores, and the scene."""
    from stori_xr.datasets import make_scene

    scene = make_scene(24, 24, periods=16, seed=5, chunks={"y": 12, "x": 12})
    with warnings.catch_warnings():  # zarr: consolidated metadata is not in its spec
        warnings.filterwarnings("ignore", "Consolidated metadata", UserWarning)
        scene.optical.to_zarr(tmp_path / "optical.zarr")
        scene.sar.to_zarr(tmp_path / "sar.zarr")
    args = ["--optical", str(tmp_path / "optical.zarr"), "--sar", str(tmp_path / "sar.zarr")]
    return [*args, "--chunks", "12"], scene


def test_interpolate_zarr_input(scene_stores, tmp_path, capsys):
    args, scene = scene_stores
    store = tmp_path / "out.zarr"
    assert main(["interpolate", *args, "--out", str(store), "--times", "10D"]) == 0
    captured = capsys.readouterr()
    assert "optical: generic Zarr cube, 1 file, 16 dates" in captured.err
    # the default method fits on the target before the tiles: said, and timed apart
    assert "fitting stori on a sample of the target" in captured.err
    seconds = re.search(r"^seconds +(.*)$", captured.out, re.MULTILINE).group(1)
    assert re.fullmatch(
        r"[\d.]+ preparing \(alignment, fit\), [\d.]+ computing and writing, [\d.]+ in all",
        seconds,
    )
    expected = scene.optical.stori.interpolate(scene.sar, times="10D").compute()
    _assert_written(store, expected)


def test_interpolate_method_options(scene_stores, tmp_path):
    args, scene = scene_stores
    store = tmp_path / "out.zarr"
    options = ["--option", "radius=3", "--option", "candidates=temporal,sar"]
    assert main(["interpolate", *args, "--out", str(store), *options, "--quiet"]) == 0
    expected = scene.optical.stori.interpolate(
        scene.sar, radius=3, candidates=("temporal", "sar")
    ).compute()
    _assert_written(store, expected)


def test_interpolate_refuses_an_existing_output(scene_stores, tmp_path, capsys):
    args, _ = scene_stores
    store = tmp_path / "out.zarr"
    assert main(["interpolate", *args, "--out", str(store), "--method", "linear"]) == 0
    before = _snapshot(store)
    capsys.readouterr()
    assert main(["interpolate", *args, "--out", str(store)]) == cli.EXIT_ERROR
    captured = capsys.readouterr()
    line = _one_error_line(captured.err)
    assert "out.zarr already exists (a complete stori_xr store); pass --overwrite" in line
    assert captured.out == ""
    assert _snapshot(store) == before
    assert main(["interpolate", *args, "--out", str(store), "--overwrite", "--quiet"]) == 0
    assert xr.open_zarr(store).attrs["stori_method"] == "stori"  # the default method


@pytest.mark.parametrize("flag", [[], ["--overwrite"], ["--resume"]])
@pytest.mark.parametrize("kind", ["file", "folder"])
def test_interpolate_never_replaces_what_is_not_a_store(tmp_path, capsys, kind, flag):
    out = tmp_path / "mine"
    if kind == "file":
        out.write_text("mine")
    else:
        out.mkdir()
        (out / "notes.txt").write_text("mine")
    before = _snapshot(tmp_path)
    argv = ["interpolate", "--optical", str(tmp_path / "in.nc"), "--out", str(out), *flag]
    assert main(argv) == cli.EXIT_ERROR
    line = _one_error_line(capsys.readouterr().err)
    assert f"mine exists and is a {kind}, not a Zarr store" in line
    assert _snapshot(tmp_path) == before


def test_interpolate_resumes_an_incomplete_store(wc1, tmp_path, capsys):
    from stori_xr.io import open_optical, open_sar
    from stori_xr.output import to_zarr

    args = _patch_args(wc1)
    chunks = {"y": 32, "x": 32}
    s2 = open_optical(args[1:3], chunks=chunks)
    s1 = open_sar(args[4:5], chunks=chunks)
    store = tmp_path / "out.zarr"
    to_zarr(s2.stori.interpolate(s1, method="linear"), store, compute=False)  # never computed
    argv = ["interpolate", *args, "--method", "linear", "--out"]
    assert main([*argv, str(store)]) == cli.EXIT_ERROR
    line = _one_error_line(capsys.readouterr().err)
    assert "(an incomplete stori_xr store" in line and "pass --resume to finish it" in line
    assert main([*argv, str(store), "--resume"]) == 0
    assert "(complete, 4 of 4 tiles written in this run)" in capsys.readouterr().out
    assert main([*argv, str(tmp_path / "fresh.zarr"), "--quiet"]) == 0
    resumed, fresh = xr.open_zarr(store), xr.open_zarr(tmp_path / "fresh.zarr")
    xr.testing.assert_identical(resumed.drop_attrs(), fresh.drop_attrs())
    differ = {k for k in resumed.attrs if resumed.attrs[k] != fresh.attrs.get(k)}
    assert differ <= {"history"}  # its time stamps


def test_interpolate_interrupted_leaves_a_store_to_resume(scene_stores, tmp_path, monkeypatch):
    args, scene = scene_stores
    store = tmp_path / "out.zarr"
    argv = ["interpolate", *args, "--out", str(store), "--method", "linear", "--quiet"]
    compute = cli._compute

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli.interpolate, "_compute", interrupted)
    assert main(argv) == cli.EXIT_INTERRUPTED
    assert xr.open_zarr(store).attrs["stori_write_status"] == "incomplete"
    monkeypatch.setattr(cli.interpolate, "_compute", compute)
    assert main([*argv, "--resume"]) == 0
    _assert_written(store, scene.optical.stori.interpolate(scene.sar, method="linear").compute())


def test_interpolate_on_a_running_scheduler(scene_stores, tmp_path, capsys):
    from dask.distributed import LocalCluster

    args, scene = scene_stores
    store = tmp_path / "out.zarr"
    with LocalCluster(
        n_workers=1, threads_per_worker=2, processes=False, dashboard_address="127.0.0.1:0"
    ) as cluster:
        argv = ["interpolate", *args, "--out", str(store), "--method", "linear"]
        assert main([*argv, "--scheduler", cluster.scheduler_address]) == 0
    err = capsys.readouterr().err
    assert f"with the dask scheduler at {cluster.scheduler_address} (1 worker)" in err
    assert "% Completed" in err
    _assert_written(store, scene.optical.stori.interpolate(scene.sar, method="linear").compute())


def test_interpolate_missing_input_file(tmp_path, capsys):
    out = tmp_path / "out.zarr"
    missing = tmp_path / "missing.nc"
    assert main(["interpolate", "--optical", str(missing), "--out", str(out)]) == 1
    captured = capsys.readouterr()
    assert "missing.nc" in _one_error_line(captured.err)
    assert captured.out == ""
    assert not out.exists()


def test_interpolate_file_of_no_known_layout(wc1, tmp_path, capsys):
    (labels,) = wc1.glob("OUTPUT_POLY-*.nc")
    assert main(["interpolate", "--optical", str(labels), "--out", str(tmp_path / "o")]) == 1
    line = _one_error_line(capsys.readouterr().err)
    assert "is in no layout stori_xr reads as optical input" in line
    assert "Sentinel-2 L2A (WorldCereal)" in line and "generic cube" in line


def test_interpolate_bad_scheduler_address(scene_stores, tmp_path, capsys):
    args, _ = scene_stores
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    out = tmp_path / "out.zarr"
    start = time.perf_counter()
    code = main(
        ["interpolate", *args, "--out", str(out), "--scheduler", f"tcp://127.0.0.1:{port}"]
    )
    assert code == cli.EXIT_ERROR
    assert time.perf_counter() - start < cli.CONNECT_TIMEOUT + 10
    line = _one_error_line(capsys.readouterr().err)
    assert f"cannot connect to the dask scheduler at tcp://127.0.0.1:{port}" in line
    assert not out.exists()


def test_interpolate_quiet(scene_stores, tmp_path, capsys):
    args, _ = scene_stores
    argv = ["interpolate", *args, "--out", str(tmp_path / "out.zarr"), "--method", "linear"]
    assert main([*argv, "--quiet"]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""
    assert captured.out.startswith("output ") and "pixel-series/s" in captured.out


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        (["--workers", "2", "--scheduler", "tcp://h:8786"], "--scheduler: not allowed with"),
        (["--memory-limit", "2GB"], "--memory-limit: goes with --workers"),
        (["--workers", "2", "--memory-limit", "2 apples"], "'2 apples' is not a size"),
        (["--workers", "0"], "--workers: give 1 or more"),
        (["--scheduler", "tcp://h:8786", "--threads", "2"], "--threads: not allowed with"),
        (["--overwrite", "--resume"], "--resume: not allowed with argument --overwrite"),
        (["--option", "radius"], "'radius' is not KEY=VALUE"),
        (["--option", "lmbda=10"], "--method stori takes no option lmbda"),
        (["--option", "radius=-1"], "radius=-1: give 0 or more pixels"),
        (["--method", "sar-regression"], "--method: sar-regression needs SAR"),
        (["--chunks", "0"], "--chunks: give 1 or more"),
        (["--times", "0D"], "--times: '0D' does not step forward"),
    ],
)
def test_interpolate_refuses_bad_values_before_reading(tmp_path, capsys, args, complaint):
    out = tmp_path / "out.zarr"
    argv = ["interpolate", "--optical", str(tmp_path / "missing.nc"), "--out", str(out)]
    with pytest.raises(SystemExit) as exit_:
        main([*argv, *args])
    assert exit_.value.code == cli.EXIT_USAGE
    captured = capsys.readouterr()
    assert complaint in re.sub(r"\s+", " ", captured.err)
    assert captured.out == ""
    assert not out.exists()


def test_interpolate_entry_point(scene_stores, tmp_path):
    args, _ = scene_stores
    stori = Path(sys.executable).with_name("stori")
    out = tmp_path / "out.zarr"
    argv = [str(stori), "interpolate", *args, "--out", str(out), "--method", "linear"]
    res = subprocess.run(argv, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert "% Completed" in res.stderr and "Traceback" not in res.stderr
    assert res.stdout.startswith(f"output      {out.resolve()} (complete")
    again = subprocess.run(argv, capture_output=True, text=True)
    assert again.returncode == 1
    assert "already exists" in _one_error_line(again.stderr)


def test_option_values():
    assert cli._method_option("radius=6") == ("radius", 6)
    assert cli._method_option("lmbda = 1e4") == ("lmbda", 1e4)
    assert cli._method_option("calibrate=false") == ("calibrate", False)
    assert cli._method_option("candidates=temporal,sar") == ("candidates", ("temporal", "sar"))
    assert cli._method_option("lmbda=gcv") == ("lmbda", "gcv")
