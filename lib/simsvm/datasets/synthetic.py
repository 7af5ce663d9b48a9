"""Deterministic generated datasets in the real datasets' on-disk layouts.

Each clip is rendered (NumPy only) from hidden musical attributes; the labels are functions of
those attributes, so they are learnable from audio but not from a single spectrum: tempo and
metre live in the time structure, mode in which third sounds over the bass, and within-class
spread makes neighbouring classes overlap.

===========  ================================================================================
attribute    what it changes in the audio
===========  ================================================================================
tempo        beats per minute (note onsets, accents, percussion)
metre        beats per bar, 3 or 4 (accented downbeat, bass and chord change per bar)
brightness   spectral slope of the harmonics (0 dull .. 1 bright)
register     pitch of melody and chords (0 low .. 1 high)
major        1 major / 0 minor third in chords and melody scale
loudness     RMS level (0 = -34 dBFS .. 1 = -8 dBFS)
noisiness    level of noise floor and unpitched percussion
===========  ================================================================================

The attributes of every clip are written beside the data (``attributes.csv``), which the loaders
ignore; they are the ground truth when a result looks odd.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from .._io import atomic_write, write_json_atomic
from ..exceptions import ParameterError
from . import emotify, gtzan

__all__ = ["ATTRIBUTES", "GENERATORS", "Attributes", "generate", "render_clip"]

ATTRIBUTES = ("tempo", "metre", "brightness", "register", "major", "loudness", "noisiness")
_MAJOR_SCALE = np.array([0, 2, 4, 5, 7, 9, 11])
_MINOR_SCALE = np.array([0, 2, 3, 5, 7, 8, 10])
_STAMP = ".synthetic.json"
_TABLE_SIZE = 4096


@dataclass(frozen=True)
class Attributes:
    tempo: float
    metre: int
    brightness: float
    register: float
    major: int
    loudness: float
    noisiness: float


def _midi_to_hz(midi: np.ndarray | float) -> np.ndarray | float:
    return 440.0 * 2.0 ** ((np.asarray(midi) - 69.0) / 12.0)


def _tone(midi: float, length: int, sample_rate: int, brightness: float, decay_s: float) -> np.ndarray:
    """A harmonic tone with a 5 ms attack and exponential decay.

    One period is tabulated and read at the note's phase, which is far cheaper than summing a
    sine per harmonic over the whole note.
    """
    fundamental = float(_midi_to_hz(midi))
    harmonics = np.arange(1, 13)
    harmonics = harmonics[harmonics * fundamental < 0.45 * sample_rate]
    weights = harmonics ** -(2.6 - 2.2 * brightness)
    table_phase = np.arange(_TABLE_SIZE) / _TABLE_SIZE
    table = np.sin(2 * np.pi * np.outer(table_phase, harmonics)) @ weights
    t = np.arange(length) / sample_rate
    index = (np.mod(fundamental * t, 1.0) * _TABLE_SIZE).astype(np.int64)
    envelope = np.minimum(t / 0.005, 1.0) * np.exp(-t / decay_s)
    return table[index] * envelope


def _add(buffer: np.ndarray, start: int, signal: np.ndarray) -> None:
    end = min(buffer.size, start + signal.size)
    if end > start:
        buffer[start:end] += signal[: end - start]


def render_clip(
    attributes: Attributes, *, duration: float, sample_rate: int, rng: np.random.Generator
) -> np.ndarray:
    """Render one clip, shape ``(round(duration * sample_rate),)``, float32 in [-1, 1]."""
    n = round(duration * sample_rate)
    music = np.zeros(n)
    percussion = np.zeros(n)
    beat = 60.0 / attributes.tempo
    scale = _MAJOR_SCALE if attributes.major else _MINOR_SCALE
    root = 40 + 30 * attributes.register + rng.integers(0, 12)
    degree = int(rng.integers(0, 7))
    offset = rng.uniform(0, beat)
    n_beats = int((duration - offset) / beat) + 1
    for index in range(n_beats):
        start = int((offset + index * beat) * sample_rate)
        downbeat = index % attributes.metre == 0
        if downbeat:  # bass and chord (root, third, fifth) for the whole bar
            bar = int(attributes.metre * beat * sample_rate)
            _add(music, start, 0.9 * _tone(root - 12, bar, sample_rate, attributes.brightness, 1.5 * beat))
            for step in (0, 2, 4):
                _add(
                    music,
                    start,
                    0.25 * _tone(root + scale[step], bar, sample_rate, attributes.brightness, 2.0 * beat),
                )
        degree = int(np.clip(degree + rng.integers(-2, 3), 0, 13))
        pitch = root + 12 + 12 * (degree // 7) + scale[degree % 7]
        accent = 1.6 if downbeat else 1.0
        note = int(0.9 * beat * sample_rate)
        _add(music, start, 0.5 * accent * _tone(pitch, note, sample_rate, attributes.brightness, 0.4 * beat))
        hit = int(0.08 * sample_rate)
        decay = np.exp(-np.arange(hit) / (0.015 * sample_rate))
        burst = rng.standard_normal(hit) * decay
        if downbeat:  # a low thump: noise smoothed by a short moving average
            burst = np.convolve(burst, np.ones(24) / 6.0, mode="same")
        _add(percussion, start, accent * burst)
    noise_floor = rng.standard_normal(n)
    signal = (
        music / (np.std(music) + 1e-9)
        + (0.15 + 1.2 * attributes.noisiness) * percussion / (np.std(percussion) + 1e-9)
        + 0.25 * attributes.noisiness * noise_floor
    )
    level = 10.0 ** ((-34.0 + 26.0 * attributes.loudness) / 20.0)
    signal *= level / (np.sqrt(np.mean(signal**2)) + 1e-12)
    return np.clip(signal, -1.0, 1.0).astype(np.float32)


def _sample_attributes(
    prototype: dict, spread: float, rng: np.random.Generator, *, tempo_spread: float = 8.0
) -> Attributes:
    """Attributes of one clip: the prototype plus Gaussian spread (tempo spread in BPM)."""

    def unit(name: str) -> float:
        return float(np.clip(prototype[name] + spread * rng.standard_normal(), 0.0, 1.0))

    metre = prototype["metre"] if rng.random() < 0.85 else 7 - prototype["metre"]
    return Attributes(
        tempo=float(np.clip(prototype["tempo"] + tempo_spread * rng.standard_normal(), 50, 200)),
        metre=int(metre),
        brightness=unit("brightness"),
        register=unit("register"),
        major=int(rng.random() < prototype["major"]),
        loudness=unit("loudness"),
        noisiness=unit("noisiness"),
    )


def _write_audio(path: Path, audio: np.ndarray, sample_rate: int) -> Path:
    """Write ``audio`` in the format of ``path``'s suffix; mp3 falls back to wav without an encoder."""
    import soundfile

    if path.suffix == ".mp3" and "MP3" not in soundfile.available_formats():
        path = path.with_suffix(".wav")
    subtype = "PCM_16" if path.suffix in (".au", ".wav") else None
    atomic_write(
        path,
        lambda tmp: soundfile.write(tmp, audio, sample_rate, subtype=subtype, format=path.suffix[1:].upper()),
    )
    return path


def _write_attributes(path: Path, rows: list[dict]) -> None:
    def write(tmp: Path) -> None:
        with tmp.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)

    atomic_write(path, write)


# Genre prototypes: (tempo BPM, metre, brightness, register, P(major), loudness, noisiness).
_GTZAN_PROTOTYPES = {
    "blues": (88, 4, 0.40, 0.35, 0.3, 0.50, 0.30),
    "classical": (80, 3, 0.30, 0.60, 0.7, 0.25, 0.05),
    "country": (112, 4, 0.50, 0.50, 0.9, 0.50, 0.20),
    "disco": (122, 4, 0.60, 0.50, 0.6, 0.70, 0.45),
    "hiphop": (90, 4, 0.35, 0.25, 0.3, 0.70, 0.50),
    "jazz": (135, 3, 0.45, 0.45, 0.5, 0.40, 0.15),
    "metal": (160, 4, 0.85, 0.35, 0.2, 0.90, 0.80),
    "pop": (116, 4, 0.60, 0.60, 0.8, 0.65, 0.30),
    "reggae": (74, 4, 0.45, 0.35, 0.6, 0.55, 0.35),
    "rock": (142, 4, 0.70, 0.45, 0.5, 0.80, 0.60),
}


def _prototype(values: tuple) -> dict:
    return dict(zip(ATTRIBUTES, values, strict=True))


def generate_gtzan(
    out_dir: Path, *, clips_per_class: int, duration: float, rng: np.random.Generator, progress: bool
) -> None:
    """GTZAN's original layout: ``genres/<genre>/<genre>.000NN.au``, 22050 Hz mono."""
    sample_rate = 22050
    rows = []
    jobs = [(folder, n) for folder in gtzan.FOLDERS for n in range(clips_per_class)]
    for folder, number in tqdm(jobs, desc="gtzan", unit="clip", disable=not progress):
        attributes = _sample_attributes(_prototype(_GTZAN_PROTOTYPES[folder]), 0.16, rng)
        audio = render_clip(attributes, duration=duration, sample_rate=sample_rate, rng=rng)
        path = _write_audio(out_dir / "genres" / folder / f"{folder}.{number:05d}.au", audio, sample_rate)
        rows.append({"file": str(path.relative_to(out_dir)), **attributes.__dict__})
    _write_attributes(out_dir / "attributes.csv", rows)


_EMOTIFY_PROTOTYPES = {
    "classical": (84, 3, 0.35, 0.60, 0.6, 0.30, 0.10),
    "rock": (138, 4, 0.70, 0.40, 0.5, 0.80, 0.60),
    "electronic": (124, 4, 0.65, 0.50, 0.5, 0.65, 0.45),
    "pop": (112, 4, 0.55, 0.55, 0.7, 0.60, 0.30),
}

# How each centred attribute moves the log-odds that a listener marks an emotion.
# Columns: tempo (per 60 BPM), metre (3/4 = +1), brightness, register, major, loudness, noisiness.
_EMOTION_WEIGHTS = {
    "amazement": (1.2, 0.0, 0.6, 0.4, 0.3, 0.2, 0.0),
    "solemnity": (-1.4, 0.8, -0.4, -0.6, -0.8, -0.2, -0.3),
    "tenderness": (-1.0, 0.6, -0.5, 0.4, 1.0, -0.7, -0.5),
    "nostalgia": (-1.0, 0.6, -0.2, 0.0, -1.4, -0.3, -0.1),
    "calmness": (-2.0, 0.4, -0.3, 0.1, 0.3, -0.6, -0.6),
    "power": (1.0, -0.6, 0.3, -0.6, 0.0, 0.8, 0.6),
    "joyful_activation": (1.8, -0.4, 0.3, 0.3, 1.4, 0.2, 0.0),
    "tension": (1.0, -0.3, 0.3, -0.2, -1.4, 0.3, 0.7),
    "sadness": (-1.6, 0.4, -0.3, -0.4, -1.6, -0.3, -0.2),
}
_EMOTION_BASE_RATE = -1.4  # log-odds of a mark for an average clip: about 20 % of listeners
_OTHER_COLUMNS = ("mood", "liked", "disliked", "age", "gender", "mother tongue")


def _emotion_probabilities(attributes: Attributes) -> np.ndarray:
    centred = np.array(
        [
            (attributes.tempo - 110.0) / 60.0,
            1.0 if attributes.metre == 3 else 0.0,
            attributes.brightness - 0.5,
            attributes.register - 0.5,
            attributes.major - 0.5,
            attributes.loudness - 0.5,
            attributes.noisiness - 0.5,
        ]
    )
    weights = np.array([_EMOTION_WEIGHTS[e] for e in emotify.EMOTIONS])
    return 1.0 / (1.0 + np.exp(-(_EMOTION_BASE_RATE + 2.0 * weights @ centred)))


def generate_emotify(
    out_dir: Path, *, clips_per_class: int, duration: float, rng: np.random.Generator, progress: bool
) -> None:
    """Emotify's layout: ``emotifymusic/<genre>/<n>.mp3`` (44.1 kHz) and per-response ``data.csv``."""
    sample_rate = 44100
    attribute_rows, responses = [], []
    jobs = [(g, n) for g in range(len(emotify.GENRES)) for n in range(1, clips_per_class + 1)]
    for genre_index, number in tqdm(jobs, desc="emotify", unit="clip", disable=not progress):
        genre = emotify.GENRES[genre_index]
        track_id = 100 * genre_index + number
        attributes = _sample_attributes(_prototype(_EMOTIFY_PROTOTYPES[genre]), 0.22, rng, tempo_spread=16.0)
        audio = render_clip(attributes, duration=duration, sample_rate=sample_rate, rng=rng)
        path = _write_audio(out_dir / "emotifymusic" / genre / f"{number}.mp3", audio, sample_rate)
        attribute_rows.append({"file": str(path.relative_to(out_dir)), **attributes.__dict__})
        probabilities = _emotion_probabilities(attributes)
        for _ in range(int(rng.integers(11, 60))):  # listeners per track, as in the real set
            marks = (rng.random(len(probabilities)) < probabilities).astype(int)
            other = [
                int(rng.integers(1, 6)),
                int(rng.integers(0, 2)),
                int(rng.integers(0, 2)),
                int(rng.integers(18, 70)),
                int(rng.integers(0, 2)),
                "English",
            ]
            responses.append([track_id, genre, *marks, *other])

    def write_csv(tmp: Path) -> None:
        with tmp.open("w", newline="") as handle:
            writer = csv.writer(handle)
            # The real file's header has a space after every comma; keep that quirk.
            handle.write(", ".join(["track id", "genre", *emotify.EMOTIONS, *_OTHER_COLUMNS]) + "\n")
            writer.writerows(responses)

    atomic_write(out_dir / "data.csv", write_csv)
    _write_attributes(out_dir / "attributes.csv", attribute_rows)


GENERATORS: dict[str, Callable[..., None]] = {"gtzan": generate_gtzan, "emotify": generate_emotify}


def generate(
    out_dir: str | Path,
    *,
    datasets: tuple[str, ...] = ("gtzan", "emotify"),
    clips_per_class: int = 20,
    duration: float = 10.0,
    seed: int = 0,
    progress: bool = True,
) -> dict[str, Path]:
    """Write the generated ``datasets`` under ``out_dir/<key>/``.

    A dataset whose folder already holds a complete generation with the same settings is left
    as it is, so calling this before every run is cheap.

    Parameters
    ----------
    clips_per_class : int
        Clips per genre (GTZAN) or tracks per genre (Emotify).
    duration : float
        Clip length in seconds; 100-frame excerpts need at least 2.5 s.
    seed : int
        The same seed gives byte-identical audio and annotations.

    Returns
    -------
    dict mapping dataset key to its folder.
    """
    unknown = [key for key in datasets if key not in GENERATORS]
    if unknown:
        raise ParameterError(f"no generator for {unknown}; available: {sorted(GENERATORS)}")
    if clips_per_class < 2 or duration < 2.6:
        raise ParameterError(
            f"need clips_per_class >= 2 and duration >= 2.6 s, got {clips_per_class}, {duration}"
        )
    folders = {}
    for key in datasets:
        folder = Path(out_dir) / key
        settings = {
            "dataset": key,
            "clips_per_class": clips_per_class,
            "duration": duration,
            "seed": seed,
            "version": 2,
        }
        stamp = folder / _STAMP
        if not (stamp.exists() and json.loads(stamp.read_text()) == settings):
            # A per-dataset stream: adding a dataset to the list never changes the others.
            digest = int(hashlib.sha1(key.encode()).hexdigest()[:8], 16)
            rng = np.random.default_rng([seed, digest])
            GENERATORS[key](
                folder, clips_per_class=clips_per_class, duration=duration, rng=rng, progress=progress
            )
            write_json_atomic(stamp, settings)
        folders[key] = folder
    return folders
