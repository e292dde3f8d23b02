"""The documentation site builds with warnings as errors, offline, and documents every public name.

The build is the documented command (README, docs/index.md): ``mkdocs build --strict``
from the repository root, with the ``docs`` extra installed (the ``test`` extra pulls it in).
"""

from __future__ import annotations

import inspect
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import stori_xr
import stori_xr.evaluate
import stori_xr.exceptions
import stori_xr.io
import stori_xr.plot
from stori_xr import datasets
from stori_xr.accessor import StoriAccessor

REPO_ROOT = Path(__file__).resolve().parents[1]


def documented_path(func: object) -> str:
    """Where a function is documented: its package's path when the package exports it."""
    module = func.__module__
    parent = sys.modules[module.rsplit(".", 1)[0]]
    if func.__name__ in getattr(parent, "__all__", ()):
        module = parent.__name__
    return f"{module}.{func.__name__}"


def public_names() -> list[str]:
    """Every public name, as the dotted path the API reference documents, from the package."""
    exceptions = [
        name
        for name, obj in vars(stori_xr.exceptions).items()
        if not name.startswith("_") and getattr(obj, "__module__", None) == "stori_xr.exceptions"
    ]
    methods = [
        name
        for name, obj in inspect.getmembers(StoriAccessor)
        if not name.startswith("_") and callable(obj)
    ]
    modules = [stori_xr, stori_xr.io, stori_xr.evaluate, stori_xr.plot, datasets]
    return [
        *(f"{module.__name__}.{name}" for module in modules for name in module.__all__),
        *(f"stori_xr.exceptions.{name}" for name in exceptions),
        *(f"stori_xr.accessor.StoriAccessor.{name}" for name in methods),
        # the free function behind each accessor method
        *(documented_path(inspect.unwrap(getattr(StoriAccessor, name))) for name in methods),
    ]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The site built by the documented command, and what the build printed."""
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(out)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    log = proc.stdout + proc.stderr
    assert proc.returncode == 0, log
    return out, log


def test_site_builds_without_warnings(site: tuple[Path, str]) -> None:
    out, log = site
    assert not re.search(r"^(WARNING|ERROR)\b", log, re.MULTILINE), log
    for page in ("index", "install", "quickstart", "method", "ranker", "benchmarks", "changelog"):
        assert (out / f"{page}.html").is_file(), page


def test_every_public_name_is_in_the_api_reference(site: tuple[Path, str]) -> None:
    out, _ = site
    html = "".join(page.read_text(encoding="utf-8") for page in (out / "api").glob("*.html"))
    names = public_names()
    assert len(names) > 40  # the list was computed, not empty
    missing = [path for path in names if f'id="{path}"' not in html]
    assert not missing, "not in the API reference: " + ", ".join(missing)


def test_accessor_methods_show_their_parameters(site: tuple[Path, str]) -> None:
    """Each accessor method shows the wrapped function's parameters (less the object)."""
    html = (site[0] / "api/accessor.html").read_text(encoding="utf-8")
    text = re.sub(r"<[^>]+>", "", html)
    for name in ("interpolate", "plot_maps", "to_zarr"):
        params = list(inspect.signature(getattr(StoriAccessor, name)).parameters)[1:]
        start = html.index(f'id="stori_xr.accessor.StoriAccessor.{name}"')
        section = re.sub(r"<[^>]+>", "", html[start : start + 200_000])
        for param in params[:3]:
            assert param.lstrip("*") in section, (name, param)
    assert ":func:" not in text  # Sphinx roles became links or code


def test_site_needs_no_network(site: tuple[Path, str]) -> None:
    """No page loads a font, script or stylesheet from another host."""
    out, _ = site
    remote = re.compile(r"""<(?:script|link)[^>]+(?:src|href)="(?:https?:)?//""")
    for page in out.rglob("*.html"):
        assert not remote.search(page.read_text(encoding="utf-8")), page
