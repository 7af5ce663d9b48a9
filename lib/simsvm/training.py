"""Training one network on random excerpts, with evaluation snapshots on whole sequences.

Read top to bottom, :func:`train_network` is the paper's procedure: each epoch every training
file contributes one random 100-frame excerpt (section 2.5), batches are shuffled, Adadelta
updates, and every ``eval_every`` epochs (and before the first) the network reads every file
whole and its time-averaged outputs are kept as a :class:`Snapshot`.  :func:`train_set` runs many
independent networks through a backend.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from .backends import Backend, EvaluationPool, SerialBackend, worker_identity
from .exceptions import ParameterError
from .features import FrameStore, Normaliser
from .kernels import Kernel
from .losses import baseline_loss, similarity_loss
from .model import Network

__all__ = [
    "OBJECTIVES",
    "Snapshot",
    "TrainingData",
    "TrainingSpec",
    "excerpt_starts",
    "sequence_features",
    "train_network",
    "train_set",
]

OBJECTIVES = ("baseline", "similarity")
# Files per forward pass when reading whole sequences; bounds memory, not results.
_SNAPSHOT_BATCH = 32


@dataclass(frozen=True)
class TrainingData:
    """What every network of a run reads: frames and annotations of all files of the dataset.

    Attributes
    ----------
    frames : FrameStore
    targets : np.ndarray
        Class indices ``(n,)`` or regression values ``(n, k)``: the baseline's targets.
    annotations : np.ndarray, shape (n, k)
        One-hot or raw targets: the ``A`` of the similarity loss.
    task : {'classification', 'regression'}
    """

    frames: FrameStore
    targets: np.ndarray
    annotations: np.ndarray
    task: str


@dataclass(frozen=True)
class TrainingSpec:
    """Everything that defines one network's training, and nothing that does not.

    ``train_indices`` index the files of :class:`TrainingData`; ``eval_indices`` are the files
    whose features each snapshot holds (usually the whole fold: training and test files).
    Hyper-parameters have no defaults here: the paper's live in :class:`simsvm.config.ExperimentConfig`.
    """

    name: str
    objective: str
    seed: int
    train_indices: tuple[int, ...]
    eval_indices: tuple[int, ...]
    normaliser: Normaliser = field(compare=False)
    kernel: Kernel | None
    baseline_loss: str
    hidden_sizes: tuple[int, ...]
    epochs: int
    eval_every: int
    excerpt_length: int
    batch_size: int
    learning_rate: float
    rho: float
    eps: float

    def __post_init__(self) -> None:
        if self.objective not in OBJECTIVES:
            raise ParameterError(
                f"{self.name}: unknown objective {self.objective!r}; choose one of {OBJECTIVES}"
            )
        if self.objective == "similarity" and self.kernel is None:
            raise ParameterError(f"{self.name}: the similarity objective needs a kernel")
        for key in ("epochs", "eval_every", "excerpt_length", "batch_size"):
            if getattr(self, key) < (0 if key == "epochs" else 1):
                raise ParameterError(f"{self.name}: {key} must be positive, got {getattr(self, key)}")
        if not self.train_indices:
            raise ParameterError(f"{self.name}: no training files")


@dataclass
class Snapshot:
    """The state of a network at one evaluation point.

    Attributes
    ----------
    epoch : int
        Completed epochs (0: the untrained network).
    train_loss : float
        Mean loss per batch over the epoch's batches; NaN at epoch 0.
    features : np.ndarray, shape (len(eval_indices), n_features)
        Whole-sequence features of the spec's ``eval_indices``, in that order.
    outputs : np.ndarray, shape (len(eval_indices), n_outputs), optional
        The baseline network's output layer on those features (logits for classification).
    """

    epoch: int
    train_loss: float
    features: np.ndarray
    outputs: np.ndarray | None = None


def excerpt_starts(lengths: np.ndarray, excerpt_length: int, rng: np.random.Generator) -> np.ndarray:
    """Uniform start frame of one excerpt per file, in ``0 .. length - excerpt_length``.

    A file shorter than the excerpt starts at 0 (the excerpt is zero-padded).
    """
    highest = np.maximum(np.asarray(lengths) - excerpt_length, 0)
    return rng.integers(0, highest + 1)


def sequence_features(
    network: Network, frames: FrameStore, indices: Sequence[int], normaliser: Normaliser
) -> np.ndarray:
    """Whole-sequence features of ``frames[indices]`` (eq. 4), shape ``(len(indices), n_features)``.

    Files are batched by length so that padding, which the masked mean ignores anyway, stays small.
    """
    indices = np.asarray(indices)
    order = np.argsort(frames.lengths[indices], kind="stable")
    features = np.empty((len(indices), network.n_features), dtype=np.float32)
    with torch.no_grad():
        for chunk in np.array_split(order, max(1, int(np.ceil(len(order) / _SNAPSHOT_BATCH)))):
            lengths = frames.lengths[indices[chunk]]
            batch = frames.excerpts(
                indices[chunk], np.zeros(len(chunk), dtype=int), int(lengths.max()), normaliser=normaliser
            )
            features[chunk] = network.features(torch.from_numpy(batch), torch.from_numpy(lengths)).numpy()
    return features


def _snapshot(network: Network, spec: TrainingSpec, data: TrainingData, epoch: int, loss: float) -> Snapshot:
    network.eval()
    features = sequence_features(network, data.frames, spec.eval_indices, spec.normaliser)
    outputs = None
    if network.head is not None:
        with torch.no_grad():
            outputs = network.predict(torch.from_numpy(features)).numpy()
    network.train()
    return Snapshot(epoch=epoch, train_loss=loss, features=features, outputs=outputs)


def batch_loss(
    spec: TrainingSpec,
    task: str,
    features: torch.Tensor,
    annotations: torch.Tensor,
    targets: torch.Tensor,
    predict: Callable[[torch.Tensor], torch.Tensor] | None,
) -> torch.Tensor:
    """The loss of one network on one batch of files.

    ``features`` are the network's features of the batch's excerpts, ``annotations`` and
    ``targets`` the batch's rows of :class:`TrainingData`'s, as tensors on the same device;
    ``predict`` is the baseline network's output layer (unused by the similarity objective).
    """
    if spec.objective == "similarity":
        return similarity_loss(features, annotations.to(features.dtype), spec.kernel)
    if task == "regression":
        targets = targets.to(features.dtype)
    return baseline_loss(predict(features), targets, task=task, kind=spec.baseline_loss)


def train_network(
    spec: TrainingSpec, data: TrainingData, *, on_epoch: Callable[[int], None] | None = None
) -> Iterator[Snapshot]:
    """Train one network from its seed; yield a snapshot at epoch 0 and every ``eval_every`` epochs.

    The last epoch always yields a snapshot.  Same spec, same data: same snapshots.  ``on_epoch``
    is called with each finished epoch's number (progress reporting).
    """
    torch.manual_seed(spec.seed)
    rng = np.random.default_rng(spec.seed)
    network = Network(
        data.frames.n_features,
        spec.hidden_sizes,
        n_outputs=data.annotations.shape[1] if spec.objective == "baseline" else None,
    )
    optimiser = torch.optim.Adadelta(network.parameters(), lr=spec.learning_rate, rho=spec.rho, eps=spec.eps)
    train = np.asarray(spec.train_indices)
    annotations, targets = torch.from_numpy(data.annotations), torch.from_numpy(np.asarray(data.targets))
    yield _snapshot(network, spec, data, 0, float("nan"))
    for epoch in range(1, spec.epochs + 1):
        order = rng.permutation(train)
        starts = excerpt_starts(data.frames.lengths[order], spec.excerpt_length, rng)
        losses = []
        for begin in range(0, len(order), spec.batch_size):
            batch = order[begin : begin + spec.batch_size]
            excerpts = data.frames.excerpts(
                batch,
                starts[begin : begin + spec.batch_size],
                spec.excerpt_length,
                normaliser=spec.normaliser,
            )
            features = network.features(torch.from_numpy(excerpts))
            rows = torch.from_numpy(batch)
            loss = batch_loss(spec, data.task, features, annotations[rows], targets[rows], network.predict)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            losses.append(loss.item())
        if on_epoch is not None:
            on_epoch(epoch)
        if epoch % spec.eval_every == 0 or epoch == spec.epochs:
            yield _snapshot(network, spec, data, epoch, float(np.mean(losses)))


def _train_and_evaluate(
    data: TrainingData, job: tuple[tuple, tuple, str, bool, int], tick: Callable[[int], None]
) -> tuple[list[list], str]:
    """One backend job: a stack of networks (or one, the reference way), each snapshot evaluated.

    Snapshots are evaluated by ``evaluation_workers`` processes while training goes on, or here,
    between epochs, when that is 0.  Returns the results per network and who computed them
    (:func:`~simsvm.backends.worker_identity`).
    """
    specs, evaluate, device, reference, evaluation_workers = job
    if reference:
        (spec,) = specs
        stream = ([snapshot] for snapshot in train_network(spec, data, on_epoch=lambda epoch: tick(1)))
    else:
        from .stack_training import train_stack  # stack_training builds on this module

        stream = train_stack(specs, data, device=device, on_epoch=lambda epoch: tick(len(specs)))
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
    from .stack_training import stack_groups

    evaluate = [None] * len(specs) if evaluate is None else list(evaluate)
    if len(evaluate) != len(specs):
        raise ParameterError(f"{len(specs)} specs but {len(evaluate)} evaluate functions")
    backend = backend or SerialBackend()
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
