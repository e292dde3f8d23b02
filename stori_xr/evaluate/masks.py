"""Which clear values an evaluation hides: the hiding protocols and the gap lengths.

Two protocols (:data:`PROTOCOLS`), both made only of real clear values and both
seeded (the same seed and input give the same mask):

``"partial"`` (the default, and the protocol of the earlier figures of ``docs/benchmarks.md``)
    Every *mostly clear* date (at least 80 % of the scene clear) receives the
    not-clear pattern of a *partly cloudy* date (20–80 % cloudy); one window of
    60–120 days hides every clear value of a rectangle covering 30–50 % of the scene.
    Nearly every hidden value keeps clear neighbours on its own date, so it favours
    methods that copy the change of similar neighbours.
``"whole"``
    The donor patterns come from every date at least 20 % cloudy, *up to 100 %*: a
    fully cloudy donor hides every clear value of the date it is transplanted onto (a
    whole date hidden), in the proportion in which the scene's own cloudy dates are
    whole. Half of the mostly clear dates, drawn at random, receive a pattern (so
    that about as many values are hidden as by ``"partial"``: the two differ in the
    kind of gaps, not their amount). The window covers the *whole scene* with
    probability 1/2, otherwise a rectangle of 50–100 % of it. On the WorldCereal
    patches 75–77 % of the values it hides have no clear neighbour within 8 pixels
    on their date, as 72–76 % of the patches' real gaps have (``"partial"``: 6–7 %):
    whole neighbourhoods cloudy, where only the pixel's own series and SAR can fill.

Acquisitions seconds apart (two granules of one overpass) are hidden together, so the
truth never leaks through a twin. :func:`gap_days` gives the gap length by which the
scores are split (``<=15d``, ``15-45d``, ``>45d``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from stori_xr.dates import time_groups, to_days, to_timedelta_days
from stori_xr.exceptions import DataFormatError, OptionError

__all__ = ["PROTOCOLS", "Protocol", "gap_days", "hide_mask", "merge_twins", "resolve_protocol"]


@dataclass(frozen=True)
class Protocol:
    """The rules by which :func:`hide_mask` chooses the clear values to hide.

    Attributes
    ----------
    name : str
        The protocol's name (a key of :data:`PROTOCOLS`, or a variant of one).
    clear_share : float
        Lowest clear share of the scene for a date to receive a transplanted mask.
    donor_cloud : (float, float)
        Range of the cloudy (not clear) share of the dates whose pattern is
        transplanted; an upper bound of 1 lets whole dates be hidden.
    window_days : (float, float)
        Range of the window durations, in days.
    window_area : (float, float)
        Range of the share of the scene covered by a window's rectangle.
    window_whole : float
        Probability that a window covers the whole scene instead of a rectangle.
    n_windows : int
        Number of long windows.
    transplant_share : float
        Share of the mostly clear dates that receive a transplanted mask.
    merge_within : str or float
        Acquisitions closer than this (a pandas offset or days) are hidden together.
    """

    name: str
    clear_share: float = 0.8
    donor_cloud: tuple[float, float] = (0.2, 0.8)
    window_days: tuple[float, float] = (60.0, 120.0)
    window_area: tuple[float, float] = (0.3, 0.5)
    window_whole: float = 0.0
    n_windows: int = 1
    transplant_share: float = 1.0
    merge_within: str | float = "60s"

    def __post_init__(self) -> None:
        for key in ("clear_share", "window_whole", "transplant_share"):
            value = getattr(self, key)
            if not 0.0 <= value <= 1.0:
                raise OptionError(f"{key}={value!r}: give a share from 0 to 1.")
        for key in ("donor_cloud", "window_area"):
            lo, hi = getattr(self, key)
            if not 0.0 <= lo <= hi <= 1.0:
                raise OptionError(
                    f"{key}={getattr(self, key)!r}: give (low, high) shares with "
                    "0 <= low <= high <= 1."
                )
        lo, hi = self.window_days
        if not 0.0 <= lo <= hi:
            raise OptionError(
                f"window_days={self.window_days!r}: give (shortest, longest) days with "
                "0 <= shortest <= longest."
            )
        if isinstance(self.n_windows, bool) or not isinstance(self.n_windows, int | np.integer):
            raise OptionError(f"n_windows={self.n_windows!r}: give a whole number of 0 or more.")
        if self.n_windows < 0:
            raise OptionError(f"n_windows={self.n_windows!r}: give a whole number of 0 or more.")


#: The hiding protocols by name (see the module's description).
PROTOCOLS: dict[str, Protocol] = {
    "partial": Protocol("partial"),
    "whole": Protocol(
        "whole",
        donor_cloud=(0.2, 1.0),
        transplant_share=0.5,
        window_area=(0.5, 1.0),
        window_whole=0.5,
    ),
}


def resolve_protocol(name: str | Protocol = "partial", **overrides: Any) -> Protocol:
    """A protocol by name, with some of its rules replaced.

    Parameters
    ----------
    name : str or Protocol, default "partial"
        A key of :data:`PROTOCOLS`, or a :class:`Protocol`.
    **overrides
        Fields of :class:`Protocol` to replace; None keeps the protocol's value.

    Returns
    -------
    Protocol

    Raises
    ------
    OptionError
        For an unknown protocol or rule, or a rule out of its range.

    Examples
    --------
    >>> resolve_protocol("whole").donor_cloud
    (0.2, 1.0)
    >>> resolve_protocol("partial", n_windows=2).n_windows
    2
    """
    if isinstance(name, Protocol):
        base = name
    elif isinstance(name, str) and name in PROTOCOLS:
        base = PROTOCOLS[name]
    else:
        raise OptionError(
            f"protocol={name!r} is not a hiding protocol; give one of {sorted(PROTOCOLS)}."
        )
    rules = [f.name for f in dataclasses.fields(Protocol) if f.name != "name"]
    unknown = sorted(set(overrides) - set(rules))
    if unknown:
        raise OptionError(f"{unknown} are not rules of a hiding protocol; the rules are {rules}.")
    given = {k: v for k, v in overrides.items() if v is not None}
    return dataclasses.replace(base, **given) if given else base


def hide_mask(
    clear: np.ndarray,
    times: np.ndarray,
    *,
    seed: int,
    protocol: str | Protocol = "partial",
    clear_share: float | None = None,
    donor_cloud: tuple[float, float] | None = None,
    window_days: tuple[float, float] | None = None,
    window_area: tuple[float, float] | None = None,
    window_whole: float | None = None,
    n_windows: int | None = None,
    transplant_share: float | None = None,
    merge_within: str | float | None = None,
) -> np.ndarray:
    """Choose clear values to hide: transplanted cloud masks and long windows.

    Two kinds of artificial gaps, both made of real clear values:

    * **Transplanted cloud masks.** Every *mostly clear* date (at least
      ``clear_share`` of the scene clear) receives the not-clear pattern of
      another date drawn at random among the *cloudy* ones (cloudy share within
      ``donor_cloud``): its clear values under that pattern are hidden. The gaps
      have the shapes of real clouds, on dates whose values are the most
      trustworthy truth. A fully cloudy donor (``donor_cloud`` reaching 1) hides
      the whole date.
    * **Long windows.** ``n_windows`` times, a duration is drawn uniformly in
      ``window_days`` and a start uniformly so that the window lies inside the
      series; with probability ``window_whole`` the window covers the whole scene,
      otherwise a rectangle covering a share of the scene drawn uniformly in
      ``window_area`` (aspect ratio log-uniform in 1/2–2, position uniform): every
      clear value inside it on the dates of the window is hidden.

    Acquisitions closer than ``merge_within`` (e.g. two Sentinel-2 granules of one
    overpass, seconds apart) show the same ground at the same moment: a value
    hidden on one of them is hidden on the others too, so that the truth does not
    leak through its twin.

    Parameters
    ----------
    clear : ndarray of bool, shape (time, y, x)
        Usable (clear) values.
    times : ndarray of datetime64 or float, shape (time,)
        Acquisition times (sorted); floats are days.
    seed : int
        Seed of the random generator; the same seed gives the same mask.
    protocol : str or Protocol, default "partial"
        The rules (:data:`PROTOCOLS`): ``"partial"`` or ``"whole"``. The keywords
        below replace single rules; None keeps the protocol's.
    clear_share, donor_cloud, window_days, window_area, window_whole, n_windows, \
transplant_share, merge_within
        Rules of :class:`Protocol`. ``"partial"``: 0.8, (0.2, 0.8), (60, 120),
        (0.3, 0.5), 0, 1, 1.0, "60s"; ``"whole"`` differs in ``donor_cloud`` (0.2, 1.0),
        ``transplant_share`` 0.5, ``window_area`` (0.5, 1.0) and ``window_whole`` 0.5.

    Returns
    -------
    ndarray of bool, shape (time, y, x)
        True where a clear value is hidden (never where ``clear`` is False).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> clear = rng.random((40, 10, 10)) > 0.3
    >>> clear[::4] = True  # mostly clear dates
    >>> clear[2::8] = False  # fully cloudy dates
    >>> times = np.datetime64("2020-01-01") + np.arange(40) * np.timedelta64(5, "D")
    >>> hidden = hide_mask(clear, times, seed=1)
    >>> bool((hidden <= clear).all()) and bool(hidden.any())
    True
    >>> bool((hide_mask(clear, times, seed=1) == hidden).all())
    True
    >>> whole = hide_mask(clear, times, seed=1, protocol="whole")
    >>> int((whole.sum(axis=(1, 2)) == clear.sum(axis=(1, 2)))[::4].sum()) > 0
    True
    """
    rules = resolve_protocol(
        protocol,
        clear_share=clear_share,
        donor_cloud=donor_cloud,
        window_days=window_days,
        window_area=window_area,
        window_whole=window_whole,
        n_windows=n_windows,
        transplant_share=transplant_share,
        merge_within=merge_within,
    )
    clear = np.asarray(clear, dtype=bool)
    if clear.ndim != 3:
        raise DataFormatError(f"clear must have dims (time, y, x); got shape {clear.shape}.")
    t = day_numbers(times)
    if t.shape != clear.shape[:1]:
        raise DataFormatError(
            f"times has {t.size} values for a clear mask with {clear.shape[0]} dates."
        )
    nt, ny, nx = clear.shape
    rng = np.random.default_rng(seed)
    hidden = np.zeros_like(clear)

    # (a) transplanted cloud masks
    share = clear.reshape(nt, -1).mean(axis=1) if clear.size else np.zeros(nt)
    cloudy = 1.0 - share
    targets = np.flatnonzero(share >= rules.clear_share)
    low, high = rules.donor_cloud
    donors = np.flatnonzero((cloudy >= low) & (cloudy <= high))
    if rules.transplant_share < 1.0:
        keep = round(rules.transplant_share * targets.size)
        targets = np.sort(rng.choice(targets, size=keep, replace=False))
    for i in targets:
        choices = donors[donors != i]
        if choices.size == 0:
            continue
        j = rng.choice(choices)
        hidden[i] |= ~clear[j]

    # (b) long windows over a rectangle or the whole scene
    span = float(t[-1] - t[0]) if nt else 0.0
    for _ in range(rules.n_windows):
        length = rng.uniform(*rules.window_days)
        start = t[0] + rng.uniform(0.0, max(span - length, 0.0))
        # the draw is made only when whole windows are possible, so that a protocol
        # without them draws exactly what it drew before they existed
        if rules.window_whole > 0.0 and rng.random() < rules.window_whole:
            y0, x0, h, w = 0, 0, ny, nx
        else:
            area = rng.uniform(*rules.window_area)
            aspect = np.exp(rng.uniform(np.log(0.5), np.log(2.0)))
            hy = min(np.sqrt(area * aspect), 1.0)
            hx = min(area / hy, 1.0)
            h = int(np.clip(round(hy * ny), 1, ny))
            w = int(np.clip(round(hx * nx), 1, nx))
            y0 = int(rng.integers(0, ny - h + 1))
            x0 = int(rng.integers(0, nx - w + 1))
        dates = (t >= start) & (t <= start + length)
        hidden[dates, y0 : y0 + h, x0 : x0 + w] = True

    # twins (acquisitions seconds apart) are hidden together
    return merge_twins(hidden, times, rules.merge_within) & clear


def merge_twins(mask: np.ndarray, times: np.ndarray, merge_within: str | float) -> np.ndarray:
    """Acquisitions seconds apart merged: ``mask`` set on all of a group where it is on one.

    A group is a run of acquisitions each closer than ``merge_within`` to the previous.

    Parameters
    ----------
    mask : ndarray of bool, shape (time, ...)
    times : ndarray of datetime64 or float, shape (time,)
        Sorted acquisition times; floats are days.
    merge_within : str or float
        A pandas offset (``"60s"``) or days.

    Returns
    -------
    ndarray of bool, shape (time, ...)
        A new array; equal to ``mask`` when no acquisitions are that close.

    Examples
    --------
    >>> import numpy as np
    >>> merge_twins(np.array([True, False, False]), np.array([0.0, 1e-5, 5.0]), "60s").tolist()
    [True, True, False]
    """
    mask = np.array(mask, dtype=bool)
    t = day_numbers(times)
    groups = time_groups(as_datetime(times, t), to_timedelta_days(merge_within))
    if groups.size and groups[-1] < mask.shape[0] - 1:
        for g in np.unique(groups):
            members = np.flatnonzero(groups == g)
            if members.size > 1:
                mask[members] = mask[members].any(axis=0)
    return mask


def gap_days(usable: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Days from each pixel-date to the nearest value still usable at that pixel.

    This is the gap length by which the design splits the scores: 0 for a
    usable value itself, otherwise the distance in days to the closest usable
    date of the same pixel, before or after.

    Parameters
    ----------
    usable : ndarray of bool, shape (time, ...)
        Values still usable after hiding (clear and not hidden).
    times : ndarray of datetime64 or float, shape (time,)
        Acquisition times (sorted); floats are days.

    Returns
    -------
    ndarray of float64, shape (time, ...)
        Days to the nearest usable value; NaN at pixels without any usable value.

    Examples
    --------
    >>> import numpy as np
    >>> usable = np.array([True, False, False, True, False])
    >>> gap_days(usable, np.array([0.0, 10.0, 20.0, 40.0, 50.0])).tolist()
    [0.0, 10.0, 20.0, 0.0, 10.0]
    """
    usable = np.asarray(usable, dtype=bool)
    t = day_numbers(times)
    if t.shape != usable.shape[:1]:
        raise DataFormatError(f"times has {t.size} values for {usable.shape[0]} dates.")
    nt = usable.shape[0]
    shape = (nt,) + (1,) * (usable.ndim - 1)
    idx = np.arange(nt).reshape(shape)
    last = np.maximum.accumulate(np.where(usable, idx, -1), axis=0)
    nxt = np.flip(np.minimum.accumulate(np.flip(np.where(usable, idx, nt), 0), axis=0), 0)
    tt = t.reshape(shape)
    before = np.where(last >= 0, tt - t[np.clip(last, 0, nt - 1)], np.inf)
    after = np.where(nxt < nt, t[np.clip(nxt, 0, nt - 1)] - tt, np.inf)
    gap = np.minimum(before, after)
    return np.where(np.isfinite(gap), gap, np.nan)


def day_numbers(times: np.ndarray) -> np.ndarray:
    """Times as float days: datetimes converted, numbers taken as days already."""
    values = np.asarray(times)
    if values.dtype.kind == "M":
        return to_days(values)
    return values.astype(np.float64)


def as_datetime(times: np.ndarray, days: np.ndarray) -> np.ndarray:
    """Times as datetime64: datetimes kept, float days counted from the epoch."""
    values = np.asarray(times)
    if values.dtype.kind == "M":
        return values
    return (days * 86_400e9).astype("int64").astype("datetime64[ns]")
