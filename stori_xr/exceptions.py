"""Errors raised by stori_xr.

Every error derives from :class:`StoriError`. Each subclass names a problem the
user can fix, and its message says how.
"""


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
