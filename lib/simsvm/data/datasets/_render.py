"""Music-like clips rendered from hidden attributes (NumPy only), for the generated datasets.

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

The layouts that use these clips are written by :mod:`simsvm.data.datasets.synthetic`.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm  # the plain bar: tqdm.auto stays still under papermill

from simsvm._io import atomic_write

__all__ = [
    "ATTRIBUTES",
    "MOOD_PROTOTYPES",
    "Attributes",
    "render_clip",
    "render_set",
    "sample_attributes",
    "valence_arousal",
    "write_audio",
    "write_rows",
]

ATTRIBUTES = ("tempo", "metre", "brightness", "register", "major", "loudness", "noisiness")
_MAJOR_SCALE = np.array([0, 2, 4, 5, 7, 9, 11])
_MINOR_SCALE = np.array([0, 2, 3, 5, 7, 8, 10])
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


def sample_attributes(
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


def write_audio(path: Path, audio: np.ndarray, sample_rate: int) -> Path:
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


def write_rows(path: Path, rows: list[dict]) -> None:
    """Write dict rows as CSV, header from the first row, atomically."""

    def write(tmp: Path) -> None:
        with tmp.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)

    atomic_write(path, write)


def prototype(values: tuple) -> dict:
    """A prototype tuple in :data:`ATTRIBUTES` order as a dict."""
    return dict(zip(ATTRIBUTES, values, strict=True))


# Mood prototypes in the valence/arousal quadrants.
MOOD_PROTOTYPES = {
    "happy": (135, 4, 0.65, 0.60, 0.9, 0.65, 0.30),
    "sad": (78, 3, 0.35, 0.40, 0.1, 0.30, 0.15),
    "angry": (145, 4, 0.75, 0.35, 0.2, 0.85, 0.75),
    "relaxed": (85, 4, 0.40, 0.55, 0.8, 0.30, 0.10),
}


def valence_arousal(attributes: Attributes) -> tuple[float, float]:
    """Latent valence and arousal (about -1.5..1.5) of a clip, from its attributes."""
    tempo = (attributes.tempo - 110.0) / 60.0
    valence = (
        1.6 * (attributes.major - 0.5)
        + 0.8 * tempo
        + 0.8 * (attributes.brightness - 0.5)
        - 0.6 * (attributes.noisiness - 0.5)
    )
    arousal = (
        1.6 * tempo
        + 1.2 * (attributes.loudness - 0.5)
        + 1.0 * (attributes.noisiness - 0.5)
        + 0.4 * (attributes.brightness - 0.5)
    )
    return valence, arousal


def render_set(
    out_dir: Path,
    clips: list[tuple[str, dict, float, float]],
    *,
    sample_rate: int,
    duration: float,
    rng: np.random.Generator,
    progress: bool,
) -> list[tuple[Path, Attributes]]:
    """Render ``(relative path, prototype, spread, tempo spread)`` clips; record their attributes."""
    written, rows = [], []
    for relative, proto, spread, tempo_spread in tqdm(
        clips, desc=out_dir.name, unit="clip", disable=not progress
    ):
        attributes = sample_attributes(proto, spread, rng, tempo_spread=tempo_spread)
        audio = render_clip(attributes, duration=duration, sample_rate=sample_rate, rng=rng)
        path = write_audio(out_dir / relative, audio, sample_rate)
        written.append((path, attributes))
        rows.append({"file": path.relative_to(out_dir).as_posix(), **attributes.__dict__})
    write_rows(out_dir / "attributes.csv", rows)
    return written


def write_stand_in_embeddings(
    out_dir: Path, written: list[tuple[Path, Attributes]], *, dimension: int = 16, noise: float = 0.5
) -> Path:
    """``embeddings.csv``: one vector per clip, standing in for a pre-trained model's embeddings.

    Each vector is a fixed random projection of the clip's standardised hidden attributes plus
    Gaussian noise, so it carries the labels' information imperfectly, as a real embedding
    would; the id is the file name without its extension (the track id of GTZAN and Ballroom).
    Drawn from a generator of its own, so the audio does not change.
    """
    rng = np.random.default_rng(20180101)
    values = np.array([list(attributes.__dict__.values()) for _, attributes in written], dtype=np.float64)
    spread = values.std(axis=0)
    values = (values - values.mean(axis=0)) / np.where(spread > 0, spread, 1.0)
    vectors = values @ rng.standard_normal((values.shape[1], dimension))
    vectors += noise * rng.standard_normal(vectors.shape)
    rows = [
        {"id": path.name.rsplit(".", 1)[0], **{f"e{j}": round(float(v), 6) for j, v in enumerate(vector)}}
        for (path, _), vector in zip(written, vectors, strict=True)
    ]
    write_rows(out_dir / "embeddings.csv", rows)
    return out_dir / "embeddings.csv"
