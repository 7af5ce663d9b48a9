"""How a dataset is divided into training and test files: CV folds, fixed splits, random splits.

Every function returns ``(train, test)`` index arrays into the dataset; :func:`partitions`
picks the one a configuration's ``protocol`` names.  :func:`protocol_tracks` is the dataset a
protocol reads: under ``protocol: split``, the tracks of the splits it trains and tests on, so
that the files of no split (or of another split) stay out of the frames, the normalisation
statistics and everything after, and are reported.
"""

from __future__ import annotations

import logging

import numpy as np
from sklearn.model_selection import KFold, StratifiedKFold

from simsvm.data.datasets import Dataset
from simsvm.exceptions import DataError, ParameterError
from simsvm.experiment.config import ExperimentConfig

__all__ = ["cv_folds", "fixed_split", "partitions", "protocol_tracks", "random_splits"]

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
    """The ``(train, test)`` partitions of the configured protocol, one per fold or split.

    Raises
    ------
    DataError
        Where a regression target has one value over a training or a test part: the SVR learns
        a constant, or Pearson's R of the test part is undefined; either scores NaN.
    """
    if config.protocol == "split":
        parts = [fixed_split(dataset, train=config.train_splits, test=config.test_split)]
    elif config.protocol == "random_splits":
        parts = random_splits(
            len(dataset), count=config.splits, test_share=config.test_share, seed=config.seed
        )
    else:
        parts = cv_folds(
            dataset.targets,
            task=dataset.task,
            n_folds=config.folds,
            seed=config.seed,
            class_names=dataset.target_names,
        )
    if dataset.task == "regression":
        _refuse_constant_parts(dataset, parts, "fold" if config.protocol == "cv" else "split")
    return parts


def _refuse_constant_parts(dataset: Dataset, parts: list, word: str) -> None:
    """A target constant over a training part (the SVR predicts a constant) or a test part
    (Pearson's R divides by zero) would score NaN with exit status 0; refuse it, naming the
    target and the part.

    Test parts under 3 files are left to :func:`simsvm.experiment.limits.check_partitions`,
    which refuses them whatever their values."""
    for index, (train, test) in enumerate(parts):
        for side, members, smallest in (("training", train, 2), ("test", test, 3)):
            if len(members) < smallest:
                continue
            values = dataset.targets[members]
            flat = np.flatnonzero(np.ptp(values, axis=0) == 0)
            if flat.size:
                column = int(flat[0])
                raise DataError(
                    f"{dataset.key}: {dataset.target_names[column]} is {float(values[0, column])} for every "
                    f"{side} file of {word} {index}; its scores would be NaN"
                )


def protocol_tracks(config: ExperimentConfig, dataset: Dataset) -> Dataset:
    """The tracks the protocol reads; under ``protocol: split`` the others are left out, reported.

    The paper normalises frames over "the whole dataset"; under a fixed split that is the files
    of its splits.  A file in no split (an empty ``split`` cell, a GTZAN clip the fault-filtered
    lists leave out) or in a split the run neither trains nor tests on would otherwise be
    decoded, counted as used and folded into the normalisation statistics.

    A regression target with one value over every track read is refused here, before any frame
    is extracted: every score of it would be NaN (Pearson's R of a constant), with exit status 0.

    Raises
    ------
    ParameterError, DataError
        As :func:`fixed_split`; a :class:`DataError` naming a constant target.
    """
    if config.protocol != "split":
        _refuse_constant_targets(dataset)
        return dataset
    train, test = fixed_split(dataset, train=config.train_splits, test=config.test_split)
    kept = np.union1d(train, test)
    if len(kept) == len(dataset):
        _refuse_constant_targets(dataset)
        return dataset
    membership: dict[int, list[str]] = {}
    for name, members in dataset.splits.items():
        for index in members:
            membership.setdefault(index, []).append(name)
    used = [*config.train_splits, config.test_split]
    left_out = []
    for index in sorted(set(range(len(dataset))) - set(kept.tolist())):
        names = membership.get(index)
        why = (
            f"in no split of {dataset.key}; protocol: split uses {used}"
            if not names
            else f"in split(s) {sorted(names)}, which protocol: split neither trains nor tests on "
            f"(it uses {used})"
        )
        left_out.append((str(dataset.audio_paths[index]), why))
    result = dataset.subset(kept)
    result.skipped = list(dataset.skipped) + left_out
    _refuse_constant_targets(result)
    return result


def _refuse_constant_targets(dataset: Dataset) -> None:
    """A regression target of one value for every track read: nothing to learn, nothing to score."""
    if dataset.task != "regression":
        return
    for column, name in enumerate(dataset.target_names):
        values = dataset.targets[:, column]
        if np.ptp(values) == 0:
            raise DataError(
                f"{dataset.key}: target {name!r} is {float(values[0])} for every track in {dataset.root}; "
                "Pearson's R of a constant is undefined, so it cannot be scored"
            )
