"""The suite's names and fixed constants, each written once, in a module with no heavy imports.

Parameter files, the results table, plots and widgets all spell approaches, kernels, losses and
backends the same way; the modules that implement them check their own tables against these
tuples, so a name added here without an implementation (or the reverse) fails at import.
"""

__all__ = [
    "APPROACHES",
    "APPROACH_NETWORKS",
    "BACKENDS",
    "BASELINE_LOSSES",
    "DEFAULT_CELL_TIMEOUT_S",
    "KERNELS",
    "MATMUL_PRECISIONS",
    "METRICS",
    "NORMALISATIONS",
    "OBJECTIVES",
    "PROTOCOLS",
    "SECONDARY_METRICS",
    "SIMILARITY_NORMS",
    "TARGET_SCALES",
    "TASKS",
]

# The paper's five approaches (its section 3) and Stats, a baseline without training: the SVM on
# each file's mean and standard deviation over time of its frames.  The order of every table and plot.
APPROACHES = ("NN", "FL", "RBF-SL", "Cos-SL", "Poly-SL", "Stats")
# The network each approach evaluates: NN and FL read the same baseline network; Stats none.
APPROACH_NETWORKS = {
    "NN": "baseline",
    "FL": "baseline",
    "RBF-SL": "rbf",
    "Cos-SL": "cosine",
    "Poly-SL": "poly",
    "Stats": None,
}
# Kernels of the similarity loss and of the SVM (one implementation serves both).
KERNELS = ("rbf", "cosine", "poly")
# What a network is trained to do: the NN/FL baseline's output layer, or the similarity loss.
OBJECTIVES = ("baseline", "similarity")
BASELINE_LOSSES = ("sse", "cross_entropy")
TASKS = ("classification", "regression")
# The score of each task in the results table (besides ``train_loss``).
METRICS = {"classification": "accuracy", "regression": "pearson_r"}
# Scores reported beside the task's metric (regression: the coefficient of determination).
SECONDARY_METRICS = {"classification": (), "regression": ("r2",)}
NORMALISATIONS = ("dataset", "train_only")
# The similarity loss's norm of K(F, F) - K(A, A): its square (default) or eq. 7's plain Frobenius norm.
SIMILARITY_NORMS = ("squared", "frobenius")
# Regression annotations in the similarity loss: as distributed, or mapped to [0, 1] by the scale's bounds.
TARGET_SCALES = ("raw", "unit")
PROTOCOLS = ("cv", "split", "random_splits")
# The GRU's matrix products: float32 throughout, or bfloat16 where the hardware multiplies it natively.
MATMUL_PRECISIONS = ("fp32", "bf16")
# How the networks of a run are computed (see simsvm.train.jobs.make_backend).
BACKENDS = ("serial", "processes", "cuda", "reference", "dask")
# How long one notebook cell of a batch may run, in seconds.
DEFAULT_CELL_TIMEOUT_S = 4 * 3600
