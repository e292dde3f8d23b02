"""The kernels' one numba decorator, caching compiled code outside the package.

numba's ``cache=True`` writes compiled code next to the source, into the package's
``__pycache__`` folder. For an installed package that folder is in site-packages, and
the cache files are not in the install record: ``pip uninstall`` leaves a ``stori_xr/``
folder without ``__init__.py`` behind, which shadows a later (editable) install. So the
kernels cache into the user's cache folder instead: ``$NUMBA_CACHE_DIR`` when it is set
(numba's own rule), otherwise :func:`cache_dir` (``~/.cache/stori_xr/numba`` on Linux,
the platform's cache folder elsewhere). Where no cache folder is writable, the kernels
are compiled once per process and nothing is written.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numba
from numba.core import caching
from numba.misc.appdirs import AppDirs

__all__ = ["cache_dir", "jit"]


def cache_dir() -> str:
    """The folder of the kernels' compiled code (unless ``NUMBA_CACHE_DIR`` is set)."""
    return os.path.join(AppDirs("stori_xr", appauthor=False).user_cache_dir, "numba")


def _numba_class(name: str) -> Any:
    """A class of :mod:`numba.core.caching`, public in recent numba, private before."""
    return getattr(caching, name, None) or getattr(caching, f"_{name}", None)


_UserWide = _numba_class("UserWideCacheLocator")
_UserProvided = _numba_class("UserProvidedCacheLocator")
_CACHING = _UserWide is not None and _UserProvided is not None

if _CACHING:

    class _UserCacheLocator(_UserWide):
        """numba's user-wide locator, in stori_xr's own cache folder."""

        def __init__(self, py_func: Callable, py_file: str):
            super().__init__(py_func, py_file)
            self._cache_path = os.path.join(cache_dir(), self.get_suitable_cache_subpath(py_file))

    class _Impl(caching.CompileResultCacheImpl):
        _locator_classes = (_UserProvided, _UserCacheLocator)  # never the package folder

    class _Cache(caching.FunctionCache):
        _impl_class = _Impl


def jit(function: Callable | None = None, **options: Any) -> Any:
    """``numba.njit(nogil=True, **options)``, cached in the user's cache folder.

    Use as ``@jit`` or ``@jit(error_model="numpy")``.
    """

    def decorate(fn: Callable) -> Any:
        dispatcher = numba.njit(nogil=True, **options)(fn)
        if _CACHING:
            try:
                dispatcher._cache = _Cache(dispatcher.py_func)
            except RuntimeError:  # no writable cache folder: compile in each process
                pass
        return dispatcher

    return decorate if function is None else decorate(function)
