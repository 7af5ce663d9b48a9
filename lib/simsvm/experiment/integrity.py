"""Whether a finished-looking job of a run folder may be reused: made by this run, and whole.

A job's rows file (``jobs/<job>.csv``) and its provenance (``jobs/<job>.json``) are written one
after the other by :func:`~simsvm.experiment.results.write_job`, the provenance last with the
rows file's SHA-256 and length.  A rows file cut short (15 rows of 19 were merged as a finished
job), garbled, without provenance, or made with other parameters or data is named in the log
and trained again (:func:`job_problem`); a folder that lost its ``parameters.yaml`` resumes
only when every job names this run's parameters (:func:`foreign_jobs`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

__all__ = ["checksum", "foreign_jobs", "job_problem"]


def checksum(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _record(path: Path) -> dict | None:
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def job_problem(
    run_dir: str | Path,
    job: str,
    *,
    parameters_hash: str | None = None,
    data_digest: str | None = None,
    epochs: Iterable[int] | None = None,
) -> str | None:
    """Why job ``job``, whose rows file exists, cannot be reused; ``None`` when it can.

    It can when its provenance names ``parameters_hash`` (and ``data_digest``, where it records
    one) and its rows file is whole: the recorded SHA-256 matches, and it reads as a table that
    holds every epoch of ``epochs``.  A provenance written before checksums existed is taken on
    the table check alone.
    """
    folder = Path(run_dir) / "jobs"
    rows, provenance = folder / f"{job}.csv", folder / f"{job}.json"
    if not provenance.is_file():
        return f"it has no provenance {provenance.name} (the run stopped while writing it)"
    record = _record(provenance)
    if record is None:
        return f"its provenance {provenance.name} is corrupt"
    recorded = record.get("parameters_hash")
    if parameters_hash is not None and recorded != parameters_hash:
        return f"it was made with other parameters (hash {recorded}, this run's {parameters_hash})"
    if data_digest is not None and record.get("data_digest", data_digest) != data_digest:
        return f"it was made from other data (digest {record['data_digest']}, this run's {data_digest})"
    try:
        data = rows.read_bytes()
    except OSError as error:
        return f"it cannot be read ({error.strerror or error})"
    if "csv_sha256" in record and checksum(data) != record["csv_sha256"]:
        return f"it is not the file written ({record.get('rows')} rows; its checksum differs)"
    try:
        table = pd.read_csv(rows, keep_default_na=False, na_values=["nan", "NaN"])
        evaluated = set(pd.to_numeric(table["epoch"], errors="raise").astype(int))
    except (ValueError, KeyError, pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError):
        return "it is not a readable results table"
    missing = sorted(set(epochs or ()) - evaluated)
    if missing:
        return f"it lacks the rows of epoch(s) {missing[:5]}"
    return None


def foreign_jobs(run_dir: str | Path, parameters_hash: str) -> tuple[list[str], int]:
    """The jobs of ``run_dir`` whose provenance does not name ``parameters_hash``, and how many jobs
    it holds.

    The hash covers every scientific parameter, so it identifies the run as exactly as the
    folder's ``parameters.yaml`` would.
    """
    folder = Path(run_dir) / "jobs"
    jobs = sorted(folder.glob("*.csv")) if folder.is_dir() else []
    foreign = [
        path.stem
        for path in jobs
        if (_record(path.with_suffix(".json")) or {}).get("parameters_hash") != parameters_hash
    ]
    return foreign, len(jobs)
