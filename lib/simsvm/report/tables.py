"""Tables of the report, drawn from results tables: final scores, Emotify's Table 2, the overview.

Each table comes as numbers (what the CSV files hold) and as text for reading, where a cell is
``mean ± s.d.`` and the best approach of a run is bold (:func:`format_scores`,
:func:`format_overview`).  :func:`save_table` writes both atomically.
"""

from __future__ import annotations

import html
import math
from pathlib import Path

import numpy as np
import pandas as pd

from simsvm._io import write_text_atomic
from simsvm.data.datasets import ordered_targets
from simsvm.exceptions import ResultsError
from simsvm.experiment.approaches import APPROACHES
from simsvm.names import METRICS, SCORE_METRICS
from simsvm.report.paper import PAPER_EMOTIFY, PAPER_EPOCHS

__all__ = [
    "emotify_note",
    "emotify_table",
    "final_scores",
    "format_overview",
    "format_scores",
    "overview_table",
    "save_table",
    "score_metric",
    "settings_caption",
    "summary_scores",
]

# The order of a scores table's rows: the task's score, R² beside it, then what the SVMs were fitted with.
_METRIC_ORDER = ("accuracy", "pearson_r", "r2", "SVM C", "SVM gamma")
_SETTINGS = (("SVM C", "svm_c"), ("SVM gamma", "svm_gamma"))


def score_metric(table: pd.DataFrame) -> str:
    """The task's score in the table (accuracy or Pearson's R), beside which others may stand."""
    metrics = set(table.metric) & set(METRICS.values())
    if len(metrics) != 1:
        raise ResultsError(f"expected one task's score metric in the table, found {sorted(metrics)}")
    return metrics.pop()


def summary_scores(table: pd.DataFrame, *, epoch: int | None = None) -> pd.DataFrame:
    """One run's summary score per fold and approach at ``epoch`` (default: the last evaluated).

    The summary score is accuracy, or the mean R over the regression targets.  Returns a table
    with index ``fold`` and a column per approach (in the suite's order).
    """
    metric = score_metric(table)
    rows = table[table.metric == metric]
    rows = rows[rows.target == ("all" if "all" in set(rows.target) else "mean")]
    epoch = int(rows.epoch.max()) if epoch is None else epoch
    scores = rows[rows.epoch == epoch].pivot_table(index="fold", columns="approach", values="value")
    return scores.reindex(columns=[a for a in APPROACHES if a in scores.columns])


def final_scores(table: pd.DataFrame, *, epoch: int | None = None) -> pd.DataFrame:
    """Mean and s.d. over folds per approach, metric and target at ``epoch`` (default: the last).

    Rows ``SVM C`` and ``SVM gamma`` give what each approach's SVM was fitted with where that
    varies between folds (chosen by ``svm_tuning``); fixed settings are left out, and
    :func:`settings_caption` states them.  Columns ``<approach> mean`` and ``<approach> std``.
    """
    rows = table[table.metric.isin(SCORE_METRICS)]
    epoch = int(rows.epoch.max()) if epoch is None else epoch
    rows = rows[rows.epoch == epoch]
    primary = rows[rows.metric == score_metric(rows)]
    settings = [
        primary.assign(metric=name, value=primary[column])
        for name, column in _SETTINGS
        if column in primary and primary[column].notna().any()
    ]
    rows = pd.concat([rows, *settings], ignore_index=True)
    scores = rows.groupby(["metric", "target", "approach"]).value.agg(["mean", "std"])
    is_setting = scores.index.get_level_values("metric").isin([name for name, _ in _SETTINGS])
    # A setting the same in every fold says nothing per cell: the caption gives it once.
    fixed = scores[is_setting].groupby(level="metric")["std"].apply(lambda s: bool((s.fillna(0) == 0).all()))
    dropped = [metric for metric, constant in fixed.items() if constant]
    # scores to 3 places; the SVMs' settings in full (Stats' gamma is 1/160 = 0.00625)
    scores = pd.concat([scores[~is_setting].round(3), scores[is_setting].round(6)])
    scores = scores[~scores.index.get_level_values("metric").isin(dropped)]
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
    return scores.dropna(how="all")


def settings_caption(table: pd.DataFrame, *, epoch: int | None = None) -> str | None:
    """The SVM settings that were the same in every fold, in a line (None when all were tuned)."""
    rows = table[table.metric.isin(METRICS.values())]
    epoch = int(rows.epoch.max()) if epoch is None else epoch
    rows = rows[rows.epoch == epoch]
    parts = []
    for name, column in _SETTINGS:
        if column not in rows or rows[column].isna().all():
            continue
        per_approach = rows.dropna(subset=[column]).groupby("approach")[column].agg(["min", "max"])
        per_approach = per_approach.reindex([a for a in APPROACHES if a in per_approach.index])
        if not (per_approach["min"] == per_approach["max"]).all():
            continue  # chosen per fold: the scores table has the row
        values = per_approach["min"]
        # the value most approaches share (ties: the earlier approach's), the others named
        counts = {value: int((values == value).sum()) for value in dict.fromkeys(values)}
        common = max(counts, key=counts.get)
        others = [f"{approach} {value:g}" for approach, value in values.items() if value != common]
        parts.append(
            f"{name.removeprefix('SVM ')} = {common:g}" + (f" ({', '.join(others)})" if others else "")
        )
    if not parts:
        return None
    return f"SVM settings, the same in every fold: {'; '.join(parts)}."


def format_scores(scores: pd.DataFrame) -> pd.DataFrame:
    """:func:`final_scores` as text: one ``mean ± s.d.`` cell per approach."""
    approaches = list(dict.fromkeys(c.rsplit(" ", 1)[0] for c in scores.columns))
    text = pd.DataFrame(index=scores.index)
    for approach in approaches:
        text[approach] = [
            _cell(m, s) for m, s in zip(scores[f"{approach} mean"], scores[f"{approach} std"], strict=True)
        ]
    return text


def _number(value: float) -> str:
    if not np.isfinite(value):
        return ""
    return f"{value:.3g}" if 0 < abs(value) < 0.01 else f"{value:.3f}"


def _cell(mean: float, std: float) -> str:
    if not np.isfinite(mean):
        return ""
    if not np.isfinite(std):
        return _number(mean)
    # the spread in the mean's own precision: 0.456 ± 0.006, not 0.456 ± 0.00585
    spread = (
        f"{std:.3f}"
        if not 0 < abs(mean) < 0.01
        else f"{std:.{max(3, 2 - math.floor(math.log10(abs(mean))))}f}"
    )
    return f"{_number(mean)} ± {spread}"


def emotify_note(generated: bool | None, epoch: int) -> str | None:
    """Why the Emotify table has no difference against the paper's Table 2 (None when it has one)."""
    if generated is not False:
        origin = "generated" if generated else "of unknown origin"
        return f"No difference against the paper's Table 2: the data are {origin}, not the real Emotify set."
    if epoch != PAPER_EPOCHS:
        return (
            f"No difference against the paper's Table 2: it reports epoch {PAPER_EPOCHS}, this table "
            f"epoch {epoch}."
        )
    return None


def emotify_table(
    table: pd.DataFrame, *, epoch: int | None = None, generated: bool | None = None
) -> pd.DataFrame:
    """The paper's Table 2 from our results: mean R over folds per emotion and approach, at ``epoch``.

    Columns: our R per approach (SVM approaches starred as in the paper), the paper's value,
    the difference (ours - paper) only where the two compare (real Emotify data, the paper's
    400 epochs; see :func:`emotify_note`), and ``best`` (the approach with the highest R of
    ours).  ``epoch`` defaults to the last evaluated epoch.
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
    comparable = emotify_note(generated, epoch) is None
    ours = rows.groupby(["target", "approach"]).value.mean().unstack("approach")
    ours = ours.reindex(index=PAPER_EMOTIFY.index, columns=[a for a in APPROACHES if a in ours.columns])
    result = pd.DataFrame(index=ours.index)
    for approach in ours.columns:
        starred = approach if approach == "NN" else f"{approach}*"
        result[starred] = ours[approach].round(3)
        if approach in PAPER_EMOTIFY.columns:  # Stats is ours
            result[f"{starred} paper"] = PAPER_EMOTIFY[approach]
            if comparable:
                result[f"{starred} diff"] = (ours[approach] - PAPER_EMOTIFY[approach]).round(3)
    result["best"] = ours.idxmax(axis=1).where(ours.notna().any(axis=1))
    result.index.name = f"emotion (epoch {epoch})"
    return result


def overview_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Each run's summary score at its last epoch: mean and s.d. over folds per approach.

    Parameters
    ----------
    runs : pd.DataFrame
        Results tables of one or more runs concatenated, with a ``run`` column.

    Returns
    -------
    pd.DataFrame
        Index: approaches (the suite's order); columns: (run, ``'mean'`` | ``'std'``).
    """
    parts = {}
    for run, table in runs.groupby("run", sort=True):
        scores = summary_scores(table)
        parts[(run, "mean")], parts[(run, "std")] = scores.mean(), scores.std()
    overview = pd.DataFrame(parts)
    overview = overview.reindex([a for a in APPROACHES if a in overview.index])
    overview.index.name = "approach"
    return overview


def format_overview(
    overview: pd.DataFrame, *, headers: dict[str, str] | None = None, markup: str = "markdown"
) -> str:
    """:func:`overview_table` as a Markdown or HTML table, the best mean of each run in bold.

    ``headers`` replace run names as column titles (e.g. with the metric and epoch).
    """
    if markup not in ("markdown", "html"):
        raise ValueError(f"markup: 'markdown' or 'html', got {markup!r}")
    runs = list(dict.fromkeys(overview.columns.get_level_values(0)))
    text = pd.DataFrame(index=overview.index)
    for run in runs:
        means, spreads = overview[(run, "mean")], overview[(run, "std")]
        best = means.max()
        cells = []
        for mean, spread in zip(means, spreads, strict=True):
            cell = _cell(mean, spread)
            if markup == "html":
                cell = html.escape(cell)
            if cell and np.isclose(mean, best, rtol=0, atol=1e-12):
                cell = f"<b>{cell}</b>" if markup == "html" else f"**{cell}**"
            cells.append(cell)
        text[(headers or {}).get(run, run)] = cells
    if markup == "html":
        return text.to_html(escape=False, classes="simsvm-overview", border=0)
    return _markdown(text)


def save_table(
    table: pd.DataFrame, path: str | Path, *, readable: pd.DataFrame | str | None = None
) -> list[Path]:
    """Write ``table`` as ``<path>.csv`` and ``<path>.md``, each atomically.

    ``readable`` is what the Markdown file shows instead of ``table`` (e.g. ``mean ± s.d.``
    cells, or a finished Markdown text); the CSV file keeps the numbers.
    """
    path = Path(path)
    csv_path, md_path = path.with_suffix(".csv"), path.with_suffix(".md")
    frame = table.copy()
    if isinstance(frame.columns, pd.MultiIndex):
        frame.columns = [" ".join(map(str, column)) for column in frame.columns]
    write_text_atomic(csv_path, frame.to_csv())
    markdown = readable if isinstance(readable, str) else _markdown(frame if readable is None else readable)
    write_text_atomic(md_path, markdown.rstrip("\n") + "\n")
    return [csv_path, md_path]


def _markdown(table: pd.DataFrame) -> str:
    """A GitHub-flavoured Markdown table, without needing the optional ``tabulate`` package."""
    frame = table.reset_index()

    def cell(value) -> str:
        if isinstance(value, float):
            return _number(value)
        return str(value)

    lines = ["| " + " | ".join(map(str, frame.columns)) + " |", "|" + "---|" * len(frame.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join(lines)
