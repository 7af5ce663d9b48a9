"""What the report says of one run: where its data came from, how it was run, and who won.

:func:`run_info` gathers a finished run folder's facts (dataset, generated or real data,
protocol, partitions, epochs, class counts, the SVM grid); :func:`run_heading` words them as the
run's heading and :func:`verdict` as one sentence naming the best approach at the last epoch and
whether it is significantly better than the runner-up.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from simsvm.data.datasets.synthetic import generation_stamp
from simsvm.exceptions import ParameterError, ResultsError
from simsvm.experiment.approaches import APPROACHES
from simsvm.experiment.grid_edges import GridEdge, describe_grid_edges, grid_edges
from simsvm.experiment.results import PREDICTIONS_FILE, load_metadata, load_predictions
from simsvm.experiment.stats import paired_ttest, significance_table
from simsvm.paths import resolve_path
from simsvm.report.style import METRIC_LABELS, dataset_title, unit_phrase
from simsvm.report.tables import score_metric, summary_scores

__all__ = ["RunInfo", "data_generated", "run_heading", "run_info", "verdict"]


@dataclass
class RunInfo:
    """The facts of one run the report states (see :func:`run_info`)."""

    name: str
    run_dir: Path
    dataset: str
    metric: str
    protocol: str
    partitions: int
    epochs: int
    last_epoch: int
    generated: bool | None
    generator: dict | None = None
    test_share: float | None = None
    classes: dict[str, int] | None = None
    partition_sizes: tuple[int, int] | None = None
    grid_edges: list[GridEdge] = field(default_factory=list)

    @property
    def title(self) -> str:
        """The dataset as a title: ``'generated GTZAN layout'`` or ``'GTZAN'``."""
        return dataset_title(self.dataset, self.generated)


def data_generated(data_dir: str | Path | None) -> tuple[bool | None, dict | None]:
    """Whether ``data_dir`` holds data of ``simsvm data synth``, and the generator's settings.

    (None, None) when the folder is not there any more, so its origin cannot be told.
    """
    if data_dir is None:
        return None, None
    folder = resolve_path(data_dir)
    stamp = generation_stamp(folder)
    if stamp is not None:
        return True, stamp
    return (False, None) if folder.is_dir() else (None, None)


def _parameters(run_dir: Path) -> dict:
    path = run_dir / "parameters.yaml"
    if not path.is_file():
        return {}
    try:
        return yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as error:
        raise ResultsError(f"{path} is corrupt (not YAML)") from error


def _class_counts(run_dir: Path, metadata: dict, protocol: str) -> dict[str, int] | None:
    """Files per class of the whole dataset.

    From the dataset line of ``metadata.json`` (``"gtzan: 40 tracks, classification (blues 4,
    ...); root ..."``, written by :meth:`simsvm.data.datasets.Dataset.describe`); else, for
    cross-validation, where every file is tested once, from the test predictions.
    """
    described = re.search(r"classification \((.*?)\); root", str(metadata.get("dataset", "")))
    if described:
        counts = [item.rsplit(" ", 1) for item in described.group(1).split(", ")]
        if all(len(item) == 2 and item[1].isdigit() for item in counts):
            return {name: int(count) for name, count in counts}
    if protocol != "cv" or not (run_dir / PREDICTIONS_FILE).is_file():
        return None
    predictions = load_predictions(run_dir)
    files = predictions[predictions.target == "all"].drop_duplicates("track")
    counts = files.actual.astype(str).value_counts().sort_index()
    return {str(name): int(count) for name, count in counts.items()} or None


def run_info(run_dir: str | Path, table: pd.DataFrame) -> RunInfo:
    """The facts of the finished run in ``run_dir`` whose results table is ``table``.

    The data folder is the one the last session recorded in ``metadata.json`` (else the one of
    ``parameters.yaml``); the generator's stamp there marks generated data.
    """
    run_dir = Path(run_dir)
    parameters = _parameters(run_dir)
    metadata = load_metadata(run_dir) if (run_dir / "metadata.json").is_file() else {}
    sessions = metadata.get("sessions") or [{}]
    generated, generator = data_generated(sessions[-1].get("data_dir") or parameters.get("data_dir"))
    metric = score_metric(table)
    sizes = {(p["n_train"], p["n_test"]) for p in metadata.get("partitions", {}).values()}
    info = RunInfo(
        name=run_dir.name,
        run_dir=run_dir,
        dataset=str(table.dataset.iat[0]),
        metric=metric,
        protocol="/".join(sorted(set(table.protocol))),
        partitions=int(table[table.metric == metric].fold.nunique()),
        epochs=int(parameters.get("epochs", table.epoch.max())),
        last_epoch=int(table[table.metric == metric].epoch.max()),
        generated=generated,
        generator=generator,
        test_share=parameters.get("test_share"),
        classes=_class_counts(run_dir, metadata, "/".join(sorted(set(table.protocol))))
        if metric == "accuracy"
        else None,
        partition_sizes=sizes.pop() if len(sizes) == 1 else None,
        grid_edges=grid_edges(table, parameters.get("svm_tuning")),
    )
    return info


def _protocol_phrase(info: RunInfo) -> str:
    if info.protocol == "cv":
        return f"{info.partitions}-fold cross-validation"
    if info.protocol == "random_splits":
        share = f" ({1 - info.test_share:.0%} train, {info.test_share:.0%} test)" if info.test_share else ""
        return f"{unit_phrase(info.protocol, info.partitions)}{share}"
    return "a fixed train/test split" if info.protocol == "split" else info.protocol


def run_heading(info: RunInfo) -> str:
    """The run's heading in Markdown: its name and data, then protocol, epochs and data origin.

    A line per grid-edge finding of a tuned SVM follows, as a warning.
    """
    if info.generated:
        settings = info.generator or {}
        detail = ", ".join(
            f"{value} {label}"
            for key, label in (("clips_per_class", "clips per class"), ("duration", "s per clip"))
            if (value := settings.get(key)) is not None
        )
        origin = "generated by `simsvm data synth`" + (f" ({detail})" if detail else "")
    elif info.generated is None:
        origin = "origin unknown (the data folder is no longer there)"
    else:
        origin = "real (not generated)"
    trained = f"{info.epochs} epochs" + (
        f", last evaluated at epoch {info.last_epoch}" if info.last_epoch != info.epochs else ""
    )
    lines = [
        f"## {info.name}: {info.title}",
        "",
        f"**Protocol:** {_protocol_phrase(info)} · **training:** {trained} · **data:** {origin}",
    ]
    for warning in describe_grid_edges(info.grid_edges):
        lines += ["", f"> ⚠ {warning}"]
    return "\n".join(lines)


def _mean_sd(values: pd.Series) -> str:
    values = values.dropna()
    return f"{values.mean():.3f} ± {values.std():.3f}" if len(values) > 1 else f"{values.mean():.3f}"


def _test_phrase(table: pd.DataFrame, info: RunInfo, winner: str, runner_up: str, alpha: float) -> str:
    """How significant the winner's lead is, with the test that says so (or why none was run)."""
    scores = summary_scores(table)
    pair = scores[[winner, runner_up]].dropna()
    if len(pair) < 2:
        return f"with {len(pair)} partition scored on both, the difference was not tested"
    if info.protocol == "random_splits" and info.partition_sizes is not None:
        n_train, n_test = info.partition_sizes
        try:
            row = significance_table(
                table, n_train=n_train, n_test=n_test, comparisons=((winner, runner_up),)
            ).iloc[0]
        except (ParameterError, ResultsError) as error:
            return f"the difference could not be tested ({error})"
        verdict = "significant" if row["p corrected"] < alpha else "not significant"
        return (
            f"the corrected resampled t-test over the {row.splits} random splits finds the lead of "
            f"{row.difference:.3f} (95 % interval {row['corrected 95% low']:.3f} to "
            f"{row['corrected 95% high']:.3f}) {verdict} at {alpha:g} (p = {row['p corrected']:.3g}; "
            f"Welch's test, as in the paper: p = {row['p welch']:.3g})"
        )
    if info.protocol == "cv":
        result = paired_ttest(pair[winner].to_numpy(), pair[runner_up].to_numpy())
        verdict = "significant" if result.p_value < alpha else "not significant"
        return (
            f"a paired t-test across the {len(pair)} folds calls the lead of {result.difference:.3f} "
            f"{verdict} at {alpha:g} (p = {result.p_value:.3g}); the folds share training data, so "
            "this test is optimistic, and a random-splits run gives the corrected test"
        )
    return "the difference was not tested"


def verdict(table: pd.DataFrame, info: RunInfo, *, alpha: float = 0.05) -> str:
    """One sentence: the best approach at the last epoch, and whether it beats the runner-up significantly."""
    scores = summary_scores(table, epoch=info.last_epoch)
    means = scores.mean().dropna()
    metric = METRIC_LABELS.get(info.metric, info.metric)
    if info.metric == "pearson_r":  # the summary score of regression: R averaged over the targets
        metric = f"mean {metric}"
    if means.empty:
        return f"No approach has a {metric} at epoch {info.last_epoch}."
    # ties go to the earlier approach of the suite's order
    ranked = sorted(means.index, key=lambda a: (-means[a], list(APPROACHES).index(a)))
    winner = ranked[0]
    spread = unit_phrase(info.protocol, info.partitions)
    lead = (
        f"At epoch {info.last_epoch}, {winner} has the highest {metric} "
        f"({_mean_sd(scores[winner])} over {spread})"
    )
    if len(ranked) == 1:
        return f"{lead}; it is the only approach evaluated."
    tied = [a for a in ranked[1:] if np.isclose(means[a], means[winner], rtol=0, atol=1e-12)]
    if tied:
        return f"{lead}, tied with {' and '.join(tied)}: there is no lead to test."
    runner_up = ranked[1]
    test = _test_phrase(table, info, winner, runner_up, alpha)
    return f"{lead}, ahead of {runner_up} ({_mean_sd(scores[runner_up])}); {test}."
