"""What to paste into a bug report: Python, the platform and the versions of the dependencies."""

from __future__ import annotations

import locale
import os
import platform
import struct
import sys
from importlib.metadata import PackageNotFoundError, version
from typing import TextIO

#: Distributions whose versions :func:`show_versions` prints, in this order.
PACKAGES = (
    "stori_xr",
    "numpy",
    "pandas",
    "xarray",
    "dask",
    "distributed",
    "numba",
    "llvmlite",
    "zarr",
    "numcodecs",
    "rioxarray",
    "rasterio",
    "pyproj",
    "netCDF4",
    "h5netcdf",
    "scipy",
    "torch",
    "matplotlib",
    "tqdm",
    "pip",
    "setuptools",
)

#: Environment variables that change how stori_xr computes.
ENVIRONMENT = (
    "STORI_DATA",
    "OMP_NUM_THREADS",
    "NUMBA_NUM_THREADS",
    "NUMBA_THREADING_LAYER",
    "NUMBA_DISABLE_JIT",
    "DASK_CONFIG",
)


def system_info() -> list[tuple[str, str]]:
    """Python, the platform, the locale and the environment variables that matter."""
    uname = platform.uname()
    lang, encoding = locale.getlocale()
    info = [
        ("python", sys.version.replace("\n", " ")),
        ("python-bits", str(struct.calcsize("P") * 8)),
        ("executable", sys.executable),
        ("OS", f"{uname.system} {uname.release}"),
        ("OS-version", uname.version),
        ("machine", uname.machine),
        ("processor", uname.processor or "unknown"),
        ("CPUs", str(os.cpu_count())),
        ("byteorder", sys.byteorder),
        ("locale", f"{lang}.{encoding}" if lang else str(encoding)),
    ]
    info += [(name, os.environ[name]) for name in ENVIRONMENT if name in os.environ]
    return info


def package_versions() -> list[tuple[str, str]]:
    """The installed version of each of :data:`PACKAGES` (``"None"`` when not installed).

    Versions are read from the installed distributions' metadata, so nothing is imported
    (torch is not). Libraries already imported add the C libraries they were built with.
    """
    found = []
    for name in PACKAGES:
        try:
            found.append((name, version(name)))
        except PackageNotFoundError:
            found.append((name, "None"))
    rasterio = sys.modules.get("rasterio")
    if rasterio is not None:
        found.append(("GDAL", str(getattr(rasterio, "__gdal_version__", "unknown"))))
    netcdf = sys.modules.get("netCDF4")
    if netcdf is not None:
        found.append(("libnetcdf", str(getattr(netcdf, "__netcdf4libversion__", "unknown"))))
        found.append(("libhdf5", str(getattr(netcdf, "__hdf5libversion__", "unknown"))))
    return found


def show_versions(file: TextIO | None = None) -> None:
    """Print Python, platform and dependency versions, for bug reports.

    Like :func:`xarray.show_versions`: paste its output into an issue. Versions come
    from the installed packages' metadata; nothing is imported to find them (torch is
    not).

    Parameters
    ----------
    file : file-like, optional
        Where to print; default :data:`sys.stdout`.

    Examples
    --------
    >>> import io
    >>> import stori_xr
    >>> buffer = io.StringIO()
    >>> stori_xr.show_versions(file=buffer)
    >>> print(buffer.getvalue())  # doctest: +ELLIPSIS
    <BLANKLINE>
    INSTALLED VERSIONS
    ------------------
    python: ...
    xarray: ...
    """
    out = sys.stdout if file is None else file
    width = max(len(k) for k, _ in [*system_info(), *package_versions()])
    print("\nINSTALLED VERSIONS\n------------------", file=out)
    for key, value in system_info():
        print(f"{key + ':':<{width + 2}}{value}", file=out)
    print("", file=out)
    for key, value in package_versions():
        print(f"{key + ':':<{width + 2}}{value}", file=out)
