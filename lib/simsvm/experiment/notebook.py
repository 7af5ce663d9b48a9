"""The experiment notebook's parameters, turned into a configuration.

``notebooks/experiment.ipynb`` declares every general key of :class:`ExperimentConfig` with the
value ``...`` ("not given"), a ``parameter_file``, and the kernels' and losses' own keys as one
mapping (they are as many as the declared kernels and losses): a key papermill or the user sets
wins, the rest come from the parameter file and then from the configuration's own defaults, so
the notebook holds no default of its own.  Relative paths are taken from the project folder
(:func:`simsvm.paths.project_root`), not from the folder the kernel started in.
"""

from __future__ import annotations

import os
from typing import Any

from simsvm.exceptions import ParameterError
from simsvm.experiment.config import ExperimentConfig, load_config
from simsvm.paths import resolve_path

__all__ = ["PATH_KEYS", "notebook_config"]

# The keys that hold paths, made absolute so that the run does not depend on the kernel's folder.
PATH_KEYS = ("data_dir", "results_dir", "cache_dir", "embedding_file")


def notebook_config(
    parameter_file: str | os.PathLike | None, values: dict[str, Any], declared: dict[str, Any] | None = None
) -> ExperimentConfig:
    """The configuration a notebook run uses.

    Parameters
    ----------
    parameter_file : path or None
        YAML parameter file, relative to the project folder; None: only ``values`` and the defaults.
    values : dict
        The notebook's parameters by general key (:meth:`ExperimentConfig.general_keys`); ``...``
        (Ellipsis) means "not given".
    declared : dict, optional
        Kernel and loss keys (``rbf_gamma``, ...) that are given.

    Raises
    ------
    ParameterError
        For a missing or bad parameter file, an unknown key or a bad value, naming it.
    """
    general = ExperimentConfig.general_keys()
    if set(values) != set(general):
        missing = sorted(set(general) - set(values))
        unknown = sorted(set(values) - set(general))
        raise ParameterError(f"notebook parameters: missing {missing}, unknown {unknown}")
    misplaced = sorted(set(declared or {}) - (set(ExperimentConfig.keys()) - set(general)))
    if misplaced:
        raise ParameterError(
            f"kernel_and_loss_keys: {misplaced} are not kernel or loss keys (simsvm list keys)"
        )
    given = {key: value for key, value in values.items() if value is not Ellipsis} | dict(declared or {})
    if parameter_file is not None:
        config = load_config(resolve_path(parameter_file), given)
    else:
        config = ExperimentConfig.from_dict(given, source="notebook parameters")
    paths = {
        key: str(resolve_path(value)) for key in PATH_KEYS if (value := getattr(config, key)) is not None
    }
    return config.replace(**paths)
