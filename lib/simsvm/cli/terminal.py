"""What ``simsvm batch`` prints: one live line per running notebook, one line per finished run.

Each experiment notebook runs in its own kernel, and its own progress bar goes into the notebook,
not here.  The batch instead follows each run's ``progress.json`` (written by
:class:`~simsvm.experiment.progress.RunProgress`) and draws one tqdm line per running run, in
model-epochs with an ETA; when a run ends the line gives way to the run's result: the task's
score per approach at the last epoch, or where its error is.  The full notebook, cell outputs
included, stays in the batch folder.
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

from tqdm import tqdm

from simsvm.exceptions import ResultsError
from simsvm.experiment.approaches import APPROACHES
from simsvm.experiment.progress import PROGRESS_FILE, read_progress
from simsvm.experiment.results import load_metadata, load_results
from simsvm.names import METRICS

__all__ = ["BatchTerminal", "run_headline"]

# Seconds between looks at the running runs' progress files.
_POLL_S = 0.5


def run_headline(run_dir: Path) -> str:
    """One line of what a finished run scored: the mean over folds per approach at the last epoch."""
    try:
        table = load_results(run_dir)
    except ResultsError as error:
        return str(error)
    scores = table[table.metric.isin(METRICS.values()) & table.target.isin(["all", "mean"])]
    if scores.empty:
        return "no scores"
    last = scores[scores.epoch == scores.epoch.max()]
    means = last.groupby("approach").value.mean()
    metric = "accuracy" if "accuracy" in set(last.metric) else "mean R"
    parts = [f"{approach} {means[approach]:.3f}" for approach in APPROACHES if approach in means.index]
    line = f"epoch {int(last.epoch.max())} {metric}: " + ", ".join(parts)
    try:
        skipped = len(load_metadata(run_dir).get("load_report", {}).get("skipped", []))
    except ResultsError:
        skipped = 0
    if skipped:
        line += f" ({skipped} file(s) skipped, see {run_dir / 'metadata.json'})"
    return line


class BatchTerminal:
    """Progress lines of the running runs of a batch, and a line for each run that ends.

    Safe to call from the batch's worker threads; a background thread redraws the lines.
    """

    def __init__(self, *, show: bool = True):
        self.show = show
        self._bars: dict[str, tuple[tqdm, Path, float]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._follow, daemon=True)
        self._thread.start()

    def started(self, name: str, run_dir: Path) -> None:
        with self._lock:
            taken = {abs(bar.pos) for bar, _, _ in self._bars.values()}
            position = min(set(range(len(taken) + 1)) - taken)  # the line a finished run left
            bar = tqdm(
                total=None,
                desc=f"running {name}",
                unit="model-epoch",
                position=position,
                leave=False,
                disable=not self.show,
                mininterval=1.0 if sys.stderr.isatty() else 30.0,
            )
            self._bars[name] = (bar, run_dir, time.time())

    def ended(self, name: str, outcome: str) -> str:
        """Close ``name``'s line and print ``name: outcome (time)``; returns the printed line."""
        with self._lock:
            bar, _, started = self._bars.pop(name, (None, None, time.time()))
            if bar is not None:
                bar.close()
            line = f"{name}: {outcome} [{_minutes(time.time() - started)}]"
            tqdm.write(line)
        return line

    def note(self, line: str) -> None:
        with self._lock:
            tqdm.write(line)

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        with self._lock:
            for bar, _, _ in self._bars.values():
                bar.close()
            self._bars.clear()

    def _follow(self) -> None:
        while not self._stop.wait(_POLL_S):
            with self._lock:
                for bar, run_dir, started in self._bars.values():
                    progress = read_progress(run_dir)
                    if progress is None or progress.get("finished") or _older(run_dir, started):
                        continue  # not yet written by this session (a resumed run's file is stale)
                    if bar.total != progress["model_epochs"]:  # the run has planned its networks
                        bar.reset(total=progress["model_epochs"])
                        bar.initial = bar.n = progress["model_epochs_done"]
                    elif progress["model_epochs_done"] > bar.n:
                        bar.update(progress["model_epochs_done"] - bar.n)
                    # drawn with the next update, at most every mininterval: one line in a terminal,
                    # and in a log file (no terminal) a line every half minute rather than every poll
                    bar.set_postfix(
                        networks=f"{progress['networks_done']}/{progress['networks']}", refresh=False
                    )


def _older(run_dir: Path, time_s: float) -> bool:
    try:
        return (run_dir / PROGRESS_FILE).stat().st_mtime < time_s
    except OSError:
        return True


def _minutes(seconds: float) -> str:
    minutes, seconds = divmod(round(seconds), 60)
    return f"{minutes}m{seconds:02d}s"
