"""What one network's training is: its data, its specification, its snapshots, its loss on a batch.

The loop that carries it out is :func:`simsvm.train.loop.train_stack`; this module holds what
that loop, the job runner and the experiment share, so that none of them reaches into another.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from simsvm.data.frames import FrameStore, Normaliser
from simsvm.exceptions import ParameterError
from simsvm.model.kernels import Kernel
from simsvm.model.losses import LOSSES
from simsvm.names import MATMUL_PRECISIONS
from simsvm.train.schedule import evaluated_epochs

__all__ = [
    "Snapshot",
    "TrainingData",
    "TrainingSpec",
    "batch_loss",
    "evaluated_epochs",
    "excerpt_starts",
    "unit_scaled",
]


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
    Hyper-parameters have no defaults here: the paper's live in
    :class:`simsvm.experiment.config.ExperimentConfig`.
    """

    name: str
    # a key of simsvm.model.losses.LOSSES, and its own parameters as (name, value) pairs
    loss: str
    seed: int
    train_indices: tuple[int, ...]
    eval_indices: tuple[int, ...]
    normaliser: Normaliser = field(compare=False)
    kernel: Kernel | None
    hidden_sizes: tuple[int, ...]
    epochs: int
    eval_every: int
    excerpt_length: int
    batch_size: int
    learning_rate: float
    rho: float
    eps: float
    loss_parameters: tuple[tuple[str, Any], ...] = ()
    # (low, high) per regression target: the loss reads annotations mapped to [0, 1] by them
    annotation_bounds: tuple[tuple[float, float], ...] | None = None
    # the GRU's products: 'fp32', or 'bf16' where the device has it (simsvm.engine.recurrence)
    matmul_precision: str = "fp32"

    def __post_init__(self) -> None:
        if self.loss not in LOSSES:
            raise ParameterError(f"{self.name}: unknown loss {self.loss!r}; choose one of {list(LOSSES)}")
        if self.matmul_precision not in MATMUL_PRECISIONS:
            raise ParameterError(
                f"{self.name}: matmul_precision {self.matmul_precision!r} is not one of {MATMUL_PRECISIONS}"
            )
        if LOSSES[self.loss].uses_kernel and self.kernel is None:
            raise ParameterError(f"{self.name}: the {self.loss} loss needs a kernel")
        for key in ("epochs", "eval_every", "excerpt_length", "batch_size"):
            if getattr(self, key) < (0 if key == "epochs" else 1):
                raise ParameterError(f"{self.name}: {key} must be positive, got {getattr(self, key)}")
        if not self.train_indices:
            raise ParameterError(f"{self.name}: no training files")
        for low, high in self.annotation_bounds or ():
            if not high > low:
                raise ParameterError(f"{self.name}: annotation bounds ({low}, {high}) enclose no values")

    @property
    def has_output_layer(self) -> bool:
        """Whether the network has the dense output layer its loss reads (the NN/FL baseline's)."""
        return LOSSES[self.loss].reads == "outputs"


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
    learned : dict of str to float
        The loss's trained kernel parameters at this epoch, by configuration key
        (``{'rbf_gamma': 0.61}`` with ``rbf_gamma: learn``); empty otherwise.
    """

    epoch: int
    train_loss: float
    features: np.ndarray
    outputs: np.ndarray | None = None
    learned: dict[str, float] = field(default_factory=dict)


def unit_scaled(values, bounds: tuple[tuple[float, float], ...]):
    """Each column of ``values`` ``(n, k)``, an array or a tensor, mapped from its (low, high) to [0, 1]."""
    low, high = (np.asarray(side, dtype=np.float64) for side in zip(*bounds, strict=True))
    if isinstance(values, torch.Tensor):
        low, high = values.new_tensor(low), values.new_tensor(high)
    return (values - low) / (high - low)


def excerpt_starts(lengths: np.ndarray, excerpt_length: int, rng: np.random.Generator) -> np.ndarray:
    """Uniform start frame of one excerpt per file, in ``0 .. length - excerpt_length``.

    A file shorter than the excerpt starts at 0 (the excerpt is zero-padded).
    """
    highest = np.maximum(np.asarray(lengths) - excerpt_length, 0)
    return rng.integers(0, highest + 1)


def batch_loss(
    spec: TrainingSpec,
    task: str,
    features: torch.Tensor,
    annotations: torch.Tensor,
    targets: torch.Tensor,
    outputs: torch.Tensor | None,
    kernel: Kernel | None = None,
) -> torch.Tensor:
    """The loss of one network on one batch of files.

    ``features`` are the network's features of the batch's excerpts, ``annotations`` and
    ``targets`` the batch's rows of :class:`TrainingData`'s, as tensors on the same device;
    ``outputs`` the baseline network's output layer applied to ``features`` (``None`` for a loss
    that reads the features alone).  ``kernel`` is the spec's kernel with its learned values
    bound, where it has any: it computes ``K(F, F)``, while ``K(A, A)`` keeps the values it
    started from (a width learned on both sides could shrink both to the same constant matrix).
    """
    loss = LOSSES[spec.loss]
    kernels = {"kernel": kernel or spec.kernel}
    if loss.uses_kernel:
        kernels["target_kernel"] = spec.kernel.started()
    values = outputs if loss.reads == "outputs" else features
    if loss.targets == "annotations":
        wanted = annotations.to(features.dtype)
        if spec.annotation_bounds is not None:
            wanted = unit_scaled(wanted, spec.annotation_bounds)
    else:
        wanted = targets.to(features.dtype) if task == "regression" else targets
    return loss(values, wanted, task=task, **kernels, **dict(spec.loss_parameters))
