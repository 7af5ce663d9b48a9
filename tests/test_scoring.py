"""SVM scores, the inner CV of svm_tuning, R², the Stats baseline's features, confusion matrices."""

import math

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import confusion_matrix as sklearn_confusion
from sklearn.metrics import r2_score

from simsvm.data.frames import FrameStore, Normaliser, frame_statistics
from simsvm.exceptions import ParameterError
from simsvm.experiment.protocol import FixedFeaturesJob, FoldEvaluator
from simsvm.experiment.scoring import SvmChoice, SvmGrid, r_squared, score_predictions, tune_svm
from simsvm.model.kernels import make_kernel
from simsvm.report.confusion import best_approach, confusion_matrix
from simsvm.train.spec import Snapshot

GRID = SvmGrid(C=(0.01, 1.0, 100.0), gamma=(0.5,), folds=3)


def _blobs(seed=0):
    """Two classes of 30 files in 2-d, and 30 poisoned test files: class 1's region, labelled 0."""
    rng = np.random.default_rng(seed)
    labels = np.repeat([0, 1], 30)
    features = rng.normal(size=(60, 2)) + labels[:, None] * 2.5
    poison = rng.normal(size=(30, 2)) * 0.3 + 2.5
    return features, labels, poison, np.zeros(30, dtype=int)


def _evaluator(train_targets, test_targets, *, task="classification", grid=GRID, approaches=("RBF-SL",)):
    return FoldEvaluator(
        dataset="x",
        protocol="cv",
        task=task,
        target_names=("a", "b") if task == "classification" else ("valence", "arousal"),
        approaches=approaches,
        fold=0,
        seed=1,
        n_train=len(train_targets),
        train_targets=train_targets,
        test_targets=test_targets,
        svm_kernel=make_kernel("rbf"),
        svm_c=1.0,
        job="fold00-rbf",
        svm_grid=grid,
        svm_seed=7,
    )


def test_the_inner_cv_never_sees_a_test_file():
    features, labels, poison, poison_labels = _blobs()
    clean = tune_svm(features, labels, task="classification", kernel=make_kernel("rbf"), grid=GRID, seed=7)
    with_poison = tune_svm(
        np.vstack([features, poison]),
        np.concatenate([labels, poison_labels]),
        task="classification",
        kernel=make_kernel("rbf"),
        grid=GRID,
        seed=7,
    )
    assert clean != with_poison  # the poisoned files would change the chosen C, were they seen
    evaluation = _evaluator(labels, poison_labels)(
        Snapshot(epoch=3, train_loss=0.5, features=np.vstack([features, poison]))
    )
    (accuracy,) = [row for row in evaluation.rows if row["metric"] == "accuracy"]
    assert (accuracy["svm_c"], accuracy["svm_gamma"]) == (clean[0].C, clean[0].gamma)


def test_tuning_picks_the_best_inner_score_and_names_its_values():
    features, labels, _, _ = _blobs()
    grid = SvmGrid(C=(1.0,), gamma=(1e-6, 0.5), folds=3)  # a vanishing gamma makes every file alike
    (choice,) = tune_svm(
        features, labels, task="classification", kernel=make_kernel("rbf"), grid=grid, seed=0
    )
    assert choice == SvmChoice(C=1.0, gamma=0.5)


def test_regression_tunes_each_target_and_the_mean_row_has_no_single_choice():
    rng = np.random.default_rng(2)
    features = rng.normal(size=(80, 3))
    # valence follows the first feature smoothly, arousal a sharp function: different widths win
    targets = np.column_stack([features[:, 0], np.sign(np.sin(6 * features[:, 1]))])
    grid = SvmGrid(C=(1.0,), gamma=(0.01, 10.0), folds=3)
    choices = tune_svm(
        features[:60], targets[:60], task="regression", kernel=make_kernel("rbf"), grid=grid, seed=0
    )
    assert len(choices) == 2
    evaluator = _evaluator(targets[:60], targets[60:], task="regression", grid=grid)
    rows = evaluator(Snapshot(epoch=1, train_loss=0.1, features=features)).rows
    by_target = {row["target"]: row for row in rows if row["metric"] == "pearson_r"}
    assert [by_target[t]["svm_gamma"] for t in ("valence", "arousal")] == [c.gamma for c in choices]
    assert choices[0].gamma == 0.01 and choices[1].gamma == 10.0  # each target its own width
    assert math.isnan(by_target["mean"]["svm_gamma"])  # so the mean has no single setting
    assert {row["metric"] for row in rows} == {"pearson_r", "r2", "train_loss"}


@pytest.mark.parametrize(
    ("values", "kernel", "message"),
    [
        ({"C": [1], "gamma": [0.5], "fold": 3}, "rbf", r"svm_tuning: unknown key\(s\) \['fold'\]"),
        ({"gamma": [0.5]}, "rbf", "needs a list C"),
        ({"C": [1]}, "rbf", "the rbf SVM needs a list gamma"),
        ({"C": [1], "gamma": [0.5]}, "cosine", r"gamma applies to the rbf\b.* only"),
        ({"C": [], "gamma": [0.5]}, "rbf", r"svm_tuning.C: expected a non-empty list"),
        ({"C": [1, -2], "gamma": [0.5]}, "rbf", r"svm_tuning.C: values must be positive numbers, got -2"),
        ({"C": [1], "gamma": [0.5], "folds": 1}, "rbf", r"svm_tuning.folds: must be an integer >= 2"),
    ],
)
def test_a_bad_tuning_grid_names_its_key(values, kernel, message):
    with pytest.raises(ParameterError, match=message):
        SvmGrid.from_dict(values, kernel=kernel)


def test_r_squared_is_sklearns_and_sits_beside_pearson_r():
    rng = np.random.default_rng(0)
    actual, predicted = rng.normal(size=(50, 2)), rng.normal(size=(50, 2))
    predicted[:, 1] = actual[:, 1] * 0.8 + 0.1
    for j in range(2):
        assert r_squared(predicted[:, j], actual[:, j]) == pytest.approx(
            r2_score(actual[:, j], predicted[:, j])
        )
    scores = score_predictions(predicted, actual, task="regression", target_names=("v", "a"))
    assert set(scores) == {"pearson_r", "r2"}
    assert scores["r2"]["mean"] == pytest.approx(np.mean([scores["r2"]["v"], scores["r2"]["a"]]))
    assert math.isnan(r_squared(np.arange(3.0), np.ones(3)))  # no variance to explain


def test_stats_features_are_standardised_frame_statistics_whatever_the_normalisation():
    rng = np.random.default_rng(0)
    sequences = [rng.normal(loc=i, scale=1 + i, size=(20 + 3 * i, 4)) for i in range(6)]
    store = FrameStore(sequences)
    train, test = (0, 2, 4, 5), (1, 3)
    # by hand: each file's normalised frames, their mean and s.d. over time, standardised on training files
    normaliser = Normaliser().fit(store, train)
    summaries = np.array(
        [
            np.concatenate([normaliser.transform(s).mean(axis=0), normaliser.transform(s).std(axis=0)])
            for s in sequences
        ]
    )
    mean, spread = summaries[list(train)].mean(axis=0), summaries[list(train)].std(axis=0)
    expected = (summaries[list(train + test)] - mean) / spread
    seen = {}

    def evaluator(snapshot):
        seen["features"] = snapshot.features
        return _evaluator(np.array([0, 1, 0, 1]), np.array([0, 1]), grid=None, approaches=("Stats",))(
            snapshot
        )

    job = FixedFeaturesJob(
        name="fold00-stats",
        approach="Stats",
        train_indices=train,
        test_indices=test,
        epochs=(0, 5, 10),
        evaluator=evaluator,
    )
    evaluations = job(frame_statistics(store))
    np.testing.assert_allclose(seen["features"], expected, atol=1e-5)
    assert [e.epoch for e in evaluations] == [0, 5, 10]
    assert all(row["epoch"] == e.epoch for e in evaluations for row in e.rows)
    assert not any(row["metric"] == "train_loss" for row in evaluations[0].rows)  # nothing trained


def test_confusion_matrix_counts_as_sklearn_and_best_approach_beside_nn():
    rng = np.random.default_rng(0)
    classes = ["blues", "jazz", "rock"]
    actual = rng.choice(classes, size=40)
    predicted = np.where(rng.random(40) < 0.6, actual, rng.choice(classes, size=40))
    predictions = pd.DataFrame(
        {"approach": "RBF-SL", "fold": np.arange(40) % 4, "actual": actual, "predicted": predicted}
    )
    counts = confusion_matrix(predictions, "RBF-SL")
    np.testing.assert_array_equal(counts.to_numpy(), sklearn_confusion(actual, predicted, labels=classes))
    assert list(counts.index) == classes == list(counts.columns)
    table = pd.DataFrame(
        {
            "approach": ["NN", "FL", "RBF-SL", "Stats", "FL", "RBF-SL"],
            "epoch": [9, 9, 9, 9, 3, 3],
            "metric": "accuracy",
            "value": [0.9, 0.5, 0.7, 0.6, 0.95, 0.1],
        }
    )
    assert best_approach(table) == "RBF-SL"  # NN left out; the last epoch decides
