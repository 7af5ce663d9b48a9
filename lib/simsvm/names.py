"""The suite's fixed names and constants, each written once, in a module with no heavy imports.

Kernels, losses and approaches are not listed here: each is one declaration
(:mod:`simsvm.model.kernels`, :mod:`simsvm.model.losses`, :mod:`simsvm.experiment.approaches`)
that everything else reads.
"""

__all__ = [
    "BACKENDS",
    "DEFAULT_CELL_TIMEOUT_S",
    "MATMUL_PRECISIONS",
    "METRICS",
    "NORMALISATIONS",
    "PROTOCOLS",
    "SCORE_METRICS",
    "SECONDARY_METRICS",
    "TARGET_SCALES",
    "TASKS",
]

TASKS = ("classification", "regression")
# The score of each task in the results table (besides ``train_loss``).
METRICS = {"classification": "accuracy", "regression": "pearson_r"}
# Scores reported beside the task's metric (regression: the coefficient of determination).
SECONDARY_METRICS = {"classification": (), "regression": ("r2",)}
# Every test score; the other rows of a results table record training (train_loss, and a learned
# kernel parameter under its key, e.g. rbf_gamma).
SCORE_METRICS = (*METRICS.values(), *(m for task in TASKS for m in SECONDARY_METRICS[task]))
NORMALISATIONS = ("dataset", "train_only")
# Regression annotations in the similarity loss: as distributed, or mapped to [0, 1] by the scale's bounds.
TARGET_SCALES = ("raw", "unit")
PROTOCOLS = ("cv", "split", "random_splits")
# The GRU's matrix products: float32 throughout, or bfloat16 where the hardware multiplies it natively.
MATMUL_PRECISIONS = ("fp32", "bf16")
# How the networks of a run are computed (see simsvm.train.jobs.make_backend).
BACKENDS = ("serial", "processes", "cuda", "reference", "dask")
# How long one notebook cell of a batch may run, in seconds.
DEFAULT_CELL_TIMEOUT_S = 4 * 3600
