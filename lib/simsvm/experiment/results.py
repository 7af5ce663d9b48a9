"""The one results format: a tidy table per run, written a job at a time.

Layout of a run folder ``results/<run>/``::

    parameters.yaml   resolved parameters (every key, defaults filled in)
    data.json         fingerprint of the data read: each audio file's path, size and digest; annotations
    metadata.json     library version, git commit, seeds per job, dataset report, timings
    jobs/<job>.csv    rows of one finished job (one network on one fold), written atomically
    jobs/<job>.json   its provenance: worker, seed, parameters hash and file, git commit
    predictions/<job>.csv  each test file's prediction per approach at the last evaluated epoch
    features/<job>.npz  the job's learned features at every evaluated epoch (``save_features``)
    results.csv       all job files merged and sorted, written atomically at the end
    predictions.csv   all prediction files merged (confusion matrices), written with results.csv

A job file exists only once its job finished, so a restarted run skips exactly the finished jobs
and the merged table can hold neither duplicates nor half a job.  A run is identified by its
scientific parameters and its data fingerprint, not by where the data lies: a moved dataset
resumes, a changed one is refused with the files that differ.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import subprocess
import zipfile
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from simsvm._io import atomic_write, write_json_atomic, write_text_atomic
from simsvm.exceptions import ResultsError
from simsvm.experiment.config import ExperimentConfig
from simsvm.experiment.integrity import checksum, foreign_jobs

__all__ = [
    "COLUMNS",
    "PREDICTIONS_FILE",
    "PREDICTION_COLUMNS",
    "RESULTS_FILE",
    "data_digest",
    "finished_jobs",
    "git_commit",
    "load_features",
    "load_metadata",
    "load_predictions",
    "load_provenance",
    "load_results",
    "merge_jobs",
    "open_run_dir",
    "refuse_other_run",
    "write_features",
    "write_job",
]

# svm_c and svm_gamma: what the SVM behind a score was fitted with (NaN for NN and training losses).
COLUMNS = (
    "dataset",
    "approach",
    "protocol",
    "fold",
    "epoch",
    "target",
    "metric",
    "value",
    "svm_c",
    "svm_gamma",
    "seed",
    "job",
)
# Columns a table written before they existed may lack; they read as NaN.
_LATER_COLUMNS = ("svm_c", "svm_gamma")
RESULTS_FILE = "results.csv"
# One row per test file, approach and target: class names, or values for regression.
PREDICTION_COLUMNS = ("job", "fold", "epoch", "approach", "track", "target", "predicted", "actual")
PREDICTIONS_FILE = "predictions.csv"
_MISSING = object()
log = logging.getLogger(__name__)
_SORT = ["dataset", "protocol", "approach", "fold", "epoch", "metric", "target"]


def _table(rows: Iterable[dict]) -> pd.DataFrame:
    table = pd.DataFrame(list(rows), columns=list(COLUMNS))
    return table.sort_values(_SORT, kind="stable").reset_index(drop=True)


def _csv(table: pd.DataFrame) -> str:
    buffer = io.StringIO()
    table.to_csv(buffer, index=False, float_format="%.10g", na_rep="nan")
    return buffer.getvalue()


def write_job(
    run_dir: str | Path,
    job: str,
    rows: Iterable[dict],
    *,
    provenance: dict | None = None,
    predictions: pd.DataFrame | None = None,
) -> Path:
    """Write the rows of one finished job (``jobs/<job>.csv``), its test predictions
    (``predictions/<job>.csv``, :data:`PREDICTION_COLUMNS`) and its provenance (``jobs/<job>.json``),
    each atomically.

    The provenance is written last and records the rows file's length and SHA-256: it is what
    marks the job finished (:func:`job_problem`), so a rows file cut short, garbled, or left
    without its provenance by a run killed in between is trained again, never merged.
    """
    if predictions is not None:
        write_text_atomic(
            Path(run_dir) / "predictions" / f"{job}.csv",
            _csv(predictions.reindex(columns=list(PREDICTION_COLUMNS))),
        )
    table = _table(rows)
    text = _csv(table)
    path = write_text_atomic(Path(run_dir) / "jobs" / f"{job}.csv", text)
    record = {**(provenance or {"job": job}), "rows": len(table), "csv_sha256": checksum(text.encode())}
    write_json_atomic(Path(run_dir) / "jobs" / f"{job}.json", record)
    return path


def load_provenance(run_dir: str | Path) -> pd.DataFrame:
    """One row per finished job: worker, seed, parameters hash and file, commit, backend, time.

    Join it to ``results.csv`` on ``job`` to trace every result row.
    """
    folder = Path(run_dir) / "jobs"
    records = [json.loads(path.read_text()) for path in sorted(folder.glob("*.json"))]
    return pd.DataFrame(records)


def write_features(
    run_dir: str | Path,
    job: str,
    *,
    epochs: list[int],
    features: np.ndarray,
    track_ids: list[str],
    annotations: np.ndarray,
    n_train: int,
    task: str,
    target_names: tuple[str, ...],
) -> Path:
    """Keep a job's snapshots: ``features`` (epochs, files, d) of ``track_ids``, training files first.

    Written before the job's rows, so a finished job always has its features.
    """

    def write(tmp: Path) -> None:
        with tmp.open("wb") as handle:
            np.savez_compressed(
                handle,
                epochs=np.asarray(epochs, dtype=np.int64),
                features=np.asarray(features, dtype=np.float32),
                track_ids=np.asarray(track_ids, dtype=str),
                annotations=np.asarray(annotations, dtype=np.float32),
                n_train=np.int64(n_train),
                task=np.asarray(task),
                target_names=np.asarray(target_names, dtype=str),
            )

    return atomic_write(Path(run_dir) / "features" / f"{job}.npz", write)


def load_features(run_dir: str | Path, job: str) -> dict[str, np.ndarray]:
    """A job's stored snapshots (see :func:`write_features`); ``n_train`` comes back as an int."""
    path = Path(run_dir) / "features" / f"{job}.npz"
    if not path.is_file():
        raise ResultsError(f"no stored features for job {job!r} at {path} (was save_features off?)")
    try:
        with np.load(path) as stored:
            snapshot = {key: stored[key] for key in stored.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        raise ResultsError(f"{path} is not a readable features file ({error}); run the job again") from error
    snapshot["n_train"] = int(snapshot["n_train"])
    snapshot["task"] = str(snapshot["task"])
    snapshot["target_names"] = tuple(snapshot["target_names"].tolist())
    return snapshot


def finished_jobs(run_dir: str | Path) -> set[str]:
    """The jobs with a rows file (finished, unless :func:`job_problem` finds them damaged)."""
    folder = Path(run_dir) / "jobs"
    return {p.stem for p in folder.glob("*.csv")} if folder.is_dir() else set()


def merge_jobs(run_dir: str | Path, jobs: Iterable[str]) -> pd.DataFrame:
    """Merge the given jobs' files into ``results.csv`` and ``predictions.csv`` (each atomically).

    Returns the results table.
    """
    run_dir = Path(run_dir)
    jobs = list(jobs)
    parts = []
    for job in jobs:
        path = run_dir / "jobs" / f"{job}.csv"
        if not path.is_file():
            raise ResultsError(
                f"job {job!r} has no results file {path}; run the experiment again to finish it"
            )
        parts.append(_read_table(path))
    table = _table(pd.concat(parts, ignore_index=True).to_dict("records") if parts else [])
    predictions = [run_dir / "predictions" / f"{job}.csv" for job in jobs]
    predictions = [
        pd.read_csv(path, keep_default_na=False, na_values=["nan"]) for path in predictions if path.is_file()
    ]
    if predictions:
        merged = pd.concat(predictions, ignore_index=True)
        write_text_atomic(run_dir / PREDICTIONS_FILE, _csv(merged.reindex(columns=list(PREDICTION_COLUMNS))))
    write_text_atomic(run_dir / RESULTS_FILE, _csv(table))
    return table


def load_predictions(run_dir: str | Path) -> pd.DataFrame:
    """A run's merged test predictions (:data:`PREDICTION_COLUMNS`), from its last evaluated epoch."""
    path = Path(run_dir) / PREDICTIONS_FILE
    if not path.is_file():
        raise ResultsError(f"no predictions at {path}; has the run finished (with this version of simsvm)?")
    return pd.read_csv(path, keep_default_na=False, na_values=["nan"])


def load_results(run_dir: str | Path) -> pd.DataFrame:
    """Read a run's merged table."""
    path = Path(run_dir) / RESULTS_FILE
    if not path.is_file():
        raise ResultsError(f"no results table at {path}; has the run finished?")
    return _read_table(path)


def _read_table(path: Path) -> pd.DataFrame:
    try:
        table = pd.read_csv(path, keep_default_na=False, na_values=["nan", "NaN"])
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise ResultsError(f"{path} is not a readable results table: {error}".splitlines()[0]) from error
    missing = [column for column in COLUMNS if column not in table.columns and column not in _LATER_COLUMNS]
    if missing:
        raise ResultsError(f"{path} lacks the columns {missing} of a results table")
    return table.reindex(columns=[*COLUMNS, *(c for c in table.columns if c not in COLUMNS)])


def load_metadata(run_dir: str | Path) -> dict:
    """A run's ``metadata.json``; a missing or corrupt file is a :class:`ResultsError` naming it."""
    path = Path(run_dir) / "metadata.json"
    if not path.is_file():
        raise ResultsError(f"no metadata.json in {run_dir}; is it a run folder (results/<run>)?")
    try:
        metadata = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ResultsError(
            f"{path} is corrupt (not JSON: {error}); delete the run folder to start over"
        ) from error
    if not isinstance(metadata, dict):
        raise ResultsError(f"{path} is corrupt: expected a JSON object")
    return metadata


def git_commit() -> str:
    """The commit of the simsvm source tree, with ``-dirty`` when it has local changes.

    ``'unknown'`` for an installed copy: only a checkout whose ``lib/simsvm`` is this package
    has a commit to report (a site-packages inside some other repository does not).
    """
    package = Path(__file__).resolve().parents[1]

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=package, capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()

    try:
        top = Path(git("rev-parse", "--show-toplevel"))
        if (top / "lib" / "simsvm").resolve() != package:
            return "unknown"
        commit = git("rev-parse", "HEAD")
        dirty = git("status", "--porcelain", "--", ".")
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return commit + ("-dirty" if dirty else "")


def refuse_other_run(config: ExperimentConfig) -> None:
    """Raise :class:`ResultsError` if ``config``'s run folder holds a run with other scientific parameters.

    Reads only; called before the data set is loaded, so that a mistaken name fails at once.
    """
    saved = config.run_dir / "parameters.yaml"
    if not saved.is_file():
        _refuse_unnamed_jobs(config, saved)
        return
    try:
        previous = yaml.safe_load(saved.read_text()) or {}
    except yaml.YAMLError as error:
        raise ResultsError(f"{saved} is corrupt (not YAML); delete the run folder to start over") from error
    scientific = config.scientific_dict()
    changed = sorted(key for key, value in scientific.items() if previous.get(key, _MISSING) != value)
    if changed:
        raise ResultsError(
            f"{config.run_dir} holds a run of '{config.name}' with other values of {changed}; "
            f"choose another name or delete that folder"
        )


def _refuse_unnamed_jobs(config: ExperimentConfig, saved: Path) -> None:
    """A run folder with jobs but without ``parameters.yaml``: resume only if every job proves it
    belongs (:func:`~simsvm.experiment.integrity.foreign_jobs`), else refuse."""
    foreign, total = foreign_jobs(config.run_dir, config.parameters_hash())
    if foreign:
        raise ResultsError(
            f"{config.run_dir} has no parameters.yaml, and {len(foreign)} of its {total} jobs "
            f"(e.g. {foreign[0]}) were not made with these parameters (hash {config.parameters_hash()}); "
            f"restore {saved.name}, choose another name or delete that folder"
        )
    if total:
        log.warning(
            "%s: parameters.yaml is missing; every job records these parameters' hash, so the run resumes",
            config.run_dir,
        )


def data_digest(fingerprint: dict) -> str:
    """16 hex digits identifying a data fingerprint (with the parameters hash: the run's identity)."""
    return hashlib.sha256(json.dumps(fingerprint, sort_keys=True).encode()).hexdigest()[:16]


def _differences(previous: dict, current: dict, limit: int = 8) -> list[str]:
    """The files two fingerprints disagree on, as short phrases.

    A ``data.json`` written before content digests (no ``content``) is compared by size only;
    the run's next session records the digests.
    """
    before, after = previous.get("files", {}), current["files"]
    phrases = [f"{name} is new" for name in sorted(set(after) - set(before))]
    phrases += [f"{name} is gone or now skipped" for name in sorted(set(before) - set(after))]
    phrases += [
        f"{name} changed size ({before[name]} -> {after[name]} bytes)"
        for name in sorted(set(before) & set(after))
        if before[name] != after[name]
    ]
    # same size, other bytes: a clip copied over one of the same length (cp -p keeps the mtime too)
    old_content, new_content = previous.get("content") or {}, current.get("content") or {}
    phrases += [
        f"{name} changed content (same size, other bytes)"
        for name in sorted(set(old_content) & set(new_content) & set(before) & set(after))
        if before[name] == after[name] and old_content[name] != new_content[name]
    ]
    before, after = previous.get("annotations", {}), current["annotations"]
    phrases += [
        f"the annotation of {track} changed"
        for track in sorted(set(before) & set(after))
        if before[track] != after[track]
    ]
    if len(phrases) > limit:
        phrases = [*phrases[:limit], f"... {len(phrases) - limit} more"]
    return phrases


def open_run_dir(config: ExperimentConfig, fingerprint: dict) -> Path:
    """Create the run folder, or check that an existing one holds this run on this data.

    ``fingerprint`` is the loaded dataset's (:meth:`~simsvm.data.datasets.Dataset.fingerprint`).
    Called once the data set has loaded, so nothing is written for a run whose data cannot be
    read.  A folder whose data fingerprint differs is refused, naming the files that differ.
    """
    refuse_other_run(config)
    run_dir = config.run_dir
    saved = run_dir / "data.json"
    if saved.is_file():
        try:
            previous = json.loads(saved.read_text())
        except json.JSONDecodeError as error:
            raise ResultsError(
                f"{saved} is corrupt (not JSON); delete the run folder to start over"
            ) from error
        differences = _differences(previous, fingerprint)
        if differences:
            raise ResultsError(
                f"{run_dir} holds a run of '{config.name}' on other data ({'; '.join(differences)}); "
                "choose another name or delete that folder"
            )
    write_text_atomic(run_dir / "parameters.yaml", yaml.safe_dump(config.to_dict(), sort_keys=False))
    write_json_atomic(saved, fingerprint)
    return run_dir
