import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats

from simsvm.exceptions import ParameterError, ResultsError
from simsvm.experiment.partitions import random_splits
from simsvm.experiment.stats import corrected_resampled_ttest, paired_ttest, significance_table, welch_ttest

A = np.array([0.71, 0.69, 0.74, 0.70, 0.73, 0.68, 0.75, 0.72])
B = np.array([0.66, 0.70, 0.65, 0.69, 0.64, 0.67, 0.71, 0.63])


def test_welch_matches_scipy_and_its_formula():
    result = welch_ttest(A, B)
    reference = scipy_stats.ttest_ind(A, B, equal_var=False)
    assert result.statistic == pytest.approx(reference.statistic) and result.p_value == pytest.approx(
        reference.pvalue
    )
    va, vb = A.var(ddof=1) / 8, B.var(ddof=1) / 8
    assert result.statistic == pytest.approx((A.mean() - B.mean()) / np.sqrt(va + vb))
    df = (va + vb) ** 2 / (va**2 / 7 + vb**2 / 7)
    assert result.df == pytest.approx(df)
    half = scipy_stats.t.ppf(0.975, df) * np.sqrt(va + vb)
    assert (result.low, result.high) == pytest.approx(
        (A.mean() - B.mean() - half, A.mean() - B.mean() + half)
    )


def test_paired_matches_scipy():
    result = paired_ttest(A, B)
    reference = scipy_stats.ttest_rel(A, B)
    assert result.statistic == pytest.approx(reference.statistic) and result.p_value == pytest.approx(
        reference.pvalue
    )


def test_corrected_resampled_ttest_by_hand():
    d = A - B  # mean 0.045, J = 8
    variance = np.sum((d - d.mean()) ** 2) / 7
    t = d.mean() / np.sqrt(variance * (1 / 8 + 10 / 90))
    result = corrected_resampled_ttest(A, B, n_train=90, n_test=10)
    assert result.statistic == pytest.approx(t)
    assert result.p_value == pytest.approx(2 * scipy_stats.t.sf(abs(t), 7))
    assert result.df == 7
    # the correction only ever widens: the corrected p is above the paired one
    assert result.p_value > paired_ttest(A, B).p_value
    with pytest.raises(ParameterError):
        corrected_resampled_ttest(A[:1], B[:1], n_train=90, n_test=10)


def test_planted_difference_is_found_and_null_mostly_is_not():
    rng = np.random.default_rng(0)
    base = rng.normal(0.6, 0.03, size=100)
    better = base + 0.03 + rng.normal(0, 0.01, size=100)
    assert corrected_resampled_ttest(better, base, n_train=900, n_test=100).p_value < 0.05
    assert welch_ttest(better, base).p_value < 0.05
    rejections = 0
    for _ in range(200):
        a, b = rng.normal(0.6, 0.03, size=(2, 100))
        rejections += corrected_resampled_ttest(a, b, n_train=900, n_test=100).p_value < 0.05
    assert rejections / 200 < 0.1


def test_random_splits_are_disjoint_and_nine_to_one():
    splits = random_splits(754, count=100, test_share=0.1, seed=3)
    assert len(splits) == 100
    for train, test in splits:
        assert len(test) == 75 and len(train) == 679
        assert not set(train) & set(test) and len(set(train) | set(test)) == 754
    assert not np.array_equal(splits[0][1], splits[1][1])
    first_five = random_splits(754, count=5, test_share=0.1, seed=3)
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(first_five, splits[:5], strict=False))


def test_significance_table_marks_where_the_conclusion_changes():
    import pandas as pd

    rng = np.random.default_rng(1)
    rows = []
    nn = rng.normal(0.60, 0.02, size=30)
    fl = nn + 0.004 + rng.normal(0, 0.001, size=30)
    rbf = nn + 0.012 + rng.normal(0, 0.001, size=30)
    for split in range(30):
        for approach, value in (("NN", nn[split]), ("FL", fl[split]), ("RBF-SL", rbf[split])):
            rows.append(
                {
                    "dataset": "gtzan",
                    "approach": approach,
                    "protocol": "random_splits",
                    "fold": split,
                    "epoch": 40,
                    "target": "all",
                    "metric": "accuracy",
                    "value": value,
                    "seed": split,
                }
            )
    table = significance_table(pd.DataFrame(rows), n_train=90, n_test=10)
    assert list(table.comparison) == ["RBF-SL vs NN", "RBF-SL vs FL"]
    vs_nn = table.iloc[0]
    assert vs_nn["significant welch"] and vs_nn["significant corrected"] and not vs_nn["conclusion_changes"]
    assert vs_nn["difference"] == pytest.approx(0.012, abs=0.001)
    vs_fl = table.iloc[1]
    # steady paired differences (0.008 ± 0.001): paired and corrected see them, unpaired Welch does not
    assert vs_fl["significant corrected"] and not vs_fl["significant welch"] and vs_fl["conclusion_changes"]


@pytest.mark.parametrize("test", [welch_ttest, paired_ttest, corrected_resampled_ttest])
def test_no_spread_gives_a_definite_answer_without_warnings(test):
    import warnings

    options = {"n_train": 9, "n_test": 1} if test is corrected_resampled_ttest else {}
    same, higher = np.full(4, 0.5), np.full(4, 0.6)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no 'Precision loss' or division warnings reach the user
        alike = test(same, same.copy(), **options)
        apart = test(higher, same, **options)
    assert (alike.statistic, alike.p_value, alike.difference) == (0.0, 1.0, 0.0)
    assert apart.statistic == np.inf and apart.p_value == 0.0
    assert apart.difference == pytest.approx(0.1)


@pytest.mark.parametrize("test", [welch_ttest, paired_ttest, corrected_resampled_ttest])
def test_fewer_than_two_splits_or_a_nan_score_is_refused(test):
    options = {"n_train": 9, "n_test": 1} if test is corrected_resampled_ttest else {}
    with pytest.raises(ParameterError, match="at least 2 scores"):
        test(np.array([0.5]), np.array([0.4]), **options)
    with pytest.raises(ParameterError, match="NaN"):
        test(np.array([0.5, np.nan, 0.6]), np.array([0.4, 0.4, 0.5]), **options)


def test_a_split_with_undefined_r_is_left_out_of_the_comparison():
    rows = []
    for split, (ours, theirs) in enumerate([(0.6, 0.5), (0.7, 0.5), (np.nan, 0.5), (0.65, 0.55)]):
        for approach, value in (("RBF-SL", ours), ("NN", theirs)):
            rows.append(
                {
                    "dataset": "x",
                    "approach": approach,
                    "fold": split,
                    "epoch": 2,
                    "target": "mean",
                    "metric": "pearson_r",
                    "value": value,
                }
            )
    table = significance_table(pd.DataFrame(rows), n_train=9, n_test=1, comparisons=(("RBF-SL", "NN"),))
    (row,) = table.to_dict("records")
    assert row["splits"] == 3
    expected = corrected_resampled_ttest(
        np.array([0.6, 0.7, 0.65]), np.array([0.5, 0.5, 0.55]), n_train=9, n_test=1
    )
    assert row["p corrected"] == pytest.approx(expected.p_value)
    with pytest.raises(ResultsError, match="1 split\\(s\\) scored on both sides"):
        significance_table(
            pd.DataFrame(rows[:2] + rows[4:6]), n_train=9, n_test=1, comparisons=(("RBF-SL", "NN"),)
        )


def test_pearson_r_of_a_constant_prediction_is_nan_and_so_is_the_mean():
    from simsvm.experiment.scoring import pearson_r, score_network_outputs

    assert np.isnan(pearson_r(np.ones(5), np.arange(5.0)))
    scores = score_network_outputs(
        np.column_stack([np.ones(5), np.arange(5.0)]),
        np.column_stack([np.arange(5.0), np.arange(5.0) ** 2]),
        task="regression",
        target_names=("valence", "arousal"),
    )
    assert np.isnan(scores["valence"]) and scores["arousal"] > 0.9 and np.isnan(scores["mean"])


def test_the_paper_column_says_what_section_3_3_says():
    from simsvm.report.paper import paper_significance

    assert paper_significance("gtzan", "RBF-SL vs NN") == "RBF-SL better"
    assert paper_significance("mediaeval2013", "RBF-SL vs FL") == "RBF-SL better"
    assert paper_significance("gtzan", "RBF-SL vs FL") == "not significantly worse"
    assert paper_significance("lastfm", "RBF-SL vs NN") == "not reported"  # the paper tests four datasets
    assert paper_significance("folders", "RBF-SL vs NN") == "not reported"
    assert paper_significance("mediaeval2013", "RBF-SL vs FL", "valence") == "not reported"  # mean R only
    assert paper_significance("gtzan", "RBF-SL vs Stats") == "not in the paper"
