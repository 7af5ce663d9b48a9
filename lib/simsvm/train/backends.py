"""How a set of independent training jobs is computed.

The trainer hands a backend the whole set of jobs of a run and one function; the backend decides
where they run.  Results come back as jobs finish, so the caller can write each one to disk at
once.  Every backend must give a job the same result as running it alone.

A backend also says how the trainer computes: ``stack_size`` networks trained together as one
:class:`~simsvm.engine.stacked.StackedNetworks` on ``device``, or, for :class:`ReferenceBackend`, the
plain ``nn.GRU`` loop one network at a time.  Measured on the project's 2-core machine
(``python -m simsvm.bench``): one network per single-threaded worker process is the fastest CPU
arrangement, because a network's per-step products are too small to keep two threads busy and a
stack gains nothing on one core; on a GPU the opposite holds, and the whole set is one stack.
"""

from __future__ import annotations

import collections
import os
import queue
import socket
import sys
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any

import threadpoolctl
import torch

from simsvm.exceptions import ParameterError
from simsvm.train.processes import stop_workers, watch_parent, worker_processes

__all__ = [
    "Backend",
    "CudaBackend",
    "EvaluationPool",
    "ProcessBackend",
    "ReferenceBackend",
    "SerialBackend",
    "worker_identity",
]


def _ignore(count: int = 1) -> None:
    pass


def worker_identity() -> str:
    """Who computes here: the dask worker's address inside a dask worker, else ``host:pid``."""
    if "distributed" in sys.modules:
        from distributed import get_worker

        try:
            return get_worker().address
        except ValueError:  # not inside a dask worker
            pass
    return f"{socket.gethostname()}:{os.getpid()}"


class Backend:
    """Runs ``function(context, job, tick)`` for every job; yields ``(index, result)`` as each finishes.

    A job calls ``tick(n)`` to report ``n`` units of work done (e.g. epochs); the backend passes
    them on to ``progress`` in the calling process, wherever the job runs.  ``names`` (used as
    task keys) and ``work`` (a job's units, reported at its end by backends that cannot relay
    ticks) are optional hints.

    Attributes
    ----------
    stack_size : int or None
        Networks the trainer computes together in one job (``None``: every network that can).
    device : str
        torch device the jobs compute on.
    reference : bool
        Train with the plain ``nn.GRU`` loop instead of stacks (the benchmark's reference).
    evaluation_workers : int
        CPU processes that evaluate a job's snapshots (SVM refits) while it trains on
        (0: each evaluation in the job's own process, between epochs).
    """

    stack_size: int | None = 1
    device: str = "cpu"
    reference: bool = False
    evaluation_workers: int = 0

    def run(
        self,
        function: Callable[[Any, Any, Callable[[int], None]], Any],
        context: Any,
        jobs: Sequence[Any],
        *,
        progress: Callable[[int], None] | None = None,
        names: Sequence[str] | None = None,
        work: Sequence[int] | None = None,
    ) -> Iterator[tuple[int, Any]]:
        raise NotImplementedError


class SerialBackend(Backend):
    """Jobs one after another in this process, with torch's threads as configured (default all).

    ``evaluation_workers`` processes evaluate snapshots beside the training (see :class:`EvaluationPool`).
    """

    def __init__(self, threads: int | None = None, stack_size: int | None = 1, evaluation_workers: int = 0):
        if evaluation_workers < 0:
            raise ParameterError(f"evaluation_workers must be >= 0, got {evaluation_workers}")
        self.threads, self.stack_size, self.evaluation_workers = threads, stack_size, evaluation_workers

    def run(self, function, context, jobs, *, progress=None, names=None, work=None):
        previous = torch.get_num_threads()
        if self.threads is not None:
            torch.set_num_threads(self.threads)
        try:
            for index, job in enumerate(jobs):
                yield index, function(context, job, progress or _ignore)
        finally:
            torch.set_num_threads(previous)


_worker_context: Any = None


_worker_ticks: Any = None


def _initialise_worker(context: Any, threads: int, ticks: Any, parent: int) -> None:
    global _worker_context, _worker_ticks
    watch_parent(parent)
    _worker_context, _worker_ticks = context, ticks
    torch.set_num_threads(threads)


def _tick_from_worker(count: int = 1) -> None:
    _worker_ticks.put(count)


def _call_in_worker(function: Callable[[Any, Any, Callable[[int], None]], Any], job: Any) -> Any:
    return function(_worker_context, job, _tick_from_worker)


class ProcessBackend(Backend):
    """Jobs spread over worker processes, each with a fixed number of torch threads.

    Parameters
    ----------
    workers : int, optional
        Processes; default: the number of CPU cores.
    threads_per_worker : int
        torch intra-op threads in each worker.

    The shared ``context`` (frames store, annotations) is sent once per worker, not per job;
    workers start as :func:`worker_processes` says.
    """

    def __init__(self, workers: int | None = None, threads_per_worker: int = 1, stack_size: int | None = 1):
        self.workers = workers or os.cpu_count() or 1
        self.threads_per_worker, self.stack_size = threads_per_worker, stack_size
        if self.workers < 1 or threads_per_worker < 1:
            raise ParameterError(
                f"workers and threads_per_worker must be >= 1, got {workers}, {threads_per_worker}"
            )

    def run(self, function, context, jobs, *, progress=None, names=None, work=None):
        if not jobs:
            return
        processes = worker_processes(function, context, jobs)
        ticks = processes.Queue()
        progress = progress or _ignore

        def drain() -> None:
            while True:
                try:
                    progress(ticks.get_nowait())
                except queue.Empty:
                    return

        pool = ProcessPoolExecutor(
            max_workers=min(self.workers, len(jobs)),
            mp_context=processes,
            initializer=_initialise_worker,
            initargs=(context, self.threads_per_worker, ticks, os.getpid()),
        )
        pending = {pool.submit(_call_in_worker, function, job): index for index, job in enumerate(jobs)}
        try:
            while pending:
                done, _ = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
                drain()
                for future in done:
                    index = pending.pop(future)
                    yield index, future.result()
        finally:
            # Left early (an error, Ctrl-C, SIGTERM, a caller that stopped reading): the running
            # jobs' results have nowhere to go, and shutdown(wait=True) would wait for them to
            # train to the end.  Stop them; a finished job was already handed out and written.
            if pending:
                stop_workers(pool)
            pool.shutdown(wait=True, cancel_futures=True)


class ReferenceBackend(SerialBackend):
    """The plain loop: one ``nn.GRU`` network at a time in this process, autograd's backward.

    Kept as the measure of every other backend (its results are the definition of "trained
    alone") and for anyone who wants to check the hand-written recurrence on their own data.
    """

    reference = True


class CudaBackend(SerialBackend):
    """Every network of a run as one stack on a CUDA device (default: all that share a schedule).

    With the whole set on the GPU, the SVM refits of its snapshots (CPU work, about half a second
    each on a GTZAN-sized fold; 40 networks x 41 evaluation points in 10-fold CV) would take longer
    than the training if done between epochs, so ``evaluation_workers`` CPU processes (default:
    every core but the one that drives the GPU) do them while the training goes on.
    """

    def __init__(
        self, device: str = "cuda", stack_size: int | None = None, evaluation_workers: int | None = None
    ):
        if not torch.cuda.is_available():
            raise ParameterError("backend 'cuda': torch sees no CUDA device on this machine")
        if evaluation_workers is None:
            evaluation_workers = max(1, (os.cpu_count() or 2) - 1)
        super().__init__(threads=None, stack_size=stack_size, evaluation_workers=evaluation_workers)
        self.device = device


def _one_thread(parent: int) -> None:
    watch_parent(parent)  # the process whose job's snapshots this worker evaluates
    # An SVM refit is single-threaded libsvm plus small Gram products; more threads per worker
    # only make the workers compete for the cores.
    torch.set_num_threads(1)
    threadpoolctl.threadpool_limits(limits=1)


class _Computed:
    """A result computed at once, with a future's ``result()``."""

    def __init__(self, value: Any):
        self._value = value

    def result(self) -> Any:
        return self._value


class EvaluationPool:
    """Evaluations of snapshots in CPU worker processes, beside the job that trains.

    ``submit(function, snapshot)`` returns something with a future's ``result()``.  With
    ``workers`` 0 the function runs at once, in this process.  At most ``max_pending``
    evaluations wait at a time; a job that trains faster than its snapshots are evaluated waits
    for the oldest, rather than holding every snapshot of the run in memory.  Use it as a context
    manager: leaving waits for every evaluation, or cancels them after an error.
    """

    def __init__(self, workers: int, *, max_pending: int | None = None):
        if workers < 0:
            raise ParameterError(f"evaluation workers must be >= 0, got {workers}")
        self.workers = workers
        self.max_pending = max_pending or 8 * max(workers, 1)
        self._pool: ProcessPoolExecutor | None = None
        self._pending: collections.deque[Future] = collections.deque()

    def __enter__(self) -> EvaluationPool:
        if self.workers:
            self._pool = ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=worker_processes(),
                initializer=_one_thread,
                initargs=(os.getpid(),),
            )
        return self

    def __exit__(self, kind, error, traceback) -> None:
        if self._pool is not None:
            if error is not None:  # the job failed or was stopped: no evaluation is wanted any more
                stop_workers(self._pool)
            self._pool.shutdown(wait=True, cancel_futures=error is not None)
            self._pool = None

    def submit(self, function: Callable[[Any], Any] | None, argument: Any) -> Future | _Computed:
        """``function(argument)``, soon; ``function`` ``None`` stands for the argument itself."""
        if function is None:
            return _Computed(argument)
        if self._pool is None:
            if self.workers:
                raise RuntimeError("EvaluationPool.submit outside its with-block")
            return _Computed(function(argument))
        while len(self._pending) >= self.max_pending:
            wait(self._pending, return_when=FIRST_COMPLETED)
            self._pending = collections.deque(future for future in self._pending if not future.done())
        future = self._pool.submit(function, argument)
        self._pending.append(future)
        return future
