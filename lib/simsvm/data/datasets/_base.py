"""What every dataset loader returns."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from simsvm.data.identity import ContentHashes
from simsvm.exceptions import DataError
from simsvm.names import TASKS

__all__ = ["Dataset", "digest_or_none", "unlisted_audio"]


@dataclass
class Dataset:
    """An indexed dataset: one audio file and one annotation per track.

    Attributes
    ----------
    key : str
        Registry key (``'gtzan'``, ``'emotify'``, ...).
    task : {'classification', 'regression'}
    target_names : tuple of str
        Class names (classification; ``targets`` indexes them) or regression target names
        (``targets`` has one column per name).
    track_ids : list of str
        Stable identifiers, used in results and fixed split lists.
    audio_paths : list of Path
    targets : np.ndarray
        ``(n,)`` int64 class indices, or ``(n, len(target_names))`` float64 values.
    root : Path
        The folder the loader read.
    skipped : list of (str, str)
        What the loader left out and why (unreadable or unannotated files, ...).
    splits : dict of str to list of int
        Named fixed partitions that come with the dataset (e.g. MediaEval 2013's development and
        evaluation sets), as indices into the tracks; empty when the dataset has none.
    target_bounds : tuple of (low, high), optional
        The scale of each regression target (MediaEval 2013: 1 to 9), for ``target_scale: unit``;
        ``None`` where the data does not say (``dataset: table``).
    digests : list of str or None, optional
        The digest of each file's bytes (:mod:`simsvm.data.identity`), ``None`` for a file that
        could not be read; filled in by :func:`~simsvm.data.datasets.load_dataset`, computed by
        :meth:`fingerprint` where missing.
    """

    key: str
    task: str
    target_names: tuple[str, ...]
    track_ids: list[str]
    audio_paths: list[Path]
    targets: np.ndarray
    root: Path
    skipped: list[tuple[str, str]] = field(default_factory=list)
    splits: dict[str, list[int]] = field(default_factory=dict)
    target_bounds: tuple[tuple[float, float], ...] | None = None
    digests: list[str | None] | None = None

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise DataError(f"{self.key}: unknown task {self.task!r}")
        n = len(self.track_ids)
        if len(self.audio_paths) != n or self.targets.shape[0] != n:
            raise DataError(
                f"{self.key}: {n} track ids, {len(self.audio_paths)} files and "
                f"{self.targets.shape[0]} targets do not line up"
            )
        if self.digests is not None and len(self.digests) != n:
            raise DataError(f"{self.key}: {len(self.digests)} content digests for {n} tracks")
        if n == 0:
            raise DataError(f"{self.key}: no annotated audio file found under {self.root}")
        if self.task == "regression" and self.targets.shape[1:] != (len(self.target_names),):
            raise DataError(
                f"{self.key}: targets have shape {self.targets.shape}, expected (n, {len(self.target_names)})"
            )

    def __len__(self) -> int:
        return len(self.track_ids)

    @property
    def n_outputs(self) -> int:
        """Width of the network's output layer and of the annotation vectors."""
        return len(self.target_names)

    def annotations(self) -> np.ndarray:
        """The ``A`` of the similarity loss: one-hot rows for classes, target values otherwise.

        Values are as distributed; ``target_scale: unit`` maps them to [0, 1] per training job
        (:attr:`simsvm.train.spec.TrainingSpec.annotation_bounds`).
        """
        if self.task == "classification":
            return np.eye(self.n_outputs)[self.targets]
        return np.asarray(self.targets, dtype=np.float64)

    def subset(self, indices: Sequence[int]) -> Dataset:
        """The tracks at ``indices``, in that order; splits are renumbered, the skipped list kept."""
        indices = [int(i) for i in indices]
        position = {old: new for new, old in enumerate(indices)}
        return Dataset(
            key=self.key,
            task=self.task,
            target_names=self.target_names,
            track_ids=[self.track_ids[i] for i in indices],
            audio_paths=[self.audio_paths[i] for i in indices],
            targets=self.targets[indices],
            root=self.root,
            skipped=list(self.skipped),
            target_bounds=self.target_bounds,
            digests=None if self.digests is None else [self.digests[i] for i in indices],
            splits={
                name: [position[i] for i in members if i in position] for name, members in self.splits.items()
            },
        )

    def fingerprint(self) -> dict:
        """What identifies the data a run read, wherever the folder lies.

        ``files`` maps each indexed audio file's path, relative to :attr:`root`, to its size in
        bytes, ``content`` to the digest of its bytes (``None`` if unreadable), and
        ``annotations`` maps each track id to a short digest of its target.  Moving the folder
        keeps the fingerprint; adding, removing or rewriting a file, even with its size and
        modification time kept (``cp -p``), or changing an annotation changes it.
        """
        digests = self.digests
        if digests is None:  # a Dataset built by hand; load_dataset fills them in
            hashes = ContentHashes()
            digests = [digest_or_none(hashes, path) for path in self.audio_paths]
        files, content = {}, {}
        for path, digest in zip(self.audio_paths, digests, strict=True):
            path = Path(path)
            try:
                name = path.relative_to(self.root).as_posix()
            except ValueError:  # a path outside the root (not written by our loaders)
                name = path.as_posix()
            files[name] = path.stat().st_size if path.exists() else -1
            content[name] = digest
        targets = np.asarray(self.targets, dtype=np.float64)
        annotations = {
            track: hashlib.sha256(np.ascontiguousarray(target).tobytes()).hexdigest()[:8]
            for track, target in zip(self.track_ids, targets, strict=True)
        }
        return {"files": files, "content": content, "annotations": annotations}

    def describe(self) -> str:
        """One paragraph for logs and notebooks."""
        if self.task == "classification":
            counts = np.bincount(self.targets, minlength=self.n_outputs)
            spread = ", ".join(f"{name} {c}" for name, c in zip(self.target_names, counts, strict=True))
        else:
            spread = ", ".join(
                f"{name} {m:.2f}±{s:.2f}"
                for name, m, s in zip(
                    self.target_names, self.targets.mean(0), self.targets.std(0), strict=True
                )
            )
        text = f"{self.key}: {len(self)} tracks, {self.task} ({spread}); root {self.root}"
        if self.skipped:
            text += f"; skipped {len(self.skipped)}: " + "; ".join(
                f"{what} ({why})" for what, why in self.skipped[:5]
            )
            if len(self.skipped) > 5:
                text += f"; ... {len(self.skipped) - 5} more"
        return text


def digest_or_none(hashes: ContentHashes, path: Path) -> str | None:
    """The digest of ``path``'s bytes, or ``None`` where it cannot be read."""
    try:
        return hashes.digest(path)
    except DataError:  # unreadable: frame extraction reports (or skips) it
        return None


def unlisted_audio(data_dir: Path, listed: set[Path], extensions: tuple[str, ...], list_name: str) -> list:
    """``(path, reason)`` for every audio file below ``data_dir`` that a file list leaves out.

    ``listed`` holds the resolved paths the list names; hidden files are not audio.
    """
    return [
        (str(path), f"audio not listed in {list_name}")
        for path in sorted(data_dir.rglob("*"))
        if path.suffix.lower() in extensions
        and not path.name.startswith(".")
        and path.resolve() not in listed
    ]
