"""What an audio file holds, as a digest of its bytes, remembered while the file is untouched.

A run is tied to the data it read (``data.json``) and frames are cached per file; both must
change when a file's bytes do, even when its size and modification time do not: ``cp -p`` keeps
the source's mtime, and an archive unpacks every file with the same whole-second mtime, so a
clip copied over another of the same length can look untouched by size and mtime alone.

Hashing every file at every start would cost a second per GB, so a digest is remembered under
the file's *stamp*: resolved path, size, mtime, ctime, inode and device.  The ctime (status
change time) is the part no user tool can set: any write, ``cp -p`` or ``touch -r`` included,
moves it to the present, so a rewritten file is always read again.  Stamps live in the process
(:func:`forget_session` empties them) and, given a cache folder, in ``content-hashes.json``
there, so that a resumed run reads no file it has hashed before.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from simsvm._io import write_json_atomic
from simsvm.exceptions import DataError

__all__ = ["ALGORITHM", "EMPTY", "STORE_NAME", "ContentHashes", "content_digest", "forget_session"]

# blake2b runs at about 0.9 GB/s on one core without hardware support (sha256 needs SHA-NI for
# that); 128 bits are plenty to tell files apart.  Part of the store's format and of data.json.
ALGORITHM = "blake2b-128"
STORE_NAME = "content-hashes.json"
# The digest of an empty file: equal for every empty file, and no recording.
EMPTY = hashlib.blake2b(b"", digest_size=16).hexdigest()
_FORMAT = 1
_CHUNK = 1 << 20
# stamp -> digest, for every file this process has hashed or looked up
_SESSION: dict[tuple, str] = {}


def content_digest(path: str | os.PathLike) -> str:
    """32 hex digits: the blake2b-128 digest of the file's bytes (read in 1 MiB chunks)."""
    digest = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as handle:
        if hasattr(hashlib, "file_digest"):  # Python 3.11: reads into one reused buffer
            return hashlib.file_digest(handle, lambda: digest).hexdigest()
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def forget_session() -> None:
    """Drop the digests this process remembers (the stored ones stay), as a new process starts."""
    _SESSION.clear()


def _stamp(path: Path) -> tuple[str, list[int]]:
    resolved = path.resolve()
    status = resolved.stat()
    return str(resolved), [
        status.st_size,
        status.st_mtime_ns,
        status.st_ctime_ns,
        status.st_ino,
        status.st_dev,
    ]


class ContentHashes:
    """Digests of files' bytes, read once per file version.

    Parameters
    ----------
    directory : path, optional
        Folder of the store ``content-hashes.json`` (the frame cache's); ``None`` remembers
        digests in this process only.  The store is a cache: safe to delete, and a corrupt or
        foreign one is ignored.
    """

    def __init__(self, directory: str | os.PathLike | None = None):
        self.path = None if directory is None else Path(directory) / STORE_NAME
        self._stored = self._read()
        self._new: dict[str, list] = {}

    def _read(self) -> dict[str, list]:
        if self.path is None or not self.path.is_file():
            return {}
        try:
            store = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}  # half a store from an older crash, or unreadable: hash again
        if (
            not isinstance(store, dict)
            or store.get("format") != _FORMAT
            or store.get("algorithm") != ALGORITHM
        ):
            return {}
        files = store.get("files")
        return files if isinstance(files, dict) else {}

    def digest(self, path: str | os.PathLike) -> str:
        """The digest of ``path``'s bytes, from memory or the store when its stamp is unchanged.

        Raises
        ------
        DataError
            If the file cannot be read, naming it.
        """
        try:
            name, stamp = _stamp(Path(path))
            key = (name, *stamp)
            known = _SESSION.get(key)
            if known is None:
                entry = self._stored.get(name)
                valid = isinstance(entry, list) and len(entry) == len(stamp) + 1
                known = entry[-1] if valid and entry[:-1] == stamp else content_digest(path)
                _SESSION[key] = known
        except OSError as error:
            raise DataError(f"cannot read audio file {path}: {error.strerror or error}") from error
        if self.path is not None and self._stored.get(name) != [*stamp, known]:
            self._new[name] = [*stamp, known]
        return known

    def save(self) -> None:
        """Add what this instance hashed to the store, atomically; nothing to add writes nothing.

        The store is read again first, so runs sharing a cache folder keep each other's entries
        (two writing at once lose at most one's additions, which are hashed again next time).
        """
        if self.path is None or not self._new:
            return
        files = {**self._read(), **self._new}
        write_json_atomic(self.path, {"format": _FORMAT, "algorithm": ALGORITHM, "files": files})
        self._stored, self._new = files, {}
