"""What ``simsvm run --dry-run`` prints: the networks a run would train and a rough time, writing nothing.

The plan is computed from the parameters alone: partitions (folds or splits) times the networks
the approaches need, each trained for ``epochs`` and evaluated at every evaluated epoch.  Where
the data folder exists, its index (the loader's file list and annotations, no audio decoded) gives
the number of files and the exact partitions; a few files' headers give a typical duration.

The time is a rough figure: FLOP of training and snapshots (:func:`~simsvm.bench.costs.training_flop`)
over rates that ``python -m simsvm.bench`` measured with one thread per worker process on a
2-core Xeon (AVX-512), and SVM refits scaled from that benchmark.  Other computers, other
backends and a busy machine differ, easily by a factor of two.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

from simsvm.bench.costs import PAPER_SIZES, training_flop
from simsvm.data.datasets import Dataset, load_dataset
from simsvm.exceptions import ResultsError, SimsvmError
from simsvm.experiment.approaches import APPROACHES, trained_networks
from simsvm.experiment.config import ExperimentConfig
from simsvm.experiment.results import finished_jobs, refuse_other_run
from simsvm.train.schedule import evaluated_epochs

__all__ = ["RunPlan", "describe_plan", "plan_run"]

# GFLOP/s of one worker process with one thread (benchmarks/results/bench.json: 41.3 GFLOP per
# model-epoch in 0.476 s with 2 workers at fp32, 0.327 s at bf16; snapshots of 1000 x 1200 frames
# in 3.43 s and 1.36 s).
_TRAIN_GFLOPS = {"fp32": 43.0, "bf16": 63.0}
_SNAPSHOT_GFLOPS = {"fp32": 53.0, "bf16": 135.0}
# Seconds of one SVM refit on 900 training vectors (the same benchmark); a fit grows about as n^2.
_SVM_REFIT_S, _SVM_REFIT_N = 0.27, 900
# Seconds of fixed cost per update step (tiny networks, where FLOP say nothing), and of starting
# the run and its workers; both measured on the same computer.
_STEP_OVERHEAD_S, _STARTUP_S = 0.003, 5.0
# Files whose headers are read for a typical duration, and the duration assumed without them.
_SAMPLED_FILES, _ASSUMED_SECONDS = 20, 30.0


@dataclass(frozen=True)
class RunPlan:
    """What a run would compute.

    Parameters
    ----------
    partitions : int
        Folds (``cv``), splits (``random_splits``) or 1 (``split``).
    networks_per_partition : tuple of str
        The networks trained on each partition (``baseline``, ``rbf``, ...).
    stats : bool
        Whether the Stats baseline is scored on each partition (nothing trained).
    epochs : tuple of int
        The epochs every network is evaluated at.
    files : int or None
        Files in the dataset's index; ``None`` where the data folder was not read.
    train_files : tuple of int
        Training files of each partition (empty where the data folder was not read).
    finished : int
        Jobs already finished in the run folder (a resumed run skips them).
    jobs : tuple of str
        Every job's name: one per network and partition, and one per partition for Stats.
    """

    partitions: int
    networks_per_partition: tuple[str, ...]
    stats: bool
    epochs: tuple[int, ...]
    files: int | None
    train_files: tuple[int, ...]
    finished: int
    jobs: tuple[str, ...]

    @property
    def networks(self) -> int:
        return self.partitions * len(self.networks_per_partition)


def plan_run(config: ExperimentConfig, dataset: Dataset | None = None) -> RunPlan:
    """The plan of ``config``'s run; ``dataset`` (its index, loaded) makes the partitions exact."""
    networks = tuple(network.key for network in trained_networks(config.approaches))
    train_files: tuple[int, ...] = ()
    if dataset is not None:
        from simsvm.experiment.partitions import partitions  # scikit-learn: only once data is read

        parts = partitions(config, dataset)
        count, train_files = len(parts), tuple(len(train) for train, _ in parts)
    else:
        count = {"cv": config.folds, "random_splits": config.splits, "split": 1}[config.protocol]
    stats = "Stats" in config.approaches
    jobs = tuple(
        [f"fold{fold:02d}-{network}" for fold in range(count) for network in networks]
        + ([f"fold{fold:02d}-stats" for fold in range(count)] if stats else [])
    )
    return RunPlan(
        partitions=count,
        networks_per_partition=networks,
        stats=stats,
        epochs=evaluated_epochs(config.epochs, config.eval_every),
        files=None if dataset is None else len(dataset),
        train_files=train_files,
        finished=len(finished_jobs(config.run_dir) & set(jobs)),
        jobs=jobs,
    )


def describe_plan(config: ExperimentConfig) -> str:
    """The plan of ``config``'s run in words, with a rough time; reads, never writes."""
    notes, dataset = [], None
    if Path(config.data_dir).is_dir():
        dataset = load_dataset(config.dataset, config.data_dir, **config.dataset_options)
        data_line = f"{config.dataset} in {config.data_dir}: {len(dataset)} files (from the dataset's index)"
    else:
        data_line = f"{config.dataset} in {config.data_dir}: not found, so the number of files is unknown"
        notes.append(f"the run would stop at once: data_dir {config.data_dir} does not exist")
    plan = plan_run(config, dataset)
    unit = {"cv": "folds", "random_splits": "random splits", "split": "fixed split"}[config.protocol]
    readers = {
        n: [a for a in config.approaches if getattr(APPROACHES[a].network, "key", None) == n]
        for n in plan.networks_per_partition
    }
    per_network = ", ".join(f"{n} for {'/'.join(names)}" for n, names in readers.items())
    model_epochs = plan.networks * config.epochs
    lines = [
        f"plan of {config.name} (dry run: reads the data index and a few files' headers, writes nothing)",
        f"  data: {data_line}",
        f"  partitions: {plan.partitions} {unit}"
        + (f", {_span(plan.train_files)} training files each" if plan.train_files else ""),
        f"  networks: {plan.partitions} x {len(plan.networks_per_partition)} = {plan.networks}"
        + (f" ({per_network})" if per_network else ""),
        f"  model-epochs: {plan.networks} x {config.epochs} epochs = {model_epochs}",
        f"  evaluated epochs: {_epochs_text(plan.epochs)} ({len(plan.epochs)} per network, "
        f"{plan.networks * len(plan.epochs)} snapshots in all)",
    ]
    if plan.stats:
        lines.append(f"  Stats: scored once on each of the {plan.partitions} partitions (no training)")
    lines.append(f"  results: {config.run_dir}/")
    if plan.finished:
        lines.append(f"  resumes: {plan.finished} of {len(plan.jobs)} jobs are already finished there")
    try:
        refuse_other_run(config)
    except ResultsError as error:
        notes.append(f"the run would be refused: {error}")
    lines.append(f"  estimated time: {_estimate(config, plan, dataset)}")
    return "\n".join(lines + [f"note: {note}" for note in notes])


def _estimate(config: ExperimentConfig, plan: RunPlan, dataset: Dataset | None) -> str:
    if config.backend == "cuda":
        return "not estimated for the cuda backend (only CPU rates are known)"
    if not plan.networks:
        return "seconds (nothing is trained)"
    if dataset is not None:
        files, mean_train = plan.files, sum(plan.train_files) / len(plan.train_files)
        seconds_per_file, sampled = _typical_duration(dataset.audio_paths)
        duration = (
            f"{seconds_per_file:.0f} s per file, from {sampled} files' headers"
            if sampled
            else f"{_ASSUMED_SECONDS:.0f} s per file assumed"
        )
    elif config.dataset in PAPER_SIZES and config.protocol != "split":
        # without the data, the published dataset's size (the paper's Table 1)
        files, seconds_per_file = PAPER_SIZES[config.dataset]
        test = 1 / config.folds if config.protocol == "cv" else config.test_share
        mean_train = files * (1 - test)
        duration = f"the published {config.dataset}: {files} files of about {seconds_per_file:.0f} s"
    else:
        return "needs the data folder"
    frames_per_file = seconds_per_file * config.sample_rate / config.hop_length
    n_inputs = 2 * config.n_mels
    todo = 1 - plan.finished / len(plan.jobs)
    precision = config.matmul_precision
    train_s = (
        plan.networks
        * config.epochs
        * mean_train
        * training_flop(tuple(config.hidden_sizes), n_inputs, config.excerpt_length)
        / (_TRAIN_GFLOPS[precision] * 1e9)
    )
    forward_per_frame = training_flop(tuple(config.hidden_sizes), n_inputs, 1) / 3
    snapshot_s = (
        plan.networks
        * len(plan.epochs)
        * files
        * frames_per_file
        * forward_per_frame
        / (_SNAPSHOT_GFLOPS[precision] * 1e9)
    )
    fits = len([a for a in config.approaches if a != "NN"]) * plan.partitions * len(plan.epochs)
    svm_s = fits * _SVM_REFIT_S * (mean_train / _SVM_REFIT_N) ** 2
    if config.svm_tuning is not None:
        grid = config.svm_tuning
        svm_s *= len(grid["C"]) * len(grid.get("gamma") or [1]) * grid["folds"]
    workers = 1 if config.backend in ("serial", "reference") else config.workers or os.cpu_count() or 1
    workers = min(workers, plan.networks)
    steps = plan.networks * config.epochs * math.ceil(mean_train / config.batch_size)
    train_s += steps * _STEP_OVERHEAD_S
    total = _STARTUP_S + todo * (train_s + snapshot_s + svm_s) / workers
    how = "one network at a time" if workers == 1 else f"{workers} worker processes"
    return (
        f"about {_duration(total)}, {how}\n"
        f"    (rough: from the benchmark's rates on a 2-core Xeon at {precision},\n"
        f"    {duration};\n"
        "    frame extraction of uncached files not included;\n"
        "    python -m simsvm.bench measures this computer)"
    )


def _typical_duration(paths) -> tuple[float, int]:
    """Mean duration in seconds of up to ``_SAMPLED_FILES`` files spread over ``paths``, and how many."""
    try:
        import soundfile
    except ImportError:  # no audio library: the assumed length
        return _ASSUMED_SECONDS, 0
    step = max(1, math.ceil(len(paths) / _SAMPLED_FILES))
    durations = []
    for path in list(paths)[::step]:
        try:
            info = soundfile.info(str(path))
        except (RuntimeError, OSError, SimsvmError, ValueError):  # a format libsndfile cannot read
            continue
        durations.append(info.frames / info.samplerate)
    if not durations:
        return _ASSUMED_SECONDS, 0
    return sum(durations) / len(durations), len(durations)


def _span(counts: tuple[int, ...]) -> str:
    return str(counts[0]) if min(counts) == max(counts) else f"{min(counts)}-{max(counts)}"


def _epochs_text(epochs: tuple[int, ...]) -> str:
    if len(epochs) <= 6:
        return ", ".join(map(str, epochs))
    return f"{', '.join(map(str, epochs[:3]))}, ... {epochs[-1]}"


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{max(1, round(seconds))} s"
    if seconds < 90 * 60:
        return f"{round(seconds / 60)} min"
    return f"{seconds / 3600:.1f} h"
