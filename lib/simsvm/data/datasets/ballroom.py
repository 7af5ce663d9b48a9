"""Ballroom (Gouyon et al., 2004; ISMIR 2004 rhythm contest): dance styles from 30 s excerpts.

Layout as distributed::

    <data_dir>/BallroomData/<Dance>/<file>.wav
    <data_dir>/BallroomData/allBallroomFiles      lines './<Dance>/<file>.wav'

``data_dir`` may also be ``BallroomData`` itself.  macOS ``._*`` files in the archive are
ignored.  The class of a file is its folder; ``merge_rumba`` joins the three Rumba folders into
one class (8 classes).

Thirteen recordings are in the set twice under different names (:data:`REPLICAS`; Sturm, "The
Ballroom dataset: its faults", 2014): four exact replicas, one of them filed under two dances
(``ChaChaCha/Albums-Fire-08``, ``Samba/Albums-Fire-09``), and nine replicas of one recording as
separate excerpts.  Copies with identical bytes are always used once
(:func:`~simsvm.data.datasets.load_dataset`); with ``drop_replicas`` the second of each listed
pair is left out too, so that no recording Sturm found twice sits on both sides of a fold.
``extra_replicas`` adds pairs of file stems; a stem that names no file is an error.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from simsvm.exceptions import DataError, ParameterError

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
# Replicated recordings, (kept, dropped) by file stem, as Sturm (2014) lists them; checked
# against CPJKU/BallroomAnnotations' README, which quotes his list, and the 13 second members
# tempo_eval drops.  Extend with `extra_replicas`.
REPLICAS: tuple[tuple[str, str], ...] = (
    # exact replicas (the same excerpt twice)
    ("Albums-AnaBelen_Veneo-11", "Albums-Chrisanne2-12"),  # Quickstep, Quickstep
    ("Albums-Fire-08", "Albums-Fire-09"),  # ChaChaCha, Samba
    ("Albums-Latin_Jam2-05", "Albums-Latin_Jam2-13"),  # ChaChaCha
    ("Albums-Secret_Garden-01", "Media-104705"),  # Waltz
    # recording replicas (two excerpts of one recording)
    ("Albums-AnaBelen_Veneo-03", "Albums-AnaBelen_Veneo-15"),  # Rumba-International
    ("Albums-Ballroom_Magic-03", "Albums-Ballroom_Magic-18"),  # Waltz
    ("Albums-Latin_Jam-04", "Albums-Latin_Jam-13"),  # ChaChaCha
    ("Albums-Latin_Jam-08", "Albums-Latin_Jam-14"),  # Rumba-International
    ("Albums-Latin_Jam-06", "Albums-Latin_Jam-15"),  # Samba
    ("Albums-Latin_Jam2-02", "Albums-Latin_Jam2-14"),  # Samba
    ("Albums-Latin_Jam2-07", "Albums-Latin_Jam2-15"),  # Rumba-International
    ("Albums-Latin_Jam3-02", "Media-103414"),  # ChaChaCha
    ("Media-103402", "Media-103415"),  # ChaChaCha
)
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


def _checked_extra_replicas(root: Path, pairs, drop_replicas: bool) -> list[tuple[str, str]]:
    """``extra_replicas`` as pairs of stems, each naming a file of the set; anything else is an error.

    A name that matches nothing would otherwise leave its replica in the set without a word.
    """
    if not pairs:
        return []
    if not drop_replicas:
        raise ParameterError("ballroom: dataset_options extra_replicas is used only with drop_replicas: true")
    if isinstance(pairs, str) or not all(
        isinstance(pair, (list, tuple)) and len(pair) == 2 and all(isinstance(n, str) for n in pair)
        for pair in pairs
    ):
        raise ParameterError(
            "ballroom: dataset_options extra_replicas must be pairs [kept, dropped] of file stems, "
            f"got {pairs!r}"
        )
    stems = {path.stem for dance in DANCES for path in (root / dance).glob("*.wav")}
    unmatched = sorted({name for pair in pairs for name in pair} - stems)
    if unmatched:
        raise ParameterError(
            f"ballroom: dataset_options extra_replicas: no file {unmatched} in {root} "
            "(name files by stem, without folder or .wav, e.g. Albums-Fire-09)"
        )
    return [(kept, dropped) for kept, dropped in pairs]


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
    extra = _checked_extra_replicas(root, extra_replicas, drop_replicas)
    dropped = {second for _, second in (*REPLICAS, *extra)} if drop_replicas else set()
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
