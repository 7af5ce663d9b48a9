"""Helpers shared by several test modules."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile

# Experiment settings small enough for a test: two folds, two epochs, a tiny network.
TINY_RUN = {
    "folds": 2,
    "epochs": 2,
    "eval_every": 1,
    "hidden_sizes": [12, 6],
    "batch_size": 10,
    "excerpt_length": 40,
    "backend": "serial",
    "progress": False,
}


def write_tone(path: Path, *, frequency: float, seconds: float, sample_rate: int = 22050) -> Path:
    """A sine tone at -12 dBFS, written as 16-bit audio in the format of ``path``'s suffix."""
    t = np.arange(int(seconds * sample_rate)) / sample_rate
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(path, 0.25 * np.sin(2 * np.pi * frequency * t), sample_rate, subtype="PCM_16")
    return path
