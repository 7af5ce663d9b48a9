"""Figures and tables of the paper, drawn from results tables.

Everything here reads the tidy table of :mod:`simsvm.experiment.results` (one or many runs concatenated)
and returns matplotlib figures or pandas tables; :func:`save_figure` and :func:`save_table` write
them atomically as PNG + SVG and CSV + Markdown.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from simsvm._io import atomic_write, write_text_atomic
from simsvm.data.datasets import ordered_targets
from simsvm.exceptions import ResultsError
from simsvm.experiment.results import PREDICTIONS_FILE, load_predictions, load_results
from simsvm.experiment.stats import run_significance
from simsvm.names import APPROACHES, METRICS
from simsvm.report.confusion import plot_confusion
from simsvm.report.paper import PAPER_EMOTIFY, paper_significance

__all__ = [
    "APPROACH_COLOURS",
    "Summary",
    "curve_summary",
    "emotify_table",
    "final_scores",
    "load_runs",
    "plot_curves",
    "save_figure",
    "save_table",
    "write_summary",
]

APPROACH_COLOURS = {
    "NN": "#7f7f7f",
    "FL": "#1f77b4",
    "RBF-SL": "#d62728",
    "Cos-SL": "#2ca02c",
    "Poly-SL": "#9467bd",
    "Stats": "#111111",
}
_METRIC_LABELS = {
    "accuracy": "accuracy",
    "pearson_r": "Pearson's R",
    "r2": "R²",
    "train_loss": "training loss",
}
# The order of a scores table's rows: the task's score, R² beside it, then what the SVMs were fitted with.
_METRIC_ORDER = ("accuracy", "pearson_r", "r2", "SVM C", "SVM gamma")
_DATASET_TITLES = {
    "lastfm": "Lastfm (mood)",
    "emotify": "Emotify",
    "mediaeval2013": "MediaEval 2013",
    "gtzan": "GTZAN",
    "ballroom": "Ballroom",
}


def load_runs(results_dir: str | Path) -> pd.DataFrame:
    """Every finished run's table under ``results_dir`` (``<run>/results.csv``), with a ``run`` column."""
    results_dir = Path(results_dir)
    parts = []
    for path in sorted(results_dir.glob("*/results.csv")):
        parts.append(load_results(path.parent).assign(run=path.parent.name))
    if not parts:
        raise ResultsError(f"no results.csv in any folder under {results_dir}")
    return pd.concat(parts, ignore_index=True)


def _score_metric(table: pd.DataFrame) -> str:
    """The task's score in the table (accuracy or Pearson's R), beside which others may stand."""
    metrics = set(table.metric) & set(METRICS.values())
    if len(metrics) != 1:
        raise ResultsError(f"expected one task's score metric in the table, found {sorted(metrics)}")
    return metrics.pop()


def curve_summary(
    table: pd.DataFrame, *, target: str | None = None, metric: str | None = None
) -> pd.DataFrame:
    """Mean, standard deviation and count over folds per approach and epoch.

    ``target`` defaults to ``'all'`` (classification) or ``'mean'`` (mean R over targets).
    """
    metric = metric or _score_metric(table)
    rows = table[table.metric == metric]
    if target is None:
        target = "all" if "all" in set(rows.target) else "mean"
    rows = rows[rows.target == target]
    summary = rows.groupby(["approach", "epoch"]).value.agg(["mean", "std", "count"]).reset_index()
    return summary.assign(metric=metric, target=target)


def plot_curves(table: pd.DataFrame, *, title: str | None = None):
    """Metric against epoch for each approach: mean over folds with a ±1 s.d. band.

    One panel for classification (accuracy) and for Emotify (mean R over the nine emotions); one
    panel per target for two-target regression such as MediaEval 2013 (valence, arousal).
    """
    import matplotlib.pyplot as plt

    datasets = sorted(set(table.dataset))
    if len(datasets) != 1:
        raise ResultsError(f"plot_curves draws one dataset at a time, got {datasets}")
    metric = _score_metric(table)
    targets = set(table[table.metric == metric].target) - {"mean"}
    targets = ordered_targets(datasets[0], targets)
    panels = targets if metric == "pearson_r" and len(targets) <= 2 else [None]
    figure, axes = plt.subplots(
        1, len(panels), figsize=(5.6 * len(panels) + 1.6, 4.2), squeeze=False, sharey=True
    )
    n_folds = table[table.metric == metric].fold.nunique()
    protocol = "/".join(sorted(set(table.protocol)))
    for axis, target in zip(axes[0], panels, strict=True):
        summary = curve_summary(table, target=target, metric=metric)
        for approach in [a for a in APPROACHES if a in set(summary.approach)]:
            line = summary[summary.approach == approach].sort_values("epoch")
            colour = APPROACH_COLOURS[approach]
            if approach == "Stats":  # trains nothing: the same score at every epoch, a dashed line
                style = {"linestyle": "--", "linewidth": 1.2}
            else:
                style = {"marker": "o", "markersize": 3}
            axis.plot(line.epoch, line["mean"], color=colour, label=approach, **style)
            spread = line["std"].fillna(0.0)
            axis.fill_between(
                line.epoch, line["mean"] - spread, line["mean"] + spread, color=colour, alpha=0.12
            )
        label = f"test {_METRIC_LABELS.get(metric, metric)}"
        if summary.target.iat[0] == "mean":
            label = f"{label} (mean over {len(targets)} targets)"
        axis.set_xlabel("training epoch")
        axis.set_ylabel(label if target is None else f"{label} ({target})")
        axis.set_title(target if target is not None else "")
        axis.grid(alpha=0.3)
    handles, labels = axes[0][0].get_legend_handles_labels()
    figure.legend(handles, labels, title="approach", loc="center right", fontsize="small")
    name = _DATASET_TITLES.get(datasets[0], datasets[0])
    unit = {"cv": "fold", "split": "split", "random_splits": "random split"}.get(protocol, "partition")
    plural = "s" if n_folds > 1 else ""
    figure.suptitle(
        title or f"{name}: {label} per epoch, mean ± s.d. over {n_folds} {unit}{plural} ({protocol})"
    )
    figure.tight_layout(rect=(0, 0, 1 - 1.3 / figure.get_figwidth(), 1))
    return figure


def final_scores(table: pd.DataFrame, *, epoch: int | None = None) -> pd.DataFrame:
    """Mean ± s.d. over folds per approach, metric and target at ``epoch`` (default: the last evaluated).

    Rows ``SVM C`` and ``SVM gamma`` give what each approach's SVM was fitted with (chosen per
    fold by ``svm_tuning``, or fixed; Stats' RBF has gamma = 1 / its 160 features); NN has none.
    """
    rows = table[table.metric != "train_loss"]
    epoch = int(rows.epoch.max()) if epoch is None else epoch
    rows = rows[rows.epoch == epoch]
    primary = rows[rows.metric == _score_metric(rows)]
    settings = [
        primary.assign(metric=name, value=primary[column])
        for name, column in (("SVM C", "svm_c"), ("SVM gamma", "svm_gamma"))
        if column in primary and primary[column].notna().any()
    ]
    rows = pd.concat([rows, *settings], ignore_index=True)
    scores = rows.groupby(["metric", "target", "approach"]).value.agg(["mean", "std"])
    # scores to 3 places; the SVMs' settings in full (Stats' gamma is 1/160 = 0.00625)
    is_setting = scores.index.get_level_values("metric").isin(["SVM C", "SVM gamma"])
    scores = pd.concat([scores[~is_setting].round(3), scores[is_setting].round(6)])
    scores = scores.unstack("approach").swaplevel(axis=1)
    summary = [t for t in ("all", "mean") if t in set(rows.target)]
    targets = ordered_targets(str(rows.dataset.iat[0]), set(rows.target) - set(summary)) + summary
    metrics = [m for m in _METRIC_ORDER if m in set(rows.metric)] + sorted(
        set(rows.metric) - set(_METRIC_ORDER)
    )
    scores = scores.reindex([(m, t) for m in metrics for t in targets if (m, t) in scores.index])
    ordered = [a for a in APPROACHES if a in scores.columns.get_level_values(0)]
    scores = scores.reindex(columns=pd.MultiIndex.from_product([ordered, ["mean", "std"]]))
    scores.columns = [f"{approach} {stat}" for approach, stat in scores.columns]
    scores.index.names = ["metric", f"target (epoch {epoch})"]
    return scores


def emotify_table(table: pd.DataFrame, *, epoch: int | None = None) -> pd.DataFrame:
    """The paper's Table 2 from our results: mean R over folds per emotion and approach, at ``epoch``.

    Columns: our R per approach (SVM approaches starred as in the paper), the paper's value and the
    difference (ours - paper) per approach, and ``best`` (the approach with the highest R of ours).
    ``epoch`` defaults to the last evaluated epoch.
    """
    rows = table[(table.dataset == "emotify") & (table.metric == "pearson_r") & (table.target != "mean")]
    if rows.empty:
        raise ResultsError("no Emotify Pearson's R rows in the table")
    epoch = int(rows.epoch.max()) if epoch is None else epoch
    rows = rows[rows.epoch == epoch]
    if rows.empty:
        raise ResultsError(
            f"no Emotify results at epoch {epoch}; evaluated epochs: {sorted(set(table.epoch))}"
        )
    ours = rows.groupby(["target", "approach"]).value.mean().unstack("approach")
    ours = ours.reindex(index=PAPER_EMOTIFY.index, columns=[a for a in APPROACHES if a in ours.columns])
    result = pd.DataFrame(index=ours.index)
    for approach in ours.columns:
        starred = approach if approach == "NN" else f"{approach}*"
        result[starred] = ours[approach].round(3)
        if approach in PAPER_EMOTIFY.columns:  # Stats is ours
            result[f"{starred} paper"] = PAPER_EMOTIFY[approach]
            result[f"{starred} diff"] = (ours[approach] - PAPER_EMOTIFY[approach]).round(3)
    result["best"] = ours.idxmax(axis=1).where(ours.notna().any(axis=1))
    result.index.name = f"emotion (epoch {epoch})"
    return result


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


def save_table(table: pd.DataFrame, path: str | Path) -> list[Path]:
    """Write ``table`` as ``<path>.csv`` and ``<path>.md``, each atomically."""
    path = Path(path)
    csv_path, md_path = path.with_suffix(".csv"), path.with_suffix(".md")
    write_text_atomic(csv_path, table.to_csv())
    write_text_atomic(md_path, _markdown(table) + "\n")
    return [csv_path, md_path]


def _markdown(table: pd.DataFrame) -> str:
    """A GitHub-flavoured Markdown table, without needing the optional ``tabulate`` package."""
    frame = table.reset_index()

    def cell(value) -> str:
        if isinstance(value, float):
            if np.isnan(value):
                return ""
            return f"{value:.3g}" if 0 < abs(value) < 0.01 else f"{value:.3f}"
        return str(value)

    lines = ["| " + " | ".join(map(str, frame.columns)) + " |", "|" + "---|" * len(frame.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join(lines)


@dataclass
class Summary:
    """Figures and tables of a results folder, and the files they were written to."""

    figures: dict[str, object]
    tables: dict[str, pd.DataFrame]
    written: list[Path]


def write_summary(
    results_dir: str | Path, figures_dir: str | Path, *, emotify_epoch: int | None = None
) -> Summary:
    """Draw and write what the paper shows for every run under ``results_dir``.

    A curve figure per run (``curves-<run>``), the final scores per run (``scores-<run>``), when
    an Emotify run is present the per-emotion table beside the paper's (``emotify-table``), and
    when random-splits runs are present their significance tests beside the paper's conclusions
    (``significance``).
    """
    runs = load_runs(results_dir)
    figures, tables, written = {}, {}, []
    figures_dir = Path(figures_dir)
    for run, table in runs.groupby("run", sort=True):
        figures[run] = plot_curves(table)
        written += save_figure(figures[run], figures_dir / f"curves-{run}")
        tables[f"scores-{run}"] = final_scores(table)
        written += save_table(tables[f"scores-{run}"], figures_dir / f"scores-{run}")
        run_dir = Path(results_dir) / run
        if _score_metric(table) == "accuracy" and (run_dir / PREDICTIONS_FILE).is_file():
            figures[f"confusion-{run}"] = plot_confusion(load_predictions(run_dir), table, run=run)
            written += save_figure(figures[f"confusion-{run}"], figures_dir / f"confusion-{run}")
    if (runs.dataset == "emotify").any():
        emotify_runs = runs[runs.dataset == "emotify"]
        if emotify_runs.run.nunique() > 1:  # one table: the first Emotify run, named in its index
            emotify_runs = emotify_runs[emotify_runs.run == sorted(set(emotify_runs.run))[0]]
        tables["emotify-table"] = emotify_table(emotify_runs, epoch=emotify_epoch)
        written += save_table(tables["emotify-table"], figures_dir / "emotify-table")
    split_runs = sorted(set(runs[runs.protocol == "random_splits"].run))
    if split_runs:
        significance = pd.concat(
            [run_significance(Path(results_dir) / run) for run in split_runs], ignore_index=True
        )
        significance["paper"] = [
            paper_significance(dataset, comparison, target)
            for dataset, comparison, target in zip(
                significance.dataset, significance.comparison, significance.target, strict=True
            )
        ]
        tables["significance"] = significance.set_index(["run", "comparison", "target", "epoch"])
        written += save_table(tables["significance"], figures_dir / "significance")
    return Summary(figures=figures, tables=tables, written=written)
