"""A file's features depend on the file alone: not on the files beside it in a snapshot, nor its row.

Snapshot rows are in an order that correlates with the classes (by length, then by dataset
order, which for a folders layout is by class), so features that differed by a row's position,
even in their last bits, let an SVM separate identical files by rounding noise.  These tests
put the same sequence among others, at other rows, in batches of other sizes and lengths, and
ask for bit-identical features (``torch.equal``), in every arithmetic a CPU snapshot can take.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from helpers import TINY_RUN, small_spec, write_tone
from simsvm.data.frames import FrameStore
from simsvm.engine import fused
from simsvm.engine.cpu import cpu_has_bf16
from simsvm.engine.recurrence import LOW_RECURRENT_ROWS
from simsvm.engine.stacked import StackedNetworks
from simsvm.experiment.config import ExperimentConfig
from simsvm.experiment.run import run_experiment
from simsvm.model.kernels import make_kernel
from simsvm.model.network import Network, NetworkStack
from simsvm.train.loop import train_stack
from simsvm.train.spec import TrainingData

needs_bf16 = pytest.mark.skipif(
    not cpu_has_bf16() or fused.fused_gru_ops() is None,
    reason="the compiled bf16 path needs a CPU with bfloat16 products and a C++ compiler",
)

N_INPUTS = 80
# (backend, precision, rows of a snapshot batch): the three arithmetics of a CPU snapshot
ARITHMETICS = [
    pytest.param("stacked", "fp32", 128, id="fp32 stacked"),
    pytest.param("stacked", "bf16", 512, id="bf16 compiled", marks=needs_bf16),
    pytest.param("reference", "fp32", 128, id="nn.GRU reference"),
]


def _stack(backend: str, hidden_sizes=(100, 50), n_models: int = 1, seed: int = 0):
    networks = []
    for model in range(n_models):
        torch.manual_seed(seed + model)
        networks.append(Network(N_INPUTS, hidden_sizes))
    return (NetworkStack if backend == "reference" else StackedNetworks).from_networks(networks)


def _batch(sequences: list[torch.Tensor], precision: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Sequences ``(length, n_inputs)`` as a zero-padded time-major batch and their lengths."""
    lengths = torch.tensor([len(sequence) for sequence in sequences])
    frames = torch.zeros(int(lengths.max()), len(sequences), N_INPUTS)
    for row, sequence in enumerate(sequences):
        frames[: len(sequence), row] = sequence
    return frames.to(torch.bfloat16 if precision == "bf16" else torch.float32), lengths


@pytest.mark.parametrize(("backend", "precision", "rows"), ARITHMETICS)
def test_a_sequence_has_the_same_features_wherever_it_sits_and_whatever_shares_its_batch(
    backend, precision, rows
):
    """Copies of one sequence alone, then at the first, a middle and the last row among others
    longer and shorter than it, in batches of 1 to ``rows`` rows, read in chunks as snapshots do."""
    stack = _stack(backend)
    generator = torch.Generator().manual_seed(1)
    target = torch.randn(70, N_INPUTS, generator=generator)
    chunk = 25 if precision == "bf16" else 40  # chunk boundaries inside the sequence
    features = []
    with torch.inference_mode():
        for size in (1, 2, 3, 17, rows):
            batch = _batch([target] * size, precision)
            values = stack.features(*batch, chunk=chunk, precision=precision, rows=rows)[0]
            features += list(values)
            others = [
                torch.randn(int(length), N_INPUTS, generator=generator)
                for length in torch.randint(10, 130, (size,), generator=generator)
            ]
            for position in sorted({0, size // 2, size - 1}):
                sequences = [*others[:position], target, *others[position + 1 :]]
                values = stack.features(
                    *_batch(sequences, precision), chunk=chunk, precision=precision, rows=rows
                )
                features.append(values[0, position])
    assert all(torch.equal(value, features[0]) for value in features)


@pytest.mark.parametrize(("backend", "precision", "rows"), ARITHMETICS)
def test_a_batch_larger_than_its_rows_is_read_in_blocks_of_that_many(backend, precision, rows):
    stack = _stack(backend, hidden_sizes=(12, 6), n_models=2)
    frames = torch.randn(60, 1, N_INPUTS, generator=torch.Generator().manual_seed(2))
    frames = frames.expand(60, rows + 3, N_INPUTS).to(
        torch.bfloat16 if precision == "bf16" else torch.float32
    )
    with torch.inference_mode():
        values = stack.features(frames, precision=precision, rows=rows)
    assert values.shape == (2, rows + 3, 6)
    assert all(torch.equal(values[:, row], values[:, 0]) for row in range(rows + 3))


def _data_with_copies(rows: int) -> tuple[TrainingData, list[int]]:
    """``rows + 4`` random sequences, six of them one same sequence of 40 frames, and where.

    The first ``rows`` files but the copies among them are shorter (20-39 frames), the rest
    longer (41-59), so that sorted by length, as a snapshot reads them, the copies take rows
    ``rows - 3`` to ``rows + 2``: three end the first batch of ``rows`` files, three begin the
    second, of four longer rows.
    """
    rng = np.random.default_rng(3)
    n_files = rows + 4
    lengths = np.where(
        np.arange(n_files) < rows, rng.integers(20, 40, n_files), rng.integers(41, 60, n_files)
    )
    frames = [rng.standard_normal((int(length), N_INPUTS)).astype(np.float32) for length in lengths]
    copy = rng.standard_normal((40, N_INPUTS)).astype(np.float32)
    copies = [0, 1, 2, rows, n_files - 2, n_files - 1]
    for index in copies:
        frames[index] = copy
    labels = np.arange(n_files) % 2
    data = TrainingData(
        frames=FrameStore(frames), targets=labels, annotations=np.eye(2)[labels], task="classification"
    )
    return data, copies


@pytest.mark.parametrize(("backend", "precision", "rows"), ARITHMETICS)
def test_copies_of_a_file_get_one_feature_across_the_batches_of_a_snapshot(backend, precision, rows):
    data, copies = _data_with_copies(rows)
    spec = small_spec(
        data,
        "copies",
        "similarity",
        seed=4,
        kernel=make_kernel("rbf"),
        hidden_sizes=(12, 6),
        epochs=0,
        train_indices=tuple(range(8)),
        eval_indices=tuple(range(len(data.targets))),
        matmul_precision=precision,
    )
    (snapshot,) = next(train_stack([spec], data, reference=backend == "reference"))
    values = snapshot.features[copies]
    assert (values == values[0]).all(), np.abs(values - values[0]).max()


def _identical_clips(root, n_per_class: int = 4):
    """A folders-layout dataset: classes A and B each hold ``n_per_class`` copies of one clip.

    Byte-identical copies are left out when a dataset loads (each recording is used once), so
    each copy differs from the others in its title tag only: the same samples, other bytes.
    """
    import soundfile  # not needed by the tests that run on a GPU machine without audio libraries

    source = write_tone(root / "source.wav", frequency=440.0, seconds=3.0)
    audio, rate = soundfile.read(source, dtype="int16")
    noise = np.random.default_rng(5).integers(-400, 400, len(audio), dtype=np.int16)
    audio = audio + noise  # not one frame over and over
    data_dir = root / "identical"
    for label in ("A", "B"):
        (data_dir / label).mkdir(parents=True)
        for index in range(n_per_class):
            with soundfile.SoundFile(
                data_dir / label / f"{label}{index}.wav", "w", rate, 1, subtype="PCM_16"
            ) as clip:
                clip.title = f"copy {label}{index}"
                clip.write(audio)
    return data_dir


@pytest.mark.parametrize("precision", ["fp32", pytest.param("bf16", marks=needs_bf16)])
def test_identical_files_with_two_labels_score_exactly_chance_in_every_approach(tmp_path, precision):
    """Eight byte-identical clips, four labelled A, four B, two folds: whatever any approach
    learns, it sees one input, so it predicts one class for every test file of a fold, and its
    accuracy is the share of that class among them.  Stratified folds hold both classes
    equally, so that share is one half whichever class it predicts."""
    config = ExperimentConfig.from_dict(
        {
            **TINY_RUN,
            "name": "identical",
            "dataset": "folders",
            "data_dir": str(_identical_clips(tmp_path)),
            "results_dir": str(tmp_path / "results"),
            "cache_dir": str(tmp_path / "cache"),
            "approaches": ["NN", "FL", "RBF-SL", "Cos-SL", "Poly-SL", "Stats"],
            "batch_size": 8,
            "matmul_precision": precision,
        }
    )
    table = run_experiment(config)
    run_dir = tmp_path / "results" / "identical"
    for path in sorted((run_dir / "features").glob("*.npz")):
        features = np.load(path)["features"]  # (epochs, files, features)
        assert (features == features[:, :1]).all(), f"{path.name}: identical files, different features"
    predictions = pd.read_csv(run_dir / "predictions.csv")
    for (approach, fold), rows in predictions.groupby(["approach", "fold"]):
        assert rows.predicted.nunique() == 1, f"{approach} tells identical files of fold {fold} apart"
        shares = rows.actual.value_counts(normalize=True)
        expected = shares.get(rows.predicted.iloc[0], 0.0)
        scored = table[(table.approach == approach) & (table.fold == fold) & (table.metric == "accuracy")]
        assert scored.value.max() == scored.value.min() == expected == 0.5
    accuracy = table[table.metric == "accuracy"]
    assert set(accuracy.approach) == set(config.approaches)
    assert (accuracy.value == 0.5).all(), accuracy.groupby("approach").value.agg(["min", "max"])


def test_every_cpu_bf16_snapshot_batch_is_large_enough_for_the_compiled_path():
    """A batch of fewer rows would take the PyTorch path, whose bfloat16 rounds elsewhere."""
    from simsvm.train import loop

    assert loop._SNAPSHOT_FILES["cpu, bf16"] >= LOW_RECURRENT_ROWS
