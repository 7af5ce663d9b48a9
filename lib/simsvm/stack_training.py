"""Training several networks in lockstep as one :class:`~simsvm.stacked.StackedNetworks`.

:func:`train_stack` is :func:`simsvm.training.train_network` for ``M`` networks at once and
follows it line for line: each network is initialised from its own seed exactly as alone, draws
its own excerpt order and start frames from its own generator, and computes its own loss; the
losses are summed before one backward pass, which leaves every network's gradient its own
(no parameter is shared), and Adadelta, being element-wise, updates each network as if alone.
What differs is only where the arithmetic happens, so a stack's snapshots equal those of the
networks trained one by one up to floating-point rounding (tested).

Networks can share a stack when their schedules agree: same number of batches per epoch (the
training sets may differ by a few files; shorter batches are padded with rows that no loss
reads), epochs, evaluation points and optimiser settings; :func:`stack_groups` sorts a set of
specs into such stacks.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence

import numpy as np
import torch

from .exceptions import ParameterError
from .excerpts import DeviceFrames, HostFrames, frame_source
from .model import Network
from .stacked import StackedNetworks
from .training import Snapshot, TrainingData, TrainingSpec, batch_loss, excerpt_starts

__all__ = ["stack_groups", "train_stack"]

# Whole-file inference reads this many files at once, this many frames at a time: large enough
# for efficient products, small enough to bound memory (M x files x frames x hidden values).
# On a GPU every step is a few kernel launches whatever its size, so it takes many more files.
_SNAPSHOT_FILES = {"cpu": 128, "other": 1024}
_SNAPSHOT_CHUNK = {"cpu": 200, "other": 50}


def _schedule(spec: TrainingSpec) -> tuple:
    """What networks of one stack must agree on."""
    return (
        math.ceil(len(spec.train_indices) / spec.batch_size),
        spec.epochs,
        spec.eval_every,
        spec.excerpt_length,
        spec.batch_size,
        spec.hidden_sizes,
        spec.learning_rate,
        spec.rho,
        spec.eps,
    )


def stack_groups(specs: Sequence[TrainingSpec], stack_size: int | None) -> list[list[int]]:
    """Indices of ``specs`` grouped into stacks of at most ``stack_size`` (``None``: no limit).

    Specs go together only when their schedules agree; the order of specs is kept within and
    across groups.
    """
    if stack_size is not None and stack_size < 1:
        raise ParameterError(f"stack_size must be >= 1, got {stack_size}")
    by_schedule: dict[tuple, list[int]] = {}
    for index, spec in enumerate(specs):
        by_schedule.setdefault(_schedule(spec), []).append(index)
    groups = []
    for members in by_schedule.values():
        size = stack_size or len(members)
        groups += [members[begin : begin + size] for begin in range(0, len(members), size)]
    return sorted(groups)


def _whole_file_features(
    stack: StackedNetworks,
    specs: Sequence[TrainingSpec],
    data: TrainingData,
    frames: HostFrames | DeviceFrames,
) -> list[np.ndarray]:
    """Features of every spec's ``eval_indices``; networks that read the same files read them together.

    In 10-fold CV every network reads every file (its fold's training files, then its test
    files), so with one normaliser for the dataset the whole stack shares one pass.
    """
    kind = "cpu" if frames.device.type == "cpu" else "other"
    files_per_batch, chunk = _SNAPSHOT_FILES[kind], _SNAPSHOT_CHUNK[kind]
    readers: dict[tuple, list[int]] = {}
    for model, spec in enumerate(specs):
        readers.setdefault((tuple(np.unique(spec.eval_indices)), id(spec.normaliser)), []).append(model)
    features: list[np.ndarray] = [None] * len(specs)
    for (files, _), models in readers.items():
        files = np.asarray(files)
        normaliser = specs[models[0]].normaliser
        order = np.argsort(data.frames.lengths[files], kind="stable")  # little padding per batch
        values = np.empty((len(models), len(files), stack.hidden_sizes[-1]), dtype=np.float32)
        for begin in range(0, len(order), files_per_batch):
            rows = order[begin : begin + files_per_batch]
            lengths = data.frames.lengths[files[rows]]
            batch = frames.excerpts(
                torch.as_tensor(files[rows][None], device=frames.device),
                torch.zeros((1, len(rows)), dtype=torch.int64, device=frames.device),
                int(lengths.max()),
                [normaliser],
            )[:, 0]
            lengths = torch.as_tensor(lengths, device=frames.device)
            values[:, rows] = stack.features(batch, lengths, models=models, chunk=chunk).cpu().numpy()
        for position, model in enumerate(models):
            features[model] = values[position, np.searchsorted(files, specs[model].eval_indices)]
    return features


def _snapshots(
    stack: StackedNetworks,
    specs: Sequence[TrainingSpec],
    data: TrainingData,
    epoch: int,
    losses: Sequence[float],
    frames: HostFrames | DeviceFrames,
) -> list[Snapshot]:
    device = frames.device
    with torch.inference_mode():
        features = _whole_file_features(stack, specs, data, frames)
        snapshots = []
        for model, spec in enumerate(specs):
            outputs = None
            if spec.objective == "baseline":
                values = torch.from_numpy(features[model]).to(device)
                outputs = (values @ stack.head_weight[model] + stack.head_bias[model]).cpu().numpy()
            snapshots.append(
                Snapshot(epoch=epoch, train_loss=losses[model], features=features[model], outputs=outputs)
            )
    return snapshots


def _padded(rows: Sequence[np.ndarray], fill: int) -> np.ndarray:
    """Rows of different lengths as one int64 array, ``fill`` after each row's end."""
    array = np.full((len(rows), max(map(len, rows))), fill, dtype=np.int64)
    for index, row in enumerate(rows):
        array[index, : len(row)] = row
    return array


def _output_layer(outputs: torch.Tensor | None, model: int, rows: int) -> Callable | None:
    """Model ``model``'s output layer for :func:`~simsvm.training.batch_loss`, already applied."""
    return None if outputs is None else (lambda features: outputs[model, :rows])


def train_stack(
    specs: Sequence[TrainingSpec],
    data: TrainingData,
    *,
    device: str | torch.device = "cpu",
    on_epoch: Callable[[int], None] | None = None,
    resident_frames: bool | None = None,
) -> Iterator[list[Snapshot]]:
    """Train ``specs`` together; at each evaluation point yield one snapshot per spec, in order.

    The evaluation points are :func:`~simsvm.training.train_network`'s: epoch 0, every
    ``eval_every`` epochs and the last.  ``device`` is any torch device (``'cuda'`` for a GPU).
    ``resident_frames``: copy every file's frames to ``device`` once and cut excerpts there
    (default: when ``device`` is not the CPU, where the memory-mapped store is cheaper).
    """
    if not specs:
        return
    if len({_schedule(spec) for spec in specs}) != 1:
        raise ParameterError(
            f"networks {[spec.name for spec in specs]} have different schedules; see stack_groups"
        )
    device = torch.device(device)
    first = specs[0]
    n_outputs = data.annotations.shape[1]
    networks = []
    for spec in specs:
        torch.manual_seed(spec.seed)  # the same initial weights as the network trained alone
        networks.append(
            Network(
                data.frames.n_features,
                spec.hidden_sizes,
                n_outputs=n_outputs if spec.objective == "baseline" else None,
            )
        )
    stack = StackedNetworks.from_networks(networks).to(device)
    optimiser = torch.optim.Adadelta(stack.parameters(), lr=first.learning_rate, rho=first.rho, eps=first.eps)
    generators = [np.random.default_rng(spec.seed) for spec in specs]
    trains = [np.asarray(spec.train_indices) for spec in specs]
    length, size = first.excerpt_length, first.batch_size
    predict = stack.predict if stack.head_weight is not None else None
    frames = frame_source(data.frames, device, resident_frames)
    normalisers = [spec.normaliser for spec in specs]
    annotations = torch.as_tensor(data.annotations, device=device)
    targets = torch.as_tensor(np.asarray(data.targets), device=device)
    yield _snapshots(stack, specs, data, 0, [float("nan")] * len(specs), frames)
    for epoch in range(1, first.epochs + 1):
        orders = [rng.permutation(train) for rng, train in zip(generators, trains, strict=True)]
        starts = [
            excerpt_starts(data.frames.lengths[order], length, rng)
            for order, rng in zip(orders, generators, strict=True)
        ]
        # Each epoch's plan goes to the device in one piece: no host-device copy per batch.
        counts = [len(order) for order in orders]
        files = torch.as_tensor(_padded(orders, -1), device=device)
        first_frames = torch.as_tensor(_padded(starts, 0), device=device)
        epoch_losses = []
        for begin in range(0, max(counts), size):
            batch_files = files[:, begin : begin + size]
            excerpts = frames.excerpts(
                batch_files, first_frames[:, begin : begin + size], length, normalisers
            )
            features = stack.features(excerpts)
            outputs = predict(features) if predict is not None else None
            losses = []
            for model, spec in enumerate(specs):
                rows = min(size, counts[model] - begin)  # >= 1: every network has this many batches
                batch = batch_files[model, :rows]
                losses.append(
                    batch_loss(
                        spec,
                        data.task,
                        features[model, :rows],
                        annotations[batch],
                        targets[batch],
                        _output_layer(outputs, model, rows),
                    )
                )
            losses = torch.stack(losses)
            optimiser.zero_grad()
            losses.sum().backward()
            optimiser.step()
            epoch_losses.append(losses.detach())
        if on_epoch is not None:
            on_epoch(epoch)
        if epoch % first.eval_every == 0 or epoch == first.epochs:
            mean_losses = torch.stack(epoch_losses).mean(dim=0).cpu().tolist()
            yield _snapshots(stack, specs, data, epoch, mean_losses, frames)
