"""The one interface a run has to the engine: how its networks are computed, decided once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from simsvm.engine.recurrence import gru_loop, product_precision
from simsvm.engine.stacked import StackedNetworks
from simsvm.model.network import Network, NetworkStack

__all__ = ["Engine", "resolve_engine"]


@dataclass(frozen=True)
class Engine:
    """How a run's networks are computed.

    Attributes
    ----------
    device : torch.device
    matmul_precision : {'fp32', 'bf16'}
        What the run asked for.
    products : {'fp32', 'bf16', 'tf32'}
        What that came to on ``device`` (a CPU without native bfloat16 computes fp32).
    loop : {'compiled', 'pytorch'}
        Where the GRU's time loops run: ``fused_gru.cpp``, built for this CPU, or PyTorch.
    reference : bool
        ``nn.GRU`` networks and autograd (:class:`~simsvm.model.network.NetworkStack`), the
        measure of the engine, instead of :class:`~simsvm.engine.stacked.StackedNetworks`.
    """

    device: torch.device
    matmul_precision: str
    products: str
    loop: str
    reference: bool = False

    def stack(self, networks: Sequence[Network]) -> StackedNetworks | NetworkStack:
        """``networks``, each initialised as alone, as one stack on the engine's device."""
        return (NetworkStack if self.reference else StackedNetworks).from_networks(networks).to(self.device)


def resolve_engine(
    matmul_precision: str, device: str | torch.device, *, reference: bool = False, warn: bool = True
) -> Engine:
    """The engine of a run: the products checked (a bf16 fallback said once, if ``warn``) and the
    compiled loops built, here rather than inside the first training step."""
    device = torch.device(device)
    products = product_precision(matmul_precision, device, warn=warn)
    return Engine(device, matmul_precision, products, gru_loop(products, device), reference)
