"""The entry point of the ``stori`` command: :func:`main`.

It parses the command line, checks the subcommand's values before any side effect (a
bad command line exits with code 2), runs the subcommand with stori_xr's warnings shown
as one line, and turns an error the user can fix into one line and exit code 1, Ctrl-C
into exit code 130; any other exception is a bug and keeps its traceback.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

from stori_xr.cli.errors import (
    _USER_OS_ERRORS,
    EXIT_INTERRUPTED,
    _error,
    _format_warning,
    _message,
)
from stori_xr.cli.parser import build_parser
from stori_xr.exceptions import StoriError

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``stori`` command.

    Parameters
    ----------
    argv : sequence of str, optional
        The arguments after ``stori``; default: those of the process.

    Returns
    -------
    int
        The exit code: 0 done, 1 an error the user can fix (printed as one line
        ``stori: error: <message>``), 130 interrupted. A bad command line exits
        through :class:`SystemExit` with code 2 (argparse's usage error), as do
        ``--help`` and ``--version`` with 0. Other exceptions are bugs and propagate
        with their traceback.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    problem = args.check(args)
    if problem:
        args.parser.error(problem)  # the subcommand's usage, exit code 2
    default_format = warnings.formatwarning
    warnings.formatwarning = _format_warning(default_format)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except (StoriError, *_USER_OS_ERRORS) as err:
        return _error(_message(err))
    finally:
        warnings.formatwarning = default_format
