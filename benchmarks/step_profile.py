"""Where one training step's time goes, per precision and thread count (torch.profiler).

python benchmarks/step_profile.py [--threads 1] [--models 1]
"""

from __future__ import annotations

import argparse
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from simsvm.bench.measure import bench_specs, profile_training_step, synthetic_frames
from simsvm.train.spec import TrainingData


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--models", type=int, default=1)
    parser.add_argument("--precisions", default="fp32,bf16")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as scratch:
        store = synthetic_frames(Path(scratch), 200, 300, rng)
        labels = rng.permutation(np.arange(200) % 10)
        data = TrainingData(
            frames=store, targets=labels, annotations=np.eye(10)[labels], task="classification"
        )
        spec = bench_specs(data, 1, 1, 180)[0]
        for precision in args.precisions.split(","):
            rows = profile_training_step(data, replace(spec, matmul_precision=precision), steps=20, rows=18)
            total = sum(row["ms_per_step"] for row in rows)
            print(f"{precision}, {args.threads} thread(s): {total:.2f} ms/step in the top rows")
            for row in rows:
                print(
                    f"  {row['operator']:40s} {row['ms_per_step']:8.3f} ms {row['share']:6.1%} "
                    f"{row['calls_per_step']:6.0f} calls"
                )


if __name__ == "__main__":
    main()
