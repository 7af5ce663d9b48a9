"""The README, followed verbatim on a fresh copy of the project: its shell blocks, in order.

Only sizes change (fewer clips, epochs and folds), each by a substitution that must match the
README's text, so a README that drifts from these commands fails here rather than for a reader.
``make test`` is not run (this test runs inside it) and ``make lab`` starts a server (the browser
tests open the notebooks in JupyterLab instead). The copy shares this environment's ``.venv``.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# (README text, what the test runs instead): the same commands, at a size a test can afford.
SMALL = [
    (
        "make demo ",
        "make demo -o .venv/.installed DEMO_DATA='--clips-per-class 4 --duration 3'"
        " DEMO_SET='--set epochs=2 --set eval_every=1' ",
    ),
    ("--set epochs=20", "--set epochs=2 --set eval_every=1"),
    ("epochs: 20\n", "epochs: 2\neval_every: 1\n"),
]
SKIPPED = ("make test", "make lab")


def shell_blocks(readme: str) -> list[str]:
    """The README's ```bash blocks, in order."""
    return re.findall(r"```bash\n(.*?)```", readme, flags=re.DOTALL)


def _fresh_copy(destination: Path) -> Path:
    """What a clone of the working tree holds: tracked files and untracked ones git does not ignore."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, (item.decode() for item in listed)):
        source = ROOT / name
        if source.is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)
    (destination / ".venv").symlink_to(ROOT / ".venv")
    subprocess.run(["git", "init", "-q"], cwd=destination, check=True)
    subprocess.run(["git", "add", "-A"], cwd=destination, check=True)
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "copy"],
        cwd=destination,
        check=True,
    )
    return destination


def _small(block: str) -> str:
    lines = [line for line in block.splitlines() if not line.strip().startswith(SKIPPED)]
    script = "\n".join(lines) + "\n"
    for readme_text, small in SMALL:
        script = script.replace(readme_text, small)
    return script


def test_every_size_substitution_matches_the_readme():
    readme = (ROOT / "README.md").read_text()
    text = "\n".join(shell_blocks(readme))
    missing = [readme_text for readme_text, _ in SMALL if readme_text not in text]
    assert not missing, f"the README no longer says {missing}; update tests/test_readme.py"


@pytest.mark.slow
def test_the_readme_works_verbatim_on_a_fresh_copy(tmp_path):
    project = _fresh_copy(tmp_path / "simsvm")
    readme = (project / "README.md").read_text()
    blocks = shell_blocks(readme)
    assert blocks, "the README has no shell blocks"
    outputs = []
    for index, block in enumerate(blocks):
        script = _small(block)
        done = subprocess.run(
            [
                "bash",
                "-euo",
                "pipefail",
                "-c",
                script if index == 0 else f"source .venv/bin/activate\n{script}",
            ],
            cwd=project,
            capture_output=True,
            text=True,
            timeout=1200,
        )
        assert done.returncode == 0, (
            f"README block {index + 1} failed:\n{script}\n{done.stdout}\n{done.stderr}"
        )
        outputs.append(done.stdout)
        if index == 0:
            # the demo writes only where git does not look: a clone stays clean
            status = subprocess.run(
                ["git", "status", "--porcelain"], cwd=project, capture_output=True, text=True, check=True
            ).stdout
            assert status == "", f"make demo left the tree dirty:\n{status}"
            assert (project / "results" / "demo" / "report.html").is_file()
    assert (project / "results" / "first-run" / "results.csv").is_file()
    assert (project / "results" / "my-moods" / "results.csv").is_file()
    assert "first-run" in "\n".join(outputs)
