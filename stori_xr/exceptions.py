"""Errors raised by stori_xr.

Every error derives from :class:`StoriError`. Each subclass names a problem the
user can fix, and its message says how. Every warning derives from :class:`StoriWarning`
and is attributed to the user's line that called stori_xr (see :func:`warn`).
"""

import sys
import warnings


class StoriError(Exception):
    """Base class of every error raised by stori_xr."""


class TimeDimError(StoriError, ValueError):
    """The input has no datetime dimension, or more than one."""


class SpatialDimError(StoriError, ValueError):
    """The input has no pair of spatial dimensions named y/x (or lat/lon)."""


class UnsortedTimeError(StoriError, ValueError):
    """The time coordinate is not sorted in increasing order."""


class TimesError(StoriError, ValueError):
    """Target dates that are neither a frequency, a date nor a list of dates."""


class NoOverlapError(StoriError, ValueError):
    """Two inputs share no dates or no ground."""


class MissingCRSError(StoriError, ValueError):
    """Two grids differ and a CRS is needed to bring one onto the other."""


class MissingVariableError(StoriError, KeyError):
    """A variable the operation needs is absent (SAR without VV or VH, unknown band)."""

    def __str__(self) -> str:
        # KeyError quotes its message; show it plainly instead.
        return str(self.args[0]) if self.args else ""


class UnitsError(StoriError, ValueError):
    """Declared units are missing, unknown, or contradicted by the values."""


class UnscaledReflectanceError(StoriError, ValueError):
    """Optical values look like digital numbers rather than reflectance."""


class AllMissingError(StoriError, ValueError):
    """Every value of an input is missing."""


class ChunkingError(StoriError, ValueError):
    """A dask chunk layout the operation cannot work with (time split into several chunks)."""


class MethodError(StoriError, ValueError):
    """An unknown gap-filling method, or an option it does not take."""


class DataFormatError(StoriError, ValueError):
    """A file or object is not in a layout the reader recognises."""


class OptionError(StoriError, ValueError):
    """An option whose value makes no sense (a negative ``max_gap``, a reversed range …)."""


class StoreExistsError(StoriError, FileExistsError):
    """The output store exists and the write mode does not allow replacing it."""


class IncompleteStoreError(StoriError, ValueError):
    """A store from a write that failed or was interrupted: it does not hold all its data."""


class StoriWarning(UserWarning):
    """Base class of the warnings stori_xr gives; filter them with this class."""


class IncompleteStoreWarning(StoriWarning):
    """An incomplete store was opened on request: unwritten chunks read as missing."""


class NoCloudMaskWarning(StoriWarning):
    """Optical data read without a cloud mask: only fill values are marked unusable."""


class ExtrapolationWarning(StoriWarning):
    """Target dates outside the optical period: their values are extrapolated."""


def warn(message: str, category: type[Warning] = StoriWarning) -> None:
    """Warn, attributed to the first caller outside stori_xr (as xarray does).

    The line shown is the user's, whether they called a free function or the accessor.
    """
    frame, level = sys._getframe(1), 2  # level 2: the frame that called warn()
    while frame is not None and frame.f_globals.get("__name__", "").startswith("stori_xr"):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)
