"""Your own data: one folder per class, or a table of files and targets, and every row left out named."""

from __future__ import annotations

import numpy as np
import pytest

from simsvm.data.datasets import dataset_task, load_dataset
from simsvm.exceptions import DataError


def _touch(root, *names):
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"")


def test_generated_folders_layout(synth_root):
    dataset = load_dataset("folders", synth_root / "folders")
    assert dataset.target_names == ("Q1", "Q2", "Q3", "Q4") and dataset.task == "classification"
    assert {path.suffix for path in dataset.audio_paths} >= {".flac"}
    assert any(
        len(path.relative_to(synth_root / "folders").parts) == 3 for path in dataset.audio_paths
    )  # nested
    # the stray folder of notes is reported, not a class
    assert dataset.skipped == [
        (str(synth_root / "folders" / "notes"), "holds no audio files, so it is not a class")
    ]


def test_folders_in_a_named_order_and_what_is_left_out(tmp_path):
    _touch(
        tmp_path, "calm/a.wav", "calm/deep/er/b.ogg", "calm/cover.jpg", "tense/c.au", "other/d.mp3", "e.wav"
    )
    dataset = load_dataset("folders", tmp_path, classes=["tense", "calm"])
    assert dataset.target_names == ("tense", "calm")
    assert dataset.track_ids == ["tense/c", "calm/a", "calm/deep/er/b"]
    np.testing.assert_array_equal(dataset.targets, [0, 1, 1])
    assert dict((what.removeprefix(f"{tmp_path}/"), why) for what, why in dataset.skipped) == {
        "other": "folder is not one of the classes named in dataset_options",
        "calm/cover.jpg": "not an audio file",
        "e.wav": "audio outside every class folder",
    }
    with pytest.raises(DataError, match=r"no folder for class\(es\) \['quiet'\]"):
        load_dataset("folders", tmp_path, classes=["quiet", "calm"])


def test_a_folder_of_the_wrong_shape_says_what_was_expected(tmp_path):
    _touch(tmp_path, "a.wav", "docs/readme.txt")
    with pytest.raises(DataError, match=r"expected <data_dir>/<class>/<file>"):
        load_dataset("folders", tmp_path)


def test_generated_table_layout(synth_root):
    options = {"table": "annotations.csv", "target_columns": ["valence", "arousal"], "split_column": "split"}
    dataset = load_dataset("table", synth_root / "table", **options)
    assert dataset.task == "regression" == dataset_task("table", options)
    assert dataset.target_names == ("valence", "arousal") and dataset.skipped == []
    assert sorted(dataset.splits) == ["test", "train"]
    assert 1.0 <= dataset.targets.min() and dataset.targets.max() <= 9.0


TABLE = """clip,valence,arousal,set
a.wav,5.5,3.0,train
b.wav,n/a,4.0,train
c.wav,6.0,2.5,test
a.wav,5.5,3.0,train
gone.wav,4.0,4.0,train
d.wav,,6.0,test
"""


def test_a_table_reports_every_row_it_leaves_out(tmp_path):
    _touch(tmp_path, "a.wav", "b.wav", "c.wav", "d.wav", "extra/e.wav")
    (tmp_path / "songs.tsv").write_text(TABLE.replace(",", "\t"))
    dataset = load_dataset(
        "table", tmp_path, file_column="clip", target_columns=["valence", "arousal"], split_column="set"
    )
    assert dataset.track_ids == ["a", "c"] and dataset.splits == {"train": [0], "test": [1]}
    np.testing.assert_allclose(dataset.targets, [[5.5, 3.0], [6.0, 2.5]])
    assert [(what.removeprefix(f"{tmp_path}/"), why) for what, why in dataset.skipped] == [
        ("songs.tsv line 3", "b.wav: missing or unparsable ['valence', 'arousal']"),
        ("songs.tsv line 5", "a.wav listed again"),
        ("gone.wav", "listed in songs.tsv line 6 but not on disk"),
        ("songs.tsv line 7", "d.wav: missing or unparsable ['valence', 'arousal']"),
        ("extra/e.wav", "audio not listed in songs.tsv"),
    ]


def test_a_classification_table(tmp_path):
    _touch(tmp_path, "x/1.mp3", "x/2.mp3", "x/3.mp3")
    (tmp_path / "labels.csv").write_text("file,mood\nx/1.mp3,calm\nx/2.mp3,tense\nx/3.mp3,\n")
    dataset = load_dataset("table", tmp_path, label_column="mood")
    assert dataset.target_names == ("calm", "tense") and dataset.targets.tolist() == [0, 1]
    assert dataset.skipped == [("labels.csv line 4", "x/3.mp3: missing or unparsable mood")]


@pytest.mark.parametrize(
    "options, files, message",
    [
        ({"label_column": "mood", "target_columns": ["v"]}, {"t.csv": "file,mood,v\n"}, "exactly one of"),
        ({"label_column": "mood"}, {"t.csv": "path,mood\na.wav,x\n"}, r"lacks column\(s\) \['file'\]"),
        (
            {"label_column": "mood"},
            {"a.csv": "file,mood\n", "b.csv": "file,mood\n"},
            r"found \['a.csv', 'b.csv'\]",
        ),
        ({"label_column": "mood", "table": "absent.csv"}, {}, r"absent\.csv not found"),
    ],
    ids=["both kinds of target", "no file column", "two tables", "named table missing"],
)
def test_a_table_of_the_wrong_shape_is_one_error(tmp_path, options, files, message):
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    with pytest.raises(DataError, match=message):
        load_dataset("table", tmp_path, **options)
