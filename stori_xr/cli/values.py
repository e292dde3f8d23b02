"""The values of the ``stori`` command line: the argparse ``type`` of the options that need one.

Integers of a minimum, ``--times`` frequencies that step forward, ``--option KEY=VALUE``
pairs (their values read as numbers, booleans, tuples or text) and ``--memory-limit``
sizes; a value refused here is a bad command line (exit code 2).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

import pandas as pd


def _int_at_least(minimum: int) -> Callable[[str], int]:
    """An argparse ``type`` for integers of ``minimum`` or more."""

    def convert(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"give {minimum} or more, not {value}")
        return value

    return convert


def _target_dates(text: str) -> str:
    """An argparse ``type`` for ``--times``: a pandas frequency must step forward.

    A frequency of zero or below (``0D``, ``-5D``) would give no target date; other
    text (a date, or nonsense) is left to :func:`stori_xr.fill.interpolate`, which
    refuses what it cannot read before anything is written.
    """
    try:
        offset = pd.tseries.frequencies.to_offset(text)
    except ValueError:
        return text
    if offset is not None and offset.n <= 0:
        raise argparse.ArgumentTypeError(
            f"{text!r} does not step forward; give a positive frequency such as 5D"
        )
    return text


def _method_option(text: str) -> tuple[str, Any]:
    """An argparse ``type`` for ``--option KEY=VALUE``: ``(key, value)``, see :func:`_value`."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"{text!r} is not KEY=VALUE, such as radius=6")
    return key.strip(), _value(value.strip())


def _value(text: str) -> Any:
    """A method option's value from its text: a number, a boolean, a tuple, or the text.

    >>> _value("6"), _value("1e4"), _value("True"), _value("temporal,sar"), _value("gcv")
    (6, 10000.0, True, ('temporal', 'sar'), 'gcv')
    """
    if "," in text:
        return tuple(_value(part.strip()) for part in text.split(",") if part.strip())
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _memory_limit(text: str) -> str:
    """An argparse ``type`` for ``--memory-limit``: a size dask reads (``2GB``), or auto."""
    if text == "auto":
        return text
    from dask.utils import parse_bytes

    try:
        size = parse_bytes(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a size such as 2GB or 1500MiB, nor auto"
        ) from None
    if size <= 0:
        raise argparse.ArgumentTypeError(f"give a size above 0, such as 2GB, not {text!r}")
    return text
