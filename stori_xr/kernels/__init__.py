"""Numerical kernels: plain loops over one pixel's time series, numpy in, numpy out.

Nothing here imports xarray, dask or torch. Each kernel has a slow numpy
reference beside it (``*_reference``) that the tests compare against.
"""

from stori_xr.kernels.timeaxis import (
    SAR_INTERPOLATED,
    SAR_MISSING,
    SAR_NEAREST,
    clear_distance,
    clear_distance_reference,
    interp_time,
    interp_time_reference,
)

__all__ = [
    "SAR_INTERPOLATED",
    "SAR_MISSING",
    "SAR_NEAREST",
    "clear_distance",
    "clear_distance_reference",
    "interp_time",
    "interp_time_reference",
]
