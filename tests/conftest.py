"""Shared fixtures: the real data folder, a tiled copy of a real patch, and a scheduler
that forbids computing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings
from tiled import TiledPatch, write_tiled_patch

REPO_ROOT = Path(__file__).resolve().parents[1]


# CI runs the property tests on a fixed sequence of examples, so that a run can be
# repeated exactly; on a developer's machine they explore new examples every time
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


def find_data_dir() -> Path:
    """Return the real-data folder: ``$STORI_DATA`` or ``<repo>/../shared/data``."""
    env = os.environ.get("STORI_DATA")
    path = Path(env) if env else REPO_ROOT.parent / "shared" / "data"
    return path


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The real satellite data; a test that needs it fails when it is missing."""
    path = find_data_dir()
    if not (path / "worldcereal").is_dir():
        pytest.fail(
            f"real test data not found at {path}: put shared/data beside the checkout "
            "or set STORI_DATA to its path"
        )
    return path


@pytest.fixture(scope="session")
def wc1(data_dir: Path) -> Path:
    """Folder of WorldCereal patch 00002806639B424A."""
    return data_dir / "worldcereal" / "00002806639B424A"


@pytest.fixture(scope="session")
def wc2(data_dir: Path) -> Path:
    """Folder of WorldCereal patch 000028085BF08E7E."""
    return data_dir / "worldcereal" / "000028085BF08E7E"


@pytest.fixture(scope="session")
def tiled_wc1(wc1: Path, tmp_path_factory: pytest.TempPathFactory) -> TiledPatch:
    """Patch 00002806639B424A tiled 10 x 10 in space (see ``tests/tiled.py``).

    ``.s2`` (10 m: 640 x 640 px, 20 m: 320 x 320 px, 10 dates: every 12th) and ``.s1``
    (320 x 320 px at 20 m, 14 dates: every 12th), written once per test session (about
    55 MB in a temporary folder, about 1 s).
    """
    return write_tiled_patch(
        wc1,
        tmp_path_factory.mktemp("tiled_wc1"),
        reps=10,
        s2_dates=slice(None, None, 12),
        s1_dates=slice(None, None, 12),
    )


class CountingScheduler:
    """A dask scheduler that raises once more than ``max_computes`` graphs are computed."""

    def __init__(self, max_computes: int = 0):
        self.total_computes = 0
        self.max_computes = max_computes

    def __call__(self, dsk, keys, **kwargs):
        import dask

        self.total_computes += 1
        if self.total_computes > self.max_computes:
            raise RuntimeError(f"Too many dask computations were scheduled: {self.total_computes}")
        return dask.get(dsk, keys, **kwargs)


@pytest.fixture
def raise_if_dask_computes():
    """Context factory: ``with raise_if_dask_computes(): ...`` fails on any compute."""
    import dask

    def factory(max_computes: int = 0):
        return dask.config.set(scheduler=CountingScheduler(max_computes))

    return factory
