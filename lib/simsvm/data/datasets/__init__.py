"""Dataset loaders (one module per dataset, real on-disk layouts) and the registry.

>>> from simsvm.data.datasets import load_dataset
>>> dataset = load_dataset("gtzan", "data/gtzan")  # doctest: +SKIP
"""

from __future__ import annotations

import inspect
from pathlib import Path
from types import ModuleType

from simsvm.data.identity import ContentHashes
from simsvm.exceptions import DataError, ParameterError

from . import ballroom, emotify, folders, gtzan, lastfm, mediaeval2013, table
from ._base import Dataset
from ._identity import use_each_recording_once

__all__ = [
    "REGISTRY",
    "Dataset",
    "dataset_labels",
    "dataset_options",
    "dataset_task",
    "load_dataset",
    "ordered_targets",
]

REGISTRY: dict[str, ModuleType] = {
    "lastfm": lastfm,
    "emotify": emotify,
    "mediaeval2013": mediaeval2013,
    "gtzan": gtzan,
    "ballroom": ballroom,
    "folders": folders,
    "table": table,
}


def load_dataset(
    key: str, data_dir: str | Path, *, cache_dir: str | Path | None = None, **options
) -> Dataset:
    """Load dataset ``key`` from ``data_dir`` with its loader's ``options``.

    Every file's bytes are hashed (:mod:`simsvm.data.identity`; remembered in ``cache_dir``, the
    frame cache folder, when given): one file listed twice, or byte-identical files, are used
    once and the others reported (:func:`._identity.use_each_recording_once`).

    Raises
    ------
    ParameterError
        For an unknown key or option.
    DataError
        When ``data_dir`` is missing or not in the dataset's layout, or when one file is listed
        under two labels.
    """
    if key not in REGISTRY:
        raise ParameterError(f"unknown dataset {key!r}; choose one of {sorted(REGISTRY)}")
    known = dataset_options(key)
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise ParameterError(f"dataset_options: {unknown} not known for {key}; it takes {known or 'none'}")
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise DataError(f"{key}: data folder {data_dir} does not exist")
    hashes = ContentHashes(cache_dir)
    dataset = use_each_recording_once(REGISTRY[key].load(data_dir, **options), hashes)
    hashes.save()
    return dataset


def dataset_options(key: str) -> list[str]:
    """Names of the keyword options of dataset ``key``'s loader."""
    parameters = inspect.signature(REGISTRY[key].load).parameters.values()
    return [p.name for p in parameters if p.kind is inspect.Parameter.KEYWORD_ONLY]


def dataset_task(key: str, options: dict) -> str:
    """``'classification'`` or ``'regression'``: what dataset ``key`` with ``options`` asks of a model."""
    module = REGISTRY[key]
    return module.task(options) if hasattr(module, "task") else module.TASK


def dataset_labels(key: str) -> tuple[str, ...]:
    """The classes or regression targets dataset ``key`` declares; ``()`` where its data decides them."""
    module = REGISTRY[key]
    return tuple(getattr(module, "TARGETS", None) or getattr(module, "CLASSES", ()))


def ordered_targets(key: str, targets) -> list[str]:
    """``targets`` in the order dataset ``key`` declares (e.g. valence before arousal), others sorted."""
    declared = getattr(REGISTRY.get(key), "TARGETS", ())
    present = set(targets)
    return [t for t in declared if t in present] + sorted(present - set(declared), key=str)
