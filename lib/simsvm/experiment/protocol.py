"""The paper's protocol as training jobs: one network per fold and approach, and how each is scored.

:func:`plan_jobs` turns a parameter set and a dataset into ``(name, spec, evaluator)`` triples:
for every fold (or split) of :func:`~simsvm.experiment.partitions.partitions`, one network per
kind the approaches need (NN and FL share the baseline network), seeded from the run's seed.
A :class:`FoldEvaluator` turns each snapshot of that network into result rows: the SVM / SVR on
the fold's training features scored on its test features, and for NN the network's own output.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simsvm.data.datasets import Dataset
from simsvm.data.frames import Normaliser
from simsvm.experiment.config import ExperimentConfig
from simsvm.experiment.partitions import partitions
from simsvm.experiment.scoring import score_network_outputs, score_svm
from simsvm.model.kernels import Kernel, make_kernel
from simsvm.names import APPROACH_NETWORKS, METRICS
from simsvm.train.spec import Snapshot, TrainingData, TrainingSpec

__all__ = ["FoldEvaluator", "job_seed", "plan_jobs"]

# Stable numbers for seeding, so that adding an approach never changes another network's seed.
_NETWORK_IDS = {"baseline": 0, "rbf": 1, "cosine": 2, "poly": 3}


def job_seed(seed: int, fold: int, network: str) -> int:
    """The seed of one network on one fold, derived from the run's seed."""
    return int(np.random.SeedSequence([seed, fold, _NETWORK_IDS[network]]).generate_state(1)[0])


@dataclass(frozen=True)
class FoldEvaluator:
    """Turns a snapshot of one network on one fold into result rows (runs inside the worker).

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

    def __call__(self, snapshot: Snapshot) -> tuple[int, list[dict], np.ndarray]:
        """``(epoch, result rows, features)``: the features travel back to be kept beside the rows."""
        rows = []
        metric = METRICS[self.task]
        for approach in self.approaches:
            if approach == "NN":
                scores = score_network_outputs(
                    snapshot.outputs[self.n_train :],
                    self.test_targets,
                    task=self.task,
                    target_names=self.target_names,
                )
            else:
                scores = score_svm(
                    snapshot.features[: self.n_train],
                    self.train_targets,
                    snapshot.features[self.n_train :],
                    self.test_targets,
                    task=self.task,
                    target_names=self.target_names,
                    kernel=self.svm_kernel,
                    C=self.svm_c,
                )
            rows += [
                self._row(approach, snapshot.epoch, target, metric, value) for target, value in scores.items()
            ]
            rows.append(self._row(approach, snapshot.epoch, "all", "train_loss", snapshot.train_loss))
        return snapshot.epoch, rows, snapshot.features

    def _row(self, approach: str, epoch: int, target: str, metric: str, value: float) -> dict:
        return {
            "dataset": self.dataset,
            "approach": approach,
            "protocol": self.protocol,
            "fold": self.fold,
            "epoch": epoch,
            "target": target,
            "metric": metric,
            "value": value,
            "seed": self.seed,
            "job": self.job,
        }


def _loss_kernel(config: ExperimentConfig, network: str) -> Kernel | None:
    if network == "baseline":
        return None
    return make_kernel(network, gamma=config.rbf_gamma, degree=config.poly_degree, offset=config.poly_offset)


def plan_jobs(
    config: ExperimentConfig, dataset: Dataset, data: TrainingData, normaliser: Normaliser | None
) -> list[tuple[str, TrainingSpec, FoldEvaluator]]:
    """One (name, spec, evaluator) per fold and network, in a fixed order.

    ``normaliser`` is the dataset-wide one, or ``None`` to fit one per fold on its training files.
    """
    networks = list(dict.fromkeys(APPROACH_NETWORKS[a] for a in config.approaches))
    svm_kernel = make_kernel(
        config.svm_kernel, gamma=config.svm_gamma, degree=config.poly_degree, offset=config.poly_offset
    )
    jobs = []
    for fold, (train, test) in enumerate(partitions(config, dataset)):
        fold_normaliser = normaliser or Normaliser().fit(data.frames, train)
        for network in networks:
            seed = job_seed(config.seed, fold, network)
            spec = TrainingSpec(
                name=f"fold{fold:02d}-{network}",
                objective="baseline" if network == "baseline" else "similarity",
                seed=seed,
                train_indices=tuple(int(i) for i in train),
                eval_indices=tuple(int(i) for i in np.concatenate([train, test])),
                normaliser=fold_normaliser,
                kernel=_loss_kernel(config, network),
                baseline_loss=config.baseline_loss,
                hidden_sizes=tuple(config.hidden_sizes),
                epochs=config.epochs,
                eval_every=config.eval_every,
                excerpt_length=config.excerpt_length,
                batch_size=config.batch_size,
                learning_rate=config.learning_rate,
                rho=config.rho,
                eps=config.eps,
                similarity_norm=config.similarity_norm,
            )
            evaluator = FoldEvaluator(
                dataset=dataset.key,
                protocol=config.protocol,
                task=dataset.task,
                target_names=dataset.target_names,
                approaches=tuple(a for a in config.approaches if APPROACH_NETWORKS[a] == network),
                fold=fold,
                seed=seed,
                n_train=len(train),
                train_targets=dataset.targets[train],
                test_targets=dataset.targets[test],
                svm_kernel=svm_kernel,
                svm_c=config.svm_c,
                job=spec.name,
            )
            jobs.append((spec.name, spec, evaluator))
    return jobs
