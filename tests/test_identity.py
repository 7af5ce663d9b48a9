"""Data identity: a run's data is known by its content, each recording is used once, and nothing
is left out without a word.

Each test reproduces one case of the user report (generated data, 2 folds, tiny networks):
a same-size copy over a clip, a file listed twice, byte-identical files, Ballroom's replicas,
table rows and GTZAN clips in no split, and a regression target that never varies.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

from helpers import tiny_run_values, write_tone
from simsvm.cli.main import main
from simsvm.data.datasets import ballroom, load_dataset
from simsvm.data.frames import FrameCache, FrameParameters, extract_frames
from simsvm.exceptions import DataError, ParameterError
from simsvm.experiment.config import ExperimentConfig


def _values(synth_root, tmp_path, **changes) -> dict:
    return tiny_run_values(synth_root, tmp_path, **{"name": "identity", **changes})


def _run(capsys, values: dict, tmp_path) -> tuple[int, str]:
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(values))
    status = main(["run", str(path)])
    return status, capsys.readouterr().err.strip()


def _snapshot(folder) -> dict:
    """Every result file's bytes; hidden files (a run's lock) are bookkeeping, not results."""
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.name.startswith(".")
    }


# --- item 2: content, not path and size --------------------------------------------------------


def test_a_same_size_copy_over_a_clip_is_refused_on_resume_naming_it(synth_root, tmp_path, capsys):
    copy = shutil.copytree(synth_root / "gtzan", tmp_path / "copy" / "gtzan")
    values = _values(synth_root, tmp_path, data_dir=str(copy))
    status, error = _run(capsys, values, tmp_path)
    assert status == 0, error
    run_dir = tmp_path / "results" / "identity"
    before = _snapshot(run_dir)
    target, source = sorted((copy / "genres" / "jazz").glob("*.au"))[:2]
    assert target.stat().st_size == source.stat().st_size
    shutil.copy2(source, target)  # cp -p: same length, the source's modification time
    status, error = _run(capsys, values, tmp_path)
    assert status == 2 and len(error.splitlines()) == 1, error
    assert f"jazz/{target.name} changed content" in error and "on other data" in error
    assert _snapshot(run_dir) == before


def test_a_run_recorded_before_content_hashes_resumes_and_gains_them(synth_root, tmp_path, capsys):
    values = _values(synth_root, tmp_path)
    assert _run(capsys, values, tmp_path)[0] == 0
    saved = tmp_path / "results" / "identity" / "data.json"
    old = json.loads(saved.read_text())
    old.pop("content", None)  # data.json as simsvm wrote it before content hashes
    saved.write_text(json.dumps(old))
    results = (saved.parent / "results.csv").read_bytes()
    status, error = _run(capsys, values, tmp_path)
    assert status == 0, error
    assert (saved.parent / "results.csv").read_bytes() == results
    content = json.loads(saved.read_text())["content"]
    assert sorted(content) == sorted(old["files"]) and all(len(h) == 32 for h in content.values())


def test_a_replacement_with_the_same_size_and_mtime_gets_fresh_frames(tmp_path):
    path = write_tone(tmp_path / "clip.wav", frequency=300.0, seconds=1.0)
    other = write_tone(tmp_path / "other.wav", frequency=2400.0, seconds=1.0)
    cache = FrameCache(tmp_path / "cache")
    cache.frames(path, FrameParameters())
    stamp = path.stat()
    shutil.copyfile(other, path)
    os.utime(path, ns=(stamp.st_atime_ns, stamp.st_mtime_ns))  # e.g. unpacked from one archive
    assert (path.stat().st_size, path.stat().st_mtime_ns) == (stamp.st_size, stamp.st_mtime_ns)
    served, hit = cache.frames(path, FrameParameters())
    np.testing.assert_array_equal(np.load(served), extract_frames(other))
    assert not hit


def test_content_hashes_are_remembered_across_sessions_until_a_file_changes(tmp_path, monkeypatch):
    from simsvm.data import identity

    files = [write_tone(tmp_path / f"{n}.wav", frequency=300.0 * (n + 1), seconds=0.5) for n in range(3)]
    first = identity.ContentHashes(tmp_path / "cache")
    digests = [first.digest(path) for path in files]
    first.save()
    assert len(set(digests)) == 3
    identity.forget_session()  # what a new process starts with
    read = []
    real = identity.content_digest
    monkeypatch.setattr(identity, "content_digest", lambda path: read.append(path) or real(path))
    second = identity.ContentHashes(tmp_path / "cache")
    assert [second.digest(path) for path in files] == digests and read == []
    shutil.copy2(files[1], files[0])  # same size and mtime as files[1]; a new ctime
    assert second.digest(files[0]) == digests[1] and read == [files[0]]


# --- item 3: one recording, once ----------------------------------------------------------------


def _two_clips(folder):
    write_tone(folder / "clips" / "0000.wav", frequency=300.0, seconds=0.5)
    write_tone(folder / "clips" / "0001.wav", frequency=900.0, seconds=0.5)


def test_one_file_under_two_spellings_with_one_label_is_used_once(tmp_path):
    _two_clips(tmp_path)
    (tmp_path / "t.csv").write_text(
        "file,mood\n./clips/0000.wav,calm\nclips//0000.wav,calm\nclips/0001.wav,tense\n"
    )
    dataset = load_dataset("table", tmp_path, label_column="mood")
    assert dataset.track_ids == ["clips/0000", "clips/0001"]
    assert dataset.skipped == [
        ("t.csv line 3", "clips//0000.wav listed again (as ./clips/0000.wav on line 2)")
    ]


def test_one_file_under_two_labels_is_refused_naming_both_lines(tmp_path):
    _two_clips(tmp_path)
    (tmp_path / "t.csv").write_text(
        "file,mood\n./clips/0000.wav,calm\nclips//0000.wav,tense\nclips/0001.wav,tense\n"
    )
    with pytest.raises(DataError, match=r"t\.csv lines 2 and 3 both list clips/0000\.wav.*'calm'.*'tense'"):
        load_dataset("table", tmp_path, label_column="mood")


def test_a_class_named_twice_is_refused(tmp_path):
    for name, frequency in (("Q1", 300.0), ("Q2", 900.0)):
        write_tone(tmp_path / name / "a.wav", frequency=frequency, seconds=0.5)
    with pytest.raises(ParameterError, match=r"classes names \['Q1'\] more than once"):
        load_dataset("folders", tmp_path, classes=["Q1", "Q1", "Q2"])


def test_byte_identical_files_under_two_names_are_reported_and_one_is_kept(tmp_path):
    write_tone(tmp_path / "calm" / "a.wav", frequency=300.0, seconds=0.5)
    write_tone(tmp_path / "calm" / "b.wav", frequency=600.0, seconds=0.5)
    write_tone(tmp_path / "tense" / "c.wav", frequency=900.0, seconds=0.5)
    shutil.copyfile(tmp_path / "calm" / "a.wav", tmp_path / "tense" / "copy.wav")
    dataset = load_dataset("folders", tmp_path)
    assert dataset.track_ids == ["calm/a", "calm/b", "tense/c"]
    assert dataset.skipped == [
        (
            str(tmp_path / "tense" / "copy.wav"),
            "same audio bytes as calm/a.wav (labelled calm there, tense here)",
        )
    ]


def test_a_link_to_a_file_of_another_class_is_refused(tmp_path):
    write_tone(tmp_path / "calm" / "a.wav", frequency=300.0, seconds=0.5)
    write_tone(tmp_path / "tense" / "c.wav", frequency=900.0, seconds=0.5)
    (tmp_path / "tense" / "link.wav").symlink_to(tmp_path / "calm" / "a.wav")
    with pytest.raises(DataError, match=r"calm/a\.wav and tense/link\.wav are one file .*'calm'.*'tense'"):
        load_dataset("folders", tmp_path)


def test_a_label_list_naming_a_file_twice_uses_it_once(tmp_path):
    _two_clips(tmp_path)
    (tmp_path / "labels.csv").write_text(
        "file,label\nclips/0000.wav,happy\nclips/../clips/0000.wav,happy\nclips/0001.wav,sad\n"
    )
    dataset = load_dataset("lastfm", tmp_path)
    assert dataset.track_ids == ["clips/0000", "clips/0001"]
    assert dataset.skipped == [(str(tmp_path / "clips/../clips/0000.wav"), "same file as clips/0000.wav")]


def test_ballroom_knows_the_thirteen_replicas_sturm_lists():
    assert len(ballroom.REPLICAS) == 13
    assert ("Albums-Fire-08", "Albums-Fire-09") in ballroom.REPLICAS  # filed as ChaChaCha and as Samba
    stems = [stem for pair in ballroom.REPLICAS for stem in pair]
    assert len(set(stems)) == len(stems)


def test_the_generated_ballroom_replica_is_used_once(synth_root):
    dataset = load_dataset("ballroom", synth_root / "ballroom")
    assert "ChaChaCha/Albums-Latin_Jam-15" not in dataset.track_ids
    assert [why for _, why in dataset.skipped] == ["same audio bytes as ChaChaCha/Albums-Latin_Jam-06.wav"]


def test_an_extra_replica_that_matches_no_file_is_named(synth_root):
    folder = synth_root / "ballroom"
    with pytest.raises(ParameterError, match=r"extra_replicas: no file .*\['Albums-Fire-09\.wav'\]"):
        load_dataset(
            "ballroom",
            folder,
            drop_replicas=True,
            extra_replicas=[["Albums-Synth_Jive-01", "Albums-Fire-09.wav"]],
        )
    dataset = load_dataset(
        "ballroom",
        folder,
        drop_replicas=True,
        extra_replicas=[["Albums-Synth_Jive-01", "Albums-Synth_Jive-02"]],
    )
    assert "Jive/Albums-Synth_Jive-02" not in dataset.track_ids
    with pytest.raises(ParameterError, match=r"extra_replicas .* drop_replicas: true"):
        load_dataset("ballroom", folder, extra_replicas=[["Albums-Synth_Jive-01", "Albums-Synth_Jive-02"]])


# --- item 5: nothing left out without a word ---------------------------------------------------


def _table(synth_root, tmp_path, edit) -> Path:
    """A copy of the generated table, 8 rows train and the rest test, with ``edit(rows)`` applied."""
    folder = shutil.copytree(synth_root / "table", tmp_path / "table")
    lines = (folder / "annotations.csv").read_text().splitlines()
    rows = [line.split(",") for line in lines[1:]]  # file, valence, arousal, split
    for position, row in enumerate(rows):
        row[3] = "train" if position < 8 else "test"
    edit(rows)
    (folder / "annotations.csv").write_text("\n".join([lines[0], *(",".join(row) for row in rows)]) + "\n")
    return folder


TABLE_OPTIONS = {
    "table": "annotations.csv",
    "target_columns": ["valence", "arousal"],
    "split_column": "split",
}


def _table_with_an_empty_split(synth_root, tmp_path):
    def blank(rows):
        rows[0][3] = ""

    folder = _table(synth_root, tmp_path, blank)
    return folder, (folder / "annotations.csv").read_text().splitlines()[1].split(",")[0]


def test_a_row_without_a_split_is_in_no_split(synth_root, tmp_path):
    folder, file = _table_with_an_empty_split(synth_root, tmp_path)
    dataset = load_dataset("table", folder, **TABLE_OPTIONS)
    assert sorted(dataset.splits) == ["test", "train"]
    assert (
        dataset.track_ids.index(file.removesuffix(".wav"))
        not in dataset.splits["train"] + dataset.splits["test"]
    )


def test_a_row_without_a_split_is_reported_and_left_out_of_a_split_run(synth_root, tmp_path, capsys):
    folder, file = _table_with_an_empty_split(synth_root, tmp_path)
    values = _values(
        synth_root,
        tmp_path,
        dataset="table",
        data_dir=str(folder),
        dataset_options=TABLE_OPTIONS,
        protocol="split",
    )
    status, error = _run(capsys, values, tmp_path)
    assert status == 0, error
    report = json.loads((tmp_path / "results" / "identity" / "metadata.json").read_text())["load_report"]
    assert report["used"] == report["indexed"] - 1
    assert [what for what, _ in report["skipped"]] == [str(folder / file)]
    assert "in no split" in report["skipped"][0][1]


def test_gtzan_clips_outside_the_split_lists_leave_the_normalisation(synth_root, tmp_path):
    from simsvm.experiment.inputs import prepare_data

    lists = tmp_path / "lists"
    lists.mkdir()
    (lists / "train_filtered.txt").write_text("blues/blues.00000.wav\njazz/jazz.00000.wav\n")
    (lists / "valid_filtered.txt").write_text("rock/rock.00000.wav\n")
    (lists / "test_filtered.txt").write_text("blues/blues.00001.wav\njazz/jazz.00001.wav\n")
    config = ExperimentConfig.from_dict(
        _values(synth_root, tmp_path, dataset_options={"split_dir": str(lists)}, protocol="split")
    )
    inputs = prepare_data(config)
    dataset, data, report = inputs.dataset, inputs.data, inputs.report
    assert sorted(dataset.track_ids) == ["blues.00000", "blues.00001", "jazz.00000", "jazz.00001"]
    assert len(data.frames) == 4 and report["used"] == 4 and report["indexed"] == 30
    reasons = {what.rsplit("/", 1)[-1]: why for what, why in report["skipped"]}
    assert "in no split" in reasons["pop.00000.au"]
    assert "valid" in reasons["rock.00000.au"]  # a split the run neither trains nor tests on


def test_a_constant_regression_target_is_refused_at_load(synth_root, tmp_path, capsys):
    def flatten(rows):
        for row in rows:
            row[2] = "5"  # arousal

    folder = _table(synth_root, tmp_path, flatten)
    values = _values(
        synth_root, tmp_path, dataset="table", data_dir=str(folder), dataset_options=TABLE_OPTIONS
    )
    status, error = _run(capsys, values, tmp_path)
    assert status == 2 and len(error.splitlines()) == 1, error
    assert "'arousal' is 5.0 for every track" in error
    assert not (tmp_path / "results").exists()


def test_a_target_constant_over_a_training_part_is_refused_before_training(synth_root, tmp_path, capsys):
    def flatten_training(rows):
        for row in rows:
            if row[3] == "train":
                row[1] = "4"  # valence

    folder = _table(synth_root, tmp_path, flatten_training)
    values = _values(
        synth_root,
        tmp_path,
        dataset="table",
        data_dir=str(folder),
        dataset_options=TABLE_OPTIONS,
        protocol="split",
    )
    status, error = _run(capsys, values, tmp_path)
    assert status == 2 and len(error.splitlines()) == 1, error
    assert "valence is 4.0 for every training file of split 0" in error
    assert not (tmp_path / "results").exists()
