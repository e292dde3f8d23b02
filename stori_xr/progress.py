"""Progress on stderr, switched by ``stori_xr.set_options(progress=...)``.

Three kinds, all written to stderr (a text bar in a terminal, the stderr stream of a
notebook cell):

- the lazy path: dask's :class:`~dask.diagnostics.ProgressBar` on every computation of
  dask's local schedulers (``.compute()``, ``.stori.to_zarr``), through one callback
  registered when the package is imported that does nothing while progress is off; under
  a ``dask.distributed`` client (which that callback does not see), :func:`compute`
  (used by ``stori interpolate``) shows ``distributed.progress``;
- the eager path (numpy input, run tile by tile by :mod:`stori_xr.blocks`): a bar over
  the tiles (:func:`tiles`);
- a fit (the epochs of ``method="stori"``): a bar over the epochs (:func:`iterate`);

and, once per session, a line saying that numba compiles the kernels
(:func:`first_call`). Nothing is shown inside dask tasks or in threads other than the
main one (:func:`in_worker`), whatever the option.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from typing import Any, TextIO

from dask.callbacks import Callback

from stori_xr.options import OPTIONS

logger = logging.getLogger("stori_xr")

_state = threading.local()  # .active: a stori bar is showing in this thread


def in_worker() -> bool:
    """True inside a dask task or any thread but the main one (no progress there)."""
    if threading.current_thread() is not threading.main_thread():
        return True
    distributed = sys.modules.get("distributed")
    if distributed is None:
        return False
    try:
        distributed.get_worker()
    except ValueError:
        return False
    return True


def _interactive() -> bool:
    """An interactive session: Jupyter or IPython, or the Python prompt."""
    ipython = sys.modules.get("IPython")
    if ipython is not None and getattr(ipython, "get_ipython", lambda: None)() is not None:
        return True
    return hasattr(sys, "ps1") or bool(sys.flags.interactive)


#: Seconds between two redraws of a bar in a terminal or a notebook, and in a file (the
#: stderr of a batch job, sent to a log: a line each time, not a redraw ten times a second).
REDRAW_SECONDS, LOG_SECONDS = 0.1, 10.0


def _terminal(stream: TextIO) -> bool:
    """Whether ``stream`` redraws a line (a terminal, or an interactive session's stream)."""
    try:
        return bool(stream.isatty()) or _interactive()
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return _interactive()


def redraw_seconds(stream: TextIO) -> float:
    """Seconds between two redraws of a bar on ``stream`` (:data:`LOG_SECONDS` in a file)."""
    return REDRAW_SECONDS if _terminal(stream) else LOG_SECONDS


def enabled() -> bool:
    """Whether progress shows here and now (the option, resolved; never in a worker)."""
    option = OPTIONS["progress"]
    on = _interactive() if option == "auto" else bool(option)
    return on and not in_worker()


class Bar:
    """A text progress bar on stderr, drawn once ``progress_after`` seconds have passed.

    In a terminal or a notebook the bar is redrawn in place ten times a second at most;
    on a stream that is neither (a log file) each state is a line of its own, one every
    :data:`LOG_SECONDS` at most.

    Parameters
    ----------
    total : int
        Steps to go.
    desc : str
        What is progressing (``"stori kernel"``).
    unit : str
        What a step is (``"tiles"``, ``"epochs"``).
    out : file, optional
        Where to draw; default ``sys.stderr`` at the time the bar is made.
    """

    width = 30

    def __init__(self, total: int, desc: str, unit: str, out: TextIO | None = None):
        self.total, self.desc, self.unit = max(int(total), 0), desc, unit
        self.out = out if out is not None else sys.stderr
        self.n, self.shown, self._drawn_n = 0, False, -1
        self.after = float(OPTIONS["progress_after"])
        self.start = self._drawn = time.perf_counter()
        self.terminal = _terminal(self.out)
        self.every = redraw_seconds(self.out)

    def update(self, n: int = 1) -> None:
        """Count ``n`` more steps done; redraw at most every :attr:`every` seconds."""
        self.n += n
        now = time.perf_counter()
        if now - self.start >= self.after and (now - self._drawn >= self.every or not self.shown):
            self._draw(now)

    def close(self) -> None:
        """Draw the last state and end the line (nothing if the bar never showed)."""
        now = time.perf_counter()
        if self.shown or now - self.start >= self.after:
            if self.n != self._drawn_n or not self.shown:
                self._draw(now)
            if self.terminal:
                self.out.write("\n")
                self.out.flush()

    def _draw(self, now: float) -> None:
        frac = self.n / self.total if self.total else 1.0
        filled = int(self.width * min(frac, 1.0))
        line = (
            f"{self.desc}: [{'#' * filled:<{self.width}}] {int(100 * frac):3d}% "
            f"{self.n}/{self.total} {self.unit} | {now - self.start:.1f} s"
        )
        line = f"\r{line}" if self.terminal else f"{line}\n"
        with contextlib.suppress(ValueError):  # a closed stream
            self.out.write(line)
            self.out.flush()
        self.shown, self._drawn, self._drawn_n = True, now, self.n

    def __enter__(self) -> Bar:
        _state.active = getattr(_state, "active", 0) + 1
        return self

    def __exit__(self, *exc: object) -> None:
        _state.active -= 1
        self.close()


def iterate(items: Iterable[Any], total: int, desc: str, unit: str) -> Iterator[Any]:
    """``items``, with a :class:`Bar` over them while progress is on.

    Examples
    --------
    >>> [i for i in iterate(range(3), 3, "fit", "epochs")]  # progress off: no bar
    [0, 1, 2]
    """
    if not enabled():
        yield from items
        return
    with Bar(total, desc, unit) as bar:
        for item in items:
            yield item
            bar.update()


class _TileCallback(Callback):
    """Counts the finished tasks of one layer (the method's tiles) on a :class:`Bar`."""

    def __init__(self, layer: str, bar: Bar):
        super().__init__()
        self.layer, self.bar = layer, bar

    def _posttask(self, key, result, dsk, state, id):
        if isinstance(key, tuple) and key and key[0] == self.layer:
            self.bar.update()


@contextlib.contextmanager
def tiles(layer: str, total: int, desc: str) -> Iterator[None]:
    """A bar over the tasks of ``layer`` (one per tile) while dask's local scheduler runs.

    Does nothing while progress is off; dask's own bar stays silent meanwhile.
    """
    if not enabled():
        yield
        return
    with Bar(total, desc, "tiles") as bar, _TileCallback(layer, bar):
        yield


class _LazyBar(Callback):
    """dask's ProgressBar on every local computation, while progress is on.

    Registered once; a computation started while a stori bar shows (the eager path) or
    outside the main thread gets none.
    """

    def __init__(self):
        super().__init__()
        self._local = threading.local()

    def _start(self, dsk):
        from dask.diagnostics import ProgressBar

        bar = None
        if enabled() and not getattr(_state, "active", 0):
            bar = ProgressBar(minimum=float(OPTIONS["progress_after"]), out=sys.stderr)
            bar._start(dsk)
        self._local.bar = bar

    def _pretask(self, key, dsk, state):
        bar = getattr(self._local, "bar", None)
        if bar is not None:
            bar._pretask(key, dsk, state)

    def _finish(self, dsk, state, errored):
        bar = getattr(self._local, "bar", None)
        if bar is not None:
            self._local.bar = None
            bar._finish(dsk, state, errored)


_LAZY = _LazyBar()
_LAZY.register()


def compute(
    collection: Any,
    client: Any = None,
    threads: int | None = None,
    progress: bool | None = None,
    scheduler: str | None = None,
) -> None:
    """Compute ``collection`` (e.g. a delayed Zarr write) with a progress bar on stderr.

    Parameters
    ----------
    collection : dask collection
        What to compute; the result is dropped.
    client : distributed.Client, optional
        Compute on this cluster; default the current client when there is one, else
        dask's local scheduler.
    threads : int, optional
        Threads of the local scheduler (default dask's).
    progress : bool, optional
        Show the bar (default: the ``progress`` option): dask's ``ProgressBar`` on a
        local scheduler, ``distributed.progress`` on a cluster.
    scheduler : str, optional
        The local scheduler (default dask's: ``dask.config`` or the collection's).
    """
    minimum = 0.0 if progress else float(OPTIONS["progress_after"])
    progress = enabled() if progress is None else progress
    if client is None:
        client = _current_client()
    if client is None:
        from dask.diagnostics import ProgressBar

        bar = ProgressBar(minimum=minimum, out=sys.stderr) if progress else None
        options = {"scheduler": scheduler} if scheduler else {}
        if threads is not None:
            options["num_workers"] = threads
        with _quiet_lazy_bar(), bar or contextlib.nullcontext():
            collection.compute(**options)
        return
    future = client.compute(collection)
    if progress:
        from distributed import progress as progress_bar

        with contextlib.redirect_stdout(sys.stderr):  # distributed's bar writes to stdout
            progress_bar(future)
    future.result()


@contextlib.contextmanager
def _quiet_lazy_bar() -> Iterator[None]:
    """No second (registered) bar while :func:`compute` shows its own."""
    _state.active = getattr(_state, "active", 0) + 1
    try:
        yield
    finally:
        _state.active -= 1


def _current_client() -> Any:
    """The current ``dask.distributed`` client, or None (distributed not imported, none)."""
    distributed = sys.modules.get("distributed")
    if distributed is None:
        return None
    try:
        return distributed.get_client()
    except ValueError:
        return None


_said: set[str] = set()


def first_call() -> None:
    """Once per session, say that numba compiles the kernels (stderr when progress is on).

    The kernels are compiled on their first use in a session (about 50 s) unless numba's
    cache (:func:`stori_xr.kernels.jit.cache_dir`) holds them from an earlier one.
    """
    if "numba" in _said or in_worker():
        return
    _said.add("numba")
    from stori_xr.kernels.jit import cache_dir

    folder = os.environ.get("NUMBA_CACHE_DIR") or cache_dir()
    text = (
        "stori_xr: the first call of this session loads the numba kernels, compiling "
        f"those not cached in {folder} (up to about a minute)"
    )
    if enabled():
        print(text, file=sys.stderr, flush=True)
    else:
        logger.info(text)
