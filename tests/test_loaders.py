"""Per-dataset loader tests on generated data in each real layout, and the broken cases."""

import shutil

import numpy as np
import pandas as pd
import pytest

from conftest import TINY
from helpers import write_tone
from simsvm.data.datasets import ballroom, lastfm, load_dataset
from simsvm.exceptions import DataError, ParameterError

PER_CLASS = TINY["clips_per_class"]


def _copy(synth_root, key, tmp_path):
    return shutil.copytree(synth_root / key, tmp_path / key)


def test_ballroom_layout_rumba_merge_and_replicas(synth_root):
    dataset = load_dataset("ballroom", synth_root / "ballroom")
    # the generated replica has the bytes of its original, so it is used once even so
    assert dataset.target_names == ballroom.DANCES and len(dataset) == 10 * PER_CLASS - 1
    assert not any(p.name.startswith("._") for p in dataset.audio_paths)  # macOS files ignored
    assert [why for _, why in dataset.skipped] == ["same audio bytes as ChaChaCha/Albums-Latin_Jam-06.wav"]
    merged = load_dataset("ballroom", synth_root / "ballroom", merge_rumba=True, drop_replicas=True)
    assert len(merged.target_names) == 8 and "Rumba" in merged.target_names
    counts = dict(zip(merged.target_names, np.bincount(merged.targets), strict=True))
    assert counts["Rumba"] == 3 * PER_CLASS and counts["ChaChaCha"] == PER_CLASS - 1
    assert "ChaChaCha/Albums-Latin_Jam-15" not in merged.track_ids
    assert [why for _, why in merged.skipped] == ["replica of another recording (drop_replicas)"]


def test_ballroom_reports_listed_but_missing_files(synth_root, tmp_path):
    root = _copy(synth_root, "ballroom", tmp_path) / "BallroomData"
    (root / "Tango" / f"Albums-Synth_Tango-{PER_CLASS:02d}.wav").unlink()
    dataset = load_dataset("ballroom", tmp_path / "ballroom")
    assert len(dataset) == 10 * PER_CLASS - 2  # and the generated replica, used once
    assert dataset.skipped[0][0].endswith(f"Tango/Albums-Synth_Tango-{PER_CLASS:02d}.wav")
    assert "allBallroomFiles" in dataset.skipped[0][1]


def test_mediaeval_targets_splits_and_stray_characters(synth_root):
    folder = synth_root / "mediaeval2013"
    dataset = load_dataset("mediaeval2013", folder)
    assert dataset.target_names == ("valence", "arousal") and len(dataset) == 4 * PER_CLASS
    raw = (folder / "annotations" / "static_annotations.csv").read_text().splitlines()
    assert raw[0].startswith("song_id, mean_arousal")  # the real header's spaces
    song, arousal, _, valence, _ = raw[1].split(",")
    position = dataset.track_ids.index(song)
    np.testing.assert_allclose(dataset.targets[position], [float(valence), float(arousal)])
    clip = dataset.audio_paths[position]
    assert clip.parent == folder / "clips_45seconds" and clip.stem == song and clip.is_file()
    info = (folder / "annotations" / "songs_info.csv").read_text()
    assert "\t" in info  # stray tabs, stripped by the loader
    development, evaluation = dataset.splits["development"], dataset.splits["evaluation"]
    assert sorted(development + evaluation) == list(range(len(dataset)))
    assert len(development) == round(0.8 * len(dataset))


def test_mediaeval_bad_rows_and_unannotated_clips_are_reported(synth_root, tmp_path):
    folder = _copy(synth_root, "mediaeval2013", tmp_path)
    path = folder / "annotations" / "static_annotations.csv"
    lines = path.read_text().splitlines()
    first, second = lines[1].split(","), lines[2].split(",")
    first[3] = "nan"
    second[1] = "12.5"  # arousal off the 1..9 scale
    path.write_text("\n".join([lines[0], ",".join(first), ",".join(second), *lines[4:]]) + "\n")
    dataset = load_dataset("mediaeval2013", folder)
    reasons = dict(dataset.skipped)
    assert len(dataset) == 4 * PER_CLASS - 3
    assert "not a number" in reasons[f"song {first[0]}"] and "not a number" in reasons[f"song {second[0]}"]
    unannotated = lines[3].split(",")[0]
    assert reasons[str(folder / "clips_45seconds" / f"{unannotated}.mp3")] == "clip has no annotation"
    path.write_text(path.read_text().replace("mean_valence", "valence_mean"))
    with pytest.raises(DataError, match="mean_valence"):
        load_dataset("mediaeval2013", folder)


def test_lastfm_label_list(synth_root):
    folder = synth_root / "lastfm"
    dataset = load_dataset("lastfm", folder)
    assert dataset.target_names == lastfm.MOODS and len(dataset) == 4 * PER_CLASS
    table = pd.read_csv(folder / "labels.csv")
    row = table.iloc[-1]
    position = dataset.track_ids.index(row.file.rsplit(".", 1)[0])
    assert dataset.target_names[dataset.targets[position]] == row.label


def test_lastfm_folders_per_label_serve_other_quadrant_sets(tmp_path):
    for k, (label, n) in enumerate((("happy", 2), ("sad", 1), ("tense", 2))):
        for i in range(n):  # distinct tones: byte-identical files count once
            write_tone(tmp_path / label / f"{i}.wav", frequency=300.0 + 100.0 * i + 30.0 * k, seconds=0.3)
    (tmp_path / "sad" / "notes.txt").write_text("not audio")
    dataset = load_dataset("lastfm", tmp_path)
    assert dataset.target_names == ("happy", "sad", "tense")
    assert np.bincount(dataset.targets).tolist() == [2, 1, 2]


def test_lastfm_missing_files_and_labels_are_reported(synth_root, tmp_path):
    folder = _copy(synth_root, "lastfm", tmp_path)
    table = pd.read_csv(folder / "labels.csv")
    (folder / table.file[0]).unlink()
    table.loc[1, "label"] = None
    table.to_csv(folder / "labels.tsv", sep="\t", index=False)
    (folder / "labels.csv").unlink()
    dataset = load_dataset("lastfm", folder)
    assert len(dataset) == 4 * PER_CLASS - 2
    assert sorted(why for _, why in dataset.skipped) == [
        "listed in labels.tsv but not on disk",
        "no label in labels.tsv",
    ]
    with pytest.raises(DataError, match=r"other\.csv"):
        load_dataset("lastfm", folder, label_file="other.csv")


def test_lastfm_wrong_layout(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match=r"labels\.csv"):
        load_dataset("lastfm", tmp_path)


def test_gtzan_filtered_split_lists(synth_root, tmp_path):
    lists = tmp_path / "splits"
    lists.mkdir()
    (lists / "train_filtered.txt").write_text("blues/blues.00000.wav\njazz/jazz.00001.wav\n")
    (lists / "valid_filtered.txt").write_text("rock/rock.00002.wav\n")
    (lists / "test_filtered.txt").write_text("pop/pop.00000.wav\npop/pop.00099.wav\n")
    dataset = load_dataset("gtzan", synth_root / "gtzan", split_dir=lists)
    assert {name: [dataset.track_ids[i] for i in members] for name, members in dataset.splits.items()} == {
        "train": ["blues.00000", "jazz.00001"],
        "valid": ["rock.00002"],
        "test": ["pop.00000"],
    }
    assert ("pop/pop.00099.wav", "listed in test_filtered.txt but not found") in dataset.skipped
    (lists / "valid_filtered.txt").unlink()
    with pytest.raises(DataError, match=r"valid_filtered\.txt"):
        load_dataset("gtzan", synth_root / "gtzan", split_dir=lists)


def test_unknown_dataset_option_is_named(synth_root):
    with pytest.raises(ParameterError, match="merge_rumbas"):
        load_dataset("ballroom", synth_root / "ballroom", merge_rumbas=True)


def test_subset_renumbers_splits(synth_root):
    dataset = load_dataset("mediaeval2013", synth_root / "mediaeval2013")
    keep = list(range(1, len(dataset), 2))
    subset = dataset.subset(keep)
    for name, members in subset.splits.items():
        assert [subset.track_ids[i] for i in members] == [
            dataset.track_ids[i] for i in dataset.splits[name] if i in keep
        ]


def test_emotify_bad_marks_and_unannotated_audio_are_reported(synth_root, tmp_path):
    folder = _copy(synth_root, "emotify", tmp_path)
    lines = (folder / "data.csv").read_text().splitlines()
    fields = lines[1].split(",")
    fields[2] = "7"  # amazement mark that is neither 0 nor 1
    (folder / "data.csv").write_text("\n".join([lines[0], ",".join(fields), *lines[2:]]) + "\n")
    stray = write_tone(folder / "emotifymusic" / "pop" / "99.wav", frequency=300.0, seconds=0.3)
    dataset = load_dataset("emotify", folder)
    reasons = dict(dataset.skipped)
    assert reasons["data.csv line 2"].endswith("emotion marks not all 0/1")
    assert reasons[str(stray)] == "audio has no annotation in data.csv"
    assert len(dataset) == 4 * PER_CLASS  # the track keeps its other responses


def test_lastfm_reports_audio_missing_from_the_label_list(synth_root, tmp_path):
    folder = _copy(synth_root, "lastfm", tmp_path)
    stray = write_tone(folder / "audio" / "extra.wav", frequency=300.0, seconds=0.3)
    dataset = load_dataset("lastfm", folder)
    assert (str(stray), "audio not listed in labels.csv") in dataset.skipped
