"""How far a run has got: a progress bar in the run's own terminal, and ``progress.json`` for others.

A run counts its work in model-epochs (one network trained for one epoch): networks finish in
bursts, epochs arrive steadily.  :class:`RunProgress` shows them as one tqdm line and writes them,
at most about once a second, to ``<run>/progress.json``, which is how ``simsvm batch`` draws one
line per running notebook without reading the notebook's own output.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from tqdm import tqdm  # the plain bar: tqdm.auto stays still under papermill

from simsvm._io import write_json_atomic

__all__ = ["PROGRESS_FILE", "RunProgress", "read_progress"]

PROGRESS_FILE = "progress.json"
# Seconds between writes of progress.json: often enough for a live line, rarely enough to cost nothing.
_WRITE_EVERY_S = 1.0


class RunProgress:
    """A run's progress bar and progress file.

    Parameters
    ----------
    run_dir : Path
        The run folder; ``progress.json`` goes there.
    name : str
        The run's name (the bar's label).
    total, done : int
        Model-epochs of the whole run, and of the networks already finished (a resumed run).
    networks, networks_done : int
        Networks of the run, and those already finished.
    show : bool
        Draw the bar (the file is written either way).
    """

    def __init__(
        self,
        run_dir: Path,
        name: str,
        *,
        total: int,
        done: int,
        networks: int,
        networks_done: int,
        show: bool,
    ):
        self.path = Path(run_dir) / PROGRESS_FILE
        self.networks, self.networks_done = networks, networks_done
        self.bar = tqdm(total=total, initial=done, desc=name, unit="model-epoch", disable=not show)
        self.bar.set_postfix(networks=f"{networks_done}/{networks}")
        self._started = time.time()
        self._initial = done
        self._done = done
        self._written = 0.0
        self._write(force=True)

    def epochs(self, count: int = 1) -> None:
        """``count`` more model-epochs done."""
        self._done += count
        self.bar.update(count)
        self._write()

    def network_finished(self) -> None:
        self.networks_done += 1
        self.bar.set_postfix(networks=f"{self.networks_done}/{self.networks}")
        self._write(force=True)

    def close(self) -> None:
        self._write(force=True, finished=True)
        self.bar.close()

    def _write(self, *, force: bool = False, finished: bool = False) -> None:
        now = time.time()
        if not force and now - self._written < _WRITE_EVERY_S:
            return
        self._written = now
        write_json_atomic(
            self.path,
            {
                "model_epochs_done": self._done,
                "model_epochs": self.bar.total,
                "networks_done": self.networks_done,
                "networks": self.networks,
                # this session's pace, for an ETA: a resumed run's earlier epochs took no time here
                "session_model_epochs": self._done - self._initial,
                "session_seconds": round(now - self._started, 1),
                "finished": finished,
            },
        )


def read_progress(run_dir: str | Path) -> dict | None:
    """A run's ``progress.json``, or ``None`` before the run has written one (or mid-replace)."""
    try:
        return json.loads((Path(run_dir) / PROGRESS_FILE).read_text())
    except (OSError, json.JSONDecodeError):
        return None
