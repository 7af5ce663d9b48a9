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
# # Report of a batch
#
# Reads every finished run under `results_dir` (a batch folder, `results/<batch>`) and reports
# it top to bottom: per run its data and protocol, its training curves, the best approach at the
# last epoch and whether its lead is significant, its final scores (and for classification the
# confusion matrices); then an overview of all runs and the significance tests of random-splits
# runs. Figures and tables are written to `figures_dir` (default `<results_dir>/figures`) as
# PNG and SVG, CSV and Markdown. `simsvm batch` runs this notebook and saves it as
# `<batch>/report.html`.

# %% tags=["parameters"]
from typing import Optional

results_dir: str = "results/demo"
figures_dir: Optional[str] = None  # default: <results_dir>/figures
emotify_epoch: Optional[int] = None  # default: the last evaluated epoch

# %%
from simsvm.paths import resolve_path
from simsvm.report.summary import build_report

report = build_report(
    resolve_path(results_dir),
    resolve_path(figures_dir) if figures_dir is not None else None,
    emotify_epoch=emotify_epoch,
)
report.show()
