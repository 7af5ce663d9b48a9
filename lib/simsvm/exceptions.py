"""The two kinds of error simsvm raises on purpose.

Everything the user can get wrong is reported as one of these, with the offending file, key or
value named in the message, so that a long batch run fails with a sentence rather than a traceback
from deep inside librosa or torch.
"""

from __future__ import annotations

__all__ = ["DataError", "ParameterError", "SimsvmError"]


class SimsvmError(Exception):
    """Base class of the errors simsvm raises deliberately."""


class ParameterError(SimsvmError, ValueError):
    """A parameter (argument, YAML key or value) is unknown, of the wrong type or out of range."""


class DataError(SimsvmError):
    """Files on disk are missing, unreadable or not in the layout a loader expects."""
