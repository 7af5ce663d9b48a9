"""Dataset loaders (one module per dataset, real on-disk layouts) and the registry.

>>> from simsvm.datasets import load_dataset
>>> dataset = load_dataset("gtzan", "data/gtzan")  # doctest: +SKIP
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

from ..exceptions import DataError, ParameterError
from . import emotify, gtzan
from ._base import TASKS, Dataset

__all__ = ["REGISTRY", "TASKS", "Dataset", "load_dataset"]

REGISTRY: dict[str, ModuleType] = {"gtzan": gtzan, "emotify": emotify}


def load_dataset(key: str, data_dir: str | Path, **options) -> Dataset:
    """Load dataset ``key`` from ``data_dir`` with its loader's ``options``.

    Raises
    ------
    ParameterError
        For an unknown key or option.
    DataError
        When ``data_dir`` is missing or not in the dataset's layout.
    """
    if key not in REGISTRY:
        raise ParameterError(f"unknown dataset {key!r}; choose one of {sorted(REGISTRY)}")
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise DataError(f"{key}: data folder {data_dir} does not exist")
    try:
        return REGISTRY[key].load(data_dir, **options)
    except TypeError as error:
        if "unexpected keyword" in str(error):
            raise ParameterError(f"{key}: unknown dataset option in {sorted(options)}") from error
        raise
