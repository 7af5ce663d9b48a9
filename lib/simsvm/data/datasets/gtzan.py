"""GTZAN genre collection (Tzanetakis & Cook, 2002).

Layout as distributed::

    <data_dir>/genres/<genre>/<genre>.000NN.au          original release
    <data_dir>/genres_original/<genre>/<genre>.000NN.wav   common re-packaging

``data_dir`` may also be the ``genres*`` folder itself.  The class of a clip is its folder.

Random folds on GTZAN mix clips of one artist (and some exact repetitions) between training and
test, which inflates accuracy by about 13 points (Sturm, 2013).  ``split_dir`` names a folder with
the fault-filtered artist split of Kereliuk & Sturm, files ``train_filtered.txt`` (443 lines),
``valid_filtered.txt`` (197) and ``test_filtered.txt`` (290) of the form ``blues/blues.00029.wav``;
they become ``Dataset.splits`` ``train`` / ``valid`` / ``test`` for the fixed-split protocol.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from simsvm.exceptions import DataError

from ._base import Dataset

__all__ = ["AUDIO_EXTENSIONS", "CLASSES", "FILTERED_SPLITS", "FOLDERS", "GENRES", "TASK", "load"]

TASK = "classification"
FOLDERS = ("blues", "classical", "country", "disco", "hiphop", "jazz", "metal", "pop", "reggae", "rock")
# Display names; the folder 'hiphop' is the class hip-hop.
GENRES = tuple("hip-hop" if folder == "hiphop" else folder for folder in FOLDERS)
CLASSES = GENRES
AUDIO_EXTENSIONS = (".au", ".wav")
_CONTAINERS = ("genres", "genres_original", "Data/genres_original")
FILTERED_SPLITS = {"train": "train_filtered.txt", "valid": "valid_filtered.txt", "test": "test_filtered.txt"}


def _genre_root(data_dir: Path) -> Path:
    for candidate in [data_dir, *(data_dir / name for name in _CONTAINERS)]:
        if candidate.is_dir() and any((candidate / folder).is_dir() for folder in FOLDERS):
            return candidate
    raise DataError(
        f"gtzan: no genre folders ({', '.join(FOLDERS)}) under {data_dir} or its "
        f"{' / '.join(_CONTAINERS)} subfolders"
    )


def _filtered_splits(split_dir: Path, track_ids: list[str], skipped: list) -> dict[str, list[int]]:
    position = {track: i for i, track in enumerate(track_ids)}
    splits = {}
    for name, file in FILTERED_SPLITS.items():
        path = split_dir / file
        if not path.is_file():
            raise DataError(
                f"gtzan: split list {path} not found (split_dir must hold {sorted(FILTERED_SPLITS.values())})"
            )
        members = []
        for line in path.read_text().splitlines():
            if not line.strip():
                continue
            stem = Path(line.strip()).stem
            if stem in position:
                members.append(position[stem])
            else:
                skipped.append((line.strip(), f"listed in {file} but not found"))
        splits[name] = members
    return splits


def load(data_dir: str | Path, *, split_dir: str | Path | None = None) -> Dataset:
    """Index the clips under ``data_dir``; clips whose name does not match their folder are skipped."""
    data_dir = Path(data_dir)
    root = _genre_root(data_dir)
    track_ids, paths, labels, skipped = [], [], [], []
    for label, folder in enumerate(FOLDERS):
        genre_dir = root / folder
        if not genre_dir.is_dir():
            skipped.append((str(genre_dir), "genre folder missing"))
            continue
        for path in sorted(genre_dir.iterdir()):
            if path.name.startswith(".") or path.suffix.lower() not in AUDIO_EXTENSIONS:
                continue
            if not path.name.startswith(f"{folder}."):
                skipped.append((str(path), f"name does not match folder {folder!r}"))
                continue
            track_ids.append(path.stem)
            paths.append(path)
            labels.append(label)
    splits = _filtered_splits(Path(split_dir), track_ids, skipped) if split_dir is not None else {}
    return Dataset(
        key="gtzan",
        task=TASK,
        target_names=GENRES,
        track_ids=track_ids,
        audio_paths=paths,
        targets=np.asarray(labels, dtype=np.int64),
        root=root,
        skipped=skipped,
        splits=splits,
    )
