"""The README's "Use" snippet runs as written on the real patch: numpy and dask, local and on
a LocalCluster, and on a 640 px tiled copy; the README's two set-up lines are what .ci/run runs.

The snippet is read from README.md itself, so the two cannot drift apart. Its file names
are placeholders (``"S2_L2A_10m_....nc"``); each is replaced by the one file of the patch
folder that matches it, and nothing else is changed (the numpy variant also turns its
``chunks=`` into None).
"""

import os
import re
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import stori_xr  # noqa: F401
from stori_xr.io import open_sentinel1, open_sentinel2
from stori_xr.metadata import COMPLETE, WRITE_STATUS

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text()
PLACEHOLDER = re.compile(r'"([A-Za-z0-9_\-]+)_\.\.\.\.nc"')


def _snippet() -> str:
    use = README.split("\n## Use\n", 1)[1]
    return use.split("```python\n", 1)[1].split("```", 1)[0]


def _on_files(code: str, folder: Path) -> str:
    """The snippet with each placeholder file name replaced by the patch's file."""

    def path(match: re.Match) -> str:
        found = sorted(folder.glob(f"{match.group(1)}_*.nc"))
        assert len(found) == 1, f"{match.group(0)} matches {found} in {folder}"
        return repr(str(found[0]))

    return PLACEHOLDER.sub(path, code)


def _run(code: str, cwd: Path) -> dict:
    """Run the snippet in ``cwd`` (it writes reflectance.zarr there); return its names."""
    names: dict = {}
    before = Path.cwd()
    os.chdir(cwd)
    try:
        exec(compile(code, "README.md", "exec"), names)
    finally:
        os.chdir(before)
    return names


def _numpy(code: str) -> str:
    numpy_code, n = re.subn(r"chunks=\{[^}]*\}", "chunks=None", code)
    assert n == 2, "the snippet should read both inputs with chunks="
    return numpy_code


def test_snippet_has_the_shape_this_test_expects():
    code = _snippet()
    assert len(PLACEHOLDER.findall(code)) == 3
    assert 'chunks={"y": 128, "x": 128}' in code
    assert 'out.stori.to_zarr("reflectance.zarr")' in code


@pytest.fixture(scope="module")
def eager(wc1, tmp_path_factory):
    """The snippet with numpy input, and the store it wrote."""
    cwd = tmp_path_factory.mktemp("numpy")
    names = _run(_numpy(_on_files(_snippet(), wc1)), cwd)
    assert names["out"].B02.chunks is None
    return names["out"], cwd / "reflectance.zarr"


def _check_store(store: Path, expected: xr.Dataset) -> None:
    back = xr.open_zarr(store)
    assert back.attrs[WRITE_STATUS] == COMPLETE
    assert "spatial_ref" in back.coords
    assert {"B02", "B12", "B02_sigma", "stori_source"} <= set(back.data_vars)
    for name in expected.data_vars:
        np.testing.assert_array_equal(back[name].values, expected[name].values, err_msg=name)


def test_snippet_with_numpy_input(eager):
    out, store = eager
    _check_store(store, out)
    fill = (out.stori_source != 0).values
    assert np.nanmin(out.B02.values[fill]) >= 0.0  # fills are physical


def test_snippet_verbatim_with_dask(wc1, tmp_path, eager):
    names = _run(_on_files(_snippet(), wc1), tmp_path)
    out = names["out"]
    assert names["s2"].B02.chunks is not None and out.B02.chunks is not None
    assert out.chunksizes["y"] == (64,) and out.chunksizes["x"] == (64,)
    _check_store(tmp_path / "reflectance.zarr", eager[0])


def test_snippet_verbatim_on_a_local_cluster(wc1, tmp_path, eager):
    from dask.distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster),
    ):
        _run(_on_files(_snippet(), wc1), tmp_path)
    _check_store(tmp_path / "reflectance.zarr", eager[0])


def test_snippet_on_a_640px_tiled_copy(tiled_wc1, tmp_path):
    # the snippet up to its last line (writing 640 x 640 px x 97 dates x 20 variables
    # would take minutes), then a window across a chunk border (two chunks are computed)
    code = _on_files(_snippet(), tiled_wc1.s2_10m.parent)
    lazy = _run(code.replace('out.stori.to_zarr("reflectance.zarr")', ""), tmp_path)["out"]
    assert lazy.chunksizes["y"] == (128,) * 5 and lazy.chunksizes["x"] == (128,) * 5
    window = {"y": slice(584, 616), "x": slice(496, 528)}
    # numpy input cropped with a margin larger than the kernel's neighbourhood gives the
    # same values in the window (results do not depend on the chunks)
    margin = 24
    wide = {d: slice(s.start - margin, s.stop + margin) for d, s in window.items()}
    s2 = open_sentinel2([tiled_wc1.s2_10m, tiled_wc1.s2_20m]).isel(wide)
    s1 = open_sentinel1(tiled_wc1.s1)
    eager = s2.stori.interpolate(s1, times="5D", method="kernel")
    core = {d: slice(margin, margin + s.stop - s.start) for d, s in window.items()}
    part = lazy.isel(window).compute()
    for name in ("B02", "B8A", "B12", "B8A_sigma", "stori_source"):
        np.testing.assert_array_equal(part[name].values, eager[name].isel(core).values)


def test_ci_runs_the_readme_set_up_lines_in_order():
    lines = [line for line in README.splitlines() if line.startswith("python3 -m venv")]
    assert len(lines) == 2
    assert lines[0].endswith("stori demo") and "pytest" in lines[1]
    assert all(line.startswith("python3 -m venv --clear .venv ") for line in lines)
    ci = (REPO / ".ci" / "run").read_text()
    assert "stori demo" in ci and "pytest" in ci
    assert ci.index('"$demo"') < ci.index('"$tests"')
