"""The grid ``svm_tuning`` chooses the SVM's C and gamma from, parsed and checked.

Apart from :mod:`simsvm.experiment.scoring` so that reading a parameter file imports neither
scikit-learn nor PyTorch; the scoring module re-exports :class:`SvmGrid`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from simsvm.exceptions import ParameterError
from simsvm.model.kernels import KERNELS

__all__ = ["SvmGrid", "tunable_parameters"]

# The results table records the searched value in one column, svm_gamma; a kernel whose tunable
# parameter has another name needs a column of its own there (simsvm.experiment.results).
_RECORDED = ("gamma",)
for _kernel in KERNELS.values():
    for _parameter in _kernel.parameters:
        if _parameter.tunable and _parameter.name not in _RECORDED:
            raise ImportError(
                f"{_kernel.name}: tunable {_parameter.name!r} has no column in the results table"
            )


def tunable_parameters(kernel: str) -> tuple[str, ...]:
    """The parameters of ``kernel`` that ``svm_tuning`` searches (``('gamma',)`` for the RBF)."""
    return tuple(p.name for p in KERNELS[kernel].parameters if p.tunable)


@dataclass(frozen=True)
class SvmGrid:
    """The values an inner cross-validation chooses C and gamma from (``svm_tuning`` in a config).

    Parameters
    ----------
    C : tuple of float
        Soft-margin penalties to try.
    gamma : tuple of float, optional
        Widths to try, for a kernel with a tunable gamma (RBF, Laplacian; ``None`` for the others).
    folds : int
        Inner folds over the training part of each outer fold.
    """

    C: tuple[float, ...]
    gamma: tuple[float, ...] | None = None
    folds: int = 3

    @classmethod
    def from_dict(cls, values: dict[str, Any], *, kernel: str) -> SvmGrid:
        """Check ``svm_tuning``'s mapping (keys ``C``, ``gamma``, ``folds``) for the SVM's ``kernel``."""
        known = {"C", "gamma", "folds"}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ParameterError(f"svm_tuning: unknown key(s) {unknown}; it takes {sorted(known)}")
        if "C" not in values:
            raise ParameterError("svm_tuning: needs a list C of soft-margin penalties to choose from")
        tunable = tunable_parameters(kernel)
        if "gamma" in tunable and "gamma" not in values:
            raise ParameterError(f"svm_tuning: the {kernel} SVM needs a list gamma of widths to choose from")
        if "gamma" not in tunable and "gamma" in values:
            having = [name for name in KERNELS if "gamma" in tunable_parameters(name)]
            svms = f"{' and '.join(having)} SVM{'s' if len(having) > 1 else ''}"
            raise ParameterError(f"svm_tuning: gamma applies to the {svms} only; svm_kernel is {kernel!r}")
        folds = values.get("folds", 3)
        if isinstance(folds, bool) or not isinstance(folds, int) or folds < 2:
            raise ParameterError(f"svm_tuning.folds: must be an integer >= 2, got {folds!r}")
        return cls(
            C=_positive_values("C", values["C"]),
            gamma=_positive_values("gamma", values["gamma"]) if "gamma" in values else None,
            folds=folds,
        )

    def to_dict(self) -> dict[str, Any]:
        """The canonical mapping (what ``parameters.yaml`` records)."""
        values: dict[str, Any] = {"C": list(self.C)}
        if self.gamma is not None:
            values["gamma"] = list(self.gamma)
        values["folds"] = self.folds
        return values


def _positive_values(key: str, values: Any) -> tuple[float, ...]:
    if not isinstance(values, (list, tuple)) or not values:
        raise ParameterError(f"svm_tuning.{key}: expected a non-empty list of numbers, got {values!r}")
    for value in values:
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not (math.isfinite(value) and value > 0)
        ):
            raise ParameterError(f"svm_tuning.{key}: values must be positive numbers, got {value!r}")
    return tuple(float(value) for value in values)
