"""Emotify (Aljanaki, Wiering & Veltkamp, 2016): GEMS emotions induced by music.

Layout as distributed::

    <data_dir>/data.csv                       one row per listener response
    <data_dir>/emotifymusic/<genre>/<n>.mp3    genres classical, rock, electronic, pop; n = 1..100

``data.csv`` columns (the real header carries stray spaces, which are stripped): ``track id``,
``genre``, the nine GEMS emotions as 0/1, then ``mood``, ``liked``, ``disliked``, ``age``,
``gender``, ``mother tongue``.  Track ids are global (1-100 classical, 101-200 rock, ...); the file
of id ``i`` is ``<genre>/<(i - 1) % 100 + 1>.mp3``.  A track's target for an emotion is the share of
its responses that marked that emotion.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from simsvm.exceptions import DataError

from ._base import Dataset

__all__ = ["AUDIO_EXTENSIONS", "EMOTIONS", "GENRES", "TARGETS", "TASK", "load", "read_responses"]

TASK = "regression"
EMOTIONS = (
    "amazement",
    "solemnity",
    "tenderness",
    "nostalgia",
    "calmness",
    "power",
    "joyful_activation",
    "tension",
    "sadness",
)
TARGETS = EMOTIONS  # the regression targets, in the paper's order
GENRES = ("classical", "rock", "electronic", "pop")
# mp3 as released; wav accepted for re-encoded copies and for generated data without an encoder.
AUDIO_EXTENSIONS = (".mp3", ".wav")


def read_responses(csv_path: str | Path):
    """The listener responses as a DataFrame with clean column names."""
    import pandas as pd

    csv_path = Path(csv_path)
    if not csv_path.is_file():
        raise DataError(f"emotify: annotation file not found: {csv_path}")
    try:
        responses = pd.read_csv(csv_path, skipinitialspace=True)
    except Exception as error:
        raise DataError(f"emotify: cannot parse {csv_path}: {error}") from error
    responses.columns = [str(column).strip() for column in responses.columns]
    missing = [c for c in ("track id", "genre", *EMOTIONS) if c not in responses.columns]
    if missing:
        raise DataError(f"emotify: {csv_path} lacks column(s) {missing}; has {list(responses.columns)}")
    responses["genre"] = responses["genre"].astype(str).str.strip()
    return responses


def _audio_file(music_dir: Path, genre: str, track_id: int) -> Path | None:
    number = (track_id - 1) % 100 + 1
    for extension in AUDIO_EXTENSIONS:
        candidate = music_dir / genre / f"{number}{extension}"
        if candidate.is_file():
            return candidate
    return None


def load(data_dir: str | Path) -> Dataset:
    """Average the responses per track and pair each track with its audio file.

    Response rows whose emotion marks are not 0/1 (NaN, other values) are left out and reported,
    as are annotated tracks without audio and audio files without annotation.
    """
    import pandas as pd

    data_dir = Path(data_dir)
    music_dir = data_dir / "emotifymusic"
    if not music_dir.is_dir():
        raise DataError(f"emotify: folder {music_dir} not found (expected emotifymusic/<genre>/<n>.mp3)")
    responses = read_responses(data_dir / "data.csv")
    unknown = sorted(set(responses["genre"]) - set(GENRES))
    if unknown:
        raise DataError(f"emotify: {data_dir / 'data.csv'} has unknown genre(s) {unknown}")
    skipped = []
    marks = responses[list(EMOTIONS)].apply(lambda column: pd.to_numeric(column, errors="coerce"))
    invalid = ~marks.isin([0, 1]).all(axis=1)
    for line, row in responses[invalid].iterrows():
        # the header is line 1 of the file
        skipped.append((f"data.csv line {line + 2}", f"track {row['track id']}: emotion marks not all 0/1"))
    responses = responses[~invalid].assign(**{e: marks.loc[~invalid, e] for e in EMOTIONS})
    per_track = responses.groupby("track id", sort=True)
    shares = per_track[list(EMOTIONS)].mean()
    genres = per_track["genre"].agg(lambda g: g.mode().iat[0])
    track_ids, paths, targets = [], [], []
    for track_id, row in shares.iterrows():
        path = _audio_file(music_dir, genres.loc[track_id], int(track_id))
        if path is None:
            skipped.append((f"track {track_id}", f"no audio file in {music_dir / genres.loc[track_id]}"))
            continue
        track_ids.append(str(track_id))
        paths.append(path)
        targets.append(row.to_numpy(dtype=np.float64))
    used = set(paths)
    for path in sorted(music_dir.glob("*/*")):
        if path.suffix.lower() in AUDIO_EXTENSIONS and not path.name.startswith(".") and path not in used:
            skipped.append((str(path), "audio has no annotation in data.csv"))
    return Dataset(
        key="emotify",
        task=TASK,
        target_names=EMOTIONS,
        track_ids=track_ids,
        audio_paths=paths,
        targets=np.asarray(targets, dtype=np.float64).reshape(-1, len(EMOTIONS)),
        root=data_dir,
        skipped=skipped,
        target_bounds=((0.0, 1.0),) * len(EMOTIONS),  # shares of listeners
    )
