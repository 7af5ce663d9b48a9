#!/usr/bin/env bash
# The GPU checks of the CUDA backend, as one device call (about 2.5 minutes on an H200):
#   1. the CUDA tests (stacked GRU on the GPU = the networks trained alone on the CPU, in float32
#      and with matmul_precision bf16, which is TF32 products on a GPU);
#   2. python -m simsvm.bench on GTZAN-sized random frames (1000 clips x 1200 frames) with every
#      backend in both precisions, and the paper's 10-fold CV (40 networks, snapshots and SVM refits
#      every 10 epochs) on the cuda backend for 20 epochs in fp32 and bf16, projected to 400.
# Run from the repository root on a machine with CUDA and torch (the device image has both, but
# not librosa or soundfile: the project runs from lib/ without installing, and the bench skips
# the audio extraction timing). Results land in $OUT (or benchmarks/results/gpu).
set -euo pipefail
out="${OUT:-benchmarks/results}/gpu"
mkdir -p "$out"
export PYTHONPATH="lib${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$out/gpu.txt"
python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())" | tee -a "$out/gpu.txt"
python3 -m pytest -q -p no:cacheprovider tests/test_stacked.py tests/test_precision.py 2>&1 | tee "$out/tests.txt"
python3 -m simsvm.bench --audio-files 0 --memory-clips 0 --protocol-epochs "${PROTOCOL_EPOCHS:-20}" \
    --protocol-precisions fp32,bf16 \
    --out "$out" 2>&1 | tee "$out/bench.txt"
