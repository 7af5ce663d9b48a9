"""The paper's protocol as jobs: one network per fold and approach, the untrained baselines, and scoring.

:func:`plan_jobs` turns a parameter set and a dataset into ``(name, spec, evaluator)`` triples:
for every fold (or split) of :func:`~simsvm.experiment.partitions.partitions`, one network per
:class:`~simsvm.experiment.approaches.Network` the approaches read (NN and FL share the baseline
network), seeded from the run's seed and the network's seed stream.  A :class:`FoldEvaluator`
turns each snapshot of that network into an :class:`Evaluation`: result rows of the SVM / SVR on
the fold's training features scored on its test features (and for NN of the network's own
output), and the test files' predictions.  :func:`plan_fixed_jobs` gives a
:class:`FixedFeaturesJob` per fold for each approach whose features are not trained (Stats'
frame statistics, the embeddings you bring): no network, the same SVM.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from simsvm.data.datasets import Dataset
from simsvm.data.frames import Normaliser
from simsvm.exceptions import DataError
from simsvm.experiment.approaches import APPROACHES, NETWORKS, SVM_SEED_STREAM, trained_networks
from simsvm.experiment.config import ExperimentConfig
from simsvm.experiment.declared import bound_loss_kernel, bound_svm_kernel, loss_values
from simsvm.experiment.limits import check_partitions
from simsvm.experiment.partitions import partitions
from simsvm.experiment.scoring import (
    SvmChoice,
    SvmGrid,
    inner_folds,
    network_predictions,
    score_predictions,
    svm_predict,
)
from simsvm.model.kernels import Kernel
from simsvm.model.losses import LOSSES
from simsvm.train.spec import Snapshot, TrainingData, TrainingSpec, evaluated_epochs

__all__ = [
    "Evaluation",
    "FixedFeaturesJob",
    "FoldEvaluator",
    "job_seed",
    "plan_fixed_jobs",
    "plan_jobs",
]


def job_seed(seed: int, fold: int, network: str) -> int:
    """The seed of one network on one fold (weights, excerpts), or (``'svm'``) of the fold's inner
    SVM folds; each network's seed stream (:class:`~simsvm.experiment.approaches.Network`) keeps
    it apart from every other's, so adding an approach never changes another network's seed."""
    stream = SVM_SEED_STREAM if network == "svm" else NETWORKS[network].seed_stream
    return int(np.random.SeedSequence([seed, fold, stream]).generate_state(1)[0])


@dataclass(frozen=True)
class Evaluation:
    """One snapshot scored: result rows, the features scored, and the test files' predictions.

    ``predictions`` maps each approach to its predicted classes ``(n_test,)`` or values
    ``(n_test, k)``, in the order of the fold's test files.
    """

    epoch: int
    rows: list[dict]
    features: np.ndarray
    predictions: dict[str, np.ndarray]

    def at_epoch(self, epoch: int) -> Evaluation:
        """The same scores, filed under another epoch (the Stats baseline does not change with training)."""
        return dataclasses.replace(self, epoch=epoch, rows=[{**row, "epoch": epoch} for row in self.rows])


@dataclass(frozen=True)
class FoldEvaluator:
    """Turns a snapshot of one network on one fold into an :class:`Evaluation` (runs in the worker).

    The snapshot's features are those of ``train_indices`` followed by ``test_indices``.
    """

    dataset: str
    protocol: str
    task: str
    target_names: tuple[str, ...]
    approaches: tuple[str, ...]
    fold: int
    seed: int
    n_train: int
    train_targets: np.ndarray
    test_targets: np.ndarray
    svm_kernel: Kernel
    svm_c: float
    job: str
    svm_grid: SvmGrid | None = None
    svm_seed: int = 0

    def __call__(self, snapshot: Snapshot) -> Evaluation:
        rows, predictions = [], {}
        for approach in self.approaches:
            if APPROACHES[approach].classifier == "network":
                predicted = network_predictions(snapshot.outputs[self.n_train :], task=self.task)
                choices = None
            else:
                predicted, choices = svm_predict(
                    snapshot.features[: self.n_train],
                    self.train_targets,
                    snapshot.features[self.n_train :],
                    task=self.task,
                    kernel=self.svm_kernel,
                    C=self.svm_c,
                    grid=self.svm_grid,
                    seed=self.svm_seed,
                )
            predictions[approach] = predicted
            scores = score_predictions(
                predicted, self.test_targets, task=self.task, target_names=self.target_names
            )
            for metric, values in scores.items():
                for target, value in values.items():
                    choice = self._choice(choices, target)
                    rows.append(self._row(approach, snapshot.epoch, target, metric, value, choice))
            if APPROACHES[approach].trains:
                rows.append(
                    self._row(approach, snapshot.epoch, "all", "train_loss", snapshot.train_loss, None)
                )
                for key, value in snapshot.learned.items():  # rbf_gamma: learn, its value at this epoch
                    rows.append(self._row(approach, snapshot.epoch, "all", key, value, None))
        return Evaluation(
            epoch=snapshot.epoch, rows=rows, features=snapshot.features, predictions=predictions
        )

    def _choice(self, choices: list[SvmChoice] | None, target: str) -> SvmChoice | None:
        """The SVM settings behind one score row; a mean over targets has them only when all agree."""
        if choices is None:
            return None
        if target in self.target_names and self.task == "regression":
            return choices[self.target_names.index(target)]
        return choices[0] if len(set(choices)) == 1 else None

    def _row(
        self, approach: str, epoch: int, target: str, metric: str, value: float, choice: SvmChoice | None
    ) -> dict:
        return {
            "dataset": self.dataset,
            "approach": approach,
            "protocol": self.protocol,
            "fold": self.fold,
            "epoch": epoch,
            "target": target,
            "metric": metric,
            "value": value,
            "svm_c": math.nan if choice is None else choice.C,
            "svm_gamma": math.nan if choice is None or choice.gamma is None else choice.gamma,
            "seed": self.seed,
            "job": self.job,
        }


@dataclass(frozen=True)
class FixedFeaturesJob:
    """An approach without training on one fold: fixed features, standardised, into the same SVM.

    Stats reads each file's mean and standard deviation over time of its frames, Embedding the
    vectors of ``embedding_file``; either is standardised per dimension on the fold's training
    files.  For Stats the frame normalisation is an affine map per dimension, so after that
    standardisation it cancels: the statistics of the raw frames
    (:func:`~simsvm.data.frames.frame_statistics`, computed once per run) give the same features
    whichever normalisation the networks read.  Nothing is trained, so the scores are computed
    once and filed under every evaluated epoch, which draws a flat line on the curves and puts
    the approach in every table at every epoch.
    """

    name: str
    approach: str
    train_indices: tuple[int, ...]
    test_indices: tuple[int, ...]
    epochs: tuple[int, ...]
    evaluator: FoldEvaluator

    def __call__(self, values: np.ndarray) -> list[Evaluation]:
        """The evaluations of ``values`` ``(n_files, d)``, one row per file of the dataset."""
        train = values[list(self.train_indices)]
        mean, spread = train.mean(axis=0), train.std(axis=0)
        spread = np.where(spread > 0, spread, 1.0)  # a dimension constant over the training part
        features = (values[list(self.train_indices + self.test_indices)] - mean) / spread
        evaluation = self.evaluator(Snapshot(epoch=0, train_loss=math.nan, features=features))
        return [evaluation.at_epoch(epoch) for epoch in self.epochs]


def _checked_folds(config: ExperimentConfig, dataset: Dataset) -> list[tuple[np.ndarray, np.ndarray]]:
    """The run's folds, each checked against the inner CV of ``svm_tuning`` before anything trains."""
    folds = partitions(config, dataset)
    check_partitions(config, dataset, folds)
    grid = config.svm_grid
    if grid is not None:
        for fold, (train, _) in enumerate(folds):
            inner_folds(
                dataset.targets[train], task=dataset.task, folds=grid.folds, seed=0, where=f" in fold {fold}"
            )
    return folds


def _evaluator(
    config: ExperimentConfig,
    dataset: Dataset,
    fold: int,
    train: np.ndarray,
    test: np.ndarray,
    approaches: tuple[str, ...],
    seed: int,
    job: str,
    svm_kernel: Kernel,
) -> FoldEvaluator:
    return FoldEvaluator(
        dataset=dataset.key,
        protocol=config.protocol,
        task=dataset.task,
        target_names=dataset.target_names,
        approaches=approaches,
        fold=fold,
        seed=seed,
        n_train=len(train),
        train_targets=dataset.targets[train],
        test_targets=dataset.targets[test],
        svm_kernel=svm_kernel,
        svm_c=config.svm_c,
        job=job,
        svm_grid=config.svm_grid,
        svm_seed=job_seed(config.seed, fold, "svm"),
    )


def _annotation_bounds(
    config: ExperimentConfig, dataset: Dataset, train: np.ndarray, fold: int
) -> tuple[tuple[float, float], ...] | None:
    """The bounds ``target_scale: unit`` maps each regression target by: its scale's, where the
    dataset has one (MediaEval 2013: 1 to 9), else the training part's minimum and maximum."""
    if config.target_scale != "unit":
        return None
    if dataset.target_bounds is not None:
        return tuple((float(low), float(high)) for low, high in dataset.target_bounds)
    values = dataset.targets[train]
    bounds = tuple(
        (float(low), float(high)) for low, high in zip(values.min(axis=0), values.max(axis=0), strict=True)
    )
    for name, (low, high) in zip(dataset.target_names, bounds, strict=True):
        if low == high:
            raise DataError(
                f"target_scale: unit: {name} is {low} for every training file of fold {fold}; "
                "it has no range to map to [0, 1]"
            )
    return bounds


def plan_jobs(
    config: ExperimentConfig, dataset: Dataset, data: TrainingData, normaliser: Normaliser | None
) -> list[tuple[str, TrainingSpec, FoldEvaluator]]:
    """One (name, spec, evaluator) per fold and network, in a fixed order.

    ``normaliser`` is the dataset-wide one, or ``None`` to fit one per fold on its training files.
    """
    kernel = bound_svm_kernel(config)
    jobs = []
    for fold, (train, test) in enumerate(_checked_folds(config, dataset)):
        fold_normaliser = normaliser or Normaliser().fit(data.frames, train)
        for network in trained_networks(config.approaches):
            seed = job_seed(config.seed, fold, network.key)
            loss = network.loss or config.baseline_loss
            spec = TrainingSpec(
                name=f"fold{fold:02d}-{network.key}",
                loss=loss,
                loss_parameters=tuple(loss_values(config, LOSSES[loss]).items()),
                seed=seed,
                train_indices=tuple(int(i) for i in train),
                eval_indices=tuple(int(i) for i in np.concatenate([train, test])),
                normaliser=fold_normaliser,
                kernel=None if network.kernel is None else bound_loss_kernel(config, network.kernel),
                hidden_sizes=tuple(config.hidden_sizes),
                epochs=config.epochs,
                eval_every=config.eval_every,
                excerpt_length=config.excerpt_length,
                batch_size=config.batch_size,
                learning_rate=config.learning_rate,
                rho=config.rho,
                eps=config.eps,
                annotation_bounds=_annotation_bounds(config, dataset, train, fold),
                matmul_precision=config.matmul_precision,
            )
            approaches = tuple(a for a in config.approaches if APPROACHES[a].network == network)
            evaluator = _evaluator(config, dataset, fold, train, test, approaches, seed, spec.name, kernel)
            jobs.append((spec.name, spec, evaluator))
    return jobs


def plan_fixed_jobs(
    config: ExperimentConfig, dataset: Dataset, widths: dict[str, int]
) -> list[FixedFeaturesJob]:
    """A :class:`FixedFeaturesJob` per fold for each approach without training (Stats, Embedding).

    ``widths`` gives the dimension of each kind of fixed features (``'statistics'``: twice the
    frame dimension; ``'embedding'``: the file's vectors').  The paper's ``svm_gamma`` = 0.5 suits
    50 features in [-1, 1]; on 160 standardised statistics it would make every pair of files
    nearly orthogonal, so a kernel with a gamma takes 1 / width of its own input here, unless
    ``svm_tuning`` chooses it.
    """
    jobs = []
    fixed = [a for a in config.approaches if APPROACHES[a].features != "network"]
    folds = _checked_folds(config, dataset) if fixed else []
    for approach in fixed:
        features = APPROACHES[approach].features
        kernel = bound_svm_kernel(config, gamma=1.0 / widths[features])
        for fold, (train, test) in enumerate(folds):
            name = f"fold{fold:02d}-{approach.lower()}"
            seed = job_seed(config.seed, fold, "svm")  # nothing is trained; the seed of its inner folds
            evaluator = _evaluator(config, dataset, fold, train, test, (approach,), seed, name, kernel)
            jobs.append(
                FixedFeaturesJob(
                    name=name,
                    approach=approach,
                    train_indices=tuple(int(i) for i in train),
                    test_indices=tuple(int(i) for i in test),
                    epochs=evaluated_epochs(config.epochs, config.eval_every),
                    evaluator=evaluator,
                )
            )
    return jobs
