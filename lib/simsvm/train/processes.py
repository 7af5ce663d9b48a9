"""Worker processes' lives: how they start, and that they end with the run that started them.

Apart from :mod:`simsvm.train.backends` because both concern the operating system's processes
rather than what a backend computes: the start method (:func:`worker_processes`), a worker that
watches its run (:func:`watch_parent`), and workers stopped when a run stops (:func:`stop_workers`).
"""

from __future__ import annotations

import ast
import contextlib
import io
import multiprocessing
import multiprocessing.context
import os
import pickle
import select
import sys
import threading
import time
import types
from pathlib import Path
from typing import Any

from simsvm.exceptions import ParameterError

__all__ = ["stop_workers", "unguarded_main_script", "watch_parent", "worker_processes"]

# Third-party modules a job imports: torch (and torch._dynamo, which its optimisers import on
# first use, about 3 s), scikit-learn, scipy and pandas through the evaluators.  Not simsvm
# itself: a researcher who edits it in a running notebook gets the edited code in every run.
_PRELOAD = [
    "torch",
    "torch._dynamo",
    "scipy.stats",
    "sklearn.svm",
    "sklearn.model_selection",
    "pandas",
    "yaml",
]

_GUARD_ADVICE = 'put the script\'s calls under `if __name__ == "__main__":`'


def worker_processes(*shipped: Any) -> multiprocessing.context.BaseContext:
    """How worker processes start: forked from a server that has imported the heavy libraries once.

    A ``spawn``-ed worker imports torch, scikit-learn and pandas itself (5-6 s each, every run,
    on 2 cores); the ``forkserver`` imports them once per Python process and forks each worker
    from that state.  Plain ``fork`` is never used: forking a process whose OpenMP pool is
    running can deadlock, and the server never runs torch operations.  ``spawn`` where there is
    no forkserver (Windows).

    Both import the caller's main script again in each worker, which re-runs a script that calls
    ``run_experiment`` at its top level, without ``if __name__ == "__main__":`` (every worker then
    starts a run of its own, and the pool breaks).  For such a script the workers start without
    it (:func:`unguarded_main_script`); ``shipped`` (what is sent to them) is checked not to need
    anything defined in it.
    """
    script = unguarded_main_script()
    if "forkserver" not in multiprocessing.get_all_start_methods():
        if script is not None:
            raise ParameterError(f"{script}: worker processes would run this script again; {_GUARD_ADVICE}")
        return multiprocessing.get_context("spawn")
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(_PRELOAD)
    if script is None:
        return context
    _refuse_main_references(script, shipped)
    return _MainFreeContext()


def unguarded_main_script() -> str | None:
    """The main script's path when it runs code at its top level without a ``__main__`` guard.

    ``None`` for an interactive session or notebook (nothing to re-run), ``python -c``, and any
    script with a top-level ``if __name__ == "__main__":``.
    """
    main = sys.modules.get("__main__")
    spec = getattr(main, "__spec__", None)
    path = getattr(spec, "origin", None) or getattr(main, "__file__", None)
    if not path or not Path(path).is_file():
        return None
    try:
        tree = ast.parse(Path(path).read_bytes())
    except (OSError, SyntaxError, ValueError):
        return None
    return None if any(_is_guard(node) for node in tree.body) else str(path)


def _is_guard(node: ast.stmt) -> bool:
    if not isinstance(node, ast.If) or not isinstance(node.test, ast.Compare):
        return False
    parts = [node.test.left, *node.test.comparators]
    return any(isinstance(p, ast.Name) and p.id == "__name__" for p in parts) and any(
        isinstance(p, ast.Constant) and p.value == "__main__" for p in parts
    )


class _Discard(io.RawIOBase):
    def write(self, data) -> int:
        return len(data)


def _refuse_main_references(script: str, shipped: tuple) -> None:
    """Workers started without the script cannot unpickle a function or class defined in it."""

    class Finder(pickle.Pickler):
        def reducer_override(self, obj):
            if isinstance(obj, (type, types.FunctionType)) and getattr(obj, "__module__", None) == "__main__":
                raise ParameterError(
                    f"{script}: {obj.__qualname__}, defined in this script, is sent to worker processes, "
                    f"which cannot import it without running the script again; {_GUARD_ADVICE}"
                )
            return NotImplemented

    with contextlib.suppress(pickle.PicklingError, TypeError, AttributeError):  # pickle's own error later
        Finder(_Discard(), protocol=pickle.HIGHEST_PROTOCOL).dump(shipped)


@contextlib.contextmanager
def _main_hidden():
    # What a worker imports as its main module is read from sys.modules["__main__"] when it is
    # launched (multiprocessing.spawn.get_preparation_data); a bare module there names none.
    main = sys.modules["__main__"]
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        sys.modules["__main__"] = main


if "forkserver" in multiprocessing.get_all_start_methods():  # POSIX
    from multiprocessing import popen_forkserver

    # At module level: a worker unpickles its process object, class included.
    class _MainFreePopen(popen_forkserver.Popen):
        def _launch(self, process_obj) -> None:
            with _main_hidden():
                super()._launch(process_obj)

    class _MainFreeProcess(multiprocessing.context.ForkServerProcess):
        @staticmethod
        def _Popen(process_obj):
            return _MainFreePopen(process_obj)

    class _MainFreeContext(multiprocessing.context.ForkServerContext):
        """The forkserver, with workers that do not import the caller's main script."""

        Process = _MainFreeProcess


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, under another account
        return True
    return True


def watch_parent(pid: int) -> None:
    """End this worker process as soon as process ``pid`` (the run that started it) has ended.

    A worker's parent is the forkserver, not the run, and it blocks on a queue whose writing end
    it holds itself: after ``kill -9`` (or any death that skips the pool's shutdown) of the run,
    the workers, the forkserver and the resource tracker stayed alive for good, about 0.8 GB.
    A daemon thread waits on a pidfd of the run (Linux >= 5.3) or polls it once a second, and
    then exits the process at once: nothing a dead run's job computes can be delivered, and the
    job's own cleanup could block on the dead run's queues.  (The forkserver and the resource
    tracker end by themselves once the workers are gone.)
    """

    def watch() -> None:
        try:
            handle = os.pidfd_open(pid)
        except (AttributeError, OSError):  # not Linux, or a kernel before 5.3
            handle = None
        if handle is not None:
            select.select([handle], [], [])
        else:
            while _alive(pid):
                time.sleep(1.0)
        os._exit(1)

    if not _alive(pid):
        os._exit(1)
    threading.Thread(target=watch, name="simsvm-watch-parent", daemon=True).start()


def stop_workers(pool: Any) -> None:
    """Terminate the worker processes of a ``ProcessPoolExecutor`` (their running jobs are lost)."""
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        if process.is_alive():
            process.terminate()
