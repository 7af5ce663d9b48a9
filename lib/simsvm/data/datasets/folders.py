"""Your own classification set laid out as one folder per class.

Layout::

    <data_dir>/<class>/<file>.{mp3,wav,au,flac,ogg}        files may sit in nested folders
    <data_dir>/<class>/<any>/<deeper>/<file>.mp3            below their class folder

The classes are the sub-folders that hold audio, in sorted order, or those named by the
``classes`` option, in that order.  Nothing is silently dropped: a sub-folder without audio (or
not among ``classes``) is reported, not made a class; so are files that are not audio and audio
outside every class folder.  Any sample rate and any format the frame extraction decodes will do.
A class named twice in ``classes`` is an error; a file linked into two class folders is refused
by :func:`~simsvm.data.datasets.load_dataset`, which sees one file under two labels.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from simsvm.exceptions import DataError, ParameterError

from ._base import Dataset

__all__ = ["AUDIO_EXTENSIONS", "TASK", "load"]

TASK = "classification"
AUDIO_EXTENSIONS = (".mp3", ".wav", ".au", ".flac", ".ogg")


def _visible(path: Path, root: Path) -> bool:
    return not any(part.startswith(".") for part in path.relative_to(root).parts)


def _audio_below(folder: Path) -> tuple[list[Path], list[Path]]:
    """Audio files below ``folder`` (any depth) and the other files there, both sorted."""
    files = [p for p in sorted(folder.rglob("*")) if p.is_file() and _visible(p, folder)]
    audio = [p for p in files if p.suffix.lower() in AUDIO_EXTENSIONS]
    return audio, [p for p in files if p.suffix.lower() not in AUDIO_EXTENSIONS]


def load(data_dir: str | Path, *, classes: list[str] | None = None) -> Dataset:
    """Index the audio below each class folder; report everything left out."""
    data_dir = Path(data_dir)
    folders = {p.name: p for p in sorted(data_dir.iterdir()) if p.is_dir() and not p.name.startswith(".")}
    skipped: list[tuple[str, str]] = []
    if classes is not None:
        # a class named twice would index its folder twice, under two labels
        repeated = sorted({name for name in classes if list(classes).count(name) > 1})
        if repeated:
            raise ParameterError(
                f"folders: dataset_options classes names {repeated} more than once; each folder is one class"
            )
        missing = [name for name in classes if name not in folders]
        if missing:
            raise DataError(
                f"folders: no folder for class(es) {missing} in {data_dir}; it has {sorted(folders)}"
            )
        for name in sorted(set(folders) - set(classes)):
            skipped.append((str(folders[name]), "folder is not one of the classes named in dataset_options"))
    entries: dict[str, list[Path]] = {}
    for name, folder in folders.items():
        if classes is not None and name not in classes:
            continue
        audio, other = _audio_below(folder)
        if audio:
            entries[name] = audio
            skipped += [(str(path), "not an audio file") for path in other]
        elif classes is None:
            skipped.append((str(folder), "holds no audio files, so it is not a class"))
        else:
            raise DataError(f"folders: class folder {folder} holds no audio files")
    for path in sorted(data_dir.iterdir()):
        if path.is_file() and not path.name.startswith(".") and path.suffix.lower() in AUDIO_EXTENSIONS:
            skipped.append((str(path), "audio outside every class folder"))
    if not entries:
        raise DataError(
            f"folders: {data_dir} has no class folders with audio: expected <data_dir>/<class>/<file> "
            f"with files ending in {', '.join(AUDIO_EXTENSIONS)}"
        )
    names = tuple(classes) if classes is not None else tuple(entries)
    paths = [path for name in names for path in entries[name]]
    labels = [index for index, name in enumerate(names) for _ in entries[name]]
    return Dataset(
        key="folders",
        task=TASK,
        target_names=names,
        track_ids=[path.relative_to(data_dir).with_suffix("").as_posix() for path in paths],
        audio_paths=paths,
        targets=np.asarray(labels, dtype=np.int64),
        root=data_dir,
        skipped=skipped,
    )
