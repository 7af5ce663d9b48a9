"""The loaders on tiny hand-written annotation files in each real distribution's exact format.

Independent of the generator: header lines, separators, stray spaces and tabs are copied from
the public descriptions of each dataset's files, and the expected targets are worked out by
hand.  The loaders index files without decoding them, so the audio files here are empty.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from simsvm.data.datasets import load_dataset
from simsvm.exceptions import DataError
from simsvm.train.spec import unit_scaled


def _touch(root: Path, *names: str) -> None:
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"")


# Emotify's data.csv: one row per listener response, a space after every comma in the header.
EMOTIFY_CSV = (
    (
        "track id, genre, amazement, solemnity, tenderness, nostalgia, calmness, power, joyful_activation, "
        "tension, sadness, mood, liked, disliked, age, gender, mother tongue\n"
    )
    + """1,classical,1,0,0,0,1,0,0,0,0,3,1,0,25,1,Dutch
1,classical,0,0,1,0,1,0,0,0,0,4,0,0,31,0,English
101,rock,0,0,0,0,0,1,1,0,0,2,1,0,19,1,Dutch
101,rock,0,0,0,0,0,1,0,1,0,3,0,1,44,0,Russian
101,rock,0,0,0,0,0,0,1,0,0,5,1,0,27,1,English
303,pop,0,0,0,1,0,0,0,0,1,1,0,0,52,0,Dutch
"""
)


def test_emotify_data_csv(tmp_path):
    (tmp_path / "data.csv").write_text(EMOTIFY_CSV)
    # track id i lies at <genre>/<(i-1) % 100 + 1>.mp3
    _touch(tmp_path / "emotifymusic", "classical/1.mp3", "rock/1.mp3", "pop/3.mp3")
    dataset = load_dataset("emotify", tmp_path)
    assert dataset.track_ids == ["1", "101", "303"]
    assert [p.relative_to(tmp_path).as_posix() for p in dataset.audio_paths] == [
        "emotifymusic/classical/1.mp3",
        "emotifymusic/rock/1.mp3",
        "emotifymusic/pop/3.mp3",
    ]
    names = dataset.target_names
    shares = dict(zip(dataset.track_ids, dataset.targets, strict=True))
    assert shares["1"][names.index("calmness")] == 1.0 and shares["1"][names.index("amazement")] == 0.5
    assert shares["101"][names.index("power")] == pytest.approx(2 / 3)
    assert shares["101"][names.index("joyful_activation")] == pytest.approx(2 / 3)
    assert shares["101"][names.index("tension")] == pytest.approx(1 / 3)
    np.testing.assert_array_equal(shares["303"], [0, 0, 0, 1, 0, 0, 0, 0, 1])


# MediaEval 2013 (emoMusic "1000 songs"): a space after each comma in static_annotations.csv's
# header; tabs around the text fields of songs_info.csv.
STATIC_ANNOTATIONS = """song_id, mean_arousal, std_arousal, mean_valence, std_valence
2,3.1,0.94,3,0.63
3,3.5,1.75,3.3,1.42
5,5.7,1.42,5.5,1.5
"""
SONGS_INFO = (
    "song_id,file_name,Artist,Song title,start of the segment (min.sec),"
    "end of the segment (min.sec),Genre,Mediaeval 2013 set\n"
    "2,2.mp3,\tDerek Clegg\t,\tYou're the One\t,0.44,1.29,\tBlues\t,development\n"
    "3,3.mp3,\tBlack Tie Dinner\t,\tHyperion\t,0.30,1.15,\tBlues\t,development\n"
    "5,5.mp3,\tThe Hipstones\t,\tLittle Stars\t,1.02,1.47,\tBlues\t,evaluation\n"
)


def test_mediaeval2013_annotations_and_songs_info(tmp_path):
    (tmp_path / "annotations").mkdir()
    (tmp_path / "annotations" / "static_annotations.csv").write_text(STATIC_ANNOTATIONS)
    (tmp_path / "annotations" / "songs_info.csv").write_text(SONGS_INFO)
    _touch(tmp_path / "clips_45seconds", "2.mp3", "3.mp3", "5.mp3")
    dataset = load_dataset("mediaeval2013", tmp_path)
    assert dataset.track_ids == ["2", "3", "5"] and dataset.target_names == ("valence", "arousal")
    np.testing.assert_allclose(dataset.targets, [[3.0, 3.1], [3.3, 3.5], [5.5, 5.7]])
    assert {name: [dataset.track_ids[i] for i in members] for name, members in dataset.splits.items()} == {
        "development": ["2", "3"],
        "evaluation": ["5"],
    }
    # target_scale: unit maps the annotators' 1-9 scale to [0, 1] (the paper's Cos-SL discussion)
    np.testing.assert_allclose(
        unit_scaled(dataset.annotations(), dataset.target_bounds),
        [[2.0 / 8, 2.1 / 8], [2.3 / 8, 2.5 / 8], [4.5 / 8, 4.7 / 8]],
    )


# Ballroom: one folder per dance; allBallroomFiles lists './<Dance>/<file>.wav' per line.
BALLROOM_FILES = [
    "ChaChaCha/Albums-Cafe_Paradiso-05.wav",
    "Jive/Albums-Commitment-01.wav",
    "Rumba-American/Albums-AnaBelen_Veneo-03.wav",
    "Rumba-International/Albums-Ballroom_Magic-09.wav",
    "Waltz/Albums-Secret_Garden-04.wav",
]


def test_ballroom_folders_and_file_list(tmp_path):
    root = tmp_path / "BallroomData"
    _touch(root, *BALLROOM_FILES, "Jive/._Albums-Commitment-01.wav")
    listed = [*BALLROOM_FILES, "Tango/Albums-Step_By_Step-11.wav"]  # listed, but not in this copy
    (root / "allBallroomFiles").write_text("".join(f"./{name}\n" for name in listed))
    dataset = load_dataset("ballroom", tmp_path)
    assert sorted(dataset.track_ids) == sorted(name.removesuffix(".wav") for name in BALLROOM_FILES)
    assert [dataset.target_names[label] for label in dataset.targets] == [
        name.split("/")[0] for name in dataset.track_ids
    ]
    reasons = {what.split("BallroomData/")[-1]: why for what, why in dataset.skipped}
    assert reasons["Tango/Albums-Step_By_Step-11.wav"] == "listed in allBallroomFiles but not on disk"
    assert sorted(name for name, why in reasons.items() if why == "dance folder missing") == [
        "Quickstep",
        "Rumba-Misc",
        "Samba",
        "Tango",
        "VienneseWaltz",
    ]
    merged = load_dataset("ballroom", tmp_path, merge_rumba=True)
    assert [merged.target_names[label] for label in merged.targets].count("Rumba") == 2


# GTZAN with Kereliuk & Sturm's fault-filtered split lists ('<genre>/<genre>.000NN.wav' per line).
def test_gtzan_release_layout_and_filtered_split_lists(tmp_path):
    clips = [f"{genre}/{genre}.{n:05d}.au" for genre in ("blues", "hiphop", "jazz") for n in (0, 29)]
    _touch(tmp_path / "genres", *clips)
    lists = tmp_path / "splits"
    lists.mkdir()
    (lists / "train_filtered.txt").write_text("blues/blues.00029.wav\nhiphop/hiphop.00000.wav\n")
    (lists / "valid_filtered.txt").write_text("jazz/jazz.00029.wav\n")
    (lists / "test_filtered.txt").write_text("blues/blues.00000.wav\njazz/jazz.00000.wav\n")
    dataset = load_dataset("gtzan", tmp_path, split_dir=lists)
    assert len(dataset) == 6 and "hip-hop" in dataset.target_names
    assert {
        name: sorted(dataset.track_ids[i] for i in members) for name, members in dataset.splits.items()
    } == {
        "train": ["blues.00029", "hiphop.00000"],
        "valid": ["jazz.00029"],
        "test": ["blues.00000", "jazz.00000"],
    }
    # the seven genres absent from this copy are reported, not fatal
    assert len([why for _, why in dataset.skipped if why == "genre folder missing"]) == 7


def test_lastfm_label_list(tmp_path):
    _touch(tmp_path, "audio/Q1/a.mp3", "audio/Q3/b.mp3", "audio/Q3/c.mp3")
    (tmp_path / "labels.csv").write_text(
        "file,label\naudio/Q1/a.mp3,happy\naudio/Q3/b.mp3,sad\naudio/Q3/c.mp3,sad\n"
    )
    dataset = load_dataset("lastfm", tmp_path)
    assert [dataset.target_names[label] for label in dataset.targets] == ["happy", "sad", "sad"]
    (tmp_path / "labels.csv").write_text("file;label\naudio/Q1/a.mp3;happy\n")
    with pytest.raises(DataError, match=r"labels\.csv needs columns 'file' and 'label'"):
        load_dataset("lastfm", tmp_path)
