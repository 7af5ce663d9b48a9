"""A parameter file's values: the numeric keys' ranges, checks against type hints, YAML errors."""

from __future__ import annotations

import types
import typing
from typing import Any, Union

import yaml

from simsvm.exceptions import ParameterError

__all__ = ["RANGES", "coerce", "yaml_problem"]

# Numeric keys and the values they may take (None, where the type allows it, is always allowed).
RANGES = {
    # numpy's SeedSequence and scikit-learn's random_state take 0 <= seed < 2**32
    "seed": (lambda v: 0 <= v < 2**32, "between 0 and 2**32 - 1"),
    "folds": (lambda v: v >= 1, ">= 1"),
    "splits": (lambda v: v >= 1, ">= 1"),
    "test_share": (lambda v: 0 < v < 1, "between 0 and 1 (exclusive)"),
    "sample_rate": (lambda v: v >= 1, ">= 1 (Hz)"),
    "n_fft": (lambda v: v >= 1, ">= 1 (samples)"),
    "hop_length": (lambda v: v >= 1, ">= 1 (samples)"),
    "n_mels": (lambda v: v >= 1, ">= 1"),
    "epochs": (lambda v: v >= 1, ">= 1"),
    "eval_every": (lambda v: v >= 1, ">= 1"),
    "excerpt_length": (lambda v: v >= 1, ">= 1 (frames)"),
    "batch_size": (lambda v: v >= 2, ">= 2 (the similarity loss compares pairs)"),
    "learning_rate": (lambda v: v > 0, "> 0"),
    "rho": (lambda v: 0 <= v < 1, "in [0, 1)"),
    "eps": (lambda v: v > 0, "> 0"),
    "svm_c": (lambda v: v > 0, "> 0"),
    "workers": (lambda v: v >= 1, ">= 1 or null"),
    "threads_per_worker": (lambda v: v >= 1, ">= 1"),
    "stack_size": (lambda v: v >= 1, ">= 1 or null"),
}


def yaml_problem(error: yaml.YAMLError) -> str:
    """A YAML parser error in one line: what is wrong and where."""
    problem = getattr(error, "problem", None) or type(error).__name__
    mark = getattr(error, "problem_mark", None)
    return f"{problem}, line {mark.line + 1} column {mark.column + 1}" if mark is not None else problem


def coerce(key: str, value: Any, hint: Any) -> Any:
    """Check ``value`` against ``hint``; widen int to float and accept '1e-6'-style floats."""
    origin = typing.get_origin(hint)
    if origin in (Union, types.UnionType):
        if value is None and type(None) in typing.get_args(hint):
            return None
        (inner,) = [a for a in typing.get_args(hint) if a is not type(None)]
        return coerce(key, value, inner)
    if origin is dict:
        if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
            raise ParameterError(f"{key}: expected a mapping of names to values, got {value!r}")
        return dict(value)
    if origin is list:
        if not isinstance(value, (list, tuple)):
            raise ParameterError(f"{key}: expected a list, got {value!r}")
        (inner,) = typing.get_args(hint)
        return [coerce(f"{key}[{i}]", item, inner) for i, item in enumerate(value)]
    if hint is float:
        if isinstance(value, str):  # YAML 1.1 reads 1e-6 (no dot) as a string
            try:
                return float(value)
            except ValueError:
                pass
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif hint is Any or isinstance(value, hint):
        return value
    raise ParameterError(f"{key}: expected {hint.__name__}, got {value!r} ({type(value).__name__})")
