"""Lastfm mood set (Song, Dixon & Pearce, 2012): happy, sad, angry, relaxed.

The set's distribution format is not documented publicly, so two layouts are read:

* a label list: ``<data_dir>/labels.csv`` (or ``.tsv``, or any file given as ``label_file``)
  with columns ``file`` and ``label``; ``file`` is relative to ``data_dir``;
* folders per label: ``<data_dir>/<label>/<file>.{mp3,wav,au,flac,ogg}``.

The second layout also serves any other four-quadrant mood set laid out as folders per quadrant:
the class names are then the folder names (the four Lastfm moods first, in their usual order,
when present).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from simsvm.exceptions import DataError

from ._base import Dataset, unlisted_audio

__all__ = ["AUDIO_EXTENSIONS", "CLASSES", "MOODS", "TASK", "load"]

TASK = "classification"
MOODS = ("happy", "sad", "angry", "relaxed")
CLASSES = MOODS  # the declared classes (a labels file may add others)
AUDIO_EXTENSIONS = (".mp3", ".wav", ".au", ".flac", ".ogg")
_LABEL_FILES = ("labels.csv", "labels.tsv")


def _ordered(labels: set[str]) -> tuple[str, ...]:
    return tuple([m for m in MOODS if m in labels] + sorted(labels - set(MOODS)))


def _from_list(data_dir: Path, label_file: Path):
    import pandas as pd

    separator = "\t" if label_file.suffix == ".tsv" else ","
    try:
        table = pd.read_csv(label_file, sep=separator, dtype=str, skipinitialspace=True)
    except Exception as error:
        raise DataError(f"lastfm: cannot parse {label_file}: {error}") from error
    table.columns = [str(c).strip().lower() for c in table.columns]
    if not {"file", "label"} <= set(table.columns):
        raise DataError(f"lastfm: {label_file} needs columns 'file' and 'label'; has {list(table.columns)}")
    entries, skipped = [], []
    for row in table.itertuples(index=False):
        file, label = str(row.file).strip(), str(row.label).strip().lower()
        if not label or label == "nan":
            skipped.append((file, f"no label in {label_file.name}"))
        elif not (data_dir / file).is_file():
            skipped.append((str(data_dir / file), f"listed in {label_file.name} but not on disk"))
        else:
            entries.append((data_dir / file, label))
    listed = {path.resolve() for path, _ in entries} | {
        (data_dir / str(f).strip()).resolve() for f in table.file
    }
    skipped += unlisted_audio(data_dir, listed, AUDIO_EXTENSIONS, label_file.name)
    return entries, skipped


def _from_folders(data_dir: Path):
    entries = []
    for folder in sorted(p for p in data_dir.iterdir() if p.is_dir() and not p.name.startswith(".")):
        for path in sorted(folder.iterdir()):
            if path.suffix.lower() in AUDIO_EXTENSIONS and not path.name.startswith("."):
                entries.append((path, folder.name.lower()))
    return entries, []


def load(data_dir: str | Path, *, label_file: str | None = None) -> Dataset:
    """Index the labelled clips from a label list or from folders per label."""
    data_dir = Path(data_dir)
    candidates = [data_dir / label_file] if label_file else [data_dir / name for name in _LABEL_FILES]
    found = next((p for p in candidates if p.is_file()), None)
    if label_file and found is None:
        raise DataError(f"lastfm: label file {data_dir / label_file} not found")
    entries, skipped = _from_list(data_dir, found) if found else _from_folders(data_dir)
    if not entries:
        raise DataError(
            f"lastfm: no labelled audio under {data_dir}: expected {' or '.join(_LABEL_FILES)} "
            f"(columns file,label) or one folder per label ({', '.join(MOODS)})"
        )
    classes = _ordered({label for _, label in entries})
    return Dataset(
        key="lastfm",
        task=TASK,
        target_names=classes,
        track_ids=[path.relative_to(data_dir).with_suffix("").as_posix() for path, _ in entries],
        audio_paths=[path for path, _ in entries],
        targets=np.asarray([classes.index(label) for _, label in entries], dtype=np.int64),
        root=data_dir,
        skipped=skipped,
    )
