"""matmul_precision: the hoisted products against nn.GRU, bfloat16 against float32, the fallback."""

import dataclasses
import warnings

import numpy as np
import pytest
import torch

from helpers import gru_layer, outputs_and_gradients, small_spec
from simsvm.engine import recurrence
from simsvm.engine.cpu import cpu_has_bf16
from simsvm.engine.recurrence import product_precision, stacked_gru
from simsvm.exceptions import ParameterError
from simsvm.experiment.config import ExperimentConfig
from simsvm.model.kernels import make_kernel
from simsvm.train.backends import CudaBackend, ReferenceBackend, SerialBackend
from simsvm.train.jobs import train_set
from simsvm.train.loop import train_stack

needs_bf16 = pytest.mark.skipif(
    not cpu_has_bf16(), reason="this CPU has no native bfloat16 (AMX/AVX512-BF16)"
)


def test_hoisted_products_give_nn_gruoutputs_and_gradients():
    """'tf32' on a CPU is the hoisted arrangement in the inputs' own precision: float64 here."""
    grus, parameters = gru_layer(3, 4, 6, torch.double)
    inputs = torch.randn(7, 3, 5, 4, dtype=torch.double)  # time, models, batch, features
    weights = torch.randn(7, 3, 5, 6, dtype=torch.double)
    outputs, gradients = outputs_and_gradients(parameters, inputs, "tf32", weights)
    stepwise, stepwise_gradients = outputs_and_gradients(parameters, inputs, "fp32", weights)
    torch.testing.assert_close(outputs, stepwise)
    for model, gru in enumerate(grus):
        batch_first = inputs[:, model].transpose(0, 1)
        torch.testing.assert_close(outputs[:, model], gru(batch_first)[0].transpose(0, 1).detach())
    for hoisted, step_by_step in zip(gradients, stepwise_gradients, strict=True):
        torch.testing.assert_close(hoisted, step_by_step)


def test_hoisted_products_pass_gradcheck():
    _, parameters = gru_layer(2, 3, 4, torch.double, seed=1)
    inputs = torch.randn(6, 2, 3, 3, dtype=torch.double, requires_grad=True)
    initial = torch.randn(2, 3, 4, dtype=torch.double, requires_grad=True)

    def hoisted(inputs, *rest):
        return stacked_gru(inputs, *rest, precision="tf32")

    assert torch.autograd.gradcheck(hoisted, (inputs, *parameters, initial))


@needs_bf16
def test_bf16_products_stay_near_fp32outputs_and_gradients():
    """Products rounded to bfloat16 (8 significant bits) with float32 states: errors of its order."""
    _, parameters = gru_layer(2, 80, 100, torch.float32)
    inputs = torch.randn(100, 2, 16, 80)
    weights = torch.randn(100, 2, 16, 100)
    low, low_gradients = outputs_and_gradients(parameters, inputs, "bf16", weights)
    full, full_gradients = outputs_and_gradients(parameters, inputs, "fp32", weights)
    assert low.dtype == torch.float32
    assert (low - full).abs().max() < 2e-2
    for reduced, exact in zip(low_gradients, full_gradients, strict=True):
        assert reduced.dtype == torch.float32
        assert (reduced - exact).norm() / exact.norm() < 1e-2


@needs_bf16
def test_a_bf16_network_stays_near_the_fp32_network_after_training(data):
    """Same seed, same excerpts, 4 epochs: every snapshot's features within 0.01 of float32's
    (measured: 0.0008 untrained, 0.0017 after 4 epochs, on the project's AMX machine; the
    features' spread over files, their s.d. per dimension, grows from 0.05 to 0.14 meanwhile)."""
    spec = small_spec(data, "rbf", "similarity", 12, kernel=make_kernel("rbf"), hidden_sizes=(40, 20))
    full = list(train_stack([spec], data))
    low = list(train_stack([dataclasses.replace(spec, matmul_precision="bf16")], data))
    assert [snapshots[0].epoch for snapshots in low] == [0, 2, 4]
    for reduced, exact in zip(low, full, strict=True):
        difference = np.abs(reduced[0].features - exact[0].features).max()
        assert difference < 0.01, (reduced[0].epoch, difference)
        assert reduced[0].features.std(axis=0).mean() > 4 * difference  # the spread dwarfs it
    assert low[-1][0].train_loss == pytest.approx(full[-1][0].train_loss, rel=0.01)


def test_fp32_is_the_default_and_the_key_is_checked():
    assert ExperimentConfig(name="x", dataset="gtzan", data_dir="d").matmul_precision == "fp32"
    with pytest.raises(ParameterError, match="matmul_precision"):
        ExperimentConfig(name="x", dataset="gtzan", data_dir="d", matmul_precision="fp16")
    first = ExperimentConfig(name="x", dataset="gtzan", data_dir="d")
    second = ExperimentConfig(name="x", dataset="gtzan", data_dir="d", matmul_precision="bf16")
    assert first.parameters_hash() != second.parameters_hash()  # scientific: not resumed across
    with pytest.raises(ParameterError, match="precision"):
        stacked_gru(torch.zeros(2, 1, 1, 3), *gru_layer(1, 3, 2, torch.float32)[1], precision="half")


def test_bf16_without_hardware_falls_back_to_fp32_saying_so_once(monkeypatch, data):
    monkeypatch.setattr(recurrence, "cpu_has_bf16", lambda: False)
    recurrence._warn_no_bf16.cache_clear()
    specs = [
        small_spec(data, f"n{seed}", "similarity", seed, kernel=make_kernel("rbf"), matmul_precision="bf16")
        for seed in (1, 2)
    ]
    with pytest.warns(RuntimeWarning, match="neither AMX-BF16 nor AVX512-BF16") as caught:
        results = dict(train_set(specs, data, backend=SerialBackend()))
    assert len([w for w in caught if issubclass(w.category, RuntimeWarning)]) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert product_precision("bf16", "cpu") == "fp32"  # said once per process
    fp32 = dict(train_set([dataclasses.replace(s, matmul_precision="fp32") for s in specs], data))
    for index in (0, 1):  # the fallback is the float32 arithmetic itself
        np.testing.assert_array_equal(results[index][-1].features, fp32[index][-1].features)
    recurrence._warn_no_bf16.cache_clear()


def test_cuda_takes_tf32_and_fp32_stays_fp32():
    assert product_precision("fp32", "cuda") == "fp32"
    assert product_precision("bf16", "cuda") == "tf32"
    with pytest.raises(ParameterError, match="matmul_precision"):
        product_precision("fp16", "cpu")


def test_the_reference_loop_refuses_bf16(data):
    spec = small_spec(data, "n", "baseline", 1, matmul_precision="bf16")
    with pytest.raises(ParameterError, match="float32 only"):
        dict(train_set([spec], data, backend=ReferenceBackend()))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_bf16_trains_with_tf32_products_near_the_cpu_fp32_network(data):
    spec = small_spec(data, "rbf", "similarity", 12, kernel=make_kernel("rbf"), hidden_sizes=(40, 20))
    matmul = torch.backends.cuda.matmul
    before = (matmul.allow_tf32, getattr(matmul, "fp32_precision", None))
    on_gpu = dict(
        train_set([dataclasses.replace(spec, matmul_precision="bf16")], data, backend=CudaBackend())
    )
    assert (matmul.allow_tf32, getattr(matmul, "fp32_precision", None)) == before  # allowed inside only
    for gpu, cpu in zip(on_gpu[0], train_stack([spec], data), strict=True):
        assert np.abs(gpu.features - cpu[0].features).max() < 0.01
