"""The paper's experimental protocol: folds, the five approaches, results on disk.

:func:`run_experiment` is the whole pipeline of one parameter file: load the dataset, read (or
extract) frames, build one training job per fold and network (NN and FL share the baseline
network), run the jobs through a backend, score every snapshot with the SVM and the network's own
output layer, and write the tidy results table.  A run that was killed resumes: finished jobs are
read back, not recomputed.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm  # the plain bar: tqdm.auto stays still under papermill

from . import __version__
from ._io import write_json_atomic
from .backends import Backend, make_backend
from .config import ExperimentConfig
from .datasets import Dataset, load_dataset
from .evaluation import METRICS, score_network_outputs, score_svm
from .exceptions import DataError
from .features import FrameParameters, Normaliser, load_frames
from .kernels import Kernel, make_kernel
from .partitions import partitions
from .results import finished_jobs, git_commit, merge_jobs, open_run_dir, write_features, write_job
from .training import Snapshot, TrainingData, TrainingSpec, train_set

__all__ = [
    "APPROACH_NETWORKS",
    "FoldEvaluator",
    "job_seed",
    "plan_jobs",
    "run_experiment",
]

log = logging.getLogger(__name__)

# Which network each approach evaluates; NN and FL read the same baseline network.
APPROACH_NETWORKS = {
    "NN": "baseline",
    "FL": "baseline",
    "RBF-SL": "rbf",
    "Cos-SL": "cosine",
    "Poly-SL": "poly",
}
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


def prepare_data(config: ExperimentConfig) -> tuple[Dataset, TrainingData, dict]:
    """Load the dataset and its frames, and say what was read, skipped and padded.

    Unreadable audio is skipped and reported (or fatal with ``skip_unreadable: false``); files
    shorter than one excerpt are zero-padded in training and reported.

    Returns
    -------
    dataset : Dataset
        The tracks that have frames.
    data : TrainingData
    report : dict
        ``indexed`` (tracks the loader found), ``used``, ``skipped`` (what and why), ``padded``
        (track ids shorter than ``excerpt_length`` frames).
    """
    if not Path(config.data_dir).is_dir():
        raise DataError(
            f"data_dir: {config.data_dir} does not exist (generated data: "
            f"`simsvm data synth --out {Path(config.data_dir).parent}`)"
        )
    dataset = load_dataset(config.dataset, config.data_dir, **config.dataset_options)
    indexed = len(dataset)
    params = FrameParameters(
        sample_rate=config.sample_rate, n_fft=config.n_fft, hop_length=config.hop_length, n_mels=config.n_mels
    )
    frames, unreadable = load_frames(
        dataset.audio_paths,
        params=params,
        cache_dir=config.cache_dir,
        on_error="skip" if config.skip_unreadable else "raise",
        progress=config.progress,
    )
    skipped = list(dataset.skipped) + [(str(dataset.audio_paths[i]), why) for i, why in unreadable]
    if unreadable:
        bad = {i for i, _ in unreadable}
        dataset = dataset.subset([i for i in range(len(dataset)) if i not in bad])
        dataset.skipped = skipped
    padded = [dataset.track_ids[i] for i in np.flatnonzero(frames.lengths < config.excerpt_length)]
    for what, why in skipped:
        log.warning("%s: skipped %s (%s)", config.dataset, what, why)
    if padded:
        log.warning(
            "%s: %d file(s) shorter than %d frames are zero-padded in training: %s",
            config.dataset,
            len(padded),
            config.excerpt_length,
            ", ".join(padded[:5]),
        )
    data = TrainingData(
        frames=frames, targets=dataset.targets, annotations=dataset.annotations(), task=dataset.task
    )
    report = {"indexed": indexed, "used": len(dataset), "skipped": skipped, "padded": padded}
    return dataset, data, report


def run_experiment(
    config: ExperimentConfig, *, backend: Backend | None = None, parameters_file: str | None = None
):
    """Run one experiment end to end and return its results table (a pandas DataFrame).

    Results land in ``<results_dir>/<name>/`` (see :mod:`simsvm.results`).  Calling it again
    with the same parameters resumes: finished jobs are not recomputed.  ``parameters_file``,
    where the parameters were read from, is recorded with every job's provenance.
    """
    started = time.time()
    run_dir = open_run_dir(config)
    dataset, data, load_report = prepare_data(config)
    normaliser = Normaliser().fit(data.frames) if config.normalisation == "dataset" else None
    jobs = plan_jobs(config, dataset, data, normaliser)
    done = finished_jobs(run_dir)
    todo = [job for job in jobs if job[0] not in done]
    metadata_path = run_dir / "metadata.json"
    earlier = json.loads(metadata_path.read_text()).get("sessions", []) if metadata_path.is_file() else []
    session = {
        "started": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "finished": None,
        "git_commit": git_commit(),
        "jobs_trained": len(todo),
        "jobs_resumed": len(jobs) - len(todo),
    }
    metadata = {
        "simsvm_version": __version__,
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "dataset": dataset.describe(),
        "load_report": load_report,
        "parameters_hash": config.parameters_hash(),
        "parameters_file": parameters_file,
        "fold_seed": config.seed,
        "seeds": {name: spec.seed for name, spec, _ in jobs},
        # sizes of each fold or split, e.g. for the corrected resampled t-test
        "partitions": {
            evaluator.fold: {"n_train": evaluator.n_train, "n_test": len(evaluator.test_targets)}
            for _, _, evaluator in jobs
        },
        "jobs": len(jobs),
        # one entry per invocation: a resumed run shows each part and the code that computed it
        "sessions": [*earlier, session],
    }
    write_json_atomic(metadata_path, metadata)
    backend = backend or make_backend(
        config.backend,
        workers=config.workers,
        threads=config.threads_per_worker,
        stack_size=config.stack_size,
        scheduler=config.scheduler,
    )
    # Progress in model-epochs: networks finish in bursts, epochs arrive steadily.
    bar = tqdm(
        total=sum(spec.epochs for _, spec, _ in jobs),
        initial=sum(spec.epochs for name, spec, _ in jobs if name in done),
        desc=config.name,
        unit="model-epoch",
        disable=not config.progress,
    )
    bar.set_postfix(networks=f"{len(jobs) - len(todo)}/{len(jobs)}")
    workers: dict[str, str] = {}
    results = train_set(
        [spec for _, spec, _ in todo],
        data,
        backend=backend,
        evaluate=[evaluator for _, _, evaluator in todo],
        progress=bar.update,
        job_prefix=f"{config.parameters_hash()}-",
        on_finished=lambda indices, worker: workers.update({todo[i][0]: worker for i in indices}),
    )
    finished = len(jobs) - len(todo)
    for index, evaluated in results:
        name, spec, _ = todo[index]
        if config.save_features:
            write_features(
                run_dir,
                name,
                epochs=[epoch for epoch, _, _ in evaluated],
                features=np.stack([features for _, _, features in evaluated]),
                track_ids=[dataset.track_ids[i] for i in spec.eval_indices],
                annotations=data.annotations[list(spec.eval_indices)],
                n_train=len(spec.train_indices),
                task=dataset.task,
                target_names=dataset.target_names,
            )
        provenance = {
            "job": name,
            "worker": workers.get(name),
            "seed": spec.seed,
            "parameters_hash": config.parameters_hash(),
            "parameters_file": parameters_file,
            "git_commit": session["git_commit"],
            "backend": config.backend,
            "finished": time.strftime("%Y-%m-%dT%H:%M:%S"),
        }
        write_job(run_dir, name, [row for _, rows, _ in evaluated for row in rows], provenance=provenance)
        finished += 1
        bar.set_postfix(networks=f"{finished}/{len(jobs)}")
    bar.close()
    table = merge_jobs(run_dir, [name for name, _, _ in jobs])
    session.update(finished=time.strftime("%Y-%m-%dT%H:%M:%S"), seconds=round(time.time() - started, 1))
    write_json_atomic(metadata_path, metadata)
    return table
