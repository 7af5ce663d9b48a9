"""The benchmark's gate: a reduced-precision cell slower than its fp32 cell fails the run, loudly."""

import subprocess
import sys

import pytest

from simsvm.bench import benchmark as bench
from simsvm.bench.costs import slower_than_fp32

CELLS = {
    "serial (one network at a time), fp32": 0.52,
    "serial (one network at a time), bf16": 8.67,
    "serial (stack of 4), fp32": 0.60,
    "serial (stack of 4), bf16": 0.66,  # 10 % slower: within the tolerance
    "processes (start-up subtracted), fp32": 0.46,
    "processes (start-up subtracted), bf16": 0.24,
}


def test_the_gate_names_each_cell_slower_than_its_fp32_cell():
    (line,) = slower_than_fp32(CELLS, tolerance=0.15)
    assert line.startswith("FAIL serial (one network at a time), bf16: 8.67 s/model-epoch, ")
    assert "slower than serial (one network at a time), fp32 0.52 s" in line
    assert len(slower_than_fp32(CELLS, tolerance=0.05)) == 2  # the stack's 10 % too


def test_the_gate_passes_fp32_alone_and_cells_without_an_fp32_counterpart():
    assert slower_than_fp32({"serial (stack of 4), fp32": 1.0}) == []
    assert slower_than_fp32({"cuda (stack of 4), bf16": 9.0}) == []


def test_a_slow_cell_makes_the_benchmark_exit_non_zero_naming_it(monkeypatch, capsys):
    def made_up(args, data, specs):
        return {
            "process_startup_s": {"first run": 1.0, "later runs": 0.4},
            "snapshot_s_in_workers": {},
            "reference_s_per_model_epoch": 0.645,
            "backends_s_per_model_epoch": CELLS,
        }

    monkeypatch.setattr(bench, "_time_backends", made_up)
    assert bench.cli(["--check", "--clips", "12", "--frames", "110"]) == 1
    assert "FAIL serial (one network at a time), bf16: 8.67 s/model-epoch" in capsys.readouterr().out
    fast = {name: CELLS[name.replace("bf16", "fp32")] / (2 if "bf16" in name else 1) for name in CELLS}
    timed = {**made_up(None, None, None), "backends_s_per_model_epoch": fast}
    monkeypatch.setattr(bench, "_time_backends", lambda *_: timed)
    assert bench.cli(["--check", "--clips", "12", "--frames", "110"]) == 0
    assert "gate passed" in capsys.readouterr().out


@pytest.mark.slow
def test_no_precision_is_slower_than_fp32_on_this_cpu():
    """The check CI runs (under a minute on 2 cores): every backend in every precision the CPU
    multiplies natively; on a CPU without bfloat16 there are fp32 cells only and it passes.
    The tolerance absorbs a shared machine's noise (bf16's cliff was 13 times fp32's time)."""
    command = [sys.executable, "-m", "simsvm.cli.bench", "--check", "--clips", "200", "--frames", "120"]
    command += ["--epochs", "3", "--models", "2", "--repeats", "2", "--tolerance", "0.25"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "gate passed" in result.stdout
