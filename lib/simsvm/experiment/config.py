"""Experiment parameters: one flat, typed dataclass, filled from YAML.

Flat on purpose: the same names are the keys of a parameter file, the ``--set`` overrides of the
command line and the papermill parameters of ``notebooks/experiment.ipynb``.  Unknown keys and
wrong types are errors that name the key, never silently ignored.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Union

import yaml

from simsvm.data.datasets import REGISTRY, dataset_options, dataset_task
from simsvm.exceptions import ParameterError
from simsvm.experiment.scoring import SvmGrid
from simsvm.names import (
    APPROACHES,
    BACKENDS,
    BASELINE_LOSSES,
    KERNELS,
    MATMUL_PRECISIONS,
    NORMALISATIONS,
    PROTOCOLS,
    SIMILARITY_NORMS,
    TARGET_SCALES,
)

__all__ = ["EXECUTION_KEYS", "ExperimentConfig", "load_config", "yaml_problem"]

# Keys that say where the data and results lie and how a run is computed, not what its numbers
# are; a resumed run may change them.  Where the data lies is not science: a run is identified by
# its other parameters and the fingerprint of the files it read (see simsvm.experiment.results).
EXECUTION_KEYS = (
    "data_dir",
    "backend",
    "workers",
    "threads_per_worker",
    "stack_size",
    "scheduler",
    "results_dir",
    "cache_dir",
    "progress",
    "save_features",
)

# Numeric keys and the values they may take (None, where the type allows it, is always allowed).
_RANGES = {
    "folds": (lambda v: v >= 1, ">= 1"),
    "splits": (lambda v: v >= 1, ">= 1"),
    "test_share": (lambda v: 0 < v < 1, "between 0 and 1 (exclusive)"),
    "sample_rate": (lambda v: v >= 1, ">= 1 (Hz)"),
    "n_fft": (lambda v: v >= 1, ">= 1 (samples)"),
    "hop_length": (lambda v: v >= 1, ">= 1 (samples)"),
    "n_mels": (lambda v: v >= 1, ">= 1"),
    "epochs": (lambda v: v >= 1, ">= 1"),
    "eval_every": (lambda v: v >= 1, ">= 1"),
    "excerpt_length": (lambda v: v >= 1, ">= 1 (frames)"),
    "batch_size": (lambda v: v >= 2, ">= 2 (the similarity loss compares pairs)"),
    "learning_rate": (lambda v: v > 0, "> 0"),
    "rho": (lambda v: 0 <= v < 1, "in [0, 1)"),
    "eps": (lambda v: v > 0, "> 0"),
    "rbf_gamma": (lambda v: v > 0, "> 0"),
    "poly_degree": (lambda v: v >= 1, "a positive integer"),
    "poly_offset": (lambda v: v >= 0, ">= 0"),
    "svm_c": (lambda v: v > 0, "> 0"),
    "svm_gamma": (lambda v: v > 0, "> 0"),
    "workers": (lambda v: v >= 1, ">= 1 or null"),
    "threads_per_worker": (lambda v: v >= 1, ">= 1"),
    "stack_size": (lambda v: v >= 1, ">= 1 or null"),
}

_CHOICES = {
    "baseline_loss": BASELINE_LOSSES,
    "normalisation": NORMALISATIONS,
    "svm_kernel": KERNELS,
    "backend": BACKENDS,
    "protocol": PROTOCOLS,
    "similarity_norm": SIMILARITY_NORMS,
    "target_scale": TARGET_SCALES,
    "matmul_precision": MATMUL_PRECISIONS,
}


@dataclass
class ExperimentConfig:
    """Parameters of one experiment (one dataset, one protocol, the chosen approaches).

    Paths are taken relative to the working directory.  Defaults are the paper's settings.
    """

    # what to run
    name: str
    dataset: str
    data_dir: str
    dataset_options: dict[str, Any] = field(default_factory=dict)
    protocol: str = "cv"
    approaches: list[str] = field(default_factory=lambda: list(APPROACHES))
    folds: int = 10
    splits: int = 100
    test_share: float = 0.1
    train_splits: list[str] = field(default_factory=lambda: ["train"])
    test_split: str = "test"
    seed: int = 0
    # frames (DESIGN.md section 1)
    sample_rate: int = 22050
    n_fft: int = 1103
    hop_length: int = 551
    n_mels: int = 40
    normalisation: str = "dataset"
    skip_unreadable: bool = True
    # network and training
    hidden_sizes: list[int] = field(default_factory=lambda: [100, 50])
    epochs: int = 400
    eval_every: int = 10
    excerpt_length: int = 100
    batch_size: int = 100
    learning_rate: float = 1.0
    rho: float = 0.95
    eps: float = 1e-6
    baseline_loss: str = "sse"
    similarity_norm: str = "squared"
    target_scale: str = "raw"
    # the GRU's matrix products: 'fp32', or 'bf16' (bfloat16 on a CPU with AMX/AVX512-BF16, TF32 on CUDA)
    matmul_precision: str = "fp32"
    # similarity kernels (loss side)
    rbf_gamma: float = 0.5
    poly_degree: int = 2
    poly_offset: float = 0.0
    # SVM / SVR
    svm_kernel: str = "rbf"
    svm_c: float = 1.0
    svm_gamma: float = 0.5
    # {C: [...], gamma: [...], folds: 3}: choose C and gamma by inner CV on each training part
    svm_tuning: Optional[dict[str, Any]] = None  # noqa: UP045
    # execution
    backend: str = "processes"
    workers: Optional[int] = None  # noqa: UP045 - papermill and get_type_hints read Optional
    threads_per_worker: int = 1
    stack_size: Optional[int] = None  # noqa: UP045
    scheduler: Optional[str] = None  # noqa: UP045 - dask scheduler address, backend 'dask'
    results_dir: str = "results"
    save_features: bool = True
    cache_dir: Optional[str] = ".cache/frames"  # noqa: UP045
    progress: bool = True

    def __post_init__(self) -> None:
        for item in dataclasses.fields(self):
            setattr(self, item.name, _coerce(item.name, getattr(self, item.name), _hints()[item.name]))
        for key, choices in _CHOICES.items():
            if getattr(self, key) not in choices:
                raise ParameterError(f"{key}: {getattr(self, key)!r} is not one of {list(choices)}")
        unknown = [a for a in self.approaches if a not in APPROACHES]
        if unknown or not self.approaches:
            raise ParameterError(f"approaches: unknown {unknown}; choose from {list(APPROACHES)}")
        if len(set(self.approaches)) != len(self.approaches):
            raise ParameterError(f"approaches: listed twice in {self.approaches}")
        for key, (allowed, rule) in _RANGES.items():
            value = getattr(self, key)
            if value is not None and not (math.isfinite(value) and allowed(value)):
                raise ParameterError(f"{key}: must be {rule}, got {value!r}")
        if self.eval_every > self.epochs:
            raise ParameterError(
                f"eval_every: {self.eval_every} is more than epochs ({self.epochs}); nothing would be "
                "evaluated between the untrained and the last epoch"
            )
        if self.protocol == "random_splits" and self.splits < 2:
            raise ParameterError(f"splits: the significance protocol needs at least 2, got {self.splits}")
        if self.protocol == "cv" and self.folds < 2:
            raise ParameterError(f"folds: cross-validation needs at least 2, got {self.folds}")
        if self.protocol == "split" and self.test_split in self.train_splits:
            raise ParameterError(
                f"test_split: {self.test_split!r} is also in train_splits {self.train_splits}"
            )
        if self.dataset not in REGISTRY:
            raise ParameterError(f"dataset: unknown {self.dataset!r}; choose one of {sorted(REGISTRY)}")
        unknown_options = sorted(set(self.dataset_options) - set(dataset_options(self.dataset)))
        if unknown_options:
            raise ParameterError(
                f"dataset_options: {unknown_options} not known for {self.dataset}; "
                f"it takes {dataset_options(self.dataset) or 'none'}"
            )
        if self.target_scale == "unit" and dataset_task(self.dataset, self.dataset_options) != "regression":
            raise ParameterError(f"target_scale: 'unit' maps regression targets; {self.dataset} has classes")
        if self.svm_tuning is not None:
            self.svm_tuning = SvmGrid.from_dict(self.svm_tuning, kernel=self.svm_kernel).to_dict()
        if not self.hidden_sizes or min(self.hidden_sizes) < 1:
            raise ParameterError(f"hidden_sizes: need positive layer sizes, got {self.hidden_sizes}")
        if not self.name or "/" in self.name or self.name.startswith("."):
            raise ParameterError(f"name: {self.name!r} must be a plain folder name")

    @classmethod
    def keys(cls) -> list[str]:
        """Every parameter name, in declaration order (the YAML keys and the notebook's parameters)."""
        return [item.name for item in dataclasses.fields(cls)]

    @classmethod
    def from_dict(cls, values: dict[str, Any], *, source: str = "parameters") -> ExperimentConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ParameterError(f"{source}: unknown key(s) {unknown}; known keys: {sorted(known)}")
        missing = [
            f.name
            for f in dataclasses.fields(cls)
            if f.default is dataclasses.MISSING
            and f.default_factory is dataclasses.MISSING
            and f.name not in values
        ]
        if missing:
            raise ParameterError(f"{source}: missing required key(s) {missing}")
        try:
            return cls(**values)
        except ParameterError as error:
            raise ParameterError(f"{source}: {error}") from None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def replace(self, **changes: Any) -> ExperimentConfig:
        return self.from_dict({**self.to_dict(), **changes}, source="overrides")

    def scientific_dict(self) -> dict[str, Any]:
        """The parameters that determine the numbers (everything but :data:`EXECUTION_KEYS`)."""
        return {k: v for k, v in self.to_dict().items() if k not in EXECUTION_KEYS}

    def parameters_hash(self) -> str:
        """16 hex digits identifying :meth:`scientific_dict` (what a job's numbers depend on)."""
        text = json.dumps(self.scientific_dict(), sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    @property
    def run_dir(self) -> Path:
        return Path(self.results_dir) / self.name


def load_config(path: str | os.PathLike, overrides: dict[str, Any] | None = None) -> ExperimentConfig:
    """Read a YAML parameter file; ``overrides`` (e.g. from ``--set key=value``) win."""
    path = Path(path)
    if not path.is_file():
        raise ParameterError(f"parameter file not found: {path}")
    try:
        values = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as error:
        raise ParameterError(f"{path}: not valid YAML ({yaml_problem(error)})") from None
    if not isinstance(values, dict):
        raise ParameterError(f"{path}: expected a mapping of keys to values, got {type(values).__name__}")
    return ExperimentConfig.from_dict({**values, **(overrides or {})}, source=str(path))


def yaml_problem(error: yaml.YAMLError) -> str:
    """A YAML parser error in one line: what is wrong and where."""
    problem = getattr(error, "problem", None) or type(error).__name__
    mark = getattr(error, "problem_mark", None)
    return f"{problem}, line {mark.line + 1} column {mark.column + 1}" if mark is not None else problem


@typing.no_type_check
def _hints() -> dict[str, Any]:
    return typing.get_type_hints(ExperimentConfig)


def _coerce(key: str, value: Any, hint: Any) -> Any:
    """Check ``value`` against ``hint``; widen int to float and accept '1e-6'-style floats."""
    origin = typing.get_origin(hint)
    if origin in (Union, types.UnionType):
        if value is None and type(None) in typing.get_args(hint):
            return None
        (inner,) = [a for a in typing.get_args(hint) if a is not type(None)]
        return _coerce(key, value, inner)
    if origin is dict:
        if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
            raise ParameterError(f"{key}: expected a mapping of names to values, got {value!r}")
        return dict(value)
    if origin is list:
        if not isinstance(value, (list, tuple)):
            raise ParameterError(f"{key}: expected a list, got {value!r}")
        (inner,) = typing.get_args(hint)
        return [_coerce(f"{key}[{i}]", item, inner) for i, item in enumerate(value)]
    if hint is float:
        if isinstance(value, str):  # YAML 1.1 reads 1e-6 (no dot) as a string
            try:
                return float(value)
            except ValueError:
                pass
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif hint is Any or isinstance(value, hint):
        return value
    raise ParameterError(f"{key}: expected {hint.__name__}, got {value!r} ({type(value).__name__})")
