"""The benchmark's measurements, each timed on its own: backends, snapshots, extraction, memory, the protocol.

:mod:`simsvm.bench` runs them in one process and reports ratios; the frames are random
standard-normal values stored as memory-mapped ``.npy`` files, as a real run's cache is.
"""

from __future__ import annotations

import argparse
import platform
import resource
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from torch.profiler import ProfilerActivity, profile

from simsvm.data.datasets import Dataset
from simsvm.data.frames import FrameStore, Normaliser, load_frames
from simsvm.engine.cpu import cpu_description
from simsvm.engine.engine import resolve_engine
from simsvm.experiment.config import ExperimentConfig
from simsvm.experiment.protocol import plan_jobs
from simsvm.experiment.scoring import score_svm
from simsvm.model.kernels import make_kernel
from simsvm.train.backends import Backend, CudaBackend, ProcessBackend, SerialBackend
from simsvm.train.excerpts import frame_source
from simsvm.train.jobs import train_set
from simsvm.train.loop import initial_stack, train_stack
from simsvm.train.spec import TrainingData, TrainingSpec, batch_loss

__all__ = [
    "bench_specs",
    "cpu_capabilities",
    "extraction_rates",
    "matmul_peak",
    "profile_training_step",
    "synthetic_frames",
    "time_protocol",
    "time_protocol_runs",
    "time_set",
    "time_snapshot",
    "time_svm_refit",
    "unit_normaliser",
    "worker_memory",
]


# CPU flags (Linux /proc/cpuinfo) that decide which reduced-precision products the hardware has.
_CPU_FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_tile", "amx_bf16")


def cpu_capabilities() -> dict:
    """The CPU's model, the flags of :data:`_CPU_FLAGS` it has, and PyTorch's chosen code path."""
    model, flags = cpu_description()
    return {
        "model": model or platform.processor(),
        "flags": None if flags is None else {flag: flag in flags for flag in _CPU_FLAGS},
        "torch_capability": torch.backends.cpu.get_cpu_capability(),
    }


def matmul_peak(
    threads: int, size: int = 2048, repeats: int = 5, dtype: torch.dtype = torch.float32
) -> float:
    """GFLOP/s of a large matrix product with ``threads`` threads: the machine's practical peak.

    ``torch.bfloat16`` gives the reduced-precision peak (AMX or AVX512-BF16 where the CPU has them).
    """
    torch.set_num_threads(threads)
    a, b = torch.randn(size, size, dtype=dtype), torch.randn(size, size, dtype=dtype)
    a @ b  # warm-up
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * size**3 * repeats / (time.perf_counter() - start) / 1e9


def profile_training_step(
    data: TrainingData, spec: TrainingSpec, *, steps: int = 10, rows: int = 15
) -> list[dict]:
    """Where one training step of one network goes: ``torch.profiler``'s operators by self CPU time.

    A step, in the spec's ``matmul_precision``, is one batch: cut and normalise the excerpts, the
    stacked GRU forward, the loss, backward and Adadelta's update; snapshots are not included.
    Returns the ``rows`` largest operators with their share of the profiled time.
    """
    engine = resolve_engine(spec.matmul_precision, "cpu")
    stack = initial_stack([spec], data, engine)
    precision = engine.products
    optimiser = torch.optim.Adadelta(stack.parameters(), lr=spec.learning_rate, rho=spec.rho, eps=spec.eps)
    frames = frame_source(data.frames, torch.device("cpu"), None)
    annotations, targets = torch.as_tensor(data.annotations), torch.as_tensor(np.asarray(data.targets))
    rng = np.random.default_rng(0)

    def step() -> None:
        files = torch.as_tensor(rng.permutation(np.asarray(spec.train_indices))[None, : spec.batch_size])
        starts = torch.as_tensor(
            rng.integers(0, max(int(data.frames.lengths.min()) - spec.excerpt_length, 1), files.shape)
        )
        excerpts = frames.excerpts(files, starts, spec.excerpt_length, [spec.normaliser])
        features = stack.features(excerpts, precision=precision)
        loss = batch_loss(spec, data.task, features[0], annotations[files[0]], targets[files[0]], None)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()

    for _ in range(3):  # warm-up
        step()
    with profile(activities=[ProfilerActivity.CPU]) as profiler:
        for _ in range(steps):
            step()
    events = sorted(profiler.key_averages(), key=lambda event: event.self_cpu_time_total, reverse=True)
    total = sum(event.self_cpu_time_total for event in events)
    return [
        {
            "operator": event.key,
            "calls_per_step": event.count / steps,
            "ms_per_step": event.self_cpu_time_total / steps / 1000,
            "share": event.self_cpu_time_total / total,
        }
        for event in events[:rows]
    ]


def synthetic_frames(folder: Path, clips: int, frames: int, rng: np.random.Generator) -> FrameStore:
    """Random frames stored as .npy files, memory-mapped as in a real run."""
    paths = []
    for index in range(clips):
        path = folder / f"{index:05d}.npy"
        np.save(path, rng.standard_normal((frames, 80)).astype(np.float32))
        paths.append(path)
    return FrameStore(paths)


def unit_normaliser() -> Normaliser:
    """Mean 0, scale 1 (the frames are standard normal); shared, as a run's dataset normaliser is."""
    normaliser = Normaliser()
    normaliser.mean_, normaliser.scale_ = np.zeros(80, np.float32), np.ones(80, np.float32)
    return normaliser


def bench_specs(data: TrainingData, models: int, epochs: int, train: int) -> list[TrainingSpec]:
    """``models`` paper-sized RBF similarity networks on the first ``train`` files, seeds 0, 1, …"""
    normaliser = unit_normaliser()
    base = TrainingSpec(
        name="bench",
        loss="similarity",
        seed=0,
        train_indices=tuple(range(train)),
        eval_indices=(0,),
        normaliser=normaliser,
        kernel=make_kernel("rbf"),
        hidden_sizes=(100, 50),
        epochs=epochs,
        eval_every=epochs,
        excerpt_length=100,
        batch_size=100,
        learning_rate=1.0,
        rho=0.95,
        eps=1e-6,
    )
    return [replace(base, name=f"bench-{m}", seed=m) for m in range(models)]


def time_set(specs: list[TrainingSpec], data: TrainingData, backend: Backend) -> float:
    """Seconds to train (and snapshot) ``specs`` through ``backend``."""
    start = time.perf_counter()
    for _ in train_set(specs, data, backend=backend):
        pass
    return time.perf_counter() - start


def time_snapshot(
    data: TrainingData, spec: TrainingSpec, clips: int, *, plain: bool
) -> tuple[float, np.ndarray]:
    """Seconds and features of one untrained network reading every file whole, as a snapshot does.

    ``plain``: the ``nn.GRU`` network (the reference arithmetic), else the stacked recurrence.
    """
    every_file = replace(spec, eval_indices=tuple(range(clips)), epochs=0)
    start = time.perf_counter()
    features = next(train_stack([every_file], data, reference=plain))[0].features
    return time.perf_counter() - start, features


def peak_rss_mib(snapshot: object = None) -> float:
    """This process's peak resident memory (MiB); takes a snapshot so that it can be an evaluator."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker_memory(scratch: Path, clips: int, frames: int, rng: np.random.Generator) -> float:
    """Peak RSS (MiB) of a worker that trains one epoch and takes one snapshot of every file.

    Read inside the worker, at each snapshot (its evaluations run there): ``RUSAGE_CHILDREN``
    here would not see it, since workers are the forkserver's children, not this process's.
    """
    scratch.mkdir(parents=True, exist_ok=True)
    store = synthetic_frames(scratch, clips, frames, rng)
    labels = rng.integers(0, 4, clips)
    data = TrainingData(frames=store, targets=labels, annotations=np.eye(4)[labels], task="classification")
    spec = replace(
        bench_specs(data, 1, 1, int(0.9 * clips))[0], eval_indices=tuple(range(clips)), eval_every=1
    )
    ((_, peaks),) = train_set([spec], data, backend=ProcessBackend(workers=1), evaluate=[peak_rss_mib])
    return max(peaks)


def extraction_rates(folder: Path, files: int, rng: np.random.Generator) -> dict[str, float]:
    """Files per second of frame extraction from 30 s audio files, without and with the cache."""
    import soundfile  # only this measurement reads audio

    folder.mkdir(parents=True, exist_ok=True)
    audio = []
    for index in range(files):
        path = folder / f"{index}.wav"
        soundfile.write(path, 0.1 * rng.standard_normal(30 * 22050).astype(np.float32), 22050)
        audio.append(path)
    load_frames(audio[:1], cache_dir=None, progress=False)  # librosa's one-off compilation
    rates = {}
    for label in ("cold", "cached"):
        start = time.perf_counter()
        load_frames(audio, cache_dir=folder / "cache", progress=False)
        rates[f"extraction_files_per_s_{label}"] = files / (time.perf_counter() - start)
    return rates


def time_protocol(
    data: TrainingData,
    scratch: Path,
    backend: Backend,
    *,
    epochs: int,
    folds: int,
    matmul_precision: str = "fp32",
) -> tuple[float, int]:
    """Seconds and networks of the paper's k-fold CV on ``data`` for ``epochs`` epochs.

    The real plan (:func:`~simsvm.experiment.protocol.plan_jobs`): per fold the baseline (NN, FL) and the
    RBF, cosine and polynomial similarity networks, a snapshot every 10 epochs, each evaluated by
    its SVM refits, as ``simsvm run`` does it; only the frames are random and nothing is written.
    """
    n = len(data.frames)
    config = ExperimentConfig(
        name="bench-protocol",
        dataset="gtzan",
        data_dir=str(scratch),
        epochs=epochs,
        eval_every=min(10, epochs),
        folds=folds,
        matmul_precision=matmul_precision,
    )
    dataset = Dataset(
        key="gtzan",
        task=data.task,
        target_names=tuple(f"class{k}" for k in range(data.annotations.shape[1])),
        track_ids=[f"{index:05d}" for index in range(n)],
        audio_paths=[scratch / f"{index:05d}.npy" for index in range(n)],
        targets=data.targets,
        root=scratch,
    )
    jobs = plan_jobs(config, dataset, data, unit_normaliser())
    start = time.perf_counter()
    for _ in train_set(
        [spec for _, spec, _ in jobs], data, backend=backend, evaluate=[evaluator for _, _, evaluator in jobs]
    ):
        pass
    return time.perf_counter() - start, len(jobs)


def time_svm_refit(features: np.ndarray, labels: np.ndarray, train: int) -> float:
    """Seconds of one SVM fit and test on a fold's features."""
    start = time.perf_counter()
    score_svm(
        features[:train],
        labels[:train],
        features[train:],
        labels[train:],
        task="classification",
        target_names=tuple(map(str, range(10))),
        kernel=make_kernel("rbf"),
    )
    return time.perf_counter() - start


def time_protocol_runs(args: argparse.Namespace, data: TrainingData, scratch: Path) -> list[dict]:
    """The paper's CV timed for ``--protocol-epochs`` epochs in each ``--protocol-precisions``,
    projected to 400 epochs (none when the epochs are 0)."""
    protocol_backend = args.protocol_backend or ("cuda" if torch.cuda.is_available() else "processes")
    protocol_epochs = args.protocol_epochs
    if protocol_epochs is None:
        protocol_epochs = 20 if torch.cuda.is_available() else 0
    if not protocol_epochs:
        return []
    backend = {
        "cuda": CudaBackend,
        "processes": lambda: ProcessBackend(workers=args.threads),
        "serial": lambda: SerialBackend(threads=args.threads),
    }[protocol_backend]()
    runs = []
    for precision in args.protocol_precisions.split(","):
        seconds, networks = time_protocol(
            data,
            scratch,
            backend,
            epochs=protocol_epochs,
            folds=args.protocol_folds,
            matmul_precision=precision,
        )
        runs.append(
            {
                "backend": protocol_backend,
                "matmul_precision": precision,
                "networks": networks,
                "folds": args.protocol_folds,
                "epochs": protocol_epochs,
                "seconds": seconds,
                # linear in epochs; a short run has proportionally more evaluation points and
                # start-up, so this over-estimates
                "projected_400_epochs_min": seconds * 400 / protocol_epochs / 60,
            }
        )
    return runs
