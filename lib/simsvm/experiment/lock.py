"""One run at a time in a run folder: an advisory lock held for the run's duration.

Two runs of the same folder both trained every job, and the one that finished last rewrote
``metadata.json`` over the other's, marking a run that had exited 0 unfinished.  The lock is
``fcntl.flock`` on ``<run>/.lock``: the kernel releases it when its holder exits, however it
exits (``kill -9`` included), so a stale lock file never blocks.  The file says who holds it, for
the refusal's message; it is left in place on release, because removing it would let a third
run lock a new file while a second still holds the old one.  Where ``fcntl`` is missing
(Windows) runs are not locked.
"""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

from simsvm.exceptions import ResultsError, StorageError

__all__ = ["LOCK_FILE", "RunLock"]

LOCK_FILE = ".lock"

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None


class RunLock:
    """``acquire()`` locks ``run_dir`` or raises :class:`ResultsError` naming the holder; idempotent.

    Use it as a context manager; leaving releases the lock if it was taken.
    """

    def __init__(self, run_dir: str | os.PathLike):
        self.run_dir = Path(run_dir)
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        if self._fd is not None or fcntl is None:
            return
        path = self.run_dir / LOCK_FILE
        try:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)  # not inherited by child processes
        except OSError as error:
            raise StorageError(f"cannot write {path}: {error.strerror or error}") from error
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.read(fd, 512).decode(errors="replace").strip() or "a process that has not said who"
            os.close(fd)
            raise ResultsError(
                f"{self.run_dir} is in use by another run ({holder}); wait for it to finish or stop it "
                "(a run that has ended holds no lock)"
            ) from None
        os.ftruncate(fd, 0)
        started = time.strftime("%Y-%m-%dT%H:%M:%S")
        os.write(fd, f"pid {os.getpid()} on {socket.gethostname()}, since {started}\n".encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> RunLock:
        return self

    def __exit__(self, *exc) -> None:
        self.release()
