"""Training jobs on a ``dask.distributed`` cluster (optional: ``pip install simsvm[dask]``).

The unit of scheduling is the trainer's job: one network, or one stack of networks, of one
fold or split of one experiment.  Each job is a dask task with an explicit key,
``simsvm-<parameters hash>-<data digest>-<job names>``, so the same job submitted twice (two batch clients,
or a client restarted while the cluster kept running) is computed once.  A worker that dies
takes only its running tasks with it: the scheduler gives them to another worker, and because a
job's result is its seed's deterministic function, the retried job returns what the lost one
would have.  Results travel back to the client, which writes each finished job's rows atomically
(:mod:`simsvm.experiment.results`), so nothing a worker does can leave half a job on disk.

Data locality: workers read frames from the frame cache by path (a memory-mapped
:class:`~simsvm.data.frames.FrameStore` pickles as its file names), so the cache must be on a file
system every worker sees; a worker that cannot open a cache file fails its job with a
:class:`~simsvm.exceptions.DataError` naming the file and the worker.  Rebuilding the cache per
worker would repeat the slowest step of a run (decoding and mel analysis, ~13 files/s per core)
on every machine.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import torch

from simsvm.exceptions import DataError, ParameterError
from simsvm.train.backends import Backend, worker_identity

__all__ = ["DaskBackend", "dask_available", "local_cluster"]


def dask_available() -> bool:
    """Whether ``dask.distributed`` can be imported (the ``simsvm[dask]`` extra)."""
    try:
        import distributed  # noqa: F401
    except ImportError:
        return False
    return True


def _require_dask() -> None:
    if not dask_available():
        raise ParameterError(
            "backend 'dask' needs dask.distributed, which is not installed: pip install 'simsvm[dask]'"
        )


def local_cluster(workers: int | None = None, threads_per_worker: int = 1):
    """A ``LocalCluster`` of ``workers`` processes (default: one per core), ``threads_per_worker`` each.

    Workers are separate processes with a nanny, so a worker that dies is restarted and its
    tasks go elsewhere.  Close it (or use it as a context manager) when done.
    """
    _require_dask()
    from distributed import LocalCluster

    return LocalCluster(
        n_workers=workers or os.cpu_count() or 1,
        threads_per_worker=threads_per_worker,
        processes=True,
        dashboard_address=":0",  # any free port: several clusters may share a machine
    )


def _run_on_worker(function: Callable, context: Any, job: Any, threads: int) -> tuple[Any, str]:
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        return function(context, job, lambda count=1: None)
    except FileNotFoundError as error:
        raise DataError(
            f"worker {worker_identity()}: cannot open {error.filename}; the frame cache (cache_dir) must be "
            "on a path every worker sees"
        ) from error
    finally:
        torch.set_num_threads(previous)


class DaskBackend(Backend):
    """Jobs as tasks of a ``dask.distributed`` cluster.

    Parameters
    ----------
    scheduler : str, optional
        Address of a running scheduler (``tcp://host:8786``).  Without one, a
        :func:`local_cluster` of ``workers`` processes is started for the call and closed after.
    workers : int, optional
        Worker processes of that local cluster (default: one per core).
    threads_per_worker : int
        torch threads a job uses on its worker.
    stack_size : int, optional
        Networks per job (default 1: the finest scheduling unit, best on CPU workers).

    Task keys are ``simsvm-<name>`` with the job names :func:`~simsvm.train.jobs.train_set` gives
    (:func:`~simsvm.experiment.run.run_experiment` starts them with the parameters' hash).
    """

    def __init__(
        self,
        scheduler: str | None = None,
        *,
        workers: int | None = None,
        threads_per_worker: int = 1,
        stack_size: int | None = 1,
    ):
        _require_dask()
        if threads_per_worker < 1 or (workers is not None and workers < 1):
            raise ParameterError(
                f"workers and threads_per_worker must be >= 1, got {workers}, {threads_per_worker}"
            )
        self.scheduler, self.workers = scheduler, workers
        self.threads_per_worker, self.stack_size = threads_per_worker, stack_size

    def run(self, function, context, jobs, *, progress=None, names=None, work=None):
        """Submit every job, yield ``(index, result)`` as each finishes (see :class:`Backend`).

        ``names`` give the task keys; ``work`` the units of progress each job reports when it
        finishes (tasks report nothing while they run).
        """
        if not jobs:
            return
        from distributed import Client, as_completed

        names = list(names) if names is not None else [f"job{index}" for index in range(len(jobs))]
        cluster = None if self.scheduler else local_cluster(self.workers, self.threads_per_worker)
        client = Client(self.scheduler or cluster, set_as_default=False)
        try:
            # The store pickles as file names (or small arrays): one copy per worker, not per job.
            shared = client.scatter(context, broadcast=True, hash=False)
            futures = {
                client.submit(
                    _run_on_worker,
                    function,
                    shared,
                    job,
                    self.threads_per_worker,
                    key=f"simsvm-{name}",
                    pure=False,
                ): index
                for index, (job, name) in enumerate(zip(jobs, names, strict=True))
            }
            for future in as_completed(futures, loop=client.loop):
                index = futures[future]
                result = future.result()
                if progress is not None and work is not None:
                    progress(work[index])
                yield index, result
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
