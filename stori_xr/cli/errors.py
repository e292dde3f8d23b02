"""Exit codes of the ``stori`` command, and how it reports an error or a warning.

The exit codes (:data:`EXIT_OK`, :data:`EXIT_ERROR`, :data:`EXIT_USAGE`,
:data:`EXIT_INTERRUPTED`) and their text in every ``--help``, the errors of the user's
own files and folders that are reported like a :class:`~stori_xr.exceptions.StoriError`,
and the one-line forms ``stori: error: <message>`` and ``stori: warning: <message>``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from stori_xr.exceptions import StoriWarning

#: Exit code of a command that did its work.
EXIT_OK = 0
#: Exit code of an error the user can fix: a StoriError, a missing or unwritable
#: file or folder, nothing to score.
EXIT_ERROR = 1
#: Exit code of a command line argparse (or a check of its values) refuses.
EXIT_USAGE = 2
#: Exit code after Ctrl-C (128 + SIGINT, as a shell reports it).
EXIT_INTERRUPTED = 130
#: Errors of the user's own files and folders, reported in one line like a StoriError.
_USER_OS_ERRORS = (
    FileNotFoundError,
    FileExistsError,
    IsADirectoryError,
    NotADirectoryError,
    PermissionError,
    ConnectionError,  # a dask scheduler that cannot be reached
)
_EXIT_CODES = f"""\
exit codes:
  {EXIT_OK}    done
  {EXIT_ERROR}    an error the user can fix (files, data, an existing output, a scheduler
       that cannot be reached, nothing to score): one line on stderr
  {EXIT_USAGE}    a bad command line: the usage and one line on stderr
  {EXIT_INTERRUPTED}  interrupted (Ctrl-C)"""


def _message(err: BaseException) -> str:
    """One line saying what went wrong."""
    if isinstance(err, OSError) and err.strerror and err.filename is not None:
        text = f"{err.strerror}: {err.filename}"
    else:
        text = str(err) or type(err).__name__
    return " ".join(text.split())


def _format_warning(default: Callable[..., str]) -> Callable[..., str]:
    """``warnings.formatwarning`` that shows stori_xr's own warnings as one line."""

    def format_warning(message, category, filename, lineno, line=None) -> str:
        if issubclass(category, StoriWarning):
            return f"stori: warning: {' '.join(str(message).split())}\n"
        return default(message, category, filename, lineno, line)

    return format_warning


def _error(message: str) -> int:
    print(f"stori: error: {message}", file=sys.stderr)
    return EXIT_ERROR
