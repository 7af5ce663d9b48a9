"""Faults that escaped the checks of tests/test_errors.py: damaged or foreign job files, names that
leave the results folder, two runs of one folder, a damaged frame cache, values that exhaust
memory before any work, and bad input that gave exit 1.  Each test failed on the code before
its fix (see the comment at each)."""

from __future__ import annotations

import json
import logging
import re
import shutil
import time

import numpy as np
import pandas as pd
import pytest
import yaml

from helpers import tiny_run_values, write_tone
from simsvm.cli.main import main
from simsvm.exceptions import ParameterError


def _values(synth_root, tmp_path, **changes) -> dict:
    return tiny_run_values(synth_root, tmp_path, **changes)


def _run(capsys, values: dict | None, tmp_path, *extra: str) -> tuple[int, str]:
    path = tmp_path / "p.yaml"
    if values is not None:
        path.write_text(yaml.safe_dump(values))
    status = main(["run", str(path), *extra])
    return status, capsys.readouterr().err.strip()


def _snapshot(folder) -> dict:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != ".lock"
    }


@pytest.fixture
def finished(synth_root, tmp_path, capsys):
    """A finished tiny run: its values and its folder."""
    values = _values(synth_root, tmp_path)
    status, error = _run(capsys, values, tmp_path)
    assert status == 0, error
    return values, tmp_path / "results" / "bad"


# --- 4: job files carry what they were made with and are checked whole before reuse -------------


def _truncate(path):
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[: len(lines) * 3 // 4]))  # cut at a row boundary, as a full disk does


def _garble(path):
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01  # one digit of one score changes; the table still reads
    path.write_bytes(bytes(data))


def _lose_provenance(path):
    path.with_suffix(".json").unlink()


@pytest.mark.parametrize(
    "damage", [_truncate, _garble, _lose_provenance], ids=["truncated", "garbled", "no json"]
)
def test_a_damaged_job_file_is_named_and_trained_again(damage, finished, tmp_path, capsys, caplog):
    # before: a truncated jobs/<job>.csv counted as finished (15 rows instead of 19 in results.csv)
    _, run_dir = finished
    results = (run_dir / "results.csv").read_bytes()
    job = run_dir / "jobs" / "fold00-baseline.csv"
    damage(job)
    with caplog.at_level(logging.WARNING):
        status, error = _run(capsys, None, tmp_path)
    assert status == 0, error
    assert any(str(job) in r.getMessage() and "trained again" in r.getMessage() for r in caplog.records)
    assert (run_dir / "results.csv").read_bytes() == results  # the same job, trained again
    record = json.loads(job.with_suffix(".json").read_text())
    assert record["rows"] == len(pd.read_csv(job)) and len(record["csv_sha256"]) == 64
    sessions = json.loads((run_dir / "metadata.json").read_text())["sessions"]
    assert [s["jobs_trained"] for s in sessions] == [2, 1]


def test_a_run_folder_without_parameters_is_refused_for_other_parameters(finished, tmp_path, capsys):
    # before: --set svm_c=100 took every job of the svm_c = 1 run and rewrote parameters.yaml to say 100
    _, run_dir = finished
    (run_dir / "parameters.yaml").unlink()
    before = _snapshot(run_dir)
    status, error = _run(capsys, None, tmp_path, "--set", "svm_c=100")
    assert status == 2 and len(error.splitlines()) == 1
    assert f"{run_dir} has no parameters.yaml" in error and "not made with these parameters" in error
    assert _snapshot(run_dir) == before


def test_a_run_folder_without_parameters_resumes_when_its_jobs_name_them(finished, tmp_path, capsys):
    values, run_dir = finished
    results = (run_dir / "results.csv").read_bytes()
    (run_dir / "parameters.yaml").unlink()
    status, error = _run(capsys, None, tmp_path)
    assert status == 0, error
    assert yaml.safe_load((run_dir / "parameters.yaml").read_text())["svm_c"] == values.get("svm_c", 1.0)
    assert (run_dir / "results.csv").read_bytes() == results
    assert json.loads((run_dir / "metadata.json").read_text())["sessions"][-1]["jobs_trained"] == 0


# --- 6: names are one folder; a configuration changed in Python is checked again ---------------

BAD_NAMES = ["../escaped", "a/b", "a\\b", "..", "", ".hidden", " padded"]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_a_run_name_must_be_one_folder(name, synth_root, tmp_path, capsys):
    status, error = _run(capsys, _values(synth_root, tmp_path, name=name), tmp_path)
    assert status == 2 and "name: " in error and len(error.splitlines()) == 1
    assert not (tmp_path / "results").exists() and not (tmp_path / "escaped").exists()


@pytest.mark.parametrize("name", ["../escaped", "a/b", ""])
def test_a_batch_name_must_be_one_folder(name, synth_root, tmp_path):
    # before: simsvm batch ... --name ../escaped wrote beside results/
    from simsvm.cli.batch import run_batch

    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(_values(synth_root, tmp_path)))
    with pytest.raises(ParameterError, match=r"batch name \(--name\)"):
        run_batch([path], batch=name, results_dir=tmp_path / "results", summary=False, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.yaml"]


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("name", "../x", r"name: '\.\./x' must be one plain folder name"),
        ("epochs", 0, r"epochs: must be >= 1"),
        ("folds", 1, r"folds: cross-validation needs at least 2"),
    ],
)
def test_a_configuration_changed_in_python_is_checked_again(field, value, message, synth_root, tmp_path):
    # before: cfg.name = "../x" wrote outside results_dir, epochs = 0 ran, folds = 1 crashed in scikit-learn
    from simsvm import ExperimentConfig, run_experiment

    config = ExperimentConfig.from_dict(_values(synth_root, tmp_path))
    setattr(config, field, value)
    with pytest.raises(ParameterError, match=rf"run_experiment: {message}"):
        run_experiment(config)
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_run_experiment_names_what_it_expects(synth_root, tmp_path):
    # before: a TypeError from inside (a dict has no attribute run_dir)
    from simsvm import run_experiment

    with pytest.raises(ParameterError, match=r"expected an ExperimentConfig .* got dict"):
        run_experiment(_values(synth_root, tmp_path))


# --- 7: one run at a time in a run folder --------------------------------------------------------


def test_a_second_run_of_a_folder_is_refused_naming_the_first(finished, tmp_path, capsys):
    # before: no lock; both runs trained everything and the metadata of the first was overwritten
    import os
    import socket

    from simsvm.experiment.lock import RunLock

    _, run_dir = finished
    (run_dir / "results.csv").unlink()  # a run still to finish
    with RunLock(run_dir) as other:  # another open file description: flock conflicts as across processes
        other.acquire()
        before = _snapshot(run_dir)
        started = time.time()
        status, error = _run(capsys, None, tmp_path)
        assert status == 2 and len(error.splitlines()) == 1
        assert f"{run_dir} is in use by another run (pid {os.getpid()} on {socket.gethostname()}" in error
        assert time.time() - started < 10 and _snapshot(run_dir) == before
    status, error = _run(capsys, None, tmp_path)  # released: the run resumes
    assert status == 0, error and (run_dir / "results.csv").is_file()


def test_a_lock_file_left_by_a_dead_run_does_not_block(finished, tmp_path, capsys):
    _, run_dir = finished
    (run_dir / ".lock").write_text("pid 999999 on elsewhere, since 2020-01-01T00:00:00\n")
    status, error = _run(capsys, None, tmp_path)
    assert status == 0, error


# --- 10: a damaged frame cache is named, discarded and rebuilt; non-finite frames are refused ---


def _cut(path):
    path.write_bytes(path.read_bytes()[:200])


def _garbled_header(path):
    path.write_bytes(b"not an npy file at all" + path.read_bytes()[22:])


def _wrong_shape(path):
    np.save(path, np.zeros((10, 3), dtype=np.float32))


def _nan(path):
    frames = np.load(path)
    frames[3, 5] = np.nan
    np.save(path, frames)


@pytest.mark.parametrize(
    "damage", [_cut, _garbled_header, _wrong_shape, _nan], ids=["cut", "header", "shape", "nan"]
)
def test_a_damaged_cache_entry_is_named_and_extracted_again(damage, synth_root, tmp_path, caplog):
    # before: an internal error naming neither file, until the cache was deleted by hand (NaN: later)
    from simsvm.data.frames import FrameCache, FrameParameters, extract_frames, load_frames

    audio = sorted((synth_root / "gtzan" / "genres" / "jazz").glob("*.au"))[:2]
    load_frames(audio, cache_dir=tmp_path / "cache", progress=False)
    cached = FrameCache(tmp_path / "cache").path_for(audio[0], FrameParameters())
    damage(cached)
    with caplog.at_level(logging.WARNING):
        store, skipped = load_frames(audio, cache_dir=tmp_path / "cache", progress=False)
    assert skipped == []
    messages = [r.getMessage() for r in caplog.records]
    assert any(str(cached) in m and str(audio[0]) in m for m in messages), messages
    np.testing.assert_array_equal(store.sequence(0), extract_frames(audio[0]))


def test_audio_whose_frames_overflow_is_refused_and_never_cached(synth_root, tmp_path, capsys):
    # before: a float WAV at amplitude 1e30 gave NaN frames, cached, and "Input X contains NaN." later
    import soundfile

    folder = shutil.copytree(synth_root / "gtzan", tmp_path / "data" / "gtzan")
    loud = folder / "genres" / "jazz" / "jazz.00000.au"
    audio, rate = soundfile.read(loud)
    soundfile.write(loud, audio * 1e30, rate, subtype="FLOAT")
    values = _values(synth_root, tmp_path, data_dir=str(folder))
    status, error = _run(capsys, values, tmp_path)
    assert status == 0, error
    report = json.loads((tmp_path / "results" / "bad" / "metadata.json").read_text())["load_report"]
    assert [what for what, _ in report["skipped"]] == [str(loud)]
    assert "non-finite frames" in report["skipped"][0][1]
    status, error = _run(capsys, {**values, "skip_unreadable": False, "name": "strict"}, tmp_path)
    assert status == 2 and f"audio file {loud} gives non-finite frames" in error
    cached = list((tmp_path / "cache").rglob("*.npy"))
    assert all(np.isfinite(np.load(path)).all() for path in cached)
    assert len(cached) == report["used"]


# --- 11, 12 and the sense checks: bad input is exit 2, one line, nothing written ---------------

BAD_VALUES = {
    "a trillion epochs": ({"epochs": 10**12}, r"epochs: 1,000,000,000,000 is more than simsvm accepts"),
    "a billion splits": (
        {"protocol": "random_splits", "splits": 10**9, "test_share": 0.5},
        r"splits: 1,000,000,000 is more than",
    ),
    "a huge layer": ({"hidden_sizes": [10**9, 5]}, r"hidden_sizes: \[1000000000, 5\] is too large"),
    "a huge batch": ({"batch_size": 10**9}, r"batch_size: 1,000,000,000 is more than"),
    "a huge excerpt": ({"excerpt_length": 10**12}, r"excerpt_length: 1,000,000,000,000 is more than"),
    "a huge sample rate": ({"sample_rate": 10**12}, r"sample_rate: 1,000,000,000,000 is more than"),
    "too many evaluations": (
        {"epochs": 1_000_000, "eval_every": 1},
        r"eval_every: 1 evaluates each network 1,000,000 times",
    ),
    "more mel bins than frequencies": ({"n_fft": 64, "n_mels": 40}, r"n_mels: 40 mel bins from an FFT of 64"),
    "a negative seed": ({"seed": -1}, r"seed: must be between 0 and 2\*\*32 - 1"),
    "a scheduler that is not an address": (
        {"backend": "dask", "scheduler": "not a url"},
        r"scheduler: 'not a url' is not a scheduler address; expected tcp://host:port",
    ),
    "excerpts longer than every file": (
        {"excerpt_length": 5000},
        r"excerpt_length: 5000 frames is longer than every file of gtzan .* \(the longest has \d+\)",
    ),
    "a test share leaving one class to train on": (
        {"protocol": "random_splits", "splits": 2, "test_share": 0.97},
        r"test_share: the training part of split \d holds one class only",
    ),
}


@pytest.mark.parametrize("case", BAD_VALUES, ids=list(BAD_VALUES))
def test_a_value_that_makes_the_run_meaningless_or_huge_is_refused(case, synth_root, tmp_path, capsys):
    # before: 14 GB in 40 s (epochs), a minute then a traceback (scheduler), exit 1 or a run of nothing
    changes, message = BAD_VALUES[case]
    started = time.time()
    status, error = _run(capsys, _values(synth_root, tmp_path, **changes), tmp_path)
    assert status == 2 and len(error.splitlines()) == 1 and error.startswith("simsvm: error: ")
    assert re.search(message, error), error
    assert time.time() - started < 60
    assert not (tmp_path / "results").exists()


def test_a_parameter_file_that_is_not_utf8_is_named(tmp_path, capsys):
    path = tmp_path / "p.yaml"
    path.write_bytes("name: caf\u00e9\n".encode("latin-1"))
    status = main(["run", str(path)])
    error = capsys.readouterr().err.strip()
    assert status == 2 and f"{path}: not UTF-8 text (byte 0xe9 at offset 9)" in error


def _one_class(folder):
    for other in sorted(p for p in folder.iterdir() if p.is_dir())[1:]:
        shutil.rmtree(other)


def _table_outside(folder):
    shutil.move(folder / "annotations.csv", folder.parent / "annotations.csv")


def _target(value):
    def mutate(folder):
        table = folder / "annotations.csv"
        lines = table.read_text().splitlines()
        cells = lines[3].split(",")
        cells[1] = value
        lines[3] = ",".join(cells)
        table.write_text("\n".join(lines) + "\n")

    return mutate


TABLE = {"table": "annotations.csv", "target_columns": ["valence", "arousal"]}
BAD_DATA = {
    "a single class": ("folders", _one_class, {}, r"every usable file is of one class \('\w+'\)"),
    "a table outside data_dir": (
        "table",
        _table_outside,
        {"dataset_options": {**TABLE, "table": "../annotations.csv"}},
        r"table: '\.\./annotations\.csv' lies outside data_dir",
    ),
    "an infinite target": (
        "table",
        _target("inf"),
        {"dataset_options": TABLE},
        r"annotations\.csv line 4: clips/0002\.wav has targets \{'valence': 'inf', 'arousal': '[\d.]+'\}",
    ),
    "a regression test part of one file": (
        "table",
        lambda folder: None,
        {"dataset_options": TABLE, "protocol": "random_splits", "splits": 2, "test_share": 0.05},
        r"test_share: split 0 tests on 1 file\(s\) of \d+; Pearson's R needs at least 2",
    ),
    "a target of 1e308": (
        "table",
        _target("1e308"),
        {"dataset_options": TABLE},
        r"annotations\.csv line 4: .* each must be a finite number of magnitude below 1e\+12",
    ),
}


@pytest.mark.parametrize("case", BAD_DATA, ids=list(BAD_DATA))
def test_bad_data_is_exit_2_and_writes_nothing(case, tmp_path, capsys, tmp_path_factory):
    # before: exit 1 from scikit-learn (one class, after writing the run folder), from pathlib or the SVR
    from simsvm.data.datasets import synthetic

    key, mutate, changes, message = BAD_DATA[case]
    root = tmp_path / "data"
    synthetic.generate(root, datasets=(key,), clips_per_class=3, duration=3.0, seed=7, progress=False)
    mutate(root / key)
    values = _values(root, tmp_path, dataset=key, data_dir=str(root / key), **changes)
    status, error = _run(capsys, values, tmp_path)
    assert status == 2 and len(error.splitlines()) == 1, error
    assert re.search(message, error), error
    assert not (tmp_path / "results").exists()


def test_a_table_row_outside_data_dir_is_reported_not_fatal(tmp_path):
    # before: an absolute path in the file column raised ValueError from pathlib (exit 1)
    from simsvm.data.datasets import load_dataset

    elsewhere = write_tone(tmp_path / "elsewhere.wav", frequency=440, seconds=1)
    data = tmp_path / "data"
    for n in range(3):
        write_tone(data / f"{n}.wav", frequency=220 * (n + 1), seconds=1)
    (data / "t.csv").write_text(f"file,label\n0.wav,a\n1.wav,b\n2.wav,a\n{elsewhere},b\n")
    dataset = load_dataset("table", data, label_column="label")
    assert len(dataset) == 3
    assert ("t.csv line 5", f"{elsewhere} lies outside data_dir {data}") in dataset.skipped
