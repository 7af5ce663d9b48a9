"""Batch runs: ``notebooks/experiment.ipynb`` once per parameter file with papermill, then the summary.

Layout of a batch ``results/<batch>/``::

    <name>/              the run folder of each experiment (see simsvm.results)
    <name>.ipynb         the executed experiment notebook (partial when it failed)
    <name>.error.txt     why a run failed, when it did
    summary.ipynb        the executed summary notebook

A run whose ``<name>/results.csv`` exists is complete and skipped, so a batch started again
resumes; an unfinished run resumes inside its own folder (finished networks are kept).
"""

from __future__ import annotations

import os
import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ._io import write_text_atomic
from .config import load_config
from .exceptions import ParameterError
from .results import RESULTS_FILE

__all__ = ["NOTEBOOKS", "BatchReport", "check_parameters", "run_batch"]

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
# Per-cell limit: a hung kernel cannot stall a batch for longer than this.
DEFAULT_CELL_TIMEOUT_S = 4 * 3600


@dataclass
class BatchReport:
    """What a batch did; ``failed`` maps run names to their error files."""

    batch_dir: Path
    finished: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, Path] = field(default_factory=dict)
    summary: Path | None = None

    def describe(self) -> str:
        lines = [f"batch {self.batch_dir}:"]
        lines += [f"  finished  {name}: {self.batch_dir / name}" for name in self.finished]
        lines += [f"  complete  {name} (skipped)" for name in self.skipped]
        lines += [f"  FAILED    {name}: see {path}" for name, path in self.failed.items()]
        if self.summary:
            lines.append(f"  summary   {self.summary}")
        return "\n".join(lines)


def check_parameters(notebook: str | Path, parameters: dict) -> None:
    """Refuse parameters the notebook does not declare: papermill would only warn and ignore them."""
    import papermill

    declared = set(papermill.inspect_notebook(str(notebook)))
    unknown = sorted(set(parameters) - declared)
    if unknown:
        raise ParameterError(f"{notebook}: parameter(s) {unknown} are not declared in its 'parameters' cell")


def _execute(notebook: Path, output: Path, parameters: dict, cell_timeout_s: int, log_output: bool) -> None:
    import papermill

    papermill.execute_notebook(
        str(notebook),
        str(output),
        parameters=parameters,
        kernel_name="python3",
        progress_bar=False,
        log_output=log_output,  # the notebook's own progress bars, streamed to this terminal
        execution_timeout=cell_timeout_s,
        cwd=os.getcwd(),
    )


def _run_one(
    path: Path, batch_dir: Path, cell_timeout_s: int, overrides: dict, log_output: bool
) -> tuple[str, str, Path | None]:
    values = {**(yaml.safe_load(path.read_text()) or {}), **overrides, "results_dir": str(batch_dir)}
    name = values.get("name", path.stem)
    try:
        _execute(
            NOTEBOOKS / "experiment.ipynb", batch_dir / f"{name}.ipynb", values, cell_timeout_s, log_output
        )
    except Exception as error:  # papermill's execution error or a kernel that died
        error_file = batch_dir / f"{name}.error.txt"
        message = "".join(traceback.format_exception_only(type(error), error))
        write_text_atomic(error_file, f"parameter file: {path}\n\n{message}")
        return name, "failed", error_file
    return name, "finished", None


def run_batch(
    parameter_files: list[str | Path],
    *,
    batch: str = "batch",
    results_dir: str | Path = "results",
    jobs: int = 1,
    summary: bool = True,
    figures_dir: str | Path = "figures",
    cell_timeout_s: int = DEFAULT_CELL_TIMEOUT_S,
    overrides: dict | None = None,
) -> BatchReport:
    """Execute the experiment notebook for each parameter file (``jobs`` at a time), then the summary.

    Every parameter file is checked before anything runs: its keys against the configuration and
    against the notebook's declared parameters.  A failed run leaves its partial notebook and an
    error file and does not stop the others.
    """
    overrides = dict(overrides or {})
    batch_dir = Path(results_dir) / batch
    paths = [Path(p) for p in parameter_files]
    if not paths:
        raise ParameterError("no parameter files given")
    names = {}
    for path in paths:
        config = load_config(path, overrides)
        check_parameters(NOTEBOOKS / "experiment.ipynb", config.to_dict())
        if config.name in names:
            raise ParameterError(f"{path} and {names[config.name]} both use the run name {config.name!r}")
        names[config.name] = path
    report = BatchReport(batch_dir=batch_dir)
    todo = [p for p in paths if not (batch_dir / load_config(p, overrides).name / RESULTS_FILE).is_file()]
    report.skipped = [load_config(p, overrides).name for p in paths if p not in todo]
    batch_dir.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        # one run at a time: stream its output; several: keep the terminal readable
        outcomes = pool.map(lambda p: _run_one(p, batch_dir, cell_timeout_s, overrides, jobs == 1), todo)
        for name, status, error_file in outcomes:
            if status == "finished":
                report.finished.append(name)
            else:
                report.failed[name] = error_file
    if summary:
        report.summary = batch_dir / "summary.ipynb"
        _execute(
            NOTEBOOKS / "summary.ipynb",
            report.summary,
            {"results_dir": str(batch_dir), "figures_dir": str(figures_dir)},
            cell_timeout_s,
            log_output=False,
        )
    return report
