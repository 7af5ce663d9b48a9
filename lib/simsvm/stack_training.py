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


def _whole_file_features(
    stack: StackedNetworks, specs: Sequence[TrainingSpec], data: TrainingData, device: torch.device
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
            batch = data.frames.excerpts(
                indices[rows], np.zeros(len(rows), dtype=int), int(lengths.max()), normaliser=normaliser
            )
            frames = torch.from_numpy(batch.transpose(1, 0, 2).copy()).to(device)
            values[:, rows] = (
                stack.features(
                    frames,
                    torch.from_numpy(lengths).to(device),
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
    device: torch.device,
) -> list[Snapshot]:
    with torch.inference_mode():
        features = _whole_file_features(stack, specs, data, device)
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
) -> Iterator[list[Snapshot]]:
    """Train ``specs`` together; at each evaluation point yield one snapshot per spec, in order.

    The evaluation points are :func:`~simsvm.training.train_network`'s: epoch 0, every
    ``eval_every`` epochs and the last.  ``device`` is any torch device (``'cuda'`` for a GPU).
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
    yield _snapshots(stack, specs, data, 0, [float("nan")] * len(specs), device)
    for epoch in range(1, first.epochs + 1):
        orders = [rng.permutation(train) for rng, train in zip(generators, trains, strict=True)]
        starts = [
            excerpt_starts(data.frames.lengths[order], length, rng)
            for order, rng in zip(orders, generators, strict=True)
        ]
        epoch_losses = []
        for begin in range(0, max(len(order) for order in orders), size):
            batches = [order[begin : begin + size] for order in orders]
            excerpts = np.zeros(
                (length, len(specs), max(map(len, batches)), data.frames.n_features), np.float32
            )
            for model, (spec, batch) in enumerate(zip(specs, batches, strict=True)):
                piece = data.frames.excerpts(
                    batch, starts[model][begin : begin + size], length, normaliser=spec.normaliser
                )
                excerpts[:, model, : len(batch)] = piece.transpose(1, 0, 2)
            features = stack.features(torch.from_numpy(excerpts).to(device))
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
            yield _snapshots(stack, specs, data, epoch, mean_losses, device)
