"""stori_xr: cloud-free optical reflectance time series fused with SAR, for xarray.

Importing the package registers the ``.stori`` accessor on :class:`xarray.Dataset`
and :class:`xarray.DataArray`. It never imports torch.
"""

from importlib.metadata import PackageNotFoundError, version

from stori_xr import accessor as _accessor  # noqa: F401  (registers .stori)
from stori_xr.exceptions import StoriError
from stori_xr.options import get_options, set_options
from stori_xr.versions import show_versions

try:
    __version__ = version("stori_xr")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0+unknown"

__all__ = ["StoriError", "__version__", "get_options", "set_options", "show_versions"]
