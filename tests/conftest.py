"""Shared fixtures: tiny generated datasets in the real layouts, made once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import small_training_data
from simsvm.data.datasets import synthetic

TINY = {"clips_per_class": 3, "duration": 3.0, "seed": 7}


@pytest.fixture(scope="session")
def synth_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("synth")
    synthetic.generate(root, progress=False, **TINY)
    return root


@pytest.fixture(scope="session")
def frame_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("frame-cache")


@pytest.fixture(scope="session")
def data():
    """Tiny random training data (see helpers.small_training_data)."""
    return small_training_data()
