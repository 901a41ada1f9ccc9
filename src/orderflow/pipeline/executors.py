"""Executors: work is partitioned by (instrument, day).

``local`` runs partitions in a process pool on this machine (the default); ``dask`` submits them to a
dask.distributed scheduler (``tcp://HOST:PORT``) or to a LocalCluster started for the run. Tasks are
plain top-level functions with picklable arguments and return small summaries; data moves through the
shared artifact folder, so every worker must see ``--out`` (a shared file system on a real cluster).
Results are returned in submission order, so downstream steps are identical whatever the executor.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any, Literal

from orderflow.core.errors import ConfigError
from orderflow.core.runtime import tune_allocator

ProgressFn = Callable[[int, Any], None]
"""Called as ``on_done(index, result)`` when the task at ``index`` completes."""


def _mp_context() -> Any:
    """A start method that is safe after polars, LightGBM or BLAS have started their thread pools.

    Plain ``fork`` copies a parent whose Rust/OpenMP pools hold locks but whose threads are gone, so
    the child deadlocks on its first parallel polars call (seen as a hung ``pl.concat`` in a worker).
    ``forkserver`` forks from a clean server process that imported orderflow's stage modules once and
    never ran any work, so workers start fast and numba kernels load from the on-disk cache;
    ``spawn`` is the fallback where forkserver does not exist.
    """
    import multiprocessing as mp

    if "forkserver" in mp.get_all_start_methods():
        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload(["orderflow.pipeline.runner"])
        return ctx
    return mp.get_context("spawn")


def run_tasks(
    fn: Callable[..., Any],
    args: Sequence[tuple[Any, ...]],
    *,
    executor: Literal["local", "dask", "serial"] = "local",
    workers: int | None = None,
    scheduler: str | None = None,
    on_done: ProgressFn | None = None,
) -> list[Any]:
    """Run ``fn(*a)`` for each ``a`` in ``args``; results in the order of ``args``."""
    n = len(args)
    if n == 0:
        return []
    workers = max(1, workers or min(os.cpu_count() or 1, n))
    results: list[Any] = [None] * n
    if executor == "serial" or (executor == "local" and (workers == 1 or n == 1)):
        for i, a in enumerate(args):
            results[i] = fn(*a)
            if on_done:
                on_done(i, results[i])
        return results
    if executor == "local":
        with ProcessPoolExecutor(
            max_workers=workers, mp_context=_mp_context(), initializer=tune_allocator
        ) as pool:
            futs = {pool.submit(fn, *a): i for i, a in enumerate(args)}
            for fut in as_completed(futs):
                i = futs[fut]
                results[i] = fut.result()
                if on_done:
                    on_done(i, results[i])
        return results
    if executor == "dask":
        return _run_dask(fn, args, workers=workers, scheduler=scheduler, on_done=on_done)
    raise ConfigError(f"run.executor: unknown executor '{executor}' (use local, dask or serial)")


def _run_dask(
    fn: Callable[..., Any],
    args: Sequence[tuple[Any, ...]],
    *,
    workers: int,
    scheduler: str | None,
    on_done: ProgressFn | None,
) -> list[Any]:
    from distributed import Client, LocalCluster
    from distributed import as_completed as dask_as_completed

    cluster = None
    if scheduler:
        client = Client(scheduler)
    else:
        # ":0": the scheduler's HTTP server (health, dashboard) on a free port; the default 8787 collides
        # with any other cluster on the machine and dask then only warns and moves
        cluster = LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=":0"
        )
        client = Client(cluster)
    try:
        if cluster is not None:  # our own workers get our allocator settings (a user's cluster is theirs)
            client.run(tune_allocator)
        futs = [client.submit(fn, *a, pure=False) for a in args]
        index = {f.key: i for i, f in enumerate(futs)}
        results: list[Any] = [None] * len(args)
        for fut in dask_as_completed(futs):
            i = index[fut.key]
            results[i] = fut.result()
            if on_done:
                on_done(i, results[i])
        return results
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


__all__ = ["run_tasks"]
