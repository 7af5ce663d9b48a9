"""The notebooks in JupyterLab, in headless Chromium: the kernel widget live, the others rendered.

Each notebook is parameterised with papermill (without executing it), opened in JupyterLab and
run there with "Run All Cells"; the checks read what the browser shows.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import papermill
import pytest
import yaml

from helpers import TINY_RUN
from simsvm.cli.batch import NOTEBOOKS
from simsvm.experiment.config import ExperimentConfig
from simsvm.experiment.results import load_features
from simsvm.experiment.run import run_experiment
from simsvm.model.kernels import KERNELS

# Output a notebook should never show: an error, or anything written to stderr.
STDERR = ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"
RUN_ALL_TIMEOUT_MS = 240_000


def _prepare(notebook: str, lab_root: Path, parameters: dict) -> str:
    """The suite's notebook with ``parameters`` injected, unexecuted, in the lab's folder."""
    papermill.execute_notebook(
        str(NOTEBOOKS / notebook), str(lab_root / notebook), parameters=parameters, prepare_only=True
    )
    return notebook


def _run_all(page, lab, notebook: str) -> None:
    """Open ``notebook`` and run every cell, as a user would with Run > Run All Cells."""
    page.goto(lab.notebook_url(notebook))
    page.wait_for_function(
        "() => window.jupyterapp?.shell.currentWidget?.sessionContext?.session?.kernel", timeout=90_000
    )
    page.evaluate(
        """async () => {
            const panel = window.jupyterapp.shell.currentWidget;
            await panel.context.ready;
            await panel.sessionContext.ready;
            await window.jupyterapp.commands.execute('notebook:run-all-cells');
        }"""
    )
    page.wait_for_function(
        """() => {
            const panel = window.jupyterapp.shell.currentWidget;
            const code = panel.content.widgets.filter((cell) => cell.model.type === 'code');
            // done when every cell ran, or when one failed (Run All stops there)
            const failed = document.querySelector("[data-mime-type='application/vnd.jupyter.stderr']");
            return panel.sessionContext.session.kernel.status === 'idle'
                && (failed !== null || code.every((cell) => cell.model.executionCount !== null));
        }""",
        timeout=RUN_ALL_TIMEOUT_MS,
    )


def _errors(page) -> list[str]:
    return page.locator(STDERR).all_inner_texts()


@pytest.fixture(scope="module")
def stored_run(synth_root, lab_root) -> Path:
    """A tiny GTZAN-layout run with stored features: two folds, epochs 0, 1 and 2."""
    config = ExperimentConfig.from_dict(
        {
            "name": "tiny",
            "dataset": "gtzan",
            "data_dir": str(synth_root / "gtzan"),
            "results_dir": str(lab_root / "results"),
            "cache_dir": str(lab_root.parent / "cache"),
            **TINY_RUN,
            "approaches": ["NN", "FL", "RBF-SL", "Stats"],
        }
    )
    run_experiment(config)
    return config.run_dir


@pytest.fixture(scope="module")
def widget_run(stored_run) -> Path:
    """The run the widget shows: ``SIMSVM_WIDGET_RUN`` (the README's screenshot: the demo's GTZAN
    run), else the tiny stored run."""
    chosen = os.environ.get("SIMSVM_WIDGET_RUN")
    return Path(chosen).resolve() if chosen else stored_run


def _slider(page, description: str):
    """The visible slider whose label starts with ``description`` ('RBF γ', not 'SVM RBF γ')."""
    return page.locator(".widget-slider:visible").filter(has_text=re.compile("^" + re.escape(description)))


def _dropdown(page, description: str):
    return page.locator(".widget-dropdown").filter(has_text=description).locator("select")


def test_the_kernel_widget_renders_and_follows_its_controls(browser, lab, lab_root, widget_run, screenshots):
    notebook = _prepare(
        "kernels.ipynb", lab_root, {"run_dir": str(widget_run), "job": "fold00-rbf", "interactive": True}
    )
    first_epochs = load_features(widget_run, "fold00-rbf")["epochs"].tolist()
    other_epochs = load_features(widget_run, "fold01-baseline")["epochs"].tolist()
    page = browser.new_page(viewport={"width": 1500, "height": 1400})
    _run_all(page, lab, notebook)
    status = page.locator(".simsvm-kernel-status")
    status.wait_for(timeout=60_000)
    assert _errors(page) == []
    panel = page.locator(".widget-vbox").filter(has=status).last
    # epoch, the loss's RBF γ, the SVM's RBF γ and C: the chosen kernels' controls only
    assert panel.locator(".widget-slider:visible").count() == 4
    assert panel.locator(".widget-dropdown select").count() == 3  # network, loss kernel, SVM kernel
    image = panel.locator(".widget-output img")
    first_text, first_image = status.inner_text(), image.get_attribute("src")
    assert f"{widget_run.name} fold00-rbf, epoch {first_epochs[-1]}: rbf loss" in first_text
    panel.scroll_into_view_if_needed()
    panel.screenshot(path=str(screenshots / "kernel-widget.png"))

    # the loss's RBF γ: a smaller width, a different K(F, F) and loss
    handle = _slider(panel, "RBF γ").locator(".noUi-handle")
    handle.focus()
    for _ in range(5):
        handle.press("ArrowLeft")
    page.wait_for_function(
        "(before) => document.querySelector('.simsvm-kernel-status').innerText !== before", arg=first_text
    )
    page.wait_for_timeout(1500)  # the last of the five redraws
    after_gamma = status.inner_text()
    assert after_gamma != first_text and "rbf loss" in after_gamma
    assert image.get_attribute("src") != first_image
    panel.screenshot(path=str(screenshots / "kernel-widget-after.png"))

    # every declared kernel as the loss's: its own controls appear, and the loss is recomputed
    for name, kernel in KERNELS.items():
        _dropdown(panel, "loss kernel").select_option(name)
        page.wait_for_function(
            "(text) => document.querySelector('.simsvm-kernel-status').innerText.includes(text)",
            arg=f": {name} loss",
        )
        for parameter in kernel.parameters:
            assert _slider(panel, f"{kernel.title} {parameter.symbol or parameter.name}").count() == 1, name
        assert panel.locator(".widget-slider:visible").count() == 4 + len(kernel.parameters) - 1
    _dropdown(panel, "loss kernel").select_option("rbf")

    # another SVM kernel: the SVM is refitted and scored again
    _dropdown(panel, "SVM kernel").select_option("cosine")
    page.wait_for_function(
        "() => document.querySelector('.simsvm-kernel-status').innerText.includes('SVM cosine')"
    )
    # another network and epoch: everything redrawn from that snapshot
    _dropdown(panel, "network").select_option("fold01-baseline")
    page.wait_for_function(
        "(text) => document.querySelector('.simsvm-kernel-status').innerText.includes(text)",
        arg=f"fold01-baseline, epoch {other_epochs[-1]}:",
    )
    epoch_handle = _slider(panel, "epoch").locator(".noUi-handle")
    epoch_handle.focus()
    epoch_handle.press("ArrowLeft")
    page.wait_for_function(
        "(text) => document.querySelector('.simsvm-kernel-status').innerText.includes(text)",
        arg=f"fold01-baseline, epoch {other_epochs[-2]}:",
    )
    assert page.locator(".simsvm-kernel-error").count() == 0 and _errors(page) == []
    page.close()


def test_the_summary_and_experiment_notebooks_render_without_errors(
    browser, lab, lab_root, stored_run, synth_root
):
    summary = _prepare(
        "summary.ipynb",
        lab_root,
        {"results_dir": str(stored_run.parent), "figures_dir": str(lab_root / "figures")},
    )
    experiment = _prepare(
        "experiment.ipynb",
        lab_root,
        {
            **ExperimentConfig.from_dict(
                {"name": "in-lab", "dataset": "gtzan", "data_dir": str(synth_root / "gtzan"), **TINY_RUN}
            ).to_dict(),
            "results_dir": str(lab_root / "lab-results"),
            "cache_dir": str(lab_root.parent / "cache"),
            "parameter_file": None,  # every key is given
        },
    )
    page = browser.new_page(viewport={"width": 1400, "height": 1200})
    for notebook, tables in ((summary, 1), (experiment, 1)):
        _run_all(page, lab, notebook)
        outputs = page.locator(".jp-OutputArea-output")
        assert outputs.locator("img").count() >= 1, notebook  # the curves (and the confusion matrix)
        assert outputs.locator("table").count() >= tables, notebook  # the score tables
        assert _errors(page) == [], notebook
    page.close()


@pytest.fixture(scope="module")
def demo_project(synth_root, lab_root) -> Path:
    """The lab's folder as a project after a (tiny) ``make demo``: ``parameters/``, ``data/synth``,
    ``results/demo/demo-gtzan`` and the suite's notebooks, unmodified, in ``notebooks/``."""
    (lab_root / "notebooks").mkdir(exist_ok=True)
    for notebook in ("experiment.ipynb", "summary.ipynb", "kernels.ipynb"):
        shutil.copy(NOTEBOOKS / notebook, lab_root / "notebooks" / notebook)
    (lab_root / "data").mkdir(exist_ok=True)
    if not (lab_root / "data" / "synth").exists():
        (lab_root / "data" / "synth").symlink_to(synth_root)
    (lab_root / "parameters").mkdir(exist_ok=True)
    # the file the experiment notebook runs by default, at a size a test affords
    tiny_demo = {"name": "demo-gtzan", "dataset": "gtzan", "data_dir": "data/synth/gtzan", **TINY_RUN}
    (lab_root / "parameters" / "demo-gtzan.yaml").write_text(yaml.safe_dump(tiny_demo))
    run_experiment(
        ExperimentConfig.from_dict(
            {
                **tiny_demo,
                "data_dir": str(synth_root / "gtzan"),
                "results_dir": str(lab_root / "results" / "demo"),
                "cache_dir": str(lab_root.parent / "cache"),
                "approaches": ["NN", "FL", "RBF-SL", "Stats"],
            }
        )
    )
    return lab_root


@pytest.mark.parametrize("notebook", ["kernels.ipynb", "summary.ipynb", "experiment.ipynb"])
def test_each_notebook_runs_all_with_its_defaults_from_the_notebooks_folder(
    browser, lab, demo_project, notebook
):
    # As a user does after make demo and make lab: the notebook as shipped, its kernel started in
    # notebooks/, Run All, no parameter changed.
    page = browser.new_page(viewport={"width": 1400, "height": 1200})
    _run_all(page, lab, f"notebooks/{notebook}")
    outputs = page.locator(".jp-OutputArea-output")
    assert _errors(page) == [], notebook
    assert outputs.locator("img").count() >= 1, notebook
    assert not (demo_project / "notebooks" / "results").exists()
    if notebook == "experiment.ipynb":
        assert (demo_project / "results" / "demo-gtzan" / "results.csv").is_file()
    page.close()
