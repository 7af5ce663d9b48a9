import subprocess
import sys

import pandas as pd
import pytest
import yaml


def _simsvm(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "simsvm.cli", *args], capture_output=True, text=True, cwd=cwd
    )


def test_unknown_key_exits_with_a_message_naming_it(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump({"name": "x", "dataset": "gtzan", "data_dir": "d", "epoch": 3}))
    result = _simsvm("run", str(path))
    assert result.returncode == 2
    assert "unknown key(s) ['epoch']" in result.stderr and "Traceback" not in result.stderr


def test_missing_data_folder_exits_with_a_message_naming_it(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump({"name": "x", "dataset": "gtzan", "data_dir": str(tmp_path / "absent")}))
    result = _simsvm("run", str(path), "--set", f"results_dir={tmp_path / 'r'}")
    assert result.returncode == 2 and "absent" in result.stderr and "simsvm data synth" in result.stderr


@pytest.mark.slow
def test_synth_then_run(tmp_path):
    result = _simsvm(
        "data",
        "synth",
        "--out",
        str(tmp_path / "data"),
        "--datasets",
        "gtzan",
        "--clips-per-class",
        "2",
        "--duration",
        "3",
    )
    assert result.returncode == 0, result.stderr
    parameters = tmp_path / "p.yaml"
    parameters.write_text(
        yaml.safe_dump(
            {
                "name": "cli",
                "dataset": "gtzan",
                "data_dir": str(tmp_path / "data" / "gtzan"),
                "folds": 2,
                "epochs": 1,
                "eval_every": 1,
                "hidden_sizes": [8, 4],
                "excerpt_length": 40,
                "approaches": ["RBF-SL", "NN"],
                "results_dir": str(tmp_path / "results"),
                "cache_dir": str(tmp_path / "cache"),
                "backend": "serial",
            }
        )
    )
    result = _simsvm("run", str(parameters), "--set", "batch_size=5")
    assert result.returncode == 0, result.stderr
    table = pd.read_csv(tmp_path / "results" / "cli" / "results.csv")
    assert set(table.approach) == {"RBF-SL", "NN"} and set(table.epoch) == {0, 1}
    assert "results.csv" in result.stdout


def test_the_installed_command_is_the_cli():
    from importlib.metadata import entry_points

    from simsvm.cli.main import main

    (command,) = [entry for entry in entry_points(group="console_scripts") if entry.name == "simsvm"]
    assert command.load() is main
