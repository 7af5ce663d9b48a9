"""Training objectives: the paper's similarity loss and the baseline network's losses."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from simsvm.exceptions import ParameterError
from simsvm.model.kernels import Kernel
from simsvm.names import BASELINE_LOSSES, SIMILARITY_NORMS

__all__ = ["baseline_loss", "one_hot", "similarity_loss"]


def similarity_loss(
    features: torch.Tensor, annotations: torch.Tensor, kernel: Kernel, *, norm: str = "squared"
) -> torch.Tensor:
    """Frobenius distance between the kernel matrices of features and annotations, squared by default.

    ``L = ||K(F, F) - K(A, A)||_F^2`` over the whole batch: the network is pulled towards features
    whose pairwise similarities, under the SVM's kernel, are those of the labels.  Eq. 7 writes
    the plain norm (``norm='frobenius'``); its square has the same minimisers and, within a
    batch, the same gradient direction, and is smooth where the two matrices agree.

    Parameters
    ----------
    features : torch.Tensor, shape (batch, d)
        Time-averaged network outputs ``F``.
    annotations : torch.Tensor, shape (batch, k)
        One-hot classes or raw regression targets ``A``; no gradient flows into them.
    kernel : Kernel
    norm : {'squared', 'frobenius'}
    """
    if norm not in SIMILARITY_NORMS:
        raise ParameterError(f"unknown similarity norm {norm!r}; choose one of {list(SIMILARITY_NORMS)}")
    if features.shape[0] != annotations.shape[0]:
        raise ParameterError(
            f"features and annotations differ in batch size: {features.shape[0]} vs {annotations.shape[0]}"
        )
    target_gram = kernel(annotations, annotations).detach()
    squared = (kernel(features, features) - target_gram).pow(2).sum()
    if norm == "squared":
        return squared
    # sqrt's derivative is infinite at 0; where the matrices agree exactly the gradient is 0 instead
    return torch.where(squared > 0, squared, torch.ones_like(squared)).sqrt() * (squared > 0)


def one_hot(labels: torch.Tensor, n_classes: int) -> torch.Tensor:
    """Class indices ``(batch,)`` to float one-hot rows ``(batch, n_classes)``."""
    return F.one_hot(labels.long(), n_classes).to(torch.get_default_dtype())


def baseline_loss(
    outputs: torch.Tensor, targets: torch.Tensor, *, task: str, kind: str = "sse"
) -> torch.Tensor:
    """Loss of the baseline network's output layer (the NN approach).

    Parameters
    ----------
    outputs : torch.Tensor, shape (batch, k)
        Pre-activation outputs of the dense head (logits for classification).
    targets : torch.Tensor
        Class indices ``(batch,)`` for classification, values ``(batch, k)`` for regression.
    task : {'classification', 'regression'}
    kind : {'sse', 'cross_entropy'}
        ``'sse'`` is the paper's sum of squared errors, between softmax probabilities and one-hot
        targets for classification and between raw outputs and targets for regression.
        ``'cross_entropy'`` (classification only) is offered as the usual alternative.
    """
    if kind not in BASELINE_LOSSES:
        raise ParameterError(f"unknown baseline loss {kind!r}; choose one of {BASELINE_LOSSES}")
    if task == "classification":
        if kind == "cross_entropy":
            return F.cross_entropy(outputs, targets.long(), reduction="sum")
        return (outputs.softmax(dim=1) - one_hot(targets, outputs.shape[1])).pow(2).sum()
    if task == "regression":
        if kind == "cross_entropy":
            raise ParameterError("cross_entropy is a classification loss; use 'sse' for regression")
        return (outputs - targets).pow(2).sum()
    raise ParameterError(f"unknown task {task!r}; expected 'classification' or 'regression'")
