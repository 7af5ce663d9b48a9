"""Worker processes end with their run, and a script without a ``__main__`` guard is not re-run by them.

Each test starts ``simsvm`` or a script in a subprocess; before the fixes, a killed run left its
forkserver, workers and resource tracker alive for good (about 0.8 GB), and every worker of an
unguarded script ran the script again (a traceback, then BrokenProcessPool)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.slow

SIMSVM = str(Path(sys.executable).parent / "simsvm")


def _descendants(pid: int) -> dict[int, str]:
    """Every process below ``pid``, read from /proc: pid -> command line."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    found, frontier = {}, {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier}
        for child in frontier:
            try:
                found[child] = (Path(f"/proc/{child}/cmdline").read_bytes().replace(b"\0", b" ")).decode()
            except OSError:
                found[child] = "?"
    return found


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"  # a zombie has ended; only its parent's wait is missing


def _parameters(synth_root, tmp_path, **changes) -> Path:
    path = tmp_path / "p.yaml"
    values = {
        "name": "long",
        "dataset": "gtzan",
        "data_dir": str(synth_root / "gtzan"),
        "results_dir": str(tmp_path / "results"),
        "cache_dir": str(tmp_path / "cache"),
        "folds": 2,
        "epochs": 100_000,
        "eval_every": 100_000,
        "hidden_sizes": [12, 6],
        "batch_size": 10,
        "excerpt_length": 40,
        "backend": "processes",
        "workers": 2,
        "progress": False,
        "approaches": ["FL"],
        **changes,
    }
    path.write_text(yaml.safe_dump(values))
    return path


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads the process tree from /proc")
@pytest.mark.parametrize("how", ["SIGKILL", "SIGTERM"])
def test_the_workers_end_when_their_run_is_killed(how, synth_root, tmp_path):
    run = subprocess.Popen(
        [SIMSVM, "run", str(_parameters(synth_root, tmp_path))],
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # a signal to the test's group must not reach it, nor its to ours
    )
    try:
        deadline = time.time() + 180
        while time.time() < deadline:  # the forkserver's children are the training workers
            children = _descendants(run.pid)
            if sum(1 for command in children.values() if "forkserver" in command) >= 3:
                break
            assert run.poll() is None, run.stderr.read()
            time.sleep(0.5)
        else:
            pytest.fail(f"no workers within 180 s: {children}")
        time.sleep(2)  # the workers are training
        children = _descendants(run.pid)
        run.send_signal(getattr(signal, how))
        status = run.wait(timeout=30)
        deadline = time.time() + 15
        while time.time() < deadline and any(_running(pid) for pid in children):
            time.sleep(0.2)
        left = {pid: command for pid, command in children.items() if _running(pid)}
        assert not left, f"still running after the run ended: {left}"
        if how == "SIGTERM":  # turned into a clean stop: a status and a line, not a silent death
            assert status == 143 and "simsvm: terminated; finished jobs are kept" in run.stderr.read()
    finally:
        if run.poll() is None:
            run.kill()
        for pid in _descendants(run.pid):
            if _running(pid):
                os.kill(pid, signal.SIGKILL)


def test_a_script_without_a_main_guard_runs_once(synth_root, tmp_path):
    parameters = _parameters(synth_root, tmp_path, epochs=1, eval_every=1, name="script")
    script = tmp_path / "experiment.py"
    script.write_text(
        textwrap.dedent(
            f"""
            import simsvm

            print("the script runs", flush=True)
            table = simsvm.run_experiment(simsvm.load_config({str(parameters)!r}))
            print("rows", len(table), flush=True)
            """
        )
    )
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=300, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.count("the script runs") == 1 and "rows" in done.stdout
    assert (tmp_path / "results" / "script" / "results.csv").is_file()


def test_a_function_of_an_unguarded_script_sent_to_workers_is_named(tmp_path):
    script = tmp_path / "train.py"
    tests = Path(__file__).parent
    script.write_text(
        textwrap.dedent(
            f"""
            import sys
            sys.path.insert(0, {str(tests)!r})
            from helpers import small_spec, small_training_data
            from simsvm.train.backends import ProcessBackend
            from simsvm.train.jobs import train_set

            def evaluate(snapshot):
                return snapshot.epoch

            data = small_training_data()
            spec = small_spec(data, "one", "baseline", 1, epochs=1, eval_every=1)
            list(train_set([spec], data, backend=ProcessBackend(workers=1), evaluate=[evaluate]))
            """
        )
    )
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 1
    assert f"simsvm.exceptions.ParameterError: {script}: evaluate, defined in this script" in done.stderr
    assert 'if __name__ == "__main__":' in done.stderr
