"""Every parameter key, its type, default, allowed values and meaning, read from the dataclass.

:class:`~simsvm.experiment.config.ExperimentConfig` is where each key is declared and explained
(its field's ``metadata["help"]``); this module only reads that declaration, so ``simsvm list``
and the documentation's parameter page can never disagree with what a parameter file accepts.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass
from typing import Any, Union

import yaml

from simsvm.experiment.config import EXECUTION_KEYS, ExperimentConfig, allowed_values

__all__ = ["ParameterDoc", "parameter_reference"]


@dataclass(frozen=True)
class ParameterDoc:
    """One key of a parameter file.

    Parameters
    ----------
    key : str
        The key, as written in YAML, ``--set`` and the notebook's parameters.
    type : str
        Its type in words: ``'int'``, ``'float or null'``, ``'list of int'``, ``'mapping'``.
    default : object
        Its default value; ``None`` for a required key (then ``required`` is true) or a null default.
    required : bool
        Whether every parameter file must give it.
    allowed : str
        The values it may take (a range or the choices), or ``''`` where its type says all.
    scientific : bool
        Whether it changes a run's numbers; execution keys (where data lies, how a run is
        computed) do not, and a resumed run may change them.
    meaning : str
        What it does, in one line of plain text.
    """

    key: str
    type: str
    default: Any
    required: bool
    allowed: str
    scientific: bool
    meaning: str

    def default_text(self) -> str:
        """The default as a parameter file writes it (``'null'``, ``'[100, 50]'``); ``'required'``."""
        if self.required:
            return "required"
        return _yaml_text(self.default)


def parameter_reference() -> list[ParameterDoc]:
    """Every key of :class:`~simsvm.experiment.config.ExperimentConfig`, in the order of its ``keys()``."""
    hints = typing.get_type_hints(ExperimentConfig)
    docs = []
    by_key = {item.name: item for item in dataclasses.fields(ExperimentConfig)}
    for item in (by_key[key] for key in ExperimentConfig.keys()):
        required = item.default is dataclasses.MISSING and item.default_factory is dataclasses.MISSING
        if required:
            default = None
        elif item.default_factory is not dataclasses.MISSING:
            default = item.default_factory()
        else:
            default = item.default
        docs.append(
            ParameterDoc(
                key=item.name,
                type=_readable(hints[item.name]),
                default=default,
                required=required,
                allowed=allowed_values(item.name),
                scientific=item.name not in EXECUTION_KEYS,
                meaning=item.metadata.get("help", ""),
            )
        )
    return docs


def _yaml_text(value: Any) -> str:
    """``value`` in YAML's flow style, floats as Python writes them (``1e-06``, not ``1.0e-06``)."""
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_yaml_text(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key}: {_yaml_text(item)}" for key, item in value.items()) + "}"
    return yaml.safe_dump(value, default_flow_style=True).removesuffix("\n...\n").strip()


def _readable(hint: Any) -> str:
    origin = typing.get_origin(hint)
    if origin in (Union, types.UnionType):
        inner = [_readable(a) for a in typing.get_args(hint) if a is not type(None)]
        return " or ".join(inner) + (" or null" if type(None) in typing.get_args(hint) else "")
    if origin is list:
        return f"list of {_readable(typing.get_args(hint)[0])}"
    if origin is dict:
        return "mapping"
    return getattr(hint, "__name__", str(hint))
