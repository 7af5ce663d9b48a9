"""Deterministic generated datasets in the real datasets' on-disk layouts.

Clips come from :mod:`simsvm.data.datasets._render`: music-like signals whose hidden attributes (tempo,
metre, brightness, register, mode, loudness, noisiness) drive the labels, so that the labels are
learnable from audio but not from a mean spectrum alone.  The attributes of every clip are written
beside the data (``attributes.csv``), which the loaders ignore; they are the ground truth when a
result looks odd.
"""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np

from simsvm._io import atomic_write, write_json_atomic
from simsvm.exceptions import ParameterError

from . import ballroom, emotify, gtzan, lastfm
from ._render import (
    MOOD_PROTOTYPES,
    Attributes,
    prototype,
    render_set,
    valence_arousal,
    write_stand_in_embeddings,
)

__all__ = ["GENERATORS", "STAMP", "generate", "generation_stamp"]

# Written in every dataset folder the generator fills (a hidden file, which no loader indexes):
# it tells a rerun what is already there, and a report that the data are generated.
STAMP = ".synthetic.json"


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


def generate_gtzan(
    out_dir: Path, *, clips_per_class: int, duration: float, rng: np.random.Generator, progress: bool
) -> None:
    """GTZAN's original layout: ``genres/<genre>/<genre>.000NN.au``, 22050 Hz mono; and
    ``embeddings.csv``, stand-in embeddings for the Embedding approach."""
    clips = [
        (f"genres/{folder}/{folder}.{n:05d}.au", prototype(_GTZAN_PROTOTYPES[folder]), 0.16, 8.0)
        for folder in gtzan.FOLDERS
        for n in range(clips_per_class)
    ]
    written = render_set(out_dir, clips, sample_rate=22050, duration=duration, rng=rng, progress=progress)
    write_stand_in_embeddings(out_dir, written)


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
    numbers = range(1, clips_per_class + 1)
    clips = [
        (f"emotifymusic/{genre}/{n}.mp3", prototype(_EMOTIFY_PROTOTYPES[genre]), 0.22, 16.0)
        for genre in emotify.GENRES
        for n in numbers
    ]
    written = render_set(out_dir, clips, sample_rate=44100, duration=duration, rng=rng, progress=progress)
    responses = []
    for (_path, attributes), (genre_index, number) in zip(
        written, [(g, n) for g in range(len(emotify.GENRES)) for n in numbers], strict=True
    ):
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
            responses.append([100 * genre_index + number, emotify.GENRES[genre_index], *marks, *other])

    def write_csv(tmp: Path) -> None:
        with tmp.open("w", newline="") as handle:
            writer = csv.writer(handle)
            # The real file's header has a space after every comma; keep that quirk.
            handle.write(", ".join(["track id", "genre", *emotify.EMOTIONS, *_OTHER_COLUMNS]) + "\n")
            writer.writerows(responses)

    atomic_write(out_dir / "data.csv", write_csv)


# Dance prototypes: tempo and metre carry the class; the three Rumbas differ only slightly.
_BALLROOM_PROTOTYPES = {
    "ChaChaCha": (120, 4, 0.55, 0.50, 0.7, 0.60, 0.45),
    "Jive": (168, 4, 0.65, 0.55, 0.8, 0.70, 0.40),
    "Quickstep": (200, 4, 0.60, 0.60, 0.8, 0.65, 0.30),
    "Rumba-American": (104, 4, 0.45, 0.45, 0.5, 0.50, 0.35),
    "Rumba-International": (100, 4, 0.45, 0.45, 0.5, 0.45, 0.35),
    "Rumba-Misc": (98, 4, 0.50, 0.45, 0.5, 0.50, 0.40),
    "Samba": (100, 4, 0.60, 0.50, 0.7, 0.65, 0.65),
    "Tango": (128, 4, 0.55, 0.40, 0.3, 0.70, 0.30),
    "VienneseWaltz": (174, 3, 0.50, 0.55, 0.7, 0.55, 0.20),
    "Waltz": (87, 3, 0.40, 0.55, 0.7, 0.40, 0.15),
}


def generate_ballroom(
    out_dir: Path, *, clips_per_class: int, duration: float, rng: np.random.Generator, progress: bool
) -> None:
    """Ballroom's layout: ``BallroomData/<Dance>/<file>.wav``, ``allBallroomFiles`` and macOS ``._`` files.

    ChaChaCha's first two files are the same recording under two names, like the real set's
    replicated ``Albums-Latin_Jam-06`` / ``Albums-Latin_Jam-15``.
    """
    root = out_dir / "BallroomData"
    clips = []
    for dance in ballroom.DANCES:
        for n in range(clips_per_class):
            name = f"Albums-Synth_{dance.replace('-', '_')}-{n + 1:02d}"
            if dance == "ChaChaCha" and n < 2:
                name = ("Albums-Latin_Jam-06", "Albums-Latin_Jam-15")[n]
            clips.append(
                (f"BallroomData/{dance}/{name}.wav", prototype(_BALLROOM_PROTOTYPES[dance]), 0.12, 4.0)
            )
    written = render_set(
        out_dir, clips[:1] + clips[2:], sample_rate=22050, duration=duration, rng=rng, progress=progress
    )
    replica = root / "ChaChaCha" / "Albums-Latin_Jam-15.wav"
    atomic_write(replica, lambda tmp: tmp.write_bytes(written[0][0].read_bytes()))
    (root / "ChaChaCha" / "._Albums-Latin_Jam-06.wav").write_bytes(b"\x00\x05\x16\x07 macOS resource fork")
    listing = sorted(
        f"./{p.relative_to(root).as_posix()}" for p in root.rglob("*.wav") if not p.name.startswith(".")
    )
    atomic_write(root / "allBallroomFiles", lambda tmp: tmp.write_text("\n".join(listing) + "\n"))


_SONG_PROTOTYPE = (110, 4, 0.5, 0.5, 0.5, 0.5, 0.4)
_GENRES_1000_SONGS = ("Blues", "Classical", "Country", "Electronic", "Folk", "Jazz", "Pop", "Rock")


def generate_mediaeval2013(
    out_dir: Path, *, clips_per_class: int, duration: float, rng: np.random.Generator, progress: bool
) -> None:
    """MediaEval 2013's layout: ``clips_45seconds/<id>.mp3``, static annotations and songs info.

    ``4 * clips_per_class`` songs with ids drawn from 2..1000 (gaps, like the released 744).
    Ratings are means of ten simulated raters on the 1..9 scale.
    """
    song_ids = np.sort(rng.choice(np.arange(2, 1001), size=4 * clips_per_class, replace=False))
    clips = [(f"clips_45seconds/{song}.mp3", prototype(_SONG_PROTOTYPE), 0.25, 25.0) for song in song_ids]
    written = render_set(out_dir, clips, sample_rate=44100, duration=duration, rng=rng, progress=progress)
    annotations, info = [], []
    development = round(0.8 * len(song_ids))
    for position, (song, (_path, attributes)) in enumerate(zip(song_ids, written, strict=True)):
        ratings = [
            np.clip(5.0 + 2.2 * latent + rng.normal(0.0, 1.2, size=10), 1.0, 9.0)
            for latent in valence_arousal(attributes)
        ]
        valence, arousal = ratings
        annotations.append(
            f"{song},{arousal.mean():.2f},{arousal.std():.2f},{valence.mean():.2f},{valence.std():.2f}"
        )
        genre = _GENRES_1000_SONGS[int(rng.integers(len(_GENRES_1000_SONGS)))]
        split = "development" if position < development else "evaluation"
        # Text fields of the real songs_info.csv carry stray tabs.
        info.append(
            f"{song},{song}.mp3,\tSynth Artist {song}\t,\tSong {song}\t,0.30,1.15,\t{genre}\t,{split}"
        )
    annotations_dir = out_dir / "annotations"
    header = "song_id, mean_arousal, std_arousal, mean_valence, std_valence"
    atomic_write(
        annotations_dir / "static_annotations.csv",
        lambda tmp: tmp.write_text("\n".join([header, *annotations]) + "\n"),
    )
    info_header = (
        "song_id,file_name,Artist,Song title,start of the segment (min.sec),"
        "end of the segment (min.sec),Genre,Mediaeval 2013 set"
    )
    atomic_write(
        annotations_dir / "songs_info.csv", lambda tmp: tmp.write_text("\n".join([info_header, *info]) + "\n")
    )


_LASTFM_LABEL_NOISE = 0.15  # social tags are noisy annotations


def generate_lastfm(
    out_dir: Path, *, clips_per_class: int, duration: float, rng: np.random.Generator, progress: bool
) -> None:
    """A label list ``labels.csv`` (file,label) beside ``audio/<n>.mp3``; 15 % of labels are wrong."""
    clips, labels = [], []
    for mood in lastfm.MOODS:
        for _ in range(clips_per_class):
            clips.append((f"audio/{len(clips) + 1:05d}.mp3", prototype(MOOD_PROTOTYPES[mood]), 0.20, 15.0))
            noisy = rng.random() < _LASTFM_LABEL_NOISE
            labels.append(lastfm.MOODS[int(rng.integers(4))] if noisy else mood)
    written = render_set(out_dir, clips, sample_rate=22050, duration=duration, rng=rng, progress=progress)
    lines = ["file,label"] + [
        f"{path.relative_to(out_dir).as_posix()},{label}"
        for (path, _), label in zip(written, labels, strict=True)
    ]
    atomic_write(out_dir / "labels.csv", lambda tmp: tmp.write_text("\n".join(lines) + "\n"))


# Your own data: a four-quadrant set as folders per class, and a regression set as a table.
_QUADRANTS = {"Q1": "happy", "Q2": "angry", "Q3": "sad", "Q4": "relaxed"}


def generate_folders(
    out_dir: Path, *, clips_per_class: int, duration: float, rng: np.random.Generator, progress: bool
) -> None:
    """``<quadrant>/<session>/<clip>`` in mp3 and flac, and a ``notes/`` folder that is not a class."""
    clips = [
        (
            f"{quadrant}/{('studio', 'live')[n % 2]}/{quadrant.lower()}-{n:03d}.{('mp3', 'flac')[n % 3 > 0]}",
            prototype(MOOD_PROTOTYPES[mood]),
            0.20,
            15.0,
        )
        for quadrant, mood in _QUADRANTS.items()
        for n in range(clips_per_class)
    ]
    render_set(out_dir, clips, sample_rate=22050, duration=duration, rng=rng, progress=progress)
    atomic_write(
        out_dir / "notes" / "README.txt", lambda tmp: tmp.write_text("listening notes, not a class\n")
    )


def generate_table(
    out_dir: Path, *, clips_per_class: int, duration: float, rng: np.random.Generator, progress: bool
) -> None:
    """``annotations.csv`` (file, valence, arousal on 1..9, split) beside ``clips/<n>.wav``."""
    clips = [
        (f"clips/{n:04d}.wav", prototype(_SONG_PROTOTYPE), 0.25, 25.0) for n in range(4 * clips_per_class)
    ]
    written = render_set(out_dir, clips, sample_rate=16000, duration=duration, rng=rng, progress=progress)
    lines = ["file,valence,arousal,split"]
    for position, (path, attributes) in enumerate(written):
        valence, arousal = (
            float(np.clip(5.0 + 2.2 * latent + rng.normal(0.0, 0.5), 1.0, 9.0))
            for latent in valence_arousal(attributes)
        )
        split = "train" if position < round(0.8 * len(written)) else "test"
        lines.append(f"{path.relative_to(out_dir).as_posix()},{valence:.2f},{arousal:.2f},{split}")
    atomic_write(out_dir / "annotations.csv", lambda tmp: tmp.write_text("\n".join(lines) + "\n"))


GENERATORS: dict[str, Callable[..., None]] = {
    "lastfm": generate_lastfm,
    "emotify": generate_emotify,
    "mediaeval2013": generate_mediaeval2013,
    "gtzan": generate_gtzan,
    "ballroom": generate_ballroom,
    "folders": generate_folders,
    "table": generate_table,
}


def generation_stamp(data_dir: str | Path) -> dict | None:
    """The generator's settings if ``data_dir`` (or a folder up to two above it) is generated data.

    Returns
    -------
    dict or None
        The stamp's settings (``dataset``, ``clips_per_class``, ``duration``, ``seed``, ...), or
        None for a folder the generator did not write.  A stamp that cannot be read still marks
        the folder as generated (an empty dict).
    """
    folder = Path(data_dir)
    for candidate in (folder, *list(folder.parents)[:2]):
        stamp = candidate / STAMP
        if stamp.is_file():
            try:
                settings = json.loads(stamp.read_text())
            except (OSError, UnicodeDecodeError, json.JSONDecodeError):
                return {}
            return settings if isinstance(settings, dict) else {}
    return None


def _clear_earlier_generation(folder: Path) -> None:
    """Remove an earlier generation (other settings) so none of its files outlive it.

    Loaders index every file of a layout, so clips left over from a larger generation would
    silently join the dataset.  A non-empty folder without our stamp may be real data: refused.
    """
    if not folder.exists():
        return
    if not (folder / STAMP).exists():
        if any(folder.iterdir()):
            raise ParameterError(
                f"{folder} exists and was not written by the generator; choose another --out folder"
            )
        return
    shutil.rmtree(folder)


def generate(
    out_dir: str | Path,
    *,
    datasets: tuple[str, ...] | None = None,
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
    datasets : tuple of str, optional
        Keys of :data:`GENERATORS` (default: all, the five paper datasets and the two layouts of
        your own data, ``folders`` and ``table``).
    clips_per_class : int
        The one size knob: clips per class (GTZAN genres, Ballroom dances, Lastfm moods, quadrant
        folders), tracks per genre (Emotify), and a quarter of the songs (MediaEval 2013, table).
    duration : float
        Clip length in seconds; 100-frame excerpts need at least 2.5 s.
    seed : int
        The same seed gives byte-identical audio and annotations.

    Returns
    -------
    dict mapping dataset key to its folder.
    """
    datasets = tuple(GENERATORS) if datasets is None else tuple(datasets)
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
            "version": 4,
        }
        stamp = folder / STAMP
        if not (stamp.exists() and json.loads(stamp.read_text()) == settings):
            _clear_earlier_generation(folder)
            # Marked unfinished first, so that an interrupted generation is recognised as ours.
            write_json_atomic(stamp, {**settings, "complete": False})
            # A per-dataset stream: adding a dataset to the list never changes the others.
            digest = int(hashlib.sha1(key.encode()).hexdigest()[:8], 16)
            rng = np.random.default_rng([seed, digest])
            GENERATORS[key](
                folder, clips_per_class=clips_per_class, duration=duration, rng=rng, progress=progress
            )
            write_json_atomic(stamp, settings)
        folders[key] = folder
    return folders
