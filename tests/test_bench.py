import json

from simsvm.bench import main, training_flop


def test_training_flop_by_hand():
    # layer 1: 2*3*100*(80+100) = 108000, layer 2: 2*3*50*(100+50) = 45000 FLOP per step forward;
    # training = 3 x forward, 100 steps
    assert training_flop((100, 50), 80, 100) == 3 * (108_000 + 45_000) * 100


def test_benchmark_runs_small_and_writes_its_figures(tmp_path):
    results = main(
        [
            "--clips",
            "24",
            "--frames",
            "150",
            "--epochs",
            "1",
            "--models",
            "2",
            "--threads",
            "1",
            "--audio-files",
            "2",
            "--memory-clips",
            "30",
            "--out",
            str(tmp_path),
        ]
    )
    stored = json.loads((tmp_path / "bench.json").read_text())
    assert stored["train_excerpts"] == 21
    for key in (
        "reference_s_per_model_epoch",
        "snapshot_s",
        "svm_refit_s",
        "matmul_peak_gflops",
        "extraction_files_per_s_cold",
        "extraction_files_per_s_cached",
        "peak_rss_mib",
        "memory_check_worker_rss_mib",
    ):
        assert stored[key] > 0, key
    assert set(results["backends_s_per_model_epoch"]) >= {
        "serial (one network at a time)",
        "serial (stack of 2)",
        "processes (incl. start-up)",
        "processes (start-up subtracted)",
    }
    assert set(results["snapshot_s_by_path"]) == {
        "nn.GRU, 32 files per batch",
        "stacked",
        "stacked, 1 thread",
    }
    assert all(0 < share < 1 for share in results["snapshot_share"].values())
    assert (tmp_path / "bench.csv").read_text().startswith("what,s_per_model_epoch")
