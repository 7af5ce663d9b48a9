"""Significance of differences between approaches over repeated random splits (paper section 3.3).

The paper compares RBF-SL with NN and with FL at one epoch by Welch's t-test on the scores of 100
random 9:1 splits.  Those scores are not independent samples: both approaches saw the same split,
and the splits share most of their training data, so plain t-tests are known to be too liberal
(Nadeau & Bengio, 2003).  Beside Welch's test this module gives the paired t-test and the
corrected resampled t-test, whose variance is inflated by ``1/J + n_test/n_train``:

    t = mean(d) / sqrt(var(d, ddof=1) * (1/J + n_test/n_train)),   df = J - 1,  two-sided,

where ``d`` are the per-split differences and ``J`` the number of splits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats

from simsvm.data.datasets import ordered_targets
from simsvm.exceptions import ParameterError, ResultsError
from simsvm.experiment.approaches import DEFAULT_COMPARISONS
from simsvm.experiment.results import load_metadata, load_results
from simsvm.names import METRICS

__all__ = [
    "TestResult",
    "corrected_resampled_ttest",
    "paired_ttest",
    "run_significance",
    "significance_table",
    "welch_ttest",
]


@dataclass(frozen=True)
class TestResult:
    """A two-sided test of ``mean(a) - mean(b) = 0``, with the difference's 95 % interval."""

    statistic: float
    p_value: float
    df: float
    difference: float
    low: float
    high: float


def _interval(
    difference: float, standard_error: float, df: float, level: float = 0.95
) -> tuple[float, float]:
    half = scipy_stats.t.ppf(0.5 + level / 2, df) * standard_error
    return difference - half, difference + half


def _checked(test: str, *samples: np.ndarray) -> list[np.ndarray]:
    """The samples as float arrays; fewer than two scores, or a NaN among them, is a ParameterError."""
    arrays = [np.asarray(sample, dtype=float) for sample in samples]
    for array in arrays:
        if array.ndim != 1 or len(array) < 2:
            raise ParameterError(f"{test}: needs at least 2 scores per approach, got {array.shape}")
        if not np.all(np.isfinite(array)):
            raise ParameterError(f"{test}: the scores hold NaN or inf; leave those splits out first")
    return arrays


def _result(difference: float, standard_error: float, df: float) -> TestResult:
    """Two-sided t-test of ``difference`` with its standard error.

    Without spread (every split scored alike) the statistic is 0 with p = 1 when the means agree,
    and infinite with p = 0 when they differ, rather than scipy's NaN and a runtime warning.
    """
    if standard_error > 0:
        statistic = difference / standard_error
        p_value = float(2 * scipy_stats.t.sf(abs(statistic), df))
    elif difference == 0:
        statistic, p_value = 0.0, 1.0
    else:
        statistic, p_value = math.copysign(math.inf, difference), 0.0
    return TestResult(
        float(statistic), p_value, float(df), difference, *_interval(difference, standard_error, df)
    )


def welch_ttest(a: np.ndarray, b: np.ndarray) -> TestResult:
    """Welch's unpaired t-test with unequal variances (as ``scipy.stats.ttest_ind(equal_var=False)``)."""
    a, b = _checked("Welch's t-test", a, b)
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    denominator = va**2 / (len(a) - 1) + vb**2 / (len(b) - 1)
    # Welch-Satterthwaite; with no spread on either side it degenerates to the pooled df
    df = (va + vb) ** 2 / denominator if denominator > 0 else len(a) + len(b) - 2.0
    return _result(float(a.mean() - b.mean()), float(np.sqrt(va + vb)), df)


def paired_ttest(a: np.ndarray, b: np.ndarray) -> TestResult:
    """Paired t-test on per-split differences (as ``scipy.stats.ttest_rel``)."""
    a, b = _checked("paired t-test", a, b)
    if len(a) != len(b):
        raise ParameterError(f"paired t-test: {len(a)} and {len(b)} scores do not pair up")
    d = a - b
    return _result(float(d.mean()), float(d.std(ddof=1) / np.sqrt(len(d))), len(d) - 1.0)


def corrected_resampled_ttest(a: np.ndarray, b: np.ndarray, *, n_train: int, n_test: int) -> TestResult:
    """Nadeau-Bengio corrected resampled t-test on paired per-split scores (two-sided).

    Parameters
    ----------
    a, b : array, shape (J,)
        Scores of the two approaches on the same J random splits.
    n_train, n_test : int
        Files in the training and test part of each split.
    """
    a, b = _checked("corrected resampled t-test", a, b)
    if len(a) != len(b) or n_train < 1 or n_test < 1:
        raise ParameterError(
            f"corrected resampled t-test: needs paired scores and positive sizes, "
            f"got J={len(a)}/{len(b)}, n_train={n_train}, n_test={n_test}"
        )
    d = a - b
    standard_error = float(np.sqrt(d.var(ddof=1) * (1.0 / len(d) + n_test / n_train)))
    return _result(float(d.mean()), standard_error, len(d) - 1.0)


def _compare(
    scores: pd.DataFrame,
    approach: str,
    baseline: str,
    target: str,
    epoch: int,
    n_train: int,
    n_test: int,
    alpha: float,
) -> dict:
    """One row of :func:`significance_table`: the three tests of one comparison on one target and epoch."""
    at_epoch = scores[(scores.epoch == epoch) & (scores.target == target)]
    pivot = at_epoch.pivot_table(index="fold", columns="approach", values="value")
    missing = [a for a in (approach, baseline) if a not in pivot.columns]
    if missing:
        raise ResultsError(f"no scores for {missing} at epoch {epoch}; approaches: {sorted(pivot.columns)}")
    pair = pivot[[approach, baseline]].dropna()  # a split whose R is undefined (NaN) is left out
    if len(pair) < 2:
        raise ResultsError(
            f"{approach} vs {baseline} at epoch {epoch}: {len(pair)} split(s) scored on both "
            "sides; the tests need at least 2"
        )
    a, b = pair[approach].to_numpy(), pair[baseline].to_numpy()
    welch, paired = welch_ttest(a, b), paired_ttest(a, b)
    corrected = corrected_resampled_ttest(a, b, n_train=n_train, n_test=n_test)
    return {
        "dataset": "/".join(sorted(set(at_epoch.dataset))),
        "comparison": f"{approach} vs {baseline}",
        "target": target,
        "epoch": epoch,
        "splits": len(pair),
        "mean approach": a.mean(),
        "mean baseline": b.mean(),
        "difference": corrected.difference,
        "corrected 95% low": corrected.low,
        "corrected 95% high": corrected.high,
        "p welch": welch.p_value,
        "p paired": paired.p_value,
        "p corrected": corrected.p_value,
        "significant welch": welch.p_value < alpha,
        "significant paired": paired.p_value < alpha,
        "significant corrected": corrected.p_value < alpha,
        "conclusion_changes": (welch.p_value < alpha) != (corrected.p_value < alpha),
    }


def significance_table(
    table: pd.DataFrame,
    *,
    n_train: int,
    n_test: int,
    comparisons: tuple[tuple[str, str], ...] | None = None,
    epochs: tuple[int, ...] | None = None,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """Welch, paired and corrected tests for each comparison, target and epoch.

    ``table`` is the results table of one random-splits run (one score per split, approach and
    epoch: accuracy, or Pearson's R per target and their mean).  ``comparisons`` default to those
    of :data:`DEFAULT_COMPARISONS` whose approaches the run has; ``epochs`` to the last one.

    Returns one row per (comparison, target, epoch), the summary score first (accuracy, or the
    mean R) and then each regression target: the means, the difference and its 95 % interval
    (paired, corrected), the p-value of each test, whether each calls it significant at
    ``alpha``, and ``conclusion_changes`` where Welch and the corrected test disagree.
    """
    scores = table[table.metric.isin(METRICS.values())]
    if scores.empty:
        raise ResultsError("no scores (accuracy or Pearson's R) in the table")
    epochs = (int(scores.epoch.max()),) if epochs is None else tuple(epochs)
    if comparisons is None:
        present = set(scores.approach)
        comparisons = tuple(pair for pair in DEFAULT_COMPARISONS if set(pair) <= present)
    summary = [t for t in ("all", "mean") if t in set(scores.target)]
    dataset = str(scores.dataset.iat[0]) if "dataset" in scores else ""
    targets = summary + ordered_targets(dataset, set(scores.target) - set(summary))
    rows = [
        _compare(scores, approach, baseline, target, epoch, n_train, n_test, alpha)
        for approach, baseline in comparisons
        for target in targets
        for epoch in epochs
    ]
    return pd.DataFrame(rows)


def run_significance(
    run_dir: str | Path,
    *,
    comparisons: tuple[tuple[str, str], ...] | None = None,
    epochs: tuple[int, ...] | None = None,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """:func:`significance_table` of a finished random-splits run folder (sizes from its metadata)."""
    run_dir = Path(run_dir)
    metadata = load_metadata(run_dir)
    sizes = {(p["n_train"], p["n_test"]) for p in metadata.get("partitions", {}).values()}
    if len(sizes) != 1:
        raise ResultsError(f"{run_dir}: expected splits of one size in metadata.json, found {sorted(sizes)}")
    ((n_train, n_test),) = sizes
    table = load_results(run_dir)
    result = significance_table(
        table, n_train=n_train, n_test=n_test, comparisons=comparisons, epochs=epochs, alpha=alpha
    )
    return result.assign(run=run_dir.name)
