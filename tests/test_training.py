import dataclasses
import os

import numpy as np
import pytest
import torch

from helpers import failing_evaluation, slow_square, small_spec, train_alone, where_evaluated
from simsvm.exceptions import DataError, ParameterError
from simsvm.model.kernels import make_kernel
from simsvm.train.backends import EvaluationPool, ProcessBackend, SerialBackend
from simsvm.train.jobs import make_backend, train_set


def test_snapshots_schedule_and_shapes(data):
    spec = small_spec(data, "b", "baseline", 1, epochs=5)
    snapshots = list(train_alone(spec, data))
    assert [s.epoch for s in snapshots] == [0, 2, 4, 5]
    assert np.isnan(snapshots[0].train_loss) and all(np.isfinite(s.train_loss) for s in snapshots[1:])
    assert snapshots[0].features.shape == (24, 6) and snapshots[0].outputs.shape == (24, 3)
    assert not np.allclose(snapshots[0].features, snapshots[-1].features)  # the network moved
    similarity = list(train_alone(small_spec(data, "s", "similarity", 1, kernel=make_kernel("rbf")), data))
    assert similarity[-1].outputs is None


def test_same_seed_same_snapshots_and_other_seed_differs(data):
    first = list(train_alone(small_spec(data, "a", "similarity", 5, kernel=make_kernel("cosine")), data))
    second = list(train_alone(small_spec(data, "a", "similarity", 5, kernel=make_kernel("cosine")), data))
    other = list(train_alone(small_spec(data, "a", "similarity", 6, kernel=make_kernel("cosine")), data))
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a.features, b.features)
        assert a.train_loss == b.train_loss or (np.isnan(a.train_loss) and np.isnan(b.train_loss))
    assert not np.allclose(first[-1].features, other[-1].features)


def test_whole_sequence_features_ignore_padding(data):
    """A file's features must not depend on which (longer) files share its evaluation batch."""
    spec = small_spec(data, "p", "similarity", 3, kernel=make_kernel("rbf"), epochs=0)
    together = next(train_alone(spec, data)).features
    alone = next(train_alone(dataclasses.replace(spec, eval_indices=(0,)), data)).features
    np.testing.assert_allclose(alone[0], together[0], atol=1e-6)


@pytest.mark.parametrize(
    "backend", [SerialBackend(threads=1), ProcessBackend(workers=2)], ids=["serial", "processes"]
)
def test_models_trained_in_a_set_equal_models_trained_alone(data, backend):
    specs = [
        small_spec(data, "baseline", "baseline", 11),
        small_spec(data, "rbf", "similarity", 12, kernel=make_kernel("rbf")),
        small_spec(data, "poly", "similarity", 13, kernel=make_kernel("poly")),
    ]
    together = dict(train_set(specs, data, backend=backend))
    assert sorted(together) == [0, 1, 2]
    for index, spec in enumerate(specs):
        alone = list(train_alone(spec, data))
        assert [s.epoch for s in together[index]] == [s.epoch for s in alone]
        for in_set, single in zip(together[index], alone, strict=True):
            np.testing.assert_allclose(in_set.features, single.features, rtol=1e-4, atol=1e-5)
            np.testing.assert_allclose(in_set.train_loss, single.train_loss, rtol=1e-4)


@pytest.mark.parametrize("backend", [SerialBackend(), ProcessBackend(workers=2)], ids=["serial", "processes"])
def test_progress_reports_every_epoch_of_every_network(data, backend):
    specs = [
        small_spec(data, f"n{seed}", "similarity", seed, kernel=make_kernel("rbf"), epochs=3)
        for seed in (1, 2)
    ]
    ticks = []
    results = dict(train_set(specs, data, backend=backend, progress=ticks.append))
    assert sorted(results) == [0, 1]
    assert sum(ticks) == 2 * 3


def test_snapshots_evaluated_by_worker_processes_equal_those_evaluated_in_place(data):
    specs = [
        small_spec(data, "baseline", "baseline", 11),
        small_spec(data, "rbf", "similarity", 12, kernel=make_kernel("rbf")),
        small_spec(data, "cos", "similarity", 13, kernel=make_kernel("cosine")),
    ]
    evaluate = [where_evaluated] * len(specs)
    in_place = dict(
        train_set(specs, data, backend=SerialBackend(threads=1, stack_size=None), evaluate=evaluate)
    )
    beside = dict(
        train_set(
            specs,
            data,
            backend=SerialBackend(threads=1, stack_size=None, evaluation_workers=2),
            evaluate=evaluate,
        )
    )
    for index in range(len(specs)):
        assert [epoch for epoch, _, _ in beside[index]] == [0, 2, 4]
        assert [(e, s) for e, _, s in beside[index]] == [(e, s) for e, _, s in in_place[index]]
        assert {pid for _, pid, _ in in_place[index]} == {os.getpid()}
        assert os.getpid() not in {pid for _, pid, _ in beside[index]}


def test_a_failed_evaluation_in_a_worker_fails_the_set(data):
    spec = small_spec(data, "rbf", "similarity", 12, kernel=make_kernel("rbf"), epochs=1)
    backend = SerialBackend(threads=1, evaluation_workers=1)
    with pytest.raises(DataError, match="evaluation of epoch 0 failed on purpose"):
        list(train_set([spec], data, backend=backend, evaluate=[failing_evaluation]))


def test_evaluation_pool_holds_back_a_trainer_that_runs_ahead():
    with EvaluationPool(1, max_pending=1) as pool:
        futures = []
        for value in range(4):
            futures.append(pool.submit(slow_square, value))
            # with room for one waiting evaluation, each submit waits for the one before
            assert all(future.done() for future in futures[:-1])
        assert [future.result() for future in futures] == [0, 1, 4, 9]
    with EvaluationPool(0) as pool:  # no workers: evaluated at once, here
        assert pool.submit(slow_square, 3.0).result() == 9.0
        assert pool.submit(None, "snapshot").result() == "snapshot"


def test_cuda_backend_takes_its_evaluation_workers_from_workers(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # the constructor touches no device
    assert make_backend("cuda", workers=3).evaluation_workers == 3
    assert make_backend("cuda").evaluation_workers == max(1, (os.cpu_count() or 2) - 1)
    assert make_backend("serial").evaluation_workers == 0
    with pytest.raises(ParameterError, match="evaluation_workers"):
        SerialBackend(evaluation_workers=-1)


@pytest.mark.parametrize("reference", [False, True], ids=["stacked", "nn.GRU"])
def test_training_leaves_the_callers_random_state_alone(data, reference):
    from simsvm.train.loop import train_stack

    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    spec = small_spec(data, "s", "similarity", 5, kernel=make_kernel("rbf"))
    first = [snapshot.features for (snapshot,) in train_stack([spec], data, reference=reference)]
    assert torch.equal(torch.rand(3), expected)
    again = [snapshot.features for (snapshot,) in train_stack([spec], data, reference=reference)]
    for one, other in zip(first, again, strict=True):  # and its own seed still decides the weights
        np.testing.assert_array_equal(one, other)
