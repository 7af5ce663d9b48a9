"""Bring your own features: embedding files read, matched by id, and scored like scikit-learn would."""

import numpy as np
import pandas as pd
import pytest
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from simsvm.data.embeddings import load_embeddings
from simsvm.exceptions import DataError, ParameterError
from simsvm.experiment.config import ExperimentConfig
from simsvm.experiment.protocol import FixedFeaturesJob, FoldEvaluator
from simsvm.model.kernels import make_kernel

IDS = [f"blues.{n:05d}" for n in range(6)]
VECTORS = np.arange(18, dtype=np.float64).reshape(6, 3) / 7.0


def _write(path, ids=IDS, vectors=VECTORS):
    if path.suffix == ".npz":
        np.savez(path, ids=np.asarray(ids), features=vectors)
    else:
        table = pd.DataFrame(vectors, columns=[f"e{j}" for j in range(vectors.shape[1])]).assign(id=ids)
        table.to_csv(path, index=False) if path.suffix == ".csv" else table.to_parquet(path)
    return path


@pytest.mark.parametrize("suffix", [".npz", ".csv", ".parquet"])
def test_every_format_reads_back_the_same_vectors(tmp_path, suffix):
    embeddings = load_embeddings(_write(tmp_path / f"e{suffix}"))
    np.testing.assert_allclose(embeddings.matrix(IDS[::-1]), VECTORS[::-1], rtol=1e-12)
    assert embeddings.dimension == 3 and len(embeddings.digest) == 64


def test_missing_repeated_and_unknown_ids_are_reported(tmp_path):
    ids = [IDS[0], IDS[1], IDS[1], "nobody.00001"]
    embeddings = load_embeddings(_write(tmp_path / "e.csv", ids, VECTORS[:4]))
    unusable, unknown = embeddings.problems(IDS[:3])
    reasons = dict(unusable)
    assert "listed more than once" in reasons[IDS[1]] and "no vector" in reasons[IDS[2]]
    assert IDS[0] not in reasons and unknown == ["nobody.00001"]


@pytest.mark.parametrize(
    ("contents", "message"),
    [
        (
            "id,e0\nblues.00000,0.5\nblues.00001,oops\n",
            r"column 'e0', id 'blues.00001': 'oops' is not a number",
        ),
        ("name,e0\nblues.00000,0.5\n", "has no column 'id'"),
        ("id,e0\nblues.00000,inf\n", "non-finite"),
    ],
)
def test_a_bad_table_is_refused_naming_file_and_place(tmp_path, contents, message):
    path = tmp_path / "bad.csv"
    path.write_text(contents)
    with pytest.raises(DataError, match=message):
        load_embeddings(path)
    with pytest.raises(DataError, match=r"unknown format '\.txt'"):
        load_embeddings(path.rename(tmp_path / "bad.txt"))


def test_the_embedding_svm_scores_as_scikit_learn_on_the_same_split():
    rng = np.random.default_rng(3)
    labels = np.repeat([0, 1, 2], 14)
    vectors = rng.standard_normal((42, 5)) * [3.0, 1.0, 0.5, 2.0, 1.0] + labels[:, None] * [1.5, 0, 0, 0, 0.8]
    train, test = np.arange(0, 42, 3).tolist() + np.arange(1, 42, 3).tolist(), np.arange(2, 42, 3).tolist()
    gamma = 1.0 / vectors.shape[1]
    evaluator = FoldEvaluator(
        dataset="gtzan",
        protocol="cv",
        task="classification",
        target_names=("a", "b", "c"),
        approaches=("Embedding",),
        fold=0,
        seed=0,
        n_train=len(train),
        train_targets=labels[train],
        test_targets=labels[test],
        svm_kernel=make_kernel("rbf", gamma=gamma),
        svm_c=1.0,
        job="fold00-embedding",
    )
    job = FixedFeaturesJob("fold00-embedding", "Embedding", tuple(train), tuple(test), (0, 10), evaluator)
    evaluations = job(vectors)
    ours = [row["value"] for row in evaluations[-1].rows if row["metric"] == "accuracy"]
    scaler = StandardScaler().fit(vectors[train])
    model = SVC(kernel="rbf", gamma=gamma, C=1.0).fit(scaler.transform(vectors[train]), labels[train])
    expected = float(np.mean(model.predict(scaler.transform(vectors[test])) == labels[test]))
    assert ours == [pytest.approx(expected, abs=1e-12)] and 0.4 < expected < 1.0
    assert [e.epoch for e in evaluations] == [0, 10]


def test_embedding_and_its_file_go_together(tmp_path):
    base = {"name": "e", "dataset": "gtzan", "data_dir": str(tmp_path)}
    with pytest.raises(ParameterError, match="the Embedding approach needs one"):
        ExperimentConfig.from_dict({**base, "approaches": ["Embedding"]})
    with pytest.raises(ParameterError, match="Embedding is not an approach"):
        ExperimentConfig.from_dict({**base, "embedding_file": "e.npz"})
    with pytest.raises(ParameterError, match=r"\['SupCon'\] are for classification only"):
        ExperimentConfig.from_dict({**base, "dataset": "emotify", "approaches": ["SupCon"]})
