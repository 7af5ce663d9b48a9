"""Kernel functions shared by the similarity loss and the SVM.

The paper's point is that the network learns the similarity the SVM will use.  Keeping both in
one module makes that literal: the loss evaluates ``kernel(F, F)`` on torch tensors during
training and the SVM is fitted on the precomputed ``kernel(F_train, F_train)`` from the very same
function (see :mod:`simsvm.experiment.scoring`).

All functions take ``x`` of shape ``(n, d)`` and ``y`` of shape ``(m, d)`` and return the
``(n, m)`` Gram matrix, differentiably.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from simsvm.exceptions import ParameterError
from simsvm.names import KERNELS

__all__ = ["Kernel", "cosine", "gram_matrix", "make_kernel", "polynomial", "rbf"]

# Below this norm a vector is treated as zero by the cosine kernel.
_COSINE_EPS = 1e-12


def _check_pair(x: torch.Tensor, y: torch.Tensor) -> None:
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1]:
        raise ParameterError(
            f"kernels take matrices (n, d) and (m, d); got {tuple(x.shape)} and {tuple(y.shape)}"
        )


def rbf(x: torch.Tensor, y: torch.Tensor, *, gamma: float = 0.5) -> torch.Tensor:
    """Gaussian kernel ``exp(-gamma * ||x - y||^2)``.

    The squared distance is taken from explicit differences rather than the
    ``|x|^2 + |y|^2 - 2 x.y`` expansion: batches here are small (~100 x 50) and the expansion
    cancels catastrophically for near-identical rows, which gives ``sqrt``-free but noisy
    gradients around the diagonal.
    """
    _check_pair(x, y)
    if gamma <= 0:
        raise ParameterError(f"rbf gamma must be positive, got {gamma!r}")
    squared_distance = (x.unsqueeze(1) - y.unsqueeze(0)).pow(2).sum(dim=-1)
    return torch.exp(-gamma * squared_distance)


def cosine(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Cosine similarity ``x.y / (|x| |y|)``; a zero vector has similarity 0 to everything."""
    _check_pair(x, y)
    x_norm = x.norm(dim=1, keepdim=True).clamp_min(_COSINE_EPS)
    y_norm = y.norm(dim=1, keepdim=True).clamp_min(_COSINE_EPS)
    return (x / x_norm) @ (y / y_norm).T


def polynomial(x: torch.Tensor, y: torch.Tensor, *, degree: int = 2, offset: float = 0.0) -> torch.Tensor:
    """Polynomial kernel ``(x.y + offset) ** degree`` (the paper's p = 2, b = 0)."""
    _check_pair(x, y)
    if int(degree) != degree or degree < 1:
        raise ParameterError(f"polynomial degree must be a positive integer, got {degree!r}")
    return (x @ y.T + offset).pow(int(degree))


_FUNCTIONS = {"rbf": rbf, "cosine": cosine, "poly": polynomial}
if tuple(_FUNCTIONS) != KERNELS:  # one table of names: a kernel named there must exist here
    raise ImportError(f"simsvm.names.KERNELS {KERNELS} and the kernel functions {tuple(_FUNCTIONS)} disagree")


@dataclass(frozen=True)
class Kernel:
    """A kernel with its hyper-parameters bound; picklable, so it can travel to worker processes.

    Parameters
    ----------
    name : {'rbf', 'cosine', 'poly'}
    gamma : float
        RBF width (1 / squared feature units).  Ignored by the other kernels.
    degree, offset : int, float
        Polynomial degree ``p`` and offset ``b``.  Ignored by the other kernels.
    """

    name: str
    gamma: float = 0.5
    degree: int = 2
    offset: float = 0.0

    def __post_init__(self) -> None:
        if self.name not in KERNELS:
            raise ParameterError(f"unknown kernel {self.name!r}; choose one of {list(KERNELS)}")

    def __call__(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if self.name == "rbf":
            return rbf(x, y, gamma=self.gamma)
        if self.name == "poly":
            return polynomial(x, y, degree=self.degree, offset=self.offset)
        return cosine(x, y)


def make_kernel(name: str, *, gamma: float = 0.5, degree: int = 2, offset: float = 0.0) -> Kernel:
    """Bind a kernel's hyper-parameters; raises :class:`ParameterError` for an unknown name."""
    return Kernel(name=name, gamma=float(gamma), degree=int(degree), offset=float(offset))


def gram_matrix(kernel: Kernel, x: np.ndarray, y: np.ndarray | None = None) -> np.ndarray:
    """Evaluate ``kernel`` on NumPy arrays in float64, for the SVM's precomputed kernel.

    Parameters
    ----------
    x : np.ndarray, shape (n, d)
    y : np.ndarray, shape (m, d), optional
        Defaults to ``x``.

    Returns
    -------
    np.ndarray, shape (n, m)
    """
    # Copies: torch allocates them aligned, so MKL takes the same path whatever numpy's alignment.
    x_t = torch.tensor(np.asarray(x, dtype=np.float64))
    y_t = x_t if y is None else torch.tensor(np.asarray(y, dtype=np.float64))
    with torch.no_grad():
        return kernel(x_t, y_t).numpy()
