"""The feature-extracting GRU network (paper eqs. 3-4) and the baseline's output layer."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import torch
from torch import nn

__all__ = ["Network"]


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
        """
        outputs = frames
        for layer in self.layers:
            outputs, _ = layer(outputs)
        if lengths is None:
            return outputs.mean(dim=1)
        steps = torch.arange(outputs.shape[1], device=outputs.device)
        mask = (steps[None, :] < lengths[:, None]).to(outputs.dtype)
        return (outputs * mask[:, :, None]).sum(dim=1) / lengths[:, None].to(outputs.dtype)

    def predict(self, features: torch.Tensor) -> torch.Tensor:
        """The baseline's dense output layer applied to features (logits or regression values)."""
        if self.head is None:
            raise RuntimeError("this network has no output layer (it was built for the similarity loss)")
        return self.head(features)
