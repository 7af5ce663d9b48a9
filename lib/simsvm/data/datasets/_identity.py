"""What every loaded dataset passes through: each recording is used once.

A recording indexed twice can land on both sides of a fold, where a classifier may simply
recognise it; under two labels, it also teaches both.  :func:`use_each_recording_once` finds
the two ways a loader can index one recording twice:

* **one file under two names**: a table row ``./clips/0000.wav`` and another
  ``clips//0000.wav``, or a symbolic link beside its target.  With one label the second is
  left out and reported; with two labels the listing contradicts itself and only its author
  can say which label is right, so the dataset is refused naming both.
* **byte-identical files**: the same bytes under two paths, as distributed datasets carry
  (Ballroom's exact replicas, GTZAN's exact repetitions; Sturm 2013, 2014).  The user cannot
  mend a published dataset, and the copy holds nothing the first does not, so the later copy is
  left out and reported, whatever its label, as ``drop_replicas`` does for Ballroom's listed
  pairs.  Empty files are not recordings and are left to frame extraction, which reports them.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np

from simsvm.data.identity import EMPTY, ContentHashes
from simsvm.exceptions import DataError

from ._base import Dataset, digest_or_none

__all__ = ["use_each_recording_once"]


def _name(dataset: Dataset, index: int) -> str:
    path = Path(dataset.audio_paths[index])
    try:
        return path.relative_to(dataset.root).as_posix()
    except ValueError:
        return str(path)


def _label(dataset: Dataset, index: int) -> str:
    if dataset.task == "classification":
        return dataset.target_names[int(dataset.targets[index])]
    return str([float(value) for value in dataset.targets[index]])


def _keeper(members: list[int], in_split: set[int]) -> int:
    """The copy to keep: the first in a named split where any is (a copy in no split goes unused)."""
    return next((i for i in members if i in in_split), members[0])


def use_each_recording_once(dataset: Dataset, hashes: ContentHashes) -> Dataset:
    """``dataset`` with each file and each distinct content once, and the digest of every file.

    Raises
    ------
    DataError
        For one file indexed under two labels, naming both entries.
    """
    in_split = {i for members in dataset.splits.values() for i in members}
    by_file: dict[Path, list[int]] = defaultdict(list)
    for index, path in enumerate(dataset.audio_paths):
        by_file[Path(path).resolve()].append(index)
    dropped: dict[int, str] = {}
    for resolved, members in by_file.items():
        kept = _keeper(members, in_split)
        for other in (i for i in members if i != kept):
            if not np.array_equal(dataset.targets[kept], dataset.targets[other]):
                first, second = sorted((kept, other))
                raise DataError(
                    f"{dataset.key}: {_name(dataset, first)} and {_name(dataset, second)} are one file "
                    f"({resolved}) labelled {_label(dataset, first)!r} and {_label(dataset, second)!r}; "
                    "list it once"
                )
            dropped[other] = f"same file as {_name(dataset, kept)}"
    digests = [
        None if index in dropped else digest_or_none(hashes, path)
        for index, path in enumerate(dataset.audio_paths)
    ]
    by_content: dict[str, list[int]] = defaultdict(list)
    for index, digest in enumerate(digests):
        if digest is not None and digest != EMPTY:
            by_content[digest].append(index)
    for members in by_content.values():
        kept = _keeper(members, in_split)
        for other in (i for i in members if i != kept):
            reason = f"same audio bytes as {_name(dataset, kept)}"
            if not np.array_equal(dataset.targets[kept], dataset.targets[other]):
                reason += f" (labelled {_label(dataset, kept)} there, {_label(dataset, other)} here)"
            dropped[other] = reason
    kept_indices = [index for index in range(len(dataset)) if index not in dropped]
    result = dataset.subset(kept_indices)
    result.digests = [digests[index] for index in kept_indices]
    result.skipped = list(dataset.skipped) + [
        (str(dataset.audio_paths[index]), dropped[index]) for index in sorted(dropped)
    ]
    return result
