"""The command line, the accessor's import promise, and the benchmarks (run briefly)."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import xarray as xr

from stori_xr.cli import main

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
    for name in ("reflectance.zarr", "input.png", "quicklook.png", "pixel.png"):
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
