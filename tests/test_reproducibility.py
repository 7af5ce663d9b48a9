"""The committed demo figures come back on this machine, with the Makefile's portable arithmetic."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from simsvm.report import plots

ROOT = Path(__file__).resolve().parents[1]


def portable_cpu_settings() -> dict[str, str]:
    """The Makefile's PORTABLE_CPU assignments (the one place they are written)."""
    text = (ROOT / "Makefile").read_text().replace("\\\n", " ")
    (line,) = re.findall(r"^PORTABLE_CPU := (.*)$", text, flags=re.MULTILINE)
    return dict(item.split("=", 1) for item in line.split())


def test_the_portable_settings_are_the_ones_each_session_records():
    from simsvm.experiment.run import _ARITHMETIC_SETTINGS

    assert sorted(portable_cpu_settings()) == sorted(_ARITHMETIC_SETTINGS)


@pytest.mark.slow
def test_the_demo_gtzan_run_reproduces_the_committed_scores(tmp_path):
    """Within each cell's fold standard deviation, the tolerance measured across CPU kinds.

    On one machine the rerun is usually byte for byte the committed table; one CI run on a busy
    machine gave a Poly-SL cell 0.013 away (within its s.d. of 0.06), not yet explained, so the
    check is the README's cross-machine tolerance rather than equality.
    """
    environment = {**os.environ, **portable_cpu_settings()}
    simsvm = [sys.executable, "-m", "simsvm.cli"]
    data = tmp_path / "synth"
    subprocess.run(
        [
            *simsvm,
            "data",
            "synth",
            "--out",
            str(data),
            "--datasets",
            "gtzan",
            "--clips-per-class",
            "16",
            "--duration",
            "6",
        ],
        check=True,
        env=environment,
        capture_output=True,
    )
    run = subprocess.run(
        [
            *simsvm,
            "run",
            str(ROOT / "parameters" / "demo-gtzan.yaml"),
            "--set",
            f"data_dir={data / 'gtzan'}",
            "--set",
            f"embedding_file={data / 'gtzan' / 'embeddings.csv'}",
            "--set",
            f"results_dir={tmp_path / 'results'}",
            "--set",
            f"cache_dir={tmp_path / 'cache'}",
            "--set",
            "progress=false",
        ],
        env=environment,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    table = pd.read_csv(tmp_path / "results" / "demo-gtzan" / "results.csv")
    rerun = plots.final_scores(table).loc["accuracy"]
    committed = pd.read_csv(ROOT / "figures" / "scores-demo-gtzan.csv", index_col=[0, 1]).loc["accuracy"]
    for approach in ("NN", "FL", "RBF-SL", "Cos-SL", "Poly-SL", "Stats"):
        ours = rerun[f"{approach} mean"].to_numpy()
        theirs, spread = committed[f"{approach} mean"].to_numpy(), committed[f"{approach} std"].to_numpy()
        assert (abs(ours - theirs) <= spread + 1e-3).all(), (approach, ours, theirs, spread)
