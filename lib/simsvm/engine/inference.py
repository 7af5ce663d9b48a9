"""Whole sequences through a stack of GRU layers, one chunk of steps at a time.

Snapshots read every file whole, a few hundred files and a few dozen frames at a time
(:meth:`~simsvm.engine.stacked.StackedNetworks.features`); all they keep of the last layer is
each row's sum of states over its valid frames.  :func:`read_chunk` is that chunk's work (and,
with gradients, a training batch's, whole).  Without gradients, where a ``bf16`` run's loops are
compiled and the batch has at least
:data:`~simsvm.engine.recurrence.LOW_RECURRENT_ROWS` rows, a step of a layer is one bfloat16
product of ``[input, state]`` by the layer's two weights joined (nothing is projected ahead of
the loop, so a chunk's products stay in the cache), the layer keeps one float32 state per row and
writes each step's state only in bfloat16, model-major, as the next layer and its own next step
read it; the last layer adds its states to the sum as it goes, so no layer keeps the float32
states of past steps.  Elsewhere each layer is :func:`~simsvm.engine.recurrence.stacked_gru` and
the sum is taken afterwards.  The two round differently where they meet: the joined product
rounds the sum of a gate's two sides to bfloat16 once, the other each side (features differ by
about a third of their distance to float32's, and are as far from it).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from simsvm.engine.fused import fused_gru_ops
from simsvm.engine.recurrence import (
    LOW_RECURRENT_ROWS,
    _bias_input,
    _needs_gradients,
    gru_loop,
    loop_threads,
    stacked_gru,
)
from simsvm.model.reading import KeptMemory, sum_over_steps

__all__ = ["read_chunk"]

Layer = tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]


def read_chunk(
    inputs: torch.Tensor,
    layers: Sequence[Layer],
    states: Sequence[torch.Tensor],
    total: torch.Tensor,
    valid_steps: torch.Tensor | None = None,
    *,
    precision: str = "fp32",
    kept: KeptMemory | None = None,
) -> None:
    """Read one chunk of steps through every layer; update ``states`` and ``total`` in place.

    Parameters
    ----------
    inputs : torch.Tensor, shape (time, M, batch, n_inputs)
        The chunk's frames, time-major, float32 or (a ``bf16`` snapshot's) bfloat16.
    layers : sequence of (weight_ih, weight_hh, bias_ih, bias_hh)
        Each layer's parameters as :func:`~simsvm.engine.recurrence.stacked_gru` takes them.
    states : sequence of torch.Tensor, shape (M, batch, hidden of the layer)
        Each layer's state before the chunk's first step (float32, contiguous); replaced by its
        state after the last step, so that the next chunk carries on from there.
    total : torch.Tensor, shape (M, batch, hidden of the last layer)
        Receives the sum of the last layer's states over each row's valid steps.
    valid_steps : torch.Tensor of int64, shape (batch,), optional
        Steps of this chunk within each row's sequence (0 to ``time``; default: all): padding
        after a row's end is read (a forward GRU's earlier states do not depend on it) but not
        summed.
    precision : {'fp32', 'bf16', 'tf32'}
        How the products compute (:func:`~simsvm.engine.recurrence.product_precision`).
    kept : KeptMemory, optional
        Where the compiled path keeps its buffers for the next chunk (default: new ones).
    """
    steps, models, batch, _ = inputs.shape
    compiled = (
        precision == "bf16"
        and not _needs_gradients([inputs, *(parameter for layer in layers for parameter in layer)])
        and models * batch >= LOW_RECURRENT_ROWS
        and gru_loop(precision, inputs.device) == "compiled"
    )
    if compiled:
        _read_compiled(inputs, layers, states, total, valid_steps, KeptMemory() if kept is None else kept)
        return
    outputs = inputs.float()  # exact; the products round to bfloat16 again where they compute so
    for state, layer in zip(states, layers, strict=True):
        outputs = stacked_gru(outputs, *layer, state, precision=precision)
        state.copy_(outputs[-1])
    if valid_steps is not None:
        valid = torch.arange(steps, device=inputs.device)[:, None] < valid_steps[None, :]
        outputs = outputs * valid[:, None, :, None].to(outputs.dtype)  # exact: times 1 or 0
    if _needs_gradients([outputs]):
        total += outputs.sum(dim=0)  # a training batch: its loss mixes its rows anyway
    else:
        total += sum_over_steps(outputs)  # the same order for every row


def _read_compiled(inputs, layers, states, total, valid_steps, kept) -> None:
    operations = fused_gru_ops()
    steps, models, batch, _ = inputs.shape
    layer_inputs = inputs.transpose(0, 1)  # (M, time, batch, n_inputs): the op takes any strides
    if layer_inputs.dtype != torch.bfloat16:
        layer_inputs = kept.take("inputs", layer_inputs.shape, dtype=torch.bfloat16, device=inputs.device)
        layer_inputs.copy_(inputs.transpose(0, 1))
    no_total = total.new_empty(0)
    if valid_steps is None:
        valid_steps = torch.full((batch,), steps, dtype=torch.int64)
    for index, (state, layer) in enumerate(zip(states, layers, strict=True)):
        weight_ih, weight_hh, bias_ih, bias_hh = layer
        hidden = weight_hh.shape[1]
        outputs = kept.take(
            f"outputs {index}", (models, steps, batch, hidden), dtype=torch.bfloat16, device=inputs.device
        )
        last = index == len(layers) - 1
        with loop_threads(models * batch * 3 * hidden):
            operations.infer(
                layer_inputs,
                _joined_weight(weight_ih, weight_hh),
                _bias_input(bias_ih, bias_hh),
                bias_hh[:, 2 * hidden :].contiguous(),
                state,
                outputs,
                total if last else no_total,
                valid_steps.to(torch.int64).contiguous(),
            )
        layer_inputs = outputs


def _joined_weight(weight_ih: torch.Tensor, weight_hh: torch.Tensor) -> torch.Tensor:
    """``(M, n_inputs + hidden, 4 hidden)`` in bfloat16: ``[input, state]`` times it gives the reset
    and update gates' sums, then the candidate's input side and its recurrent side apart (the
    reset gate multiplies only the latter)."""
    models, n_inputs, three_hidden = weight_ih.shape
    hidden = three_hidden // 3
    joined = weight_ih.new_zeros(models, n_inputs + hidden, 4 * hidden, dtype=torch.bfloat16)
    joined[:, :n_inputs, : 3 * hidden] = weight_ih
    joined[:, n_inputs:, : 2 * hidden] = weight_hh[..., : 2 * hidden]
    joined[:, n_inputs:, 3 * hidden :] = weight_hh[..., 2 * hidden :]
    return joined
