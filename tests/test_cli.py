import io
import json
import re
import shutil
import subprocess
import sys

import pandas as pd
import pytest
import yaml

from helpers import TINY_RUN
from simsvm._version import __version__
from simsvm.cli.main import main
from simsvm.data.datasets import REGISTRY
from simsvm.experiment.config import ExperimentConfig


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


def test_import_and_every_help_leave_torch_and_sklearn_unimported():
    script = """
import contextlib, io, sys
import simsvm
import simsvm.cli.main
simsvm.cli.main.build_parser()
for command in ([], ["run"], ["batch"], ["list"], ["show"], ["compare"], ["data"], ["data", "synth"]):
    with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):
        simsvm.cli.main.main([*command, "--help"])
heavy = sorted(m for m in ("torch", "sklearn") if m in sys.modules)
print(heavy)
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_version_prints_the_package_version(capsys):
    with pytest.raises(SystemExit) as stopped:
        main(["--version"])
    assert stopped.value.code == 0 and capsys.readouterr().out.strip() == f"simsvm {__version__}"


def test_help_texts_carry_no_markup(capsys):
    for command in ([], ["run"], ["list"], ["show"], ["compare"], ["data", "synth"]):
        with pytest.raises(SystemExit):
            main([*command, "--help"])
        text = capsys.readouterr().out
        assert "``" not in text and "`" not in text and "examples:" in text
    with pytest.raises(SystemExit):
        main(["data", "synth", "--help"])
    assert f"all {len(REGISTRY)}:" in capsys.readouterr().out.replace("\n", " ")


def test_list_names_every_dataset_and_parameter_key(capsys):
    assert main(["list"]) == 0
    text = capsys.readouterr().out
    assert all(f"  {key} " in text for key in REGISTRY)
    assert all(re.search(rf"^ [ *]{key} ", text, re.M) for key in ExperimentConfig.keys())
    assert main(["list", "kernels"]) == 0 and capsys.readouterr().out.startswith("kernels")
    assert main(["list", "nonsense"]) == 2 and "nonsense" in capsys.readouterr().err


@pytest.fixture(scope="module")
def tiny_run(synth_root, tmp_path_factory):
    """One finished run of two folds, two epochs and three approaches, made once for this module."""
    from simsvm.experiment.run import run_experiment

    root = tmp_path_factory.mktemp("cli-runs")
    config = ExperimentConfig.from_dict(
        {
            "name": "tiny",
            "dataset": "gtzan",
            "data_dir": str(synth_root / "gtzan"),
            "results_dir": str(root / "results"),
            "cache_dir": str(root / "cache"),
            **TINY_RUN,
            "approaches": ["NN", "RBF-SL", "Stats"],
        }
    )
    run_experiment(config)
    return config.run_dir


def test_show_describes_a_run(tiny_run, capsys):
    assert main(["show", str(tiny_run)]) == 0
    text = capsys.readouterr().out
    files = len(json.loads((tiny_run / "data.json").read_text())["files"])
    assert f"{files} audio files indexed" in text and "progress: finished" in text
    assert re.search(r"^  folds +2$", text, re.M) and not re.search(r"^  seed ", text, re.M)
    assert "scores at epoch 2: accuracy" in text
    assert all(
        re.search(rf"^  {a} +\d\.\d{{3}} ± \d\.\d{{3}}$", text, re.M) for a in ("NN", "RBF-SL", "Stats")
    )
    assert main(["show", str(tiny_run), "--all"]) == 0
    assert re.search(r"^  seed +0$", capsys.readouterr().out, re.M)


def test_show_of_an_unfinished_run_gives_its_progress(tiny_run, tmp_path, capsys):
    run = shutil.copytree(tiny_run, tmp_path / "unfinished")
    (run / "results.csv").unlink()
    (run / "progress.json").write_text(
        json.dumps({"model_epochs_done": 3, "model_epochs": 8, "networks_done": 1, "networks": 4})
    )
    assert main(["show", str(run)]) == 0
    text = capsys.readouterr().out
    assert "unfinished: 3/8 model-epochs, 1/4 networks" in text and "no results.csv yet" in text


def test_show_of_a_folder_that_is_not_a_run_exits_2_naming_it(tmp_path, tiny_run, capsys):
    (tmp_path / "empty").mkdir()
    for folder, phrase in ((tmp_path / "empty", "not a run folder"), (tiny_run.parent, "folder of runs")):
        assert main(["show", str(folder)]) == 2
        error = capsys.readouterr().err
        assert str(folder) in error and phrase in error and len(error.strip().splitlines()) == 1


def test_compare_gives_the_mean_and_sd_over_folds(tiny_run, tmp_path, capsys):
    table = pd.read_csv(tiny_run / "results.csv")
    accuracy = table[(table.metric == "accuracy") & (table.target == "all")]
    for epoch in (None, 1):
        at = accuracy[accuracy.epoch == (epoch or accuracy.epoch.max())]
        expected = at.groupby("approach").value.agg(["mean", "std"])
        assert (
            main(["compare", str(tiny_run), "--format", "csv", *(["--epoch", str(epoch)] if epoch else [])])
            == 0
        )
        got = pd.read_csv(io.StringIO(capsys.readouterr().out)).set_index("approach")
        assert list(got.index) == ["NN", "RBF-SL", "Stats"]
        pd.testing.assert_series_equal(
            got["tiny mean"], expected["mean"].loc[got.index], check_names=False, rtol=1e-5
        )
        pd.testing.assert_series_equal(
            got["tiny std"], expected["std"].loc[got.index], check_names=False, rtol=1e-5
        )
    other = shutil.copytree(tiny_run, tmp_path / "other")
    assert main(["compare", str(tiny_run), str(other)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "tiny (accuracy, epoch 2)" in lines[0] and "other (accuracy, epoch 2)" in lines[0]
    last = accuracy[(accuracy.epoch == accuracy.epoch.max()) & (accuracy.approach == "NN")].value
    nn = {"mean": last.mean(), "std": last.std()}
    assert lines[1].split()[:4] == ["NN", f"{nn['mean']:.3f}", "±", f"{nn['std']:.3f}"]
    assert main(["compare", str(tiny_run), "--format", "markdown"]) == 0
    assert capsys.readouterr().out.startswith("| approach | tiny (accuracy, epoch 2) |\n|---|---|\n| NN |")
    assert main(["compare", str(tiny_run), "--epoch", "7"]) == 2
    assert "no scores at epoch 7" in capsys.readouterr().err


def test_dry_run_writes_nothing_and_counts_the_model_epochs(synth_root, tmp_path, capsys):
    parameters = tmp_path / "p.yaml"
    values = {"name": "plan", "dataset": "gtzan", "data_dir": str(synth_root / "gtzan"), **TINY_RUN}
    values.update(results_dir=str(tmp_path / "results"), cache_dir=str(tmp_path / "cache"), folds=3, epochs=5)
    parameters.write_text(yaml.safe_dump({**values, "approaches": ["NN", "FL", "RBF-SL", "Cos-SL", "Stats"]}))
    assert main(["run", str(parameters), "--dry-run"]) == 0
    text = capsys.readouterr().out
    # 3 folds x 3 networks (NN and FL share the baseline; Stats trains none) x 5 epochs
    assert re.search(r"model-epochs: 9 x 5 epochs = 45$", text, re.M)
    assert "evaluated epochs: 0, 1, 2, 3, 4, 5 (6 per network" in text and "estimated time: about" in text
    assert not (tmp_path / "results").exists() and not (tmp_path / "cache").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.yaml"]
    # without the data folder it still plans, and says the run would stop
    assert main(["run", str(parameters), "--dry-run", "--set", f"data_dir={tmp_path / 'absent'}"]) == 0
    text = capsys.readouterr().out
    assert "model-epochs: 9 x 5 epochs = 45" in text and "data_dir" in text and "does not exist" in text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.yaml"]
