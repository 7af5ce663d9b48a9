"""What ``simsvm show`` and ``simsvm compare`` print: one run folder described, runs side by side.

Both read only what a run writes (see :mod:`simsvm.experiment.results`): ``parameters.yaml``,
``data.json``, ``metadata.json``, ``progress.json``, ``jobs/`` and ``results.csv``.  The score of
a run is its task's summary at one epoch, per approach, as the mean and standard deviation over
its folds (or splits): accuracy for classification, the mean over targets of Pearson's R for
regression.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import yaml

from simsvm.exceptions import ResultsError
from simsvm.experiment.approaches import APPROACHES
from simsvm.experiment.progress import read_progress
from simsvm.experiment.reference import parameter_reference
from simsvm.experiment.results import RESULTS_FILE, finished_jobs, load_metadata, load_results
from simsvm.names import METRICS

__all__ = ["RunScores", "compare_runs", "run_scores", "show_run"]

COMPARE_FORMATS = ("text", "csv", "markdown")
# What a metric is called in a table heading (regression's summary is the mean over targets).
_METRIC_NAMES = {"accuracy": "accuracy", "pearson_r": "mean Pearson R"}


@dataclass(frozen=True)
class RunScores:
    """A run's summary score per approach at one epoch.

    Parameters
    ----------
    epoch : int
        The epoch the scores are from.
    metric : str
        ``'accuracy'`` or ``'pearson_r'``.
    table : pandas.DataFrame
        Indexed by approach (in the order of
        :data:`~simsvm.experiment.approaches.APPROACHES`): ``mean``, ``std`` (NaN with one fold)
        and ``folds``.
    """

    epoch: int
    metric: str
    table: pd.DataFrame

    @property
    def metric_name(self) -> str:
        return _METRIC_NAMES.get(self.metric, self.metric)


def run_scores(run_dir: str | Path, epoch: int | None = None) -> RunScores:
    """The summary scores of a finished run at ``epoch`` (default: its last evaluated epoch).

    Raises
    ------
    ResultsError
        When the folder is not a run folder, has no ``results.csv`` yet, or lacks ``epoch``.
    """
    run_dir = _checked_run_dir(run_dir)
    table = load_results(run_dir)
    scores = table[table.metric.isin(METRICS.values()) & table.target.isin(["all", "mean"])]
    if scores.empty:
        raise ResultsError(f"{run_dir / RESULTS_FILE} holds no scores")
    epochs = sorted(int(e) for e in scores.epoch.unique())
    if epoch is None:
        epoch = epochs[-1]
    elif epoch not in epochs:
        raise ResultsError(f"{run_dir}: no scores at epoch {epoch}; it has epochs {_ranges(epochs)}")
    at_epoch = scores[scores.epoch == epoch]
    summary = at_epoch.groupby("approach").value.agg(["mean", "std", "count"])
    summary = summary.rename(columns={"count": "folds"})
    order = [a for a in APPROACHES if a in summary.index] + sorted(set(summary.index) - set(APPROACHES))
    return RunScores(epoch=epoch, metric=str(at_epoch.metric.iloc[0]), table=summary.loc[order])


def show_run(run_dir: str | Path, *, every_key: bool = False) -> str:
    """A run folder described: parameters, data, progress and scores (``simsvm show``)."""
    run_dir = _checked_run_dir(run_dir)
    parameters = _read_yaml(run_dir / "parameters.yaml")
    lines = [f"run: {run_dir}", ""]
    lines += _parameter_lines(parameters, every_key=every_key)
    lines += ["", *_data_lines(run_dir, parameters)]
    lines += ["", *_progress_lines(run_dir)]
    lines += ["", *_score_lines(run_dir)]
    return "\n".join(lines)


def compare_runs(run_dirs: list[str | Path], *, fmt: str = "text", epoch: int | None = None) -> str:
    """The runs' summary scores side by side: one row per approach, one column per run.

    A folder of runs (a batch, ``results/<batch>``) stands for its finished runs, in name order.
    """
    if fmt not in COMPARE_FORMATS:
        raise ValueError(f"fmt: {fmt!r} is not one of {COMPARE_FORMATS}")
    run_dirs = [run for path in run_dirs for run in _runs_of(Path(path))]
    names = _column_names(run_dirs)
    runs = {name: run_scores(path, epoch) for name, path in zip(names, run_dirs, strict=True)}
    present = {a for scores in runs.values() for a in scores.table.index}
    approaches = [a for a in APPROACHES if a in present] + sorted(present - set(APPROACHES))
    if fmt == "csv":
        frame = pd.DataFrame({"approach": approaches})
        for name, scores in runs.items():
            frame[f"{name} mean"] = [scores.table["mean"].get(a, float("nan")) for a in approaches]
            frame[f"{name} std"] = [scores.table["std"].get(a, float("nan")) for a in approaches]
        buffer = io.StringIO()
        frame.to_csv(buffer, index=False, float_format="%.6g", na_rep="nan")
        return buffer.getvalue().rstrip("\n")
    header = ["approach", *(f"{name} ({s.metric_name}, epoch {s.epoch})" for name, s in runs.items())]
    rows = [[a, *(_cell(scores.table, a) for scores in runs.values())] for a in approaches]
    if fmt == "markdown":
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])
    return _aligned([header, *rows])


def _runs_of(path: Path) -> list[Path]:
    """``path`` itself when it is a run folder; a batch folder's finished runs when it is one."""
    if path.is_dir() and not (path / "parameters.yaml").is_file():
        finished = sorted(p for p in path.iterdir() if (p / RESULTS_FILE).is_file())
        if finished:
            return finished
    return [path]


def _checked_run_dir(run_dir: str | Path) -> Path:
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise ResultsError(f"{run_dir}: no such folder")
    if (run_dir / "parameters.yaml").is_file():
        return run_dir
    runs = sorted(p.name for p in run_dir.iterdir() if (p / "parameters.yaml").is_file())
    if runs:
        listed = ", ".join(runs[:8]) + (f", ... {len(runs) - 8} more" if len(runs) > 8 else "")
        raise ResultsError(f"{run_dir} is a folder of runs, not a run; its runs: {listed}")
    raise ResultsError(f"{run_dir} is not a run folder (it has no parameters.yaml)")


def _read_yaml(path: Path) -> dict:
    try:
        values = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as error:
        raise ResultsError(f"{path} is not readable YAML ({type(error).__name__})") from None
    if not isinstance(values, dict):
        raise ResultsError(f"{path} is corrupt: expected a mapping of keys to values")
    return values


def _parameter_lines(parameters: dict, *, every_key: bool) -> list[str]:
    docs = parameter_reference()
    set_here = [d for d in docs if d.key in parameters and (d.required or parameters[d.key] != d.default)]
    defaults = [d for d in docs if d.key in parameters and d not in set_here]
    unknown = sorted(set(parameters) - {d.key for d in docs})
    rows = [[f"  {d.key}", _value(parameters[d.key])] for d in set_here]
    rows += [
        [f"  {key}", f"{_value(parameters[key])} (not a key of this version of simsvm)"] for key in unknown
    ]
    lines = ["parameters set by the run (parameters.yaml):", _aligned(rows)]
    if every_key:
        lines += [
            "parameters at their defaults:",
            _aligned([[f"  {d.key}", d.default_text()] for d in defaults]),
        ]
    elif defaults:
        lines.append(f"and {len(defaults)} keys at their defaults (--all lists them)")
    return lines


def _data_lines(run_dir: Path, parameters: dict) -> list[str]:
    lines = [f"data: {parameters.get('dataset', '?')} from {parameters.get('data_dir', '?')}"]
    try:
        files = len(json.loads((run_dir / "data.json").read_text()).get("files", {}))
        lines.append(f"  {files} audio files indexed (data.json)")
    except (OSError, json.JSONDecodeError, AttributeError):
        lines.append("  no readable data.json")
    try:
        metadata = load_metadata(run_dir)
    except ResultsError as error:
        return [*lines, f"  {error}"]
    report = metadata.get("load_report", {})
    if report:
        lines.append(
            f"  {report.get('used', '?')} used, {len(report.get('skipped', []))} skipped, "
            f"{len(report.get('padded', []))} shorter than one excerpt (padded)"
        )
    if metadata.get("dataset"):
        lines.append(f"  {metadata['dataset']}")
    lines.append(
        f"  simsvm {metadata.get('simsvm_version', '?')}, sessions: {len(metadata.get('sessions', []))}"
    )
    return lines


def _progress_lines(run_dir: Path) -> list[str]:
    finished = sorted(finished_jobs(run_dir))
    progress = read_progress(run_dir)
    if (run_dir / RESULTS_FILE).is_file() and (progress is None or progress.get("finished")):
        state = "finished"
    elif progress is None:
        state = "not started, or stopped before training"
    else:
        state = (
            f"unfinished: {progress['model_epochs_done']}/{progress['model_epochs']} model-epochs, "
            f"{progress['networks_done']}/{progress['networks']} networks (progress.json); "
            "run the same command again to resume"
        )
    shown = ", ".join(finished[:6]) + (f", ... {len(finished) - 6} more" if len(finished) > 6 else "")
    return [
        f"progress: {state}",
        f"  {len(finished)} jobs finished (jobs/)" + (f": {shown}" if shown else ""),
    ]


def _score_lines(run_dir: Path) -> list[str]:
    if not (run_dir / RESULTS_FILE).is_file():
        return [f"scores: no {RESULTS_FILE} yet (it is written when the run finishes)"]
    scores = run_scores(run_dir)
    folds = sorted(set(scores.table.folds))
    counted = f"{folds[0]} folds" if len(folds) == 1 else f"{folds[0]}-{folds[-1]} folds"
    heading = (
        f"scores at epoch {scores.epoch}: {scores.metric_name}, mean ± s.d. over {counted} ({RESULTS_FILE})"
    )
    return [heading, _aligned([[f"  {a}", _cell(scores.table, a)] for a in scores.table.index])]


def _cell(table: pd.DataFrame, approach: str) -> str:
    if approach not in table.index:
        return "-"
    mean, std = table.loc[approach, "mean"], table.loc[approach, "std"]
    return f"{mean:.3f}" if pd.isna(std) else f"{mean:.3f} ± {std:.3f}"


def _value(value) -> str:
    return yaml.safe_dump(value, default_flow_style=True, width=10_000).removesuffix("\n...\n").strip()


def _aligned(rows: list[list[str]]) -> str:
    """Rows of cells as text columns, each as wide as its widest cell."""
    if not rows:
        return ""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows
    )


def _column_names(run_dirs: list[Path]) -> list[str]:
    """Each run's folder name, or its path where two runs share a name (two batches' runs)."""
    names = [path.name or str(path) for path in run_dirs]
    return [str(path) if names.count(name) > 1 else name for name, path in zip(names, run_dirs, strict=True)]


def _ranges(values: list[int]) -> str:
    return ", ".join(str(v) for v in values) if len(values) <= 8 else f"{values[0]} to {values[-1]}"
