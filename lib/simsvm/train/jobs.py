"""Running a set of independent networks: the backend that computes them, and the job each runs.

:func:`train_set` is what an experiment calls: it groups the networks into stacks (or one
network per job, for the reference), hands the jobs to a backend (:func:`make_backend`), and
yields each network's evaluated snapshots as its job finishes.  Every job runs the one training
loop, :func:`simsvm.train.loop.train_stack`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

from simsvm.engine.engine import resolve_engine
from simsvm.exceptions import ParameterError
from simsvm.names import BACKENDS
from simsvm.train.backends import (
    Backend,
    CudaBackend,
    EvaluationPool,
    ProcessBackend,
    ReferenceBackend,
    SerialBackend,
    worker_identity,
)
from simsvm.train.cluster import DaskBackend
from simsvm.train.loop import stack_groups, train_stack
from simsvm.train.spec import Snapshot, TrainingData, TrainingSpec

__all__ = ["make_backend", "train_set"]


def _train_and_evaluate(
    data: TrainingData, job: tuple[tuple, tuple, str, bool, int], tick: Callable[[int], None]
) -> tuple[list[list], str]:
    """One backend job: a stack of networks (of one, for the reference), each snapshot evaluated.

    Snapshots are evaluated by ``evaluation_workers`` processes while training goes on, or here,
    between epochs, when that is 0.  Returns the results per network and who computed them
    (:func:`~simsvm.train.backends.worker_identity`).
    """
    specs, evaluate, device, reference, evaluation_workers = job
    stream = train_stack(
        specs, data, device=device, reference=reference, on_epoch=lambda epoch: tick(len(specs))
    )
    pending = [[] for _ in specs]
    with EvaluationPool(evaluation_workers) as evaluations:
        for snapshots in stream:
            for model, snapshot in enumerate(snapshots):
                pending[model].append(evaluations.submit(evaluate[model], snapshot))
        results = [[evaluation.result() for evaluation in network] for network in pending]
    return results, worker_identity()


def train_set(
    specs: Sequence[TrainingSpec],
    data: TrainingData,
    *,
    backend: Backend | None = None,
    evaluate: Sequence[Callable[[Snapshot], object] | None] | None = None,
    progress: Callable[[int], None] | None = None,
    job_prefix: str = "",
    on_finished: Callable[[list[int], str], None] | None = None,
) -> Iterator[tuple[int, list]]:
    """Train independent networks; yield ``(spec index, results)`` as each finishes.

    Parameters
    ----------
    specs : sequence of TrainingSpec
    backend : Backend, optional
        Where and how the networks are computed (default: in this process, one network per stack).
        Networks of one stack (``backend.stack_size``) finish together.
    evaluate : sequence of callables, optional
        One per spec, applied to each of its snapshots where the network trained, so that only
        the (small) evaluation results travel back; must be picklable for process backends.
        ``None`` returns the snapshots themselves.
    progress : callable, optional
        Called in this process with the number of model-epochs finished since the last call,
        by any network of the set (e.g. ``tqdm.update``).
    job_prefix : str
        Start of every job's name (``<prefix><spec names joined by +>``), which backends that
        schedule by name (dask) use as the job's key.
    on_finished : callable, optional
        Called with the spec indices of each finished job and the worker that computed it.
    """
    evaluate = [None] * len(specs) if evaluate is None else list(evaluate)
    if len(evaluate) != len(specs):
        raise ParameterError(f"{len(specs)} specs but {len(evaluate)} evaluate functions")
    backend = backend or SerialBackend()
    for precision in {spec.matmul_precision for spec in specs}:
        # here, once: the warning where bf16 falls back, and the fused loops built before the workers start
        resolve_engine(precision, backend.device)
    groups = (
        [[index] for index in range(len(specs))]
        if backend.reference
        else stack_groups(specs, backend.stack_size)
    )
    jobs = [
        (
            tuple(specs[index] for index in group),
            tuple(evaluate[index] for index in group),
            backend.device,
            backend.reference,
            backend.evaluation_workers,
        )
        for group in groups
    ]
    names = [job_prefix + "+".join(specs[index].name for index in group) for group in groups]
    work = [sum(specs[index].epochs for index in group) for group in groups]
    for job, (results, worker) in backend.run(
        _train_and_evaluate, data, jobs, progress=progress, names=names, work=work
    ):
        if on_finished is not None:
            on_finished(groups[job], worker)
        yield from zip(groups[job], results, strict=True)


def make_backend(
    name: str,
    *,
    workers: int | None = None,
    threads: int | None = None,
    stack_size: int | None = None,
    scheduler: str | None = None,
) -> Backend:
    """Backend by name: ``'serial'``, ``'processes'``, ``'cuda'``, ``'reference'`` or ``'dask'``.

    ``scheduler`` is the dask scheduler's address (``'dask'`` without one starts a local cluster
    of ``workers`` processes).  For ``'cuda'``, ``workers`` are the CPU processes that evaluate
    snapshots (default: all cores but one).
    ``stack_size`` ``None`` takes the backend's default: one network per job on CPU, every
    network that can share a stack on CUDA.
    """
    if name == "serial":
        return SerialBackend(threads=threads, stack_size=stack_size or 1)
    if name == "processes":
        return ProcessBackend(workers=workers, threads_per_worker=threads or 1, stack_size=stack_size or 1)
    if name == "cuda":
        return CudaBackend(stack_size=stack_size, evaluation_workers=workers)
    if name == "reference":
        return ReferenceBackend(threads=threads)
    if name == "dask":
        return DaskBackend(
            scheduler, workers=workers, threads_per_worker=threads or 1, stack_size=stack_size or 1
        )
    raise ParameterError(f"unknown backend {name!r}; choose one of {list(BACKENDS)}")
