"""Time coordinates: conversion to days, target dates, and groups of near-simultaneous dates."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from stori_xr.exceptions import (
    ExtrapolationWarning,
    NoOverlapError,
    OptionError,
    TimesError,
    UnsortedTimeError,
    warn,
)

_NS_PER_DAY = 86_400e9

#: Acquisitions closer than this are merged into one (two granules of one overpass).
MERGE_WITHIN = "60s"
#: An optical acquisition this close to a target date gives that date its value.
MATCH_WITHIN = "12h"

TimesLike = str | Sequence[Any] | np.ndarray | pd.DatetimeIndex | xr.DataArray | None


def to_days(times: np.ndarray) -> np.ndarray:
    """Datetimes as float64 days since 1970-01-01."""
    ns = np.asarray(times, dtype="datetime64[ns]").astype(np.int64)
    return ns / _NS_PER_DAY


def to_timedelta_days(
    value: str | float | pd.Timedelta | np.timedelta64,
    name: str = "duration",
    *,
    positive: bool = False,
) -> float:
    """A duration given as ``"12D"``, a Timedelta or a number of days, in days.

    Parameters
    ----------
    value : str, number, Timedelta or timedelta64
        The duration.
    name : str, default "duration"
        The option it was given as, for the error message.
    positive : bool, default False
        Refuse 0 as well as negative durations.

    Raises
    ------
    OptionError
        When ``value`` is not a duration, is negative (or 0 when ``positive``), or is
        not finite.
    """
    if isinstance(value, bool):
        days = np.nan
    elif isinstance(value, np.timedelta64):  # a numpy integer too: not a number of days
        days = pd.Timedelta(value) / pd.Timedelta("1D")
    elif isinstance(value, int | float | np.integer | np.floating):
        days = float(value)
    else:
        try:
            days = pd.Timedelta(value) / pd.Timedelta("1D")
        except (ValueError, TypeError, OverflowError):
            days = np.nan
    if not np.isfinite(days):
        raise OptionError(
            f"{name}={value!r} is not a duration: give a number of days (e.g. 12) or a "
            "pandas duration string such as '12D' or '36h'."
        )
    if days < 0 or (positive and days == 0):
        raise OptionError(
            f"{name}={value!r} must be {'longer than 0' if positive else '0 or more'}: give "
            "e.g. '12D' or a number of days."
        )
    return float(days)


def resolve_times(times: TimesLike, optical_times: np.ndarray) -> np.ndarray:
    """Target dates: the optical dates, a frequency string, or explicit dates.

    Parameters
    ----------
    times : None, str, or sequence of datetimes
        ``None`` keeps the optical dates; a pandas frequency such as ``"5D"`` makes
        a regular series from the first optical day to the last; anything else is
        converted with :func:`pandas.to_datetime`.
    optical_times : ndarray of datetime64
        The (merged, sorted) optical acquisition times.

    Returns
    -------
    ndarray of datetime64[ns]
        Sorted target dates without duplicates.
    """
    if times is None:
        return np.asarray(optical_times, dtype="datetime64[ns]")
    if isinstance(times, bool | int | float | complex | np.number):
        raise TimesError(
            f"times={times!r} is a number, not dates: give a frequency such as '5D', a date "
            "such as '2021-06-01', or a list of dates."
        )
    if isinstance(times, str):
        try:
            freq = pd.tseries.frequencies.to_offset(times)
        except ValueError:
            freq = None
        if freq is None:  # not a frequency: one date such as "2021-06-01"?
            try:
                return np.array([pd.Timestamp(times).to_datetime64()], dtype="datetime64[ns]")
            except ValueError as err:
                raise TimesError(
                    f"times={times!r} is neither a pandas frequency such as '5D' or '1W' nor "
                    "a date; give a frequency, a date or a list of dates."
                ) from err
        if freq.n <= 0:
            raise TimesError(
                f"times={times!r} is not a step forward in time: give a positive frequency "
                "such as '5D' or '1W'."
            )
        start = pd.Timestamp(optical_times[0]).floor("D")
        out = pd.date_range(start, pd.Timestamp(optical_times[-1]), freq=freq)
        if out.size == 0:
            raise NoOverlapError(
                f"times={times!r} gives no date within the optical period "
                f"({span(optical_times)}); give a shorter frequency or a list of dates."
            )
        return out.values.astype("datetime64[ns]")
    values = np.asarray(times.values if isinstance(times, xr.DataArray) else times).ravel()
    if values.dtype.kind in "biufc":
        raise TimesError(
            f"times={_short(times)} holds numbers, not dates: give a frequency such as "
            "'5D', a date such as '2021-06-01', or a list of dates."
        )
    try:
        out = pd.to_datetime(values).values.astype("datetime64[ns]")
    except (ValueError, TypeError, OverflowError):
        bad = [v for v in values.tolist() if pd.isna(pd.to_datetime(v, errors="coerce"))]
        raise TimesError(
            f"times= holds values that are not dates ({_short(bad)}): give a frequency "
            "such as '5D', a date such as '2021-06-01', or a list of dates."
        ) from None
    if out.size == 0:
        raise NoOverlapError("times= is empty; give at least one target date.")
    if np.isnat(out).any():
        raise TimesError(f"times={_short(times)} holds missing dates (NaT); drop them first.")
    if np.any(out[1:] <= out[:-1]):
        raise UnsortedTimeError(
            "the target dates in times= must be increasing without repeats; pass "
            "np.unique(times) to sort them and drop duplicates."
        )
    return out


def time_groups(times: np.ndarray, within_days: float) -> np.ndarray:
    """Group labels: consecutive acquisitions closer than ``within_days`` share one."""
    t = to_days(times)
    if t.size == 0:
        return np.zeros(0, dtype=np.int64)
    new = np.r_[True, np.diff(t) > within_days]
    return np.cumsum(new) - 1


def span(times: np.ndarray) -> str:
    """``'YYYY-MM-DD to YYYY-MM-DD'``: the first and last of sorted dates, for messages."""
    return f"{pd.Timestamp(times[0]):%Y-%m-%d} to {pd.Timestamp(times[-1]):%Y-%m-%d}"


def merged_times(times: np.ndarray, within_days: float) -> np.ndarray:
    """The first time of each group of acquisitions closer than ``within_days``."""
    groups = time_groups(times, within_days)
    return np.asarray(times)[np.unique(groups, return_index=True)[1]]


def nearest_within(
    times: np.ndarray, targets: np.ndarray, within_days: float
) -> tuple[np.ndarray, np.ndarray]:
    """For each target, the index of the nearest time and whether it is within reach.

    Parameters
    ----------
    times, targets : ndarray of datetime64
        Sorted times, and the dates to match.
    within_days : float
        Largest distance in days that counts as a match.

    Returns
    -------
    nearest : ndarray of int
        Index into ``times`` of the nearest time to each target.
    hit : ndarray of bool
        Whether that time lies within ``within_days``.
    """
    t, tau = to_days(times), to_days(targets)
    right = np.clip(np.searchsorted(t, tau), 0, t.size - 1)
    left = np.clip(right - 1, 0, t.size - 1)
    nearest = np.where(np.abs(t[left] - tau) <= np.abs(t[right] - tau), left, right)
    return nearest, np.abs(t[nearest] - tau) <= within_days


def _short(value: Any) -> str:
    """A short rendering of a user's value for a message (arrays as a few of their items)."""
    if isinstance(value, xr.DataArray | pd.Index | np.ndarray):
        items = np.asarray(value).ravel()
        text = repr(items[:3].tolist())
        text = text if items.size <= 3 else f"{text[:-1]}, ...]"
    else:
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


#: Target dates farther than this from the optical period are refused: no clear value
#: anchors them, and a date that far is more often a mistake (a wrong year) than a wish.
MAX_EXTRAPOLATION = "90D"


def check_extrapolation(
    targets: np.ndarray, optical_times: np.ndarray, match_days: float, limit_days: float
) -> None:
    """Warn about target dates outside the optical period; refuse those far outside it.

    Parameters
    ----------
    targets, optical_times : ndarray of datetime64
        Sorted target dates and optical acquisition times.
    match_days : float
        A target this close to the first or last acquisition counts as inside.
    limit_days : float
        Targets farther than this outside the period raise :class:`TimesError`.

    Warns
    -----
    ExtrapolationWarning
        With the number of target dates outside the period.
    """
    t, tau = to_days(optical_times), to_days(targets)
    outside = np.maximum(t[0] - tau, tau - t[-1])
    beyond = outside > match_days
    if not beyond.any():
        return
    far = outside > limit_days
    if far.any():
        raise TimesError(
            f"{int(far.sum())} of {tau.size} target dates lie more than {limit_days:g} days "
            f"outside the optical period ({span(optical_times)}), up to "
            f"{float(outside.max()):.0f} days: nothing anchors a fill that far. Give target "
            "dates within the period (times='5D' spans it), or optical data that covers them."
        )
    warn(
        f"{int(beyond.sum())} of {tau.size} target dates lie outside the optical period "
        f"({span(optical_times)}), by up to {float(outside.max()):.0f} days: their values "
        "are extrapolated (flag 'extrapolated' where no other candidate exists).",
        ExtrapolationWarning,
    )
