"""Many independent GRU networks computed together, with a hand-written recurrence.

The networks of a run (folds x networks) share one architecture, so layer ``l`` of ``M``
networks is held as one tensor with a leading model axis and computed with ``torch.bmm``: one
call does ``M`` networks' work.  On a GPU that is what keeps the device busy (forty networks of
100 excerpts are 4,000 rows per product); on the project's CPU one network per worker process is
fastest, and the gain there comes from the recurrence itself.

The recurrence is written out by hand (:class:`_StackedGRU`, forward and backward) rather than
left to ``nn.GRU`` and autograd.  Measured on the 2-core CPU (``python -m simsvm.cli.bench``), a
training step of ``nn.GRU`` spends more time in a dozen small element-wise operations per time
step, and their autograd bookkeeping, than in its matrix products; by hand, the backward step
is a few fused operations and three products, with every buffer time-major, ``(time, models,
batch, features)``, so that one step's slice is contiguous.  The gate equations are those of
``nn.GRU`` (the reset gate multiplies ``W_hn h + b_hn``), and :meth:`StackedNetworks.from_networks`
copies :class:`~simsvm.model.network.Network` weights, so a stack starts exactly where separately built
networks start; tests compare outputs and gradients with ``nn.GRU`` and run ``gradcheck``.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import torch
from torch import nn

from simsvm.exceptions import ParameterError
from simsvm.model.network import Network

__all__ = ["StackedNetworks", "stacked_gru"]


class _StackedGRU(torch.autograd.Function):
    """One GRU layer of ``M`` models over a whole sequence, with a hand-written backward pass."""

    @staticmethod
    def forward(ctx, inputs, weight_ih, weight_hh, bias_ih, bias_hh, initial):
        steps, models, batch, _ = inputs.shape
        hidden = weight_hh.shape[1]
        # The reset and update gates add both biases; the candidate keeps b_hn inside the reset.
        bias_input = torch.cat(
            (bias_ih[:, : 2 * hidden] + bias_hh[:, : 2 * hidden], bias_ih[:, 2 * hidden :]), 1
        )
        bias_input, bias_hn = bias_input[:, None, :], bias_hh[:, None, 2 * hidden :]
        training = any(ctx.needs_input_grad)
        states = inputs.new_empty(steps + 1, models, batch, hidden)
        states[0] = initial
        projected = inputs.new_empty(models, batch, 3 * hidden)
        recurrent = inputs.new_empty(models, batch, 3 * hidden)
        gates = inputs.new_empty(models, batch, 2 * hidden)
        candidate = inputs.new_empty(models, batch, hidden)
        # Per step, what the backward pass multiplies the incoming gradient by (see there),
        # computed here while the step's values are in cache.
        factors = inputs.new_empty(steps if training else 0, models, batch, 5, hidden)
        one = inputs.new_ones(())
        # Views made once: slicing inside the loop costs about as much as the arithmetic.
        projected_gates, projected_candidate = projected[..., : 2 * hidden], projected[..., 2 * hidden :]
        recurrent_gates, recurrent_n = recurrent[..., : 2 * hidden], recurrent[..., 2 * hidden :]
        reset, update = gates[..., :hidden], gates[..., hidden:]
        input_at, state_at, factors_at = inputs.unbind(0), states.unbind(0), factors.unbind(0)
        for step in range(steps):
            torch.baddbmm(bias_input, input_at[step], weight_ih, out=projected)
            torch.bmm(state_at[step], weight_hh, out=recurrent)
            recurrent_n.add_(bias_hn)
            torch.sigmoid(projected_gates.add_(recurrent_gates), out=gates)
            torch.tanh(projected_candidate.addcmul_(reset, recurrent_n), out=candidate)
            torch.lerp(candidate, state_at[step], update, out=state_at[step + 1])
            if training:
                through_reset, through_update, through_candidate, candidate_recurrent, keep = factors_at[
                    step
                ].unbind(2)
                torch.addcmul(one, candidate, candidate, value=-1, out=through_candidate)
                through_candidate.addcmul_(through_candidate, update, value=-1)  # (1 - n^2)(1 - z)
                torch.mul(through_candidate, reset, out=candidate_recurrent)
                torch.addcmul(reset, reset, reset, value=-1, out=through_reset)  # r(1 - r)
                through_reset.mul_(recurrent_n).mul_(through_candidate)
                torch.addcmul(update, update, update, value=-1, out=through_update)  # z(1 - z)
                through_update.mul_(state_at[step] - candidate)
                keep.copy_(update)
        if training:
            ctx.save_for_backward(inputs, weight_ih, weight_hh, states, factors)
        return states[1:]

    @staticmethod
    def backward(ctx, grad_outputs):
        inputs, weight_ih, weight_hh, states, factors = ctx.saved_tensors
        steps, models, batch, _ = inputs.shape
        hidden = weight_hh.shape[1]
        grad_outputs = grad_outputs.contiguous()
        weight_ih_t, weight_hh_t = weight_ih.transpose(1, 2), weight_hh.transpose(1, 2)
        grad_inputs = torch.empty_like(inputs) if ctx.needs_input_grad[0] else None
        grad_weight_ih, grad_weight_hh = torch.zeros_like(weight_ih), torch.zeros_like(weight_hh)
        # The gradient of one step's state times its five factors gives, in this order, the
        # gradients of the pre-activations of the reset gate, the update gate, the candidate's
        # input side and its recurrent side (scaled by the reset gate), and the direct path to
        # the previous state.  Input projection: slots 0, 1, 2; recurrent products: 0, 1, 3.
        scaled = inputs.new_empty(models, batch, 5, hidden)
        grad_recurrent = inputs.new_empty(models, batch, 3, hidden)
        recurrent_slots = torch.tensor([0, 1, 3], device=inputs.device)
        summed = inputs.new_zeros(models, batch, 5, hidden)  # for the bias gradients
        carry = inputs.new_zeros(models, batch, hidden)
        grad_projected = scaled[:, :, :3].reshape(models, batch, 3 * hidden)  # a view
        flat_recurrent, direct = grad_recurrent.view(models, batch, 3 * hidden), scaled[:, :, 4]
        grad_output_at, factors_at = grad_outputs.unbind(0), factors.unbind(0)
        inputs_t_at, states_t_at = inputs.transpose(2, 3).unbind(0), states.transpose(2, 3).unbind(0)
        grad_inputs_at = grad_inputs.unbind(0) if grad_inputs is not None else None
        for step in range(steps - 1, -1, -1):
            grad_state = grad_output_at[step] + carry
            torch.mul(factors_at[step], grad_state[:, :, None, :], out=scaled)
            torch.index_select(scaled, 2, recurrent_slots, out=grad_recurrent)
            carry = torch.baddbmm(direct, flat_recurrent, weight_hh_t)
            if grad_inputs_at is not None:
                torch.bmm(grad_projected, weight_ih_t, out=grad_inputs_at[step])
            grad_weight_ih.baddbmm_(inputs_t_at[step], grad_projected)
            grad_weight_hh.baddbmm_(states_t_at[step], flat_recurrent)
            summed += scaled
        summed = summed.sum(dim=1)
        grad_bias_ih = summed[:, :3].reshape(models, 3 * hidden)
        grad_bias_hh = summed[:, [0, 1, 3]].reshape(models, 3 * hidden)
        return grad_inputs, grad_weight_ih, grad_weight_hh, grad_bias_ih, grad_bias_hh, carry


def stacked_gru(
    inputs: torch.Tensor,
    weight_ih: torch.Tensor,
    weight_hh: torch.Tensor,
    bias_ih: torch.Tensor,
    bias_hh: torch.Tensor,
    initial: torch.Tensor | None = None,
) -> torch.Tensor:
    """Outputs of one GRU layer of ``M`` models at every step.

    Parameters
    ----------
    inputs : torch.Tensor, shape (time, M, batch, n_inputs)
    weight_ih : torch.Tensor, shape (M, n_inputs, 3 * hidden)
        Input weights, transposed relative to ``nn.GRU.weight_ih_l0``; gates in the order
        reset, update, new.
    weight_hh : torch.Tensor, shape (M, hidden, 3 * hidden)
    bias_ih, bias_hh : torch.Tensor, shape (M, 3 * hidden)
    initial : torch.Tensor, shape (M, batch, hidden), optional
        State before the first step (zeros by default); carrying it over lets a long sequence
        be read in pieces with the same result.

    Returns
    -------
    torch.Tensor, shape (time, M, batch, hidden)
    """
    _, models, batch, _ = inputs.shape
    if initial is None:
        initial = inputs.new_zeros(models, batch, weight_hh.shape[1])
    return _StackedGRU.apply(inputs, weight_ih, weight_hh, bias_ih, bias_hh, initial)


class StackedNetworks(nn.Module):
    """``M`` networks of the :class:`~simsvm.model.network.Network` architecture as one module.

    Parameters
    ----------
    n_models : int
    n_inputs : int
        Values per input frame.
    hidden_sizes : sequence of int
        Units per GRU layer, first to last.
    n_outputs : int, optional
        Width of the output layer, for stacks that hold baseline networks.  Every model gets
        one; a model trained with the similarity loss never uses (nor changes) its own.

    Build one with :meth:`from_networks`, which copies the weights of separately initialised
    networks; the layer parameters are ``weight_ih_<l>`` ``(M, inputs, 3 hidden)``,
    ``weight_hh_<l>`` ``(M, hidden, 3 hidden)``, ``bias_ih_<l>``, ``bias_hh_<l>`` ``(M, 3 hidden)``.
    """

    def __init__(
        self, n_models: int, n_inputs: int, hidden_sizes: Sequence[int], n_outputs: int | None = None
    ):
        super().__init__()
        if n_models < 1:
            raise ParameterError(f"a stack needs at least one model, got {n_models}")
        self.n_models, self.hidden_sizes = n_models, tuple(hidden_sizes)
        sizes = [n_inputs, *hidden_sizes]
        for layer, (inputs, units) in enumerate(itertools.pairwise(sizes)):
            self.register_parameter(
                f"weight_ih_{layer}", nn.Parameter(torch.zeros(n_models, inputs, 3 * units))
            )
            self.register_parameter(
                f"weight_hh_{layer}", nn.Parameter(torch.zeros(n_models, units, 3 * units))
            )
            self.register_parameter(f"bias_ih_{layer}", nn.Parameter(torch.zeros(n_models, 3 * units)))
            self.register_parameter(f"bias_hh_{layer}", nn.Parameter(torch.zeros(n_models, 3 * units)))
        self.head_weight = self.head_bias = None
        if n_outputs is not None:
            self.head_weight = nn.Parameter(torch.zeros(n_models, sizes[-1], n_outputs))
            self.head_bias = nn.Parameter(torch.zeros(n_models, n_outputs))

    @classmethod
    def from_networks(cls, networks: Sequence[Network]) -> StackedNetworks:
        """A stack holding copies of ``networks``' weights (all of one architecture)."""
        first = networks[0]
        hidden_sizes = tuple(layer.hidden_size for layer in first.layers)
        n_outputs = next((net.head.out_features for net in networks if net.head is not None), None)
        stack = cls(len(networks), first.layers[0].input_size, hidden_sizes, n_outputs)
        with torch.no_grad():
            for model, network in enumerate(networks):
                if tuple(layer.hidden_size for layer in network.layers) != hidden_sizes:
                    raise ParameterError("networks of one stack must share their hidden sizes")
                for layer, gru in enumerate(network.layers):
                    stack.layer(layer)[0][model] = gru.weight_ih_l0.T
                    stack.layer(layer)[1][model] = gru.weight_hh_l0.T
                    stack.layer(layer)[2][model] = gru.bias_ih_l0
                    stack.layer(layer)[3][model] = gru.bias_hh_l0
                if network.head is not None:
                    stack.head_weight[model] = network.head.weight.T
                    stack.head_bias[model] = network.head.bias
        return stack

    def layer(self, index: int) -> tuple[nn.Parameter, nn.Parameter, nn.Parameter, nn.Parameter]:
        """``(weight_ih, weight_hh, bias_ih, bias_hh)`` of layer ``index``."""
        return tuple(
            getattr(self, f"{name}_{index}") for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
        )

    def network(self, model: int) -> Network:
        """Model ``model`` of the stack as a separate :class:`~simsvm.model.network.Network` (a copy)."""
        n_outputs = None if self.head_weight is None else self.head_weight.shape[2]
        network = Network(self.weight_ih_0.shape[1], self.hidden_sizes, n_outputs=n_outputs)
        with torch.no_grad():
            for layer, gru in enumerate(network.layers):
                weight_ih, weight_hh, bias_ih, bias_hh = self.layer(layer)
                gru.weight_ih_l0.copy_(weight_ih[model].T)
                gru.weight_hh_l0.copy_(weight_hh[model].T)
                gru.bias_ih_l0.copy_(bias_ih[model])
                gru.bias_hh_l0.copy_(bias_hh[model])
            if network.head is not None:
                network.head.weight.copy_(self.head_weight[model].T)
                network.head.bias.copy_(self.head_bias[model])
        return network.to(self.weight_ih_0.device)

    def features(
        self,
        frames: torch.Tensor,
        lengths: torch.Tensor | None = None,
        *,
        models: Sequence[int] | None = None,
        chunk: int | None = None,
    ) -> torch.Tensor:
        """Time-averaged outputs of the last layer of every model (eq. 4).

        Parameters
        ----------
        frames : torch.Tensor, shape (time, M, batch, n_inputs) or (time, batch, n_inputs)
            Time-major frames, one batch per model, or one batch that every model reads.
        lengths : torch.Tensor of int, shape (batch,), optional
            Valid frames per row of zero-padded rows (forward GRUs: the masked mean is exact).
        models : sequence of int, optional
            Compute only these models of the stack (default: all).
        chunk : int, optional
            Read the sequence ``chunk`` frames at a time, carrying the states over: the same
            result with memory bounded by the chunk, for whole-file inference without gradients.

        Returns
        -------
        torch.Tensor, shape (len(models), batch, hidden_sizes[-1])
        """
        layers = [self.layer(index) for index in range(len(self.hidden_sizes))]
        if models is not None:
            picked = torch.as_tensor(list(models), device=frames.device)
            layers = [tuple(parameter.index_select(0, picked) for parameter in layer) for layer in layers]
        n_models = layers[0][0].shape[0]
        steps, batch = frames.shape[0], frames.shape[-2]
        if frames.dim() == 3:
            frames = frames[:, None].expand(steps, n_models, batch, frames.shape[-1])
        chunk = chunk or steps
        states = [frames.new_zeros(n_models, batch, layer[1].shape[1]) for layer in layers]
        total = frames.new_zeros(n_models, batch, self.hidden_sizes[-1])
        for begin in range(0, steps, chunk):
            outputs = frames[begin : begin + chunk]
            for index, layer in enumerate(layers):
                outputs = stacked_gru(outputs, *layer, states[index])
                states[index] = outputs[-1]
            if lengths is not None:
                valid = (
                    torch.arange(begin, begin + outputs.shape[0], device=frames.device)[:, None]
                    < lengths[None, :]
                )
                outputs = outputs * valid[:, None, :, None].to(outputs.dtype)
            total = total + outputs.sum(dim=0)
        if lengths is None:
            return total / steps
        return total / lengths[None, :, None].to(total.dtype)

    @property
    def has_output_layer(self) -> bool:
        return self.head_weight is not None

    def output_layer(self, model: int, features: torch.Tensor) -> torch.Tensor:
        """Model ``model``'s output layer on ``features`` ``(batch, hidden)``: ``(batch, n_outputs)``."""
        return features @ self.head_weight[model] + self.head_bias[model]

    def predict(self, features: torch.Tensor) -> torch.Tensor:
        """Output layers applied to features ``(M, batch, hidden)``: ``(M, batch, n_outputs)``."""
        if self.head_weight is None:
            raise RuntimeError("this stack has no output layers (it holds similarity-loss networks only)")
        return torch.baddbmm(self.head_bias[:, None, :], features, self.head_weight)
