import json
import logging
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

from helpers import TINY_RUN
from simsvm.data.datasets import emotify
from simsvm.exceptions import DataError, ParameterError, ResultsError
from simsvm.experiment.config import ExperimentConfig
from simsvm.experiment.partitions import cv_folds
from simsvm.experiment.results import COLUMNS, load_metadata, load_predictions
from simsvm.experiment.run import run_experiment
from simsvm.train.backends import SerialBackend


def _config(synth_root, tmp_path, dataset="gtzan", **changes):
    values = {
        "name": "tiny",
        "dataset": dataset,
        "data_dir": str(synth_root / dataset),
        "results_dir": str(tmp_path / "results"),
        "cache_dir": str(tmp_path / "cache"),
        **TINY_RUN,
    }
    return ExperimentConfig.from_dict({**values, **changes})


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_cv_folds_are_disjoint_cover_the_data_and_stratify(task):
    rng = np.random.default_rng(0)
    targets = np.repeat(np.arange(4), [10, 20, 30, 40]) if task == "classification" else rng.random((100, 2))
    folds = cv_folds(targets, task=task, n_folds=10, seed=3)
    tests = [test for _, test in folds]
    assert sorted(np.concatenate(tests).tolist()) == list(range(100))
    for train, test in folds:
        assert not set(train) & set(test) and len(train) + len(test) == 100
        if task == "classification":
            assert np.bincount(targets[test], minlength=4).tolist() == [1, 2, 3, 4]
    assert all(
        np.array_equal(a[1], b[1])
        for a, b in zip(folds, cv_folds(targets, task=task, n_folds=10, seed=3), strict=True)
    )


def test_classification_run_writes_the_full_table(synth_root, tmp_path):
    config = _config(synth_root, tmp_path)
    table = run_experiment(config)
    assert tuple(table.columns) == COLUMNS
    # 2 folds x epochs {0, 1, 2} x (5 approaches x (accuracy + train_loss) + Stats' accuracy)
    assert len(table) == 2 * 3 * (5 * 2 + 1)
    assert not table.duplicated(["approach", "fold", "epoch", "target", "metric"]).any()
    accuracy = table[table.metric == "accuracy"]
    assert accuracy.value.between(0, 1).all()
    # NN and FL read the same network: identical losses and seeds
    nn_rows, fl_rows = (table[(table.approach == a) & (table.metric == "train_loss")] for a in ("NN", "FL"))
    np.testing.assert_array_equal(nn_rows.value.to_numpy(), fl_rows.value.to_numpy())
    assert set(nn_rows.seed) == set(fl_rows.seed)
    run_dir = tmp_path / "results" / "tiny"
    saved = pd.read_csv(run_dir / "results.csv")
    assert len(saved) == len(table)
    for name in ("parameters.yaml", "metadata.json"):
        assert (run_dir / name).is_file()
    # Stats trains nothing: one score per fold, the same at every epoch, its SVM's gamma 1/160
    stats = table[table.approach == "Stats"]
    assert set(stats.metric) == {"accuracy"} and (stats.groupby("fold").value.nunique() == 1).all()
    assert np.allclose(stats.svm_gamma, 1 / 160) and np.allclose(stats.svm_c, 1.0)
    svm_rows = table[table.approach.isin(["FL", "RBF-SL"]) & (table.metric == "accuracy")]
    assert np.allclose(svm_rows.svm_gamma, 0.5) and table[table.approach == "NN"].svm_c.isna().all()
    # the last epoch's test predictions: every test file once per approach, and they give the accuracy
    predictions = load_predictions(run_dir)
    assert set(predictions.epoch) == {2}
    n_files = load_metadata(run_dir)["load_report"]["used"]
    assert (predictions.groupby("approach").track.agg(["nunique", "size"]) == n_files).all().all()
    last = table[(table.epoch == 2) & (table.metric == "accuracy")]
    for (approach, fold), rows in predictions.groupby(["approach", "fold"]):
        accuracy = (rows.predicted == rows.actual).mean()
        assert accuracy == pytest.approx(last[(last.approach == approach) & (last.fold == fold)].value.item())


def test_regression_run_reports_r_per_target_and_mean(synth_root, tmp_path):
    table = run_experiment(_config(synth_root, tmp_path, dataset="emotify", approaches=["RBF-SL", "NN"]))
    r = table[table.metric == "pearson_r"]
    assert set(r.target) == {*emotify.EMOTIONS, "mean"}
    assert len(r) == 2 * 2 * 3 * 10
    per_target = r[r.target != "mean"].groupby(["approach", "fold", "epoch"]).value.mean()
    np.testing.assert_allclose(
        r[r.target == "mean"].set_index(["approach", "fold", "epoch"]).value.sort_index(),
        per_target.sort_index(),
    )


def test_same_seed_same_table_other_seed_differs(synth_root, tmp_path):
    first = run_experiment(_config(synth_root, tmp_path, name="a", approaches=["RBF-SL", "FL"]))
    second = run_experiment(_config(synth_root, tmp_path, name="b", approaches=["RBF-SL", "FL"]))
    pd.testing.assert_frame_equal(first, second)
    third = run_experiment(_config(synth_root, tmp_path, name="c", approaches=["RBF-SL", "FL"], seed=1))
    assert not np.allclose(first.value.fillna(0), third.value.fillna(0))


def test_the_gpu_arrangement_gives_the_table_of_one_network_at_a_time(synth_root, tmp_path):
    """What backend 'cuda' does, on the CPU: every network of the run in one stack, the snapshots
    read in one pass and evaluated (SVM refits) by worker processes while training goes on."""
    one_at_a_time = run_experiment(_config(synth_root, tmp_path, name="serial"))
    arranged = SerialBackend(threads=1, stack_size=None, evaluation_workers=2)
    together = run_experiment(_config(synth_root, tmp_path, name="stacked"), backend=arranged)
    assert len(together) == len(one_at_a_time) > 0
    pd.testing.assert_frame_equal(together, one_at_a_time, check_exact=False, atol=1e-6)


def _networks_done(jobs_folder):
    """Finished network jobs (the Stats baseline's jobs finish before any network starts)."""
    return [path for path in jobs_folder.glob("*.csv") if not path.stem.endswith("-stats")]


def test_killed_run_resumes_to_the_same_table(synth_root, tmp_path):
    clean = run_experiment(_config(synth_root, tmp_path, name="clean", epochs=4))
    config = _config(synth_root, tmp_path, name="killed", epochs=4)
    parameters = tmp_path / "killed.yaml"
    import yaml

    parameters.write_text(yaml.safe_dump(config.to_dict()))
    process = subprocess.Popen(
        [sys.executable, "-m", "simsvm.cli", "run", str(parameters)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    jobs = tmp_path / "results" / "killed" / "jobs"
    deadline = time.time() + 120
    while time.time() < deadline and process.poll() is None and len(_networks_done(jobs)) < 2:
        time.sleep(0.05)
    assert process.poll() is None, process.stderr.read().decode()
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    finished_before = len(_networks_done(jobs))
    assert 2 <= finished_before < 8
    assert not (tmp_path / "results" / "killed" / "results.csv").exists()
    resumed = run_experiment(config)
    pd.testing.assert_frame_equal(resumed, clean)
    metadata = __import__("json").loads((tmp_path / "results" / "killed" / "metadata.json").read_text())
    first_session, second_session = metadata["sessions"]
    assert first_session["finished"] is None  # the killed one
    assert second_session["jobs_resumed"] == finished_before
    assert second_session["jobs_trained"] == 8 - finished_before


def test_resuming_with_other_parameters_is_refused(synth_root, tmp_path):
    run_experiment(_config(synth_root, tmp_path, approaches=["FL"]))
    with pytest.raises(ResultsError, match="epochs"):
        run_experiment(_config(synth_root, tmp_path, approaches=["FL"], epochs=3))
    # execution-only keys may change
    run_experiment(_config(synth_root, tmp_path, approaches=["FL"], backend="processes", workers=1))


def test_matmul_precision_is_scientific_and_recorded(synth_root, tmp_path):
    run_experiment(_config(synth_root, tmp_path, approaches=["FL"]))
    with pytest.raises(ResultsError, match="matmul_precision"):
        run_experiment(_config(synth_root, tmp_path, approaches=["FL"], matmul_precision="bf16"))
    metadata = json.loads(next((tmp_path / "results").glob("*/metadata.json")).read_text())
    assert [session["matmul_products"] for session in metadata["sessions"]] == ["fp32"]
    assert [session["gru_loop"] for session in metadata["sessions"]] == ["pytorch"]


def test_missing_data_folder_is_named(tmp_path):
    config = ExperimentConfig.from_dict(
        {
            "name": "x",
            "dataset": "gtzan",
            "data_dir": str(tmp_path / "nowhere"),
            "results_dir": str(tmp_path / "r"),
            **TINY_RUN,
        }
    )
    with pytest.raises(DataError, match="nowhere"):
        run_experiment(config)


def test_train_only_normalisation_runs(synth_root, tmp_path):
    table = run_experiment(_config(synth_root, tmp_path, approaches=["Cos-SL"], normalisation="train_only"))
    assert len(table) == 2 * 3 * 2


def test_broken_and_short_audio_are_skipped_or_padded_and_reported(synth_root, tmp_path):
    import json
    import shutil

    from helpers import write_tone

    folder = shutil.copytree(synth_root / "gtzan", tmp_path / "gtzan")
    truncated = folder / "genres" / "jazz" / "jazz.00001.au"
    truncated.write_bytes(truncated.read_bytes()[:20])  # a header cut short
    short = folder / "genres" / "rock" / "rock.00002.au"
    write_tone(short, frequency=220.0, seconds=1.0)  # 41 frames, less than one excerpt
    config = _config(synth_root, tmp_path, data_dir=str(folder), approaches=["RBF-SL"], excerpt_length=100)
    table = run_experiment(config)
    report = json.loads((tmp_path / "results" / "tiny" / "metadata.json").read_text())["load_report"]
    assert report["indexed"] == 30 and report["used"] == 29
    assert [what for what, _ in report["skipped"]] == [str(truncated)]
    assert report["padded"] == ["rock.00002"]
    assert set(table.fold) == {0, 1}


def test_fixed_split_protocol(synth_root, tmp_path):
    config = _config(
        synth_root,
        tmp_path,
        dataset="mediaeval2013",
        protocol="split",
        train_splits=["development"],
        test_split="evaluation",
        approaches=["RBF-SL", "NN"],
    )
    table = run_experiment(config)
    assert set(table.protocol) == {"split"} and set(table.fold) == {0}
    assert set(table[table.metric == "pearson_r"].target) == {"valence", "arousal", "mean"}
    with pytest.raises(ParameterError, match="validation"):
        run_experiment(config.replace(name="other", test_split="validation"))


def test_random_splits_protocol_and_its_significance(synth_root, tmp_path):
    from simsvm.experiment.stats import run_significance

    config = _config(
        synth_root,
        tmp_path,
        protocol="random_splits",
        splits=4,
        test_share=0.2,
        approaches=["NN", "FL", "RBF-SL", "Stats"],
    )
    table = run_experiment(config)
    assert set(table.protocol) == {"random_splits"} and set(table.fold) == {0, 1, 2, 3}
    significance = run_significance(tmp_path / "results" / "tiny", epochs=(0, 2))
    assert list(significance.comparison) == [f"RBF-SL vs {b}" for b in ("NN", "FL", "Stats") for _ in (0, 2)]
    assert set(significance.splits) == {4} and set(significance.target) == {"all"}
    assert significance["p corrected"].between(0, 1).all()


def test_regression_significance_per_target_and_on_the_mean(synth_root, tmp_path):
    from simsvm.experiment.stats import run_significance

    config = _config(
        synth_root,
        tmp_path,
        dataset="mediaeval2013",
        protocol="random_splits",
        splits=3,
        test_share=0.2,
        approaches=["NN", "RBF-SL"],
    )
    table = run_experiment(config)
    significance = run_significance(config.run_dir)
    assert list(significance.target) == ["mean", "valence", "arousal"]
    assert set(significance.comparison) == {"RBF-SL vs NN"}
    last = table[(table.epoch == 2) & (table.metric == "pearson_r")]
    for target, mean in zip(significance.target, significance["mean approach"], strict=True):
        assert mean == pytest.approx(last[(last.approach == "RBF-SL") & (last.target == target)].value.mean())
    r2 = table[table.metric == "r2"]
    assert set(r2.target) == {"valence", "arousal", "mean"} and (r2.value <= 1).all()


def test_tuned_svms_record_their_choices(synth_root, tmp_path):
    grid = {"C": [0.5, 2.0], "gamma": [0.1, 1.0], "folds": 2}
    config = _config(
        synth_root, tmp_path, dataset="mediaeval2013", approaches=["FL", "Stats"], svm_tuning=grid
    )
    table = run_experiment(config)
    scored = table[table.metric == "pearson_r"]
    per_target = scored[scored.target != "mean"]
    assert set(per_target.svm_c) <= {0.5, 2.0} and set(per_target.svm_gamma) <= {0.1, 1.0}
    assert set(per_target.approach) == {"FL", "Stats"}
    # a tuned run is another run: the grid is part of the science
    assert config.parameters_hash() != config.replace(svm_tuning=None).parameters_hash()


def test_a_tuned_svm_stuck_on_its_grids_edge_is_said_in_the_log(synth_root, tmp_path, caplog):
    # a grid of two values: every choice is an edge, and the log names the edge most fits chose
    grid = {"C": [0.5, 2.0], "gamma": [0.1, 1.0], "folds": 2}
    with caplog.at_level(logging.WARNING, logger="simsvm"):
        table = run_experiment(
            _config(synth_root, tmp_path, dataset="mediaeval2013", approaches=["Stats"], svm_tuning=grid)
        )
    logged = [r.getMessage() for r in caplog.records if "svm_tuning chose" in r.getMessage()]
    fits = table[
        (table.metric == "pearson_r") & (table.target != "mean") & (table.epoch == table.epoch.max())
    ]
    for parameter, column, (low, high) in (("C", "svm_c", (0.5, 2.0)), ("gamma", "svm_gamma", (0.1, 1.0))):
        at_low, at_high = int((fits[column] == low).sum()), int((fits[column] == high).sum())
        if at_low == at_high:
            continue  # no majority: nothing to say
        value, edge, count = (low, "smallest", at_low) if at_low > at_high else (high, "largest", at_high)
        expected = f"{parameter} = {value:g}, the {edge} value of its grid"
        assert any(expected in m and f"Stats in {count} of {len(fits)}" in m for m in logged), logged
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="simsvm"):
        run_experiment(
            _config(synth_root, tmp_path, dataset="mediaeval2013", name="untuned", approaches=["Stats"])
        )
    assert not [r for r in caplog.records if "svm_tuning" in r.getMessage()]


def test_too_few_files_per_class_for_the_inner_folds_fails_before_training(synth_root, tmp_path):
    grid = {"C": [1.0], "gamma": [0.5], "folds": 3}
    config = _config(synth_root, tmp_path, approaches=["RBF-SL"], svm_tuning=grid)  # 3 files per genre
    with pytest.raises(
        ParameterError, match=r"svm_tuning.folds: 3 inner folds but a class has 1 training files in fold 0"
    ):
        run_experiment(config)
    assert not (tmp_path / "results" / "tiny" / "jobs").exists()


def test_unit_target_scale_and_the_plain_norm_reach_the_loss(synth_root, tmp_path):
    """MediaEval annotations on [0, 1] in the stored features' A, and a run with eq. 7's plain norm."""
    from simsvm.experiment.results import load_features

    config = _config(
        synth_root,
        tmp_path,
        dataset="mediaeval2013",
        approaches=["Cos-SL"],
        target_scale="unit",
        similarity_norm="frobenius",
    )
    table = run_experiment(config)
    assert set(table.approach) == {"Cos-SL"}
    stored = load_features(config.run_dir, "fold00-cosine")
    assert 0 <= stored["annotations"].min() and stored["annotations"].max() <= 1
    raw = run_experiment(
        _config(synth_root, tmp_path, dataset="mediaeval2013", approaches=["Cos-SL"], name="raw")
    )
    assert not np.allclose(raw.value.to_numpy(), table.value.to_numpy(), equal_nan=True)


def test_unit_target_scale_of_a_table_uses_each_training_part(synth_root, tmp_path):
    """A table says nothing of its scale: each fold's training files span [0, 1] in the loss's A."""
    from simsvm.experiment.results import load_features

    options = {"table": "annotations.csv", "target_columns": ["valence", "arousal"]}
    config = _config(
        synth_root,
        tmp_path,
        dataset="table",
        dataset_options=options,
        approaches=["RBF-SL"],
        target_scale="unit",
    )
    run_experiment(config)
    for fold in (0, 1):
        stored = load_features(config.run_dir, f"fold{fold:02d}-rbf")
        train = stored["annotations"][: stored["n_train"]]
        np.testing.assert_allclose(train.min(axis=0), 0.0, atol=1e-6)
        np.testing.assert_allclose(train.max(axis=0), 1.0, atol=1e-6)
    # a target without range cannot be mapped (nor scored), and says so before training
    flat = tmp_path / "flat"
    flat.mkdir()
    lines = (synth_root / "table" / "annotations.csv").read_text().splitlines()
    header = lines[0].split(",")
    column = header.index("arousal")
    rows = [line.split(",") for line in lines[1:]]
    for row in rows:
        row[column] = "5"
        (flat / row[0]).parent.mkdir(parents=True, exist_ok=True)
        (flat / row[0]).symlink_to(synth_root / "table" / row[0])
    (flat / "annotations.csv").write_text("\n".join(",".join(r) for r in [header, *rows]) + "\n")
    with pytest.raises(DataError, match=r"target 'arousal' is 5\.0 for every track"):
        run_experiment(config.replace(name="flat", data_dir=str(flat)))
