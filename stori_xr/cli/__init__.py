"""Command line: ``stori demo``, ``stori interpolate``, ``stori evaluate`` and ``stori pretrain``.

The command behaves like a tool: a bad command line is refused by argparse (exit
code 2) before anything is read or written; an error the user can fix (any
:class:`~stori_xr.exceptions.StoriError`, a missing input file, a folder that
cannot be written, an existing output, a dask scheduler that cannot be reached)
prints one line, ``stori: error: <message>``, and exits with 1; Ctrl-C exits quietly
with 130. Any other exception is a bug and keeps its
traceback. ``docs/cli.md`` describes every subcommand, option and exit code.

One module per concern, each importing only the ones listed before it:

- :mod:`~stori_xr.cli.errors` — the exit codes, and errors and warnings as one line;
- :mod:`~stori_xr.cli.values` — the argparse types of the options' values;
- :mod:`~stori_xr.cli.scheduler` — where ``stori interpolate`` computes (a running
  scheduler, a LocalCluster, dask's threads);
- :mod:`~stori_xr.cli.summary` — what ``stori interpolate`` prints of its inputs and
  of the store it wrote;
- :mod:`~stori_xr.cli.interpolate`, :mod:`~stori_xr.cli.demo`,
  :mod:`~stori_xr.cli.evaluate`, :mod:`~stori_xr.cli.pretrain` — the subcommands: the
  check of their values and the command;
- :mod:`~stori_xr.cli.parser` — :func:`build_parser`, the parser of them all;
- :mod:`~stori_xr.cli.run` — :func:`main`, the entry point.
"""

from stori_xr.cli.demo import _demo_min_size as _demo_min_size
from stori_xr.cli.demo import _gap_rmse as _gap_rmse
from stori_xr.cli.errors import EXIT_ERROR, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE
from stori_xr.cli.evaluate import SPLIT_COLUMNS as SPLIT_COLUMNS
from stori_xr.cli.evaluate import TABLE_COLUMNS as TABLE_COLUMNS
from stori_xr.cli.parser import DEFAULT_CHUNKS as DEFAULT_CHUNKS
from stori_xr.cli.parser import build_parser
from stori_xr.cli.run import main
from stori_xr.cli.scheduler import CONNECT_TIMEOUT as CONNECT_TIMEOUT
from stori_xr.cli.scheduler import _compute as _compute
from stori_xr.cli.values import _method_option as _method_option

__all__ = ["EXIT_ERROR", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_USAGE", "build_parser", "main"]
