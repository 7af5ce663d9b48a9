"""A JupyterLab server and a headless Chromium for the browser tests (``make test-browser``).

The server runs from this environment on a free local port with a fresh token, in a temporary
folder holding the notebooks under test; Chromium is Debian's (``/usr/bin/chromium``), driven
by Playwright's Python package through ``executable_path`` (Playwright's own browser download
is never used).  A missing browser fails these tests rather than skipping them: CI installs it.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("SIMSVM_CHROMIUM", "/usr/bin/chromium")
# Flags for a closed network: no background requests, no first-run or sync machinery.
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _isolated(folder: Path) -> dict[str, str]:
    """Jupyter's config, runtime, settings and workspace folders of its own: no user settings apply."""
    names = (
        "JUPYTER_CONFIG_DIR",
        "JUPYTER_RUNTIME_DIR",
        "JUPYTERLAB_SETTINGS_DIR",
        "JUPYTERLAB_WORKSPACES_DIR",
    )
    paths = {name: folder / name.lower() for name in names}
    for path in paths.values():
        path.mkdir(exist_ok=True)
    return {name: str(path) for name, path in paths.items()}


class Lab:
    """A running JupyterLab: its folder, URL and token."""

    def __init__(self, root: Path):
        self.root = root
        self.port = _free_port()
        self.token = secrets.token_hex(16)
        self.log = root.parent / "jupyterlab.log"
        self.url = f"http://127.0.0.1:{self.port}"
        self._process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "jupyter",
                "lab",
                "--no-browser",
                "--ServerApp.ip=127.0.0.1",
                f"--ServerApp.port={self.port}",
                "--ServerApp.port_retries=0",
                f"--IdentityProvider.token={self.token}",
                f"--ServerApp.root_dir={root}",
                "--KernelManager.transport_encryption=auto",  # as make lab: no plain-TCP warning
                "--LabApp.expose_app_in_browser=True",  # window.jupyterapp: run cells by command
                "--LabApp.news_url=",
                "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
                *(["--allow-root"] if os.geteuid() == 0 else []),  # CI machines run as root
            ],
            cwd=root,
            env={**os.environ, **_isolated(root.parent)},
            stdout=self.log.open("w"),
            stderr=subprocess.STDOUT,
        )
        deadline = time.time() + 90
        while time.time() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"JupyterLab exited: {self.log.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{self.url}/api/status?token={self.token}", timeout=2):
                    return
            except OSError:
                time.sleep(0.5)
        raise RuntimeError(f"JupyterLab did not answer within 90 s: {self.log.read_text()[-3000:]}")

    def notebook_url(self, name: str) -> str:
        return f"{self.url}/lab/tree/{name}?token={self.token}&reset"

    def stop(self) -> None:
        self._process.terminate()
        try:
            self._process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self._process.kill()


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).is_file():
        pytest.fail(f"no Chromium at {CHROMIUM}: apt-get install -y chromium (or set SIMSVM_CHROMIUM)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def screenshots() -> Path:
    """Where the widget's screenshots go: ``SIMSVM_SCREENSHOTS`` or ``build/screenshots``."""
    folder = Path(os.environ.get("SIMSVM_SCREENSHOTS", Path(__file__).parents[2] / "build" / "screenshots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="session")
def lab_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("lab") / "root"
    root.mkdir()
    return root


@pytest.fixture(scope="session")
def lab(lab_root):
    server = Lab(lab_root)
    yield server
    server.stop()
    shutil.rmtree(lab_root / ".ipynb_checkpoints", ignore_errors=True)
