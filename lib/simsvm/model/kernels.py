"""Kernels of the similarity loss and of the SVM: one declaration each, one implementation for both.

The paper's point is that the network learns the similarity the SVM will use.  Keeping both in
one class makes that literal: the loss evaluates ``kernel(F, F)`` on torch tensors during
training and the SVM is fitted on the precomputed ``kernel(F_train, F_train)`` of the very same
object (:func:`gram_matrix`, used by :mod:`simsvm.experiment.scoring`).

A kernel is a subclass of :class:`Kernel` with a ``name``, its :class:`Parameter` list and a
``gram`` method; defining the class registers it in :data:`KERNELS`, and from there the
configuration (``svm_kernel``, ``<name>_<parameter>`` keys), ``svm_tuning``, the documentation and
the kernel widget take it.  ``gram`` uses tensor methods only, so this module imports no torch.

Every ``gram`` takes ``x`` of shape ``(n, d)`` and ``y`` of shape ``(m, d)`` and returns the
``(n, m)`` Gram matrix, differentiably.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from simsvm.exceptions import ParameterError
from simsvm.model.parameters import LEARN, Parameter

__all__ = [
    "KERNELS",
    "Cosine",
    "Kernel",
    "Laplacian",
    "Polynomial",
    "Rbf",
    "gram_matrix",
    "make_kernel",
    "width_parameter",
]

# Every kernel by name, in the order of the documentation and the widget: filled by Kernel subclasses.
KERNELS: dict[str, type[Kernel]] = {}


class Kernel:
    """A kernel with its hyper-parameters bound; picklable, so it can travel to worker processes.

    Subclasses set ``name`` (the key in parameter files), ``title`` (as printed), ``formula``
    (for the documentation), ``parameters`` and implement :meth:`gram`.

    Parameters
    ----------
    **values
        A value per parameter (defaults: each :class:`Parameter`'s ``default``); a learnable one
        may be ``'learn'``, for the training loop to bind a trained value (:meth:`bound`).
    """

    name: ClassVar[str]
    title: ClassVar[str]
    formula: ClassVar[str]
    parameters: ClassVar[tuple[Parameter, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.name in KERNELS:
            raise ImportError(f"kernel {cls.name!r} is declared twice")
        KERNELS[cls.name] = cls

    def __init__(self, **values: Any) -> None:
        known = {parameter.name: parameter for parameter in self.parameters}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ParameterError(
                f"{self.name} kernel: unknown parameter(s) {unknown}; it takes {sorted(known)}"
            )
        self.values = {
            name: parameter.check(values.get(name, parameter.default), key=f"{self.name} {name}")
            for name, parameter in known.items()
        }

    @property
    def learned(self) -> tuple[str, ...]:
        """The parameters set to ``'learn'``: trained with the network."""
        return tuple(name for name, value in self.values.items() if isinstance(value, str) and value == LEARN)

    def bound(self, **values: Any) -> Kernel:
        """The same kernel with some values replaced, unchecked: a trained tensor, a grid's value."""
        kernel = object.__new__(type(self))
        kernel.values = {**self.values, **values}
        return kernel

    def started(self) -> Kernel:
        """The kernel a learned one starts from: each learned parameter at its default."""
        defaults = {p.name: p.default for p in self.parameters if p.name in self.learned}
        return self.bound(**defaults) if defaults else self

    def __call__(self, x, y):
        if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1]:
            raise ParameterError(
                f"kernels take matrices (n, d) and (m, d); got {tuple(x.shape)} and {tuple(y.shape)}"
            )
        if self.learned:
            raise ParameterError(f"{self.name} kernel: {list(self.learned)} are learned; bind their values")
        return self.gram(x, y, **self.values)

    def gram(self, x, y, **values: Any):
        raise NotImplementedError

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.values == self.values

    def __hash__(self) -> int:
        return hash((self.name, tuple(sorted(self.values.items()))))

    def __repr__(self) -> str:
        values = ", ".join(f"{name}={value!r}" for name, value in self.values.items())
        return f"{type(self).__name__}({values})"


def width_parameter(help: str, default: float = 0.5) -> Parameter:
    """A kernel's width ``gamma``: positive, searched by ``svm_tuning``, learnable, on a log slider."""
    return Parameter(
        "gamma",
        default,
        help,
        minimum=0,
        open_minimum=True,
        tunable=True,
        learnable=True,
        symbol="γ",
        widget_range=(1e-3, 10.0),
        log_scale=True,
    )


def _differences(x, y):
    return x.unsqueeze(1) - y.unsqueeze(0)


class Rbf(Kernel):
    """Gaussian kernel.

    The squared distance is taken from explicit differences rather than the
    ``|x|^2 + |y|^2 - 2 x.y`` expansion: batches here are small (~100 x 50) and the expansion
    cancels catastrophically for near-identical rows, which gives noisy gradients around the diagonal.
    """

    name = "rbf"
    title = "RBF"
    formula = r"k(x, y) = \exp(-\gamma \lVert x - y \rVert_2^2)"
    parameters = (width_parameter("the RBF kernel's width gamma (1 / squared feature units)"),)

    def gram(self, x, y, *, gamma):
        return (-gamma * _differences(x, y).pow(2).sum(dim=-1)).exp()


class Cosine(Kernel):
    """Cosine similarity; a zero vector (norm below 1e-12) has similarity 0 to everything."""

    name = "cosine"
    title = "cosine"
    formula = r"k(x, y) = \frac{x^\top y}{\lVert x \rVert \, \lVert y \rVert}"

    def gram(self, x, y):
        x_norm = x.norm(dim=1, keepdim=True).clamp_min(1e-12)
        y_norm = y.norm(dim=1, keepdim=True).clamp_min(1e-12)
        return (x / x_norm) @ (y / y_norm).T


class Polynomial(Kernel):
    """Polynomial kernel (the paper's p = 2, b = 0)."""

    name = "poly"
    title = "polynomial"
    formula = r"k(x, y) = (x^\top y + b)^p"
    parameters = (
        Parameter(
            "degree",
            2,
            "the polynomial kernel's degree p",
            minimum=1,
            integer=True,
            symbol="p",
            widget_range=(1, 5),
        ),
        Parameter(
            "offset",
            0.0,
            "the polynomial kernel's offset b",
            minimum=0,
            symbol="b",
            widget_range=(0.0, 5.0),
        ),
    )

    def gram(self, x, y, *, degree, offset):
        return (x @ y.T + offset).pow(int(degree))


class Laplacian(Kernel):
    """Laplacian kernel: the RBF's shape on the L1 distance, with a sharper peak at zero."""

    name = "laplacian"
    title = "Laplacian"
    formula = r"k(x, y) = \exp(-\gamma \lVert x - y \rVert_1)"
    parameters = (width_parameter("the Laplacian kernel's width gamma (1 / feature units)"),)

    def gram(self, x, y, *, gamma):
        return (-gamma * _differences(x, y).abs().sum(dim=-1)).exp()


def make_kernel(name: str, **values: Any) -> Kernel:
    """The kernel ``name`` with ``values`` bound; :class:`ParameterError` for an unknown name or value."""
    if name not in KERNELS:
        raise ParameterError(f"unknown kernel {name!r}; choose one of {list(KERNELS)}")
    return KERNELS[name](**values)


def gram_matrix(kernel: Kernel, x: np.ndarray, y: np.ndarray | None = None) -> np.ndarray:
    """Evaluate ``kernel`` on NumPy arrays in float64, for the SVM's precomputed kernel.

    Parameters
    ----------
    x : np.ndarray, shape (n, d)
    y : np.ndarray, shape (m, d), optional
        Defaults to ``x``.

    Returns
    -------
    np.ndarray, shape (n, m)
    """
    import torch  # deferred: reading a parameter file imports this module

    # Copies: torch allocates them aligned, so MKL takes the same path whatever numpy's alignment.
    x_t = torch.tensor(np.asarray(x, dtype=np.float64))
    y_t = x_t if y is None else torch.tensor(np.asarray(y, dtype=np.float64))
    with torch.no_grad():
        return kernel(x_t, y_t).numpy()
