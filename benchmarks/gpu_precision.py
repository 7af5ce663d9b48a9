"""On a CUDA machine: the stacked GRU's training step and one layer's snapshot in fp32, TF32 and bf16.

    PYTHONPATH=lib python3 benchmarks/gpu_precision.py     # writes $OUT/gpu_precision.json (or ./)

Paper sizes (80 inputs, 100 and 50 units, 100-step excerpts, batch 100), one network and a stack
of 40 (10-fold CV's networks); "bf16 all" casts every tensor to bfloat16, the upper bound of what
bf16 products could give there.  Also the 8192³ matrix product's TFLOP/s in each precision.  It
was run once (before matmul_precision existed) to choose what ``bf16`` means on a GPU: TF32.
"""

from __future__ import annotations

import itertools
import json
import os
import time

import torch

from simsvm.engine.recurrence import stacked_gru

DEVICE = "cuda"
SIZES = (80, 100, 50)
PRECISIONS = (
    ("fp32", torch.float32, False),
    ("tf32", torch.float32, True),
    ("bf16 all", torch.bfloat16, False),
)


def _synchronised_seconds(function, repeats: int) -> float:
    torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(repeats):
        function()
    torch.cuda.synchronize()
    return (time.perf_counter() - start) / repeats


def matmul_tflops(dtype: torch.dtype, tf32: bool, size: int = 8192) -> float:
    torch.backends.cuda.matmul.allow_tf32 = tf32
    a, b = (torch.randn(size, size, device=DEVICE, dtype=dtype) for _ in range(2))
    _synchronised_seconds(lambda: a @ b, 3)
    seconds = _synchronised_seconds(lambda: a @ b, 10)
    torch.backends.cuda.matmul.allow_tf32 = False
    return 2 * size**3 / seconds / 1e12


def training_step_seconds(
    models: int, dtype: torch.dtype, tf32: bool, steps: int = 100, batch: int = 100
) -> float:
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.manual_seed(0)
    layers = []
    for inputs, hidden in itertools.pairwise(SIZES):
        layers.append(
            [
                (0.1 * torch.randn(models, inputs, 3 * hidden, device=DEVICE, dtype=dtype)).requires_grad_(),
                (0.1 * torch.randn(models, hidden, 3 * hidden, device=DEVICE, dtype=dtype)).requires_grad_(),
                torch.zeros(models, 3 * hidden, device=DEVICE, dtype=dtype, requires_grad=True),
                torch.zeros(models, 3 * hidden, device=DEVICE, dtype=dtype, requires_grad=True),
            ]
        )
    frames = torch.randn(steps, models, batch, SIZES[0], device=DEVICE, dtype=dtype)

    def step() -> None:
        outputs = frames
        for layer in layers:
            outputs = stacked_gru(outputs, *layer)
        outputs.float().mean(0).square().sum().backward()

    _synchronised_seconds(step, 2)
    seconds = _synchronised_seconds(step, 5)
    torch.backends.cuda.matmul.allow_tf32 = False
    return seconds


def snapshot_layer_seconds(dtype: torch.dtype, tf32: bool, models: int = 40, files: int = 250) -> float:
    """The first layer over 1200 frames of ``files`` files for ``models`` networks, no gradients."""
    torch.backends.cuda.matmul.allow_tf32 = tf32
    weights = [
        0.1 * torch.randn(models, SIZES[0], 300, device=DEVICE, dtype=dtype),
        0.1 * torch.randn(models, SIZES[1], 300, device=DEVICE, dtype=dtype),
        torch.zeros(models, 300, device=DEVICE, dtype=dtype),
        torch.zeros(models, 300, device=DEVICE, dtype=dtype),
    ]
    frames = torch.randn(1200, models, files, SIZES[0], device=DEVICE, dtype=dtype)
    with torch.no_grad():
        stacked_gru(frames[:50], *weights)
        seconds = _synchronised_seconds(lambda: stacked_gru(frames, *weights), 1)
    torch.backends.cuda.matmul.allow_tf32 = False
    return seconds


def main() -> None:
    results = {"peak_tflops": {name: matmul_tflops(dtype, tf32) for name, dtype, tf32 in PRECISIONS}}
    print(results, flush=True)
    results["step_s"] = {}
    for models in (1, 40):
        for name, dtype, tf32 in PRECISIONS:
            seconds = training_step_seconds(models, dtype, tf32)
            results["step_s"][f"M={models} {name}"] = seconds
            print(f"M={models} {name}: {seconds * 1e3:.1f} ms per training step (T=100, batch 100)")
    for name, dtype, tf32 in PRECISIONS:
        seconds = snapshot_layer_seconds(dtype, tf32)
        results[f"snapshot_layer1_250files_{name}_s"] = seconds
        print(f"snapshot layer 1, 40 models x 250 files x 1200 frames, {name}: {seconds:.2f} s", flush=True)
    with open(os.path.join(os.environ.get("OUT", "."), "gpu_precision.json"), "w") as out:
        json.dump(results, out, indent=1)


if __name__ == "__main__":
    main()
