"""Ballroom (Gouyon et al., 2004; ISMIR 2004 rhythm contest): dance styles from 30 s excerpts.

Layout as distributed::

    <data_dir>/BallroomData/<Dance>/<file>.wav
    <data_dir>/BallroomData/allBallroomFiles      lines './<Dance>/<file>.wav'

``data_dir`` may also be ``BallroomData`` itself.  macOS ``._*`` files in the archive are
ignored.  The class of a file is its folder; ``merge_rumba`` joins the three Rumba folders into
one class (8 classes).  A few recordings are in the set twice under different names; with
``drop_replicas`` the second of each known pair is left out, so that no recording sits on both
sides of a fold.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from simsvm.exceptions import DataError

from ._base import Dataset

__all__ = ["CLASSES", "DANCES", "REPLICAS", "TASK", "load"]

TASK = "classification"
DANCES = (
    "ChaChaCha",
    "Jive",
    "Quickstep",
    "Rumba-American",
    "Rumba-International",
    "Rumba-Misc",
    "Samba",
    "Tango",
    "VienneseWaltz",
    "Waltz",
)
CLASSES = DANCES  # merge_rumba joins the three Rumba classes into one
# Known replicated recordings, (kept, dropped) by file stem.  Extend with `extra_replicas`.
REPLICAS: tuple[tuple[str, str], ...] = (("Albums-Latin_Jam-06", "Albums-Latin_Jam-15"),)
_LIST_FILE = "allBallroomFiles"


def _root(data_dir: Path) -> Path:
    for candidate in (data_dir / "BallroomData", data_dir):
        if candidate.is_dir() and any((candidate / dance).is_dir() for dance in DANCES):
            return candidate
    raise DataError(
        f"ballroom: expected dance folders ({', '.join(DANCES)}) in {data_dir / 'BallroomData'} or {data_dir}"
    )


def _class_name(dance: str, merge_rumba: bool) -> str:
    return "Rumba" if merge_rumba and dance.startswith("Rumba") else dance


def load(
    data_dir: str | Path,
    *,
    merge_rumba: bool = False,
    drop_replicas: bool = False,
    extra_replicas: tuple[tuple[str, str], ...] = (),
) -> Dataset:
    """Index the clips; with ``allBallroomFiles`` present, report files it lists that are missing."""
    root = _root(Path(data_dir))
    classes = tuple(dict.fromkeys(_class_name(dance, merge_rumba) for dance in DANCES))
    dropped = {second for _, second in (*REPLICAS, *extra_replicas)} if drop_replicas else set()
    track_ids, paths, labels, skipped = [], [], [], []
    for dance in DANCES:
        folder = root / dance
        if not folder.is_dir():
            skipped.append((str(folder), "dance folder missing"))
            continue
        for path in sorted(folder.glob("*.wav")):
            if path.name.startswith("."):
                continue
            if path.stem in dropped:
                skipped.append((str(path), "replica of another recording (drop_replicas)"))
                continue
            track_ids.append(f"{dance}/{path.stem}")
            paths.append(path)
            labels.append(classes.index(_class_name(dance, merge_rumba)))
    listing = root / _LIST_FILE
    if listing.is_file():
        listed = {
            line.strip().removeprefix("./") for line in listing.read_text().splitlines() if line.strip()
        }
        present = {p.relative_to(root).as_posix() for p in paths}
        for missing in sorted(listed - present - {f"{d}/{s}.wav" for d in DANCES for s in dropped}):
            skipped.append((str(root / missing), f"listed in {_LIST_FILE} but not on disk"))
    return Dataset(
        key="ballroom",
        task=TASK,
        target_names=classes,
        track_ids=track_ids,
        audio_paths=paths,
        targets=np.asarray(labels, dtype=np.int64),
        root=root,
        skipped=skipped,
    )
