"""Checks and normalisation of user input, before any graph is built.

Every check raises a :class:`~stori_xr.exceptions.StoriError` subclass whose
message says what is wrong and how to fix it. Checks that need the values
(units, scaling, all-missing) run at once on numpy-backed input and inside the
dask tasks on dask-backed input, so that building a lazy result never computes.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from stori_xr.exceptions import (
    AllMissingError,
    ChunkingError,
    DataFormatError,
    MissingVariableError,
    SpatialDimError,
    TimeDimError,
    UnitsError,
    UnscaledReflectanceError,
    UnsortedTimeError,
)

#: Spellings of decibels (lower case) that :func:`parse_sar_units` accepts.
DB_UNITS = frozenset({"db", "decibel", "decibels"})
#: Spellings of linear power (lower case) that :func:`parse_sar_units` accepts.
LINEAR_UNITS = frozenset({"1", "linear", "power", "m2/m2", "m2 m-2", "m^2/m^2"})

#: Variables of an optical Dataset that are never treated as bands.
NON_BAND_VARIABLES = frozenset({"clear", "SCL", "CLM", "pixel_qa", "QA-PIXEL", "spatial_ref"})

_X_NAMES = ("x", "lon", "longitude")
_Y_NAMES = ("y", "lat", "latitude")


def find_time_dim(
    obj: xr.Dataset | xr.DataArray,
    time_dim: Hashable | None = None,
    *,
    require_datetime64: bool = True,
    source: object = None,
) -> Hashable:
    """Return the name of the one time dimension of ``obj``.

    The one rule of stori_xr for finding time, used by the readers and by the
    validation alike: the time dimension is the one dimension whose coordinate holds
    ``datetime64`` values or ISO 8601 date strings (see :func:`parse_dates`).

    Parameters
    ----------
    obj : Dataset or DataArray
        The cube.
    time_dim : hashable, optional
        Use this dimension; it must exist.
    require_datetime64 : bool, default True
        The validation of user input (True) refuses a time coordinate of date strings
        with a message saying how to convert it; the readers (False) accept it and
        convert it themselves, and take an explicit ``time_dim`` whatever its
        coordinate holds.
    source : path, optional
        The file a reader is reading ``obj`` from: the messages name it and give the
        fix at reading (``open_cube(path, time_dim=..., times=[...])``), not one for
        the object.

    Returns
    -------
    hashable
        The name of the time dimension.

    Raises
    ------
    TimeDimError
        When there is no time dimension, several and ``time_dim`` is not given,
        ``time_dim`` is not a dimension, or (with ``require_datetime64``) the time
        coordinate holds strings or no dates.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> ds = xr.Dataset(coords={"t": ["2020-01-01", "2020-01-11"], "band": ["B04", "B08"]})
    >>> find_time_dim(ds, require_datetime64=False)
    't'
    """
    where = "" if source is None else f"{source}: "
    if time_dim is not None:
        if time_dim not in obj.dims:
            raise TimeDimError(
                f"{where}time_dim={time_dim!r} is not a dimension of the input; its "
                f"dimensions are {list(obj.dims)}."
            )
        found = time_dim
    else:
        candidates = [d for d in obj.dims if d in obj.coords and _holds_dates(obj[d])]
        if not candidates:
            if source is None:
                fix = (
                    "give the time coordinate datetime values (e.g. obj.assign_coords("
                    "time=pd.to_datetime(obj.time.values))) or name the dimension with "
                    "time_dim="
                )
            else:
                guess = next((d for d in obj.dims if d not in _Y_NAMES + _X_NAMES), "time")
                fix = (
                    "name the time dimension and give its dates as you read it, e.g. "
                    f"open_cube(path, time_dim={guess!r}, times=[...]) with one date per step"
                )
            raise TimeDimError(
                f"{where}no datetime64 dimension among {list(obj.dims)} (nor one of ISO "
                f"date strings); {fix}."
            )
        if len(candidates) > 1:
            fix = "time_dim=" if source is None else f"open_cube(path, time_dim={candidates[0]!r})"
            raise TimeDimError(
                f"{where}several datetime64 dimensions (or dimensions of date strings) "
                f"{candidates}; say which one is time with {fix}."
            )
        found = candidates[0]
    if require_datetime64:
        _require_datetime64(obj, found)
    return found


def _require_datetime64(obj: xr.Dataset | xr.DataArray, dim: Hashable) -> None:
    """TimeDimError, naming the conversion, unless ``obj[dim]`` holds datetime64 values."""
    if dim in obj.coords and np.issubdtype(obj[dim].dtype, np.datetime64):
        return
    fix = f"obj.assign_coords({dim}=pd.to_datetime(obj[{dim!r}].values))"
    if dim not in obj.coords:
        raise TimeDimError(f"dimension {dim!r} has no coordinate: give it dates, e.g. with {fix}.")
    if _holds_dates(obj[dim]):
        iso = fix.replace(".values)", ".values, format='ISO8601')")
        raise TimeDimError(
            f"the time coordinate {dim!r} holds date strings ({obj[dim].values[:2].tolist()}), "
            f"not datetime64 values: convert it with {iso} (stori_xr's readers do this)."
        )
    raise TimeDimError(
        f"dimension {dim!r} has no datetime64 coordinate (dtype {obj[dim].dtype}); convert "
        f"it with {fix}."
    )


def _holds_dates(coord: xr.DataArray) -> bool:
    """True for a datetime64 coordinate, or a string one that :func:`parse_dates` reads."""
    if np.issubdtype(coord.dtype, np.datetime64):
        return True
    return coord.dtype.kind in "USO" and parse_dates(coord.values) is not None


def parse_dates(values: Any) -> np.ndarray | None:
    """``values`` as ``datetime64[ns]`` when they are ISO 8601 dates, else None.

    Datetime64 values are returned as they are (in ns); strings must all parse as ISO
    8601 (``"2018-06-06"``, ``"2018-06-06T10:44:59"`` …), with at least one date that is
    not NaT.

    Parameters
    ----------
    values : array-like
        Dates or strings.

    Returns
    -------
    numpy.ndarray or None
        The dates, or None when ``values`` are not dates.

    Examples
    --------
    >>> parse_dates(["2018-06-06", "2018-06-16T10:00"])
    array(['2018-06-06T00:00:00.000000000', '2018-06-16T10:00:00.000000000'],
          dtype='datetime64[ns]')
    >>> parse_dates(["B04", "B08"]) is None
    True
    """
    array = np.asarray(values)
    if array.dtype.kind == "M":
        return np.asarray(pd.DatetimeIndex(array.ravel()).as_unit("ns").values).reshape(
            array.shape
        )
    try:
        parsed = pd.to_datetime(array.ravel().astype(str), format="ISO8601")
    except (ValueError, TypeError, OverflowError):
        return None
    if parsed.isna().all():
        return None
    return np.asarray(parsed.as_unit("ns").values).reshape(array.shape)


def find_spatial_dims(obj: xr.Dataset | xr.DataArray) -> tuple[Hashable, Hashable]:
    """Return the names of the (y, x) dimensions of ``obj``.

    Raises
    ------
    SpatialDimError
        When no pair of spatial dimensions named y/x (or lat/lon) is found.
    """
    y = next((d for d in _Y_NAMES if d in obj.dims), None)
    x = next((d for d in _X_NAMES if d in obj.dims), None)
    if y is None or x is None:
        others = [d for d in obj.dims if not (d in obj.coords and _holds_dates(obj[d]))]
        pair = others if len(others) == 2 else ["rows", "cols"]
        renames = {d: new for d, new in zip(pair, ("y", "x"), strict=True) if d != new}
        raise SpatialDimError(
            f"spatial dimensions not found among {list(obj.dims)}: name them 'y' and 'x' "
            f"(e.g. obj.rename({renames!r}))."
        )
    return y, x


def check_sorted(obj: xr.Dataset | xr.DataArray, time_dim: Hashable, what: str) -> None:
    """Raise :class:`UnsortedTimeError` unless ``obj[time_dim]`` increases (ties allowed).

    Raises :class:`AllMissingError` when there is no date at all.
    """
    t = obj[time_dim].values
    if t.size == 0:
        raise AllMissingError(
            f"the {what} input has no dates (its time dimension {time_dim!r} is empty); "
            "check the selection (.sel / .isel) that made it."
        )
    if t.size > 1 and np.any(t[1:] < t[:-1]):
        raise UnsortedTimeError(
            f"the {what} time coordinate {time_dim!r} is not sorted; sort it first with "
            f".sortby({time_dim!r})."
        )
    if np.isnat(t).any():
        raise UnsortedTimeError(
            f"the {what} time coordinate {time_dim!r} holds NaT values; drop them with "
            f".dropna({time_dim!r}, subset=[...]) or .sel({time_dim}=~obj[{time_dim!r}].isnull())."
        )


def check_time_chunks(
    obj: xr.Dataset | xr.DataArray, time_dim: Hashable, what: str, rechunk: bool
) -> xr.Dataset | xr.DataArray:
    """Make sure ``time_dim`` is one dask chunk: rechunk when allowed, else raise.

    Raises
    ------
    ChunkingError
        When time spans several chunks and ``rechunk`` is False.
    """
    chunks = obj.chunksizes
    if time_dim in chunks and len(chunks[time_dim]) > 1:
        if not rechunk:
            raise ChunkingError(
                f"the {what} input has its time dimension {time_dim!r} split into "
                f"{len(chunks[time_dim])} dask chunks, but this operation needs whole time "
                f"series: rechunk with .chunk({{{time_dim!r}: -1}}) or pass rechunk=True."
            )
        obj = obj.chunk({time_dim: -1})
    return obj


def as_band_dataset(
    obj: xr.Dataset | xr.DataArray, band_dim: Hashable = "band"
) -> tuple[xr.Dataset, bool]:
    """Return a Dataset of bands, and whether the input was a DataArray with a band dim.

    Raises
    ------
    DataFormatError
        When ``obj`` is not an xarray object.
    """
    if isinstance(obj, xr.Dataset):
        return obj, False
    if not isinstance(obj, xr.DataArray):
        raise DataFormatError(
            f"the input must be an xarray Dataset (one variable per band) or a DataArray, "
            f"not {type(obj).__name__}; wrap arrays with xr.DataArray(values, dims=('time', "
            "'y', 'x'), coords=...) or read files with stori_xr.io."
        )
    if band_dim not in obj.dims:
        name = obj.name if obj.name is not None else "reflectance"
        return obj.to_dataset(name=name), False
    labels = [str(b) for b in obj[band_dim].values] if band_dim in obj.coords else None
    if labels is None:
        raise MissingVariableError(
            f"the DataArray has a {band_dim!r} dimension without labels; label the bands "
            f"with .assign_coords({band_dim}=['B04', 'B08', ...])."
        )
    da = obj.assign_coords({band_dim: labels})
    extra = [c for c in da.coords if band_dim in da[c].dims and c != band_dim]
    ds = da.drop_vars(extra).to_dataset(dim=band_dim)
    return ds, True


def select_bands(ds: xr.Dataset, time_dim: Hashable, bands: Sequence[str] | None) -> list[str]:
    """Names of the band variables: the floating-point variables with time and space dims.

    Variables marked as masks or auxiliary data (ACDD ``coverage_content_type``
    other than ``physicalMeasurement``, as the readers in :mod:`stori_xr.io` set it)
    are not bands.

    Raises
    ------
    MissingVariableError
        When a requested band does not exist, or no band is found.
    """
    if isinstance(bands, str):  # one band by its name, not a list of its letters
        bands = [bands]
    if bands is not None:
        missing = [b for b in bands if b not in ds.data_vars]
        if missing:
            raise MissingVariableError(
                f"bands {missing} are not in the optical input; {_bands_and_others(ds, time_dim)}."
            )
        return list(bands)
    found = _band_variables(ds, time_dim, find_spatial_dims(ds))
    if not found:
        raise MissingVariableError(
            f"no band variable found in {list(ds.data_vars)}: bands are floating-point "
            f"reflectance variables with dims ({time_dim}, y, x); integer digital numbers "
            "must be scaled to reflectance first (e.g. with stori_xr.io.open_sentinel2)."
        )
    return found


def _band_variables(
    ds: xr.Dataset, time_dim: Hashable, yx: tuple[Hashable, Hashable]
) -> list[str]:
    """The variables of ``ds`` that :func:`select_bands` takes for bands."""
    return [
        str(name)
        for name, var in ds.data_vars.items()
        if name not in NON_BAND_VARIABLES
        and var.attrs.get("coverage_content_type", "physicalMeasurement") == "physicalMeasurement"
        and {time_dim, *yx} <= set(var.dims)
        and np.issubdtype(var.dtype, np.floating)
    ]


def _bands_and_others(ds: xr.Dataset, time_dim: Hashable) -> str:
    """What ``ds`` holds: its bands as :func:`select_bands` finds them, and the rest."""
    try:
        bands = _band_variables(ds, time_dim, find_spatial_dims(ds))
    except SpatialDimError:
        return f"its variables are {[str(v) for v in ds.data_vars]}"
    others = [str(v) for v in ds.data_vars if v not in bands]
    return f"its bands are {bands}" + (f" (other variables: {others})" if others else "")


def clear_mask(ds: xr.Dataset, clear: xr.DataArray | str | None) -> xr.DataArray | None:
    """The boolean clear mask: ``clear`` itself, the variable it names, or ``ds.clear``.

    Returns None when there is none.

    Raises
    ------
    MissingVariableError
        When ``clear`` names no variable.
    DataFormatError
        When the mask is not a boolean DataArray on the optical dims and labels.
    """
    if isinstance(clear, str):
        if clear not in ds:
            raise MissingVariableError(f"clear={clear!r} is not a variable of the optical input.")
        mask = ds[clear]
    elif clear is not None:
        mask = clear
    elif "clear" in ds:
        mask = ds["clear"]
    else:
        return None
    if not isinstance(mask, xr.DataArray):
        raise DataFormatError(
            f"clear= must be a boolean DataArray on the optical grid or the name of one, "
            f"not {type(mask).__name__}."
        )
    if mask.dtype != bool:
        raise DataFormatError(
            f"the clear mask must be boolean (True = usable), got dtype {mask.dtype}; "
            "convert it, e.g. clear=(scl == 4) | (scl == 5) | (scl == 6)."
        )
    _check_on_grid(mask, ds)
    return mask


def _check_on_grid(mask: xr.DataArray, ds: xr.Dataset) -> None:
    """Raise :class:`DataFormatError` unless ``mask`` lies on the optical dims and labels.

    xarray would otherwise align the two by their labels and silently drop the pixels
    or dates the mask does not cover.
    """
    unknown = [d for d in mask.dims if d not in ds.dims]
    if unknown:
        raise DataFormatError(
            f"the clear mask has dims {list(mask.dims)}, but {unknown} are not dims of the "
            f"optical input ({list(ds.dims)}); give it the optical dims, e.g. with "
            ".rename(...) or .transpose(...)."
        )
    fix = (
        "give a mask on the same grid and dates, e.g. mask.reindex_like(optical, fill_value=False)"
    )
    for dim in mask.dims:
        if mask.sizes[dim] != ds.sizes[dim]:
            raise DataFormatError(
                f"the clear mask's {dim!r} ({mask.sizes[dim]} values) is not the optical "
                f"input's ({ds.sizes[dim]} values): {fix}."
            )
        if dim in mask.coords and dim in ds.coords:
            ours, theirs = mask[dim].values, ds[dim].values
            if not np.array_equal(ours, theirs):
                raise DataFormatError(
                    f"the clear mask's {dim!r} labels differ from the optical input's "
                    f"({_label_difference(ours, theirs)}): {fix}, or, if only its labels "
                    f"are off, mask.assign_coords({dim}=optical[{dim!r}])."
                )


def _label_difference(ours: np.ndarray, theirs: np.ndarray) -> str:
    """How two label arrays of one size differ: a constant shift, or the first difference."""
    if ours.dtype.kind in "iufmM" and theirs.dtype.kind == ours.dtype.kind:
        shift = ours - theirs
        if np.all(shift == shift[0]):
            step = pd.Timedelta(shift[0]) if shift.dtype.kind == "m" else shift[0].item()
            return f"all shifted by {step}"
    i = int(np.argmax(ours != theirs))
    return f"first at position {i}: {_label(ours[i])} where the optical has {_label(theirs[i])}"


def _label(value: Any) -> str:
    """One coordinate label as a user reads it."""
    if isinstance(value, np.datetime64):
        return str(pd.Timestamp(value))
    return repr(value.item() if isinstance(value, np.generic) else value)


def parse_sar_units(units: object, where: str) -> str:
    """Return ``"dB"`` or ``"linear"`` for a SAR unit: the one rule of stori_xr.

    The readers' ``units=`` argument, the ``units`` attribute of SAR variables and the
    ``sar_units=`` option all go through it. Case and surrounding blanks are ignored;
    :data:`DB_UNITS` mean decibels, :data:`LINEAR_UNITS` linear power.

    Parameters
    ----------
    units : object
        The unit as given (``"dB"``, ``"1"``, ``"linear"`` …).
    where : str
        Where the unit comes from, as the user would write it (``"units"``,
        ``"sar['VV'].attrs['units']"``); the error message names it.

    Returns
    -------
    str
        ``"dB"`` or ``"linear"``.

    Raises
    ------
    UnitsError
        When the unit is neither.

    Examples
    --------
    >>> parse_sar_units(" Decibels ", "units"), parse_sar_units("m2/m2", "units")
    ('dB', 'linear')
    """
    key = str(units).strip().lower()
    if key in DB_UNITS:
        return "dB"
    if key in LINEAR_UNITS:
        return "linear"
    raise UnitsError(
        f"{where}={units!r} is not a unit of SAR backscatter stori_xr knows: use 'dB' for "
        f"decibels (also {sorted(DB_UNITS - {'db'})}) or 'linear' / '1' for linear power "
        f"(also {sorted(LINEAR_UNITS - {'1', 'linear'})})."
    )


def sar_units(var: xr.DataArray, declared: str | None) -> str:
    """Return ``"dB"`` or ``"linear"`` from ``declared`` or the ``units`` attribute.

    Parameters
    ----------
    var : DataArray
        A SAR variable.
    declared : str, optional
        The units the user declared (``sar_units=``); they take precedence.

    Returns
    -------
    str
        ``"dB"`` or ``"linear"`` (see :func:`parse_sar_units`).

    Raises
    ------
    UnitsError
        When the units are missing or unknown.
    """
    if declared is not None:
        return parse_sar_units(declared, "sar_units")
    units = var.attrs.get("units")
    if units is None:
        raise UnitsError(
            f"SAR variable {var.name!r} has no 'units' attribute: set it, e.g. "
            f"sar[{var.name!r}].attrs['units'] = 'dB' (or '1' for linear power), "
            "or pass sar_units='dB'."
        )
    return parse_sar_units(units, f"sar[{var.name!r}].attrs['units']")


_SAMPLE = 100_003  # values looked at by the value checks (a prime stride keeps it spread)


def _finite_sample(block: np.ndarray) -> np.ndarray:
    """The finite values of an evenly strided sample of at most ~100 000 values."""
    flat = block.reshape(-1)
    step = max(1, flat.size // _SAMPLE)
    v = flat[::step]
    return v[np.isfinite(v)]


def _check_sar_values(block: np.ndarray, name: str, units: str) -> np.ndarray:
    """Raise :class:`UnitsError` when values contradict the declared units."""
    v = _finite_sample(block)
    if v.size == 0:
        return block
    med = float(np.median(v))
    if abs(med) > 100:
        raise UnitsError(
            f"SAR variable {name!r} has a median of {med:.4g}, which is neither dB nor linear "
            "power: the values look like scaled integers; decode them first (e.g. "
            "WorldCereal stores dB x 10000: divide by 1e4) or use stori_xr.io.open_sentinel1."
        )
    if units == "linear" and np.mean(v < 0) > 0.01:
        raise UnitsError(
            f"SAR variable {name!r} is declared linear power but {np.mean(v < 0):.0%} of its "
            "values are negative, as in dB: set its 'units' attribute to 'dB'."
        )
    if units == "dB" and v.min() >= 0 and med < 1:
        raise UnitsError(
            f"SAR variable {name!r} is declared in dB but all values are >= 0 with a median "
            f"of {med:.3g}, as in linear power: set its 'units' attribute to '1' (linear)."
        )
    return block


def check_reflectance_block(block: np.ndarray, name: str) -> np.ndarray:
    """Raise :class:`UnscaledReflectanceError` when a block of values looks like digital numbers.

    Used as it is inside the tasks of the gap filling, and through
    :func:`check_reflectance_values` on DataArrays.
    """
    v = _finite_sample(block)
    if v.size and float(np.median(v)) > 2.0:
        raise UnscaledReflectanceError(
            f"optical band {name!r} has a median of {float(np.median(v)):.4g}: it looks like "
            "digital numbers, not reflectance (0-1). Scale it first (Sentinel-2 L2A: DN / "
            "10000, minus 0.1 from processing baseline 04.00 on) or read it with "
            "stori_xr.io.open_sentinel2."
        )
    return block


def checked(var: xr.DataArray, check: Callable[..., np.ndarray], *args: object) -> xr.DataArray:
    """Apply a value check now (numpy) or inside every dask task (dask)."""
    if var.chunks is None:
        check(var.values, *args)
        return var
    data = var.data.map_blocks(check, *args, dtype=var.dtype, meta=np.array((), var.dtype))
    return var.copy(data=data)


def check_sar_values(var: xr.DataArray, units: str) -> xr.DataArray:
    """Check that SAR values agree with ``units`` (see :func:`checked`)."""
    return checked(var, _check_sar_values, str(var.name), units)


def check_reflectance_values(var: xr.DataArray) -> xr.DataArray:
    """Check that optical values are reflectance, not digital numbers."""
    return checked(var, check_reflectance_block, str(var.name))


def check_not_all_missing(var: xr.DataArray, what: str) -> None:
    """Raise :class:`AllMissingError` when a numpy-backed variable has no finite value.

    Dask-backed variables are not checked (it would need a compute); an all-missing
    dask input gives an all-missing result.
    """
    if var.chunks is None and not np.isfinite(var.values).any():
        raise AllMissingError(
            f"every value of {what} {var.name!r} is missing (NaN): check the file, the "
            "selection, or the fill-value decoding."
        )
