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
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import yaml

from simsvm.data.datasets import REGISTRY, dataset_options, dataset_task
from simsvm.exceptions import ParameterError
from simsvm.experiment.approaches import APPROACHES, check_approaches
from simsvm.experiment.declared import DECLARED_KEYS, declared_fields
from simsvm.experiment.limits import check_folder_name, check_scheduler_address, check_upper_bounds
from simsvm.experiment.svm_grid import SvmGrid
from simsvm.experiment.values import RANGES, coerce, yaml_problem
from simsvm.model.kernels import KERNELS
from simsvm.model.losses import LOSSES
from simsvm.names import BACKENDS, MATMUL_PRECISIONS, NORMALISATIONS, PROTOCOLS, TARGET_SCALES

__all__ = [
    "EXECUTION_KEYS",
    "ExperimentConfig",
    "allowed_values",
    "check_folder_name",
    "load_config",
]

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
    "embedding_file",
)

# The losses of a network with an output layer (the NN/FL baseline's).
_BASELINE_LOSSES = tuple(name for name, loss in LOSSES.items() if loss.reads == "outputs")

_CHOICES = {
    "baseline_loss": _BASELINE_LOSSES,
    "normalisation": NORMALISATIONS,
    "svm_kernel": tuple(KERNELS),
    "backend": BACKENDS,
    "protocol": PROTOCOLS,
    "target_scale": TARGET_SCALES,
    "matmul_precision": MATMUL_PRECISIONS,
}


# The keys kernels and losses declare (rbf_gamma, supcon_temperature, svm_gamma, ...): keyword-only
# fields of a base class, so that they may follow ExperimentConfig's required fields.
_DeclaredKeys = dataclasses.make_dataclass("_DeclaredKeys", declared_fields(), kw_only=True)


@dataclass
class ExperimentConfig(_DeclaredKeys):
    """Parameters of one experiment (one dataset, one protocol, the chosen approaches).

    Paths are taken relative to the working directory.  Defaults are the paper's settings.  Besides
    the fields below, every kernel and loss declares its own keys (:mod:`simsvm.experiment.declared`).
    """

    # Each key's meaning is its field's metadata["help"]: the one place it is written, read by
    # parameter_reference() for `simsvm list` and the documentation.

    # what to run
    name: str = field(metadata={"help": "run name; results go to <results_dir>/<name>/"})
    dataset: str = field(
        metadata={"help": "the dataset's loader: a published dataset, or your own data as folders or table"}
    )
    data_dir: str = field(metadata={"help": "folder holding the dataset in its distributed layout"})
    dataset_options: dict[str, Any] = field(
        default_factory=dict,
        metadata={"help": "the loader's options, e.g. {merge_rumba: true}; an unknown option is an error"},
    )
    protocol: str = field(
        default="cv",
        metadata={
            "help": "cv: k-fold cross-validation (stratified for classes); split: the dataset's fixed "
            "split; random_splits: repeated random train/test splits (the significance protocol)"
        },
    )
    approaches: list[str] = field(
        default_factory=lambda: [name for name, approach in APPROACHES.items() if approach.default],
        metadata={
            "help": "the approaches to evaluate (simsvm list approaches): by default the paper's five "
            "and Stats, the baseline without training"
        },
    )
    embedding_file: Optional[str] = field(  # noqa: UP045
        default=None,
        metadata={
            "help": "for the Embedding approach: one vector per track (.npz with ids and features, "
            ".csv or .parquet with an id column), matched to the dataset's track ids"
        },
    )
    folds: int = field(
        default=10,
        metadata={"help": "number of CV folds (under protocol split, fold in the results is the split's 0)"},
    )
    splits: int = field(default=100, metadata={"help": "with protocol random_splits: how many splits"})
    test_share: float = field(
        default=0.1, metadata={"help": "with protocol random_splits: the test part of each split"}
    )
    train_splits: list[str] = field(
        default_factory=lambda: ["train"],
        metadata={"help": "with protocol split: the dataset's named splits to train on"},
    )
    test_split: str = field(
        default="test", metadata={"help": "with protocol split: the dataset's named split to test on"}
    )
    seed: int = field(default=0, metadata={"help": "seeds the folds and, through them, every network"})
    # frames (DESIGN.md section 1)
    sample_rate: int = field(default=22050, metadata={"help": "frame extraction: sample rate (Hz)"})
    n_fft: int = field(default=1103, metadata={"help": "frame extraction: FFT window (samples)"})
    hop_length: int = field(default=551, metadata={"help": "frame extraction: hop between frames (samples)"})
    n_mels: int = field(default=40, metadata={"help": "frame extraction: mel bins"})
    normalisation: str = field(
        default="dataset",
        metadata={
            "help": "z-score statistics over the whole dataset (dataset, the paper's) "
            "or over each fold's training files (train_only)"
        },
    )
    skip_unreadable: bool = field(
        default=True,
        metadata={"help": "skip and report audio files that cannot be decoded, instead of stopping"},
    )
    # network and training
    hidden_sizes: list[int] = field(
        default_factory=lambda: [100, 50],
        metadata={"help": "GRU units per layer; the last is the feature size"},
    )
    epochs: int = field(default=400, metadata={"help": "training epochs per network"})
    eval_every: int = field(
        default=10,
        metadata={
            "help": "epochs between evaluation snapshots (epoch 0 and the last epoch are always evaluated)"
        },
    )
    excerpt_length: int = field(
        default=100,
        metadata={"help": "frames per training excerpt (one random excerpt per file and epoch)"},
    )
    batch_size: int = field(
        default=100,
        metadata={"help": "excerpts per update; the similarity loss compares all pairs in a batch"},
    )
    learning_rate: float = field(default=1.0, metadata={"help": "Adadelta's learning rate"})
    rho: float = field(default=0.95, metadata={"help": "Adadelta's decay of its running averages"})
    eps: float = field(default=1e-6, metadata={"help": "Adadelta's epsilon"})
    baseline_loss: str = field(
        default="sse",
        metadata={
            "help": "the NN/FL network's loss: sum of squared errors (sse, the paper's) "
            "or cross_entropy (classification; the CE-FL approach trains that network beside it)"
        },
    )
    target_scale: str = field(
        default="raw",
        metadata={
            "help": "regression annotations in the similarity loss as distributed (raw), or mapped to "
            "[0, 1] by their scale's bounds (unit; for table by each training part's minimum and maximum)"
        },
    )
    matmul_precision: str = field(
        default="fp32",
        metadata={
            "help": "the GRU's matrix products in float32 (fp32), or bf16: bfloat16 on a CPU with "
            "AMX-BF16 or AVX512-BF16, TF32 on a GPU, float32 (with a warning) elsewhere; "
            "it changes the numbers slightly and trains faster"
        },
    )
    # SVM / SVR
    svm_kernel: str = field(default="rbf", metadata={"help": "the SVM / SVR's kernel"})
    svm_c: float = field(default=1.0, metadata={"help": "the SVM / SVR's soft-margin penalty C"})
    svm_tuning: Optional[dict[str, Any]] = field(  # noqa: UP045
        default=None,
        metadata={
            "help": "e.g. {C: [0.1, 1, 10], gamma: [0.005, 0.05, 0.5], folds: 3}: choose C (and the "
            "kernel's tunable parameters, e.g. the RBF's gamma) per fold, approach and epoch by an "
            "inner cross-validation on the training part only (null: svm_c and svm_gamma)"
        },
    )
    # execution
    backend: str = field(
        default="processes",
        metadata={
            "help": "how the networks of a run are computed: processes (worker processes), serial, "
            "cuda, reference or dask (a cluster)"
        },
    )
    workers: Optional[int] = field(  # noqa: UP045 - papermill and get_type_hints read Optional
        default=None,
        metadata={
            "help": "worker processes (null: one per core); for cuda, the CPU processes that "
            "evaluate snapshots (null: cores - 1)"
        },
    )
    threads_per_worker: int = field(default=1, metadata={"help": "threads of each worker process"})
    stack_size: Optional[int] = field(  # noqa: UP045
        default=None,
        metadata={"help": "networks computed together in one job (null: 1 on a CPU, all on CUDA)"},
    )
    scheduler: Optional[str] = field(  # noqa: UP045
        default=None,
        metadata={
            "help": "dask scheduler address for backend dask, e.g. tcp://host:8786 "
            "(null: start a local cluster of workers processes)"
        },
    )
    results_dir: str = field(default="results", metadata={"help": "where run folders go"})
    save_features: bool = field(
        default=True,
        metadata={
            "help": "keep each network's learned features at every evaluated epoch (for the kernel notebook)"
        },
    )
    cache_dir: Optional[str] = field(  # noqa: UP045
        default=".cache/frames", metadata={"help": "frame cache (null: keep frames in memory only)"}
    )
    progress: bool = field(default=True, metadata={"help": "show progress bars"})

    def __post_init__(self) -> None:
        for item in dataclasses.fields(self):
            value = getattr(self, item.name)
            if item.name in DECLARED_KEYS:
                setattr(self, item.name, DECLARED_KEYS[item.name].parameter.check(value, key=item.name))
            else:
                setattr(self, item.name, coerce(item.name, value, _hints()[item.name]))
        for key, choices in _CHOICES.items():
            if getattr(self, key) not in choices:
                raise ParameterError(f"{key}: {getattr(self, key)!r} is not one of {list(choices)}")
        task = dataset_task(self.dataset, self.dataset_options) if self.dataset in REGISTRY else None
        check_approaches(self.approaches, task=task, dataset=self.dataset, embedding_file=self.embedding_file)
        if self.baseline_loss == "cross_entropy" and "CE-FL" in self.approaches and "FL" in self.approaches:
            raise ParameterError(
                "baseline_loss: cross_entropy makes FL the same as CE-FL; "
                "keep baseline_loss: sse to compare them"
            )
        for key, (allowed, rule) in RANGES.items():
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
        self._svm_grid = None
        if self.svm_tuning is not None:  # parsed once; the mapping kept in its canonical form
            self._svm_grid = SvmGrid.from_dict(self.svm_tuning, kernel=self.svm_kernel)
            self.svm_tuning = self._svm_grid.to_dict()
        if not self.hidden_sizes or min(self.hidden_sizes) < 1:
            raise ParameterError(f"hidden_sizes: need positive layer sizes, got {self.hidden_sizes}")
        check_upper_bounds(dataclasses.asdict(self))
        check_folder_name("name", self.name)
        check_scheduler_address(self.scheduler)

    @property
    def svm_grid(self) -> SvmGrid | None:
        """``svm_tuning`` as its typed grid (parsed once); ``None``: the fixed ``svm_c`` and ``svm_gamma``."""
        return self._svm_grid

    @classmethod
    def keys(cls) -> list[str]:
        """Every parameter name (the YAML keys): the kernels' and losses' after ``matmul_precision``."""
        general = cls.general_keys()
        at = general.index("matmul_precision") + 1
        return general[:at] + list(DECLARED_KEYS) + general[at:]

    @classmethod
    def general_keys(cls) -> list[str]:
        """The keys of the suite itself, in declaration order (the experiment notebook lists these)."""
        return [item.name for item in dataclasses.fields(cls) if item.name not in DECLARED_KEYS]

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
        values = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except UnicodeDecodeError as error:
        raise ParameterError(
            f"{path}: not UTF-8 text (byte {error.object[error.start]:#04x} at offset {error.start}); "
            "save it as UTF-8"
        ) from None
    except yaml.YAMLError as error:
        raise ParameterError(f"{path}: not valid YAML ({yaml_problem(error)})") from None
    if not isinstance(values, dict):
        raise ParameterError(f"{path}: expected a mapping of keys to values, got {type(values).__name__}")
    return ExperimentConfig.from_dict({**values, **(overrides or {})}, source=str(path))


def allowed_values(key: str) -> str:
    """What key ``key`` may take, in words: its range, its choices, or ``''`` where its type says all."""
    if key in RANGES:
        return RANGES[key][1]
    if key in _CHOICES:
        return ", ".join(_CHOICES[key])
    if key in DECLARED_KEYS:
        return DECLARED_KEYS[key].parameter.rule()
    if key == "dataset":
        return ", ".join(REGISTRY)
    if key == "approaches":
        return "any of " + ", ".join(APPROACHES)
    return ""


@typing.no_type_check
def _hints() -> dict[str, Any]:
    return typing.get_type_hints(ExperimentConfig)
