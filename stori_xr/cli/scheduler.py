"""Where ``stori interpolate`` computes: a running dask scheduler, a LocalCluster or threads.

:func:`_scheduler` connects to the scheduler of ``--scheduler`` (within
:data:`CONNECT_TIMEOUT` seconds) or starts the LocalCluster of ``--workers``, and says
which; :func:`_compute` computes the delayed write there, with a progress bar on stderr
when asked.
"""

from __future__ import annotations

import argparse
import contextlib
from typing import Any

from stori_xr.blocks import MMAP_THRESHOLD
from stori_xr.cli.errors import _message

#: Seconds ``stori interpolate --scheduler`` waits for the scheduler to answer.
CONNECT_TIMEOUT = 5

#: Environment of the worker processes of the LocalCluster ``--workers`` starts, beside
#: distributed's own (``distributed.nanny.pre-spawn-environ``). distributed sets
#: ``MALLOC_TRIM_THRESHOLD_``, which also fixes glibc's mmap threshold at 128 KiB: every
#: larger array is then mapped afresh and zero-filled, and ``method="stori"``, which
#: allocates many, spent 8.0 of 18.7 s of a 128 px tile in the kernel (page faults),
#: against 0.9 of 12.0 s with this threshold (docs/scaling.md).
WORKER_ENVIRON = {"MALLOC_MMAP_THRESHOLD_": MMAP_THRESHOLD}


def worker_environ() -> dict[str, Any]:
    """The environment of a new worker process: distributed's, and :data:`WORKER_ENVIRON`."""
    import dask
    import distributed  # noqa: F401  (its configuration, with its workers' environment)

    return {**dask.config.get("distributed.nanny.pre-spawn-environ", {}), **WORKER_ENVIRON}


def _scheduler(args: argparse.Namespace, stack: contextlib.ExitStack) -> tuple[Any, str]:
    """The distributed client to compute with (None: dask's threaded scheduler), described.

    The client and any cluster it starts are closed when ``stack`` closes.
    """
    if args.scheduler:
        from distributed import Client

        try:
            client = Client(args.scheduler, timeout=CONNECT_TIMEOUT)
        except (OSError, ValueError) as err:
            raise ConnectionError(
                f"cannot connect to the dask scheduler at {args.scheduler} within "
                f"{CONNECT_TIMEOUT} s ({_message(err)}): check the address (such as "
                "tcp://host:8786) and that the scheduler runs, or leave out --scheduler"
            ) from None
        stack.enter_context(client)
        workers = len(client.scheduler_info().get("workers", {}))
        plural = "s" if workers != 1 else ""
        return client, f"the dask scheduler at {args.scheduler} ({workers} worker{plural})"
    if args.workers:
        from distributed import Client, LocalCluster

        threads = args.threads or 1
        memory = args.memory_limit or "auto"
        import dask

        with dask.config.set({"distributed.nanny.pre-spawn-environ": worker_environ()}):
            cluster = stack.enter_context(
                LocalCluster(
                    n_workers=args.workers,
                    threads_per_worker=threads,
                    processes=True,
                    memory_limit=memory,
                    dashboard_address="127.0.0.1:0",  # any free port, on this machine only
                )
            )
        client = stack.enter_context(Client(cluster))
        return client, (
            f"a LocalCluster of {args.workers} worker processes x {threads} thread"
            f"{'s' if threads > 1 else ''}, memory limit {memory} each"
        )
    from dask.system import CPU_COUNT

    return None, f"dask's threaded scheduler ({args.threads or CPU_COUNT} threads)"


def _compute(writes: Any, client: Any, threads: int | None, progress: bool) -> None:
    """Compute the delayed write, with a progress bar on stderr when asked."""
    from stori_xr.progress import compute

    compute(writes, client, threads, progress=progress, scheduler="threads")
