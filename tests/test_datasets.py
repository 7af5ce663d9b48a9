import hashlib
import shutil

import numpy as np
import pandas as pd
import pytest

from conftest import TINY
from helpers import write_tone
from simsvm.data.datasets import REGISTRY, emotify, gtzan, load_dataset, synthetic
from simsvm.exceptions import DataError, ParameterError


def _digest(folder):
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.name != ".synthetic.json"):
        digest.update(path.relative_to(folder).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


# The options a generated set needs (the table's file and columns are the user's to name).
OPTIONS = {
    "table": {"table": "annotations.csv", "target_columns": ["valence", "arousal"], "split_column": "split"}
}


@pytest.mark.parametrize("key", sorted(REGISTRY))
def test_loader_contract(synth_root, key):
    """Every loader: aligned ids, files and targets; existing files; targets of the right kind."""
    dataset = load_dataset(key, synth_root / key, **OPTIONS.get(key, {}))
    assert len(dataset) == len(dataset.audio_paths) == len(dataset.targets) > 0
    assert len(set(dataset.track_ids)) == len(dataset)
    assert all(p.is_file() for p in dataset.audio_paths)
    annotations = dataset.annotations()
    assert annotations.shape == (len(dataset), dataset.n_outputs)
    if dataset.task == "classification":
        assert dataset.targets.dtype == np.int64
        np.testing.assert_array_equal(annotations.sum(axis=1), 1.0)
    else:
        assert np.isfinite(dataset.targets).all()
    assert key in dataset.describe()


def test_gtzan_generated_layout(synth_root):
    dataset = load_dataset("gtzan", synth_root / "gtzan")
    assert dataset.target_names == gtzan.GENRES and "hip-hop" in dataset.target_names
    assert np.bincount(dataset.targets).tolist() == [TINY["clips_per_class"]] * 10
    assert all(p.suffix == ".au" and p.parent.parent.name == "genres" for p in dataset.audio_paths)
    hiphop = dataset.targets[dataset.track_ids.index("hiphop.00000")]
    assert dataset.target_names[hiphop] == "hip-hop"


def test_gtzan_wav_repackaging_and_stray_files(tmp_path):
    root = tmp_path / "Data" / "genres_original"
    for n, folder in enumerate(gtzan.FOLDERS):  # distinct tones: byte-identical clips count once
        write_tone(root / folder / f"{folder}.00000.wav", frequency=300.0 + 50.0 * n, seconds=0.2)
    write_tone(root / "jazz" / "rock.00001.wav", frequency=440.0, seconds=0.2)  # misfiled
    (root / "blues" / "._blues.00000.wav").write_bytes(b"macOS resource fork")
    dataset = load_dataset("gtzan", tmp_path)
    assert len(dataset) == 10
    assert [what for what, _ in dataset.skipped] == [str(root / "jazz" / "rock.00001.wav")]


def test_gtzan_wrong_layout_is_a_clear_error(tmp_path):
    (tmp_path / "songs").mkdir()
    with pytest.raises(DataError, match="no genre folders"):
        load_dataset("gtzan", tmp_path)


def test_emotify_targets_are_shares_of_responses(synth_root):
    folder = synth_root / "emotify"
    dataset = load_dataset("emotify", folder)
    header = (folder / "data.csv").read_text().splitlines()[0]
    assert header.startswith("track id, genre, amazement")  # the real file's stray spaces
    responses = pd.read_csv(folder / "data.csv")
    responses.columns = [c.strip() for c in responses.columns]
    for position in (0, len(dataset) - 1):
        track = int(dataset.track_ids[position])
        rows = responses[responses["track id"] == track]
        assert 11 <= len(rows) <= 59
        np.testing.assert_allclose(dataset.targets[position], rows[list(emotify.EMOTIONS)].mean().to_numpy())
    # global ids: 101.. are rock, file number restarts at 1
    rock = dataset.track_ids.index("101")
    assert dataset.audio_paths[rock].parent.name == "rock" and dataset.audio_paths[rock].stem == "1"


def test_emotify_reports_missing_audio_and_names_missing_columns(synth_root, tmp_path):
    copy = tmp_path / "emotify"
    shutil.copytree(synth_root / "emotify", copy)
    victim = next((copy / "emotifymusic" / "pop").iterdir())
    victim.unlink()
    dataset = load_dataset("emotify", copy)
    assert len(dataset) == 4 * TINY["clips_per_class"] - 1
    assert len(dataset.skipped) == 1 and "pop" in dataset.skipped[0][1]
    table = pd.read_csv(copy / "data.csv", skipinitialspace=True).drop(columns=["tension"])
    table.to_csv(copy / "data.csv", index=False)
    with pytest.raises(DataError, match="tension"):
        load_dataset("emotify", copy)


def test_registry_errors_name_the_key_and_folder(tmp_path):
    with pytest.raises(ParameterError, match="nosuchset"):
        load_dataset("nosuchset", tmp_path)
    with pytest.raises(DataError, match="missing-folder"):
        load_dataset("gtzan", tmp_path / "missing-folder")


@pytest.mark.slow
def test_generator_is_deterministic(tmp_path, synth_root):
    again = synthetic.generate(tmp_path / "again", progress=False, **TINY)
    for key, folder in again.items():
        assert _digest(folder) == _digest(synth_root / key)
    other = synthetic.generate(tmp_path / "other", progress=False, datasets=("gtzan",), **{**TINY, "seed": 8})
    assert _digest(other["gtzan"]) != _digest(synth_root / "gtzan")


def test_generator_skips_a_finished_dataset(tmp_path):
    first = synthetic.generate(tmp_path, progress=False, datasets=("gtzan",), clips_per_class=2, duration=3.0)
    clip = next(first["gtzan"].rglob("*.au"))
    stamp = clip.stat().st_mtime_ns
    synthetic.generate(tmp_path, progress=False, datasets=("gtzan",), clips_per_class=2, duration=3.0)
    assert clip.stat().st_mtime_ns == stamp


def test_regenerating_smaller_leaves_no_clip_of_the_larger_set(tmp_path):
    """Loaders index every file: clips of an earlier, larger generation must not survive it."""
    synthetic.generate(tmp_path, progress=False, datasets=("gtzan",), clips_per_class=3, duration=3.0)
    synthetic.generate(tmp_path, progress=False, datasets=("gtzan",), clips_per_class=2, duration=3.0)
    assert len(list((tmp_path / "gtzan").rglob("*.au"))) == 2 * 10
    assert len(load_dataset("gtzan", tmp_path / "gtzan")) == 2 * 10


def test_generator_refuses_a_folder_it_did_not_write(tmp_path):
    (tmp_path / "gtzan").mkdir()
    (tmp_path / "gtzan" / "mine.txt").write_text("a user's file")
    with pytest.raises(ParameterError, match="not written by the generator"):
        synthetic.generate(tmp_path, progress=False, datasets=("gtzan",), clips_per_class=2, duration=3.0)
    assert (tmp_path / "gtzan" / "mine.txt").exists()


@pytest.mark.slow
def test_generated_labels_are_learnable_but_not_from_a_mean_spectrum(tmp_path):
    """Hidden attributes drive the labels: a mean-spectrum SVM beats chance but is far from perfect."""
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    from simsvm.data.frames import load_frames

    folders = synthetic.generate(
        tmp_path, progress=False, datasets=("gtzan",), clips_per_class=10, duration=4.0
    )
    dataset = load_dataset("gtzan", folders["gtzan"])
    store, _ = load_frames(dataset.audio_paths, progress=False)
    mean_spectra = np.stack([store.sequence(i)[:, :40].mean(axis=0) for i in range(len(store))])
    accuracy = cross_val_score(
        make_pipeline(StandardScaler(), SVC()),
        mean_spectra,
        dataset.targets,
        cv=StratifiedKFold(5, shuffle=True, random_state=0),
    ).mean()
    assert 0.2 < accuracy < 0.85
