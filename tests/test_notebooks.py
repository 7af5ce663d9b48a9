"""The notebook suite, executed with papermill on tiny generated data through the batch runner."""

import asyncio
import json
import signal
import subprocess
import sys

import matplotlib.image
import numpy as np
import pandas as pd
import papermill
import pytest
import yaml

from helpers import TINY_RUN
from simsvm.cli.batch import NOTEBOOKS, _kernel_manager_class, check_parameters, run_batch
from simsvm.cli.main import main
from simsvm.exceptions import ParameterError
from simsvm.experiment.config import ExperimentConfig
from simsvm.experiment.declared import DECLARED_KEYS
from simsvm.experiment.results import load_features
from simsvm.report.widgets import kernel_view, stored_jobs


@pytest.fixture(scope="module")
def batch(synth_root, tmp_path_factory):
    """A two-run batch (GTZAN and Emotify layouts) and its summary, executed once for the module."""
    root = tmp_path_factory.mktemp("batch")
    files = []
    for key in ("gtzan", "emotify"):
        path = root / f"tiny-{key}.yaml"
        path.write_text(
            yaml.safe_dump(
                {
                    "name": f"tiny-{key}",
                    "dataset": key,
                    "data_dir": str(synth_root / key),
                    "cache_dir": str(root / "cache"),
                    **TINY_RUN,
                }
            )
        )
        files.append(path)
    splits = root / "tiny-splits.yaml"
    splits.write_text(
        yaml.safe_dump(
            {
                "name": "tiny-splits",
                "dataset": "gtzan",
                "data_dir": str(synth_root / "gtzan"),
                "cache_dir": str(root / "cache"),
                **TINY_RUN,
                "protocol": "random_splits",
                "splits": 3,
                "test_share": 0.2,
                "approaches": ["NN", "FL", "RBF-SL"],
            }
        )
    )
    files.append(splits)
    broken = root / "broken.yaml"
    broken.write_text(
        yaml.safe_dump({"name": "broken", "dataset": "gtzan", "data_dir": str(root / "absent"), **TINY_RUN})
    )
    report = run_batch(
        [*files, broken],
        batch="tiny",
        results_dir=root / "results",
        cell_timeout_s=600,
    )
    return root, files, broken, report


def test_experiment_notebook_declares_every_config_key_and_no_default_of_its_own():
    declared = papermill.inspect_notebook(str(NOTEBOOKS / "experiment.ipynb"))
    general = ExperimentConfig.general_keys()
    # the kernels' and losses' own keys, as many as are declared, travel as one mapping
    assert list(declared) == ["parameter_file", *general, "kernel_and_loss_keys"]
    assert set(general) | set(DECLARED_KEYS) == set(ExperimentConfig.keys())
    assert declared["workers"]["inferred_type_name"] == "Optional[int]"
    # the defaults live in the configuration only: every key is "not given" in the notebook
    assert {key: item["default"] for key, item in declared.items() if key in general} == dict.fromkeys(
        general, "..."
    )
    assert declared["kernel_and_loss_keys"]["default"] == "{}"


def test_the_experiment_notebook_started_in_its_folder_finds_the_project(synth_root, tmp_path):
    # JupyterLab starts a kernel in notebooks/; the default parameter file and the data and results
    # folders it names are the project's, not that folder's.
    project = tmp_path / "project"
    (project / "notebooks").mkdir(parents=True)
    (project / "data").mkdir()
    (project / "data" / "synth").symlink_to(synth_root)
    (project / "parameters").mkdir()
    default = papermill.inspect_notebook(str(NOTEBOOKS / "experiment.ipynb"))["parameter_file"]["default"]
    (project / yaml.safe_load(default)).write_text(
        yaml.safe_dump(
            {
                "name": "from-lab",
                "dataset": "gtzan",
                "data_dir": "data/synth/gtzan",
                **TINY_RUN,
                "approaches": ["NN", "Stats"],
                "cache_dir": None,
            }
        )
    )
    papermill.execute_notebook(
        str(NOTEBOOKS / "experiment.ipynb"),
        str(project / "notebooks" / "out.ipynb"),
        kernel_name="python3",
        progress_bar=False,
        cwd=str(project / "notebooks"),
    )
    table = pd.read_csv(project / "results" / "from-lab" / "results.csv")
    assert set(table.approach) == {"NN", "Stats"}
    assert not (project / "notebooks" / "results").exists()


def test_undeclared_parameter_is_named():
    with pytest.raises(ParameterError, match="epochz"):
        check_parameters(NOTEBOOKS / "experiment.ipynb", {"epochz": 3})


def test_notebooks_are_stored_without_outputs_and_match_their_scripts():
    import jupytext

    for notebook in sorted(NOTEBOOKS.glob("*.ipynb")):
        content = json.loads(notebook.read_text())
        assert all(not cell.get("outputs") for cell in content["cells"] if cell["cell_type"] == "code"), (
            notebook
        )
        paired = jupytext.read(notebook.with_suffix(".py"))
        stored = jupytext.read(notebook)
        assert [c.source for c in paired.cells] == [c.source for c in stored.cells], f"{notebook} out of sync"


@pytest.mark.slow
def test_batch_runs_write_results_and_executed_notebooks(batch):
    root, _, _, report = batch
    batch_dir = root / "results" / "tiny"
    assert sorted(report.finished) == ["tiny-emotify", "tiny-gtzan", "tiny-splits"]
    for name in ("tiny-emotify", "tiny-gtzan"):
        table = pd.read_csv(batch_dir / name / "results.csv")
        # 2 folds x 3 epochs x (5 approaches with their training loss, and Stats): accuracy, or
        # Emotify's R and R² for 9 emotions and their mean
        per_approach = 1 if name == "tiny-gtzan" else 2 * 10
        assert len(table) == 2 * 3 * (5 * (per_approach + 1) + per_approach)
        executed = json.loads((batch_dir / f"{name}.ipynb").read_text())
        outputs = [o for c in executed["cells"] if c["cell_type"] == "code" for o in c.get("outputs", [])]
        assert any(o.get("output_type") == "display_data" for o in outputs)  # the curves figure


@pytest.mark.slow
def test_failed_run_keeps_its_partial_notebook_and_error(batch):
    root, _, _, report = batch
    batch_dir = root / "results" / "tiny"
    assert list(report.failed) == ["broken"]
    assert "absent" in report.failed["broken"].read_text()
    assert (batch_dir / "broken.ipynb").is_file()


@pytest.mark.slow
def test_a_failing_summary_is_reported_and_the_runs_are_kept(tmp_path, capsys):
    """A batch whose only run fails: the summary then fails too (no results), and both are listed."""
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        yaml.safe_dump(
            {"name": "broken", "dataset": "gtzan", "data_dir": str(tmp_path / "absent"), **TINY_RUN}
        )
    )
    status = main(["batch", str(broken), "--name", "b", "--results-dir", str(tmp_path / "results")])
    output = capsys.readouterr().out
    assert status == 1
    assert "FAILED    summary" in output and "FAILED    broken" in output
    error = (tmp_path / "results" / "b" / "summary.error.txt").read_text()
    assert "no results.csv" in error and "summary.ipynb" in error


@pytest.mark.slow
def test_summary_writes_figures_and_the_emotify_table(batch):
    root, _, _, report = batch
    # the batch's own figures folder, not the repository's figures/
    figures = root / "results" / "tiny" / "figures"
    assert not (root / "figures").exists()
    for run in ("tiny-gtzan", "tiny-emotify"):
        image = matplotlib.image.imread(figures / f"curves-{run}.png")
        assert image.shape[0] > 200 and image.shape[1] > 300
        assert (figures / f"curves-{run}.svg").read_text().lstrip().startswith("<?xml")
        assert (figures / f"scores-{run}.csv").is_file()
    table = pd.read_csv(figures / "emotify-table-tiny.csv", index_col=0)
    assert len(table) == 9
    assert [c for c in table.columns if not c.endswith(("paper", "diff")) and c != "best"] == [
        "NN",
        "FL*",
        "RBF-SL*",
        "Cos-SL*",
        "Poly-SL*",
        "Stats*",
    ]
    assert "Stats* paper" not in table.columns  # the paper has no Stats
    assert not [c for c in table.columns if c.endswith("diff")]  # generated data: nothing to compare
    confusion = matplotlib.image.imread(figures / "confusion-tiny-gtzan.png")
    assert confusion.shape[0] > 200 and not (figures / "confusion-tiny-emotify.png").exists()
    scores = pd.read_csv(figures / "scores-tiny-gtzan.csv")
    assert list(scores.metric) == ["accuracy"]  # fixed C and gamma: a caption, not rows
    assert "| emotion (epoch 2) |" in (figures / "emotify-table-tiny.md").read_text()
    significance = pd.read_csv(figures / "significance-tiny.csv")
    assert list(significance.comparison) == ["RBF-SL vs NN", "RBF-SL vs FL"]
    assert set(significance.run) == {"tiny-splits"} and "paper" in significance.columns
    assert (figures / "significance-tiny-figure.png").is_file()
    overview = pd.read_csv(figures / "overview-tiny.csv", index_col=0)
    assert list(overview.columns) == [
        f"{run} {stat}" for run in ("tiny-emotify", "tiny-gtzan", "tiny-splits") for stat in ("mean", "std")
    ]
    # the report page: the overview table with its bold winners, figures embedded, no code
    assert report.summary == root / "results" / "tiny" / "report.html"
    page = report.summary.read_text()
    assert "Overview across runs" in page and 'class="dataframe simsvm-overview"' in page
    assert page.count("<b>") >= 3 and "data:image/png;base64" in page
    assert "generated GTZAN layout" in page and "build_report" not in page


@pytest.mark.slow
def test_batch_resumes_by_skipping_complete_runs(batch):
    root, files, _, _ = batch
    again = run_batch(files, batch="tiny", results_dir=root / "results", summary=False)
    assert sorted(again.skipped) == ["tiny-emotify", "tiny-gtzan", "tiny-splits"] and not again.finished


@pytest.mark.slow
def test_kernels_notebook_runs_without_widgets(batch, tmp_path):
    root = batch[0]
    output = tmp_path / "kernels.ipynb"
    papermill.execute_notebook(
        str(NOTEBOOKS / "kernels.ipynb"),
        str(output),
        kernel_name="python3",
        progress_bar=False,
        parameters={"run_dir": str(root / "results" / "tiny" / "tiny-gtzan"), "loss_kernel": "cosine"},
    )
    # What the cells printed (not their source, which holds the same words).
    printed = "".join(
        "".join(item.get("text", ""))
        for cell in json.loads(output.read_text())["cells"]
        for item in cell.get("outputs", [])
    )
    run_dir = root / "results" / "tiny" / "tiny-gtzan"
    view = kernel_view(run_dir, "fold00-baseline", loss_kernel="cosine")
    assert f"stored networks: {', '.join(stored_jobs(run_dir))}" in printed
    assert f"epoch {view.epoch}: loss {view.loss:.2f} over {view.n_files} files" in printed
    assert f"SVM scores {view.svm_scores}" in printed


@pytest.mark.slow
def test_kernel_view_loss_is_the_similarity_loss_of_the_shown_files(batch):
    from sklearn.metrics.pairwise import rbf_kernel

    run_dir = batch[0] / "results" / "tiny" / "tiny-gtzan"
    stored = load_features(run_dir, "fold00-rbf")
    n_train = int(stored["n_train"])
    features = stored["features"][-1][:n_train].astype(np.float64)
    annotations = stored["annotations"][:n_train].astype(np.float64)
    view = kernel_view(
        run_dir, "fold00-rbf", loss_kernel="rbf", loss_parameters={"gamma": 0.3}, max_files=10_000
    )
    expected = np.square(rbf_kernel(features, gamma=0.3) - rbf_kernel(annotations, gamma=0.3)).sum()
    assert view.n_files == n_train
    assert view.loss == pytest.approx(expected, rel=1e-9)


@pytest.mark.slow
def test_the_widget_says_what_it_shows_and_a_failing_callback_says_why(batch, tmp_path):
    import shutil

    from simsvm.report.widgets import explore_kernels

    run_dir = tmp_path / "copy"
    shutil.copytree(batch[0] / "results" / "tiny" / "tiny-gtzan", run_dir)
    panel = explore_kernels(run_dir, "fold00-rbf")
    (network, epoch), controls, status = (
        panel.children[0].children,
        panel.children[1].children,
        panel.children[3],
    )
    assert (
        "copy fold00-rbf, epoch 2: rbf loss" in status.value and "SVM rbf (C=1) test accuracy" in status.value
    )
    before = status.value
    controls[1].value = 0.05  # the loss's RBF gamma
    assert status.value != before and "rbf loss" in status.value
    epoch.value = 1
    assert ", epoch 1:" in status.value
    (run_dir / "features" / "fold01-rbf.npz").write_bytes(b"not a zip file")
    network.value = "fold01-rbf"
    assert (
        "simsvm-kernel-error" in status.value
        and "fold01-rbf.npz is not a readable features file" in status.value
    )


def test_batch_command_line_rejects_unknown_keys(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump({"name": "x", "dataset": "gtzan", "data_dir": "d", "epochz": 1}))
    result = subprocess.run(
        [sys.executable, "-m", "simsvm.cli", "batch", str(path)], capture_output=True, text=True
    )
    assert result.returncode == 2 and "epochz" in result.stderr


@pytest.mark.slow
def test_the_batch_terminal_shows_one_line_per_run_and_no_warnings(synth_root, tmp_path):
    """What `simsvm batch` prints: a result line per run, the table at the end, no forwarded logs."""
    files = []
    for key in ("gtzan", "mediaeval2013"):
        path = tmp_path / f"tiny-{key}.yaml"
        values = {"name": f"tiny-{key}", "dataset": key, "data_dir": str(synth_root / key), **TINY_RUN}
        path.write_text(yaml.safe_dump({**values, "cache_dir": str(tmp_path / "cache")}))
        files.append(str(path))
    options = ["--name", "t", "--results-dir", str(tmp_path / "results"), "--no-summary"]
    command = [sys.executable, "-m", "simsvm.cli", "batch"]
    finished = subprocess.run([*command, *files, *options], capture_output=True, text=True, timeout=600)
    assert finished.returncode == 0, finished.stderr[-3000:]
    lines = [
        line for line in (finished.stdout + finished.stderr).replace("\r", "\n").splitlines() if line.strip()
    ]
    assert not [line for line in lines if line.startswith("WARNING") or "IPKernelApp" in line]
    assert not [line for line in lines if "Executing" in line or "Input Notebook" in line]
    for key, metric in (("gtzan", "accuracy"), ("mediaeval2013", "mean R")):
        (result,) = [line for line in lines if line.startswith(f"tiny-{key}:")]
        assert result.startswith(f"tiny-{key}: finished, epoch 2 {metric}: NN ")
        assert "Stats" in result
        assert len([line for line in lines if line.startswith(f"  finished  tiny-{key}: epoch 2")]) == 1
    # a complete run is skipped in one line; --verbose brings papermill's cell log back
    again = yaml.safe_load((tmp_path / "tiny-gtzan.yaml").read_text())
    verbose_file = tmp_path / "verbose.yaml"
    verbose_file.write_text(yaml.safe_dump({**again, "name": "tiny-verbose", "epochs": 1}))
    verbose = subprocess.run(
        [*command, *files, str(verbose_file), *options, "--verbose"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    output = verbose.stdout + verbose.stderr
    assert verbose.returncode == 0 and "tiny-gtzan: complete, skipped" in output
    assert "Executing" in output  # papermill's INFO lines, one per cell


def test_batch_kernels_are_shut_down_without_an_interrupt():
    """jupyter_client sends SIGINT before every shutdown request; a batch's kernel has finished its
    notebook by then, and on a busy machine a late SIGINT made ipykernel log "KeyboardInterrupt
    caught in kernel" to the batch's terminal.  The kernel must still stop."""
    manager = _kernel_manager_class()(kernel_name="python3")
    sent = []
    send = manager._async_signal_kernel

    async def record(signum):
        sent.append(signum)
        await send(signum)

    manager._async_signal_kernel = record

    async def start_and_stop():
        await manager.start_kernel()
        assert await manager.is_alive()
        await manager.shutdown_kernel()
        return await manager.is_alive()

    assert asyncio.run(start_and_stop()) is False
    assert signal.SIGINT not in sent


def test_a_folder_without_stored_features_is_named(tmp_path):
    # stored_jobs used to return [] and the kernels notebook failed later with an IndexError
    from simsvm.exceptions import ResultsError

    with pytest.raises(ResultsError, match=f"no run folder at {tmp_path / 'absent'}"):
        stored_jobs(tmp_path / "absent")
    with pytest.raises(ResultsError, match=f"no stored features in {tmp_path}"):
        stored_jobs(tmp_path)


def test_relative_notebook_paths_are_the_project_folders(tmp_path, monkeypatch):
    from simsvm.paths import project_root, resolve_path

    (tmp_path / "parameters").mkdir()
    (tmp_path / "notebooks").mkdir()
    monkeypatch.delenv("SIMSVM_PROJECT", raising=False)
    monkeypatch.chdir(tmp_path / "notebooks")
    assert project_root() == tmp_path.resolve()
    assert resolve_path("results/demo") == tmp_path.resolve() / "results" / "demo"
    assert resolve_path(tmp_path / "x") == tmp_path / "x"
    monkeypatch.setenv("SIMSVM_PROJECT", str(tmp_path / "elsewhere"))
    assert resolve_path("results") == (tmp_path / "elsewhere").resolve() / "results"
