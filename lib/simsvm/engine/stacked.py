"""Many independent GRU networks computed together, with a hand-written recurrence.

The networks of a run (folds x networks) share one architecture, so layer ``l`` of ``M``
networks is held as one tensor with a leading model axis and computed with ``torch.bmm``: one
call does ``M`` networks' work.  On a GPU that is what keeps the device busy (forty networks of
100 excerpts are 4,000 rows per product); on the project's CPU one network per worker process is
fastest, and the gain there comes from the recurrence itself
(:func:`~simsvm.engine.recurrence.stacked_gru`).  :meth:`StackedNetworks.from_networks` copies
:class:`~simsvm.model.network.Network` weights, so a stack starts exactly where separately built
networks start.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import torch
from torch import nn

from simsvm.engine.inference import read_chunk
from simsvm.exceptions import ParameterError
from simsvm.model.network import Network
from simsvm.model.reading import KeptMemory, read_in_blocks

__all__ = ["StackedNetworks"]


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
        precision: str = "fp32",
        kept: KeptMemory | None = None,
        rows: int | None = None,
    ) -> torch.Tensor:
        """Time-averaged outputs of the last layer of every model (eq. 4).

        Parameters
        ----------
        frames : torch.Tensor, shape (time, M, batch, n_inputs) or (time, batch, n_inputs)
            Time-major frames, one batch per model, or one batch that every model reads; float32,
            or bfloat16 for a ``bf16`` snapshot (what its products read, without a cast).
        lengths : torch.Tensor of int, shape (batch,), optional
            Valid frames per row of zero-padded rows (forward GRUs: the masked mean is exact).
        models : sequence of int, optional
            Compute only these models of the stack (default: all).
        chunk : int, optional
            Read the sequence ``chunk`` frames at a time, carrying the states over: the same
            result with memory bounded by the chunk, for whole-file inference without gradients.
        precision : {'fp32', 'bf16', 'tf32'}
            How the products compute (:func:`~simsvm.engine.recurrence.product_precision`).
        kept : KeptMemory, optional
            Memory the chunks' buffers are kept in, for later calls too (default: this call's).
        rows : int, optional
            Compute the batch in blocks of exactly ``rows`` rows, zero rows added to the last
            (:func:`~simsvm.model.reading.read_in_blocks`).  Without gradients, a row's
            features are then bit for bit the same whatever other rows share its batch and
            wherever it sits (``tests/test_position.py``); with ``rows`` of at least
            :data:`~simsvm.engine.recurrence.LOW_RECURRENT_ROWS`, a ``bf16`` batch always takes
            the compiled path.  Default: the batch as it is (training).

        Returns
        -------
        torch.Tensor, shape (len(models), batch, hidden_sizes[-1])
        """
        if rows is not None and frames.shape[-2] != rows:
            return read_in_blocks(
                lambda block, block_lengths: self.features(
                    block,
                    block_lengths,
                    models=models,
                    chunk=chunk,
                    precision=precision,
                    kept=kept,
                    rows=rows,
                ),
                frames,
                lengths,
                rows,
            )
        kept = KeptMemory() if kept is None else kept
        layers = [self.layer(index) for index in range(len(self.hidden_sizes))]
        if models is not None:
            picked = torch.as_tensor(list(models), device=frames.device)
            layers = [tuple(parameter.index_select(0, picked) for parameter in layer) for layer in layers]
        n_models = layers[0][0].shape[0]
        steps, batch = frames.shape[0], frames.shape[-2]
        if frames.dim() == 3:
            frames = frames[:, None].expand(steps, n_models, batch, frames.shape[-1])
        chunk = chunk or steps
        dtype = torch.float32 if frames.dtype == torch.bfloat16 else frames.dtype  # the states' type
        states = [frames.new_zeros(n_models, batch, layer[1].shape[1], dtype=dtype) for layer in layers]
        total = frames.new_zeros(n_models, batch, self.hidden_sizes[-1], dtype=dtype)
        # rows sorted by length have padding in the last chunks only (one host sync to know)
        shortest = steps if lengths is None else int(lengths.min())
        for begin in range(0, steps, chunk):
            inputs = frames[begin : begin + chunk]
            valid_steps = None
            if begin + inputs.shape[0] > shortest:
                valid_steps = (lengths - begin).clamp(0, inputs.shape[0])
            read_chunk(inputs, layers, states, total, valid_steps, precision=precision, kept=kept)
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
