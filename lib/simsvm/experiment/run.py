"""One parameter file end to end: data, frames, the protocol's jobs, training, results on disk.

:func:`run_experiment` is the whole pipeline: load the dataset and its frames
(:func:`~simsvm.experiment.inputs.prepare_data`), plan one training job per fold and network
(:func:`~simsvm.experiment.protocol.plan_jobs`), run the jobs through a backend, and write each
finished network's result rows, features and provenance, then the tidy results table.  A run
that was killed resumes: finished jobs are read back, not recomputed.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from simsvm._io import write_json_atomic
from simsvm._version import __version__
from simsvm.data.datasets import Dataset
from simsvm.data.frames import Normaliser, frame_statistics
from simsvm.engine.engine import resolve_engine
from simsvm.exceptions import ParameterError
from simsvm.experiment.config import ExperimentConfig
from simsvm.experiment.grid_edges import describe_grid_edges, grid_edges
from simsvm.experiment.inputs import RunInputs, prepare_data
from simsvm.experiment.integrity import job_problem
from simsvm.experiment.lock import RunLock
from simsvm.experiment.progress import RunProgress
from simsvm.experiment.protocol import Evaluation, FixedFeaturesJob, plan_fixed_jobs, plan_jobs
from simsvm.experiment.results import (
    data_digest,
    finished_jobs,
    git_commit,
    load_metadata,
    merge_jobs,
    open_run_dir,
    refuse_other_run,
    write_features,
    write_job,
)
from simsvm.train.backends import Backend
from simsvm.train.jobs import make_backend, train_set
from simsvm.train.schedule import evaluated_epochs
from simsvm.train.spec import TrainingData, TrainingSpec, unit_scaled

__all__ = ["run_experiment"]

log = logging.getLogger(__name__)


def _metadata(
    config: ExperimentConfig,
    dataset: Dataset,
    load_report: dict,
    jobs: list,
    session: dict,
    earlier: list,
    parameters_file: str | None,
) -> dict:
    """What ``metadata.json`` says of the run: versions, data, seeds, partitions, sessions."""
    return {
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


def _predictions(
    dataset: Dataset, job: str, fold: int, test_indices: list[int], last: Evaluation
) -> pd.DataFrame:
    """The test files' predictions of a job's last evaluation, one row per file, approach and target."""
    parts = []
    actual = dataset.targets[test_indices]
    tracks = [dataset.track_ids[i] for i in test_indices]
    for approach, predicted in last.predictions.items():
        if dataset.task == "classification":
            names = np.asarray(dataset.target_names)
            columns = {"all": (names[predicted], names[actual])}
        else:
            columns = {name: (predicted[:, j], actual[:, j]) for j, name in enumerate(dataset.target_names)}
        for target, (predicted_values, actual_values) in columns.items():
            parts.append(
                pd.DataFrame(
                    {
                        "job": job,
                        "fold": fold,
                        "epoch": last.epoch,
                        "approach": approach,
                        "track": tracks,
                        "target": target,
                        "predicted": predicted_values,
                        "actual": actual_values,
                    }
                )
            )
    return pd.concat(parts, ignore_index=True)


def _loss_annotations(annotations: np.ndarray, spec: TrainingSpec) -> np.ndarray:
    """The annotations as the network's loss read them (mapped to [0, 1] with ``target_scale: unit``)."""
    return annotations if spec.annotation_bounds is None else unit_scaled(annotations, spec.annotation_bounds)


def _write_network(
    run_dir: Path,
    config: ExperimentConfig,
    dataset: Dataset,
    data: TrainingData,
    name: str,
    spec: TrainingSpec,
    evaluated: list[Evaluation],
    provenance: dict,
    fold: int,
) -> None:
    """One finished network's features (if kept), predictions, result rows and provenance, each atomic."""
    if config.save_features:
        write_features(
            run_dir,
            name,
            epochs=[evaluation.epoch for evaluation in evaluated],
            features=np.stack([evaluation.features for evaluation in evaluated]),
            track_ids=[dataset.track_ids[i] for i in spec.eval_indices],
            annotations=_loss_annotations(data.annotations[list(spec.eval_indices)], spec),
            n_train=len(spec.train_indices),
            task=dataset.task,
            target_names=dataset.target_names,
        )
    test_indices = list(spec.eval_indices[len(spec.train_indices) :])
    write_job(
        run_dir,
        name,
        [row for evaluation in evaluated for row in evaluation.rows],
        provenance=provenance,
        predictions=_predictions(dataset, name, fold, test_indices, evaluated[-1]),
    )


def _run_fixed_jobs(
    run_dir: Path,
    config: ExperimentConfig,
    inputs: RunInputs,
    jobs: list[FixedFeaturesJob],
    session: dict,
    parameters_file: str | None,
) -> None:
    """The approaches without training (Stats, Embedding) on every fold not yet done: they run
    here, before the networks."""
    dataset = inputs.dataset
    features = {}
    if any(job.approach == "Stats" for job in jobs):
        features["Stats"] = frame_statistics(inputs.data.frames)
    if inputs.embeddings is not None:
        features["Embedding"] = inputs.embeddings
    for job in jobs:
        evaluated = job(features[job.approach])
        provenance = _provenance(config, job.name, job.evaluator.seed, "main", session, parameters_file)
        provenance["backend"] = None  # nothing trained
        predictions = _predictions(
            dataset, job.name, job.evaluator.fold, list(job.test_indices), evaluated[-1]
        )
        rows = [row for evaluation in evaluated for row in evaluation.rows]
        write_job(run_dir, job.name, rows, provenance=provenance, predictions=predictions)


# Settings that choose the CPU code paths of the numerical libraries (see the Makefile's PORTABLE_CPU).
_ARITHMETIC_SETTINGS = ("MKL_CBWR", "ATEN_CPU_CAPABILITY", "NPY_DISABLE_CPU_FEATURES", "OPENBLAS_CORETYPE")


def _cpu_arithmetic() -> dict:
    """Which CPU code paths computed this session: PyTorch's capability and the settings that pin them."""
    return {
        "torch_capability": torch.backends.cpu.get_cpu_capability(),
        **{name: os.environ.get(name) for name in _ARITHMETIC_SETTINGS},
    }


def _provenance(
    config: ExperimentConfig,
    name: str,
    seed: int,
    worker: str | None,
    session: dict,
    parameters_file: str | None,
) -> dict:
    """Who computed one network, from what (``jobs/<job>.json``)."""
    return {
        "job": name,
        "worker": worker,
        "seed": seed,
        "parameters_hash": config.parameters_hash(),
        # with the parameters hash, what a reused job is checked against (simsvm.experiment.integrity)
        "data_digest": session["data_digest"],
        "parameters_file": parameters_file,
        "git_commit": session["git_commit"],
        "backend": config.backend,
        "finished": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }


def run_experiment(
    config: ExperimentConfig, *, backend: Backend | None = None, parameters_file: str | None = None
):
    """Run one experiment end to end and return its results table (a pandas DataFrame).

    Results land in ``<results_dir>/<name>/`` (see :mod:`simsvm.experiment.results`).  Calling it
    again with the same parameters resumes: finished jobs are not recomputed.  ``parameters_file``,
    where the parameters were read from, is recorded with every job's provenance.

    One run at a time computes in a run folder (:class:`~simsvm.experiment.lock.RunLock`); a
    second is refused at once, naming the first's process.
    """
    config = _checked(config)
    with RunLock(config.run_dir) as lock:
        return _run_locked(config, lock, backend=backend, parameters_file=parameters_file)


def _checked(config: ExperimentConfig) -> ExperimentConfig:
    """The configuration checked again: a field assigned in Python (``config.epochs = 0``,
    ``config.name = "../x"``) bypassed every check made when it was built."""
    if not isinstance(config, ExperimentConfig):
        raise ParameterError(
            "run_experiment: expected an ExperimentConfig (load_config(path) or "
            f"ExperimentConfig.from_dict(values)), got {type(config).__name__}"
        )
    return ExperimentConfig.from_dict(config.to_dict(), source="run_experiment")


def _reusable_jobs(run_dir: Path, config: ExperimentConfig, digest: str, names: list[str]) -> set[str]:
    """The planned jobs whose files are whole and were made by this run; each other one is named."""
    epochs = evaluated_epochs(config.epochs, config.eval_every)
    done = set()
    for name in sorted(finished_jobs(run_dir) & set(names)):
        problem = job_problem(
            run_dir, name, parameters_hash=config.parameters_hash(), data_digest=digest, epochs=epochs
        )
        if problem is None:
            done.add(name)
        else:
            log.warning("%s: %s; the job is trained again", run_dir / "jobs" / f"{name}.csv", problem)
    return done


def _run_locked(
    config: ExperimentConfig, lock: RunLock, *, backend: Backend | None, parameters_file: str | None
):
    started = time.time()
    refuse_other_run(config)  # before the (long) frame extraction; nothing is written until data loads
    if config.run_dir.is_dir():
        lock.acquire()  # a second run of an existing folder stops here, before the frames
    inputs = prepare_data(config)
    dataset, data, load_report = inputs.dataset, inputs.data, inputs.report
    normaliser = Normaliser().fit(data.frames) if config.normalisation == "dataset" else None
    jobs = plan_jobs(config, dataset, data, normaliser)
    widths = {"statistics": 2 * data.frames.n_features}
    if inputs.embeddings is not None:
        widths["embedding"] = inputs.embeddings.shape[1]
    statistics_jobs = plan_fixed_jobs(config, dataset, widths)
    fingerprint = dataset.fingerprint()
    if inputs.embeddings_digest is not None:  # a changed embedding file is other data
        fingerprint["embedding_file"] = inputs.embeddings_digest
    digest = data_digest(fingerprint)
    # before anything is written: a backend that cannot be had (no CUDA, no dask) is bad input
    backend = backend or make_backend(
        config.backend,
        workers=config.workers,
        threads=config.threads_per_worker,
        stack_size=config.stack_size,
        scheduler=config.scheduler,
    )
    lock.acquire()  # creates the run folder of a new run
    run_dir = open_run_dir(config, fingerprint)
    planned = [job.name for job in statistics_jobs] + [name for name, _, _ in jobs]
    done = _reusable_jobs(run_dir, config, digest, planned)
    todo = [job for job in jobs if job[0] not in done]
    metadata_path = run_dir / "metadata.json"
    earlier = load_metadata(run_dir).get("sessions", []) if metadata_path.exists() else []
    # the engine, resolved here, before the progress bar: a bf16 fallback is said now and the
    # compiled loops are built now (train_set's call is then quiet and instant)
    engine = resolve_engine(config.matmul_precision, backend.device)
    session = {
        "started": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "finished": None,
        "git_commit": git_commit(),
        "data_dir": str(config.data_dir),  # where the data lay this time; its fingerprint is data.json
        "data_digest": digest,
        "cpu_arithmetic": _cpu_arithmetic(),
        # what matmul_precision came to on this machine: fp32, bf16 or tf32 (a bf16 fallback says fp32)
        "matmul_products": engine.products,
        # the time loop those products ran in: compiled (simsvm/engine/fused_gru.cpp) or pytorch
        "gru_loop": engine.loop,
        "jobs_trained": len(todo),
        "jobs_resumed": len(jobs) - len(todo),
        "baselines_computed": sum(job.name not in done for job in statistics_jobs),
    }
    metadata = _metadata(config, dataset, load_report, jobs, session, earlier, parameters_file)
    write_json_atomic(metadata_path, metadata)
    _run_fixed_jobs(
        run_dir,
        config,
        inputs,
        [job for job in statistics_jobs if job.name not in done],
        session,
        parameters_file,
    )
    progress = RunProgress(
        run_dir,
        config.name,
        total=sum(spec.epochs for _, spec, _ in jobs),
        done=sum(spec.epochs for name, spec, _ in jobs if name in done),
        networks=len(jobs),
        networks_done=len(jobs) - len(todo),
        show=config.progress,
    )
    workers: dict[str, str] = {}
    results = train_set(
        [spec for _, spec, _ in todo],
        data,
        backend=backend,
        evaluate=[evaluator for _, _, evaluator in todo],
        progress=progress.epochs,
        job_prefix=f"{config.parameters_hash()}-{digest}-",
        on_finished=lambda indices, worker: workers.update({todo[i][0]: worker for i in indices}),
    )
    for index, evaluated in results:
        name, spec, _ = todo[index]
        provenance = _provenance(config, name, spec.seed, workers.get(name), session, parameters_file)
        _write_network(run_dir, config, dataset, data, name, spec, evaluated, provenance, todo[index][2].fold)
        progress.network_finished()
    table = merge_jobs(run_dir, [job.name for job in statistics_jobs] + [name for name, _, _ in jobs])
    progress.close()
    session.update(finished=time.strftime("%Y-%m-%dT%H:%M:%S"), seconds=round(time.time() - started, 1))
    write_json_atomic(metadata_path, metadata)
    # A tuned SVM that keeps choosing the grid's edge wants a wider grid: said here and in the report.
    for line in describe_grid_edges(grid_edges(table, config.svm_tuning)):
        log.warning("%s: %s", config.name, line)
    return table
