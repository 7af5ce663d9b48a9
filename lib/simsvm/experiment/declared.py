"""The configuration keys that kernels and losses declare, and the values a run binds from them.

Every :class:`~simsvm.model.parameters.Parameter` of a kernel of
:data:`~simsvm.model.kernels.KERNELS` is a key ``<kernel>_<parameter>`` (``rbf_gamma``,
``poly_degree``): the value of the similarity loss's kernel, and of the SVM's where
``svm_tuning`` cannot search it.  A tunable one is also ``svm_<parameter>`` (``svm_gamma``):
the SVM's value for every kernel that has it.  A loss's parameter is ``<loss>_<parameter>``
(``similarity_norm``, ``supcon_temperature``).  Declaring a kernel or a loss is thus all it
takes for parameter files, ``--set``, the notebooks and the documentation to know its keys.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from simsvm.model.kernels import KERNELS, Kernel, make_kernel
from simsvm.model.losses import LOSSES, Loss
from simsvm.model.parameters import Parameter

__all__ = [
    "DECLARED_KEYS",
    "DeclaredKey",
    "bound_loss_kernel",
    "bound_svm_kernel",
    "declared_fields",
    "loss_values",
]


@dataclass(frozen=True)
class DeclaredKey:
    """A configuration key that a kernel or a loss declares."""

    key: str
    parameter: Parameter
    help: str
    hint: Any


def _declared_keys() -> dict[str, DeclaredKey]:
    keys: dict[str, DeclaredKey] = {}
    for kernel in KERNELS.values():
        for parameter in kernel.parameters:
            hint = (float | str) if parameter.learnable else parameter.python_type
            learn = f" ({parameter.name}: learn trains it with the network)" if parameter.learnable else ""
            keys[f"{kernel.name}_{parameter.name}"] = DeclaredKey(
                f"{kernel.name}_{parameter.name}", parameter, f"{parameter.help}, in the loss{learn}", hint
            )
    for loss in LOSSES.values():
        for parameter in loss.parameters:
            keys[f"{loss.name}_{parameter.name}"] = DeclaredKey(
                f"{loss.name}_{parameter.name}", parameter, parameter.help, parameter.python_type
            )
    for name in dict.fromkeys(p.name for k in KERNELS.values() for p in k.parameters if p.tunable):
        having = [k for k in KERNELS.values() for p in k.parameters if p.tunable and p.name == name]
        parameter = dataclasses.replace(
            next(p for p in having[0].parameters if p.name == name), learnable=False
        )
        kernels = " and ".join(k.name for k in having)
        keys[f"svm_{name}"] = DeclaredKey(
            f"svm_{name}",
            parameter,
            f"the SVM / SVR's {name} with the {kernels} kernel (svm_tuning may choose it; "
            f"Stats' takes 1 over its number of features)",
            parameter.python_type,
        )
    return keys


# Every declared key, kernels' first, then losses', then the SVM's.
DECLARED_KEYS: dict[str, DeclaredKey] = _declared_keys()


def declared_fields() -> list[tuple[str, Any, dataclasses.Field]]:
    """The declared keys as dataclass fields (for :class:`~simsvm.experiment.config.ExperimentConfig`)."""
    return [
        (item.key, item.hint, dataclasses.field(default=item.parameter.default, metadata={"help": item.help}))
        for item in DECLARED_KEYS.values()
    ]


def bound_loss_kernel(config: Any, name: str) -> Kernel:
    """The kernel ``name`` of a similarity-type loss, with the run's ``<kernel>_<parameter>`` values."""
    kernel = KERNELS[name]
    return make_kernel(name, **{p.name: getattr(config, f"{name}_{p.name}") for p in kernel.parameters})


def bound_svm_kernel(config: Any, **fixed: Any) -> Kernel:
    """The SVM's kernel: ``svm_<parameter>`` where tunable, else the loss side's value; ``fixed`` wins."""
    kernel = KERNELS[config.svm_kernel]
    values = {
        p.name: getattr(config, f"svm_{p.name}" if p.tunable else f"{kernel.name}_{p.name}")
        for p in kernel.parameters
    }
    return make_kernel(kernel.name, **{**values, **{k: v for k, v in fixed.items() if k in values}})


def loss_values(config: Any, loss: Loss) -> dict[str, Any]:
    """The run's values of ``loss``'s own parameters, by parameter name."""
    return {p.name: getattr(config, f"{loss.name}_{p.name}") for p in loss.parameters}
