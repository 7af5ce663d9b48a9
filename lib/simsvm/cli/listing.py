"""What ``simsvm list`` prints: the datasets, approaches, kernels and parameter keys a run can name.

Everything comes from the declarations the code itself checks parameters against (the dataset
registry, the approaches, kernels and losses, the parameter dataclass), so the listing cannot
fall behind them.
"""

from __future__ import annotations

import shutil
import textwrap

from simsvm.data.datasets import REGISTRY, dataset_labels, dataset_options, dataset_task
from simsvm.experiment.approaches import APPROACHES
from simsvm.experiment.reference import parameter_reference
from simsvm.model.kernels import KERNELS
from simsvm.model.losses import LOSSES

__all__ = ["LIST_SECTIONS", "listing"]

LIST_SECTIONS = ("datasets", "approaches", "kernels", "keys")


def listing(sections: tuple[str, ...] = LIST_SECTIONS) -> str:
    """The named ``sections`` of :data:`LIST_SECTIONS` as plain text, each under its heading."""
    unknown = [s for s in sections if s not in LIST_SECTIONS]
    if unknown:
        raise ValueError(f"unknown section(s) {unknown}; choose from {LIST_SECTIONS}")
    parts = {"datasets": _datasets, "approaches": _approaches, "kernels": _kernels, "keys": _keys}
    return "\n\n".join(parts[section]() for section in sections)


def _datasets() -> str:
    lines = ["datasets (the dataset key; dataset_options as listed):"]
    for key, module in REGISTRY.items():
        task = dataset_task(key, {}) if hasattr(module, "TASK") else "classification or regression"
        summary = (module.__doc__ or "").strip().splitlines()[0].rstrip(".")
        lines += _wrapped(f"{key:<14} {task}: {summary}", indent=2, hanging=17)
        labels = dataset_labels(key)
        if labels:
            kind = "targets" if task == "regression" else "classes"
            lines += _wrapped(f"{kind} ({len(labels)}): " + ", ".join(labels), indent=17)
        options = dataset_options(key)
        lines += _wrapped("options: " + (", ".join(options) if options else "none"), indent=17)
    return "\n".join(lines)


def _approaches() -> str:
    lines = ["approaches (* runs by default; the network each trains, none for fixed features):"]
    for name, approach in APPROACHES.items():
        network = approach.network.key if approach.network else "none"
        tasks = "" if len(approach.tasks) > 1 else f" ({approach.tasks[0]} only)"
        head = f" {'*' if approach.default else ' '}{name:<10} {network:<9} "
        lines += _wrapped(head + approach.summary + tasks, indent=0, hanging=len(head))
    return "\n".join(lines)


def _kernels() -> str:
    lines = ["kernels (svm_kernel, and the similarity-type losses: one implementation for both):"]
    for name, kernel in KERNELS.items():
        keys = ", ".join(f"{name}_{p.name}" for p in kernel.parameters) or "no parameters"
        lines += _wrapped(f"{name:<10} {kernel.title}; keys: {keys}", indent=2, hanging=13)
    lines.append("losses (what each approach's network is trained with):")
    for name, loss in LOSSES.items():
        keys = "".join(f"; key {name}_{p.name}" for p in loss.parameters)
        lines += _wrapped(f"{name:<14} {loss.title} ({loss.source}){keys}", indent=2, hanging=17)
    return "\n".join(lines)


def _keys() -> str:
    docs = parameter_reference()
    width = max(len(d.key) for d in docs)
    defaults = max(len(d.default_text()) for d in docs if len(d.default_text()) <= 20)
    lines = ["parameter keys (key, default, meaning; * marks keys that do not change a run's numbers):"]
    for doc in docs:
        mark = " " if doc.scientific else "*"
        default = doc.default_text()
        head = f" {mark}{doc.key:<{width}}  {default:<{defaults}}  "
        text = doc.meaning + (f" [{doc.type}; {doc.allowed}]" if doc.allowed else f" [{doc.type}]")
        if len(head) > width + defaults + 6:  # a long default: the meaning goes on the next line
            lines.append(head.rstrip())
            lines += _wrapped(text, indent=width + defaults + 6)
        else:
            wrapped = _wrapped(text, indent=len(head))
            lines += [head + wrapped[0].lstrip(), *wrapped[1:]]
    return "\n".join(lines)


def _wrapped(text: str, *, indent: int, hanging: int | None = None) -> list[str]:
    """``text`` wrapped to the terminal, its first line indented ``indent``, the others ``hanging``."""
    width = max(shutil.get_terminal_size((100, 24)).columns, indent + 40)
    later = " " * (indent if hanging is None else hanging)
    return textwrap.wrap(text, width=width, initial_indent=" " * indent, subsequent_indent=later)
