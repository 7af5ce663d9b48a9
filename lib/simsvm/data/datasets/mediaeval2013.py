"""MediaEval 2013 "Emotion in Music" / emoMusic "1000 songs" (Soleymani et al., 2013): valence, arousal.

Layout as distributed::

    <data_dir>/clips_45seconds/<song_id>.mp3
    <data_dir>/annotations/static_annotations.csv   song_id, mean_arousal, std_arousal,
                                                    mean_valence, std_valence (1..9 scale)
    <data_dir>/annotations/songs_info.csv           song_id, file_name, Artist, Song title, segment
                                                    start/end, Genre, Mediaeval 2013 set

The released annotations hold the 744 songs left after duplicate removal (ids 2..1000 with gaps).
Targets are the mean valence and arousal.  ``songs_info.csv``, when present, gives the official
development / evaluation split as ``Dataset.splits``.  Header names and text fields carry stray
spaces and tabs in the real files; they are stripped.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from simsvm.exceptions import DataError

from ._base import Dataset

__all__ = ["AUDIO_EXTENSIONS", "SCALE", "TARGETS", "TASK", "load"]

TASK = "regression"
TARGETS = ("valence", "arousal")
SCALE = (1.0, 9.0)
AUDIO_EXTENSIONS = (".mp3", ".wav")
_ANNOTATIONS = Path("annotations") / "static_annotations.csv"
_SONGS_INFO = Path("annotations") / "songs_info.csv"
_SET_COLUMN = "Mediaeval 2013 set"


def _read_csv(path: Path, required: tuple[str, ...]):
    import pandas as pd

    if not path.is_file():
        raise DataError(f"mediaeval2013: annotation file not found: {path}")
    try:
        table = pd.read_csv(path, skipinitialspace=True, dtype=str)
    except Exception as error:
        raise DataError(f"mediaeval2013: cannot parse {path}: {error}") from error
    table.columns = [str(c).strip() for c in table.columns]
    missing = [c for c in required if c not in table.columns]
    if missing:
        raise DataError(f"mediaeval2013: {path} lacks column(s) {missing}; has {list(table.columns)}")
    return table.apply(lambda column: column.str.strip())


def load(data_dir: str | Path) -> Dataset:
    """Pair each annotated song with its clip; report clips without annotation and bad values."""
    data_dir = Path(data_dir)
    clips = data_dir / "clips_45seconds"
    if not clips.is_dir():
        raise DataError(f"mediaeval2013: folder {clips} not found (expected clips_45seconds/<song_id>.mp3)")
    table = _read_csv(data_dir / _ANNOTATIONS, ("song_id", "mean_arousal", "mean_valence"))
    on_disk = {p.stem: p for p in sorted(clips.iterdir()) if p.suffix.lower() in AUDIO_EXTENSIONS}
    track_ids, paths, targets, skipped = [], [], [], []
    for row in table.itertuples(index=False):
        song = row.song_id
        try:
            values = np.array([float(row.mean_valence), float(row.mean_arousal)])
        except ValueError:
            values = np.array([np.nan, np.nan])
        if not np.all(np.isfinite(values)) or values.min() < SCALE[0] or values.max() > SCALE[1]:
            skipped.append((f"song {song}", f"valence/arousal {values.tolist()} not a number in {SCALE}"))
            continue
        if song not in on_disk:
            skipped.append((f"song {song}", f"annotated but no clip in {clips}"))
            continue
        track_ids.append(song)
        paths.append(on_disk[song])
        targets.append(values)
    for stem in sorted(set(on_disk) - set(table.song_id)):
        skipped.append((str(on_disk[stem]), "clip has no annotation"))
    splits = {}
    info_path = data_dir / _SONGS_INFO
    if info_path.is_file():
        info = _read_csv(info_path, ("song_id", _SET_COLUMN))
        set_of = dict(zip(info.song_id, info[_SET_COLUMN].str.lower(), strict=True))
        for name in ("development", "evaluation"):
            splits[name] = [i for i, song in enumerate(track_ids) if set_of.get(song) == name]
    return Dataset(
        key="mediaeval2013",
        task=TASK,
        target_names=TARGETS,
        track_ids=track_ids,
        audio_paths=paths,
        targets=np.asarray(targets, dtype=np.float64).reshape(-1, len(TARGETS)),
        root=data_dir,
        skipped=skipped,
        splits=splits,
        target_bounds=((1.0, 9.0), (1.0, 9.0)),  # the annotators' 9-point scale
    )
