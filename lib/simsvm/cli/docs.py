"""The documentation's parameter reference, written from the configuration's own declaration.

``python -m simsvm.cli.docs`` rewrites ``docs/parameters.md``; the tests check that the committed
page equals what this writes, so the reference cannot drift from what a parameter file accepts.
"""

from __future__ import annotations

import argparse
import html
from collections.abc import Sequence
from pathlib import Path

from simsvm._io import write_text_atomic
from simsvm.experiment.reference import ParameterDoc, parameter_reference

__all__ = ["parameters_page"]

_INTRODUCTION = """\
# Parameters

A parameter file is flat YAML: every key below may appear, and `name`, `dataset` and `data_dir`
must. The same keys are the `--set KEY=VALUE` overrides of `simsvm run` and `simsvm batch`, and the
parameters of `notebooks/experiment.ipynb`. An unknown key, a wrong type or a value outside its
range is an error that names the key, before any data is read. Relative paths are taken from the
working directory on the command line, and from the project folder in a notebook.

*Scientific* keys determine a run's numbers: a run folder is identified by them (and by the data
it read), and re-using a run name with other scientific values is refused. The other keys say
where things lie and how a run is computed; a resumed run may change them.

`simsvm list keys` prints the same table in a terminal.

| key | type | default | allowed | scientific | meaning |
|---|---|---|---|---|---|
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
    """``docs/parameters.md``: every key of a parameter file, in declaration order."""
    return _INTRODUCTION + "\n".join(_row(doc) for doc in parameter_reference()) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m simsvm.cli.docs", description="Rewrite the documentation's parameter reference."
    )
    parser.add_argument("--out", default="docs/parameters.md", help="the page to write")
    args = parser.parse_args(argv)
    print(write_text_atomic(Path(args.out), parameters_page()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
