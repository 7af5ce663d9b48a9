"""Speed and memory of training, snapshots, frame extraction and SVM refits, measured in one run.

    python -m simsvm.bench [--clips 1000 --frames 1200 --epochs 2 --models 4] [--out benchmarks/results]

The machine is noisy, so every figure is measured in this one run and reported as a ratio to the
reference measured beside it: one ``nn.GRU`` network at a time with all threads (the obvious
loop).  FLOP count of one training step of one sequence: each GRU layer with ``i`` inputs and
``h`` units does three gate matrix products, ``2 * 3 * h * (i + h)`` FLOP forward; backward costs
about twice the forward, so training is ``3 *`` that, summed over layers and multiplied by
``excerpt_length`` steps and the excerpts of an epoch.  The matmul peak is that of a large
float32 ``torch.matmul`` with the same threads.
"""

from __future__ import annotations

import argparse
import platform
import resource
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from simsvm._io import write_json_atomic, write_text_atomic
from simsvm.bench.costs import reproduction_cost, slower_than_fp32, training_flop
from simsvm.bench.measure import (
    bench_specs,
    cpu_capabilities,
    extraction_rates,
    matmul_peak,
    profile_training_step,
    synthetic_frames,
    time_protocol_runs,
    time_set,
    time_snapshot,
    time_svm_refit,
    worker_memory,
)
from simsvm.engine.cpu import cpu_has_bf16
from simsvm.engine.recurrence import gru_loop, product_precision
from simsvm.train.backends import Backend, CudaBackend, ProcessBackend, ReferenceBackend, SerialBackend
from simsvm.train.spec import TrainingData, TrainingSpec, evaluated_epochs

__all__ = ["cli", "main"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m simsvm.bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--clips", type=int, default=1000, help="files (GTZAN: 1000)")
    parser.add_argument("--frames", type=int, default=1200, help="frames per file (30 s: 1200)")
    parser.add_argument(
        "--train-share", type=float, default=0.9, help="training files per epoch (10-fold CV: 0.9)"
    )
    parser.add_argument(
        "--epochs", type=int, default=2, help="epochs per model in each measurement (at least 2)"
    )
    parser.add_argument("--models", type=int, default=4, help="models in the set given to each backend")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument(
        "--audio-files", type=int, default=20, help="30 s files for the extraction timing (0 skips it)"
    )
    parser.add_argument(
        "--memory-clips",
        type=int,
        default=2906,
        help="files of the worker memory check (Lastfm: 2906 of 30 s; 0 skips it)",
    )
    parser.add_argument(
        "--protocol-epochs",
        type=int,
        default=None,
        help="epochs of the timed 10-fold CV protocol (default: 20 with CUDA, 0 = skip without)",
    )
    parser.add_argument("--protocol-folds", type=int, default=10, help="folds of the timed protocol")
    parser.add_argument(
        "--protocol-precisions",
        default="fp32",
        help="comma-separated matmul precisions the protocol is timed in (e.g. fp32,bf16)",
    )
    parser.add_argument(
        "--protocol-backend",
        choices=("cuda", "processes", "serial"),
        default=None,
        help="backend of the protocol timing (default: cuda if present, else processes)",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="also profile one training step (torch.profiler, one thread) and print where its time goes",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="time the training cells only, print them and the gate, write nothing unless --out",
    )
    parser.add_argument(
        "--tolerance",
        type=float,
        default=0.15,
        help="the gate fails a cell slower than its backend's fp32 cell by more than this share",
    )
    parser.add_argument("--repeats", type=int, default=1, help="runs per timing; the best counts")
    parser.add_argument(
        "--out", default=None, help="folder for bench.json and bench.csv (default benchmarks/results)"
    )
    return parser


def _precisions() -> tuple[str, ...]:
    """The matmul precisions worth a row here: bf16 only where the CPU multiplies it natively."""
    return ("fp32", "bf16") if cpu_has_bf16() else ("fp32",)


def _training_seconds(
    args: argparse.Namespace, specs: list[TrainingSpec], data: TrainingData, backend: Backend
) -> tuple[float, float]:
    """Seconds per model-epoch of training alone, and seconds of the whole ``--epochs`` run.

    ``specs`` are timed for ``--epochs`` and for one epoch, each evaluated (one file) before the
    first epoch and after the last, and the difference is divided by the extra model-epochs: the
    start-up, the worker processes' included, and the evaluations cancel out.  Each is the best
    of ``--repeats`` runs, the two taken in turn; NaN when noise left no positive difference.
    """
    short = [replace(spec, epochs=1, eval_every=1) for spec in specs]
    total = one_epoch = float("inf")
    for _ in range(args.repeats):
        total = min(total, time_set(specs, data, backend))
        one_epoch = min(one_epoch, time_set(short, data, backend))
    extra = len(specs) * (specs[0].epochs - 1)
    return (total - one_epoch) / extra if total > one_epoch else float("nan"), total


def _time_backends(args: argparse.Namespace, data: TrainingData, specs: list[TrainingSpec]) -> dict:
    """Seconds per model-epoch of the reference and of every backend in every precision, and the
    workers' start-up.  Rows are named ``<backend>, <precision>``.
    """
    model_epochs = args.models * args.epochs
    # The reference: one nn.GRU model at a time, all threads, the loop a user would write.
    torch.set_num_threads(args.threads)
    warm_up = replace(specs[0], epochs=1, train_indices=specs[0].train_indices[:100])
    time_set([warm_up], data, ReferenceBackend(threads=args.threads))
    time_set([warm_up], data, SerialBackend(threads=args.threads))
    reference, _ = _training_seconds(args, specs, data, ReferenceBackend(threads=args.threads))
    processes = ProcessBackend(workers=args.threads, threads_per_worker=1)
    nothing = [replace(spec, epochs=0, eval_indices=(0,)) for spec in specs]
    # Start-up: the first run of a Python process starts the forkserver (imports torch,
    # scikit-learn, ...); every run forks its workers and sends them the store.
    first_startup = time_set(nothing, data, processes)
    startup = time_set(nothing, data, processes)
    network_time, snapshot_in_workers = {}, {}
    snapshots_per_network = len(evaluated_epochs(specs[0].epochs, specs[0].eval_every))
    for precision in _precisions():
        in_precision = [replace(spec, matmul_precision=precision) for spec in specs]
        for name, backend in (
            ("serial (one network at a time)", SerialBackend(threads=args.threads)),
            (f"serial (stack of {args.models})", SerialBackend(threads=args.threads, stack_size=args.models)),
        ):
            network_time[f"{name}, {precision}"], _ = _training_seconds(args, in_precision, data, backend)
        training, total = _training_seconds(args, in_precision, data, processes)
        network_time[f"processes (start-up subtracted), {precision}"] = training
        network_time[f"processes (incl. first start-up), {precision}"] = (
            total - startup + first_startup
        ) / model_epochs
        if args.check:
            continue
        # The same run with every snapshot reading every file: what the snapshots add, each
        # taken in a worker while the other workers train or take theirs, as in a real run.
        every_file = [replace(spec, eval_indices=tuple(range(args.clips))) for spec in in_precision]
        added = max(time_set(every_file, data, processes) - total, 1e-9)
        snapshot_in_workers[precision] = added * args.threads / (len(specs) * snapshots_per_network)
    if torch.cuda.is_available():
        cuda = CudaBackend()
        time_set([warm_up], data, cuda)
        for precision in ("fp32", "bf16"):  # bf16: TF32 products on CUDA
            in_precision = [replace(spec, matmul_precision=precision) for spec in specs]
            network_time[f"cuda (stack of {args.models}), {precision}"], _ = _training_seconds(
                args, in_precision, data, cuda
            )
    return {
        "process_startup_s": {"first run": first_startup, "later runs": startup},
        "snapshot_s_in_workers": snapshot_in_workers,
        "reference_s_per_model_epoch": reference,
        "backends_s_per_model_epoch": network_time,
    }


def _time_snapshots(
    args: argparse.Namespace, data: TrainingData, spec: TrainingSpec, backends: dict, in_workers: dict
) -> tuple[dict, np.ndarray]:
    """Whole-file features of every file, as each evaluation computes them: seconds per path and
    precision, and the snapshot's share of training (snapshot and training in the same precision)
    with the serial backend's threads, and in a worker of the processes backend as measured there
    (``in_workers``, seconds per snapshot of every file).
    """
    torch.set_num_threads(args.threads)
    by_path = {"nn.GRU": time_snapshot(data, spec, args.clips, plain=True)[0]}
    share = {}
    epochs_between = 10
    for precision in _precisions():
        in_precision = replace(spec, matmul_precision=precision)
        torch.set_num_threads(args.threads)
        seconds, features = time_snapshot(data, in_precision, args.clips, plain=False)
        if precision == "fp32":
            fp32_features = features
        torch.set_num_threads(1)
        one_thread, _ = time_snapshot(data, in_precision, args.clips, plain=False)
        torch.set_num_threads(args.threads)
        by_path[f"stacked, {precision}"] = seconds
        by_path[f"stacked, 1 thread, {precision}"] = one_thread
        # a worker's network takes (workers x s/model-epoch) per epoch of its own
        worker_epoch = args.threads * backends[f"processes (start-up subtracted), {precision}"]
        serial_epoch = backends[f"serial (one network at a time), {precision}"]
        share[f"serial, {precision}"] = seconds / (seconds + epochs_between * serial_epoch)
        in_worker = in_workers[precision]
        share[f"processes, {precision}"] = in_worker / (in_worker + epochs_between * worker_epoch)
    return {
        "snapshot_s": by_path["stacked, fp32"],
        "snapshot_s_by_path": by_path,
        "snapshot_share": share,
    }, fp32_features


def _report(results: dict, args: argparse.Namespace, flop_per_epoch: float) -> list[str]:
    """Print the measurements; return the CSV lines of the per-backend table."""
    reference = results["reference_s_per_model_epoch"]
    rows = [("reference (one nn.GRU model at a time)", reference)]
    rows += [(f"backend {name}", seconds) for name, seconds in results["backends_s_per_model_epoch"].items()]
    lines = ["what,s_per_model_epoch,gflops,fraction_of_matmul_peak,speedup_vs_reference"]
    print(f"{'':50s} {'s/model-epoch':>14s} {'GFLOP/s':>8s} {'of peak':>8s} {'vs ref':>7s}")
    for name, seconds in rows:
        gflops = flop_per_epoch / seconds / 1e9
        share = gflops / results["matmul_peak_gflops"]
        print(f"{name:50s} {seconds:14.3f} {gflops:8.1f} {share:8.0%} {reference / seconds:6.2f}x")
        lines.append(f"{name},{seconds:.4f},{gflops:.2f},{share:.3f},{reference / seconds:.3f}")
    cpu = results["cpu"]
    flags = cpu["flags"]
    has = "unknown" if flags is None else ", ".join(f"{k} {'yes' if v else 'no'}" for k, v in flags.items())
    print(f"CPU: {cpu['model']}; {has}; PyTorch code path {cpu['torch_capability']}")
    if "bf16" not in results["precisions"]:
        print("no native bfloat16 on this CPU (AMX-BF16 or AVX512-BF16): fp32 rows only")
    else:
        print(f"bf16 rows: the GRU's time loops {results['bf16_gru_loop']} (simsvm/engine/fused_gru.cpp)")
    print(
        f"bf16 matmul peak {results['matmul_peak_bf16_gflops']:.0f} GFLOP/s "
        f"({results['matmul_peak_bf16_gflops'] / results['matmul_peak_gflops']:.1f}x fp32)"
    )
    if args.check:
        return lines
    for precision, rows in results.get("training_step_profile", {}).items():
        for row in rows:
            print(
                f"  profile {precision} {row['operator']:32s} {row['ms_per_step']:8.2f} ms/step "
                f"{row['share']:6.1%} ({row['calls_per_step']:.0f} calls)"
            )
    print(
        f"matmul peak {results['matmul_peak_gflops']:.0f} GFLOP/s ({args.threads} threads); "
        f"{results['gflop_per_model_epoch']:.1f} GFLOP per model-epoch "
        f"({results['train_excerpts']} excerpts of 100 frames)"
    )
    paths, share = results["snapshot_s_by_path"], results["snapshot_share"]
    print(f"snapshot of {args.clips} x {args.frames} frames: nn.GRU {paths['nn.GRU']:.2f} s")
    for precision in results["precisions"]:
        stacked = paths[f"stacked, {precision}"]
        print(
            f"  stacked, {precision}: {stacked:.2f} s ({paths['nn.GRU'] / stacked:.2f}x nn.GRU), "
            f"{paths[f'stacked, 1 thread, {precision}']:.2f} s on one thread alone, "
            f"{results['snapshot_s_in_workers'][precision]:.2f} s in a worker beside the others; "
            f"share of training with a snapshot every 10 epochs: serial {share[f'serial, {precision}']:.0%}, "
            f"processes {share[f'processes, {precision}']:.0%}"
        )
    print(f"SVM refit ({results['train_excerpts']} training vectors): {results['svm_refit_s']:.3f} s")
    if args.audio_files:
        print(
            f"frame extraction, 30 s files: {results['extraction_files_per_s_cold']:.1f}/s cold, "
            f"{results['extraction_files_per_s_cached']:.0f}/s cached"
        )
    startup = results["process_startup_s"]
    print(
        f"peak RSS of this process {results['peak_rss_mib']:.0f} MiB; worker start-up "
        f"{startup['first run']:.1f} s in a process's first run, {startup['later runs']:.2f} s in later runs"
    )
    if args.memory_clips:
        print(
            f"worker training on {args.memory_clips} x {args.frames} frames (memory-mapped cache): "
            f"peak RSS {results['memory_check_worker_rss_mib']:.0f} MiB"
        )
    for protocol in results["protocol"]:
        print(
            f"{protocol['folds']}-fold CV ({protocol['networks']} networks, snapshots + SVM refits "
            f"every 10 epochs), backend {protocol['backend']}, {protocol['matmul_precision']}: "
            f"{protocol['epochs']} epochs in {protocol['seconds']:.0f} s, "
            f"projected to 400 epochs: {protocol['projected_400_epochs_min']:.1f} min"
        )
    print("full reproduction (400 epochs; 10-fold CV x 4 networks + 100 splits x 2), per worker process:")
    for precision, rows in results["reproduction"].items():
        for row in rows:
            print(
                f"  {precision} {row['dataset']:14s} {row['model_epochs']:8d} model-epochs  "
                f"{row['worker_hours']:7.1f} worker-hours "
                f"({row['worker_hours_snapshots']:.1f} of them snapshots)"
            )
        total = sum(row["worker_hours"] for row in rows)
        print(f"  {precision} {'all five':14s} {total:24.0f} worker-hours")
    return lines


def main(argv: list[str] | None = None) -> dict:
    """Measure, report and write; ``results["gate_failures"]`` lists the cells slower than fp32."""
    args = _parser().parse_args(argv)
    if args.epochs < 2 or args.repeats < 1:
        raise SystemExit("--epochs must be at least 2 and --repeats at least 1")
    rng = np.random.default_rng(0)
    train = int(args.train_share * args.clips)
    flop_per_epoch = training_flop((100, 50), 80, 100) * train
    results: dict = {
        "machine": platform.platform(),
        "torch": torch.__version__,
        "threads": args.threads,
        "clips": args.clips,
        "frames": args.frames,
        "train_excerpts": train,
        "gflop_per_model_epoch": flop_per_epoch / 1e9,
    }
    results["cpu"] = cpu_capabilities()
    results["precisions"] = _precisions()
    if "bf16" in results["precisions"]:
        results["bf16_gru_loop"] = gru_loop(product_precision("bf16", "cpu"), "cpu")
    results["matmul_peak_gflops"] = matmul_peak(args.threads)
    # bf16 products: where the CPU has AMX or AVX512-BF16, the headroom reduced precision offers
    results["matmul_peak_bf16_gflops"] = matmul_peak(args.threads, dtype=torch.bfloat16)
    with tempfile.TemporaryDirectory(prefix="simsvm-bench-") as scratch:
        scratch = Path(scratch)
        store = synthetic_frames(scratch, args.clips, args.frames, rng)
        labels = rng.permutation(np.arange(args.clips) % 10)  # balanced: every class in every fold
        data = TrainingData(
            frames=store, targets=labels, annotations=np.eye(10)[labels], task="classification"
        )
        specs = bench_specs(data, args.models, args.epochs, train)
        if args.profile:
            torch.set_num_threads(1)
            results["training_step_profile"] = {
                precision: profile_training_step(data, replace(specs[0], matmul_precision=precision))
                for precision in results["precisions"]
            }
            torch.set_num_threads(args.threads)
        results.update(_time_backends(args, data, specs))
        results["gate_failures"] = slower_than_fp32(results["backends_s_per_model_epoch"], args.tolerance)
        if args.check:
            return _finish(results, args, flop_per_epoch)
        snapshots, features = _time_snapshots(
            args, data, specs[0], results["backends_s_per_model_epoch"], results["snapshot_s_in_workers"]
        )
        results.update(snapshots)
        results["svm_refit_s"] = time_svm_refit(features, labels, train)
        if args.audio_files:
            results.update(extraction_rates(scratch / "audio", args.audio_files, rng))
        results["protocol"] = time_protocol_runs(args, data, scratch)
        if args.memory_clips:
            results["memory_check_clips"] = args.memory_clips
            results["memory_check_worker_rss_mib"] = worker_memory(
                scratch / "memory", args.memory_clips, args.frames, rng
            )
    results["reproduction"] = {}
    for precision in results["precisions"]:
        per_worker_epoch = (
            args.threads
            * results["backends_s_per_model_epoch"][f"processes (start-up subtracted), {precision}"]
        )
        results["reproduction"][precision] = reproduction_cost(
            per_worker_epoch / train,
            results["snapshot_s_in_workers"][precision] / (args.clips * args.frames),
        )
    results["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return _finish(results, args, flop_per_epoch)


def _finish(results: dict, args: argparse.Namespace, flop_per_epoch: float) -> dict:
    """Print the report and the gate's verdict; write the files (a check only with ``--out``)."""
    lines = _report(results, args, flop_per_epoch)
    for line in results["gate_failures"]:
        print(line)
    if not results["gate_failures"]:
        print(f"gate passed: no cell slower than its fp32 cell by more than {args.tolerance:.0%}")
    out = args.out or (None if args.check else "benchmarks/results")
    if out is not None:
        write_json_atomic(Path(out) / "bench.json", results)
        write_text_atomic(Path(out) / "bench.csv", "\n".join(lines) + "\n")
        print(f"written: {Path(out) / 'bench.json'}, {Path(out) / 'bench.csv'}")
    return results


def cli(argv: list[str] | None = None) -> int:
    """``python -m simsvm.bench``: 1 when the gate failed a cell (its lines say which), else 0."""
    return 1 if main(argv)["gate_failures"] else 0


if __name__ == "__main__":
    sys.exit(cli())
