"""Batches and experiments on a real dask LocalCluster, including a worker killed mid-run."""

import json
import os
import signal
import threading
import time

import pandas as pd
import pytest

from helpers import TINY_RUN
from simsvm.cli.batch import run_batch
from simsvm.experiment.config import ExperimentConfig
from simsvm.experiment.results import load_provenance
from simsvm.experiment.run import run_experiment
from simsvm.train.backends import SerialBackend

distributed = pytest.importorskip("distributed")
pytestmark = pytest.mark.slow  # a dask cluster starts in seconds; the killed-worker test takes ~40 s
from simsvm.train.cluster import DaskBackend, local_cluster  # noqa: E402


def _config(synth_root, frame_cache, results_dir, **extra) -> ExperimentConfig:
    settings = {**TINY_RUN, "approaches": ["NN", "RBF-SL"], **extra}
    return ExperimentConfig(
        name="cluster",
        dataset="gtzan",
        data_dir=str(synth_root / "gtzan"),
        results_dir=str(results_dir),
        cache_dir=str(frame_cache),
        **settings,
    )


def test_a_batch_runs_through_a_local_cluster(synth_root, frame_cache, tmp_path):
    parameters = tmp_path / "tiny.yaml"
    config = _config(synth_root, frame_cache, tmp_path / "unused")
    parameters.write_text(
        "\n".join(
            f"{key}: {json.dumps(value)}"
            for key, value in config.to_dict().items()
            if key not in ("results_dir",) and value is not None
        )
    )
    report = run_batch([parameters], batch="b", results_dir=tmp_path / "results", summary=False, workers=2)
    assert report.finished == ["cluster"] and not report.failed
    run_dir = tmp_path / "results" / "b" / "cluster"
    table = pd.read_csv(run_dir / "results.csv")
    provenance = load_provenance(run_dir)
    # two folds x two networks, each job once, every row traced to a dask worker and the file
    assert sorted(provenance.job) == ["fold00-baseline", "fold00-rbf", "fold01-baseline", "fold01-rbf"]
    assert provenance.worker.str.startswith("tcp://").all()
    assert set(table.job) == set(provenance.job)
    assert not table.duplicated(["approach", "fold", "epoch", "target", "metric"]).any()
    ledger = json.loads((tmp_path / "results" / "b" / "batch.json").read_text())["runs"]["cluster"]
    assert ledger["parameters_file"] == str(parameters.resolve())
    assert set(provenance.parameters_hash) == {ledger["parameters_hash"]}


def test_a_killed_worker_loses_only_its_job_and_the_table_is_unchanged(synth_root, frame_cache, tmp_path):
    # long enough per job that a worker can be killed while it trains
    slow = {"epochs": 150, "eval_every": 75}
    clean = run_experiment(
        _config(synth_root, frame_cache, tmp_path / "clean", **slow), backend=SerialBackend(threads=1)
    )
    with local_cluster(2) as cluster, distributed.Client(cluster, set_as_default=False) as client:
        backend = DaskBackend(cluster.scheduler_address)
        config = _config(synth_root, frame_cache, tmp_path / "killed", **slow)
        outcome = {}
        runner = threading.Thread(
            target=lambda: outcome.update(table=run_experiment(config, backend=backend))
        )
        runner.start()
        victim = key = None
        deadline = time.time() + 120
        while victim is None and time.time() < deadline:
            for worker, keys in client.processing().items():
                busy = [k for k in keys if str(k).startswith("simsvm-")]
                if busy:
                    victim, key = worker, str(busy[0])
                    break
            time.sleep(0.05)
        assert victim is not None, "no job was seen running"
        pid = client.run(os.getpid, workers=[victim])[victim]
        os.kill(pid, signal.SIGKILL)
        runner.join(timeout=300)
    assert "table" in outcome, "the run did not finish after a worker was killed"
    provenance = load_provenance(tmp_path / "killed" / "cluster").set_index("job")
    killed_job = key.split("-", 3)[3]  # simsvm-<parameters hash>-<data digest>-<job>
    assert provenance.loc[killed_job, "worker"] != victim  # recomputed elsewhere
    pd.testing.assert_frame_equal(outcome["table"], clean)
