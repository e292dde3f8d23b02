"""The package's options: ``stori_xr.set_options(...)``, for a session or a ``with`` block.

Like :func:`xarray.set_options`: calling it sets the options until they are set again;
used as a context manager, it restores the previous values on leaving the block.

Options
-------
progress : bool or "auto", default "auto"
    Show progress on stderr (:mod:`stori_xr.progress`): dask's progress bar when a lazy
    result is computed on dask's local schedulers (``.compute()``, ``.stori.to_zarr``;
    under a ``dask.distributed`` client, :func:`stori_xr.progress.compute` shows
    ``distributed.progress``), a bar over the tiles when numpy
    input is filled, one over the epochs of the fit of ``method="stori"``, and a line on
    the first call saying that numba compiles the kernels. ``"auto"``: on in an
    interactive session (Jupyter, IPython, the Python prompt), off in scripts, tests
    and the ``stori`` command (which has its own ``--quiet``). Never inside dask tasks
    or threads other than the main one.
progress_after : float, default 1.0
    Seconds a computation runs before its bar appears (quick ones stay silent).
"""

from __future__ import annotations

from typing import Any

from stori_xr.exceptions import OptionError

#: The options' current values.
OPTIONS: dict[str, Any] = {"progress": "auto", "progress_after": 1.0}


def _check(name: str, value: Any) -> None:
    if name not in OPTIONS:
        raise OptionError(
            f"{name!r} is not an option of stori_xr; the options are {list(OPTIONS)}."
        )
    if name == "progress" and value not in (True, False, "auto"):
        raise OptionError(f"progress={value!r}: give True, False or 'auto'.")
    if name == "progress_after" and (
        isinstance(value, bool) or not isinstance(value, int | float) or value < 0
    ):
        raise OptionError(f"progress_after={value!r}: give a number of seconds, 0 or more.")


class set_options:  # lower case: used as a function, as xarray.set_options
    """Set stori_xr's options for the session, or within a ``with`` block.

    Parameters
    ----------
    progress : bool or "auto", optional
        Show progress bars on stderr (see :mod:`stori_xr.options`); None leaves the
        option as it is.
    progress_after : float, optional
        Seconds a computation runs before its bar appears; None leaves it as it is.

    Raises
    ------
    OptionError
        For a value an option cannot take.

    Examples
    --------
    >>> import stori_xr
    >>> with stori_xr.set_options(progress=True, progress_after=0):
    ...     stori_xr.get_options()["progress"]
    True
    >>> stori_xr.get_options()["progress"]
    'auto'
    """

    def __init__(self, *, progress: bool | str | None = None, progress_after: float | None = None):
        given = {"progress": progress, "progress_after": progress_after}
        options = {name: value for name, value in given.items() if value is not None}
        for name, value in options.items():
            _check(name, value)
        self._old = {name: OPTIONS[name] for name in options}
        OPTIONS.update(options)

    def __enter__(self) -> set_options:
        return self

    def __exit__(self, *exc: object) -> None:
        OPTIONS.update(self._old)


def get_options() -> dict[str, Any]:
    """A copy of stori_xr's current options (see :func:`set_options`)."""
    return dict(OPTIONS)
