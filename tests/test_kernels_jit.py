"""numba's compiled code is cached outside the package, so an uninstall leaves nothing."""

import importlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from numba.core.dispatcher import Dispatcher

import stori_xr
from stori_xr.kernels.jit import cache_dir

PACKAGE = Path(stori_xr.__file__).resolve().parent
KERNEL_MODULES = ["baselines", "linalg", "sarseries", "stori", "timeaxis", "whittaker"]


def _dispatchers():
    for name in KERNEL_MODULES:
        module = importlib.import_module(f"stori_xr.kernels.{name}")
        for attr, value in vars(module).items():
            if isinstance(value, Dispatcher):
                yield f"{name}.{attr}", value


def test_every_kernel_caches_outside_the_package():
    found = dict(_dispatchers())
    assert len(found) > 40  # every numba function of the kernels
    for name, dispatcher in found.items():
        path = getattr(dispatcher._cache, "_cache_path", None)
        assert path is not None, f"{name} is not cached"
        assert PACKAGE not in Path(path).resolve().parents, f"{name} caches into {path}"


def test_cache_dir_is_the_users():
    assert "stori_xr" in cache_dir()
    assert PACKAGE not in Path(cache_dir()).resolve().parents


_RUN_KERNEL = (
    "import numpy as np; from stori_xr.kernels import clear_distance; "
    "print(clear_distance(np.array([True, False, True]), np.array([0.0, 1.0, 2.0]), "
    "np.array([1.0]))[0])"
)


def _installed_copy(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """The package copied into a fake site-packages, and an environment that imports it."""
    site = tmp_path / "site-packages"
    shutil.copytree(PACKAGE, site / "stori_xr", ignore=shutil.ignore_patterns("__pycache__"))
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env |= {
        "PYTHONPATH": str(site),
        "PYTHONDONTWRITEBYTECODE": "1",
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
    }
    return site, env


def _files(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


@pytest.mark.parametrize("numba_cache_dir", [False, True])
def test_running_a_kernel_writes_nothing_into_the_installed_package(tmp_path, numba_cache_dir):
    # pip uninstall removes the files it installed; anything numba adds beside them
    # would stay behind as a stori_xr/ folder that shadows the next install
    site, env = _installed_copy(tmp_path)
    if numba_cache_dir:
        env["NUMBA_CACHE_DIR"] = str(tmp_path / "numba-cache")
    before = _files(site)
    res = subprocess.run(
        [sys.executable, "-c", _RUN_KERNEL],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    assert res.stdout.strip() == "[1.]"
    assert _files(site) == before
    cached = tmp_path / ("numba-cache" if numba_cache_dir else "cache/stori_xr/numba")
    assert any(p.suffix == ".nbi" for p in cached.rglob("*")), "the kernel was not cached"


def test_without_a_writable_cache_folder_kernels_still_run(tmp_path):
    site, env = _installed_copy(tmp_path)
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    env["XDG_CACHE_HOME"] = str(blocker)  # the cache folder cannot be made under a file
    before = _files(site)
    res = subprocess.run(
        [sys.executable, "-c", _RUN_KERNEL],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    assert res.stdout.strip() == "[1.]"
    assert _files(site) == before
