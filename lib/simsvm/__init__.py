"""simsvm: similarity-based summarisation of music files for kernel SVMs.

A GRU network reads log-mel frames and is trained so that the kernel matrix of its time-averaged
outputs matches the kernel matrix of the annotations; a kernel SVM / SVR then classifies or
regresses on those outputs (Jakubik & Kwaśnicka, Complexity 2018).
"""

__version__ = "0.1.0"

from .config import APPROACHES, ExperimentConfig, load_config
from .exceptions import DataError, ParameterError, SimsvmError

__all__ = [
    "APPROACHES",
    "DataError",
    "ExperimentConfig",
    "ParameterError",
    "SimsvmError",
    "__version__",
    "load_config",
    "run_experiment",
]


def run_experiment(config: ExperimentConfig, **kwargs):
    """Run one experiment; see :func:`simsvm.protocol.run_experiment`."""
    from .protocol import run_experiment as _run  # deferred: imports torch and scikit-learn

    return _run(config, **kwargs)
