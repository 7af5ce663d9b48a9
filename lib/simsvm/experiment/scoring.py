"""Scoring learned features with a kernel SVM / SVR, and the baseline network's own outputs.

The SVM is fitted on a precomputed Gram matrix from :mod:`simsvm.model.kernels`, so the kernel the
network learned against and the kernel the SVM uses are the same function by construction.
With an :class:`SvmGrid`, C (and a tunable gamma) are chosen by an inner cross-validation on the
training files alone, as the paper did once for Emotify (its section 2.6); the test files are
never seen by that choice.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.svm import SVC, SVR

from simsvm.exceptions import ParameterError
from simsvm.experiment.svm_grid import SvmGrid
from simsvm.model.kernels import Kernel, gram_matrix
from simsvm.names import METRICS

__all__ = [
    "SvmChoice",
    "SvmGrid",
    "inner_folds",
    "network_predictions",
    "pearson_r",
    "r_squared",
    "score_network_outputs",
    "score_predictions",
    "score_svm",
    "svm_predict",
    "tune_svm",
]


@dataclass(frozen=True)
class SvmChoice:
    """The C and gamma an SVM (or one target's SVR) was fitted with; ``gamma`` None without one."""

    C: float
    gamma: float | None


def pearson_r(predicted: np.ndarray, actual: np.ndarray) -> float:
    """Pearson's correlation; NaN when either side is constant (R is undefined there)."""
    predicted = np.asarray(predicted, dtype=np.float64)
    actual = np.asarray(actual, dtype=np.float64)
    if predicted.std() == 0 or actual.std() == 0:
        return float("nan")
    return float(np.corrcoef(predicted, actual)[0, 1])


def r_squared(predicted: np.ndarray, actual: np.ndarray) -> float:
    """Coefficient of determination ``1 - SS_res / SS_tot``; NaN when the actual values are constant."""
    predicted = np.asarray(predicted, dtype=np.float64)
    actual = np.asarray(actual, dtype=np.float64)
    total = np.square(actual - actual.mean()).sum()
    if total == 0:
        return float("nan")
    return float(1.0 - np.square(actual - predicted).sum() / total)


def score_predictions(
    predicted: np.ndarray, actual: np.ndarray, *, task: str, target_names: tuple[str, ...]
) -> dict[str, dict[str, float]]:
    """Every metric of the predictions: ``{metric: {target: value}}``.

    Classification: ``{'accuracy': {'all': ...}}``.  Regression: Pearson's R and R² per target,
    each with ``'mean'``, the mean over targets (the paper's summary score is the mean R).
    """
    if task not in METRICS:
        raise ParameterError(f"unknown task {task!r}")
    if task == "classification":
        return {"accuracy": {"all": float(np.mean(predicted == actual))}}
    scores = {}
    for metric, function in (("pearson_r", pearson_r), ("r2", r_squared)):
        values = {name: function(predicted[:, j], actual[:, j]) for j, name in enumerate(target_names)}
        values["mean"] = float(np.mean(list(values.values())))
        scores[metric] = values
    return scores


def inner_folds(targets: np.ndarray, *, task: str, folds: int, seed: int, where: str = "") -> list:
    """The inner cross-validation's ``(train, validation)`` index pairs over one training part.

    Stratified by class for classification; every class needs ``folds`` training files, or a
    :class:`ParameterError` says which does not (``where`` names the outer fold in it).
    """
    if len(targets) < folds:
        raise ParameterError(f"svm_tuning.folds: {folds} inner folds need {folds} training files{where}")
    if task == "classification":
        counts = np.bincount(targets)
        present = counts[counts > 0]
        if present.min() < folds:
            raise ParameterError(
                f"svm_tuning.folds: {folds} inner folds but a class has {present.min()} training files{where}"
            )
        splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
        return list(splitter.split(np.zeros(len(targets)), targets))
    return list(KFold(n_splits=folds, shuffle=True, random_state=seed).split(np.zeros(len(targets))))


def _fit_predict(
    task: str, train_gram: np.ndarray, train_targets: np.ndarray, test_gram: np.ndarray, C: float
):
    model = SVC(kernel="precomputed", C=C) if task == "classification" else SVR(kernel="precomputed", C=C)
    return model.fit(train_gram, train_targets).predict(test_gram)


def tune_svm(
    features: np.ndarray, targets: np.ndarray, *, task: str, kernel: Kernel, grid: SvmGrid, seed: int
) -> list[SvmChoice]:
    """C and gamma of the best inner-CV score on ``features`` (the training part only).

    One choice for classification (accuracy), one per target for regression (Pearson's R of that
    target's SVR; a constant prediction counts as R = 0).  Ties go to the first value of the grid.
    """
    splits = inner_folds(targets, task=task, folds=grid.folds, seed=seed)
    columns = [targets] if task == "classification" else [targets[:, j] for j in range(targets.shape[1])]
    gammas = grid.gamma if grid.gamma is not None else (None,)
    best: list[tuple[float, SvmChoice] | None] = [None] * len(columns)
    for gamma in gammas:
        bound = kernel if gamma is None else kernel.bound(gamma=gamma)
        gram = gram_matrix(bound, features)
        for C in grid.C:
            for column, values in enumerate(columns):
                fold_scores = []
                for train, validation in splits:
                    predicted = _fit_predict(
                        task, gram[np.ix_(train, train)], values[train], gram[np.ix_(validation, train)], C
                    )
                    if task == "classification":
                        fold_scores.append(float(np.mean(predicted == values[validation])))
                    else:
                        r = pearson_r(predicted, values[validation])
                        fold_scores.append(0.0 if math.isnan(r) else r)
                score = float(np.mean(fold_scores))
                if best[column] is None or score > best[column][0]:
                    best[column] = (score, SvmChoice(C=C, gamma=gamma))
    return [choice for _, choice in best]


def svm_predict(
    train_features: np.ndarray,
    train_targets: np.ndarray,
    test_features: np.ndarray,
    *,
    task: str,
    kernel: Kernel,
    C: float = 1.0,
    grid: SvmGrid | None = None,
    seed: int = 0,
) -> tuple[np.ndarray, list[SvmChoice]]:
    """Fit an SVC (or one SVR per target) from scratch and predict the test files.

    Parameters
    ----------
    train_features, test_features : np.ndarray, shape (n_train, d) and (n_test, d)
    train_targets : np.ndarray
        Class indices ``(n_train,)`` or values ``(n_train, k)``.
    kernel : Kernel
        The SVM's kernel (paper: RBF, gamma 0.5).
    C : float
        Soft-margin penalty, when not tuned.
    grid : SvmGrid, optional
        Choose C (and the RBF's gamma) by inner cross-validation on the training files.
    seed : int
        Seed of the inner folds.

    Returns
    -------
    predicted : np.ndarray
        Classes ``(n_test,)`` or values ``(n_test, k)``.
    choices : list of SvmChoice
        What each SVM was fitted with: one for classification, one per target for regression.
    """
    if task not in METRICS:
        raise ParameterError(f"unknown task {task!r}")
    n_columns = 1 if task == "classification" else train_targets.shape[1]
    if grid is None:
        choices = [SvmChoice(C=C, gamma=kernel.values.get("gamma"))] * n_columns
    else:
        choices = tune_svm(train_features, train_targets, task=task, kernel=kernel, grid=grid, seed=seed)
    grams: dict[float | None, tuple[np.ndarray, np.ndarray]] = {}
    predictions = []
    for column, choice in enumerate(choices):
        if choice.gamma not in grams:
            bound = kernel if choice.gamma is None else kernel.bound(gamma=choice.gamma)
            grams[choice.gamma] = (
                gram_matrix(bound, train_features),
                gram_matrix(bound, test_features, train_features),
            )
        train_gram, test_gram = grams[choice.gamma]
        values = train_targets if task == "classification" else train_targets[:, column]
        predictions.append(_fit_predict(task, train_gram, values, test_gram, choice.C))
    predicted = predictions[0] if task == "classification" else np.column_stack(predictions)
    return predicted, choices


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
    """The task's score of an SVM fitted on the training files, with fixed C and kernel.

    Returns ``{'all': accuracy}`` for classification; ``{target: R, ..., 'mean': mean R}`` for
    regression (see :func:`svm_predict` and :func:`score_predictions` for the rest).
    """
    predicted, _ = svm_predict(train_features, train_targets, test_features, task=task, kernel=kernel, C=C)
    return score_predictions(predicted, test_targets, task=task, target_names=target_names)[METRICS[task]]


def network_predictions(outputs: np.ndarray, *, task: str) -> np.ndarray:
    """The baseline network's own predictions (the NN approach): argmax class or raw values."""
    return outputs.argmax(axis=1) if task == "classification" else outputs


def score_network_outputs(
    outputs: np.ndarray, targets: np.ndarray, *, task: str, target_names: tuple[str, ...]
) -> dict[str, float]:
    """The task's score of the baseline network's own predictions."""
    predicted = network_predictions(outputs, task=task)
    return score_predictions(predicted, targets, task=task, target_names=target_names)[METRICS[task]]
