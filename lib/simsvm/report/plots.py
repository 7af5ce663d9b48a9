"""Figures of the report, drawn from results tables.

Everything here reads the tidy table of :mod:`simsvm.experiment.results` (one or many runs
concatenated) and returns matplotlib figures; :func:`save_figure` writes them atomically as PNG
and SVG.  Every approach is drawn in its style of :data:`simsvm.report.style.APPROACH_STYLES`.
The tables live in :mod:`simsvm.report.tables` (re-exported here for older callers).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from simsvm._io import atomic_write
from simsvm.data.datasets import dataset_labels, ordered_targets
from simsvm.exceptions import ResultsError
from simsvm.experiment.approaches import APPROACHES
from simsvm.experiment.results import load_results
from simsvm.report.paper import PAPER_EMOTIFY_MEAN, PAPER_EPOCHS
from simsvm.report.style import (
    APPROACH_STYLES,
    CHANCE_COLOUR,
    METRIC_LABELS,
    METRIC_RANGES,
    dataset_title,
    unit_phrase,
)
from simsvm.report.tables import emotify_table, final_scores, save_table, score_metric

__all__ = [
    "APPROACH_COLOURS",
    "chance_levels",
    "curve_summary",
    "emotify_table",
    "final_scores",
    "load_runs",
    "paper_reference",
    "plot_curves",
    "plot_significance",
    "save_figure",
    "save_table",
]

# The colours alone, for callers that colour by approach (derived: the styles are the one declaration).
APPROACH_COLOURS = {approach: style.colour for approach, style in APPROACH_STYLES.items()}
# Markers on at most this many evaluated epochs per curve, so that long runs stay legible.
_MAX_MARKERS = 12
# A class share this much above 1/n makes the majority class a second, stricter chance line.
_IMBALANCE = 1.1


def load_runs(results_dir: str | Path) -> pd.DataFrame:
    """Every finished run's table under ``results_dir`` (``<run>/results.csv``), with a ``run`` column."""
    results_dir = Path(results_dir)
    parts = []
    for path in sorted(results_dir.glob("*/results.csv")):
        parts.append(load_results(path.parent).assign(run=path.parent.name))
    if not parts:
        raise ResultsError(f"no results.csv in any folder under {results_dir}")
    return pd.concat(parts, ignore_index=True)


def curve_summary(
    table: pd.DataFrame, *, target: str | None = None, metric: str | None = None
) -> pd.DataFrame:
    """Mean, standard deviation and count over folds per approach and epoch.

    ``target`` defaults to ``'all'`` (classification) or ``'mean'`` (mean R over targets).
    """
    metric = metric or score_metric(table)
    rows = table[table.metric == metric]
    if target is None:
        target = "all" if "all" in set(rows.target) else "mean"
    rows = rows[rows.target == target]
    summary = rows.groupby(["approach", "epoch"]).value.agg(["mean", "std", "count"]).reset_index()
    return summary.assign(metric=metric, target=target)


def chance_levels(dataset: str, classes: int | dict[str, int] | None) -> list[tuple[float, str]]:
    """The chance lines of a classification figure: ``(accuracy, legend label)``.

    Always 1/n (guessing uniformly); where the class counts are known and one class is clearly
    larger, also its share (always answering the majority class).  ``classes`` is the number
    of classes or each class's count of files; None takes the dataset's declared classes.
    """
    counts = classes if isinstance(classes, dict) else None
    n = len(counts) if counts else classes or len(dataset_labels(dataset))
    if not n:
        return []
    levels = [(1.0 / n, f"chance, 1/{n} classes")]
    if counts:
        name, largest = max(counts.items(), key=lambda item: item[1])
        share = largest / sum(counts.values())
        if share > _IMBALANCE / n:
            levels.append((share, f"majority class ({name}, {share:.0%})"))
    return levels


def paper_reference(dataset: str, target: str | None, generated: bool | None) -> dict[str, float]:
    """The paper's numbers to mark on a curve panel: Table 2's mean R per approach for Emotify.

    Only for real data (a generated set's scores do not compare) and the panel of the mean R;
    the paper gives its other results as figures without numbers.
    """
    if generated is not False or dataset != "emotify" or target not in (None, "mean"):
        return {}
    return {approach: float(value) for approach, value in PAPER_EMOTIFY_MEAN.items()}


def _draw_approach(axis, line: pd.DataFrame, approach: str, bounds: tuple) -> None:
    style = APPROACH_STYLES[approach]
    every = max(1, int(np.ceil(len(line) / _MAX_MARKERS)))
    axis.plot(
        line.epoch,
        line["mean"],
        color=style.colour,
        marker=style.marker,
        markersize=5,
        markevery=every,
        linestyle="--" if style.flat else "-",
        linewidth=1.3,
        label=approach,
    )
    spread = line["std"].fillna(0.0)
    low, high = line["mean"] - spread, line["mean"] + spread
    # a band beyond what the metric can take (accuracy above 1) would misstate the spread
    low, high = np.clip(low, bounds[0], bounds[1]), np.clip(high, bounds[0], bounds[1])
    axis.fill_between(line.epoch, low, high, color=style.colour, alpha=0.12, linewidth=0)


def plot_curves(
    table: pd.DataFrame,
    *,
    title: str | None = None,
    generated: bool | None = False,
    classes: int | dict[str, int] | None = None,
):
    """Metric against epoch for each approach: mean over folds with a ±1 s.d. band.

    One panel for classification (accuracy) and for Emotify (mean R over the nine emotions); one
    panel per target for two-target regression such as MediaEval 2013 (valence, arousal).
    Classification panels carry the chance level (see :func:`chance_levels`), real Emotify data
    the paper's values (:func:`paper_reference`).

    Parameters
    ----------
    generated : bool or None
        Whether the data were generated by ``simsvm data synth`` (None: unknown); the title says so.
    classes : int or dict, optional
        Number of classes, or each class's count of files, for the chance lines.
    """
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.ticker import MaxNLocator

    datasets = sorted(set(table.dataset))
    if len(datasets) != 1:
        raise ResultsError(f"plot_curves draws one dataset at a time, got {datasets}")
    dataset = datasets[0]
    metric = score_metric(table)
    targets = ordered_targets(dataset, set(table[table.metric == metric].target) - {"mean"})
    panels = targets if metric == "pearson_r" and len(targets) <= 2 else [None]
    figure, axes = plt.subplots(
        1, len(panels), figsize=(5.6 * len(panels) + 2.2, 4.2), squeeze=False, sharey=True
    )
    n_folds = table[table.metric == metric].fold.nunique()
    protocol = "/".join(sorted(set(table.protocol)))
    bounds = METRIC_RANGES.get(metric, (None, None))
    bounds = (-np.inf if bounds[0] is None else bounds[0], np.inf if bounds[1] is None else bounds[1])
    for axis, target in zip(axes[0], panels, strict=True):
        summary = curve_summary(table, target=target, metric=metric)
        for approach in [a for a in APPROACHES if a in set(summary.approach)]:
            _draw_approach(axis, summary[summary.approach == approach].sort_values("epoch"), approach, bounds)
        if metric == "accuracy":
            for (level, label), style in zip(chance_levels(dataset, classes), ("--", ":"), strict=False):
                axis.axhline(level, color=CHANCE_COLOUR, linestyle=style, linewidth=1.2, label=label)
        drawn = set(summary.approach)
        reference = {a: v for a, v in paper_reference(dataset, target, generated).items() if a in drawn}
        last = summary.epoch.max()
        for approach, value in reference.items():
            style = APPROACH_STYLES[approach]
            axis.plot(
                [last], [value], linestyle="none", marker=style.marker, markersize=9, color=style.colour,
                markerfacecolor="none", markeredgewidth=1.5, clip_on=False,
            )  # fmt: skip
        label = f"test {METRIC_LABELS.get(metric, metric)}"
        if summary.target.iat[0] == "mean":
            label = f"{label} (mean over {len(targets)} targets)"
        axis.set_xlabel("training epoch")
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
        axis.set_ylabel(label if target is None else f"{label} ({target})")
        axis.set_title(target if target is not None else "")
        axis.grid(alpha=0.3)
    handles, labels = axes[0][0].get_legend_handles_labels()
    if paper_reference(dataset, panels[0], generated):
        handles.append(
            Line2D(
                [],
                [],
                linestyle="none",
                marker="o",
                markerfacecolor="none",
                color=CHANCE_COLOUR,
                markersize=8,
            )
        )
        labels.append(f"open: paper Table 2\n(mean of 9 emotions,\nepoch {PAPER_EPOCHS})")
    figure.legend(handles, labels, title="approach", loc="center right", fontsize="small")
    name = dataset_title(dataset, generated)
    figure.suptitle(title or f"{name}: {label} per epoch, mean ± s.d. over {unit_phrase(protocol, n_folds)}")
    figure.tight_layout(rect=(0, 0, 1 - 1.9 / figure.get_figwidth(), 1))
    return figure


def plot_significance(significance: pd.DataFrame, *, alpha: float = 0.05):
    """Each comparison's mean difference with its 95 % interval (corrected resampled t-test).

    ``significance`` holds rows of :func:`simsvm.experiment.stats.significance_table` with a
    ``run`` column; the summary score's rows (accuracy, or the mean R) are drawn, one marker per
    comparison in the style of its baseline, filled where the corrected test finds the
    difference significant at ``alpha``.
    """
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    rows = significance[significance.target.isin(["all", "mean"])].reset_index(drop=True)
    if rows.empty:
        raise ResultsError("no comparisons of the summary score (accuracy or mean R) to draw")
    figure, axis = plt.subplots(figsize=(7.5, 0.55 * len(rows) + 1.6))
    for position, row in rows.iterrows():
        baseline = row.comparison.split(" vs ")[-1]
        style = APPROACH_STYLES.get(baseline, APPROACH_STYLES["NN"])
        significant = bool(row["p corrected"] < alpha)
        low, high = row["corrected 95% low"], row["corrected 95% high"]
        axis.errorbar(
            row.difference, position, xerr=[[row.difference - low], [high - row.difference]],
            fmt=style.marker, color=style.colour, markersize=8, capsize=4,
            markerfacecolor=style.colour if significant else "white",
        )  # fmt: skip
    axis.axvline(0.0, color=CHANCE_COLOUR, linestyle="--", linewidth=1.2)
    axis.set_yticks(
        range(len(rows)), [f"{r.run}: {r.comparison} (epoch {r.epoch})" for r in rows.itertuples()]
    )
    axis.invert_yaxis()
    metric = "accuracy" if (rows.target == "all").all() else "score (accuracy or mean R)"
    if (rows.target == "mean").all():
        metric = "mean Pearson's R"
    axis.set_xlabel(f"difference in test {metric}, approach − baseline, with 95 % interval")
    axis.grid(axis="x", alpha=0.3)
    key = {"linestyle": "none", "marker": "o", "color": "#444444"}
    legend = [
        Line2D([], [], **key, label=f"filled: p < {alpha:g}"),
        Line2D([], [], **key, markerfacecolor="white", label="open: not significant"),
    ]
    axis.legend(handles=legend, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small")
    axis.set_title("Corrected resampled t-test (Nadeau–Bengio) over random splits", fontsize="medium")
    figure.tight_layout()
    return figure


def save_figure(figure, path: str | Path) -> list[Path]:
    """Write ``figure`` as ``<path>.png`` (150 dpi) and ``<path>.svg``, each atomically.

    No date and fixed SVG ids, so the same results give byte-identical files (a re-run of the demo
    leaves committed figures unchanged).
    """
    import matplotlib

    path = Path(path)
    written = []
    for suffix, metadata in ((".png", {"Software": None}), (".svg", {"Date": None})):
        target = path.with_suffix(suffix)

        def write(tmp: Path, suffix: str = suffix, metadata: dict = metadata) -> None:
            with matplotlib.rc_context({"svg.hashsalt": "simsvm"}):
                figure.savefig(tmp, format=suffix[1:], dpi=150, bbox_inches="tight", metadata=metadata)

        atomic_write(target, write)
        written.append(target)
    return written
