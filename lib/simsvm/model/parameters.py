"""Hyper-parameters that kernels and losses declare: value, range, and how a user sets them.

A kernel or a loss lists its :class:`Parameter` values once; the configuration's keys
(``rbf_gamma``, ``supcon_temperature``), their checks and help, the inner search of
``svm_tuning`` and the kernel widget's sliders are all read from that list.  No torch here:
reading a parameter file stays fast.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from simsvm.exceptions import ParameterError

__all__ = ["LEARN", "Parameter"]

# The value that makes a learnable parameter a trained one (``rbf_gamma: learn``).
LEARN = "learn"


@dataclass(frozen=True)
class Parameter:
    """One hyper-parameter of a kernel or a loss.

    Parameters
    ----------
    name : str
        Its name in formulas and keyword arguments (``'gamma'``).
    default : float or int or str
        The value when a parameter file does not set it (the paper's, where it has one).
    help : str
        What it is, in the words of the parameter reference.
    minimum, maximum : float, optional
        Bounds of the allowed values; ``open_minimum`` excludes the minimum itself.
    integer : bool
        Whole numbers only (a polynomial's degree).
    choices : tuple of str, optional
        A fixed set of words instead of a number.
    tunable : bool
        ``svm_tuning`` may search it for the SVM, and ``svm_<name>`` sets the SVM's value.
    learnable : bool
        ``learn`` makes it a parameter the network trains (log-parametrised; it must be positive).
    symbol : str
        How the widget labels it (``'γ'``).
    widget_range : (float, float), optional
        The slider's ends; on a log scale for ``log_scale``.
    log_scale : bool
    """

    name: str
    default: float | int | str
    help: str
    minimum: float | None = None
    maximum: float | None = None
    open_minimum: bool = False
    integer: bool = False
    choices: tuple[str, ...] | None = None
    tunable: bool = False
    learnable: bool = False
    symbol: str = ""
    widget_range: tuple[float, float] | None = None
    log_scale: bool = False

    @property
    def python_type(self) -> type:
        if self.choices is not None:
            return str
        return int if self.integer else float

    def rule(self) -> str:
        """The allowed values in words (the parameter reference's column)."""
        if self.choices is not None:
            return ", ".join(self.choices)
        parts = []
        if self.minimum is not None:
            parts.append(f"{'>' if self.open_minimum else '>='} {self.minimum:g}")
        if self.maximum is not None:
            parts.append(f"<= {self.maximum:g}")
        rule = " and ".join(parts) or "any number"
        if self.integer:
            rule = f"an integer {rule}"
        return f"{rule}, or {LEARN}" if self.learnable else rule

    def check(self, value: Any, *, key: str) -> Any:
        """``value`` as this parameter's type, or a :class:`ParameterError` naming ``key``."""
        if self.learnable and value == LEARN:
            return LEARN
        if self.choices is not None:
            if value not in self.choices:
                raise ParameterError(f"{key}: {value!r} is not one of {list(self.choices)}")
            return value
        if isinstance(value, str) and not self.integer:
            try:  # YAML 1.1 reads 1e-6 (no dot) as a string
                value = float(value)
            except ValueError:
                pass
        numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
        if not numeric or (self.integer and int(value) != value):
            expected = "an integer" if self.integer else "a number"
            raise ParameterError(f"{key}: expected {expected}{self._or_learn()}, got {value!r}")
        value = int(value) if self.integer else float(value)
        low_ok = self.minimum is None or (
            value > self.minimum if self.open_minimum else value >= self.minimum
        )
        high_ok = self.maximum is None or value <= self.maximum
        if not (math.isfinite(value) and low_ok and high_ok):
            raise ParameterError(f"{key}: must be {self.rule()}, got {value!r}")
        return value

    def _or_learn(self) -> str:
        return f" or {LEARN!r}" if self.learnable else ""
