"""Compare similarity kernels on stored snapshots, without retraining.

For one network on one fold at one evaluated epoch (the features a run keeps under
``features/``), :func:`kernel_view` draws K(A, A) of the annotations beside K(F, F) of the learned
features under a chosen kernel, gives the similarity loss between them, and refits the SVM with a
chosen kernel to score the fold's test files.  :func:`explore_kernels` puts sliders on it.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from simsvm.exceptions import ParameterError, ResultsError
from simsvm.experiment.results import load_features
from simsvm.experiment.scoring import score_svm
from simsvm.model.kernels import KERNELS, gram_matrix, make_kernel
from simsvm.model.losses import similarity_loss
from simsvm.model.parameters import Parameter

__all__ = ["KernelView", "explore_kernels", "kernel_view", "stored_jobs"]


@dataclass
class KernelView:
    """What :func:`kernel_view` computed; ``figure`` is a matplotlib figure."""

    epoch: int
    loss: float
    n_files: int
    svm_scores: dict[str, float]
    figure: object


def stored_jobs(run_dir: str | Path) -> list[str]:
    """Jobs of a run that kept their features, e.g. ``['fold00-baseline', 'fold00-rbf', ...]``.

    Raises
    ------
    ResultsError
        When ``run_dir`` holds no stored features (not a run folder, or ``save_features: false``).
    """
    jobs = sorted(p.stem for p in (Path(run_dir) / "features").glob("*.npz"))
    if not jobs:
        what = "no stored features in" if Path(run_dir).is_dir() else "no run folder at"
        raise ResultsError(f"{what} {run_dir} (run an experiment with save_features: true first)")
    return jobs


def _targets(annotations: np.ndarray, task: str) -> np.ndarray:
    return annotations.argmax(axis=1) if task == "classification" else annotations.astype(np.float64)


def _stored_epoch(stored: dict, job: str, epoch: int | None) -> tuple[int, np.ndarray]:
    """The evaluated epoch asked for (default: the last) and the features of every file at it."""
    epochs = stored["epochs"].tolist()
    epoch = epochs[-1] if epoch is None else int(epoch)
    if epoch not in epochs:
        raise ParameterError(f"epoch {epoch} was not evaluated in {job}; stored epochs: {epochs}")
    return epoch, stored["features"][epochs.index(epoch)].astype(np.float64)


def _shown_files(targets: np.ndarray, annotations: np.ndarray, n_train: int, task: str, max_files: int):
    """At most ``max_files`` training files, sorted by class or first target, evenly thinned."""
    order = np.argsort(targets if task == "classification" else annotations[:, 0], kind="stable")
    shown = order[np.isin(order, np.arange(n_train))]
    return shown[np.linspace(0, len(shown) - 1, min(max_files, len(shown))).astype(int)]


def _gram_figure(target_gram: np.ndarray, feature_gram: np.ndarray, task: str, title: str):
    """K(A, A) beside K(F, F) on one colour scale."""
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 2, figsize=(10.5, 4.6))
    limits = (min(target_gram.min(), feature_gram.min()), max(target_gram.max(), feature_gram.max()))
    for axis, gram, name in (
        (axes[0], target_gram, "K(A, A): annotations"),
        (axes[1], feature_gram, "K(F, F): learned features"),
    ):
        image = axis.imshow(gram, vmin=limits[0], vmax=limits[1], cmap="viridis", interpolation="nearest")
        axis.set_title(name)
        axis.set_xlabel(
            f"training file ({'sorted by class' if task == 'classification' else 'sorted by first target'})"
        )
        axis.set_ylabel("training file")
    figure.colorbar(image, ax=axes, shrink=0.85, label="kernel value")
    figure.suptitle(title)
    return figure


def kernel_view(
    run_dir: str | Path,
    job: str,
    *,
    epoch: int | None = None,
    loss_kernel: str = "rbf",
    loss_parameters: dict | None = None,
    svm_kernel: str = "rbf",
    svm_parameters: dict | None = None,
    svm_c: float = 1.0,
    max_files: int = 60,
) -> KernelView:
    """Kernel matrices, similarity loss and SVM score of one stored snapshot.

    Parameters
    ----------
    run_dir : path
        A run folder (``results/<name>`` or ``results/<batch>/<name>``).
    job : str
        ``fold<NN>-<network>``; see :func:`stored_jobs`.
    epoch : int, optional
        An evaluated epoch; default the last one.
    loss_kernel, loss_parameters
        The kernel of the loss view (a key of :data:`~simsvm.model.kernels.KERNELS`) and its
        parameters by name (``{'gamma': 0.1}``; default: the kernel's defaults).
    svm_kernel, svm_parameters, svm_c
        The SVM's kernel, its parameters and soft-margin C, refitted on the fold's training files.
    max_files : int
        Training files shown in the heatmaps (sorted by class or first target, evenly thinned);
        the loss is :func:`~simsvm.model.losses.similarity_loss` over the same files, as if they
        were one batch.
    """
    stored = load_features(run_dir, job)
    epoch, features = _stored_epoch(stored, job, epoch)
    annotations = stored["annotations"].astype(np.float64)
    n_train, task = stored["n_train"], stored["task"]
    targets = _targets(annotations, task)
    shown = _shown_files(targets, annotations, n_train, task, max_files)
    kernel = make_kernel(loss_kernel, **(loss_parameters or {}))
    loss = float(
        similarity_loss(torch.from_numpy(features[shown]), torch.from_numpy(annotations[shown]), kernel)
    )
    scores = score_svm(
        features[:n_train],
        targets[:n_train],
        features[n_train:],
        targets[n_train:],
        task=task,
        target_names=stored["target_names"],
        kernel=make_kernel(svm_kernel, **(svm_parameters or {})),
        C=svm_c,
    )
    metric = "accuracy" if task == "classification" else "mean R"
    score = scores["all"] if task == "classification" else scores["mean"]
    figure = _gram_figure(
        gram_matrix(kernel, annotations[shown]),
        gram_matrix(kernel, features[shown]),
        task,
        f"{Path(run_dir).name} {job}, epoch {epoch}: {loss_kernel} loss {loss:.1f} over {len(shown)} files; "
        f"SVM ({svm_kernel}, C={svm_c:g}) test {metric} {score:.3f}",
    )
    return KernelView(epoch=epoch, loss=loss, n_files=len(shown), svm_scores=scores, figure=figure)


def _status_html(view: KernelView, run_dir: str | Path, job: str, settings: dict) -> str:
    """One line of what the panel shows, as text a reader (or a browser test) can read."""
    if "all" in view.svm_scores:
        label, score = "accuracy", view.svm_scores["all"]
    else:
        label, score = "mean R", view.svm_scores["mean"]
    loss_kernel, svm_kernel = html.escape(settings["loss_kernel"]), html.escape(settings["svm_kernel"])
    return (
        f"<span class='simsvm-kernel-status'>{html.escape(Path(run_dir).name)} {html.escape(job)}, epoch "
        f"{view.epoch}: {loss_kernel} loss {view.loss:.4f} over {view.n_files} files; "
        f"SVM {svm_kernel} (C={settings['svm_c']:.3g}) test {label} {score:.3f}</span>"
    )


def _error_html(error: Exception) -> str:
    return (
        "<span class='simsvm-kernel-error' style='color:#b00020'>"
        f"{html.escape(type(error).__name__)}: {html.escape(str(error))}</span>"
    )


def _slider(parameter: Parameter, description: str):
    """The control of one kernel parameter, as its declaration describes it."""
    import ipywidgets as widgets

    low, high = parameter.widget_range or (0.0, 10.0)
    if parameter.integer:
        return widgets.IntSlider(
            value=parameter.default, min=int(low), max=int(high), description=description
        )
    if parameter.log_scale:
        return widgets.FloatLogSlider(
            value=parameter.default,
            base=10,
            min=math.log10(low),
            max=math.log10(high),
            description=description,
        )
    return widgets.FloatSlider(
        value=parameter.default, min=low, max=high, step=(high - low) / 20, description=description
    )


def _kernel_controls(prefix: str) -> dict[tuple[str, str], object]:
    """A slider per parameter of every kernel, keyed by (kernel, parameter); labels like 'RBF γ'."""
    return {
        (name, parameter.name): _slider(
            parameter, f"{prefix}{kernel.title} {parameter.symbol or parameter.name}"
        )
        for name, kernel in KERNELS.items()
        for parameter in kernel.parameters
    }


def explore_kernels(run_dir: str | Path, job: str | None = None):
    """An ipywidgets panel over :func:`kernel_view`: job, epoch, kernels and their parameters.

    Each kernel of :data:`~simsvm.model.kernels.KERNELS` brings the sliders its parameters
    declare; only the chosen kernel's are shown.  A line above the figure says what is shown
    (loss, SVM score); an error in a callback (a corrupt features file, a kernel that fails)
    replaces it with the error's message, in red, rather than reaching only the server's log.
    """
    import ipywidgets as widgets
    import matplotlib.pyplot as plt
    from IPython.display import display

    jobs = stored_jobs(run_dir)
    job_choice = widgets.Dropdown(options=jobs, value=job or jobs[0], description="network")
    epoch_choice = widgets.SelectionSlider(options=[0], description="epoch")
    loss_kernel = widgets.Dropdown(options=list(KERNELS), value="rbf", description="loss kernel")
    svm_kernel = widgets.Dropdown(options=list(KERNELS), value="rbf", description="SVM kernel")
    svm_c = widgets.FloatLogSlider(value=1.0, base=10, min=-2, max=3, description="SVM C")
    loss_controls, svm_controls = _kernel_controls(""), _kernel_controls("SVM ")
    status = widgets.HTML()
    output = widgets.Output()

    def guarded(callback):
        def run(change=None) -> None:
            try:
                callback(change)
            except Exception as error:  # shown where the user looks, whatever failed
                status.value = _error_html(error)

        return run

    def set_epochs(change=None) -> None:
        epochs = load_features(run_dir, job_choice.value)["epochs"].tolist()
        epoch_choice.options = epochs
        epoch_choice.value = epochs[-1]

    def chosen(controls: dict, kernel: str) -> dict:
        for (name, _), control in controls.items():
            control.layout.display = None if name == kernel else "none"
        return {parameter: control.value for (name, parameter), control in controls.items() if name == kernel}

    def redraw(change=None) -> None:
        settings = {
            "loss_kernel": loss_kernel.value,
            "loss_parameters": chosen(loss_controls, loss_kernel.value),
            "svm_kernel": svm_kernel.value,
            "svm_parameters": chosen(svm_controls, svm_kernel.value),
            "svm_c": svm_c.value,
        }
        view = kernel_view(run_dir, job_choice.value, epoch=epoch_choice.value, **settings)
        with output:
            output.clear_output(wait=True)
            display(view.figure)
        plt.close(view.figure)
        status.value = _status_html(view, run_dir, job_choice.value, settings)

    guarded(set_epochs)()
    job_choice.observe(guarded(set_epochs), names="value")
    controls = [
        job_choice,
        epoch_choice,
        loss_kernel,
        svm_kernel,
        svm_c,
        *loss_controls.values(),
        *svm_controls.values(),
    ]
    for control in controls:
        control.observe(guarded(redraw), names="value")
    guarded(redraw)()
    return widgets.VBox(
        [
            widgets.HBox([job_choice, epoch_choice]),
            widgets.HBox([loss_kernel, *loss_controls.values()]),
            widgets.HBox([svm_kernel, *svm_controls.values(), svm_c]),
            status,
            output,
        ]
    )
