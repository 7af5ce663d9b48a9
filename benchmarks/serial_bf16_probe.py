"""Milliseconds per training step of the stacked GRU, by precision, torch threads and stack size.

    python benchmarks/serial_bf16_probe.py [--threads 1,2] [--models 1,4] [--busy]

A step is what the serial backend does per batch (cut the excerpts, forward, loss, backward,
Adadelta), without snapshots.  Configurations are interleaved over ``--rounds`` rounds and the
median is reported, with the seconds per GTZAN model-epoch (9 batches of 100 excerpts) it
implies.  ``--busy`` keeps one core busy with a spinning process meanwhile, as another job on
the machine would.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from simsvm.bench.measure import bench_specs, synthetic_frames
from simsvm.engine.recurrence import product_precision
from simsvm.train.excerpts import frame_source
from simsvm.train.loop import initial_stack
from simsvm.train.spec import TrainingData, batch_loss


def stepper(data, specs):
    stack = initial_stack(specs, data, False)
    precision = product_precision(specs[0].matmul_precision, "cpu", warn=False)
    optimiser = torch.optim.Adadelta(stack.parameters(), lr=1.0, rho=0.95, eps=1e-6)
    frames = frame_source(data.frames, torch.device("cpu"), None)
    annotations, targets = torch.as_tensor(data.annotations), torch.as_tensor(np.asarray(data.targets))
    rng = np.random.default_rng(0)
    train = np.asarray(specs[0].train_indices)

    def step() -> None:
        files = torch.as_tensor(np.stack([rng.permutation(train)[:100] for _ in specs]))
        starts = torch.as_tensor(rng.integers(0, int(data.frames.lengths.min()) - 100, files.shape))
        excerpts = frames.excerpts(files, starts, 100, [spec.normaliser for spec in specs])
        features = stack.features(excerpts, precision=precision)
        losses = [
            batch_loss(spec, data.task, features[m], annotations[files[m]], targets[files[m]], None)
            for m, spec in enumerate(specs)
        ]
        optimiser.zero_grad()
        torch.stack(losses).sum().backward()
        optimiser.step()

    return step


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--models", default="1")
    parser.add_argument("--precisions", default="fp32,bf16")
    parser.add_argument("--steps", type=int, default=15)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--busy", action="store_true")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    busy = None
    if args.busy:
        busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        with tempfile.TemporaryDirectory() as scratch:
            store = synthetic_frames(Path(scratch), 200, 300, rng)
            labels = rng.permutation(np.arange(200) % 10)
            data = TrainingData(
                frames=store, targets=labels, annotations=np.eye(10)[labels], task="classification"
            )
            configs = list(
                itertools.product(
                    map(int, args.threads.split(",")),
                    map(int, args.models.split(",")),
                    args.precisions.split(","),
                )
            )
            steps, times = {}, {config: [] for config in configs}
            for threads, models, precision in configs:
                specs = [replace(s, matmul_precision=precision) for s in bench_specs(data, models, 1, 180)]
                steps[threads, models, precision] = stepper(data, specs)
            for _ in range(args.rounds):
                for config in configs:
                    torch.set_num_threads(config[0])
                    step = steps[config]
                    step()  # warm-up
                    start = time.perf_counter()
                    for _ in range(args.steps):
                        step()
                    times[config].append((time.perf_counter() - start) / args.steps)
            for (threads, models, precision), values in times.items():
                median = statistics.median(values)
                print(
                    f"threads {threads} models {models} {precision}: {median * 1e3:7.1f} ms/step "
                    f"(min {min(values) * 1e3:6.1f}); {median * 9 / models:.3f} s per GTZAN model-epoch"
                    + (", one core busy" if busy else ""),
                    flush=True,
                )
    finally:
        if busy is not None:
            busy.kill()


if __name__ == "__main__":
    main()
