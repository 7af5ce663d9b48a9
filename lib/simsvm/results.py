"""The one results format: a tidy table per run, written a job at a time.

Layout of a run folder ``results/<run>/``::

    parameters.yaml   resolved parameters (every key, defaults filled in)
    metadata.json     library version, git commit, seeds per job, dataset report, timings
    jobs/<job>.csv    rows of one finished job (one network on one fold), written atomically
    results.csv       all job files merged and sorted, written atomically at the end

A job file exists only once its job finished, so a restarted run skips exactly the finished jobs
and the merged table can hold neither duplicates nor half a job.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from ._io import write_text_atomic
from .exceptions import DataError

__all__ = ["COLUMNS", "RESULTS_FILE", "finished_jobs", "load_results", "merge_jobs", "write_job"]

COLUMNS = ("dataset", "approach", "protocol", "fold", "epoch", "target", "metric", "value", "seed")
RESULTS_FILE = "results.csv"
_SORT = ["dataset", "protocol", "approach", "fold", "epoch", "metric", "target"]


def _table(rows: Iterable[dict]) -> pd.DataFrame:
    table = pd.DataFrame(list(rows), columns=list(COLUMNS))
    return table.sort_values(_SORT, kind="stable").reset_index(drop=True)


def _csv(table: pd.DataFrame) -> str:
    buffer = io.StringIO()
    table.to_csv(buffer, index=False, float_format="%.10g", na_rep="nan")
    return buffer.getvalue()


def write_job(run_dir: str | Path, job: str, rows: Iterable[dict]) -> Path:
    """Write the rows of one finished job atomically."""
    return write_text_atomic(Path(run_dir) / "jobs" / f"{job}.csv", _csv(_table(rows)))


def finished_jobs(run_dir: str | Path) -> set[str]:
    folder = Path(run_dir) / "jobs"
    return {p.stem for p in folder.glob("*.csv")} if folder.is_dir() else set()


def merge_jobs(run_dir: str | Path, jobs: Iterable[str]) -> pd.DataFrame:
    """Merge the given jobs' files into ``results.csv`` (atomically) and return the table."""
    run_dir = Path(run_dir)
    parts = []
    for job in jobs:
        path = run_dir / "jobs" / f"{job}.csv"
        if not path.is_file():
            raise DataError(f"job {job!r} has no results file {path}; run the experiment again to finish it")
        parts.append(pd.read_csv(path, keep_default_na=False, na_values=["nan", "NaN"]))
    table = _table(pd.concat(parts, ignore_index=True).to_dict("records") if parts else [])
    write_text_atomic(run_dir / RESULTS_FILE, _csv(table))
    return table


def load_results(run_dir: str | Path) -> pd.DataFrame:
    """Read a run's merged table."""
    path = Path(run_dir) / RESULTS_FILE
    if not path.is_file():
        raise DataError(f"no results table at {path}; has the run finished?")
    return pd.read_csv(path, keep_default_na=False, na_values=["nan", "NaN"])
