"""Where a relative path in a notebook points: the project folder, whichever folder the kernel started in.

JupyterLab starts a notebook's kernel in the notebook's own folder (``notebooks/``), the command
line runs wherever the user stands, and papermill in the folder it is given.  Parameter files and
the suite's defaults write paths relative to the project (``results/demo``, ``data/synth/gtzan``),
so the notebooks resolve them against the project folder: the nearest folder at or above the
working directory that holds a ``parameters/`` or ``results/`` folder, or ``$SIMSVM_PROJECT``
where that is set.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["PROJECT_MARKERS", "project_root", "resolve_path"]

# Folders whose presence marks a project folder (a checkout, or a researcher's own working folder).
PROJECT_MARKERS = ("parameters", "results")


def project_root(start: str | os.PathLike | None = None) -> Path:
    """The project folder: ``$SIMSVM_PROJECT``, else the nearest folder at or above ``start``
    (default: the working directory) holding one of :data:`PROJECT_MARKERS`, else ``start``.
    """
    configured = os.environ.get("SIMSVM_PROJECT")
    if configured:
        return Path(configured).expanduser().resolve()
    start = Path(start or Path.cwd()).resolve()
    for folder in (start, *start.parents):
        if any((folder / marker).is_dir() for marker in PROJECT_MARKERS):
            return folder
    return start


def resolve_path(path: str | os.PathLike, *, root: str | os.PathLike | None = None) -> Path:
    """``path`` as an absolute path: as it is when absolute, else below ``root`` (default:
    :func:`project_root`).  ``~`` is expanded.
    """
    path = Path(path).expanduser()
    if path.is_absolute():
        return path
    return Path(root).resolve() / path if root is not None else project_root() / path
