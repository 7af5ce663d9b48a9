"""The loss study's objectives against hand computations, and the learned kernel width."""

import math

import numpy as np
import pytest
import torch

from helpers import small_spec, small_training_data
from simsvm.exceptions import ParameterError
from simsvm.model.kernels import make_kernel
from simsvm.model.losses import LOSSES, cka_loss, supervised_contrastive_loss
from simsvm.train.loop import train_stack


class _Gram:
    """A 'kernel' that returns a fixed matrix for the features and another for the annotations."""

    def __init__(self, features_gram, annotations_gram, features):
        self.features_gram, self.annotations_gram, self.features = features_gram, annotations_gram, features

    def __call__(self, x, y):
        return self.features_gram if x is self.features else self.annotations_gram


def _centred(gram):
    n = gram.shape[0]
    h = torch.eye(n, dtype=gram.dtype) - 1.0 / n
    return h @ gram @ h


def test_cka_loss_is_zero_for_proportional_centred_kernels_and_scale_free():
    rng = np.random.default_rng(0)
    points = torch.from_numpy(rng.standard_normal((6, 3)))
    target = points @ points.T  # a positive semi-definite matrix
    features = torch.zeros(6, 1)
    for scale in (1.0, 0.01, 250.0):
        # proportional, plus a constant that centring removes
        kernel = _Gram(scale * target + 3.0, target, features)
        assert cka_loss(features, torch.zeros(6, 1), kernel).item() == pytest.approx(0.0, abs=1e-12)
    other = torch.from_numpy(rng.standard_normal((6, 3)))
    unrelated = _Gram(other @ other.T, target, features)
    loss = cka_loss(features, torch.zeros(6, 1), unrelated).item()
    scaled = cka_loss(features, torch.zeros(6, 1), _Gram(7.5 * (other @ other.T), target, features)).item()
    assert loss > 1e-3 and scaled == pytest.approx(loss, rel=1e-12)  # invariant to scaling K(F, F)
    a, b = _centred(other @ other.T), _centred(target)
    assert loss == pytest.approx(1 - float((a * b).sum() / (a.norm() * b.norm())), rel=1e-12)


def test_cka_loss_with_the_rbf_kernel_has_the_gradient_autograd_checks():
    torch.manual_seed(0)
    features = torch.randn(7, 4, dtype=torch.float64, requires_grad=True)
    annotations = torch.eye(3, dtype=torch.float64)[[0, 1, 2, 0, 1, 2, 0]]
    kernel = make_kernel("rbf")
    assert torch.autograd.gradcheck(lambda f: cka_loss(f, annotations, kernel), (features,))


def test_supervised_contrastive_loss_by_hand_on_four_files():
    features = torch.tensor([[1.0, 0.0], [0.6, 0.8], [0.0, 2.0], [-1.0, 0.0]], dtype=torch.float64)
    labels = torch.tensor([0, 0, 1, 1])
    tau = 0.5
    unit = [np.array(f) / np.linalg.norm(f) for f in features.tolist()]
    expected = 0.0
    for i in range(4):
        others = [a for a in range(4) if a != i]
        positives = [p for p in others if labels[p] == labels[i]]
        denominator = sum(math.exp(unit[i] @ unit[a] / tau) for a in others)
        expected += -np.mean([math.log(math.exp(unit[i] @ unit[p] / tau) / denominator) for p in positives])
    ours = supervised_contrastive_loss(features, labels, temperature=tau).item()
    assert ours == pytest.approx(expected, rel=1e-12)
    # an anchor alone in its class adds nothing
    alone = supervised_contrastive_loss(features[:3], torch.tensor([0, 0, 1]), temperature=tau).item()
    two = supervised_contrastive_loss(features[:2], torch.tensor([0, 0]), temperature=tau).item()
    assert alone > 0 and two == pytest.approx(
        0.0, abs=1e-12
    )  # two files: the positive is the whole denominator


def test_supcon_and_cross_entropy_refuse_regression():
    values = torch.randn(4, 3)
    for name in ("supcon", "cross_entropy"):
        with pytest.raises(ParameterError, match=f"the {name} loss is for classification only"):
            LOSSES[name](values, torch.randn(4, 2), kernel=None, task="regression")


def test_a_learned_rbf_width_has_the_gradient_finite_differences_give():
    torch.manual_seed(1)
    features = torch.randn(8, 5, dtype=torch.float64)
    annotations = torch.eye(2, dtype=torch.float64)[[0, 1, 0, 1, 1, 0, 0, 1]]
    kernel = make_kernel("rbf", gamma="learn")

    def loss_at(log_gamma):
        return LOSSES["similarity"](
            features,
            annotations,
            kernel=kernel.bound(gamma=log_gamma.exp()),
            target_kernel=kernel.started(),
            task="classification",
        )

    log_gamma = torch.tensor(math.log(0.5), dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(loss_at, (log_gamma,))
    (gradient,) = torch.autograd.grad(loss_at(log_gamma), log_gamma)
    step = 1e-6
    finite = (loss_at(log_gamma.detach() + step) - loss_at(log_gamma.detach() - step)) / (2 * step)
    assert gradient.item() == pytest.approx(finite.item(), rel=1e-6)
    with pytest.raises(ParameterError, match="learned"):
        kernel(features, features)  # unbound: no value to compute with


def test_a_learned_rbf_width_moves_in_training_and_is_recorded_per_epoch():
    data = small_training_data()
    fixed = small_spec(data, "fixed", "similarity", 3, kernel=make_kernel("rbf"), epochs=4)
    learned = small_spec(data, "learned", "similarity", 3, kernel=make_kernel("rbf", gamma="learn"), epochs=4)
    fixed_snapshots = list(s[0] for s in train_stack([fixed], data))
    snapshots = list(s[0] for s in train_stack([learned], data))
    values = [snapshot.learned["rbf_gamma"] for snapshot in snapshots]
    assert values[0] == pytest.approx(0.5) and all(v > 0 for v in values)
    assert abs(values[-1] - 0.5) > 1e-4  # it moved
    assert all(snapshot.learned == {} for snapshot in fixed_snapshots)
    assert not np.allclose(snapshots[-1].features, fixed_snapshots[-1].features)
