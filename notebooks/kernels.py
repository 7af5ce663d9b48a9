# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.7
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Similarity kernels, side by side
#
# For one stored snapshot (a network on one fold at one evaluated epoch), the kernel matrix of
# the annotations K(A, A) beside that of the learned features K(F, F), the similarity loss
# between them, and the SVM refitted with a chosen kernel. Nothing is retrained. With
# `interactive = True` (in JupyterLab) sliders change kernels and parameters live.

# %% tags=["parameters"]
from typing import Optional

run_dir: str = "results/demo/demo-gtzan"  # a run folder, relative to the project folder
job: Optional[str] = None  # default: the first stored network, e.g. fold00-rbf
epoch: Optional[int] = None  # default: the last evaluated epoch
loss_kernel: str = "rbf"  # any kernel of `simsvm list kernels`
loss_parameters: dict = {}  # e.g. {"gamma": 0.1}; a parameter not given takes its default
svm_kernel: str = "rbf"
svm_parameters: dict = {}
svm_c: float = 1.0
interactive: bool = False

# %%
import matplotlib.pyplot as plt
from IPython.display import display

from simsvm.paths import resolve_path
from simsvm.report.widgets import explore_kernels, kernel_view, stored_jobs

run_dir = resolve_path(run_dir)  # relative to the project folder, wherever the kernel started
jobs = stored_jobs(run_dir)
print("stored networks:", ", ".join(jobs))
view = kernel_view(
    run_dir, job or jobs[0], epoch=epoch, loss_kernel=loss_kernel, loss_parameters=loss_parameters,
    svm_kernel=svm_kernel, svm_parameters=svm_parameters, svm_c=svm_c,
)
plt.show()
print(f"epoch {view.epoch}: loss {view.loss:.2f} over {view.n_files} files; SVM scores {view.svm_scores}")

# %%
if interactive:
    display(explore_kernels(run_dir, job))
