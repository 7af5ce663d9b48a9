"""Tuned SVM settings that sit on the edge of their grid.

Under ``svm_tuning`` an inner cross-validation chooses each SVM's C (and the RBF's gamma) from a
grid.  When the smallest or largest value wins in most folds, the best value probably lies
beyond the grid, and the scores understate what the SVM could do: the grid should be widened.
:func:`grid_edges` finds these cases in a results table; :func:`describe_grid_edges` words them
for a log or a report.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from simsvm.exceptions import ResultsError
from simsvm.experiment.approaches import APPROACHES
from simsvm.experiment.results import load_results
from simsvm.experiment.svm_grid import SvmGrid
from simsvm.names import METRICS

__all__ = ["GridEdge", "describe_grid_edges", "grid_edges", "run_grid_edges"]

# The results table's column of each tuned parameter.
_COLUMNS = {"C": "svm_c", "gamma": "svm_gamma"}


@dataclass(frozen=True)
class GridEdge:
    """One approach whose tuned ``parameter`` was ``value``, the grid's ``edge``, in most fits.

    ``fits`` counts the SVMs fitted at the epoch (one per fold, or per fold and regression
    target), ``at_edge`` those that chose ``value``.
    """

    approach: str
    parameter: str
    value: float
    edge: str
    at_edge: int
    fits: int
    epoch: int
    per_target: bool


def _grid(grid: SvmGrid | dict[str, Any]) -> dict[str, tuple[float, ...]]:
    values = grid.to_dict() if isinstance(grid, SvmGrid) else dict(grid)
    return {name: tuple(float(v) for v in values[name]) for name in _COLUMNS if values.get(name)}


def grid_edges(
    table: pd.DataFrame,
    grid: SvmGrid | dict[str, Any] | None,
    *,
    epoch: int | None = None,
    share: float = 0.5,
) -> list[GridEdge]:
    """The approaches whose tuned C or gamma was the grid's smallest or largest value in most fits.

    Parameters
    ----------
    table : pd.DataFrame
        A run's results table (columns ``svm_c`` and ``svm_gamma`` per score row).
    grid : SvmGrid or dict or None
        The run's ``svm_tuning`` (as ``parameters.yaml`` records it); None, an untuned run,
        has no findings.
    epoch : int, optional
        The evaluated epoch to look at (default: the last).
    share : float
        A finding needs more than this share of the fits at the edge (default: a majority).

    Returns
    -------
    list of GridEdge
        In the order of the approaches, C before gamma; empty when no edge dominates.
    """
    if grid is None:
        return []
    values = _grid(grid)
    scores = table[table.metric.isin(METRICS.values())]
    if scores.empty:
        return []
    epoch = int(scores.epoch.max()) if epoch is None else epoch
    scores = scores[scores.epoch == epoch]
    # Each regression target has its own SVR; the 'mean' row repeats no fit of its own.
    per_target = set(scores.target) - {"all", "mean"}
    if per_target:
        scores = scores[scores.target.isin(per_target)]
    findings = []
    present = [a for a in APPROACHES if a in set(scores.approach)]
    for approach in present:
        rows = scores[scores.approach == approach]
        for parameter, column in _COLUMNS.items():
            # a one-value grid leaves nothing to choose: no edge to warn of
            if len(values.get(parameter, ())) < 2 or column not in rows:
                continue
            chosen = rows[column].dropna().to_numpy(dtype=float)
            if len(chosen) == 0:  # NN fits no SVM
                continue
            grid_values = values[parameter]
            for edge, value in (("smallest", min(grid_values)), ("largest", max(grid_values))):
                at_edge = int(np.isclose(chosen, value, rtol=1e-9, atol=0.0).sum())
                if at_edge > share * len(chosen):
                    fits = len(chosen)
                    findings.append(
                        GridEdge(approach, parameter, value, edge, at_edge, fits, epoch, bool(per_target))
                    )
    return findings


def describe_grid_edges(findings: list[GridEdge]) -> list[str]:
    """One line per parameter and edge, naming the value and each approach's count of fits."""
    lines = []
    groups: dict[tuple[str, str, float], list[GridEdge]] = {}
    for finding in findings:
        groups.setdefault((finding.parameter, finding.edge, finding.value), []).append(finding)
    for (parameter, edge, value), group in groups.items():
        unit = "fold × target fits" if group[0].per_target else "folds"
        counts = ", ".join(f"{f.approach} in {f.at_edge} of {f.fits} {unit}" for f in group)
        lines.append(
            f"svm_tuning chose {parameter} = {value:g}, the {edge} value of its grid, at epoch "
            f"{group[0].epoch}: {counts}; the best {parameter} may lie beyond the grid, widen it."
        )
    return lines


def run_grid_edges(run_dir: str | Path, *, epoch: int | None = None) -> list[GridEdge]:
    """:func:`grid_edges` of a finished run folder, with the grid from its ``parameters.yaml``."""
    path = Path(run_dir) / "parameters.yaml"
    if not path.is_file():
        raise ResultsError(f"no parameters.yaml in {run_dir}; is it a run folder (results/<run>)?")
    try:
        parameters = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as error:
        raise ResultsError(f"{path} is corrupt (not YAML)") from error
    return grid_edges(load_results(run_dir), parameters.get("svm_tuning"), epoch=epoch)
