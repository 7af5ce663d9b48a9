"""The compiled GRU loops (simsvm/engine/fused_gru.cpp) against the PyTorch loop they replace."""

import warnings

import pytest
import torch

from helpers import gru_layer, outputs_and_gradients
from simsvm.engine import fused, inference, recurrence
from simsvm.engine.stacked import StackedNetworks
from simsvm.model.network import Network
from simsvm.model.reading import KeptMemory

needs_build = pytest.mark.skipif(fused.fused_gru_ops() is None, reason="no C++ compiler to build the loops")


def _both_loops(monkeypatch, precision, parameters, inputs, weights, initial):
    compiled = outputs_and_gradients(parameters, inputs, precision, weights, initial)
    with monkeypatch.context() as patch:
        patch.setattr(recurrence, "fused_gru_ops", lambda: None)
        python = outputs_and_gradients(parameters, inputs, precision, weights, initial)
    return compiled, python


@needs_build
@pytest.mark.parametrize(
    ("units", "scale"),
    [(6, 1.0), (6, 40.0), (37, 1.0)],
    ids=["ordinary", "saturated gates", "two blocks and a partial one"],
)
def test_the_compiled_loop_gives_the_pytorch_loops_outputs_and_gradients(monkeypatch, units, scale):
    """float32 products ('tf32' on a CPU: the hoisted arrangement), so only the loops differ.

    At scale 40 most gates sit at 0 or 1 and the exponential is clamped: the approximation's
    tails must saturate where torch.sigmoid and torch.tanh do, with no overflow to inf or NaN.
    (With 37 units at that scale the recurrence is chaotic: a last-bit difference in one
    exponential grows to 4e-3 within nine steps, in the loops of before this comparison too.)
    The compiled loop takes 16 units at a time: 37 units end in a partial block.
    """
    _, parameters = gru_layer(3, 4, units, torch.float32, seed=1)
    parameters = [parameter.detach() * scale for parameter in parameters]
    inputs = torch.randn(9, 3, 5, 4)
    weights, initial = torch.randn(9, 3, 5, units), torch.randn(3, 5, units).tanh()
    (outputs, gradients), (expected, expected_gradients) = _both_loops(
        monkeypatch, "tf32", parameters, inputs, weights, initial
    )
    assert torch.isfinite(outputs).all()
    torch.testing.assert_close(outputs, expected, rtol=0, atol=2e-6)
    names = ("inputs", "initial", "weight_ih", "weight_hh", "bias_ih", "bias_hh")
    for name, gradient, expected_gradient in zip(names, gradients, expected_gradients, strict=True):
        # relative to the whole gradient: a saturated gate's r(1 - r) is all rounding, in both
        assert (gradient - expected_gradient).norm() <= 1e-5 * expected_gradient.norm(), name


@needs_build
def test_in_bfloat16_the_compiled_loop_rounds_as_pytorch_does(monkeypatch):
    """The same bfloat16 products; the gathered gradients are rounded to nearest even by both."""
    _, parameters = gru_layer(2, 8, 16, torch.float32, seed=2)
    inputs, weights = torch.randn(12, 2, 7, 8), torch.randn(12, 2, 7, 16)
    initial = torch.zeros(2, 7, 16)
    (outputs, gradients), (expected, expected_gradients) = _both_loops(
        monkeypatch, "bf16", parameters, inputs, weights, initial
    )
    torch.testing.assert_close(outputs, expected, rtol=0, atol=1e-5)
    for gradient, expected_gradient in zip(gradients, expected_gradients, strict=True):
        assert (gradient - expected_gradient).norm() <= 2e-3 * expected_gradient.norm()


def test_a_failed_build_says_why_once_and_runs_the_pytorch_loop(monkeypatch):
    from torch.utils import cpp_extension

    def no_compiler(**_):  # what PyTorch raises when ninja cannot run the compiler
        raise RuntimeError(
            "Error building extension 'x': [1/2] c++ -MMD -MF fused_gru.o.d -O3 -c fused_gru.cpp\n"
            "FAILED: fused_gru.o\nc++ -MMD -MF fused_gru.o.d -O3 -c fused_gru.cpp\n"
            "/bin/sh: 1: c++: not found\nninja: build stopped: subcommand failed.\n"
        )

    monkeypatch.setattr(cpp_extension, "load", no_compiler)
    fused._build.cache_clear()
    fused._warn_unbuilt.cache_clear()
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            assert fused.fused_gru_ops() is None  # quietly: where workers ask
            assert fused.fused_gru_ops(warn=True) is None
            assert fused.fused_gru_ops(warn=True) is None
        messages = [str(warning.message) for warning in caught if warning.category is RuntimeWarning]
        assert len(messages) == 1
        assert "(/bin/sh: 1: c++: not found)" in messages[0] and "PyTorch loop" in messages[0]
        assert "-MMD" not in messages[0]  # the cause, not the command line
    finally:
        fused._build.cache_clear()
        fused._warn_unbuilt.cache_clear()


def test_a_build_is_named_for_the_cpu_it_was_compiled_on(monkeypatch):
    """``-march=native`` code from a shared cache must not reach a CPU that lacks its instructions."""
    here = fused._extension_name()
    monkeypatch.setattr(fused, "cpu_description", lambda: ("Another CPU", frozenset({"avx2", "fma"})))
    elsewhere = fused._extension_name()
    assert here != elsewhere
    assert here.startswith("simsvm_fused_gru_") and elsewhere.startswith("simsvm_fused_gru_")


@needs_build
def test_only_the_hoisted_arrangement_on_a_cpu_runs_compiled():
    assert recurrence.gru_loop("fp32", "cpu") == "pytorch"  # the exact arithmetic of fp32 runs
    assert recurrence.gru_loop("bf16", "cpu") == "compiled"
    assert recurrence.gru_loop("tf32", "cuda") == "pytorch"


@needs_build
def test_a_snapshot_sized_bf16_pass_multiplies_the_state_in_bfloat16_in_both_loops(monkeypatch):
    """From LOW_RECURRENT_ROWS rows without gradients: the compiled and PyTorch loops agree, and
    the features stay near float32's (the recurrent product's rounding is carried forward)."""
    _, parameters = gru_layer(1, 8, 20, torch.float32, seed=3)
    parameters = [parameter.detach() for parameter in parameters]
    rows = recurrence.LOW_RECURRENT_ROWS
    inputs = torch.randn(30, 1, rows, 8)
    with torch.no_grad():
        compiled = recurrence.stacked_gru(inputs, *parameters, precision="bf16")
        fp32 = recurrence.stacked_gru(inputs, *parameters, precision="fp32")
        with monkeypatch.context() as patch:
            patch.setattr(recurrence, "fused_gru_ops", lambda: None)
            python = recurrence.stacked_gru(inputs, *parameters, precision="bf16")
        below = recurrence.stacked_gru(inputs[:, :, : rows - 1], *parameters, precision="bf16")
    # a state a hair from a bfloat16 rounding boundary may round the other way in one loop
    difference = (compiled - python).abs()
    assert difference.max() < 2e-3 and (difference > 1e-5).float().mean() < 0.01
    assert 1e-4 < (compiled - fp32).abs().max() < 2e-2
    # one row fewer: a float32 recurrent product, so closer to float32 than the bfloat16 one
    assert (below - fp32[:, :, : rows - 1]).abs().max() < (compiled - fp32).abs().max()


@needs_build
def test_whole_files_read_by_the_compiled_loop_give_the_pytorch_loops_features(monkeypatch):
    """Snapshot-sized batches take read_chunk's compiled path: one joined product a step, each
    layer's state kept in place, its outputs written in bfloat16 only, the last layer's sum taken
    inside the loop.  Two models, rows of different lengths, seven frames a chunk: the PyTorch
    loop's features up to bfloat16's rounding of the gates' sums (once, against once per side),
    and as close to float32's as the PyTorch loop's."""
    torch.manual_seed(4)
    stack = StackedNetworks.from_networks([Network(8, (20, 12)) for _ in range(2)])
    rows = recurrence.LOW_RECURRENT_ROWS
    frames = torch.randn(30, rows, 8)
    lengths = torch.randint(5, 31, (rows,))
    lengths[0] = 30
    taken = []

    def spy(*arguments):
        taken.append(True)
        return compiled_path(*arguments)

    compiled_path = inference._read_compiled
    monkeypatch.setattr(inference, "_read_compiled", spy)
    with torch.no_grad():
        compiled = stack.features(frames, lengths, chunk=7, precision="bf16")
        with monkeypatch.context() as patch:
            patch.setattr(recurrence, "fused_gru_ops", lambda: None)
            python = stack.features(frames, lengths, chunk=7, precision="bf16")
            # frames given in bfloat16 (a bf16 snapshot's batch): the values the products read anyway
            assert torch.equal(stack.features(frames.bfloat16(), lengths, chunk=7, precision="bf16"), python)
        fp32 = stack.features(frames, lengths, chunk=7, precision="fp32")
    assert len(taken) == 5  # every chunk of the bf16 pass with the compiled loops, none after
    from_fp32 = (python - fp32).abs().mean()  # ~2e-4 here
    assert 1e-5 < from_fp32 and (compiled - fp32).abs().max() < 1e-2
    assert (compiled - fp32).abs().mean() < 1.2 * from_fp32
    assert (compiled - python).abs().mean() < 0.5 * from_fp32 and (compiled - python).abs().max() < 2e-3
    with torch.no_grad():
        from_bfloat16 = stack.features(frames.bfloat16(), lengths, chunk=7, precision="bf16")
    assert len(taken) == 10 and torch.equal(from_bfloat16, compiled)
    # buffers kept from a longer batch of more rows, chunked differently, leave no trace
    kept = KeptMemory()
    with torch.no_grad():
        stack.features(torch.randn(40, rows + 50, 8), chunk=9, precision="bf16", kept=kept)
        again = stack.features(frames, lengths, chunk=7, precision="bf16", kept=kept)
    assert len(taken) == 10 + 5 + 5
    assert torch.equal(again, compiled)


def test_kept_memory_hands_back_the_same_memory_while_it_is_large_enough():
    kept = KeptMemory()
    cpu = torch.device("cpu")
    first = kept.take("a", (4, 6), dtype=torch.bfloat16, device=cpu)
    other = kept.take("b", (4, 6), dtype=torch.bfloat16, device=cpu)
    smaller = kept.take("a", (5, 3), dtype=torch.bfloat16, device=cpu)
    assert first.shape == (4, 6) and smaller.shape == (5, 3) and smaller.is_contiguous()
    assert smaller.data_ptr() == first.data_ptr() != other.data_ptr()
    larger = kept.take("a", (5, 6), dtype=torch.bfloat16, device=cpu)
    assert larger.shape == (5, 6) and larger.data_ptr() != first.data_ptr()
    assert kept.take("a", (2, 2), dtype=torch.float32, device=cpu).dtype == torch.float32


def test_without_gradients_parameters_that_could_have_them_are_read_as_for_a_snapshot():
    """Under ``torch.no_grad`` a stack's parameters still say ``requires_grad``; the layer must
    not take that for training (computing the backward's factors, and in bf16 at snapshot size
    keeping the float32 recurrent product): the same states as with detached parameters."""
    _, parameters = gru_layer(1, 8, 20, torch.float32, seed=5)
    inputs = torch.randn(6, 1, recurrence.LOW_RECURRENT_ROWS, 8)
    with torch.no_grad():
        for precision in ("fp32", "bf16"):
            attached = recurrence.stacked_gru(inputs, *parameters, precision=precision)
            detached = recurrence.stacked_gru(inputs, *[p.detach() for p in parameters], precision=precision)
            assert torch.equal(attached, detached), precision
            assert not attached.requires_grad
    assert recurrence.stacked_gru(inputs, *parameters, precision="bf16").requires_grad


def test_a_training_batch_of_snapshot_size_keeps_its_gradients():
    """Three networks of 100 excerpts are 300 rows: with gradients, read_chunk must still take
    the training path (the compiled inference keeps no graph), in every precision."""
    torch.manual_seed(6)
    stack = StackedNetworks.from_networks([Network(8, (20, 12)) for _ in range(3)])
    frames = torch.randn(10, 3, 100, 8)
    assert 3 * 100 >= recurrence.LOW_RECURRENT_ROWS
    for precision in ("fp32", "bf16"):
        stack.zero_grad()
        features = stack.features(frames, precision=precision)
        features.square().sum().backward()
        for name, parameter in stack.named_parameters():
            assert parameter.grad is not None and torch.isfinite(parameter.grad).all(), (precision, name)
            assert parameter.grad.abs().sum() > 0, (precision, name)
        with torch.no_grad():
            read = stack.features(frames, precision=precision)
        assert (read - features.detach()).abs().max() < 1e-2, precision
