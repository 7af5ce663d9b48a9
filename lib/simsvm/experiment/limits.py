"""Checks of parameter values beyond their type and lower bound: names that must stay one folder,
upper bounds past which a value can only be a typo, and addresses that must have a form.

Apart from :mod:`simsvm.experiment.config` so that the batch (``simsvm.cli.batch``) can check its
folder name with the same rule as a run's, and so that config.py stays a declaration.  Every
upper bound exists because the value, before any work starts, allocates in proportion to it (the
list of evaluated epochs, the random splits, a GRU's weights, an excerpt batch, a resampled
file): ``epochs: 1000000000000`` took 14 GB in 40 s before failing.
"""

from __future__ import annotations

import re
from typing import Any

from simsvm.exceptions import DataError, ParameterError

__all__ = [
    "UPPER_BOUNDS",
    "check_data",
    "check_folder_name",
    "check_partitions",
    "check_scheduler_address",
    "check_upper_bounds",
]

# key: (largest value, why a larger one is certainly a mistake).  Paper values in the reasons.
UPPER_BOUNDS: dict[str, tuple[int, str]] = {
    "epochs": (1_000_000, "the paper trains 400"),
    "folds": (10_000, "the paper uses 10"),
    "splits": (10_000, "the paper uses 100; each split is held in memory"),
    "batch_size": (100_000, "the similarity loss compares all pairs of a batch; the paper uses 100"),
    "excerpt_length": (100_000, "frames; the paper uses 100 (2.5 s)"),
    "sample_rate": (384_000, "Hz"),
    "n_fft": (1 << 18, "samples; the paper uses 1103"),
    "hop_length": (1 << 18, "samples; the paper uses 551"),
    "n_mels": (4_096, "the paper uses 40"),
    "workers": (4_096, "processes"),
    "threads_per_worker": (1_024, "threads"),
    "poly_degree": (64, "the polynomial kernel's values overflow long before"),
}
# A GRU layer of h units holds 6 h^2 + ... weights: 10,000 units are 2.4 GB in float32.
MAX_LAYER_SIZE = 10_000
MAX_LAYERS = 32
# Snapshots a network is evaluated at (an SVM refit each): epochs / eval_every.
MAX_EVALUATIONS = 100_000
# Rejected in a folder name: separators and the characters no file system takes.
_FORBIDDEN = re.compile(r"[/\\\x00-\x1f]")
# A dask scheduler address: optional protocol, a host name or [IPv6] address, a port.
_ADDRESS = re.compile(
    r"^(?:(?P<protocol>[a-z][a-z0-9+.-]*)://)?(?P<host>\[[0-9A-Fa-f:.]+\]|[\w.-]+):(?P<port>\d+)$"
)
_PROTOCOLS = ("tcp", "tls", "ucx", "ws", "wss")


def check_folder_name(kind: str, value: Any) -> str:
    """``value`` if it is one plain path component, else a :class:`ParameterError` naming ``kind``.

    A run or batch name becomes ``<results_dir>/<name>``: a ``/``, ``\\`` or ``..`` in it would
    write outside the results folder (``--name ../escaped``), and a leading ``.`` would hide it.
    """
    if not isinstance(value, str) or not value.strip():
        raise ParameterError(f"{kind}: {value!r} must be a non-empty folder name")
    if _FORBIDDEN.search(value) or value.startswith(".") or value != value.strip():
        raise ParameterError(
            f"{kind}: {value!r} must be one plain folder name (no '/', '\\', '..' or control "
            "characters, not starting with '.', no surrounding spaces)"
        )
    return value


def check_scheduler_address(value: str | None) -> None:
    """Refuse a scheduler that is not ``[protocol://]host:port``, before dask spends a minute on it."""
    if value is None:
        return
    match = _ADDRESS.match(value.strip())
    if match is None or not 0 < int(match["port"]) < 65536:
        raise ParameterError(
            f"scheduler: {value!r} is not a scheduler address; expected tcp://host:port (e.g. tcp://node1:8786)"
        )
    if match["protocol"] is not None and match["protocol"] not in _PROTOCOLS:
        raise ParameterError(f"scheduler: unknown protocol {match['protocol']!r} in {value!r}; use tcp://")


def check_upper_bounds(values: dict[str, Any]) -> None:
    """Refuse values no experiment needs and that would exhaust memory or time before any work."""
    for key, (largest, why) in UPPER_BOUNDS.items():
        value = values.get(key)
        if value is not None and value > largest:
            raise ParameterError(f"{key}: {value:,} is more than simsvm accepts, {largest:,} ({why})")
    hidden = values["hidden_sizes"]
    if len(hidden) > MAX_LAYERS or max(hidden, default=0) > MAX_LAYER_SIZE:
        raise ParameterError(
            f"hidden_sizes: {hidden} is too large: at most {MAX_LAYERS} layers of at most "
            f"{MAX_LAYER_SIZE:,} units (the paper uses [100, 50])"
        )
    evaluations = values["epochs"] // values["eval_every"]
    if evaluations > MAX_EVALUATIONS:
        raise ParameterError(
            f"eval_every: {values['eval_every']} evaluates each network {evaluations:,} times "
            f"(epochs {values['epochs']:,}); at most {MAX_EVALUATIONS:,} (each is an SVM fit)"
        )
    if values["n_mels"] > values["n_fft"] // 2 + 1:
        raise ParameterError(
            f"n_mels: {values['n_mels']} mel bins from an FFT of {values['n_fft']} samples "
            f"({values['n_fft'] // 2 + 1} frequencies) leave bins empty; lower n_mels or raise n_fft"
        )


def check_data(config: Any, dataset: Any, lengths: Any) -> None:
    """Refuse a dataset on which the run could only compute nonsense, before anything is written.

    ``dataset`` is the loaded :class:`~simsvm.data.datasets.Dataset` (unreadable files removed),
    ``lengths`` its files' frame counts.
    """
    import numpy as np

    where = f"{config.dataset} at {config.data_dir}"
    if dataset.task == "classification":
        present = np.unique(dataset.targets)
        if present.size < 2:
            raise DataError(
                f"{where}: every usable file is of one class ({dataset.target_names[present[0]]!r}); "
                "a classifier needs at least two"
            )
    else:
        for column, name in enumerate(dataset.target_names):
            if np.ptp(dataset.targets[:, column]) == 0:
                raise DataError(
                    f"{where}: target {name!r} is {dataset.targets[0, column]} for every file; "
                    "Pearson's R of a constant is undefined"
                )
    longest = int(np.max(lengths))
    if config.excerpt_length > longest:
        raise ParameterError(
            f"excerpt_length: {config.excerpt_length} frames is longer than every file of {where} "
            f"(the longest has {longest}); every excerpt would be a whole file and padding"
        )


def check_partitions(config: Any, dataset: Any, parts: list) -> None:
    """Refuse folds or splits whose scores would mean nothing: a training part of one class (the SVM
    cannot be fitted), a regression test part of one file (Pearson's R is undefined: NaN scores)."""
    import numpy as np

    word = {"cv": "fold", "split": "split", "random_splits": "split"}[config.protocol]
    for index, (train, test) in enumerate(parts):
        if dataset.task == "classification" and np.unique(dataset.targets[train]).size < 2:
            raise ParameterError(
                f"test_share: the training part of {word} {index} holds one class only; "
                "use more files, a smaller test_share or protocol cv (stratified)"
                if config.protocol == "random_splits"
                else f"{config.protocol}: the training part of {word} {index} holds one class only"
            )
        if dataset.task == "regression" and len(test) < 2:
            key = {"cv": "folds", "random_splits": "test_share", "split": "test_split"}[config.protocol]
            raise ParameterError(
                f"{key}: {word} {index} tests on {len(test)} file(s) of {len(dataset)}; Pearson's R "
                "needs at least 2"
            )
