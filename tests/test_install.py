"""A regular (non-editable) install works without the source tree: notebooks (and the C++ source
of the compiled loops) ship in the wheel."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from helpers import TINY_RUN

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_batch_runs_from_a_wheel_install_outside_the_checkout(synth_root, tmp_path):
    wheels, target, work = tmp_path / "wheels", tmp_path / "site", tmp_path / "elsewhere"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run(
        [*pip, "wheel", str(ROOT), "--no-deps", "-w", str(wheels)], check=True, capture_output=True
    )
    (wheel,) = wheels.glob("simsvm-*.whl")
    subprocess.run(
        [*pip, "install", "--no-deps", "--target", str(target), str(wheel)], check=True, capture_output=True
    )
    work.mkdir()
    parameters = work / "tiny.yaml"
    parameters.write_text(
        yaml.safe_dump(
            {
                "name": "tiny",
                "dataset": "gtzan",
                "data_dir": str(synth_root / "gtzan"),
                "cache_dir": str(tmp_path / "cache"),
                **TINY_RUN,
                "approaches": ["FL"],
            }
        )
    )
    # The installed copy first on the path; the other dependencies from this environment.
    environment = {**os.environ, "PYTHONPATH": str(target)}
    check = subprocess.run(
        [
            sys.executable,
            "-c",
            "import simsvm.cli.batch as b, simsvm.experiment.results as r; "
            "print(b.NOTEBOOKS); print(r.git_commit())",
        ],
        cwd=work,
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    )
    notebooks, commit = check.stdout.split()
    assert Path(notebooks) == target / "simsvm" / "notebooks" and commit == "unknown"
    # bf16's compiled loops are built from their source on first use, so it ships too
    assert (target / "simsvm" / "engine" / "fused_gru.cpp").is_file()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "simsvm.cli",
            "batch",
            str(parameters),
            "--figures-dir",
            str(work / "figures"),
        ],
        cwd=work,
        env=environment,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert (work / "results" / "batch" / "tiny" / "results.csv").is_file()
    assert (work / "figures" / "scores-tiny.md").is_file()
