# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # One experiment
#
# Runs the paper's protocol on one dataset for the chosen approaches (NN, FL, RBF-SL, Cos-SL,
# Poly-SL) and the Stats baseline, shows the training curves and the final scores, and writes the run's results to
# `<results_dir>/<name>/` (`results.csv`, `parameters.yaml`, `metadata.json`, stored features).
# The parameters below are the keys of a YAML parameter file (see README); `simsvm batch` injects
# them with papermill. Running it again with the same parameters resumes an unfinished run.

# %% tags=["parameters"]
from typing import Optional

name: str = "demo-gtzan"
dataset: str = "gtzan"
data_dir: str = "data/synth/gtzan"
dataset_options: dict = {}
protocol: str = "cv"
approaches: list = ["NN", "FL", "RBF-SL", "Cos-SL", "Poly-SL", "Stats"]
folds: int = 3
splits: int = 100
test_share: float = 0.1
train_splits: list = ["train"]
test_split: str = "test"
seed: int = 0
sample_rate: int = 22050
n_fft: int = 1103
hop_length: int = 551
n_mels: int = 40
normalisation: str = "dataset"
skip_unreadable: bool = True
hidden_sizes: list = [100, 50]
epochs: int = 40
eval_every: int = 10
excerpt_length: int = 100
batch_size: int = 20
learning_rate: float = 1.0
rho: float = 0.95
eps: float = 1e-06
baseline_loss: str = "sse"
similarity_norm: str = "squared"
target_scale: str = "raw"
matmul_precision: str = "fp32"
rbf_gamma: float = 0.5
poly_degree: int = 2
poly_offset: float = 0.0
svm_kernel: str = "rbf"
svm_c: float = 1.0
svm_gamma: float = 0.5
svm_tuning: Optional[dict] = None  # e.g. {"C": [0.1, 1, 10], "gamma": [0.05, 0.5], "folds": 3}
backend: str = "processes"
workers: Optional[int] = None  # default: one per CPU core (cuda: snapshot evaluators, cores - 1)
threads_per_worker: int = 1
stack_size: Optional[int] = None  # networks computed together; default 1 on CPU, all on cuda
scheduler: Optional[str] = None  # dask scheduler address (backend 'dask'); None: a local cluster
results_dir: str = "results"
save_features: bool = True
cache_dir: Optional[str] = ".cache/frames"  # None keeps frames in memory only
progress: bool = True

# %%
import matplotlib.pyplot as plt

import simsvm
from simsvm.report import plots

# Built after papermill's injected cell, so injected values are the ones used.
config = simsvm.ExperimentConfig.from_dict(
    {key: globals()[key] for key in simsvm.ExperimentConfig.keys()}, source="notebook parameters"
)
table = simsvm.run_experiment(config)
print(f"results: {config.run_dir}")

# %% [markdown]
# ## Training curves

# %%
figure = plots.plot_curves(table)
plt.show()

# %% [markdown]
# ## Scores at the last evaluated epoch (mean and s.d. over folds)

# %%
plots.final_scores(table)
