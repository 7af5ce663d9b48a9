"""The stacked GRU and lockstep training against nn.GRU and the plain training loop."""

import dataclasses
import warnings

import numpy as np
import pytest
import torch
from torch import nn

from helpers import plain_training, small_spec, train_alone
from simsvm.data.frames import FrameStore, Normaliser
from simsvm.engine.recurrence import stacked_gru
from simsvm.engine.stacked import StackedNetworks
from simsvm.exceptions import ParameterError
from simsvm.model.kernels import make_kernel
from simsvm.model.network import Network
from simsvm.model.reading import KeptMemory
from simsvm.train.backends import CudaBackend, ReferenceBackend, SerialBackend
from simsvm.train.excerpts import DeviceFrames, HostFrames
from simsvm.train.jobs import train_set
from simsvm.train.loop import stack_groups, train_stack


def _grus(models, inputs, hidden, seed=0):
    torch.manual_seed(seed)
    return [nn.GRU(inputs, hidden, batch_first=True).double() for _ in range(models)]


def _stacked_parameters(grus):
    return [
        torch.stack([g.weight_ih_l0.detach().T for g in grus]).contiguous().requires_grad_(),
        torch.stack([g.weight_hh_l0.detach().T for g in grus]).contiguous().requires_grad_(),
        torch.stack([g.bias_ih_l0.detach() for g in grus]).requires_grad_(),
        torch.stack([g.bias_hh_l0.detach() for g in grus]).requires_grad_(),
    ]


def test_stacked_gru_equals_nn_gru_outputs_and_gradients():
    grus = _grus(3, 4, 6)
    inputs = torch.randn(3, 5, 7, 4, dtype=torch.double)  # models, batch, time, features
    parameters = _stacked_parameters(grus)
    time_major = inputs.permute(2, 0, 1, 3).contiguous().requires_grad_()
    outputs = stacked_gru(time_major, *parameters)
    expected = torch.stack([gru(inputs[m])[0] for m, gru in enumerate(grus)]).permute(2, 0, 1, 3)
    torch.testing.assert_close(outputs, expected)
    weights = torch.randn_like(outputs)
    (outputs * weights).sum().backward()
    for m, gru in enumerate(grus):
        (gru(inputs[m])[0] * weights.permute(1, 2, 0, 3)[m]).sum().backward()
        torch.testing.assert_close(parameters[0].grad[m], gru.weight_ih_l0.grad.T)
        torch.testing.assert_close(parameters[1].grad[m], gru.weight_hh_l0.grad.T)
        torch.testing.assert_close(parameters[2].grad[m], gru.bias_ih_l0.grad)
        torch.testing.assert_close(parameters[3].grad[m], gru.bias_hh_l0.grad)


def test_stacked_gru_passes_gradcheck_including_the_initial_state():
    parameters = _stacked_parameters(_grus(2, 3, 4, seed=1))
    inputs = torch.randn(6, 2, 3, 3, dtype=torch.double, requires_grad=True)
    initial = torch.randn(2, 3, 4, dtype=torch.double, requires_grad=True)
    assert torch.autograd.gradcheck(stacked_gru, (inputs, *parameters, initial))


def test_stack_round_trips_networks_and_matches_their_features():
    torch.manual_seed(0)
    networks = [Network(80, (12, 6), n_outputs=3 if m == 1 else None) for m in range(3)]
    stack = StackedNetworks.from_networks(networks)
    frames = torch.randn(4, 30, 80)
    lengths = torch.tensor([30, 11, 4, 25])
    expected = torch.stack([network.features(frames, lengths) for network in networks]).detach()
    whole = stack.features(frames.transpose(0, 1), lengths).detach()
    torch.testing.assert_close(whole, expected, atol=1e-6, rtol=1e-5)
    # reading in pieces carries the state over: same result; a subset of models is the subset
    pieces = stack.features(frames.transpose(0, 1), lengths, models=[2, 0], chunk=7).detach()
    torch.testing.assert_close(pieces, expected[[2, 0]], atol=1e-6, rtol=1e-5)
    copy = stack.network(1)
    for original, copied in zip(networks[1].parameters(), copy.parameters(), strict=True):
        torch.testing.assert_close(original, copied, atol=0, rtol=0)
    logits = stack.predict(whole)[1]
    torch.testing.assert_close(logits, networks[1].predict(expected[1]).detach(), atol=1e-6, rtol=1e-5)


def test_networks_of_one_stack_train_as_if_alone(data):
    """Mixed objectives, and a training set one file shorter (padded rows in the last batch)."""
    specs = [
        small_spec(data, "baseline", "baseline", 11),
        small_spec(data, "rbf", "similarity", 12, kernel=make_kernel("rbf")),
        dataclasses.replace(
            small_spec(data, "poly", "similarity", 13, kernel=make_kernel("poly")),
            train_indices=tuple(range(1, 16)),
        ),
    ]
    assert stack_groups(specs, None) == [[0, 1, 2]]
    together = list(train_stack(specs, data))
    for model, spec in enumerate(specs):
        alone = list(train_alone(spec, data))
        assert [snapshots[model].epoch for snapshots in together] == [s.epoch for s in alone]
        for snapshots, single in zip(together, alone, strict=True):
            np.testing.assert_allclose(snapshots[model].features, single.features, atol=1e-5)
            np.testing.assert_allclose(snapshots[model].train_loss, single.train_loss, rtol=1e-5)
            if single.outputs is not None:
                np.testing.assert_allclose(snapshots[model].outputs, single.outputs, atol=1e-5)


def test_excerpts_cut_on_the_device_equal_those_cut_from_the_store(data):
    """Gathered from one flat tensor: same frames, each network's normaliser, zeros past the end."""
    cpu = torch.device("cpu")
    rng = np.random.default_rng(3)
    files = rng.integers(0, len(data.frames), (3, 12))
    files[2, 9:] = -1  # a network with a shorter batch: padding rows
    # some excerpts run past the end of their file (lengths are 60-140 frames)
    starts = rng.integers(0, data.frames.lengths[files])
    normalisers = [None, Normaliser().fit(data.frames, range(8)), Normaliser().fit(data.frames)]
    files, starts = torch.from_numpy(files), torch.from_numpy(starts)
    from_store = HostFrames(data.frames, cpu).excerpts(files, starts, 90, normalisers)
    assert from_store.shape == (90, 3, 12, 80)
    for model, normaliser in enumerate(normalisers):  # the host source is the store's excerpts
        rows = files[model] >= 0
        expected = data.frames.excerpts(files[model][rows], starts[model][rows], 90, normaliser=normaliser)
        np.testing.assert_array_equal(from_store[:, model, rows].numpy(), expected.transpose(1, 0, 2))
    assert (from_store[:, 2, 9:] == 0).all() and (from_store[-1] == 0).all(dim=-1).any()
    on_device = DeviceFrames(data.frames, cpu).excerpts(files, starts, 90, normalisers)
    torch.testing.assert_close(on_device, from_store, rtol=0, atol=1e-6)


def test_reused_batches_are_written_whole_into_the_kept_memory(data):
    """Whole-file batches go into memory kept from the last one: a smaller batch after a larger
    one must leave nothing of it behind (padding rows and frames past a file's end are zeros)."""
    source, cpu, kept = HostFrames(data.frames, torch.device("cpu")), torch.device("cpu"), KeptMemory()
    normaliser = [Normaliser().fit(data.frames)]
    large = source.excerpts(
        torch.arange(12)[None], torch.zeros(1, 12, dtype=torch.int64), 140, normaliser, kept=kept
    )
    assert (large != 0).any()
    files = torch.tensor([[3, 7, 11, -1]])
    starts = torch.tensor([[0, 5, 50, 0]])
    small = source.excerpts(files, starts, 90, normaliser, kept=kept)
    assert small.data_ptr() == large.data_ptr()  # the same memory, written again
    expected = HostFrames(data.frames, cpu).excerpts(files, starts, 90, normaliser)
    torch.testing.assert_close(small, expected, rtol=0, atol=0)
    assert (small[:, 0, 3] == 0).all()
    # a bf16 snapshot's batch: the float32 values rounded once, padding included
    kept.take("frames", (140, 1, 12, 80), dtype=torch.bfloat16, device=cpu).fill_(float("nan"))
    rounded = source.excerpts(files, starts, 90, normaliser, kept=kept, dtype=torch.bfloat16)
    assert rounded.dtype == torch.bfloat16
    assert torch.equal(rounded, expected.to(torch.bfloat16))


def test_frames_copied_to_the_device_from_the_read_only_cache(data, tmp_path):
    """A real run's store memory-maps .npy cache files read-only; copying them must not warn."""
    paths = []
    for index in range(len(data.frames)):
        paths.append(tmp_path / f"{index}.npy")
        np.save(paths[-1], data.frames.sequence(index))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        on_device = DeviceFrames(FrameStore(paths), torch.device("cpu"))
    files, starts = torch.tensor([[3, 7, 11]]), torch.tensor([[0, 5, 50]])
    expected = HostFrames(data.frames, torch.device("cpu")).excerpts(files, starts, 60, [None])
    torch.testing.assert_close(on_device.excerpts(files, starts, 60, [None]), expected, rtol=0, atol=0)


def test_training_on_frames_kept_on_the_device_equals_training_from_the_store(data):
    """The GPU's way of cutting excerpts, run on the CPU: per-fold normalisers, a padded batch."""
    specs = [
        small_spec(data, "baseline", "baseline", 11),
        dataclasses.replace(
            small_spec(data, "rbf", "similarity", 12, kernel=make_kernel("rbf")),
            train_indices=tuple(range(1, 16)),
            normaliser=Normaliser().fit(data.frames, range(1, 16)),
        ),
    ]
    resident = list(train_stack(specs, data, resident_frames=True))
    from_store = list(train_stack(specs, data, resident_frames=False))
    for on_device, host in zip(resident, from_store, strict=True):
        for a, b in zip(on_device, host, strict=True):
            np.testing.assert_allclose(a.features, b.features, atol=1e-5)
            np.testing.assert_allclose(a.train_loss, b.train_loss, rtol=1e-5)


def test_networks_that_read_the_same_files_in_another_order_share_one_snapshot_pass(data):
    """As in CV: one dataset normaliser, each fold listing its training files, then its test files."""
    normaliser = Normaliser().fit(data.frames)
    orders = [tuple(range(24)), (*range(16, 24), *range(16)), tuple(range(0, 24, 2))]
    specs = [
        dataclasses.replace(
            small_spec(data, f"n{model}", "similarity", 20 + model, kernel=make_kernel("rbf"), epochs=2),
            eval_indices=order,
            normaliser=normaliser,
        )
        for model, order in enumerate(orders)
    ]
    together = list(train_stack(specs, data))
    for model, spec in enumerate(specs):
        for snapshots, alone in zip(together, train_alone(spec, data), strict=True):
            assert snapshots[model].features.shape == (len(orders[model]), 6)
            np.testing.assert_allclose(snapshots[model].features, alone.features, atol=1e-5)


def test_stack_groups_keep_schedules_apart_and_respect_the_size(data):
    rbf = make_kernel("rbf")
    specs = [
        small_spec(data, "a", "similarity", 1, kernel=rbf),
        small_spec(data, "b", "similarity", 2, kernel=rbf, epochs=5),  # another schedule
        small_spec(data, "c", "baseline", 3),
        small_spec(
            data, "d", "similarity", 4, kernel=rbf, train_indices=tuple(range(9))
        ),  # 9 files: 2 batches, like 16
        small_spec(data, "e", "similarity", 5, kernel=rbf, train_indices=tuple(range(8))),  # 8 files: 1 batch
    ]
    assert stack_groups(specs, None) == [[0, 2, 3], [1], [4]]
    assert stack_groups(specs, 2) == [[0, 2], [1], [3], [4]]
    assert stack_groups(specs, 1) == [[index] for index in range(5)]
    with pytest.raises(ParameterError, match="stack_size"):
        stack_groups(specs, 0)
    with pytest.raises(ParameterError, match="different schedules"):
        next(train_stack(specs[:2], data))


@pytest.mark.parametrize("objective", ["baseline", "similarity"])
def test_reference_backend_is_the_plain_loop_and_stacks_agree_with_it(data, objective):
    """The training loop on nn.GRU networks = the procedure written out plainly (plain_training)."""
    kernel = make_kernel("cosine") if objective == "similarity" else None
    specs = [small_spec(data, f"n{seed}", objective, seed, kernel=kernel) for seed in (1, 2)]
    reference = dict(train_set(specs, data, backend=ReferenceBackend()))
    stacked = dict(train_set(specs, data, backend=SerialBackend(stack_size=2)))
    for index, spec in enumerate(specs):
        plain = plain_training(spec, data)
        assert [snapshot.epoch for snapshot in reference[index]] == [epoch for epoch, _, _ in plain]
        for snapshot, (_, loss, features) in zip(reference[index], plain, strict=True):
            np.testing.assert_allclose(snapshot.features, features, atol=1e-5)
            np.testing.assert_allclose(snapshot.train_loss, loss, rtol=1e-5)
        for in_stack, alone in zip(stacked[index], reference[index], strict=True):
            np.testing.assert_allclose(in_stack.features, alone.features, atol=1e-5)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message on machines without CUDA")
def test_cuda_backend_says_clearly_when_there_is_no_gpu():
    with pytest.raises(ParameterError, match="no CUDA device"):
        CudaBackend()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_stack_trains_like_the_cpu(data):
    specs = [
        small_spec(data, "baseline", "baseline", 11),
        dataclasses.replace(  # its own normaliser, as with normalisation: train_only
            small_spec(data, "rbf", "similarity", 12, kernel=make_kernel("rbf")),
            normaliser=Normaliser().fit(data.frames, range(16)),
        ),
    ]
    on_gpu = dict(train_set(specs, data, backend=CudaBackend()))
    for index, spec in enumerate(specs):
        for gpu, cpu in zip(on_gpu[index], train_alone(spec, data), strict=True):
            np.testing.assert_allclose(gpu.features, cpu.features, atol=1e-4)
