"""``stori interpolate``: gap-fill optical files (with SAR files) and write a Zarr store.

The check of its values before anything is read (:func:`_check_interpolate`), the
command itself (:func:`_interpolate`), and its refusal of an existing output that
``--overwrite`` or ``--resume`` does not allow (:func:`_output_refusal`), the messages of
:func:`stori_xr.output.to_zarr` told in the command line's words (:func:`_in_cli_words`).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from pathlib import Path

from stori_xr.cli.errors import _error, _message
from stori_xr.cli.scheduler import _compute, _scheduler
from stori_xr.cli.summary import _inputs_line, _pixels, _summary, _write_status
from stori_xr.exceptions import StoreExistsError, StoriError
from stori_xr.fill import METHODS
from stori_xr.metadata import COMPLETE


def _check_interpolate(args: argparse.Namespace) -> str | None:
    """What is wrong with the values of ``stori interpolate`` (checked before reading)."""
    spec = METHODS[args.method]
    if spec.needs_sar and not args.sar:
        return f"argument --method: {args.method} needs SAR: give --sar files"
    options = dict(args.option)
    unknown = [key for key in options if key not in spec.options]
    if unknown:
        takes = f"its options are {' '.join(spec.options)}" if spec.options else "it takes none"
        return (
            f"argument --option: --method {args.method} takes no option {' '.join(unknown)} "
            f"({takes})"
        )
    if spec.check is not None:
        try:
            spec.check(options)
        except StoriError as err:
            return f"argument --option: {_message(err)}"
    if args.memory_limit is not None and args.workers is None:
        return "argument --memory-limit: goes with --workers (the local cluster it starts)"
    if args.threads is not None and args.scheduler:
        return (
            "argument --threads: not allowed with --scheduler (the workers of a running "
            "scheduler have their own threads)"
        )
    return None


def _interpolate(args: argparse.Namespace) -> int:
    from stori_xr.fill import interpolate
    from stori_xr.io import open_optical, open_sar
    from stori_xr.options import set_options
    from stori_xr.output import tiles_written, to_zarr

    start = time.perf_counter()
    out = Path(args.out)
    refusal = _output_refusal(out, args.overwrite, args.resume)
    if refusal:
        return _error(refusal)
    missing = [p for p in (*args.optical, *(args.sar or ())) if not Path(p).exists()]
    if missing:  # before a cluster is started
        return _error(f"input not found: {' '.join(missing)}")
    # absolute paths: the tasks that read the files may run in processes with another folder
    optical_paths = [os.path.abspath(p) for p in args.optical]
    sar_paths = [os.path.abspath(p) for p in args.sar or ()]
    say = (lambda text: None) if args.quiet else (lambda text: print(text, file=sys.stderr))
    with contextlib.ExitStack() as stack:
        client, scheduler = _scheduler(args, stack)  # a bad address fails before reading
        chunks = {"y": args.chunks, "x": args.chunks}
        optical = open_optical(optical_paths, chunks=chunks)
        sar = open_sar(sar_paths, chunks=chunks) if sar_paths else None
        say(_inputs_line("optical", optical_paths, optical))
        if sar is not None:
            say(_inputs_line("SAR", sar_paths, sar))
        options = dict(args.option)
        spec = METHODS[args.method]
        fitting = spec.fit is not None and {**spec.defaults, **options}.get("fit") is not False
        if fitting:
            say(f"fitting {args.method} on a sample of the target (the one step before tiles)")
        # under the client: a chunk too large for its workers is refused here; the fit's
        # bar over its epochs shows unless --quiet
        preparing = time.perf_counter()
        with set_options(progress=not args.quiet):
            result = interpolate(optical, sar, times=args.times, method=args.method, **options)
        prepared = time.perf_counter() - preparing
        before = tiles_written(out)[0] if args.resume and out.exists() else 0
        mode = "w" if args.overwrite else "w-"
        try:
            writes = to_zarr(result, out, mode=mode, resume=args.resume, compute=False)
        except StoreExistsError as err:  # --resume of a store of another result
            return _error(_in_cli_words(_message(err)))
        shape = _pixels(result)
        say(
            f"running {args.method} on {shape[0]} x {shape[1]} px in tiles of {args.chunks} px"
            f" with {scheduler}; writing {out.resolve()}"
        )
        computing = time.perf_counter()
        _compute(writes, client, args.threads, progress=not args.quiet)
        seconds = time.perf_counter() - computing
    written, total = tiles_written(out)
    in_all = time.perf_counter() - start
    return _summary(
        out, result, (prepared, seconds, in_all), written - before, total, fitted=fitting
    )


def _output_refusal(out: Path, overwrite: bool, resume: bool) -> str | None:
    """Why ``stori interpolate`` will not write to ``out`` (None: it may)."""
    if not out.exists():
        return None
    store = any((out / name).is_file() for name in ("zarr.json", ".zgroup"))
    if not store and (not out.is_dir() or any(out.iterdir())):
        kind = "a folder" if out.is_dir() else "a file"
        return (
            f"{out} exists and is {kind}, not a Zarr store; --overwrite and --resume only "
            "replace or finish Zarr stores: give another --out"
        )
    if overwrite or resume:  # to_zarr checks that a store to resume holds this result
        return None
    status = _write_status(out)
    if status not in (None, COMPLETE):
        return (
            f"{out} already exists (an incomplete stori_xr store, from a write that failed "
            "or was interrupted); pass --resume to finish it, or --overwrite to replace it"
        )
    state = {COMPLETE: "a complete stori_xr store", None: "a Zarr store"}[status]
    state = state if store else "an empty folder"
    return f"{out} already exists ({state}); pass --overwrite to replace it, or give another --out"


#: The Python spellings in stori_xr.output's messages, and the options that do the same.
_CLI_WORDS = {"mode='w'": "--overwrite", "resume=True": "--resume"}


def _in_cli_words(message: str) -> str:
    for python, option in _CLI_WORDS.items():
        message = message.replace(python, option)
    return message
