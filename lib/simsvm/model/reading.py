"""Reading whole files through a network: buffers kept between snapshots, sums over time, blocks.

Shared by the plain network (:mod:`simsvm.model.network`) and the engine
(:mod:`simsvm.engine`), so that both read a file the same way: its features do not depend on
the files read with it, nor on its row (``tests/test_position.py``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

__all__ = ["KeptMemory", "read_in_blocks", "sum_over_steps"]


class KeptMemory:
    """Tensors kept by name for the next request of the same name, replaced when too small.

    A snapshot fills the same large buffers batch after batch and chunk after chunk.  Freed,
    they go back to the kernel (glibc returns blocks of more than a few MB, and the top of its
    heap past its trim threshold), and the next allocation is faulted in and zeroed again 4 KB
    at a time: a ``bf16`` snapshot of 1000 files x 1200 frames took ~310,000 page faults in its
    chunks' buffers alone, a quarter of its time on the project's Xeon (and sometimes 10,000:
    it depended on where earlier blocks had fallen).  Kept, they are faulted in once per job.
    """

    def __init__(self) -> None:
        self._tensors: dict[str, torch.Tensor] = {}

    def take(
        self, name: str, shape: Sequence[int], *, dtype: torch.dtype, device: torch.device
    ) -> torch.Tensor:
        """An uninitialised, contiguous ``shape`` tensor; the last one taken as ``name`` is now invalid.

        Its memory starts where the kept tensor's does (allocated by torch: aligned for the
        products' kernels, whose last bits depend on their operands' alignment).
        """
        size = math.prod(shape)
        kept = self._tensors.get(name)
        if kept is None or kept.numel() < size or kept.dtype != dtype or kept.device != torch.device(device):
            self._tensors.pop(name, None)  # the old one goes before the new one comes
            kept = self._tensors[name] = torch.empty(size, dtype=dtype, device=device)
        return kept[:size].view(*shape)


def sum_over_steps(values: torch.Tensor) -> torch.Tensor:
    """``values`` ``(time, *shape)`` summed over time in one fixed order for every element: ``(*shape)``.

    ``values.sum(dim=0)`` is not: PyTorch's reduction groups the elements of its vectorised
    body otherwise than those of its scalar tail, so a row's features depended on its row by a
    few 1e-8 (the ``M x batch x hidden`` sums lie in one flat run; of 8 files x 50 features,
    the last 16 of the last file fell in the tail), and an SVM told identical files apart by
    them.  Here every element takes the same tree of element-wise additions (each
    correctly rounded, in vectorised and scalar code alike): a pairwise sum, the step ``i``
    and ``i + half`` added, then halves of what is left, over the time padded with zeros to a
    power of two.  Zeros add exactly, so the result does not depend on how far the padding
    goes either (a chunk cut short by the batch's longest file), and a pairwise sum is as
    accurate as ``sum``'s (error ``log2(time)`` roundings, not ``time``).
    """
    steps = values.shape[0]
    if steps == 0:
        return values.new_zeros(values.shape[1:])
    while steps > 1:
        half = 1 << ((steps - 1).bit_length() - 1)  # steps padded to the power of two 2 * half
        head = values[:half].clone()
        head[: steps - half] += values[half:steps]  # the rest adds padding: zeros, exactly
        values, steps = head, half
    return values[0]


def read_in_blocks(
    features_of, frames: torch.Tensor, lengths: torch.Tensor | None, rows: int
) -> torch.Tensor:
    """``features_of`` on blocks of exactly ``rows`` rows of a batch, zero rows added to the last.

    A product's kernel, and so the last bits of a row's result, can depend on how many rows it
    multiplies (MKL's sgemm takes a one-row product as a matrix-vector product), and the
    compiled ``bf16`` path needs :data:`~simsvm.engine.recurrence.LOW_RECURRENT_ROWS`: a batch
    computed in blocks of one size gives a row the same arithmetic whatever shares its batch.

    Parameters
    ----------
    features_of : callable
        ``features_of(frames, lengths)`` on a block: ``(M, rows, hidden)``.
    frames : torch.Tensor, shape (time, M, batch, n_inputs) or (time, batch, n_inputs)
    lengths : torch.Tensor of int, shape (batch,), optional
        Valid frames per row; an added row is zeros read whole.
    rows : int

    Returns
    -------
    torch.Tensor, shape (M, batch, hidden)
    """
    steps, batch = frames.shape[0], frames.shape[-2]
    features = []
    for begin in range(0, batch, rows):
        block = frames.narrow(-2, begin, min(rows, batch - begin))
        block_lengths = None if lengths is None else lengths[begin : begin + rows]
        if block.shape[-2] < rows:
            padded = block.new_zeros(*block.shape[:-2], rows, block.shape[-1])
            padded.narrow(-2, 0, block.shape[-2]).copy_(block)
            block = padded
            if block_lengths is not None:
                block_lengths = torch.cat(
                    (block_lengths, block_lengths.new_full((rows - len(block_lengths),), steps))
                )
        features.append(features_of(block, block_lengths))
    return torch.cat(features, dim=1)[:, :batch]
