"""Whole sequences through a stack of GRU layers, one chunk of steps at a time.

Snapshots read every file whole, a few hundred files and a few dozen frames at a time
(:meth:`~simsvm.model.stacked.StackedNetworks.features`); all they keep of the last layer is
each row's sum of states over its valid frames.  :func:`read_chunk` is that chunk's work (and,
with gradients, a training batch's, whole).  Without gradients, where a ``bf16`` run's loops are
compiled and the batch has at least
:data:`~simsvm.model.recurrence.LOW_RECURRENT_ROWS` rows, a layer keeps one float32 state per
row and writes each step's state only in bfloat16, model-major, as the next layer's input
projection and its own next recurrent product read it; the last layer adds its states to the
sum as it goes, so no layer keeps the float32 states of past steps.  Elsewhere each layer is
:func:`~simsvm.model.recurrence.stacked_gru` and the sum is taken afterwards: the same products
(the bfloat16 recurrent one included), the same results up to the order of the float32 sums.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from simsvm.model.fused import fused_gru_ops
from simsvm.model.recurrence import (
    LOW_RECURRENT_ROWS,
    _bias_input,
    _model_major,
    _needs_gradients,
    gru_loop,
    stacked_gru,
)

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
) -> None:
    """Read one chunk of steps through every layer; update ``states`` and ``total`` in place.

    Parameters
    ----------
    inputs : torch.Tensor, shape (time, M, batch, n_inputs)
        The chunk's frames, time-major, float32.
    layers : sequence of (weight_ih, weight_hh, bias_ih, bias_hh)
        Each layer's parameters as :func:`~simsvm.model.recurrence.stacked_gru` takes them.
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
        How the products compute (:func:`~simsvm.model.recurrence.product_precision`).
    """
    steps, models, batch, _ = inputs.shape
    compiled = (
        precision == "bf16"
        and not _needs_gradients([inputs, *(parameter for layer in layers for parameter in layer)])
        and models * batch >= LOW_RECURRENT_ROWS
        and gru_loop(precision, inputs.device) == "compiled"
    )
    if compiled:
        _read_compiled(inputs, layers, states, total, valid_steps)
        return
    outputs = inputs
    for state, layer in zip(states, layers, strict=True):
        outputs = stacked_gru(outputs, *layer, state, precision=precision)
        state.copy_(outputs[-1])
    if valid_steps is not None:
        valid = torch.arange(steps, device=inputs.device)[:, None] < valid_steps[None, :]
        outputs = outputs * valid[:, None, :, None].to(outputs.dtype)
    total += outputs.sum(dim=0)


def _read_compiled(inputs, layers, states, total, valid_steps) -> None:
    operations = fused_gru_ops()
    steps, models, batch, _ = inputs.shape
    layer_inputs = _model_major(inputs, torch.bfloat16)  # (M, time * batch, n_inputs)
    no_total = total.new_empty(0)
    if valid_steps is None:
        valid_steps = torch.full((batch,), steps, dtype=torch.int64)
    for index, (state, layer) in enumerate(zip(states, layers, strict=True)):
        weight_ih, weight_hh, bias_ih, bias_hh = layer
        hidden = weight_hh.shape[1]
        projected = torch.bmm(layer_inputs, weight_ih.to(torch.bfloat16))
        outputs = inputs.new_empty(models, steps, batch, hidden, dtype=torch.bfloat16)
        last = index == len(layers) - 1
        operations.infer(
            projected.view(models, steps, batch, 3 * hidden),
            _bias_input(bias_ih, bias_hh),
            weight_hh.contiguous(),
            bias_hh[:, 2 * hidden :].contiguous(),
            state,
            outputs,
            total if last else no_total,
            valid_steps.to(torch.int64).contiguous(),
        )
        layer_inputs = outputs.view(models, steps * batch, hidden)
