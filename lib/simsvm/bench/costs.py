"""What the paper's protocols cost: FLOP of a training pass, worker-hours of a full reproduction,
and the benchmark's gate on reduced precision.

Arithmetic over figures that :mod:`simsvm.bench` measures; nothing here times anything.
"""

from __future__ import annotations

import itertools
import math

__all__ = ["PAPER_SIZES", "reproduction_cost", "slower_than_fp32", "training_flop"]

# Files and typical length (seconds) of the paper's datasets (Table 1; Emotify's clips run 30-60 s).
PAPER_SIZES = {
    "lastfm": (2906, 30.0),
    "emotify": (400, 45.0),
    "mediaeval2013": (744, 45.0),
    "gtzan": (1000, 30.0),
    "ballroom": (754, 30.0),
}
_FRAMES_PER_SECOND = 22050 / 551


def training_flop(hidden_sizes: tuple[int, ...], n_inputs: int, steps: int) -> float:
    """FLOP of one training pass (forward + backward) of one sequence of ``steps`` frames."""
    sizes = [n_inputs, *hidden_sizes]
    forward = sum(2 * 3 * h * (i + h) for i, h in itertools.pairwise(sizes))
    return 3.0 * forward * steps


def reproduction_cost(
    seconds_per_excerpt: float,
    seconds_per_frame: float,
    *,
    epochs: int = 400,
    eval_every: int = 10,
    folds: int = 10,
    cv_networks: int = 4,
    splits: int = 100,
    split_networks: int = 2,
    train_share: float = 0.9,
) -> list[dict]:
    """Model-epochs and estimated worker-hours of the paper's full protocol, per dataset.

    CV trains ``cv_networks`` (NN/FL, RBF-SL, Cos-SL, Poly-SL) per fold, the significance protocol
    ``split_networks`` (NN/FL, RBF-SL) per split, each for ``epochs``; every network reads every
    file whole at each of its ``epochs / eval_every + 1`` evaluations.  Training time scales with
    the excerpts read (``train_share`` x files per epoch), snapshots with the frames read;
    ``seconds_per_excerpt`` and ``seconds_per_frame`` are one worker's, from the benchmark.
    """
    rows = []
    for dataset, (files, seconds) in PAPER_SIZES.items():
        networks = folds * cv_networks + splits * split_networks
        model_epochs = networks * epochs
        training = model_epochs * train_share * files * seconds_per_excerpt
        snapshots = (
            networks * (epochs // eval_every + 1) * files * seconds * _FRAMES_PER_SECOND * seconds_per_frame
        )
        rows.append(
            {
                "dataset": dataset,
                "networks": networks,
                "model_epochs": model_epochs,
                "worker_hours_training": training / 3600,
                "worker_hours_snapshots": snapshots / 3600,
                "worker_hours": (training + snapshots) / 3600,
            }
        )
    return rows


def slower_than_fp32(seconds: dict[str, float], tolerance: float = 0.15) -> list[str]:
    """A ``FAIL`` line for every cell that is slower than the same backend's fp32 cell.

    ``seconds`` maps cells named ``<backend>, <precision>`` to seconds per model-epoch.  A cell
    fails when it takes more than ``1 + tolerance`` times its backend's ``fp32`` cell: reduced
    precision is there to be faster, and timings on a shared 2-core machine vary by 10-20 %.
    Cells without an fp32 counterpart (none on a CPU without native bfloat16) pass, and so do
    cells that noise left unmeasured (NaN, either side), with a ``NOTE`` line.
    """
    failures = []
    for name, value in seconds.items():
        backend, _, precision = name.rpartition(", ")
        baseline = seconds.get(f"{backend}, fp32")
        if precision == "fp32" or baseline is None:
            continue
        if math.isnan(value) or math.isnan(baseline):
            print(f"NOTE {name}: not compared with {backend}, fp32 (a timing was lost in noise)")
            continue
        if value <= baseline * (1 + tolerance):
            continue
        failures.append(
            f"FAIL {name}: {value:.3g} s/model-epoch, slower than {backend}, fp32 {baseline:.3g} s "
            f"({value / baseline:.2f}x; tolerance {tolerance:.0%})"
        )
    return failures
