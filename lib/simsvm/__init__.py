"""simsvm: similarity-based summarisation of music files for kernel SVMs.

A GRU network reads log-mel frames and is trained so that the kernel matrix of its time-averaged
outputs matches the kernel matrix of the annotations; a kernel SVM / SVR then classifies or
regresses on those outputs (Jakubik & Kwaśnicka, Complexity 2018).
"""

from simsvm._version import __version__
from simsvm.exceptions import DataError, ParameterError, SimsvmError
from simsvm.experiment.approaches import APPROACHES
from simsvm.experiment.config import ExperimentConfig, load_config

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
    """Run one experiment; see :func:`simsvm.experiment.run.run_experiment`."""
    from simsvm.experiment.run import run_experiment as _run  # deferred: imports torch and scikit-learn

    return _run(config, **kwargs)
