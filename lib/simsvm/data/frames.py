"""Audio files to the paper's 80-dimensional frames, cached on disk, and their normalisation.

A frame is the log-power mel spectrum of a 50 ms window (40 bins) followed by its first difference
along time (DESIGN.md section 1).  Decoding and the STFT dominate the cost of a run's start, so
each file's frames are stored once as ``.npy`` under a key made of the digest of the file's bytes
(:mod:`simsvm.data.identity`) and every extraction parameter; later runs memory-map them.  A
file rewritten with its size and modification time kept (``cp -p``) has another digest, so it
is never served the frames of what it held before; a moved dataset keeps its frames.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm  # the plain bar: tqdm.auto stays still under papermill

from simsvm._io import atomic_write
from simsvm.data.identity import ALGORITHM, ContentHashes
from simsvm.exceptions import DataError, ParameterError

__all__ = [
    "FrameCache",
    "FrameParameters",
    "FrameStore",
    "Normaliser",
    "extract_frames",
    "frame_statistics",
    "load_frames",
]

log = logging.getLogger(__name__)

# Floor of the mel power before the logarithm (-100 dB): digital silence must not give -inf.
_POWER_FLOOR = 1e-10


@dataclass(frozen=True)
class FrameParameters:
    """Extraction settings; the defaults are the paper's.

    Parameters
    ----------
    sample_rate : int
        Audio is resampled to this rate (Hz) and mixed to mono.
    n_fft : int
        Window and FFT length in samples (1103 = 50 ms at 22050 Hz).
    hop_length : int
        Hop in samples (551 = 25 ms at 22050 Hz).
    n_mels : int
        Mel bins; a frame has ``2 * n_mels`` values (bins, then their first difference).
    """

    sample_rate: int = 22050
    n_fft: int = 1103
    hop_length: int = 551
    n_mels: int = 40

    @property
    def n_features(self) -> int:
        return 2 * self.n_mels

    @property
    def frames_per_second(self) -> float:
        return self.sample_rate / self.hop_length


def extract_frames(path: str | os.PathLike, *, params: FrameParameters = FrameParameters()) -> np.ndarray:
    """Decode one audio file and compute its frames.

    Returns
    -------
    np.ndarray, shape (n_frames, 2 * n_mels), float32
        Columns ``0..n_mels-1`` are log10 mel power (dB / 10 would be the same up to scale; the
        per-dataset normalisation removes the scale anyway), columns ``n_mels..`` their difference
        from the previous frame, 0 for the first frame.  Frames are centred (librosa's default),
        so a file of ``n`` samples gives ``1 + n // hop_length`` frames.

    Raises
    ------
    DataError
        If the file is missing, cannot be decoded, holds no samples, or gives non-finite frames.
    """
    import librosa  # deferred: importing librosa costs about a second

    path = Path(path)
    if not path.is_file():
        raise DataError(f"audio file not found: {path}")
    try:
        with warnings.catch_warnings():
            # audioread fallback warnings are noise here; failure is reported below.
            warnings.simplefilter("ignore")
            audio, _ = librosa.load(path, sr=params.sample_rate, mono=True)
    except Exception as error:  # decoders raise many unrelated types
        raise DataError(
            f"cannot decode audio file {path}: {type(error).__name__} {error}".rstrip()
        ) from error
    if audio.size == 0:
        raise DataError(f"audio file {path} holds no samples")
    with np.errstate(over="ignore", invalid="ignore"):  # an overflow is reported below, naming the file
        mel = librosa.feature.melspectrogram(
            y=audio,
            sr=params.sample_rate,
            n_fft=params.n_fft,
            hop_length=params.hop_length,
            win_length=params.n_fft,
            n_mels=params.n_mels,
            power=2.0,
        )
        log_mel = np.log10(np.maximum(mel, _POWER_FLOOR)).T  # (frames, n_mels)
        difference = np.zeros_like(log_mel)
        difference[1:] = log_mel[1:] - log_mel[:-1]
        frames = np.concatenate([log_mel, difference], axis=1).astype(np.float32)
    if not np.isfinite(frames).all():
        # e.g. a float WAV at amplitude 1e30: its power overflows, and NaN frames would fail the
        # SVM much later ("Input X contains NaN") naming no file; refused here, never cached
        peak = float(np.max(np.abs(audio))) if np.isfinite(audio).all() else float("nan")
        raise DataError(
            f"audio file {path} gives non-finite frames (peak sample {peak:.3g}; "
            "samples should lie within [-1, 1])"
        )
    return frames


class FrameCache:
    """Frames stored as one ``.npy`` per (file content, extraction parameters).

    Parameters
    ----------
    directory : path
        Created on first write.  Safe to share between runs and datasets; safe to delete.
    hashes : ContentHashes, optional
        Where file digests are remembered; by default the store in ``directory``.  Call
        ``hashes.save()`` after a batch of files (:func:`load_frames` does).
    """

    def __init__(self, directory: str | os.PathLike, hashes: ContentHashes | None = None):
        self.directory = Path(directory)
        self.hashes = hashes if hashes is not None else ContentHashes(self.directory)

    def path_for(self, audio_path: str | os.PathLike, params: FrameParameters) -> Path:
        """Where the frames of ``audio_path``'s current bytes with ``params`` are (or go).

        Raises
        ------
        DataError
            If the file cannot be read.
        """
        identity = json.dumps([ALGORITHM, self.hashes.digest(audio_path), asdict(params)], sort_keys=True)
        key = hashlib.sha1(identity.encode()).hexdigest()
        return self.directory / key[:2] / f"{key}.npy"

    def frames(self, audio_path: str | os.PathLike, params: FrameParameters) -> tuple[Path, bool]:
        """Path of the cached frames of ``audio_path``, extracting them first if needed.

        Returns the path and whether it was already cached.  A cache entry that is not the frames
        it should be (truncated, garbled, of another shape, not finite) is named in the log,
        discarded and extracted again: a damaged cache cost the run, and deleting it by hand.
        """
        if not Path(audio_path).is_file():
            raise DataError(f"audio file not found: {audio_path}")
        cached = self.path_for(audio_path, params)
        if cached.exists():
            problem = _cache_problem(cached, params)
            if problem is None:
                return cached, True
            log.warning(
                "frame cache %s of %s is %s; extracting the frames again", cached, audio_path, problem
            )
            cached.unlink(missing_ok=True)
        frames = extract_frames(audio_path, params=params)

        def write(tmp: Path) -> None:
            with tmp.open("wb") as handle:
                np.save(handle, frames)

        atomic_write(cached, write)
        return cached, False


def _cache_problem(path: Path, params: FrameParameters) -> str | None:
    """What is wrong with a cached frames file, or ``None``.  Reads it whole: the normalisation
    reads every frame anyway, and a NaN found later names no file."""
    try:
        frames = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError, EOFError) as error:
        return f"unreadable ({type(error).__name__}: {error})".splitlines()[0]
    if frames.dtype != np.float32 or frames.ndim != 2 or frames.shape[1] != params.n_features:
        return f"of the wrong form ({frames.dtype} {frames.shape}, expected float32 (n, {params.n_features}))"
    if frames.shape[0] == 0:
        return "empty"
    try:
        finite = bool(np.isfinite(frames).all())
    except (OSError, ValueError) as error:  # a file shorter than its header says
        return f"unreadable ({error})"
    return None if finite else "not finite (NaN or infinite values)"


class FrameStore:
    """The frames of a dataset's files, indexed like the dataset.

    Holds either in-memory arrays or paths of cached ``.npy`` files that are memory-mapped on
    first use, so a store pickles cheaply to worker processes and each worker pages in only the
    frames it reads.
    """

    def __init__(self, items: Sequence[np.ndarray | str | os.PathLike]):
        self._items = [it if isinstance(it, np.ndarray) else str(it) for it in items]
        self._arrays: list[np.ndarray | None] = [
            it if isinstance(it, np.ndarray) else None for it in self._items
        ]
        self.lengths = np.array([self.sequence(i).shape[0] for i in range(len(self))], dtype=np.int64)

    def __len__(self) -> int:
        return len(self._items)

    def __getstate__(self) -> dict:
        # Only paths (or in-memory arrays) travel; memory maps are reopened on the other side.
        return {"_items": self._items, "lengths": self.lengths}

    def __setstate__(self, state: dict) -> None:
        self._items = state["_items"]
        self.lengths = state["lengths"]
        self._arrays = [it if isinstance(it, np.ndarray) else None for it in self._items]

    @property
    def n_features(self) -> int:
        return self.sequence(0).shape[1]

    def sequence(self, index: int) -> np.ndarray:
        """All frames of file ``index``, shape (n_frames, n_features), un-normalised."""
        array = self._arrays[index]
        if array is None:
            array = np.load(self._items[index], mmap_mode="r")
            self._arrays[index] = array
        return array

    def excerpts(
        self,
        indices: Sequence[int],
        starts: Sequence[int],
        length: int,
        *,
        normaliser: Normaliser | None = None,
    ) -> np.ndarray:
        """Frames ``start .. start + length`` of each file, zero-padded past a file's end.

        The padding is applied after normalisation, so a padded frame is the dataset's mean frame.
        (Training cuts its batches with :class:`simsvm.train.excerpts.HostFrames`, which gives
        the same values time-major.)

        Returns
        -------
        np.ndarray, shape (len(indices), length, n_features), float32
        """
        out = np.empty((len(indices), length, self.n_features), dtype=np.float32)
        for row, (index, start) in enumerate(zip(indices, starts, strict=True)):
            piece = self.sequence(int(index))[int(start) : int(start) + length]
            out[row, : piece.shape[0]] = piece if normaliser is None else normaliser.transform(piece)
            out[row, piece.shape[0] :] = 0.0
        return out


def frame_statistics(store: FrameStore) -> np.ndarray:
    """Each file's mean and standard deviation over time of every frame dimension.

    Returns
    -------
    np.ndarray, shape (len(store), 2 * n_features), float64
        Means first, then standard deviations.
    """
    rows = []
    for index in range(len(store)):
        frames = np.asarray(store.sequence(index), dtype=np.float64)
        rows.append(np.concatenate([frames.mean(axis=0), frames.std(axis=0)]))
    return np.stack(rows)


def load_frames(
    paths: Sequence[str | os.PathLike],
    *,
    params: FrameParameters = FrameParameters(),
    cache_dir: str | os.PathLike | None = None,
    on_error: str = "raise",
    progress: bool = True,
) -> tuple[FrameStore, list[tuple[int, str]]]:
    """Frames of every file, from the cache when present.

    Parameters
    ----------
    paths : sequence of paths
    cache_dir : path, optional
        Frame cache folder; ``None`` keeps everything in memory and caches nothing.
    on_error : {'raise', 'skip'}
        What to do with an unreadable file.  Frames already extracted stay cached either way,
        so a run restarted after fixing the file resumes where it stopped.
    progress : bool
        Show a tqdm bar.

    Returns
    -------
    store : FrameStore
        Frames of the readable files, in the order of ``paths`` minus the skipped ones.
    skipped : list of (index, reason)
        Indices into ``paths`` of the files left out, with the error message.
    """
    if on_error not in ("raise", "skip"):
        raise ParameterError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
    cache = FrameCache(cache_dir) if cache_dir is not None else None
    items: list[np.ndarray | Path] = []
    skipped: list[tuple[int, str]] = []
    try:
        for index, path in enumerate(tqdm(paths, desc="frames", unit="file", disable=not progress)):
            try:
                if cache is None:
                    items.append(extract_frames(path, params=params))
                else:
                    items.append(cache.frames(path, params)[0])
            except DataError as error:
                if on_error == "raise":
                    raise
                skipped.append((index, str(error)))
    finally:  # the digests read so far spare the restarted run reading those files again
        if cache is not None:
            cache.hashes.save()
    if not items:
        raise DataError("no readable audio file among the ones given")
    return FrameStore(items), skipped


class Normaliser:
    """Per-dimension standardisation to zero mean and unit standard deviation.

    Statistics are taken over every frame of the files given to :meth:`fit` (the paper: the whole
    dataset; the ``train_only`` option: the training fold's files).
    """

    def fit(self, store: FrameStore, indices: Sequence[int] | None = None) -> Normaliser:
        indices = range(len(store)) if indices is None else indices
        total = np.zeros(store.n_features)
        total_sq = np.zeros(store.n_features)
        count = 0
        for index in indices:
            frames = np.asarray(store.sequence(int(index)), dtype=np.float64)
            total += frames.sum(axis=0)
            total_sq += np.square(frames).sum(axis=0)
            count += frames.shape[0]
        if count == 0:
            raise ParameterError("cannot fit a Normaliser on zero frames")
        self.mean_ = (total / count).astype(np.float32)
        variance = np.maximum(total_sq / count - np.square(total / count), 0.0)
        # A constant dimension (e.g. a mel bin above a synthetic signal's band) stays constant.
        self.scale_ = np.where(variance > 0, np.sqrt(variance), 1.0).astype(np.float32)
        return self

    def transform(self, frames: np.ndarray) -> np.ndarray:
        """Standardise ``(..., n_features)`` frames; returns float32."""
        return ((np.asarray(frames, dtype=np.float32) - self.mean_) / self.scale_).astype(
            np.float32, copy=False
        )
