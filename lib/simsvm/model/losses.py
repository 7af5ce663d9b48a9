"""Training objectives, one declaration each: the paper's similarity loss, its rivals, the baselines.

A loss is a function registered with :func:`register_loss`, which says what it reads (the
features, or the baseline network's output layer), which targets it needs, the tasks it applies
to, whether it compares kernel matrices, and its own hyper-parameters (configuration keys
``<loss>_<parameter>``).  The training loop, the configuration and the documentation read
:data:`LOSSES`.  No torch import at module level: reading a parameter file stays fast.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from simsvm.exceptions import ParameterError
from simsvm.model.kernels import Kernel
from simsvm.model.parameters import Parameter

__all__ = [
    "LOSSES",
    "Loss",
    "baseline_loss",
    "cka_loss",
    "one_hot",
    "register_loss",
    "similarity_loss",
    "supervised_contrastive_loss",
]


@dataclass(frozen=True)
class Loss:
    """A training objective as the rest of the suite sees it.

    Attributes
    ----------
    name : str
        Its key (``'similarity'``).
    title : str
        How the documentation names it.
    reads : {'features', 'outputs'}
        The 50 time-averaged features, or the baseline network's dense output layer (which the
        network then has).
    targets : {'annotations', 'labels'}
        ``A`` (one-hot classes or regression values, ``target_scale`` applied), or the labels
        themselves (class indices, or regression values).
    tasks : tuple of str
        The tasks it is defined for; another is refused when the run is planned.
    uses_kernel : bool
        It compares kernel matrices, under the approach's kernel.
    parameters : tuple of Parameter
        Its own hyper-parameters; the configuration key of ``p`` is ``<name>_<p.name>``.
    equation, source : str
        For the documentation: the formula (LaTeX) and where it comes from.
    function : callable
        ``function(values, targets, *, kernel, task, **parameters)`` to a scalar tensor, summed
        over the batch.
    """

    name: str
    title: str
    reads: str
    targets: str
    tasks: tuple[str, ...]
    uses_kernel: bool
    parameters: tuple[Parameter, ...]
    equation: str
    source: str
    function: Callable[..., Any]

    def __call__(self, values, targets, *, kernel: Kernel | None, task: str, **parameters: Any):
        """The loss of one batch; ``parameters`` are its own (and ``target_kernel``, see
        :func:`similarity_loss`)."""
        if task not in self.tasks:
            raise ParameterError(f"the {self.name} loss is for {' and '.join(self.tasks)} only, not {task}")
        return self.function(values, targets, kernel=kernel, task=task, **parameters)


# Every loss by name, in the order of the documentation.
LOSSES: dict[str, Loss] = {}


def register_loss(
    *,
    name: str,
    title: str,
    reads: str,
    targets: str,
    tasks: tuple[str, ...],
    uses_kernel: bool,
    equation: str,
    source: str,
    parameters: tuple[Parameter, ...] = (),
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare the decorated function as the loss ``name`` (see :class:`Loss` for the fields)."""

    def declare(function: Callable[..., Any]) -> Callable[..., Any]:
        if name in LOSSES:
            raise ImportError(f"loss {name!r} is declared twice")
        LOSSES[name] = Loss(
            name, title, reads, targets, tasks, uses_kernel, parameters, equation, source, function
        )
        return function

    return declare


def _same_batch(values, targets) -> None:
    if values.shape[0] != targets.shape[0]:
        raise ParameterError(
            f"values and targets differ in batch size: {values.shape[0]} vs {targets.shape[0]}"
        )


@register_loss(
    name="similarity",
    title="similarity loss",
    reads="features",
    targets="annotations",
    tasks=("classification", "regression"),
    uses_kernel=True,
    equation=r"L = \lVert K(F, F) - K(A, A) \rVert_F^2",
    source="Jakubik & Kwaśnicka (2018), eq. 7",
    parameters=(
        Parameter(
            "norm",
            "squared",
            "the similarity loss as the square of the Frobenius norm of K(F,F) - K(A,A) (squared), "
            "or as eq. 7's plain norm (frobenius)",
            choices=("squared", "frobenius"),
        ),
    ),
)
def similarity_loss(
    features, annotations, kernel: Kernel, *, norm: str = "squared", task: str = "", target_kernel=None
):
    """Frobenius distance between the kernel matrices of features and annotations, squared by default.

    ``L = ||K(F, F) - K(A, A)||_F^2`` over the whole batch: the network is pulled towards features
    whose pairwise similarities, under the SVM's kernel, are those of the labels.  Eq. 7 writes
    the plain norm (``norm='frobenius'``); its square has the same minimisers and, within a
    batch, the same gradient direction, and is smooth where the two matrices agree.

    Parameters
    ----------
    features : torch.Tensor, shape (batch, d)
        Time-averaged network outputs ``F``.
    annotations : torch.Tensor, shape (batch, k)
        One-hot classes or raw regression targets ``A``; no gradient flows into them.
    kernel : Kernel
    norm : {'squared', 'frobenius'}
    target_kernel : Kernel, optional
        The kernel of ``K(A, A)`` where it differs from ``K(F, F)``'s: with a learned width, the
        annotations' kernel keeps the width the feature kernel started from.
    """
    if norm not in ("squared", "frobenius"):
        raise ParameterError(f"unknown similarity norm {norm!r}; choose one of ['squared', 'frobenius']")
    _same_batch(features, annotations)
    target_gram = (target_kernel or kernel)(annotations, annotations).detach()
    squared = (kernel(features, features) - target_gram).pow(2).sum()
    if norm == "squared":
        return squared
    # sqrt's derivative is infinite at 0; where the matrices agree exactly the gradient is 0 instead
    return squared.where(squared > 0, squared.new_ones(())).sqrt() * (squared > 0)


def _centred(gram):
    """``H K H`` with ``H = I - 11ᵀ/n``: the Gram matrix of the features minus their mean."""
    return gram - gram.mean(dim=0, keepdim=True) - gram.mean(dim=1, keepdim=True) + gram.mean()


@register_loss(
    name="cka",
    title="centred kernel alignment",
    reads="features",
    targets="annotations",
    tasks=("classification", "regression"),
    uses_kernel=True,
    equation=r"L = 1 - \frac{\langle H K_F H, H K_A H \rangle_F}"
    r"{\lVert H K_F H \rVert_F \, \lVert H K_A H \rVert_F},"
    r"\quad H = I - \tfrac{1}{n} \mathbf{1}\mathbf{1}^\top",
    source="Cortes, Mohri & Rostamizadeh (2012); Kornblith et al. (2019)",
)
def cka_loss(features, annotations, kernel: Kernel, *, task: str = "", target_kernel=None):
    """One minus the centred kernel alignment of ``K(F, F)`` and ``K(A, A)``.

    Unlike the similarity loss it ignores the kernels' scale and their mean: only the shape of
    the centred similarities counts.  It is 0 exactly when the centred matrices are positively
    proportional; a batch whose centred feature kernel vanishes (all features equal) has loss 1.

    Parameters
    ----------
    features : torch.Tensor, shape (batch, d)
    annotations : torch.Tensor, shape (batch, k)
    kernel, target_kernel : Kernel
        As for :func:`similarity_loss`.
    """
    _same_batch(features, annotations)
    feature_gram = _centred(kernel(features, features))
    target_gram = _centred((target_kernel or kernel)(annotations, annotations).detach())
    alignment = (feature_gram * target_gram).sum()
    scale = (feature_gram.norm() * target_gram.norm()).clamp_min(1e-30)
    return 1 - alignment / scale


@register_loss(
    name="supcon",
    title="supervised contrastive loss",
    reads="features",
    targets="labels",
    tasks=("classification",),
    uses_kernel=False,
    equation=r"L = \sum_i \frac{-1}{|P(i)|} \sum_{p \in P(i)} \log \frac{\exp(z_i^\top z_p / \tau)}"
    r"{\sum_{a \ne i} \exp(z_i^\top z_a / \tau)}, \quad z = f / \lVert f \rVert",
    source="Khosla et al. (2020), eq. 2 (L_out)",
    parameters=(
        Parameter(
            "temperature",
            0.1,
            "the supervised contrastive loss's temperature tau",
            minimum=0,
            open_minimum=True,
        ),
    ),
)
def supervised_contrastive_loss(features, labels, kernel=None, *, temperature: float = 0.1, task: str = ""):
    """Supervised contrastive loss on the unit-normalised features, summed over the anchors.

    For each file ``i`` (the anchor) the files of its class ``P(i)`` are positives and every other
    file of the batch is in the denominator; an anchor alone in its class has no positive and
    adds nothing.

    Parameters
    ----------
    features : torch.Tensor, shape (batch, d)
    labels : torch.Tensor, shape (batch,)
        Class indices.
    temperature : float
    """
    _same_batch(features, labels)
    unit = features / features.norm(dim=1, keepdim=True).clamp_min(1e-12)
    logits = unit @ unit.T / temperature
    itself = logits.new_ones(logits.shape[0]).diag().bool()
    log_probability = logits - logits.masked_fill(itself, float("-inf")).logsumexp(dim=1, keepdim=True)
    positives = (labels[:, None] == labels[None, :]) & ~itself
    counts = positives.sum(dim=1)
    per_anchor = -(log_probability * positives).sum(dim=1) / counts.clamp_min(1)
    return per_anchor[counts > 0].sum()


def one_hot(labels, n_classes: int):
    """Class indices ``(batch,)`` to float one-hot rows ``(batch, n_classes)``."""
    import torch
    import torch.nn.functional as F

    return F.one_hot(labels.long(), n_classes).to(torch.get_default_dtype())


@register_loss(
    name="sse",
    title="sum of squared errors",
    reads="outputs",
    targets="labels",
    tasks=("classification", "regression"),
    uses_kernel=False,
    equation=r"L = \sum_i \lVert \mathrm{softmax}(o_i) - y_i \rVert^2 \ \text{(classes)}, "
    r"\ \sum_i \lVert o_i - y_i \rVert^2 \ \text{(values)}",
    source="Jakubik & Kwaśnicka (2018), section 2.6",
)
def _sse(outputs, targets, *, kernel=None, task: str):
    return baseline_loss(outputs, targets, task=task, kind="sse")


@register_loss(
    name="cross_entropy",
    title="cross-entropy",
    reads="outputs",
    targets="labels",
    tasks=("classification",),
    uses_kernel=False,
    equation=r"L = -\sum_i \log \mathrm{softmax}(o_i)_{y_i}",
    source="the usual classification loss",
)
def _cross_entropy(outputs, targets, *, kernel=None, task: str):
    return baseline_loss(outputs, targets, task=task, kind="cross_entropy")


def baseline_loss(outputs, targets, *, task: str, kind: str = "sse"):
    """Loss of the baseline network's output layer (the NN approach).

    Parameters
    ----------
    outputs : torch.Tensor, shape (batch, k)
        Pre-activation outputs of the dense head (logits for classification).
    targets : torch.Tensor
        Class indices ``(batch,)`` for classification, values ``(batch, k)`` for regression.
    task : {'classification', 'regression'}
    kind : {'sse', 'cross_entropy'}
        ``'sse'`` is the paper's sum of squared errors, between softmax probabilities and one-hot
        targets for classification and between raw outputs and targets for regression.
        ``'cross_entropy'`` (classification only) is offered as the usual alternative.
    """
    import torch.nn.functional as F

    if kind not in ("sse", "cross_entropy"):
        raise ParameterError(f"unknown baseline loss {kind!r}; choose one of ('sse', 'cross_entropy')")
    if task == "classification":
        if kind == "cross_entropy":
            return F.cross_entropy(outputs, targets.long(), reduction="sum")
        return (outputs.softmax(dim=1) - one_hot(targets, outputs.shape[1])).pow(2).sum()
    if task == "regression":
        if kind == "cross_entropy":
            raise ParameterError("cross_entropy is a classification loss; use 'sse' for regression")
        return (outputs - targets).pow(2).sum()
    raise ParameterError(f"unknown task {task!r}; expected 'classification' or 'regression'")
