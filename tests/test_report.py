"""The report's figures, tables and sentences, on small hand-made results tables."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from simsvm.data.datasets.synthetic import STAMP
from simsvm.experiment.grid_edges import describe_grid_edges, grid_edges
from simsvm.report.paper import PAPER_EMOTIFY, PAPER_EMOTIFY_MEAN, PAPER_EPOCHS
from simsvm.report.plots import plot_curves
from simsvm.report.runs import RunInfo, data_generated, verdict
from simsvm.report.style import APPROACH_STYLES
from simsvm.report.tables import (
    emotify_note,
    emotify_table,
    final_scores,
    format_overview,
    overview_table,
    settings_caption,
)

APPROACHES = ("NN", "FL", "RBF-SL", "Stats")


def results(
    values: dict[str, list[float]],
    *,
    dataset: str = "gtzan",
    epochs: tuple[int, ...] = (0, 10),
    protocol: str = "cv",
    svm_c=1.0,
    svm_gamma=0.5,
    run: str = "r",
) -> pd.DataFrame:
    """Accuracy rows: ``values[approach][fold]`` at every epoch (the last epoch exactly those values).

    ``svm_c`` / ``svm_gamma``: a number for every SVM row, or a list per fold.
    """
    rows = []
    for approach, scores in values.items():
        for fold, score in enumerate(scores):
            for epoch in epochs:
                c = svm_c[fold] if isinstance(svm_c, list) else svm_c
                gamma = svm_gamma[fold] if isinstance(svm_gamma, list) else svm_gamma
                rows.append(
                    {
                        "dataset": dataset,
                        "approach": approach,
                        "protocol": protocol,
                        "fold": fold,
                        "epoch": epoch,
                        "target": "all",
                        "metric": "accuracy",
                        "value": score if epoch == epochs[-1] else score / 2,
                        "svm_c": np.nan if approach == "NN" else c,
                        "svm_gamma": np.nan if approach == "NN" else gamma,
                        "seed": 0,
                        "job": f"fold{fold:02d}-{approach}",
                        "run": run,
                    }
                )
    return pd.DataFrame(rows)


def emotify_results(epoch: int) -> pd.DataFrame:
    rows = []
    for approach in ("NN", "FL", "RBF-SL"):
        for fold in range(2):
            for emotion in [*PAPER_EMOTIFY.index, "mean"]:
                rows.append(
                    {
                        "dataset": "emotify",
                        "approach": approach,
                        "protocol": "cv",
                        "fold": fold,
                        "epoch": epoch,
                        "target": emotion,
                        "metric": "pearson_r",
                        "value": 0.5,
                        "svm_c": 1.0,
                        "svm_gamma": 0.5,
                        "seed": 0,
                        "job": "j",
                    }
                )
    return pd.DataFrame(rows)


def test_the_overview_is_each_runs_mean_and_sd_and_bolds_the_best():
    first = results({"NN": [0.2, 0.4, 0.3], "FL": [0.5, 0.7, 0.6], "RBF-SL": [0.9, 0.5, 0.7]}, run="a")
    second = results({"NN": [0.8, 0.6], "FL": [0.1, 0.3], "RBF-SL": [0.4, 0.4]}, run="b")
    runs = pd.concat([first, second], ignore_index=True)
    overview = overview_table(runs)
    last = runs[runs.epoch == 10]
    expected = last.groupby(["run", "approach"]).value.agg(["mean", "std"])
    for (run, approach), row in expected.iterrows():
        assert overview.loc[approach, (run, "mean")] == pytest.approx(row["mean"])
        assert overview.loc[approach, (run, "std")] == pytest.approx(row["std"])
    assert list(overview.index) == ["NN", "FL", "RBF-SL"]
    markdown = format_overview(overview)
    bold = {line.split("|")[1].strip(): line for line in markdown.splitlines()[2:]}
    # run a: RBF-SL's 0.700 is the best (FL's 0.600 is not bold); run b: NN's 0.700
    assert "**0.700 ± 0.200**" in bold["RBF-SL"] and "**" not in bold["FL"]
    assert bold["NN"].count("**") == 2 and "**0.700 ± 0.141**" in bold["NN"]
    html = format_overview(overview, markup="html")
    assert html.count("<b>") == 2 and "<b>0.700 ± 0.200</b>" in html


def test_a_classification_figure_shows_chance_at_one_over_the_classes():
    table = results({"NN": [0.3, 0.4], "FL": [0.5, 0.6]})
    axis = plot_curves(table, classes=4).axes[0]
    chance = [line for line in axis.get_lines() if line.get_label().startswith("chance")]
    assert len(chance) == 1 and np.allclose(chance[0].get_ydata(), 0.25)
    assert chance[0].get_linestyle() == "--"
    imbalanced = plot_curves(table, classes={"a": 6, "b": 2, "c": 2}).axes[0]
    labels = {line.get_label(): line for line in imbalanced.get_lines()}
    assert np.allclose(labels["chance, 1/3 classes"].get_ydata(), 1 / 3)
    assert np.allclose(labels["majority class (a, 60%)"].get_ydata(), 0.6)


def test_bands_stay_within_the_range_of_accuracy():
    # mean 0.5 with s.d. 0.7: an unclipped band would run from -0.2 to 1.2
    table = results({"NN": [0.0, 1.0, 0.0, 1.0], "FL": [1.0, 1.0, 0.96, 1.0]})
    axis = plot_curves(table, classes=10).axes[0]
    heights = np.concatenate([band.get_paths()[0].vertices[:, 1] for band in axis.collections])
    assert heights.min() >= 0.0 and heights.max() <= 1.0
    assert heights.max() == pytest.approx(1.0) and heights.min() == pytest.approx(0.0)


def test_every_approach_has_its_own_marker_and_colour_in_the_figure():
    styles = list(APPROACH_STYLES.values())
    assert len({s.marker for s in styles}) == len(styles) and len({s.colour for s in styles}) == len(styles)
    table = results({approach: [0.4, 0.5] for approach in APPROACHES})
    lines = {line.get_label(): line for line in plot_curves(table, classes=10).axes[0].get_lines()}
    drawn = [lines[approach] for approach in APPROACHES]
    assert len({line.get_marker() for line in drawn}) == len(APPROACHES)
    assert len({line.get_color() for line in drawn}) == len(APPROACHES)
    for approach in APPROACHES:
        assert lines[approach].get_color() == APPROACH_STYLES[approach].colour


def test_the_title_says_when_the_data_are_generated():
    table = results({"NN": [0.3, 0.4]})
    generated = plot_curves(table, generated=True).get_suptitle()
    assert generated.startswith("generated GTZAN layout:") and "over 2 folds" in generated
    assert plot_curves(table, generated=False).get_suptitle().startswith("GTZAN:")
    splits = plot_curves(results({"NN": [0.3, 0.4, 0.5, 0.6]}, protocol="random_splits")).get_suptitle()
    assert "over 4 random splits" in splits


def test_fixed_svm_settings_are_a_caption_not_rows():
    fixed = results({"NN": [0.3, 0.4], "FL": [0.5, 0.6], "Stats": [0.5, 0.5]})
    stats = fixed.approach == "Stats"
    fixed.loc[stats, "svm_gamma"] = 1 / 160  # Stats' own gamma: fixed too, but different
    scores = final_scores(fixed)
    assert list(scores.index.get_level_values("metric")) == ["accuracy"]
    assert (
        settings_caption(fixed) == "SVM settings, the same in every fold: C = 1; gamma = 0.5 (Stats 0.00625)."
    )
    tuned = final_scores(results({"NN": [0.3, 0.4], "FL": [0.5, 0.6]}, svm_c=[0.1, 10.0]))
    assert "SVM C" in tuned.index.get_level_values("metric")
    assert "SVM gamma" not in tuned.index.get_level_values("metric")


@pytest.mark.parametrize(
    ("generated", "epoch", "has_diff"),
    [
        (True, PAPER_EPOCHS, False),
        (False, 30, False),
        (None, PAPER_EPOCHS, False),
        (False, PAPER_EPOCHS, True),
    ],
)
def test_the_emotify_difference_against_the_paper_only_where_it_compares(generated, epoch, has_diff):
    table = emotify_table(emotify_results(epoch), generated=generated)
    diffs = [column for column in table.columns if column.endswith("diff")]
    assert bool(diffs) is has_diff
    assert "RBF-SL* paper" in table.columns
    assert (emotify_note(generated, epoch) is None) is has_diff
    if has_diff:
        assert table["RBF-SL* diff"].to_numpy() == pytest.approx(0.5 - PAPER_EMOTIFY["RBF-SL"].to_numpy())


def test_real_emotify_curves_carry_the_papers_table_2_means():
    table = emotify_results(PAPER_EPOCHS)
    marks = [
        line
        for line in plot_curves(table, generated=False).axes[0].get_lines()
        if line.get_markerfacecolor() == "none"
    ]
    # one open mark per approach of the run (Cos-SL and Poly-SL did not run)
    assert sorted(m.get_ydata()[0] for m in marks) == pytest.approx(
        sorted(PAPER_EMOTIFY_MEAN[["NN", "FL", "RBF-SL"]])
    )
    generated = plot_curves(table, generated=True).axes[0].get_lines()
    assert not [line for line in generated if line.get_markerfacecolor() == "none"]


def test_a_tuned_c_on_the_grids_edge_in_most_folds_is_found():
    grid = {"C": [0.1, 1.0, 10.0], "gamma": [0.01, 0.1, 1.0], "folds": 3}
    edge = results({"NN": [0.3] * 3, "FL": [0.5] * 3}, svm_c=[10.0, 10.0, 1.0], svm_gamma=[0.1, 0.01, 1.0])
    (finding,) = grid_edges(edge, grid)
    assert (finding.approach, finding.parameter, finding.value, finding.edge) == ("FL", "C", 10.0, "largest")
    assert (finding.at_edge, finding.fits) == (2, 3)
    (line,) = describe_grid_edges([finding])
    assert "C = 10, the largest value of its grid" in line and "FL in 2 of 3 folds" in line
    inside = results({"NN": [0.3] * 3, "FL": [0.5] * 3}, svm_c=[1.0, 1.0, 10.0], svm_gamma=0.1)
    assert grid_edges(inside, grid) == []
    assert grid_edges(edge, None) == []  # an untuned run


def test_the_verdict_names_the_winner_and_the_test_behind_it():
    table = results({"NN": [0.2, 0.3, 0.25], "FL": [0.6, 0.7, 0.65], "RBF-SL": [0.5, 0.62, 0.6]})
    info = RunInfo("r", None, "gtzan", "accuracy", "cv", 3, 10, 10, generated=True)
    sentence = verdict(table, info)
    assert sentence.startswith("At epoch 10, FL has the highest accuracy (0.650 ± 0.050 over 3 folds)")
    assert "ahead of RBF-SL" in sentence and "paired t-test across the 3 folds" in sentence
    splits = results({"NN": [0.2, 0.3, 0.25], "FL": [0.6, 0.7, 0.65]}, protocol="random_splits")
    info = RunInfo(
        "s", None, "gtzan", "accuracy", "random_splits", 3, 10, 10, False, partition_sizes=(90, 10)
    )
    assert "corrected resampled t-test over the 3 random splits" in verdict(splits, info)
    single = RunInfo("one", None, "gtzan", "accuracy", "split", 1, 10, 10, False)
    assert "not tested" in verdict(results({"NN": [0.2], "FL": [0.6]}, protocol="split"), single)


def test_generated_data_are_told_by_the_generators_stamp(tmp_path):
    generated, real = tmp_path / "synth" / "gtzan", tmp_path / "real"
    generated.mkdir(parents=True)
    real.mkdir()
    (generated / STAMP).write_text(json.dumps({"dataset": "gtzan", "clips_per_class": 4}))
    assert data_generated(generated) == (True, {"dataset": "gtzan", "clips_per_class": 4})
    assert data_generated(real) == (False, None)
    assert data_generated(tmp_path / "gone") == (None, None)
