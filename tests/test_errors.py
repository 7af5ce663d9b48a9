"""Bad input never costs a run: each bad input gives one line naming it, the right exit status,
and leaves what was already on disk as it was.  One test per row of the table in issue 13."""

from __future__ import annotations

import json
import re
import shutil

import pytest
import yaml

from helpers import tiny_run_values
from simsvm.cli.main import main


# A valid run on the generated GTZAN layout; each case below spoils one thing.
def _base(synth_root, tmp_path) -> dict:
    return tiny_run_values(synth_root, tmp_path)


def _run(capsys, *args: str) -> tuple[int, str]:
    status = main(["run", *args])
    return status, capsys.readouterr().err.strip()


PARAMETER_CASES = {
    "unknown key": ({"epochz": 3}, r"unknown key\(s\) \['epochz'\]"),
    "wrong type": ({"epochs": "ten"}, r"epochs: expected int, got 'ten'"),
    "unknown dataset": ({"dataset": "gtzann"}, r"dataset: unknown 'gtzann'"),
    "unknown dataset option": (
        {"dataset_options": {"merge_rumbaa": True}},
        r"\['merge_rumbaa'\] not known for gtzan",
    ),
    "negative learning rate": ({"learning_rate": -1.0}, r"learning_rate: must be > 0, got -1.0"),
    "negative rbf gamma": ({"rbf_gamma": -0.5}, r"rbf_gamma: must be > 0, or learn, got -0.5"),
    "svm_c zero": ({"svm_c": 0}, r"svm_c: must be > 0, got 0.0"),
    "svm_gamma zero": ({"svm_gamma": 0}, r"svm_gamma: must be > 0"),
    "eval_every beyond epochs": ({"epochs": 2, "eval_every": 5}, r"eval_every: 5 is more than epochs \(2\)"),
    "one fold": ({"folds": 1}, r"folds: cross-validation needs at least 2"),
    "unknown approach": ({"approaches": ["RBF-SLL"]}, r"approaches: unknown \['RBF-SLL'\]"),
    "test share above one": (
        {"protocol": "random_splits", "test_share": 1.5},
        r"test_share: must be between 0 and 1",
    ),
    "batch of one": ({"batch_size": 1}, r"batch_size: must be >= 2"),
    "rho of one": ({"rho": 1.0}, r"rho: must be in \[0, 1\)"),
    "not a number": ({"eps": float("nan")}, r"eps: must be > 0, got nan"),
    "zero epochs": ({"epochs": 0}, r"epochs: must be >= 1"),
    "unknown backend": ({"backend": "threads"}, r"backend: 'threads' is not one of"),
    "unit scale for classes": (
        {"target_scale": "unit"},
        r"target_scale: 'unit' maps regression targets; gtzan",
    ),
    "unknown similarity norm": ({"similarity_norm": "l1"}, r"similarity_norm: 'l1' is not one of"),
    "test split also trained on": (
        {"protocol": "split", "train_splits": ["train"], "test_split": "train"},
        r"test_split: 'train' is also in train_splits",
    ),
    "folds beyond the smallest class": (
        {"folds": 4},
        r"folds: 4 folds but the smallest class \(\w+\) has 3 files",
    ),
    "data folder missing": ({"data_dir": "/nonexistent/gtzan"}, r"/nonexistent/gtzan does not exist"),
}


@pytest.mark.parametrize("case", PARAMETER_CASES, ids=list(PARAMETER_CASES))
def test_a_bad_parameter_is_one_line_exit_2_and_writes_nothing(case, synth_root, tmp_path, capsys):
    changes, message = PARAMETER_CASES[case]
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump({**_base(synth_root, tmp_path), **changes}))
    status, error = _run(capsys, str(path))
    assert status == 2
    assert len(error.splitlines()) == 1 and error.startswith("simsvm: error: ")
    assert re.search(message, error), error
    assert not (tmp_path / "results").exists()


COMMAND_LINE_CASES = {
    "unparsable --set": (["--set", "epochs=[1"], r"--set 'epochs=\[1': the value is not valid YAML"),
    "--set without =": (["--set", "epochs"], r"--set expects key=value, got 'epochs'"),
    "--set of an unknown key": (["--set", "epoch=3"], r"unknown key\(s\) \['epoch'\]"),
}


@pytest.mark.parametrize("case", COMMAND_LINE_CASES, ids=list(COMMAND_LINE_CASES))
def test_a_bad_override_is_one_line_exit_2(case, synth_root, tmp_path, capsys):
    extra, message = COMMAND_LINE_CASES[case]
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(_base(synth_root, tmp_path)))
    status, error = _run(capsys, str(path), *extra)
    assert status == 2 and len(error.splitlines()) == 1
    assert re.search(message, error), error
    assert not (tmp_path / "results").exists()


@pytest.mark.parametrize(
    "content, message",
    [
        (None, r"parameter file not found: .*absent\.yaml"),
        ("name: [unclosed", r"p\.yaml: not valid YAML"),
        ("- a\n- list\n", r"p\.yaml: expected a mapping of keys to values, got list"),
        ("name: x\ndataset: gtzan\n", r"p\.yaml: missing required key\(s\) \['data_dir'\]"),
    ],
    ids=["missing file", "not YAML", "a list", "missing required key"],
)
def test_a_bad_parameter_file_is_named(content, message, tmp_path, capsys):
    path = tmp_path / ("absent.yaml" if content is None else "p.yaml")
    if content is not None:
        path.write_text(content)
    status, error = _run(capsys, str(path))
    assert status == 2 and len(error.splitlines()) == 1
    assert re.search(message, error), error


def _finished_run(synth_root, tmp_path, capsys, **changes) -> tuple[dict, object]:
    values = {**_base(synth_root, tmp_path), **changes}
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(values))
    status, error = _run(capsys, str(path))
    assert status == 0, error
    return values, tmp_path / "results" / values["name"]


def _snapshot(folder) -> dict:
    # .lock says which process last ran in the folder (simsvm.experiment.lock); it holds no result
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != ".lock"
    }


def test_a_typo_in_data_dir_leaves_the_corrected_run_free_to_start(synth_root, tmp_path, capsys):
    values = {**_base(synth_root, tmp_path), "data_dir": str(synth_root / "gtzn")}
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(values))
    assert _run(capsys, str(path))[0] == 2
    path.write_text(yaml.safe_dump({**values, "data_dir": str(synth_root / "gtzan")}))
    status, error = _run(capsys, str(path))
    assert status == 0, error


def test_resuming_with_another_scientific_value_is_refused_and_keeps_the_run(synth_root, tmp_path, capsys):
    values, run_dir = _finished_run(synth_root, tmp_path, capsys)
    before = _snapshot(run_dir)
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump({**values, "svm_c": 2.0}))
    status, error = _run(capsys, str(path))
    assert status == 2 and "with other values of ['svm_c']" in error and str(run_dir) in error
    assert _snapshot(run_dir) == before


def test_a_moved_dataset_resumes(synth_root, tmp_path, capsys):
    moved = shutil.copytree(synth_root / "gtzan", tmp_path / "elsewhere" / "gtzan")
    values, run_dir = _finished_run(synth_root, tmp_path, capsys)
    results = (run_dir / "results.csv").read_bytes()
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump({**values, "data_dir": str(moved)}))
    status, error = _run(capsys, str(path))
    assert status == 0, error
    assert (run_dir / "results.csv").read_bytes() == results
    sessions = json.loads((run_dir / "metadata.json").read_text())["sessions"]
    assert [session["data_dir"] for session in sessions] == [values["data_dir"], str(moved)]


def test_a_changed_dataset_is_refused_naming_the_files(synth_root, tmp_path, capsys):
    copy = shutil.copytree(synth_root / "gtzan", tmp_path / "copy" / "gtzan")
    _, run_dir = _finished_run(synth_root, tmp_path, capsys, data_dir=str(copy))
    before = _snapshot(run_dir)
    gone = sorted((copy / "genres" / "jazz").glob("*.au"))[0]
    gone.unlink()
    status, error = _run(capsys, str(tmp_path / "p.yaml"))
    assert (
        status == 2
        and "on other data" in error
        and f"jazz/{gone.name} is gone" in error
        and "annotation" not in error
    )
    assert _snapshot(run_dir) == before


def test_a_corrupt_metadata_file_is_named_on_resume(synth_root, tmp_path, capsys):
    _, run_dir = _finished_run(synth_root, tmp_path, capsys)
    (run_dir / "metadata.json").write_text("{ not json")
    status, error = _run(capsys, str(tmp_path / "p.yaml"))
    assert status == 2 and f"{run_dir / 'metadata.json'} is corrupt" in error
    assert (run_dir / "results.csv").is_file()


def test_a_results_folder_that_cannot_be_made_names_the_path(synth_root, tmp_path, capsys):
    blocker = tmp_path / "results"
    blocker.write_text("a file where the results folder should be")  # mkdir fails as on a read-only disk
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(_base(synth_root, tmp_path)))
    status, error = _run(capsys, str(path))
    assert status == 2 and f"cannot write {blocker / 'bad'}" in error
    assert blocker.read_text() == "a file where the results folder should be"


def test_a_disk_that_fills_while_writing_keeps_the_earlier_file(tmp_path):
    import errno

    from simsvm._io import atomic_write, write_text_atomic
    from simsvm.exceptions import StorageError

    target = write_text_atomic(tmp_path / "results.csv", "complete earlier table\n")

    def fill_the_disk(tmp):
        tmp.write_text("half a tab")
        raise OSError(errno.ENOSPC, "No space left on device")

    with pytest.raises(StorageError, match=r"cannot write .*results\.csv: No space left on device"):
        atomic_write(target, fill_the_disk)
    assert target.read_text() == "complete earlier table\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["results.csv"]


def test_a_writer_that_fails_half_way_keeps_the_earlier_file_and_leaves_no_temporary(tmp_path):
    from simsvm._io import atomic_write, write_text_atomic

    target = write_text_atomic(tmp_path / "metadata.json", "{}\n")

    def fail(tmp):
        tmp.write_text('{"half": ')
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError, match="interrupted"):
        atomic_write(target, fail)
    assert target.read_text() == "{}\n"
    assert [p.name for p in tmp_path.iterdir()] == ["metadata.json"]


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_written_files_take_the_users_umask(umask, mode, tmp_path):
    # mkstemp made every result and cache file 0600 whatever the umask: unreadable to colleagues
    import os

    from simsvm._io import write_text_atomic

    previous = os.umask(umask)
    try:
        written = write_text_atomic(tmp_path / "results.csv", "a table\n")
        rewritten = write_text_atomic(written, "another table\n")
    finally:
        os.umask(previous)
    assert written.stat().st_mode & 0o777 == mode
    assert rewritten.stat().st_mode & 0o777 == mode
    assert [p.name for p in tmp_path.iterdir()] == ["results.csv"]


def test_a_changed_annotation_is_refused_naming_the_track(synth_root, tmp_path, capsys):
    copy = shutil.copytree(synth_root / "lastfm", tmp_path / "copy" / "lastfm")
    values = {**_base(synth_root, tmp_path), "dataset": "lastfm", "data_dir": str(copy)}
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(values))
    assert _run(capsys, str(path))[0] == 0
    labels = copy / "labels.csv"
    lines = labels.read_text().splitlines()
    file, label = lines[1].rsplit(",", 1)
    lines[1] = f"{file},{'sad' if label != 'sad' else 'happy'}"
    labels.write_text("\n".join(lines) + "\n")
    status, error = _run(capsys, str(path))
    assert status == 2 and "the annotation of" in error and "changed" in error


def _without(*parts):
    def mutate(folder):
        for part in parts:
            target = folder / part
            shutil.rmtree(target) if target.is_dir() else target.unlink()

    return mutate


def _emptied(folder):
    for dance in (folder / "BallroomData").iterdir():
        if dance.is_dir():
            shutil.rmtree(dance)


def _unknown_emotify_genre(folder):
    lines = (folder / "data.csv").read_text().splitlines()
    cells = lines[1].split(",")
    cells[1] = "jazz"
    lines[1] = ",".join(cells)
    (folder / "data.csv").write_text("\n".join(lines) + "\n")


def _overlapping_splits(folder):
    lists = folder / "splits"
    lists.mkdir()
    (lists / "train_filtered.txt").write_text("blues/blues.00000.au\njazz/jazz.00001.au\n")
    (lists / "valid_filtered.txt").write_text("rock/rock.00002.au\n")
    (lists / "test_filtered.txt").write_text("jazz/jazz.00001.au\n")


def _silent_file(folder):
    (folder / "genres" / "jazz" / "jazz.00000.au").write_bytes(b"")


def _corrupt_file(folder):
    path = folder / "genres" / "jazz" / "jazz.00000.au"
    path.write_bytes(path.read_bytes()[:10])  # a download cut off inside its header


DATA_CASES = {
    "ballroom without dance folders": ("ballroom", _emptied, {}, r"ballroom: expected dance folders"),
    "emotify without emotifymusic": ("emotify", _without("emotifymusic"), {}, r"emotifymusic not found"),
    "emotify without data.csv": (
        "emotify",
        _without("data.csv"),
        {},
        r"annotation file not found: .*data\.csv",
    ),
    "emotify with an unknown genre": (
        "emotify",
        _unknown_emotify_genre,
        {},
        r"unknown genre\(s\) \['jazz'\]",
    ),
    "mediaeval without clips": (
        "mediaeval2013",
        _without("clips_45seconds"),
        {},
        r"clips_45seconds not found",
    ),
    "mediaeval without annotations": (
        "mediaeval2013",
        _without("annotations"),
        {},
        r"annotation file not found: .*static_annotations\.csv",
    ),
    "lastfm labels without their columns": (
        "lastfm",
        lambda folder: (folder / "labels.csv").write_text("path,mood\naudio/00001.mp3,happy\n"),
        {},
        r"labels\.csv needs columns 'file' and 'label'; has \['path', 'mood'\]",
    ),
    "overlapping fixed splits": (
        "gtzan",
        _overlapping_splits,
        {"protocol": "split", "train_splits": ["train"], "test_split": "test"},
        r"splits \['train'\] and 'test' share tracks",
    ),
    "zero-length audio, not skipped": ("gtzan", _silent_file, {"skip_unreadable": False}, r"jazz\.00000\.au"),
    "corrupt audio, not skipped": ("gtzan", _corrupt_file, {"skip_unreadable": False}, r"jazz\.00000\.au"),
}


@pytest.mark.parametrize("case", DATA_CASES, ids=list(DATA_CASES))
def test_bad_data_is_one_line_exit_2_and_writes_nothing(case, synth_root, tmp_path, capsys):
    key, mutate, changes, message = DATA_CASES[case]
    folder = shutil.copytree(synth_root / key, tmp_path / "data" / key)
    mutate(folder)
    if case == "overlapping fixed splits":
        changes = {**changes, "dataset_options": {"split_dir": str(folder / "splits")}}
    path = tmp_path / "p.yaml"
    path.write_text(
        yaml.safe_dump({**_base(synth_root, tmp_path), "dataset": key, "data_dir": str(folder), **changes})
    )
    status, error = _run(capsys, str(path))
    assert status == 2 and len(error.splitlines()) == 1
    assert re.search(message, error), error
    assert not (tmp_path / "results").exists()


@pytest.mark.parametrize("mutate", [_silent_file, _corrupt_file], ids=["zero-length", "corrupt"])
def test_unreadable_audio_is_skipped_and_reported_by_default(mutate, synth_root, tmp_path, capsys):
    folder = shutil.copytree(synth_root / "gtzan", tmp_path / "data" / "gtzan")
    mutate(folder)
    _, run_dir = _finished_run(synth_root, tmp_path, capsys, data_dir=str(folder))
    report = json.loads((run_dir / "metadata.json").read_text())["load_report"]
    assert report["used"] == report["indexed"] - 1
    assert [what for what, _ in report["skipped"]] == [str(folder / "genres" / "jazz" / "jazz.00000.au")]


def test_a_missing_gtzan_genre_folder_is_reported_not_fatal(synth_root, tmp_path, capsys):
    folder = shutil.copytree(synth_root / "gtzan", tmp_path / "data" / "gtzan")
    shutil.rmtree(folder / "genres" / "jazz")
    _, run_dir = _finished_run(synth_root, tmp_path, capsys, data_dir=str(folder))
    report = json.loads((run_dir / "metadata.json").read_text())["load_report"]
    assert [entry for entry in report["skipped"]] == [
        [str(folder / "genres" / "jazz"), "genre folder missing"]
    ]
