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
from .features import FrameStore, Normaliser
from .model import Network
from .stacked import StackedNetworks
from .training import Snapshot, TrainingData, TrainingSpec, batch_loss, excerpt_starts

__all__ = ["stack_groups", "train_stack"]

# Whole-file inference reads this many files at once, this many frames at a time: large enough
# for efficient products, small enough to bound memory (M x files x frames x hidden values).
_SNAPSHOT_FILES = 128
_SNAPSHOT_CHUNK = 200


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


class _HostFrames:
    """Excerpts cut from the (memory-mapped) frame store in host memory, then moved to ``device``."""

    def __init__(self, store: FrameStore, device: torch.device):
        self.store, self.device = store, device

    def excerpts(
        self, files: np.ndarray, starts: np.ndarray, length: int, normaliser: Normaliser | None
    ) -> torch.Tensor:
        """Time-major excerpts, shape ``(length, len(files), n_features)``; see ``FrameStore.excerpts``."""
        batch = self.store.excerpts(files, starts, length, normaliser=normaliser)
        return torch.from_numpy(batch.transpose(1, 0, 2).copy()).to(self.device)


class _DeviceFrames:
    """Every file's frames kept on ``device``, excerpts gathered and normalised there.

    On a GPU, cutting each batch's excerpts on the CPU and copying them over (40 networks x 100
    excerpts x 100 frames = 128 MB per batch in 10-fold CV) would cost more than the training
    step; the frames of a whole dataset are small beside a GPU's memory (GTZAN 0.4 GB, Lastfm
    1.1 GB as float32).  Gives what :class:`_HostFrames` gives: normalised, then zero past a
    file's end.
    """

    def __init__(self, store: FrameStore, device: torch.device):
        self.device = device
        self.lengths = torch.as_tensor(store.lengths, device=device)
        self.offsets = torch.cumsum(self.lengths, 0) - self.lengths
        self.frames = torch.empty(int(store.lengths.sum()), store.n_features, device=device)
        for index, offset in enumerate(self.offsets.tolist()):
            self.frames[offset : offset + int(store.lengths[index])] = torch.from_numpy(
                np.asarray(store.sequence(index), dtype=np.float32)
            )
        self._statistics: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}

    def excerpts(
        self, files: np.ndarray, starts: np.ndarray, length: int, normaliser: Normaliser | None
    ) -> torch.Tensor:
        files = torch.as_tensor(np.asarray(files), device=self.device)
        starts = torch.as_tensor(np.asarray(starts), device=self.device)
        steps = torch.arange(length, device=self.device)[:, None] + starts  # (length, files)
        inside = steps < self.lengths[files]
        positions = torch.where(inside, self.offsets[files] + steps, 0)
        batch = self.frames[positions]
        if normaliser is not None:
            mean, scale = self._normaliser(normaliser)
            batch = (batch - mean) / scale
        return batch.masked_fill_(~inside[..., None], 0.0)

    def _normaliser(self, normaliser: Normaliser) -> tuple[torch.Tensor, torch.Tensor]:
        if id(normaliser) not in self._statistics:
            self._statistics[id(normaliser)] = (
                torch.from_numpy(normaliser.mean_).to(self.device),
                torch.from_numpy(normaliser.scale_).to(self.device),
            )
        return self._statistics[id(normaliser)]


def _frame_source(
    store: FrameStore, device: torch.device, resident: bool | None
) -> _HostFrames | _DeviceFrames:
    """Where excerpts are cut: on the device when it is not the CPU (``resident`` None), else as told."""
    if resident is None:
        resident = device.type != "cpu"
    return _DeviceFrames(store, device) if resident else _HostFrames(store, device)


def _whole_file_features(
    stack: StackedNetworks,
    specs: Sequence[TrainingSpec],
    data: TrainingData,
    frames: _HostFrames | _DeviceFrames,
) -> list[np.ndarray]:
    """Features of every spec's ``eval_indices``, networks that read the same files together."""
    features: list[np.ndarray] = [None] * len(specs)
    readers: dict[tuple, list[int]] = {}
    for model, spec in enumerate(specs):
        readers.setdefault((spec.eval_indices, id(spec.normaliser)), []).append(model)
    for (indices, _), models in readers.items():
        indices = np.asarray(indices)
        normaliser = specs[models[0]].normaliser
        order = np.argsort(data.frames.lengths[indices], kind="stable")  # little padding per batch
        values = np.empty((len(models), len(indices), stack.hidden_sizes[-1]), dtype=np.float32)
        for begin in range(0, len(order), _SNAPSHOT_FILES):
            rows = order[begin : begin + _SNAPSHOT_FILES]
            lengths = data.frames.lengths[indices[rows]]
            batch = frames.excerpts(
                indices[rows], np.zeros(len(rows), dtype=int), int(lengths.max()), normaliser
            )
            values[:, rows] = (
                stack.features(
                    batch,
                    torch.from_numpy(lengths).to(frames.device),
                    models=models,
                    chunk=_SNAPSHOT_CHUNK,
                )
                .cpu()
                .numpy()
            )
        for position, model in enumerate(models):
            features[model] = values[position]
    return features


def _snapshots(
    stack: StackedNetworks,
    specs: Sequence[TrainingSpec],
    data: TrainingData,
    epoch: int,
    losses: Sequence[float],
    frames: _HostFrames | _DeviceFrames,
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
    frames = _frame_source(data.frames, device, resident_frames)
    yield _snapshots(stack, specs, data, 0, [float("nan")] * len(specs), frames)
    for epoch in range(1, first.epochs + 1):
        orders = [rng.permutation(train) for rng, train in zip(generators, trains, strict=True)]
        starts = [
            excerpt_starts(data.frames.lengths[order], length, rng)
            for order, rng in zip(orders, generators, strict=True)
        ]
        epoch_losses = []
        for begin in range(0, max(len(order) for order in orders), size):
            batches = [order[begin : begin + size] for order in orders]
            excerpts = torch.zeros(
                (length, len(specs), max(map(len, batches)), data.frames.n_features), device=device
            )
            for model, (spec, batch) in enumerate(zip(specs, batches, strict=True)):
                excerpts[:, model, : len(batch)] = frames.excerpts(
                    batch, starts[model][begin : begin + size], length, spec.normaliser
                )
            features = stack.features(excerpts)
            outputs = predict(features) if predict is not None else None
            losses = [
                batch_loss(
                    spec,
                    data,
                    batch,
                    features[model, : len(batch)],
                    _output_layer(outputs, model, len(batch)),
                )
                for model, (spec, batch) in enumerate(zip(specs, batches, strict=True))
            ]
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
