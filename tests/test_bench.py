import json

import pytest

from simsvm.bench.benchmark import main
from simsvm.bench.costs import PAPER_SIZES, reproduction_cost, training_flop


def test_training_flop_by_hand():
    # layer 1: 2*3*100*(80+100) = 108000, layer 2: 2*3*50*(100+50) = 45000 FLOP per step forward;
    # training = 3 x forward, 100 steps
    assert training_flop((100, 50), 80, 100) == 3 * (108_000 + 45_000) * 100


def test_reproduction_cost_by_hand():
    rows = {row["dataset"]: row for row in reproduction_cost(0.002, 1e-5)}
    gtzan = rows["gtzan"]
    # 10 folds x 4 networks + 100 splits x 2 networks, 400 epochs each
    assert gtzan["networks"] == 240 and gtzan["model_epochs"] == 96_000
    # 96,000 model-epochs x 900 excerpts x 2 ms; 240 networks x 41 snapshots x 1000 files x 30 s x 10 us
    assert gtzan["worker_hours_training"] == pytest.approx(96_000 * 900 * 0.002 / 3600)
    assert gtzan["worker_hours_snapshots"] == pytest.approx(240 * 41 * 1000 * 30 * 22050 / 551 * 1e-5 / 3600)
    assert set(rows) == set(PAPER_SIZES)


def stored_profile_ok(results: dict) -> bool:
    """The profile names the GRU's own operators and its shares are those of one total."""
    profile = results["training_step_profile"]["fp32"]
    operators = {row["operator"] for row in profile}
    shares = [row["share"] for row in profile]
    return (
        "_StackedGRU" in operators and 0 < sum(shares) <= 1 + 1e-9 and shares == sorted(shares, reverse=True)
    )


@pytest.mark.slow
def test_benchmark_runs_small_and_writes_its_figures(tmp_path):
    results = main(
        [
            "--clips",
            "24",
            "--frames",
            "150",
            "--epochs",
            "2",
            "--repeats",
            "2",
            "--models",
            "2",
            "--threads",
            "1",
            "--audio-files",
            "2",
            "--memory-clips",
            "30",
            "--protocol-epochs",
            "1",
            "--protocol-folds",
            "2",
            "--protocol-backend",
            "serial",
            "--profile",
            "--out",
            str(tmp_path),
        ]
    )
    assert stored_profile_ok(results)
    flags = results["cpu"]["flags"]  # Linux: every flag known, present or not
    assert set(flags) == {"avx2", "avx512f", "avx512_bf16", "amx_tile", "amx_bf16"}
    assert all(isinstance(value, bool) for value in flags.values())
    stored = json.loads((tmp_path / "bench.json").read_text())
    assert stored["train_excerpts"] == 21
    for key in (
        "reference_s_per_model_epoch",
        "snapshot_s",
        "svm_refit_s",
        "matmul_peak_gflops",
        "matmul_peak_bf16_gflops",
        "extraction_files_per_s_cold",
        "extraction_files_per_s_cached",
        "peak_rss_mib",
        "memory_check_worker_rss_mib",
    ):
        assert stored[key] > 0, key
    precisions = results["precisions"]  # fp32, and bf16 where the CPU has it
    assert precisions[0] == "fp32" and set(precisions) <= {"fp32", "bf16"}
    assert set(results["training_step_profile"]) == set(precisions)
    assert set(results["backends_s_per_model_epoch"]) >= {
        f"{backend}, {precision}"
        for backend in (
            "serial (one network at a time)",
            "serial (stack of 2)",
            "processes (incl. first start-up)",
            "processes (start-up subtracted)",
        )
        for precision in precisions
    }
    assert set(results["snapshot_s_by_path"]) == {"nn.GRU"} | {
        f"stacked{threads}, {precision}" for threads in ("", ", 1 thread") for precision in precisions
    }
    assert set(results["snapshot_share"]) == {
        f"{backend}, {precision}" for backend in ("serial", "processes") for precision in precisions
    }
    assert all(0 < share < 1 for share in results["snapshot_share"].values())
    assert set(results["snapshot_s_in_workers"]) == set(precisions)
    for precision in precisions:  # the processes share is the snapshot measured in the workers
        in_worker = results["snapshot_s_in_workers"][precision]
        backend = f"processes (start-up subtracted), {precision}"
        worker_epoch = results["threads"] * results["backends_s_per_model_epoch"][backend]
        expected = in_worker / (in_worker + 10 * worker_epoch)
        assert results["snapshot_share"][f"processes, {precision}"] == pytest.approx(expected)
    assert set(results["reproduction"]) == set(precisions)
    assert set(results["process_startup_s"]) == {"first run", "later runs"}
    # 2 folds x (baseline, RBF, cosine, polynomial networks), each evaluated at epochs 0 and 1
    (protocol,) = results["protocol"]
    assert protocol["networks"] == 8 and protocol["seconds"] > 0 and protocol["matmul_precision"] == "fp32"
    assert protocol["projected_400_epochs_min"] == pytest.approx(protocol["seconds"] * 400 / 60)
    assert (tmp_path / "bench.csv").read_text().startswith("what,s_per_model_epoch")
