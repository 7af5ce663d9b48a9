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
# # Summary of a results folder
#
# Reads every finished run under `results_dir` and draws what the paper shows: the training
# curves of each run (the Stats baseline, which trains nothing, as a dashed flat line), the final
# scores, a confusion matrix per classification run, and the Emotify per-emotion table beside
# the paper's Table 2. Every figure is written to `figures_dir` as PNG and SVG, every table as
# CSV and Markdown.

# %% tags=["parameters"]
from typing import Optional

results_dir: str = "results/demo"
figures_dir: str = "figures"
emotify_epoch: Optional[int] = None  # default: the last evaluated epoch

# %%
import matplotlib.pyplot as plt
from IPython.display import Markdown, display

from simsvm.report import plots

summary = plots.write_summary(results_dir, figures_dir, emotify_epoch=emotify_epoch)
plt.close("all")

# %% [markdown]
# ## Training curves per run, and confusion matrices of classification runs
# A confusion matrix sums the test files of every fold at the last evaluated epoch: NN beside
# the best other approach.

# %%
for run, figure in summary.figures.items():
    display(figure)

# %% [markdown]
# ## Tables
# Final scores per run (regression: Pearson's R and R² per target; `SVM C` and `SVM gamma`: what
# each approach's SVM was fitted with, chosen per fold under `svm_tuning`); the Emotify table gives our mean R over folds per emotion, the paper's
# value (Table 2) and the difference; `best` names the approach with the highest R in our run.
# `significance` (random-splits runs only) compares RBF-SL with NN, FL and Stats on the summary
# score and on each regression target: Welch's test as in the paper, the paired and the corrected
# resampled t-test, the paper's conclusion, and `conclusion_changes` where Welch and the
# corrected test disagree.

# %%
for table_name, table in summary.tables.items():
    display(Markdown(f"### {table_name}"), table)

# %%
print("written:", *[str(path) for path in summary.written], sep="\n  ")
