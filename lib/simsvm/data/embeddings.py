"""Embeddings you bring: one vector per track, computed elsewhere, read and matched by track id.

The Embedding approach puts features of another model (MERT, CLAP, musicnn, ...) into the same
SVM / SVR and the same significance tests as the learned ones.  The file holds one row per track:

* ``.npz``: arrays ``ids`` (strings, ``(n,)``) and ``features`` (numbers, ``(n, d)``);
* ``.csv``: a header, a column ``id`` and one numeric column per dimension;
* ``.parquet``: a column ``id`` and either one numeric column per dimension or one column of
  equal-length lists.

Ids are the dataset's track ids (``simsvm show`` and ``predictions.csv`` list them, e.g.
``blues.00000`` for GTZAN).  A track without a vector, or with more than one, is reported like an
unreadable audio file; ids that match no track are reported and ignored.
"""

from __future__ import annotations

import hashlib
import io
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from simsvm.exceptions import DataError

__all__ = ["EMBEDDING_FORMATS", "Embeddings", "load_embeddings"]

EMBEDDING_FORMATS = (".npz", ".csv", ".parquet")


@dataclass
class Embeddings:
    """The vectors of one file, by track id.

    Attributes
    ----------
    path : Path
    vectors : dict of str to np.ndarray
        One float64 vector ``(d,)`` per id listed once.
    repeated : list of str
        Ids listed more than once (their vectors are not used).
    digest : str
        SHA-256 of the file's bytes: part of what identifies a run's data.
    """

    path: Path
    vectors: dict[str, np.ndarray]
    repeated: list[str] = field(default_factory=list)
    digest: str = ""

    @property
    def dimension(self) -> int:
        return len(next(iter(self.vectors.values())))

    def problems(self, track_ids: list[str]) -> tuple[list[tuple[str, str]], list[str]]:
        """For the dataset's ``track_ids``: (track id, why) of the tracks that cannot be used, and
        the file's ids that match no track."""
        repeated = set(self.repeated)
        unusable = [
            (
                track,
                f"listed more than once in {self.path}" if track in repeated else f"no vector in {self.path}",
            )
            for track in track_ids
            if track in repeated or track not in self.vectors
        ]
        unknown = sorted((set(self.vectors) | repeated) - set(track_ids))
        return unusable, unknown

    def matrix(self, track_ids: list[str]) -> np.ndarray:
        """The vectors of ``track_ids`` in that order, ``(n, d)``; every id must have one."""
        missing = [track for track in track_ids if track not in self.vectors]
        if missing:
            raise DataError(f"{self.path}: no vector for track(s) {missing[:5]}")
        return np.stack([self.vectors[track] for track in track_ids])


def load_embeddings(path: str | Path) -> Embeddings:
    """Read an embedding file (see the module's description of the formats).

    Raises
    ------
    DataError
        Naming the file, and the row or column, for a missing file, an unknown format, a missing
        ``id`` column, a non-numeric or non-finite value, or rows of different lengths.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"embedding_file: {path} does not exist")
    suffix = path.suffix.lower()
    if suffix not in EMBEDDING_FORMATS:
        raise DataError(
            f"embedding_file: {path}: unknown format {suffix!r}; use one of {list(EMBEDDING_FORMATS)}"
        )
    readers = {".npz": _read_npz, ".csv": _read_table, ".parquet": _read_table}
    content = path.read_bytes()  # read once: parsed, and hashed for the run's data fingerprint
    ids, values = readers[suffix](path, io.BytesIO(content))
    if len(ids) == 0:
        raise DataError(f"embedding_file: {path} holds no vectors")
    if values.ndim != 2 or values.shape[0] != len(ids) or values.shape[1] == 0:
        raise DataError(
            f"embedding_file: {path}: expected one vector per id, got values of shape {values.shape}"
        )
    bad = np.flatnonzero(~np.isfinite(values).all(axis=1))
    if len(bad):
        raise DataError(f"embedding_file: {path}: vector of id {ids[bad[0]]!r} has a non-finite value")
    counts = Counter(ids)
    vectors = {track: row for track, row in zip(ids, values, strict=True) if counts[track] == 1}
    repeated = sorted(track for track, count in counts.items() if count > 1)
    return Embeddings(path, vectors, repeated, hashlib.sha256(content).hexdigest())


def _read_npz(path: Path, content: io.BytesIO) -> tuple[list[str], np.ndarray]:
    try:
        with np.load(content, allow_pickle=False) as stored:
            missing = [key for key in ("ids", "features") if key not in stored]
            if missing:
                raise DataError(f"embedding_file: {path} lacks array(s) {missing} (it has {sorted(stored)})")
            ids, features = stored["ids"], stored["features"]
    except (OSError, ValueError) as error:
        raise DataError(f"embedding_file: {path} is not a readable .npz file ({error})") from None
    try:
        values = np.asarray(features, dtype=np.float64)
    except (TypeError, ValueError):
        raise DataError(f"embedding_file: {path}: features are not numbers ({features.dtype})") from None
    return [str(track) for track in ids.tolist()], values


def _read_table(path: Path, content: io.BytesIO) -> tuple[list[str], np.ndarray]:
    import pandas as pd

    try:
        table = (
            pd.read_csv(content, dtype={"id": str})
            if path.suffix.lower() == ".csv"
            else pd.read_parquet(content)
        )
    except ImportError as error:  # parquet without an engine
        raise DataError(f"embedding_file: {path}: reading parquet needs pyarrow ({error})") from None
    except Exception as error:  # pandas' parser errors have no common base
        raise DataError(f"embedding_file: {path} is not a readable table ({error})") from None
    if "id" not in table.columns:
        raise DataError(f"embedding_file: {path} has no column 'id' (columns: {list(table.columns)[:6]})")
    ids = table.pop("id").astype(str).tolist()
    if (
        len(table.columns) == 1
        and table.iloc[:, 0].map(lambda v: isinstance(v, (list, tuple, np.ndarray))).all()
    ):
        rows = table.iloc[:, 0].tolist()  # one column of lists
        if len({len(row) for row in rows}) > 1:
            raise DataError(
                f"embedding_file: {path}: the vectors in column {table.columns[0]!r} differ in length"
            )
        return ids, np.asarray([np.asarray(row, dtype=np.float64) for row in rows])
    for column in table.columns:
        numbers = pd.to_numeric(table[column], errors="coerce")
        if numbers.isna().any():
            row = int(np.flatnonzero(numbers.isna().to_numpy())[0])
            value = table[column].iloc[row]
            raise DataError(
                f"embedding_file: {path}: column {column!r}, id {ids[row]!r}: {value!r} is not a number"
            )
        table[column] = numbers
    return ids, table.to_numpy(dtype=np.float64)
