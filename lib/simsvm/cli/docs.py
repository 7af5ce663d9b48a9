"""The documentation's reference pages, written from the declarations they describe.

Two pages of the site are generated, never edited: ``parameters.md`` (every key of a parameter
file, from the configuration) and ``methods.md`` (every approach, loss and kernel, from their
declarations).  ``mkdocs.yml`` names this module as a hook, so ``make docs`` writes both into the
site; ``python -m simsvm.cli.docs --out DIR`` writes them as files to read elsewhere.
"""

from __future__ import annotations

import argparse
import html
from collections.abc import Sequence
from pathlib import Path

from simsvm._io import write_text_atomic
from simsvm.experiment.approaches import APPROACHES
from simsvm.experiment.reference import ParameterDoc, parameter_reference
from simsvm.model.kernels import KERNELS
from simsvm.model.losses import LOSSES

__all__ = ["GENERATED_PAGES", "methods_page", "on_files", "parameters_page"]

_PARAMETERS_INTRODUCTION = """\
# Parameters

A parameter file is flat YAML: every key below may appear, and `name`, `dataset` and `data_dir`
must. The same keys are the `--set KEY=VALUE` overrides of `simsvm run` and `simsvm batch`, and the
parameters of `notebooks/experiment.ipynb` (the kernels' and losses' own keys there as one mapping,
`kernel_and_loss_keys`). An unknown key, a wrong type or a value outside its range is an error that
names the key, before any data is read. Relative paths are taken from the working directory on the
command line, and from the project folder in a notebook.

*Scientific* keys determine a run's numbers: a run folder is identified by them (and by the data
it read), and re-using a run name with other scientific values is refused. The other keys say
where things lie and how a run is computed; a resumed run may change them.

`simsvm list keys` prints the same table in a terminal.

| key | type | default | allowed | scientific | meaning |
|---|---|---|---|---|---|
"""

_METHODS_INTRODUCTION = """\
# Approaches, losses and kernels

Every approach, loss and kernel the suite knows, as it is declared: this page is written from the
declarations themselves (`simsvm.experiment.approaches`, `simsvm.model.losses`,
`simsvm.model.kernels`), as are `simsvm list` and the parameter reference. [The method](method.md)
explains the ideas; [Architecture](architecture.md) how to add one of each.
"""


def _cell(text: str) -> str:
    # the meanings are plain text for the terminal: "<results_dir>" must not become an HTML tag
    return html.escape(text, quote=False).replace("|", "\\|")


def _row(doc: ParameterDoc) -> str:
    default = "required" if doc.required else f"`{doc.default_text()}`"
    cells = [
        f"`{doc.key}`",
        _cell(doc.type),
        _cell(default),
        _cell(doc.allowed) or "–",
        "yes" if doc.scientific else "no",
        _cell(doc.meaning),
    ]
    return "| " + " | ".join(cells) + " |"


def parameters_page() -> str:
    """``parameters.md``: every key of a parameter file, in the configuration's order."""
    return _PARAMETERS_INTRODUCTION + "\n".join(_row(doc) for doc in parameter_reference()) + "\n"


def methods_page() -> str:
    """``methods.md``: the approaches, then the losses with their equations, then the kernels."""
    lines = [_METHODS_INTRODUCTION, "## Approaches", ""]
    lines += [
        "| approach | features | network (loss, kernel) | classifier | tasks | tested against | default |"
    ]
    lines += ["|---|---|---|---|---|---|---|"]
    for name, approach in APPROACHES.items():
        network = approach.network
        trained = "–"
        if network is not None:
            loss = network.loss or "baseline_loss (sse)"
            trained = f"`{network.key}` ({loss}{', ' + network.kernel if network.kernel else ''})"
        cells = [
            f"**{name}**",
            _cell(approach.summary),
            trained,
            "SVM / SVR" if approach.classifier == "svm" else "its own output layer",
            ", ".join(approach.tasks),
            ", ".join(approach.compared_with) or "–",
            "yes" if approach.default else "no",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        "Sources: " + "; ".join(f"{n}: {a.source}" for n, a in APPROACHES.items() if a.source) + ".",
        "",
    ]
    lines += ["## Losses", ""]
    for name, loss in LOSSES.items():
        reads = "the features F" if loss.reads == "features" else "the baseline network's output layer o"
        keys = ", ".join(f"`{name}_{p.name}`" for p in loss.parameters)
        lines += [f"### `{name}`: {loss.title}", "", f"$$ {loss.equation} $$", ""]
        lines += [
            f"Reads {reads}; for {' and '.join(loss.tasks)}; "
            f"{'compares kernel matrices under the approach kernel; ' if loss.uses_kernel else ''}"
            f"source: {loss.source}." + (f" Keys: {keys}." if keys else ""),
            "",
        ]
    lines += ["## Kernels", ""]
    for name, kernel in KERNELS.items():
        keys = ", ".join(
            f"`{name}_{p.name}`" + (" (or `learn`)" if p.learnable else "") for p in kernel.parameters
        )
        tunable = [p.name for p in kernel.parameters if p.tunable]
        lines += [f"### `{name}`: {kernel.title}", "", f"$$ {kernel.formula} $$", ""]
        text = f"Keys: {keys}." if keys else "No parameters."
        if tunable:
            text += f" `svm_tuning` may search {', '.join(tunable)} (the SVM's value: `svm_{tunable[0]}`)."
        lines += [text, ""]
    return "\n".join(lines)


# The site's generated pages and what writes each.
GENERATED_PAGES = {"parameters.md": parameters_page, "methods.md": methods_page}


def on_files(files, config):
    """mkdocs hook: add the generated pages to the site (``hooks:`` in ``mkdocs.yml``)."""
    from mkdocs.structure.files import File

    for name, page in GENERATED_PAGES.items():
        files.append(File.generated(config, name, content=page()))
    return files


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m simsvm.cli.docs", description="Write the documentation's generated reference pages."
    )
    parser.add_argument("--out", default="build/reference", help="the folder to write them to")
    args = parser.parse_args(argv)
    for name, page in GENERATED_PAGES.items():
        print(write_text_atomic(Path(args.out) / name, page()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
