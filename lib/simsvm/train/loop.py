"""The training loop: ``M`` independent networks trained in lockstep, one network being a stack of one.

Read top to bottom, :func:`train_stack` is the paper's procedure (section 2.5) for every network
of the stack: each epoch every training file contributes one random excerpt, batches are
shuffled, Adadelta updates, and every ``eval_every`` epochs (and before the first) the networks
read every file whole and their time-averaged outputs are kept as a
:class:`~simsvm.train.spec.Snapshot`.  Each network is initialised from its own seed exactly as
alone, draws its own excerpt order and start frames from its own generator, and computes its
own loss; the losses are summed before one backward pass, which leaves every network's gradient
its own (no parameter is shared), and Adadelta, being element-wise, updates each network as if
alone.

The arithmetic is either :class:`~simsvm.engine.stacked.StackedNetworks` (the hand-written
recurrence, every backend's default) or, with ``reference=True``,
:class:`~simsvm.model.network.NetworkStack` (``nn.GRU`` and autograd, the measure of the other).
The loop is the same, so the two differ only by floating-point rounding (tested).

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

from simsvm.engine.engine import Engine, resolve_engine
from simsvm.engine.stacked import StackedNetworks
from simsvm.exceptions import ParameterError
from simsvm.model.network import Network, NetworkStack
from simsvm.model.reading import KeptMemory
from simsvm.train.excerpts import DeviceFrames, HostFrames, frame_source
from simsvm.train.spec import (
    Snapshot,
    TrainingData,
    TrainingSpec,
    batch_loss,
    evaluated_epochs,
    excerpt_starts,
)

__all__ = ["initial_stack", "stack_groups", "train_stack"]

# Whole-file inference reads this many files at once, this many frames at a time: large enough
# for efficient products, small enough to bound memory (M x files x frames x hidden values).
# On a GPU every step is a few kernel launches whatever its size, so it takes many more files.
# A CPU's bf16 snapshots multiply the state in bfloat16 too from 256 rows on (inference.py),
# where AMX gains over float32 only with hundreds of rows.  Chunks of 25 frames were ~7 % faster
# than 50 while a chunk's inputs were projected ahead (7.7 MB); with one joined product a step
# (inference.py), 25 to 100 frames take the same time on the project's AMX Xeon.
# Every batch of a snapshot has exactly that many rows, the last one padded with zero rows
# (StackedNetworks.features' ``rows``): a product's last bits may depend on its number of rows,
# and a bf16 batch of fewer than 256 rows would take the other path, so a file's features would
# depend on which files share its batch.  Padding costs the last batch's empty rows only.
_SNAPSHOT_FILES = {"cpu": 128, "cpu, bf16": 512, "other": 1024}
_SNAPSHOT_CHUNK = {"cpu": 200, "cpu, bf16": 25, "other": 50}


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
        spec.matmul_precision,
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
    stack: StackedNetworks | NetworkStack,
    specs: Sequence[TrainingSpec],
    data: TrainingData,
    frames: HostFrames | DeviceFrames,
    precision: str,
    kept: KeptMemory,
) -> list[np.ndarray]:
    """Features of every spec's ``eval_indices``; networks that read the same files read them together.

    In 10-fold CV every network reads every file (its fold's training files, then its test
    files), so with one normaliser for the dataset the whole stack shares one pass.  The
    batches and the chunks' buffers are written into ``kept``, which a job keeps for all its
    snapshots.  A file's features do not depend on the files read with it, nor on its row
    (fixed-size batches, sums over time in one order: ``tests/test_position.py``); the rows are
    also in an order unrelated to the labels (:func:`_reading_order`), should anything else.
    """
    kind = "cpu" if frames.device.type == "cpu" else "other"
    if kind == "cpu" and precision == "bf16":
        kind = "cpu, bf16"
    files_per_batch, chunk = _SNAPSHOT_FILES[kind], _SNAPSHOT_CHUNK[kind]
    readers: dict[tuple, list[int]] = {}
    for model, spec in enumerate(specs):
        readers.setdefault((tuple(np.unique(spec.eval_indices)), id(spec.normaliser)), []).append(model)
    features: list[np.ndarray] = [None] * len(specs)
    for (files, _), models in readers.items():
        files = np.asarray(files)
        normaliser = specs[models[0]].normaliser
        order = _reading_order(files, data.frames.lengths[files])
        values = np.empty((len(models), len(files), stack.hidden_sizes[-1]), dtype=np.float32)
        for begin in range(0, len(order), files_per_batch):
            rows = order[begin : begin + files_per_batch]
            padding = files_per_batch - len(rows)  # rows of file -1: zeros, read whole
            lengths = data.frames.lengths[files[rows]]
            lengths = np.concatenate([lengths, np.full(padding, lengths.max())])
            batch = frames.excerpts(
                torch.as_tensor(
                    np.concatenate([files[rows], np.full(padding, -1)])[None], device=frames.device
                ),
                torch.zeros((1, files_per_batch), dtype=torch.int64, device=frames.device),
                int(lengths.max()),
                [normaliser],
                kept=kept,  # read before the next batch
                dtype=torch.bfloat16 if precision == "bf16" else torch.float32,
            )[:, 0]
            lengths = torch.as_tensor(lengths, device=frames.device)
            batch_features = stack.features(
                batch,
                lengths,
                models=models,
                chunk=chunk,
                precision=precision,
                kept=kept,
                rows=files_per_batch,
            )
            values[:, rows] = batch_features[:, : len(rows)].cpu().numpy()
        for position, model in enumerate(models):
            features[model] = values[position, np.searchsorted(files, specs[model].eval_indices)]
    return features


def _reading_order(files: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Positions in ``files`` (dataset indices) by length, for little padding per batch, and
    files of one length in a fixed scramble of their indices.

    By length alone ties kept the dataset's order, which is by class in a folders layout:
    rows would follow the labels, and any effect of a row's place on its features with them.
    The scramble (Knuth's multiplicative hash) depends on a file's index only, not its fold.
    """
    scrambled = (files.astype(np.uint64) * np.uint64(2654435761)) % np.uint64(2**32)
    return np.lexsort((scrambled, lengths))


def _snapshots(
    stack: StackedNetworks | NetworkStack,
    specs: Sequence[TrainingSpec],
    data: TrainingData,
    epoch: int,
    losses: Sequence[float],
    frames: HostFrames | DeviceFrames,
    precision: str,
    kept: KeptMemory,
    learned: Sequence[dict[str, torch.Tensor]],
) -> list[Snapshot]:
    device = frames.device
    with torch.inference_mode():
        features = _whole_file_features(stack, specs, data, frames, precision, kept)
        snapshots = []
        for model, spec in enumerate(specs):
            outputs = None
            if spec.has_output_layer:
                values = torch.tensor(features[model], device=device)  # a torch (aligned) copy, see excerpts
                outputs = stack.output_layer(model, values).cpu().numpy()
            values_now = {
                f"{spec.kernel.name}_{name}": float(log_value.exp())
                for name, log_value in learned[model].items()
            }
            snapshots.append(
                Snapshot(
                    epoch=epoch,
                    train_loss=losses[model],
                    features=features[model],
                    outputs=outputs,
                    learned=values_now,
                )
            )
    return snapshots


def _learned_kernel_parameters(spec: TrainingSpec, device: torch.device) -> dict[str, torch.nn.Parameter]:
    """The logarithm of each kernel parameter the spec learns (``rbf_gamma: learn``), at its default.

    Log-parametrised, so that a positive width stays positive whatever step Adadelta takes.
    """
    if spec.kernel is None:
        return {}
    defaults = {parameter.name: parameter.default for parameter in spec.kernel.parameters}
    return {
        name: torch.nn.Parameter(torch.tensor(math.log(defaults[name]), device=device))
        for name in spec.kernel.learned
    }


def _bound_kernel(spec: TrainingSpec, learned: dict[str, torch.Tensor]):
    """The spec's kernel with its learned parameters' current values, or ``None`` where it learns none."""
    if not learned:
        return None
    return spec.kernel.bound(**{name: log_value.exp() for name, log_value in learned.items()})


def _padded(rows: Sequence[np.ndarray], fill: int) -> np.ndarray:
    """Rows of different lengths as one int64 array, ``fill`` after each row's end."""
    array = np.full((len(rows), max(map(len, rows))), fill, dtype=np.int64)
    for index, row in enumerate(rows):
        array[index, : len(row)] = row
    return array


def initial_stack(
    specs: Sequence[TrainingSpec], data: TrainingData, engine: Engine
) -> StackedNetworks | NetworkStack:
    """Every spec's network initialised from its seed, exactly as it would be alone, as one stack
    of ``engine``'s kind on its device.

    The seed is set on a forked copy of torch's global generator, so the caller's random state
    is left as it was.
    """
    n_outputs = data.annotations.shape[1]
    networks = []
    for spec in specs:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(spec.seed)
            networks.append(
                Network(
                    data.frames.n_features,
                    spec.hidden_sizes,
                    n_outputs=n_outputs if spec.has_output_layer else None,
                )
            )
    return engine.stack(networks)


def _epoch_plan(
    specs: Sequence[TrainingSpec],
    data: TrainingData,
    generators: Sequence[np.random.Generator],
    device: torch.device,
) -> tuple[torch.Tensor, torch.Tensor, list[int]]:
    """One epoch's order of training files and excerpt start frames for every network.

    Each network draws its order, then its start frames, from its own generator.  The plan goes
    to the device in one piece (``(networks, files)``, file ``-1`` after a shorter network's
    last), so that no batch copies anything from the host.  Returns the files, the start
    frames and each network's number of training files.
    """
    orders = [
        rng.permutation(np.asarray(spec.train_indices)) for rng, spec in zip(generators, specs, strict=True)
    ]
    starts = [
        excerpt_starts(data.frames.lengths[order], specs[0].excerpt_length, rng)
        for order, rng in zip(orders, generators, strict=True)
    ]
    files = torch.as_tensor(_padded(orders, -1), device=device)
    first_frames = torch.as_tensor(_padded(starts, 0), device=device)
    return files, first_frames, [len(order) for order in orders]


def train_stack(
    specs: Sequence[TrainingSpec],
    data: TrainingData,
    *,
    device: str | torch.device = "cpu",
    on_epoch: Callable[[int], None] | None = None,
    resident_frames: bool | None = None,
    reference: bool = False,
) -> Iterator[list[Snapshot]]:
    """Train ``specs`` together; at each evaluation point yield one snapshot per spec, in order.

    The evaluation points are epoch 0, every ``eval_every`` epochs and the last.  Same specs,
    same data: same snapshots.

    Parameters
    ----------
    specs : sequence of TrainingSpec
        Networks whose schedules agree (see :func:`stack_groups`).
    data : TrainingData
    device : str or torch.device
        Any torch device (``'cuda'`` for a GPU).
    on_epoch : callable, optional
        Called with each finished epoch's number (progress reporting).
    resident_frames : bool, optional
        Copy every file's frames to ``device`` once and cut excerpts there (default: when
        ``device`` is not the CPU, where the memory-mapped store is cheaper).
    reference : bool
        Compute with ``nn.GRU`` networks and autograd (:class:`~simsvm.model.network.NetworkStack`)
        instead of the hand-written stacked recurrence.
    """
    if not specs:
        return
    if len({_schedule(spec) for spec in specs}) != 1:
        raise ParameterError(
            f"networks {[spec.name for spec in specs]} have different schedules; see stack_groups"
        )
    device = torch.device(device)
    first = specs[0]
    # said once by whoever planned the run (simsvm.train.jobs.train_set), not once per worker
    engine = resolve_engine(first.matmul_precision, device, reference=reference, warn=False)
    precision = engine.products
    stack = initial_stack(specs, data, engine)
    learned = [_learned_kernel_parameters(spec, device) for spec in specs]
    parameters = [*stack.parameters(), *(value for values in learned for value in values.values())]
    optimiser = torch.optim.Adadelta(parameters, lr=first.learning_rate, rho=first.rho, eps=first.eps)
    generators = [np.random.default_rng(spec.seed) for spec in specs]
    frames = frame_source(data.frames, device, resident_frames)
    kept = KeptMemory()  # the snapshots' batches and buffers, from one snapshot to the next
    annotations = torch.as_tensor(data.annotations, device=device)
    targets = torch.as_tensor(np.asarray(data.targets), device=device)
    evaluated = evaluated_epochs(first.epochs, first.eval_every)
    yield _snapshots(stack, specs, data, 0, [float("nan")] * len(specs), frames, precision, kept, learned)
    for epoch in range(1, first.epochs + 1):
        files, first_frames, counts = _epoch_plan(specs, data, generators, device)
        epoch_losses = []
        for begin in range(0, max(counts), first.batch_size):
            batch_files = files[:, begin : begin + first.batch_size]
            excerpts = frames.excerpts(
                batch_files,
                first_frames[:, begin : begin + first.batch_size],
                first.excerpt_length,
                [spec.normaliser for spec in specs],
            )
            features = stack.features(excerpts, precision=precision)
            outputs = stack.predict(features) if stack.has_output_layer else None
            rows = [min(first.batch_size, count - begin) for count in counts]  # >= 1 for every network
            losses = torch.stack(
                [
                    batch_loss(
                        spec,
                        data.task,
                        features[model, : rows[model]],
                        annotations[batch_files[model, : rows[model]]],
                        targets[batch_files[model, : rows[model]]],
                        None if outputs is None else outputs[model, : rows[model]],
                        _bound_kernel(spec, learned[model]),
                    )
                    for model, spec in enumerate(specs)
                ]
            )
            optimiser.zero_grad()
            losses.sum().backward()
            optimiser.step()
            epoch_losses.append(losses.detach())
        if on_epoch is not None:
            on_epoch(epoch)
        if epoch in evaluated:
            mean_losses = torch.stack(epoch_losses).mean(dim=0).cpu().tolist()
            yield _snapshots(stack, specs, data, epoch, mean_losses, frames, precision, kept, learned)
