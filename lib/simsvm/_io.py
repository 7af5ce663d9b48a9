"""Atomic writes: a reader never sees a half-written results or cache file."""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

from simsvm.exceptions import StorageError

__all__ = ["atomic_write", "write_json_atomic", "write_text_atomic"]


def atomic_write(path: str | os.PathLike, write: Callable[[Path], Any]) -> Path:
    """Call ``write(tmp_path)`` and rename the temporary file onto ``path``.

    The temporary file lives in the destination folder so that the rename stays on one file
    system and is atomic; if ``write`` raises, the destination keeps its previous content and
    no temporary file is left.  A folder that cannot be written (read-only, disk full) raises
    :class:`~simsvm.exceptions.StorageError` naming ``path``.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = _create_temporary(path)
    except OSError as error:
        raise StorageError(f"cannot write {path}: {error.strerror or error}") from error
    try:
        write(tmp)
        os.replace(tmp, path)
    except OSError as error:
        if isinstance(error, StorageError):
            raise
        raise StorageError(f"cannot write {path}: {error.strerror or error}") from error
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def _create_temporary(path: Path) -> Path:
    """An empty, new file beside ``path`` with the permissions the user's umask gives new files.

    ``tempfile.mkstemp`` would create it with mode 0600 whatever the umask, and the rename keeps
    that mode: results and caches unreadable to colleagues and to cluster workers under another
    account.  ``os.open`` with mode 0666 lets the umask decide, as for any file the user creates.
    """
    for _ in range(100):
        candidate = path.parent / f".{path.name}.{secrets.token_hex(4)}.tmp"
        try:
            os.close(os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:
            continue
        return candidate
    raise FileExistsError(f"no free temporary name beside {path}")


def write_text_atomic(path: str | os.PathLike, text: str) -> Path:
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def write_json_atomic(path: str | os.PathLike, obj: Any) -> Path:
    return write_text_atomic(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")
