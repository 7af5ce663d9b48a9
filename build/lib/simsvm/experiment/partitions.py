"""How a dataset is divided into training and test files: CV folds, fixed splits, random splits.

Every function returns ``(train, test)`` index arrays into the dataset; :func:`partitions`
picks the one a configuration's ``protocol`` names.
"""

from __future__ import annotations

import logging

import numpy as np
from sklearn.model_selection import KFold, StratifiedKFold

from simsvm.data.datasets import Dataset
from simsvm.exceptions import DataError, ParameterError
from simsvm.experiment.config import ExperimentConfig

__all__ = ["cv_folds", "fixed_split", "partitions", "random_splits"]

log = logging.getLogger(__name__)


def cv_folds(
    targets: np.ndarray,
    *,
    task: str,
    n_folds: int,
    seed: int,
    class_names: tuple[str, ...] | None = None,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """``(train, test)`` index arrays of k-fold CV, stratified by class for classification.

    Every class must have at least one file per fold, or a fold's test part would miss a class
    (and scikit-learn would only warn); ``class_names`` name the smallest class in that error.
    """
    n = len(targets)
    if n_folds > n:
        raise ParameterError(f"folds: {n_folds} folds need at least {n_folds} files, the dataset has {n}")
    if task == "classification":
        counts = np.bincount(targets)
        present = np.flatnonzero(counts)
        smallest = present[np.argmin(counts[present])]
        if n_folds > counts[smallest]:
            name = class_names[smallest] if class_names is not None else f"class {smallest}"
            raise ParameterError(
                f"folds: {n_folds} folds but the smallest class ({name}) has {counts[smallest]} files"
            )
        splitter = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
        split = splitter.split(np.zeros(n), targets)
    else:
        split = KFold(n_splits=n_folds, shuffle=True, random_state=seed).split(np.zeros(n))
    return [(np.sort(train), np.sort(test)) for train, test in split]


def fixed_split(dataset: Dataset, *, train: list[str], test: str) -> tuple[np.ndarray, np.ndarray]:
    """``(train, test)`` indices from the dataset's named splits (e.g. MediaEval's development/evaluation)."""
    names = [*train, test]
    missing = [name for name in names if name not in dataset.splits]
    if missing:
        offered = sorted(dataset.splits) or "none (see the loader's options, e.g. gtzan's split_dir)"
        raise ParameterError(f"split: {dataset.key} has no split {missing}; it offers {offered}")
    if test in train:
        raise ParameterError(f"split: test split {test!r} is also a training split")
    train_indices = np.unique(np.concatenate([np.asarray(dataset.splits[name], dtype=int) for name in train]))
    test_indices = np.unique(np.asarray(dataset.splits[test], dtype=int))
    if np.intersect1d(train_indices, test_indices).size:
        raise DataError(f"{dataset.key}: splits {train} and {test!r} share tracks")
    return train_indices, test_indices


def random_splits(n: int, *, count: int, test_share: float, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """``count`` purely random train/test splits of ``n`` files (paper 3.3: 100 splits of 9:1).

    Split ``r`` draws from its own stream ``[seed, r]``, so a split does not change when ``count``
    does; no stratification, as in the paper.
    """
    n_test = round(test_share * n)
    if not 0 < n_test < n:
        raise ParameterError(f"test_share: {test_share} of {n} files leaves an empty side")
    result = []
    for split in range(count):
        order = np.random.default_rng([seed, split]).permutation(n)
        result.append((np.sort(order[n_test:]), np.sort(order[:n_test])))
    return result


def partitions(config: ExperimentConfig, dataset: Dataset) -> list[tuple[np.ndarray, np.ndarray]]:
    """The ``(train, test)`` partitions of the configured protocol, one per fold or split."""
    if config.protocol == "split":
        return [fixed_split(dataset, train=config.train_splits, test=config.test_split)]
    if config.protocol == "random_splits":
        return random_splits(
            len(dataset), count=config.splits, test_share=config.test_share, seed=config.seed
        )
    return cv_folds(
        dataset.targets,
        task=dataset.task,
        n_folds=config.folds,
        seed=config.seed,
        class_names=dataset.target_names,
    )
