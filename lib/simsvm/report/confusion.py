"""Confusion matrices of a classification run, from its stored test predictions.

A run keeps each test file's predicted class per approach at the last evaluated epoch
(``predictions.csv``, see :mod:`simsvm.experiment.results`).  Over cross-validation folds every
file is tested once, so the matrices summed over folds count each file once.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from simsvm.exceptions import ResultsError
from simsvm.experiment.approaches import APPROACHES
from simsvm.report.style import unit_phrase

__all__ = ["best_approach", "confusion_matrix", "plot_confusion"]


def confusion_matrix(
    predictions: pd.DataFrame, approach: str, *, classes: list[str] | None = None
) -> pd.DataFrame:
    """Counts of (actual, predicted) class pairs of ``approach``, summed over folds.

    Parameters
    ----------
    predictions : pd.DataFrame
        A run's predictions table (columns ``approach``, ``actual``, ``predicted``).
    classes : list of str, optional
        Row and column order; default the classes seen, sorted.

    Returns
    -------
    pd.DataFrame, shape (n_classes, n_classes)
        Rows: actual class; columns: predicted class.
    """
    rows = predictions[predictions.approach == approach]
    if rows.empty:
        raise ResultsError(f"no predictions of {approach!r}; approaches: {sorted(set(predictions.approach))}")
    classes = classes or sorted(set(rows.actual.astype(str)) | set(rows.predicted.astype(str)))
    counts = pd.crosstab(rows.actual.astype(str), rows.predicted.astype(str))
    counts = counts.reindex(index=classes, columns=classes, fill_value=0)
    counts.index.name, counts.columns.name = "actual", "predicted"
    return counts


def best_approach(table: pd.DataFrame, *, exclude: tuple[str, ...] = ("NN",)) -> str:
    """The approach with the highest mean accuracy over folds at the last evaluated epoch."""
    rows = table[(table.metric == "accuracy") & ~table.approach.isin(exclude)]
    if rows.empty:
        raise ResultsError(f"no accuracy rows of approaches other than {list(exclude)}")
    last = rows[rows.epoch == rows.epoch.max()]
    means = last.groupby("approach").value.mean()
    ordered = [a for a in APPROACHES if a in means.index]  # ties go to the earlier approach
    return max(ordered, key=lambda approach: means[approach])


def _panel_label(approach: str, table: pd.DataFrame) -> str:
    """What a panel shows: NN, or the best SVM-based approach, and whether that beats NN."""
    if approach == "NN":
        return "NN"
    rows = table[(table.metric == "accuracy") & (table.approach.isin(["NN", approach]))]
    means = rows[rows.epoch == rows.epoch.max()].groupby("approach").value.mean()
    if "NN" not in means.index:
        return f"{approach} (best approach)"
    relation = "above" if means[approach] > means["NN"] else "not above"
    return f"{approach} (best SVM approach, {relation} NN)"


def plot_confusion(
    predictions: pd.DataFrame, table: pd.DataFrame, *, run: str | None = None, title: str | None = None
):
    """NN's confusion matrix beside that of the best other approach, summed over folds.

    Cells are coloured by the share of the actual class (each row sums to 1) and labelled with
    counts, so classes of different sizes compare.  Over random splits a file can be tested in
    several splits and is then counted once per split.  ``title`` names the data (default:
    ``run``).
    """
    import matplotlib.pyplot as plt

    shown = [a for a in ("NN",) if a in set(predictions.approach)] + [best_approach(table)]
    classes = sorted(set(predictions.actual.astype(str)))
    figure, axes = plt.subplots(
        1,
        len(shown),
        figsize=(0.5 * len(classes) * len(shown) + 2.4, 0.5 * len(classes) + 1.8),
        squeeze=False,
    )
    epoch = int(predictions.epoch.max())
    for axis, approach in zip(axes[0], shown, strict=True):
        counts = confusion_matrix(predictions, approach, classes=classes)
        shares = counts.to_numpy() / np.maximum(counts.to_numpy().sum(axis=1, keepdims=True), 1)
        axis.imshow(shares, cmap="Blues", vmin=0, vmax=1)
        for (row, column), count in np.ndenumerate(counts.to_numpy()):
            if count:
                colour = "white" if shares[row, column] > 0.6 else "black"
                axis.text(column, row, str(count), ha="center", va="center", fontsize="x-small", color=colour)
        axis.set_xticks(range(len(classes)), classes, rotation=60, ha="right", fontsize="small")
        axis.set_yticks(range(len(classes)), classes, fontsize="small")
        axis.set_xlabel("predicted class")
        axis.set_ylabel("actual class")
        accuracy = np.trace(counts.to_numpy()) / counts.to_numpy().sum()
        axis.set_title(f"{_panel_label(approach, table)}: accuracy {accuracy:.3f}", fontsize="medium")
    protocol = "/".join(sorted(set(table.protocol))) if "protocol" in table else "cv"
    partitions = unit_phrase(protocol, predictions.fold.nunique())
    prefix = f"{title or run}: " if title or run else ""
    figure.suptitle(f"{prefix}test files of {partitions} at epoch {epoch}, counts; colour: share of the row")
    figure.tight_layout()
    return figure
