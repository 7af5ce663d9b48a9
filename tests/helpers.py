"""Helpers shared by several test modules."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from simsvm.data.frames import FrameStore, Normaliser
from simsvm.engine.recurrence import stacked_gru
from simsvm.exceptions import DataError
from simsvm.train.loop import train_stack
from simsvm.train.spec import TrainingData, TrainingSpec

# Experiment settings small enough for a test: two folds, two epochs, a tiny network.
TINY_RUN = {
    "folds": 2,
    "epochs": 2,
    "eval_every": 1,
    "hidden_sizes": [12, 6],
    "batch_size": 10,
    "excerpt_length": 40,
    "backend": "serial",
    "progress": False,
}


def tiny_run_values(synth_root: Path, tmp_path: Path, *, name: str = "bad", **changes) -> dict:
    """A valid parameter mapping for a tiny FL run on the generated GTZAN layout; ``changes`` win."""
    return {
        "name": name,
        "dataset": "gtzan",
        "data_dir": str(synth_root / "gtzan"),
        "results_dir": str(tmp_path / "results"),
        "cache_dir": str(tmp_path / "cache"),
        **TINY_RUN,
        "approaches": ["FL"],
        **changes,
    }


def write_tone(path: Path, *, frequency: float, seconds: float, sample_rate: int = 22050) -> Path:
    """A sine tone at -12 dBFS, written as 16-bit audio in the format of ``path``'s suffix."""
    import soundfile  # not needed by the tests that run on a GPU machine without audio libraries

    t = np.arange(int(seconds * sample_rate)) / sample_rate
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(path, 0.25 * np.sin(2 * np.pi * frequency * t), sample_rate, subtype="PCM_16")
    return path


def small_training_data() -> TrainingData:
    """24 random sequences of 60-140 frames in 3 classes, with a class-dependent offset."""
    rng = np.random.default_rng(0)
    lengths = rng.integers(60, 140, size=24)
    labels = np.arange(24) % 3
    # class-dependent offset in a few dimensions, so that training has something to find
    frames = [
        (rng.standard_normal((n, 80)) + 0.5 * np.eye(80)[labels[i]]).astype(np.float32)
        for i, n in enumerate(lengths)
    ]
    store = FrameStore(frames)
    return TrainingData(frames=store, targets=labels, annotations=np.eye(3)[labels], task="classification")


def small_spec(data: TrainingData, name: str, loss: str, seed: int, kernel=None, **extra) -> TrainingSpec:
    """A tiny network's spec on :func:`small_training_data`; ``loss`` 'baseline' is the paper's sse;
    ``extra`` overrides any field."""
    settings = {
        "hidden_sizes": (12, 6),
        "epochs": 4,
        "eval_every": 2,
        "excerpt_length": 50,
        "batch_size": 8,
        "learning_rate": 1.0,
        "rho": 0.95,
        "eps": 1e-6,
    }
    return TrainingSpec(
        name=name,
        loss="sse" if loss == "baseline" else loss,
        seed=seed,
        normaliser=Normaliser().fit(data.frames),
        kernel=kernel,
        **{"train_indices": tuple(range(16)), "eval_indices": tuple(range(24)), **settings, **extra},
    )


def train_alone(spec: TrainingSpec, data: TrainingData, **options):
    """One network trained the reference way (``nn.GRU``, autograd), alone: its snapshots in order."""
    return (snapshots[0] for snapshots in train_stack([spec], data, reference=True, **options))


def plain_training(spec: TrainingSpec, data: TrainingData) -> list[tuple[int, float, np.ndarray]]:
    """The paper's procedure written the obvious way, independently of simsvm's loop: the test oracle.

    One ``nn.GRU`` network, its excerpts cut file by file with numpy, autograd's backward, and
    every snapshot read one whole file at a time (no batching, no padding).  It draws from the
    seed's generator in the order the method defines (each epoch: the file order, then the start
    frames).  Returns ``(epoch, mean training loss, features)`` at each evaluation point.
    """
    import torch

    from simsvm.model.losses import baseline_loss, similarity_loss
    from simsvm.model.network import Network

    torch.manual_seed(spec.seed)
    network = Network(
        data.frames.n_features,
        spec.hidden_sizes,
        n_outputs=data.annotations.shape[1] if spec.has_output_layer else None,
    )
    optimiser = torch.optim.Adadelta(network.parameters(), lr=spec.learning_rate, rho=spec.rho, eps=spec.eps)
    rng = np.random.default_rng(spec.seed)

    def snapshot(epoch: int, loss: float) -> tuple[int, float, np.ndarray]:
        with torch.no_grad():
            features = [
                network.features(torch.from_numpy(spec.normaliser.transform(data.frames.sequence(i))[None]))[
                    0
                ]
                for i in spec.eval_indices
            ]
        return epoch, loss, torch.stack(features).numpy()

    snapshots = [snapshot(0, float("nan"))]
    for epoch in range(1, spec.epochs + 1):
        order = rng.permutation(np.asarray(spec.train_indices))
        starts = rng.integers(0, np.maximum(data.frames.lengths[order] - spec.excerpt_length, 0) + 1)
        losses = []
        for begin in range(0, len(order), spec.batch_size):
            files = order[begin : begin + spec.batch_size]
            excerpts = data.frames.excerpts(
                files,
                starts[begin : begin + spec.batch_size],
                spec.excerpt_length,
                normaliser=spec.normaliser,
            )
            features = network.features(torch.from_numpy(excerpts))
            if spec.loss == "similarity":
                annotations = torch.from_numpy(data.annotations[files]).to(features.dtype)
                loss = similarity_loss(features, annotations, spec.kernel)
            else:
                targets = torch.from_numpy(np.asarray(data.targets)[files])
                loss = baseline_loss(network.predict(features), targets, task=data.task, kind=spec.loss)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            losses.append(loss.item())
        if epoch % spec.eval_every == 0 or epoch == spec.epochs:
            snapshots.append(snapshot(epoch, float(np.mean(losses))))
    return snapshots


def where_evaluated(snapshot) -> tuple[int, int, float]:
    """An evaluation that says which process ran it: ``(epoch, pid, sum of the features)``."""
    return snapshot.epoch, os.getpid(), float(np.sum(snapshot.features, dtype=np.float64))


def failing_evaluation(snapshot):
    raise DataError(f"evaluation of epoch {snapshot.epoch} failed on purpose")


def slow_square(value: float) -> float:
    time.sleep(0.2)
    return value * value


def gru_layer(models, inputs, hidden, dtype, seed=0):
    """``nn.GRU`` layers of ``models`` networks and their weights stacked for ``stacked_gru``."""
    torch.manual_seed(seed)
    grus = [nn.GRU(inputs, hidden, batch_first=True).to(dtype) for _ in range(models)]
    parameters = [
        torch.stack([g.weight_ih_l0.detach().T for g in grus]).contiguous(),
        torch.stack([g.weight_hh_l0.detach().T for g in grus]).contiguous(),
        torch.stack([g.bias_ih_l0.detach() for g in grus]),
        torch.stack([g.bias_hh_l0.detach() for g in grus]),
    ]
    return grus, [parameter.requires_grad_() for parameter in parameters]


def outputs_and_gradients(parameters, inputs, precision, weights, initial=None):
    """``stacked_gru``'s outputs, and the gradients of ``(outputs * weights).sum()`` with respect to
    the inputs, the initial state and the four parameters, in that order."""
    parameters = [parameter.detach().clone().requires_grad_() for parameter in parameters]
    inputs = inputs.detach().clone().requires_grad_()
    if initial is None:
        initial = torch.zeros(inputs.shape[1], inputs.shape[2], parameters[1].shape[1], dtype=inputs.dtype)
    initial = initial.detach().clone().requires_grad_()
    outputs = stacked_gru(inputs, *parameters, initial, precision=precision)
    (outputs * weights).sum().backward()
    return outputs.detach(), [inputs.grad, initial.grad, *(parameter.grad for parameter in parameters)]
