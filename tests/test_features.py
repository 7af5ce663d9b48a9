import librosa
import numpy as np
import pytest

from helpers import write_tone
from simsvm.data import frames as frames_module
from simsvm.data.frames import (
    FrameCache,
    FrameParameters,
    FrameStore,
    Normaliser,
    extract_frames,
    load_frames,
)
from simsvm.exceptions import DataError
from simsvm.train.spec import excerpt_starts


def test_frames_have_the_paper_shape_and_differences(tmp_path):
    path = write_tone(tmp_path / "tone.wav", frequency=1000.0, seconds=2.0)
    frames = extract_frames(path)
    n_samples = 2 * 22050
    assert frames.shape == (1 + n_samples // 551, 80)
    assert frames.dtype == np.float32
    np.testing.assert_array_equal(frames[0, 40:], 0.0)
    np.testing.assert_allclose(frames[1:, 40:], frames[1:, :40] - frames[:-1, :40], atol=1e-6)


def test_log_mel_peaks_in_the_bin_of_the_tone(tmp_path):
    frames = extract_frames(write_tone(tmp_path / "tone.wav", frequency=1000.0, seconds=1.0))
    centres = librosa.mel_frequencies(n_mels=42, fmin=0.0, fmax=11025.0)[1:-1]  # band centres (Hz)
    expected_bin = int(np.argmin(np.abs(centres - 1000.0)))
    middle = frames[10:-10, :40].mean(axis=0)
    assert abs(int(np.argmax(middle)) - expected_bin) <= 1
    # -12 dBFS sine: the peak band holds far more power than the top band (log10 units).
    assert middle.max() - middle[-1] > 5


def test_resampling_gives_the_same_frame_rate(tmp_path):
    path = write_tone(tmp_path / "tone44.wav", frequency=440.0, seconds=1.0, sample_rate=44100)
    assert extract_frames(path).shape[0] == 1 + 22050 // 551


def test_corrupt_and_missing_files_are_named(tmp_path):
    corrupt = tmp_path / "broken.mp3"
    corrupt.write_bytes(b"this is not audio" * 100)
    with pytest.raises(DataError, match=r"broken\.mp3"):
        extract_frames(corrupt)
    with pytest.raises(DataError, match=r"absent\.wav"):
        extract_frames(tmp_path / "absent.wav")


def test_cache_is_read_on_second_use(tmp_path, monkeypatch):
    path = write_tone(tmp_path / "tone.wav", frequency=300.0, seconds=1.0)
    cache = FrameCache(tmp_path / "cache")
    cached, hit = cache.frames(path, FrameParameters())
    assert not hit and cached.is_file()

    def refuse(*args, **kwargs):
        raise AssertionError("decoded audio although its frames were cached")

    monkeypatch.setattr(frames_module, "extract_frames", refuse)
    again, hit = cache.frames(path, FrameParameters())
    assert hit and again == cached
    np.testing.assert_array_equal(np.load(again), np.load(cached))


def test_cache_key_changes_with_parameters_and_content(tmp_path):
    path = write_tone(tmp_path / "tone.wav", frequency=300.0, seconds=1.0)
    cache = FrameCache(tmp_path / "cache")
    first = cache.path_for(path, FrameParameters())
    assert cache.path_for(path, FrameParameters(n_mels=20)) != first
    write_tone(path, frequency=300.0, seconds=1.5)  # same name, new content
    assert cache.path_for(path, FrameParameters()) != first


def test_load_frames_skips_unreadable_files_and_keeps_the_rest_cached(tmp_path):
    good = [write_tone(tmp_path / f"{i}.wav", frequency=200.0 * (i + 1), seconds=0.5) for i in range(3)]
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"RIFF....garbage")
    paths = [good[0], bad, good[1], good[2]]
    with pytest.raises(DataError, match=r"bad\.wav"):
        load_frames(paths, cache_dir=tmp_path / "cache", progress=False)
    # What was extracted before the failure is on disk already.
    assert FrameCache(tmp_path / "cache").path_for(good[0], FrameParameters()).is_file()
    store, skipped = load_frames(paths, cache_dir=tmp_path / "cache", on_error="skip", progress=False)
    assert len(store) == 3 and [i for i, _ in skipped] == [1]
    assert "bad.wav" in skipped[0][1]


def test_normaliser_standardises_every_dimension():
    rng = np.random.default_rng(0)
    store = FrameStore([rng.normal(5, 3, (n, 4)).astype(np.float32) for n in (50, 80, 120)])
    normaliser = Normaliser().fit(store)
    everything = normaliser.transform(np.concatenate([store.sequence(i) for i in range(3)]))
    np.testing.assert_allclose(everything.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(everything.std(axis=0), 1.0, atol=1e-5)
    train_only = Normaliser().fit(store, [0])
    np.testing.assert_allclose(train_only.transform(store.sequence(0)).mean(axis=0), 0.0, atol=1e-5)


def test_excerpts_have_the_right_shape_and_stay_inside_the_file():
    rng = np.random.default_rng(3)
    lengths = np.array([100, 101, 250, 1200, 60])
    store = FrameStore([rng.standard_normal((n, 80)).astype(np.float32) for n in lengths])
    for _ in range(200):
        starts = excerpt_starts(lengths, 100, rng)
        assert np.all(starts >= 0) and np.all(starts + 100 <= np.maximum(lengths, 100))
        assert starts[0] == 0 and starts[4] == 0
        batch = store.excerpts(range(5), starts, 100)
        assert batch.shape == (5, 100, 80)
        for row in range(4):
            np.testing.assert_array_equal(batch[row], store.sequence(row)[starts[row] : starts[row] + 100])
        np.testing.assert_array_equal(batch[4, :60], store.sequence(4))
        np.testing.assert_array_equal(batch[4, 60:], 0.0)  # short file: zero-padded at the end
    # every valid start is reachable, and none beyond: uniform over 0 .. n - 100
    starts = np.array([excerpt_starts(lengths[1:2], 100, rng)[0] for _ in range(400)])
    assert set(starts) == {0, 1}


def test_store_pickles_as_paths_and_memory_maps(tmp_path):
    import pickle

    path = tmp_path / "frames.npy"
    np.save(path, np.arange(160, dtype=np.float32).reshape(2, 80))
    store = pickle.loads(pickle.dumps(FrameStore([path])))
    assert isinstance(store.sequence(0), np.memmap)
    assert store.lengths.tolist() == [2]
