import pytest
import torch

from simsvm.exceptions import ParameterError
from simsvm.experiment.config import ExperimentConfig, load_config
from simsvm.names import BACKENDS

BASE = {"name": "t", "dataset": "gtzan", "data_dir": "data/x"}


def test_defaults_are_the_papers():
    config = ExperimentConfig.from_dict(BASE)
    assert (config.folds, config.epochs, config.eval_every, config.excerpt_length) == (10, 400, 10, 100)
    assert config.hidden_sizes == [100, 50] and config.svm_c == 1.0 and config.svm_gamma == 0.5
    assert config.approaches == ["NN", "FL", "RBF-SL", "Cos-SL", "Poly-SL", "Stats"]  # the five, and ours
    assert config.svm_tuning is None


def test_unknown_key_is_named(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("name: t\ndataset: gtzan\ndata_dir: d\nepochz: 3\n")
    with pytest.raises(ParameterError, match=r"p.yaml: unknown key\(s\) \['epochz'\]"):
        load_config(path)


@pytest.mark.parametrize(
    ("key", "value"),
    [("epochs", "ten"), ("epochs", 2.5), ("folds", True), ("hidden_sizes", [100, "x"]), ("svm_c", "big")],
)
def test_wrong_type_is_named(key, value):
    with pytest.raises(ParameterError, match=key):
        ExperimentConfig.from_dict({**BASE, key: value})


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("approaches", ["NN", "SVM"]),
        ("normalisation", "global"),
        ("backend", "gpu"),
        ("folds", 1),
        ("name", "../up"),
    ],
)
def test_bad_values_are_named(key, value):
    with pytest.raises(ParameterError, match=key):
        ExperimentConfig.from_dict({**BASE, key: value})


def test_missing_required_key():
    with pytest.raises(ParameterError, match="data_dir"):
        ExperimentConfig.from_dict({"name": "t", "dataset": "gtzan"})


def test_yaml_quirks_and_overrides(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("name: t\ndataset: gtzan\ndata_dir: d\neps: 1e-6\nlearning_rate: 1\nworkers: null\n")
    config = load_config(path, {"epochs": 17})
    assert config.eps == 1e-6 and isinstance(config.learning_rate, float) and config.workers is None
    assert config.epochs == 17
    assert config.replace(folds=3).folds == 3
    assert "backend" not in config.scientific_dict() and "epochs" in config.scientific_dict()


def test_shipped_parameter_files_are_valid():
    from pathlib import Path

    files = sorted(Path(__file__).parents[1].joinpath("parameters").glob("*.yaml"))
    assert files
    for path in files:
        load_config(path)


@pytest.mark.parametrize("name", BACKENDS)
def test_every_backend_name_is_taken_by_the_config_and_makes_that_backend(name, monkeypatch):
    from simsvm.train import backends, cluster
    from simsvm.train.jobs import make_backend

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # all CudaBackend asks of the machine
    expected = {
        "serial": backends.SerialBackend,
        "processes": backends.ProcessBackend,
        "cuda": backends.CudaBackend,
        "reference": backends.ReferenceBackend,
        "dask": cluster.DaskBackend,
    }[name]
    assert type(make_backend(name)) is expected
    assert ExperimentConfig(name="x", dataset="gtzan", data_dir=".", backend=name).backend == name


def test_an_unknown_backend_is_refused_by_the_config_and_the_factory():
    from simsvm.train.jobs import make_backend

    with pytest.raises(ParameterError, match="backend"):
        ExperimentConfig(name="x", dataset="gtzan", data_dir=".", backend="threads")
    with pytest.raises(ParameterError, match="unknown backend 'threads'"):
        make_backend("threads")


def test_the_parameter_reference_lists_every_field_in_order_with_a_meaning():
    import dataclasses

    from simsvm.experiment.config import EXECUTION_KEYS
    from simsvm.experiment.reference import parameter_reference

    docs = parameter_reference()
    assert [d.key for d in docs] == ExperimentConfig.keys()
    assert sorted(ExperimentConfig.keys()) == sorted(f.name for f in dataclasses.fields(ExperimentConfig))
    assert all(d.meaning.strip() and "``" not in d.meaning and "`" not in d.meaning for d in docs)
    by_key = {d.key: d for d in docs}
    assert [d.key for d in docs if d.required] == ["name", "dataset", "data_dir"]
    assert by_key["name"].default is None and by_key["folds"].default == 10
    assert by_key["approaches"].default == ExperimentConfig.from_dict(BASE).approaches
    assert by_key["workers"].type == "int or null" and by_key["hidden_sizes"].type == "list of int"
    assert (
        by_key["batch_size"].allowed.startswith(">= 2") and "cross_entropy" in by_key["baseline_loss"].allowed
    )
    assert {d.key for d in docs if not d.scientific} == set(EXECUTION_KEYS)
    assert by_key["eps"].default_text() == "1e-06" and by_key["cache_dir"].default_text() == ".cache/frames"
