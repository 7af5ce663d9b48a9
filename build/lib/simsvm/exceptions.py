"""The kinds of error simsvm raises on purpose, one per kind of fault.

Everything the user can get wrong is reported as one of these, with the offending file, key or
value named in a one-line message, so that a long batch run fails with a sentence rather than a
traceback from deep inside librosa or torch.  The command line prints the message and exits with
status 2 (bad input); any other exception is a failed run (status 1).
"""

from __future__ import annotations

__all__ = ["DataError", "ParameterError", "ResultsError", "SimsvmError", "StorageError"]


class SimsvmError(Exception):
    """Base class of the errors simsvm raises deliberately."""


class ParameterError(SimsvmError, ValueError):
    """A parameter (argument, YAML key or value) is unknown, of the wrong type or out of range."""


class DataError(SimsvmError):
    """Dataset files are missing, unreadable or not in the layout a loader expects."""


class ResultsError(SimsvmError):
    """A results folder is missing a file, holds a corrupt one, or holds a different run."""


class StorageError(SimsvmError, OSError):
    """A file simsvm must write cannot be written (read-only folder, disk full); the message names it."""
