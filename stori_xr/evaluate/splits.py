"""The parts into which every method's error is split, besides the gap length.

Each split (:data:`SPLITS`) divides the hidden values into parts, the same parts for
every method, so that the methods are compared on the same values:

``"neighbour"``: ``"yes"`` / ``"no"``
    Whether any other pixel within ``radius`` pixels (a square window; by default the
    kernel's spatial search radius, ``stori_xr.kernels.stori.DEFAULTS["radius"]``) is
    usable on that date after hiding (acquisitions seconds apart count as one date, as
    the methods merge them). ``"no"`` is a whole neighbourhood cloudy: no method can
    copy a neighbour's change there, only the pixel's own series and SAR can fill it.
    The kernel reads a fixed pattern of offsets inside that square (every pixel of the
    two nearest rings, eight directions beyond), and only neighbours similar to the
    pixel: ``"yes"`` makes a spatial candidate possible, not certain.
``"source"``: the kernel's ``stori_source`` flag of the same value
    ``"temporal"``, ``"sar"``, ``"spatial"``, ``"extrapolated"``, ``"no_data"`` …
    (:data:`stori_xr.kernels.flags.FLAG_MEANINGS`): which candidate family the
    kernel weighted most there. :func:`stori_xr.evaluate.evaluate` runs the kernel on
    the same masked input once per seed when it is not among the methods compared;
    its flags then split every method's error and its own scores are not reported.

The ``"all"`` split has one part, ``"all"``: every hidden value.
"""

from __future__ import annotations

import numpy as np

from stori_xr.exceptions import DataFormatError, OptionError
from stori_xr.kernels.flags import FLAG_MEANINGS, NODATA
from stori_xr.kernels.stori import DEFAULTS as KERNEL_DEFAULTS

__all__ = ["SPLITS", "neighbour_clear", "neighbour_parts", "source_parts"]

#: The splits by name, with what their parts say.
SPLITS: dict[str, str] = {
    "neighbour": "a neighbour within the kernel's search radius is clear on that date "
    "(after hiding): yes / no",
    "source": "the kernel's stori_source flag of the same value",
}


def neighbour_clear(usable: np.ndarray, radius: int | None = None) -> np.ndarray:
    """Whether any other pixel within ``radius`` pixels is usable on the same date.

    Parameters
    ----------
    usable : ndarray of bool, shape (time, y, x)
        Values usable after hiding (clear and not hidden).
    radius : int, optional
        Half-side of the square window, in pixels (Chebyshev distance); default the
        kernel's spatial search radius (``stori_xr.kernels.stori.DEFAULTS["radius"]``).
        The window stops at the edges of the scene.

    Returns
    -------
    ndarray of bool, shape (time, y, x)
        True where at least one pixel other than itself in the window is usable.

    Examples
    --------
    >>> import numpy as np
    >>> usable = np.zeros((1, 1, 5), dtype=bool)
    >>> usable[0, 0, 0] = True
    >>> neighbour_clear(usable, radius=2)[0, 0].tolist()
    [False, True, True, False, False]
    """
    radius = KERNEL_DEFAULTS["radius"] if radius is None else radius
    if isinstance(radius, bool) or not isinstance(radius, int | np.integer) or radius < 0:
        raise OptionError(f"radius={radius!r}: give a whole number of pixels, 0 or more.")
    usable = np.asarray(usable, dtype=bool)
    if usable.ndim != 3:
        raise DataFormatError(f"usable must have dims (time, y, x); got shape {usable.shape}.")
    nt, ny, nx = usable.shape
    # counts of usable pixels in every window, from a summed-area table
    table = np.zeros((nt, ny + 1, nx + 1), dtype=np.int64)
    table[:, 1:, 1:] = usable.cumsum(axis=1).cumsum(axis=2)
    y, x = np.arange(ny), np.arange(nx)
    y0, y1 = np.clip(y - radius, 0, ny)[:, None], np.clip(y + radius + 1, 0, ny)[:, None]
    x0, x1 = np.clip(x - radius, 0, nx)[None, :], np.clip(x + radius + 1, 0, nx)[None, :]
    count = table[:, y1, x1] - table[:, y0, x1] - table[:, y1, x0] + table[:, y0, x0]
    return count - usable > 0


def neighbour_parts(usable: np.ndarray, radius: int | None = None) -> dict[str, np.ndarray]:
    """The ``"neighbour"`` split: ``{"yes": clear neighbour, "no": none}`` masks.

    Parameters
    ----------
    usable : ndarray of bool, shape (time, y, x)
        Values usable after hiding.
    radius : int, optional
        See :func:`neighbour_clear`.

    Returns
    -------
    dict of str to ndarray of bool, shape (time, y, x)
    """
    near = neighbour_clear(usable, radius)
    return {"yes": near, "no": ~near}


def source_parts(flags: np.ndarray, hidden: np.ndarray) -> dict[str, np.ndarray]:
    """The ``"source"`` split: one mask per kernel flag found among the hidden values.

    Parameters
    ----------
    flags : ndarray of int, shape (time, y, x)
        The kernel's ``stori_source`` values; NaN (a date the kernel did not return)
        counts as ``no_data``.
    hidden : ndarray of bool, shape (time, y, x)
        The hidden values.

    Returns
    -------
    dict of str to ndarray of bool
        ``{flag meaning: flags == value}`` for every flag value that some hidden value
        has, in the order of the flag values.

    Examples
    --------
    >>> import numpy as np
    >>> parts = source_parts(np.array([1, 3, 3, 0]), np.array([True, True, True, False]))
    >>> {name: mask.tolist() for name, mask in parts.items()}
    {'temporal': [True, False, False, False], 'spatial': [False, True, True, False]}
    """
    flags = np.asarray(flags)
    if flags.dtype.kind == "f":
        flags = np.where(np.isfinite(flags), flags, NODATA)
    flags = flags.astype(np.int64)
    hidden = np.asarray(hidden, dtype=bool)
    meanings = FLAG_MEANINGS.split()
    found = np.unique(flags[hidden])
    return {meanings[v] if 0 <= v < len(meanings) else str(v): flags == v for v in found}
