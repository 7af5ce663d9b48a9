"""The feature-extracting GRU network (paper eqs. 3-4) and the baseline's output layer, on ``nn.GRU``.

:class:`Network` is the paper's network as anyone would write it with ``nn.GRU``;
:class:`NetworkStack` holds several of them behind the interface of
:class:`~simsvm.engine.stacked.StackedNetworks`, so that the one training loop can run either: the
hand-written stack for speed, or these for reference (autograd's backward, nothing by hand).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import torch
from torch import nn

from simsvm.exceptions import ParameterError
from simsvm.model.reading import KeptMemory, read_in_blocks, sum_over_steps

__all__ = ["Network", "NetworkStack"]


class Network(nn.Module):
    """Stacked GRUs whose last layer's outputs, averaged over time, are the learned features.

    Parameters
    ----------
    n_inputs : int
        Values per input frame (80: 40 mel bins and their differences).
    hidden_sizes : sequence of int
        Units per GRU layer, first to last; the paper's (100, 50) give 50 features.
    n_outputs : int, optional
        Width of the dense output layer of the baseline (NN/FL) network; ``None`` for a
        network trained with the similarity loss, which has no output layer.
    """

    def __init__(self, n_inputs: int, hidden_sizes: Sequence[int] = (100, 50), n_outputs: int | None = None):
        super().__init__()
        sizes = [n_inputs, *hidden_sizes]
        self.layers = nn.ModuleList(
            nn.GRU(inputs, units, batch_first=True) for inputs, units in itertools.pairwise(sizes)
        )
        self.head = nn.Linear(sizes[-1], n_outputs) if n_outputs is not None else None

    @property
    def n_features(self) -> int:
        return self.layers[-1].hidden_size

    def features(self, frames: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """Time-averaged outputs of the last GRU layer (eq. 4).

        Parameters
        ----------
        frames : torch.Tensor, shape (batch, time, n_inputs)
        lengths : torch.Tensor of int, shape (batch,), optional
            Valid frames per row when rows are zero-padded to a common length.  The GRUs run
            forwards only, so outputs before a row's end do not depend on its padding and a
            masked mean is exact.

        Returns
        -------
        torch.Tensor, shape (batch, hidden_sizes[-1])

        Without gradients the sum over time takes one fixed order for every row
        (:func:`~simsvm.model.reading.sum_over_steps`), so that a row's features do not
        depend on its place in the batch; with gradients it is ``sum``, as training always had.
        """
        outputs = frames
        for layer in self.layers:
            outputs, _ = layer(outputs)
        training = torch.is_grad_enabled() and outputs.requires_grad
        if lengths is None:
            if training:
                return outputs.mean(dim=1)
            return sum_over_steps(outputs.transpose(0, 1)) / outputs.shape[1]
        steps = torch.arange(outputs.shape[1], device=outputs.device)
        mask = (steps[None, :] < lengths[:, None]).to(outputs.dtype)
        masked = outputs * mask[:, :, None]
        if training:
            total = masked.sum(dim=1)
        else:
            total = sum_over_steps(masked.transpose(0, 1))
        return total / lengths[:, None].to(outputs.dtype)

    def predict(self, features: torch.Tensor) -> torch.Tensor:
        """The baseline's dense output layer applied to features (logits or regression values)."""
        if self.head is None:
            raise RuntimeError("this network has no output layer (it was built for the similarity loss)")
        return self.head(features)


class NetworkStack(nn.Module):
    """``M`` independent :class:`Network` s behind the interface of :class:`~.stacked.StackedNetworks`.

    Each network computes on its own with ``nn.GRU``; nothing is shared or fused.  This is the
    reference the stacked recurrence is measured and tested against: the training loop, given
    this stack instead, trains each network the way the plain ``nn.GRU`` loop would.
    """

    def __init__(self, networks: Sequence[Network]):
        super().__init__()
        self.networks = nn.ModuleList(networks)
        self.n_models = len(self.networks)
        self.hidden_sizes = tuple(layer.hidden_size for layer in self.networks[0].layers)
        heads = [network.head for network in self.networks if network.head is not None]
        self._n_outputs = heads[0].out_features if heads else None

    @classmethod
    def from_networks(cls, networks: Sequence[Network]) -> NetworkStack:
        """A stack of ``networks`` themselves (not copies)."""
        return cls(networks)

    @property
    def has_output_layer(self) -> bool:
        return self._n_outputs is not None

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
        """As :meth:`StackedNetworks.features <simsvm.engine.stacked.StackedNetworks.features>`.

        ``frames`` are time-major, ``(time, M, batch, n_inputs)`` or ``(time, batch, n_inputs)``;
        ``chunk`` and ``kept`` are accepted for the common interface and ignored (``nn.GRU`` reads
        the whole sequence into memory of its own); ``precision`` must be ``'fp32'``: this is the
        float32 reference; ``rows``: blocks of exactly that many rows, as there (``nn.GRU``'s
        products then have one shape whatever the batch).  Returns
        ``(len(models), batch, hidden_sizes[-1])``.
        """
        if precision != "fp32":
            raise ParameterError(f"the nn.GRU reference computes in float32 only, not {precision!r}")
        if rows is not None and frames.shape[-2] != rows:
            return read_in_blocks(
                lambda block, block_lengths: self.features(block, block_lengths, models=models, rows=rows),
                frames,
                lengths,
                rows,
            )
        models = range(self.n_models) if models is None else models
        features = []
        for position, model in enumerate(models):
            batch = frames if frames.dim() == 3 else frames[:, position]
            features.append(self.networks[model].features(batch.transpose(0, 1), lengths))
        return torch.stack(features)

    def predict(self, features: torch.Tensor) -> torch.Tensor:
        """Each model's output layer on its features ``(M, batch, hidden)``: ``(M, batch, n_outputs)``.

        A model without an output layer (trained with the similarity loss) gives zeros, which no
        loss reads.
        """
        if not self.has_output_layer:
            raise RuntimeError("this stack has no output layers (it holds similarity-loss networks only)")
        return torch.stack([self.output_layer(model, values) for model, values in enumerate(features)])

    def output_layer(self, model: int, features: torch.Tensor) -> torch.Tensor:
        """Model ``model``'s output layer on ``features`` ``(batch, hidden)``."""
        head = self.networks[model].head
        if head is None:
            return features.new_zeros(features.shape[0], self._n_outputs)
        return head(features)
