import numpy as np
import pytest
import torch
from sklearn.metrics.pairwise import cosine_similarity, laplacian_kernel, polynomial_kernel, rbf_kernel
from sklearn.svm import SVC

from simsvm.exceptions import ParameterError
from simsvm.model.kernels import KERNELS, gram_matrix, make_kernel
from simsvm.model.losses import baseline_loss, similarity_loss


@pytest.fixture
def points():
    rng = np.random.default_rng(0)
    return rng.standard_normal((7, 5)), rng.standard_normal((4, 5))


# Each declared kernel against scikit-learn's own implementation, with non-default parameters.
SKLEARN_KERNELS = {
    "rbf": ({"gamma": 0.3}, lambda x, y: rbf_kernel(x, y, gamma=0.3)),
    "cosine": ({}, cosine_similarity),
    "poly": (
        {"degree": 3, "offset": 1.5},
        lambda x, y: polynomial_kernel(x, y, degree=3, gamma=1.0, coef0=1.5),
    ),
    "laplacian": ({"gamma": 0.2}, lambda x, y: laplacian_kernel(x, y, gamma=0.2)),
}


@pytest.mark.parametrize("name", list(SKLEARN_KERNELS))
def test_kernels_match_sklearn(points, name):
    x, y = points
    values, reference = SKLEARN_KERNELS[name]
    ours = make_kernel(name, **values)(torch.from_numpy(x), torch.from_numpy(y)).numpy()
    np.testing.assert_allclose(ours, reference(x, y), rtol=1e-12)
    np.testing.assert_allclose(gram_matrix(make_kernel(name, **values), x, y), reference(x, y), rtol=1e-12)


def test_every_declared_kernel_has_an_independent_check():
    assert set(KERNELS) <= set(SKLEARN_KERNELS)


def test_cosine_of_zero_vector_is_zero_not_nan():
    x = torch.tensor([[0.0, 0.0], [1.0, 0.0]])
    gram = make_kernel("cosine")(x, x)
    assert torch.isfinite(gram).all()
    assert gram[0, 1] == 0 and gram[1, 1] == pytest.approx(1.0)


def test_bad_kernel_arguments_are_named():
    with pytest.raises(ParameterError, match="sigmoid"):
        make_kernel("sigmoid")
    with pytest.raises(ParameterError, match="gamma"):
        make_kernel("rbf", gamma=-1.0)
    with pytest.raises(ParameterError, match="degree"):
        make_kernel("poly", degree=1.5)
    with pytest.raises(ParameterError, match="unknown parameter"):
        make_kernel("cosine", gamma=1.0)
    with pytest.raises(ParameterError, match=r"\(2, 3\) and \(2, 4\)"):
        make_kernel("cosine")(torch.zeros(2, 3), torch.zeros(2, 4))


def test_svm_on_our_gram_equals_sklearn_rbf_svm(points):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((40, 3))
    y = (x[:, 0] + 0.3 * rng.standard_normal(40) > 0).astype(int)
    test = rng.standard_normal((15, 3))
    kernel = make_kernel("rbf", gamma=0.5)
    ours = (
        SVC(kernel="precomputed", C=1.0)
        .fit(gram_matrix(kernel, x), y)
        .decision_function(gram_matrix(kernel, test, x))
    )
    reference = SVC(kernel="rbf", gamma=0.5, C=1.0).fit(x, y).decision_function(test)
    np.testing.assert_allclose(ours, reference, atol=1e-8)


@pytest.mark.parametrize("name", list(KERNELS))
def test_similarity_loss_is_zero_when_gram_matrices_match(name):
    annotations = torch.eye(4)[[0, 1, 2, 1, 0]].double()
    kernel = make_kernel(name)
    assert similarity_loss(annotations.clone(), annotations, kernel).item() == pytest.approx(0.0, abs=1e-12)
    moved = annotations + 0.1 * torch.randn_like(annotations)
    assert similarity_loss(moved, annotations, kernel).item() > 1e-6


def test_similarity_loss_by_hand():
    # Two one-dimensional features 0 and 1 against two identical annotations (K(A,A) = all ones):
    # only the off-diagonal RBF entries differ from 1, each by 1 - exp(-0.5).
    features = torch.tensor([[0.0], [1.0]], dtype=torch.float64)
    annotations = torch.tensor([[1.0, 0.0], [1.0, 0.0]], dtype=torch.float64)
    expected = 2 * (1 - np.exp(-0.5)) ** 2
    assert similarity_loss(features, annotations, make_kernel("rbf")).item() == pytest.approx(
        expected, rel=1e-12
    )


@pytest.mark.parametrize("name", list(KERNELS))
def test_similarity_loss_gradient(name):
    torch.manual_seed(0)
    features = torch.randn(6, 4, dtype=torch.float64, requires_grad=True)
    annotations = torch.randn(6, 3, dtype=torch.float64)
    kernel = make_kernel(name)
    assert torch.autograd.gradcheck(lambda f: similarity_loss(f, annotations, kernel), (features,))


def test_baseline_sse_by_hand():
    logits = torch.tensor([[0.0, 0.0], [2.0, 0.0]])
    labels = torch.tensor([0, 1])
    p = 1 / (1 + np.exp(-2.0))  # softmax of (2, 0), first entry
    expected = (0.5 - 1) ** 2 + 0.5**2 + p**2 + (1 - p - 1) ** 2
    assert baseline_loss(logits, labels, task="classification").item() == pytest.approx(expected, rel=1e-6)
    values = torch.tensor([[1.0, 2.0]])
    assert baseline_loss(values, torch.tensor([[0.0, 4.0]]), task="regression").item() == pytest.approx(5.0)


def test_baseline_cross_entropy_and_its_misuse():
    logits = torch.tensor([[1.0, -1.0, 0.5], [0.0, 2.0, 0.0]])
    labels = torch.tensor([2, 1])
    expected = torch.nn.functional.cross_entropy(logits, labels, reduction="sum").item()
    assert baseline_loss(logits, labels, task="classification", kind="cross_entropy").item() == pytest.approx(
        expected
    )
    with pytest.raises(ParameterError, match="cross_entropy"):
        baseline_loss(logits, logits, task="regression", kind="cross_entropy")


@pytest.mark.parametrize("name", list(KERNELS))
def test_the_plain_frobenius_norm_has_the_squared_loss_gradient_direction_at_another_scale(name):
    """Eq. 7's plain norm: the same descent direction within a batch, scaled by 1 / (2 L)."""
    kernel = make_kernel(name)
    generator = torch.Generator().manual_seed(4)
    features = torch.randn(30, 6, generator=generator, dtype=torch.float64, requires_grad=True)
    annotations = torch.eye(3, dtype=torch.float64)[torch.randint(0, 3, (30,), generator=generator)]
    squared = similarity_loss(features, annotations, kernel)
    (grad_squared,) = torch.autograd.grad(squared, features)
    plain = similarity_loss(features, annotations, kernel, norm="frobenius")
    (grad_plain,) = torch.autograd.grad(plain, features)
    assert plain.item() == pytest.approx(np.sqrt(squared.item()))
    cosine = torch.nn.functional.cosine_similarity(grad_squared.flatten(), grad_plain.flatten(), dim=0)
    assert cosine.item() > 0.999
    scale = grad_squared.norm() / grad_plain.norm()
    assert scale.item() == pytest.approx(2 * plain.item()) and abs(scale.item() - 1) > 0.1


def test_the_plain_norm_has_a_zero_gradient_where_the_matrices_agree():
    annotations = torch.eye(3, dtype=torch.float64)[[0, 1, 2, 0]]
    features = annotations.clone().requires_grad_(True)
    loss = similarity_loss(features, annotations, make_kernel("cosine"), norm="frobenius")
    loss.backward()
    assert loss.item() == 0.0 and torch.equal(features.grad, torch.zeros_like(features))
    with pytest.raises(ParameterError, match="unknown similarity norm 'l1'"):
        similarity_loss(features, annotations, make_kernel("cosine"), norm="l1")
