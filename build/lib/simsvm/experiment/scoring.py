"""Scoring learned features with a kernel SVM / SVR, and the baseline network's own outputs.

The SVM is fitted on a precomputed Gram matrix from :mod:`simsvm.model.kernels`, so the kernel the
network learned against and the kernel the SVM uses are the same function by construction.
"""

from __future__ import annotations

import numpy as np
from sklearn.svm import SVC, SVR

from simsvm.exceptions import ParameterError
from simsvm.model.kernels import Kernel, gram_matrix
from simsvm.names import METRICS

__all__ = ["pearson_r", "score_network_outputs", "score_svm"]

# metric per task; regression also reports the mean over targets under target 'mean'.


def pearson_r(predicted: np.ndarray, actual: np.ndarray) -> float:
    """Pearson's correlation; NaN when either side is constant (R is undefined there)."""
    predicted = np.asarray(predicted, dtype=np.float64)
    actual = np.asarray(actual, dtype=np.float64)
    if predicted.std() == 0 or actual.std() == 0:
        return float("nan")
    return float(np.corrcoef(predicted, actual)[0, 1])


def _scores(
    predicted: np.ndarray, actual: np.ndarray, task: str, target_names: tuple[str, ...]
) -> dict[str, float]:
    if task == "classification":
        return {"all": float(np.mean(predicted == actual))}
    scores = {name: pearson_r(predicted[:, j], actual[:, j]) for j, name in enumerate(target_names)}
    scores["mean"] = float(np.mean(list(scores.values())))
    return scores


def score_svm(
    train_features: np.ndarray,
    train_targets: np.ndarray,
    test_features: np.ndarray,
    test_targets: np.ndarray,
    *,
    task: str,
    target_names: tuple[str, ...],
    kernel: Kernel,
    C: float = 1.0,
) -> dict[str, float]:
    """Fit an SVC (or one SVR per target) from scratch and score it on the test files.

    Parameters
    ----------
    train_features, test_features : np.ndarray, shape (n_train, d) and (n_test, d)
    train_targets, test_targets : np.ndarray
        Class indices ``(n,)`` or values ``(n, k)``.
    kernel : Kernel
        The SVM's kernel (paper: RBF, gamma 0.5).
    C : float
        Soft-margin penalty.

    Returns
    -------
    dict
        ``{'all': accuracy}`` for classification; ``{target: R, ..., 'mean': mean R}`` for
        regression.
    """
    if task not in METRICS:
        raise ParameterError(f"unknown task {task!r}")
    train_gram = gram_matrix(kernel, train_features)
    test_gram = gram_matrix(kernel, test_features, train_features)
    if task == "classification":
        predicted = SVC(kernel="precomputed", C=C).fit(train_gram, train_targets).predict(test_gram)
    else:
        predicted = np.column_stack(
            [
                SVR(kernel="precomputed", C=C).fit(train_gram, train_targets[:, j]).predict(test_gram)
                for j in range(train_targets.shape[1])
            ]
        )
    return _scores(predicted, test_targets, task, target_names)


def score_network_outputs(
    outputs: np.ndarray, targets: np.ndarray, *, task: str, target_names: tuple[str, ...]
) -> dict[str, float]:
    """Score the baseline network's own predictions (the NN approach): argmax class or raw values."""
    predicted = outputs.argmax(axis=1) if task == "classification" else outputs
    return _scores(predicted, targets, task, target_names)
