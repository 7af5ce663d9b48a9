"""Batch runs: ``notebooks/experiment.ipynb`` once per parameter file with papermill, then the summary.

Layout of a batch ``results/<batch>/``::

    <name>/              the run folder of each experiment (see simsvm.experiment.results)
    <name>.ipynb         the executed experiment notebook (partial when it failed)
    <name>.error.txt     why a run failed, when it did
    <name>/progress.json how far a running run has got (what the batch's progress lines show)
    batch.json           each run's parameter file and parameters hash
    summary.ipynb        the executed summary notebook
    report.html          the same, as a page to read: each run, the overview, the significance tests
    figures/             the report's figures (PNG, SVG) and tables (CSV, Markdown)

A run whose ``<name>/results.csv`` exists is complete and skipped, so a batch started again
resumes; an unfinished run resumes inside its own folder (finished networks are kept).
"""

from __future__ import annotations

import functools
import json
import os
import traceback
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from simsvm._io import atomic_write, write_json_atomic, write_text_atomic
from simsvm.cli.terminal import BatchTerminal, run_headline
from simsvm.exceptions import ParameterError
from simsvm.experiment.config import ExperimentConfig, load_config
from simsvm.experiment.notebook import PATH_KEYS
from simsvm.experiment.results import RESULTS_FILE
from simsvm.names import DEFAULT_CELL_TIMEOUT_S

__all__ = ["NOTEBOOKS", "REPORT_FILE", "BatchReport", "check_parameters", "make_report", "run_batch"]

# The report of a batch, beside its runs.
REPORT_FILE = "report.html"


def _notebook_folder() -> Path:
    """Where the suite's notebooks are: inside the installed package, or in the source checkout."""
    package = Path(__file__).resolve().parents[1]
    for folder in (package / "notebooks", package.parents[1] / "notebooks"):
        if (folder / "experiment.ipynb").is_file():
            return folder
    return package / "notebooks"  # missing: run_batch says so


NOTEBOOKS = _notebook_folder()


@dataclass
class BatchReport:
    """What a batch did; ``failed`` maps run names to their error files."""

    batch_dir: Path
    finished: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, Path] = field(default_factory=dict)
    summary: Path | None = None

    def describe(self) -> str:
        """The batch as a table: each run's status and what it scored, or where its error is."""
        lines = [f"batch {self.batch_dir}:"]
        lines += [f"  finished  {name}: {run_headline(self.batch_dir / name)}" for name in self.finished]
        lines += [
            f"  complete  {name} (skipped): {run_headline(self.batch_dir / name)}" for name in self.skipped
        ]
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


@functools.cache
def _kernel_manager_class() -> type:
    """Kernels that talk to the batch over encrypted sockets where pyzmq can (CurveZMQ), and are
    shut down without an interrupt first.

    Encryption: besides not sending results in plain text over local TCP, this spares every
    kernel start ipykernel's warning about unencrypted transport.  The interrupt: jupyter_client
    sends SIGINT before every shutdown request, for a kernel still executing; a notebook's
    kernel has finished by then, but on a busy machine the signal can land while ipykernel is
    still leaving its last cell, which then logs "KeyboardInterrupt caught in kernel" to the
    batch's terminal.  A kernel that does not stop on the request gets SIGTERM, then SIGKILL.
    """
    import zmq
    from jupyter_client.manager import AsyncKernelManager

    class BatchKernelManager(AsyncKernelManager):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            if zmq.has("curve"):
                self.transport_encryption = "auto"  # when the kernel declares support, as ipykernel does

        async def _async_interrupt_kernel(self) -> None:
            if not self.shutting_down:
                await super()._async_interrupt_kernel()

    return BatchKernelManager


def _execute(notebook: Path, output: Path, parameters: dict, cell_timeout_s: int, verbose: bool) -> None:
    import papermill

    papermill.execute_notebook(
        str(notebook),
        str(output),
        parameters=parameters,
        kernel_name="python3",
        progress_bar=False,
        log_output=verbose,  # every cell's output, streamed to this terminal
        execution_timeout=cell_timeout_s,
        cwd=os.getcwd(),
        kernel_manager_class=_kernel_manager_class(),
    )


def _run_one(
    config: ExperimentConfig,
    source: Path,
    batch_dir: Path,
    cell_timeout_s: int,
    verbose: bool,
    terminal: BatchTerminal,
) -> tuple[str, str, Path | None]:
    # Every key given, paths absolute: the notebook reads nothing else, wherever its kernel starts.
    # The kernels' and losses' keys travel as one mapping (the notebook declares them so).
    everything = {**config.to_dict(), "results_dir": str(batch_dir.resolve())}
    everything.update(
        {key: str(Path(everything[key]).resolve()) for key in PATH_KEYS if everything[key] is not None}
    )
    general = ExperimentConfig.general_keys()
    values = {key: everything[key] for key in general} | {"parameter_file": None}
    values["kernel_and_loss_keys"] = {key: value for key, value in everything.items() if key not in general}
    terminal.started(config.name, batch_dir / config.name)
    try:
        _execute(
            NOTEBOOKS / "experiment.ipynb",
            batch_dir / f"{config.name}.ipynb",
            values,
            cell_timeout_s,
            verbose,
        )
    except Exception as error:  # papermill's execution error or a kernel that died
        error_file = _record_failure(batch_dir / f"{config.name}.error.txt", source, error)
        terminal.ended(config.name, f"FAILED, see {error_file}")
        return config.name, "failed", error_file
    terminal.ended(config.name, f"finished, {run_headline(batch_dir / config.name)}")
    return config.name, "finished", None


def _record_failure(error_file: Path, source: Path, error: Exception) -> Path:
    """Write what failed (and where to look) beside the partial notebook; return the file."""
    message = "".join(traceback.format_exception_only(type(error), error))
    write_text_atomic(error_file, f"from: {source}\n\n{message}")
    return error_file


def run_batch(
    parameter_files: list[str | Path],
    *,
    batch: str = "batch",
    results_dir: str | Path = "results",
    jobs: int = 1,
    summary: bool = True,
    figures_dir: str | Path | None = None,
    cell_timeout_s: int = DEFAULT_CELL_TIMEOUT_S,
    overrides: dict | None = None,
    scheduler: str | None = None,
    workers: int | None = None,
    verbose: bool = False,
    progress: bool = True,
) -> BatchReport:
    """Execute the experiment notebook for each parameter file (``jobs`` at a time), then the summary.

    Every parameter file is checked before anything runs: its keys against the configuration and
    against the notebook's declared parameters.  A failed run leaves its partial notebook and an
    error file and does not stop the others.  The summary is :func:`make_report`: its figures go
    to ``figures_dir`` (default ``<results_dir>/<batch>/figures``).

    ``scheduler`` sends every run's training jobs to that dask cluster; ``workers`` starts a
    local dask cluster of that many processes for the whole batch (or, without dask installed,
    gives each run that many worker processes).  Both override the files' ``backend``.

    The terminal shows one progress line per running run and one line per run that ends;
    ``verbose`` streams every cell's output as well (papermill's log), ``progress`` False drops
    the progress lines.
    """
    from simsvm.experiment.config import check_folder_name

    check_folder_name("batch name (--name)", batch)  # it becomes <results_dir>/<batch>: one folder
    # Deferred for start-up time only (it imports torch); the batch process itself trains nothing.
    from simsvm.train.cluster import dask_available, local_cluster

    overrides = dict(overrides or {})
    cluster = None
    if scheduler is None and workers is not None and dask_available():
        cluster = local_cluster(workers)
        scheduler = cluster.scheduler_address
    if scheduler is not None:
        overrides.update(backend="dask", scheduler=scheduler)
    elif workers is not None:
        overrides.update(backend="processes", workers=workers)
    try:
        return _run_batch(
            paths=parameter_files,
            batch=batch,
            results_dir=results_dir,
            jobs=jobs,
            summary=summary,
            figures_dir=figures_dir,
            cell_timeout_s=cell_timeout_s,
            overrides=overrides,
            verbose=verbose,
            progress=progress,
        )
    finally:
        if cluster is not None:
            cluster.close()


def _run_batch(
    *,
    paths: list[str | Path],
    batch: str,
    results_dir: str | Path,
    jobs: int,
    summary: bool,
    figures_dir: str | Path | None,
    cell_timeout_s: int,
    overrides: dict,
    verbose: bool,
    progress: bool,
) -> BatchReport:
    batch_dir = Path(results_dir) / batch
    if not (NOTEBOOKS / "experiment.ipynb").is_file():
        raise RuntimeError(f"this copy of simsvm has no notebooks (looked in {NOTEBOOKS}); reinstall it")
    paths = [Path(p) for p in paths]
    if not paths:
        raise ParameterError("no parameter files given")
    configs: dict[str, tuple[Path, ExperimentConfig]] = {}
    for path in paths:
        config = load_config(path, overrides)
        check_parameters(
            NOTEBOOKS / "experiment.ipynb", {key: None for key in ExperimentConfig.general_keys()}
        )
        if config.name in configs:
            raise ParameterError(
                f"{path} and {configs[config.name][0]} both use the run name {config.name!r}"
            )
        configs[config.name] = (path, config)
    report = BatchReport(batch_dir=batch_dir)
    complete = {name for name in configs if (batch_dir / name / RESULTS_FILE).is_file()}
    report.skipped = [name for name in configs if name in complete]
    todo = [(path, config) for name, (path, config) in configs.items() if name not in complete]
    batch_dir.mkdir(parents=True, exist_ok=True)
    # Which file each run came from: with the parameters hash in every job's provenance, this
    # traces each result row back to its parameter file.
    sources = {
        name: {"parameters_file": str(path.resolve()), "parameters_hash": config.parameters_hash()}
        for name, (path, config) in configs.items()
    }
    ledger = batch_dir / "batch.json"
    earlier = json.loads(ledger.read_text())["runs"] if ledger.is_file() else {}
    write_json_atomic(ledger, {"runs": {**earlier, **sources}})
    terminal = BatchTerminal(show=progress)
    try:
        for name in report.skipped:
            terminal.note(f"{name}: complete, skipped")
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            outcomes = pool.map(
                lambda item: _run_one(item[1], item[0], batch_dir, cell_timeout_s, verbose, terminal), todo
            )
            for name, status, error_file in outcomes:
                if status == "finished":
                    report.finished.append(name)
                else:
                    report.failed[name] = error_file
    finally:
        terminal.close()
    if summary:
        try:
            report.summary = make_report(
                batch_dir, figures_dir=figures_dir, cell_timeout_s=cell_timeout_s, verbose=verbose
            )
        except Exception as error:  # papermill's execution error or a kernel that died
            output = batch_dir / "summary.ipynb"
            report.failed["summary"] = _record_failure(batch_dir / "summary.error.txt", output, error)
    return report


def make_report(
    batch_dir: str | Path,
    *,
    figures_dir: str | Path | None = None,
    cell_timeout_s: int = DEFAULT_CELL_TIMEOUT_S,
    verbose: bool = False,
) -> Path:
    """Execute the summary notebook on a batch folder and write its report as one HTML page.

    The executed notebook goes to ``<batch_dir>/summary.ipynb``; the page, its code hidden and its
    figures embedded, to ``<batch_dir>/report.html`` (written atomically, so a reader never finds
    half a page); figures and tables to ``figures_dir`` (default ``<batch_dir>/figures``).

    Returns
    -------
    Path
        The report page.

    Raises
    ------
    Exception
        papermill's error when a cell fails (e.g. no finished run in ``batch_dir``).
    """
    import nbformat
    from nbconvert import HTMLExporter

    batch_dir = Path(batch_dir).resolve()
    figures = Path(figures_dir).resolve() if figures_dir is not None else batch_dir / "figures"
    output = batch_dir / "summary.ipynb"
    _execute(
        NOTEBOOKS / "summary.ipynb",
        output,
        {"results_dir": str(batch_dir), "figures_dir": str(figures)},
        cell_timeout_s,
        verbose=verbose,
    )
    # A reader wants the report, not the code that drew it nor the notebook's own notes on its
    # parameters: code, prompts and Markdown cells are left out, what the cells display stays.
    exporter = HTMLExporter(
        exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True, exclude_markdown=True
    )
    body, _ = exporter.from_notebook_node(nbformat.read(output, as_version=4))
    page = batch_dir / REPORT_FILE
    atomic_write(page, lambda tmp: tmp.write_text(body, encoding="utf-8"))
    return page
