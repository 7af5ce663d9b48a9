"""What a run reads: the dataset, its frames, and the embeddings of the Embedding approach.

:func:`prepare_data` is the first stage of :func:`~simsvm.experiment.run.run_experiment`: index
the dataset, extract (or read back) every file's frames, match an ``embedding_file`` to the
tracks, and say what was skipped and why.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from simsvm.data.datasets import Dataset, load_dataset
from simsvm.data.embeddings import Embeddings, load_embeddings
from simsvm.data.frames import FrameParameters, load_frames
from simsvm.exceptions import DataError
from simsvm.experiment.config import ExperimentConfig
from simsvm.experiment.limits import check_data
from simsvm.experiment.partitions import protocol_tracks
from simsvm.train.spec import TrainingData

__all__ = ["RunInputs", "prepare_data"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunInputs:
    """What :func:`prepare_data` read.

    Attributes
    ----------
    dataset : Dataset
        The tracks that have frames (and a vector, with ``embedding_file``).
    data : TrainingData
    report : dict
        ``indexed`` (tracks the loader found), ``used``, ``skipped`` (what and why), ``padded``
        (track ids shorter than ``excerpt_length`` frames).
    embeddings : np.ndarray, optional
        ``(n_tracks, d)``: the embedding of each track of ``dataset``, in its order.
    embeddings_digest : str, optional
        SHA-256 of the embedding file (part of the run's data fingerprint).
    """

    dataset: Dataset
    data: TrainingData
    report: dict
    embeddings: np.ndarray | None = None
    embeddings_digest: str | None = None


def _tracks_with_vectors(config: ExperimentConfig, dataset: Dataset, embeddings: Embeddings) -> Dataset:
    """``dataset`` without the tracks that have no vector, or more than one; each is reported."""
    unusable, unknown = embeddings.problems(dataset.track_ids)
    if unknown:
        log.warning(
            "%s: %d id(s) match no track of %s and are ignored: %s",
            embeddings.path,
            len(unknown),
            config.dataset,
            ", ".join(unknown[:5]) + (", ..." if len(unknown) > 5 else ""),
        )
    if not unusable:
        return dataset
    if not config.skip_unreadable:
        track, why = unusable[0]
        raise DataError(
            f"track {track}: {why} ({len(unusable)} such track(s); skip_unreadable: true skips them)"
        )
    bad = {track for track, _ in unusable}
    kept = dataset.subset([i for i, track in enumerate(dataset.track_ids) if track not in bad])
    kept.skipped = list(dataset.skipped) + [(f"track {track}", why) for track, why in unusable]
    return kept


def prepare_data(config: ExperimentConfig) -> RunInputs:
    """Load the dataset, its frames and any embeddings, and say what was read, skipped and padded.

    Unreadable audio, and with ``embedding_file`` a track without exactly one vector, is skipped
    and reported (or fatal with ``skip_unreadable: false``); files shorter than one excerpt are
    zero-padded in training and reported.
    """
    if not Path(config.data_dir).is_dir():
        raise DataError(
            f"data_dir: {config.data_dir} does not exist (generated data: "
            f"`simsvm data synth --out {Path(config.data_dir).parent}`)"
        )
    options = config.dataset_options
    dataset = load_dataset(config.dataset, config.data_dir, cache_dir=config.cache_dir, **options)
    indexed = len(dataset)
    dataset = protocol_tracks(config, dataset)  # protocol: split reads its splits' files only
    embeddings = None
    if config.embedding_file is not None:  # before the frames: a track without a vector is not read
        embeddings = load_embeddings(config.embedding_file)
        dataset = _tracks_with_vectors(config, dataset, embeddings)
    params = FrameParameters(
        sample_rate=config.sample_rate, n_fft=config.n_fft, hop_length=config.hop_length, n_mels=config.n_mels
    )
    frames, unreadable = load_frames(
        dataset.audio_paths,
        params=params,
        cache_dir=config.cache_dir,
        on_error="skip" if config.skip_unreadable else "raise",
        progress=config.progress,
    )
    skipped = list(dataset.skipped) + [(str(dataset.audio_paths[i]), why) for i, why in unreadable]
    if unreadable:
        bad = {i for i, _ in unreadable}
        dataset = dataset.subset([i for i in range(len(dataset)) if i not in bad])
        dataset.skipped = skipped
    check_data(config, dataset, frames.lengths)  # one class, constant targets, excerpts past every end
    padded = [dataset.track_ids[i] for i in np.flatnonzero(frames.lengths < config.excerpt_length)]
    for what, why in skipped:
        log.warning("%s: skipped %s (%s)", config.dataset, what, why)
    if padded:
        log.warning(
            "%s: %d file(s) shorter than %d frames are zero-padded in training: %s",
            config.dataset,
            len(padded),
            config.excerpt_length,
            ", ".join(padded[:5]),
        )
    data = TrainingData(
        frames=frames,
        targets=dataset.targets,
        annotations=dataset.annotations(),
        task=dataset.task,
    )
    report = {"indexed": indexed, "used": len(dataset), "skipped": skipped, "padded": padded}
    vectors = None if embeddings is None else embeddings.matrix(dataset.track_ids)
    return RunInputs(dataset, data, report, vectors, None if embeddings is None else embeddings.digest)
