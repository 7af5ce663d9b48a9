"""A batch's report, read top to bottom: each run, then the overview and the significance tests.

:func:`build_report` reads every finished run of a results folder (a batch) and returns the
report as a sequence of blocks (Markdown text, figures, HTML tables) that the summary notebook
displays in order, having written each figure and table to the figures folder.  File names
carry the batch (``overview-<batch>.md``, ``significance-<batch>.csv``) or the run
(``curves-<run>.png``), so batches sharing a figures folder keep their own files.
"""

from __future__ import annotations

import base64
import html
import io
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from simsvm.exceptions import ResultsError
from simsvm.experiment.results import PREDICTIONS_FILE, load_predictions
from simsvm.experiment.stats import run_significance
from simsvm.report.confusion import plot_confusion
from simsvm.report.paper import PAPER_FIGURES, paper_significance
from simsvm.report.plots import load_runs, plot_curves, plot_significance, save_figure
from simsvm.report.runs import RunInfo, run_heading, run_info, verdict
from simsvm.report.style import METRIC_LABELS
from simsvm.report.tables import (
    emotify_note,
    emotify_table,
    final_scores,
    format_overview,
    format_scores,
    overview_table,
    save_table,
    settings_caption,
)

__all__ = ["Block", "Report", "build_report", "significance_summary"]

# The significance table's columns a reader needs; the CSV file keeps them all.
_SIGNIFICANCE_SHOWN = [
    "splits",
    "mean approach",
    "mean baseline",
    "difference",
    "corrected 95% low",
    "corrected 95% high",
    "p welch",
    "p corrected",
    "significant corrected",
    "paper",
]


@dataclass
class Block:
    """One piece of the report: ``kind`` is ``'markdown'``, ``'html'`` or ``'figure'``."""

    kind: str
    content: object


@dataclass
class Report:
    """A batch's report: its blocks in reading order, its runs, tables and written files."""

    batch: str
    blocks: list[Block] = field(default_factory=list)
    runs: dict[str, RunInfo] = field(default_factory=dict)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    written: list[Path] = field(default_factory=list)

    def markdown(self, text: str) -> None:
        """Append a Markdown paragraph or heading."""
        self.blocks.append(Block("markdown", text))

    def html(self, text: str) -> None:
        """Append an HTML fragment (a table)."""
        self.blocks.append(Block("html", text))

    def figure(self, figure) -> None:
        """Append a matplotlib figure."""
        self.blocks.append(Block("figure", figure))

    def show(self) -> None:
        """Display every block in order (in a notebook: the executed report)."""
        from IPython.display import HTML, Markdown, display

        for block in self.blocks:
            if block.kind == "markdown":
                display(Markdown(block.content))
            elif block.kind == "html":
                display(HTML(block.content))
            else:
                display(HTML(_figure_html(block.content)))


def _figure_html(figure) -> str:
    """The figure as an image with its title as alternative text, for screen readers and for the
    HTML export (an image output carries none, and nbconvert warns of each)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", bbox_inches="tight")
    suptitle = figure.get_suptitle()
    title = suptitle or next((axis.get_title() for axis in figure.axes if axis.get_title()), "a figure")
    encoded = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img alt="{html.escape(title)}" src="data:image/png;base64,{encoded}">'


def _table_html(table: pd.DataFrame, caption: str | None = None) -> str:
    text = table.to_html(na_rep="", float_format=lambda v: f"{v:.3g}" if 0 < abs(v) < 0.01 else f"{v:.3f}")
    return text + (f"<p><em>{caption}</em></p>" if caption else "")


def significance_summary(results_dir: str | Path, runs: pd.DataFrame) -> pd.DataFrame | None:
    """The significance tests of every random-splits run, with the paper's conclusion (None: no such run)."""
    split_runs = sorted(set(runs[runs.protocol == "random_splits"].run))
    if not split_runs:
        return None
    significance = pd.concat(
        [run_significance(Path(results_dir) / run) for run in split_runs], ignore_index=True
    )
    significance["paper"] = [
        paper_significance(dataset, comparison, target)
        for dataset, comparison, target in zip(
            significance.dataset, significance.comparison, significance.target, strict=True
        )
    ]
    return significance.set_index(["run", "comparison", "target", "epoch"])


def _run_section(report: Report, results_dir: Path, figures_dir: Path, run: str, table: pd.DataFrame) -> None:
    import matplotlib.pyplot as plt

    info = run_info(results_dir / run, table)
    report.runs[run] = info
    report.markdown(run_heading(info))
    figure = plot_curves(table, generated=info.generated, classes=info.classes)
    report.written += save_figure(figure, figures_dir / f"curves-{run}")
    report.figure(figure)
    reference = PAPER_FIGURES.get(info.dataset)
    note = ""
    if reference and info.generated is False:
        note = f" The paper shows this dataset in {reference}."
    report.markdown(verdict(table, info) + note)
    scores = final_scores(table)
    report.tables[f"scores-{run}"] = scores
    report.written += save_table(scores, figures_dir / f"scores-{run}", readable=format_scores(scores))
    shown, caption = format_scores(scores), settings_caption(table)
    targets = shown.index.get_level_values(1)
    if len(set(targets) - {"all", "mean"}) > 2:  # Emotify's nine emotions: their R has its own table
        shown = shown[targets.isin(["all", "mean"])]
        caption = " ".join(filter(None, [f"Per target: `scores-{run}.md`.", caption]))
    report.html(_table_html(shown, caption))
    if info.metric == "accuracy" and (results_dir / run / PREDICTIONS_FILE).is_file():
        confusion = plot_confusion(load_predictions(results_dir / run), table, title=f"{run} ({info.title})")
        report.written += save_figure(confusion, figures_dir / f"confusion-{run}")
        report.figure(confusion)
    plt.close("all")


def build_report(
    results_dir: str | Path,
    figures_dir: str | Path | None = None,
    *,
    batch: str | None = None,
    emotify_epoch: int | None = None,
) -> Report:
    """Draw, write and assemble the report of every finished run under ``results_dir``.

    Parameters
    ----------
    results_dir : path
        A batch folder (``results/<batch>``) or any folder of run folders.
    figures_dir : path, optional
        Where figures (PNG, SVG) and tables (CSV, Markdown) go; default ``<results_dir>/figures``.
    batch : str, optional
        The name file names carry; default the folder's name.
    emotify_epoch : int, optional
        The epoch of the Emotify table (default: the last evaluated).
    """
    results_dir = Path(results_dir)
    figures_dir = Path(figures_dir) if figures_dir is not None else results_dir / "figures"
    batch = batch or results_dir.resolve().name
    runs = load_runs(results_dir)
    report = Report(batch=batch)
    names = sorted(set(runs.run))
    report.markdown(
        f"# Report of `{batch}`\n\n{len(names)} finished run{'s' if len(names) != 1 else ''}: "
        + ", ".join(f"`{name}`" for name in names)
        + ". Curves show the mean over folds or splits with a ±1 s.d. band; each run's heading "
        "says whether its data are generated."
    )
    for run, table in runs.groupby("run", sort=True):
        _run_section(report, results_dir, figures_dir, run, table)
        if (table.dataset == "emotify").any():
            _emotify_section(
                report, figures_dir, run, table, emotify_epoch, len(set(runs[runs.dataset == "emotify"].run))
            )
    _overview_section(report, runs, figures_dir)
    _significance_section(report, results_dir, runs, figures_dir)
    report.markdown(f"Figures and tables of this report: {len(report.written)} files in `{figures_dir}`.")
    return report


def _emotify_section(
    report: Report, figures_dir: Path, run: str, table: pd.DataFrame, epoch: int | None, emotify_runs: int
) -> None:
    info = report.runs[run]
    emotify = emotify_table(table, epoch=epoch, generated=info.generated)
    name = f"emotify-table-{report.batch}" if emotify_runs == 1 else f"emotify-table-{run}-{report.batch}"
    report.tables[name] = emotify
    report.written += save_table(emotify, figures_dir / name)
    note = emotify_note(info.generated, epoch if epoch is not None else info.last_epoch)
    report.markdown(
        f"### {run}: Pearson's R per emotion beside the paper's Table 2\n\nOur mean R over "
        f"{info.partitions} folds; `paper`: Table 2; `best`: our approach with the highest R."
        + (f" {note}" if note else " `diff`: ours − paper.")
    )
    report.html(_table_html(emotify))


def _overview_section(report: Report, runs: pd.DataFrame, figures_dir: Path) -> None:
    overview = overview_table(runs)
    headers = {}
    for run, info in report.runs.items():
        metric = METRIC_LABELS.get(info.metric, info.metric)
        metric = metric if info.metric == "accuracy" else f"mean {metric}"
        headers[run] = f"{run} ({metric}, epoch {info.last_epoch})"
    report.tables[f"overview-{report.batch}"] = overview
    report.written += save_table(
        overview,
        figures_dir / f"overview-{report.batch}",
        readable=format_overview(overview, headers=headers),
    )
    report.markdown(
        "## Overview across runs\n\nEach run's summary score (accuracy, or the mean R over the "
        "regression targets) at its last evaluated epoch, mean ± s.d. over its folds or splits; "
        "the best approach of each run in bold. Runs on generated data say nothing about the "
        "paper's datasets."
    )
    report.html(format_overview(overview, headers=headers, markup="html"))


def _significance_section(report: Report, results_dir: Path, runs: pd.DataFrame, figures_dir: Path) -> None:
    import matplotlib.pyplot as plt

    report.markdown("## Significance over random splits")
    try:
        significance = significance_summary(results_dir, runs)
    except ResultsError as error:
        report.markdown(f"The significance tests could not be computed: {error}")
        return
    if significance is None:
        report.markdown(
            "No random-splits run in this batch, so no significance table (the paper's section 3.3 "
            "tests 100 random 9:1 splits; `protocol: random_splits` runs them)."
        )
        return
    name = f"significance-{report.batch}"
    report.tables[name] = significance
    report.written += save_table(significance, figures_dir / name)
    figure = plot_significance(significance.reset_index())
    report.written += save_figure(figure, figures_dir / f"{name}-figure")
    plt.close(figure)
    report.markdown(
        "RBF-SL against NN, FL and Stats at the last epoch. Welch's test is the paper's; the "
        "corrected resampled t-test (Nadeau & Bengio, 2003) allows for the splits sharing most "
        "of their training data, and the figure shows its 95 % intervals. `paper`: what section "
        "3.3 concluded on the real dataset."
    )
    report.figure(figure)
    report.html(_table_html(significance[[c for c in _SIGNIFICANCE_SHOWN if c in significance.columns]]))
