"""Leaderboards over several targets and their robustness (advtransfer.core.robustness).

Closed cases checked by hand (perfect and reversed measures, a measure that is perfect on
one target and reversed on another), leave-one-out and without-largest pools recomputed
with ``scipy.stats.weightedtau``, the joint bootstrap against the single-target bootstrap
of :func:`advtransfer.core.ranking.rank_agreement`, and the input checks.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from advtransfer.core.ranking import AGREEMENT_MEASURES, rank_agreement
from advtransfer.core.stats import _weighted_tau_rows
from advtransfer.core.robustness import (
    LEADERBOARD_COLUMNS,
    PAIRWISE_COLUMNS,
    ROBUSTNESS_COLUMNS,
    leaderboard_over_targets,
    measure_robustness,
    pairwise_robustness,
)

TRUTH = "probe_accuracy"
CORRELATIONS = ("kendall", "weighted_tau", "spearman", "pearson")


def _table(truth: dict, scores: dict, sizes=None, groups=None) -> pd.DataFrame:
    """Long table: ``truth = {target: (S,)}``, ``scores = {measure: {target: (S,)}}``."""
    rows = []
    for target, y in truth.items():
        for s, value in enumerate(y):
            row = {"model": f"m{s}", "target": target, TRUTH: float(value),
                   "param_count": float(sizes[s]) if sizes is not None else float(s)}
            if groups is not None:
                row["dataset"] = groups[s]
            for measure, per_target in scores.items():
                row[measure] = float(per_target[target][s])
            rows.append(row)
    return pd.DataFrame(rows)


def _wtau(x, y) -> float:
    return float(sps.weightedtau(np.asarray(x, float), np.asarray(y, float)).statistic)


def _row(frame: pd.DataFrame, measure: str) -> pd.Series:
    return frame.set_index("measure").loc[measure]


Y1 = np.array([0.9, 0.5, 0.7, 0.2, 0.6, 0.35])
Y2 = np.array([0.3, 0.8, 0.45, 0.6, 0.1, 0.95])


def _two_targets() -> pd.DataFrame:
    return _table({"t1": Y1, "t2": Y2},
                  {"good": {"t1": Y1, "t2": Y2}, "bad": {"t1": -Y1, "t2": -Y2},
                   "mixed": {"t1": Y1, "t2": -Y2}})


def test_columns_and_perfect_and_reversed_measures():
    board = leaderboard_over_targets(_two_targets(), {"good": "estimator", "bad": "baseline",
                                                      "mixed": "adversarial"}, TRUTH, n_boot=200)
    assert list(board.columns) == list(LEADERBOARD_COLUMNS)
    assert list(board["measure"]) == ["good", "mixed", "bad"]  # sorted by weighted tau
    good, bad = _row(board, "good"), _row(board, "bad")
    for m in CORRELATIONS:
        assert good[m] == pytest.approx(1.0) and bad[m] == pytest.approx(-1.0)
        assert good[f"{m}_lo"] == pytest.approx(1.0) and good[f"{m}_hi"] == pytest.approx(1.0)
        assert bad[f"{m}_lo"] == pytest.approx(-1.0) and bad[f"{m}_hi"] == pytest.approx(-1.0)
    assert good["relative_top1"] == pytest.approx(1.0)
    assert (good["n_targets"], good["n_sources"], good["n_groups"]) == (2, 6, 6)
    assert good["kind"] == "estimator" and good["degenerate"] == ""
    assert 0 < good["n_boot_valid"] <= 200


def test_perfect_on_one_target_reversed_on_the_other_averages_to_zero():
    board = leaderboard_over_targets(_two_targets(), {"mixed": "adversarial"}, TRUTH, n_boot=0)
    mixed = _row(board, "mixed")
    for m in CORRELATIONS:
        assert mixed[m] == pytest.approx(0.0, abs=1e-12)
    assert math.isnan(mixed["weighted_tau_lo"]) and mixed["n_boot_valid"] == 0
    resampled = leaderboard_over_targets(_two_targets(), {"mixed": "a"}, TRUTH, n_boot=100)
    for m in CORRELATIONS:  # +1 and -1 in every resample
        assert resampled.loc[0, f"{m}_lo"] == pytest.approx(0.0, abs=1e-12)
        assert resampled.loc[0, f"{m}_hi"] == pytest.approx(0.0, abs=1e-12)


def test_per_target_coefficients_match_scipy():
    rng = np.random.default_rng(3)
    y = {t: rng.uniform(size=7) for t in ("a", "b", "c")}
    x = {t: np.round(y[t] + rng.normal(scale=0.3, size=7), 1) for t in y}  # with ties
    board = leaderboard_over_targets(_table(y, {"x": x}), {"x": "estimator"}, TRUTH, n_boot=0)
    expected = {
        "kendall": np.mean([sps.kendalltau(x[t], y[t]).statistic for t in y]),
        "weighted_tau": np.mean([_wtau(x[t], y[t]) for t in y]),
        "spearman": np.mean([sps.spearmanr(x[t], y[t]).statistic for t in y]),
        "pearson": np.mean([sps.pearsonr(x[t], y[t]).statistic for t in y]),
    }
    for m, value in expected.items():
        assert board.loc[0, m] == pytest.approx(value, abs=1e-12)


def test_vectorised_weighted_tau_matches_scipy_with_ties_and_duplicates():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 4, size=(300, 9)).astype(float)
    b = rng.integers(0, 4, size=(300, 9)).astype(float)
    index = rng.integers(0, 9, size=(300, 9))  # bootstrap-like duplicates
    a[::2], b[::2] = np.take_along_axis(a[::2], index[::2], 1), np.take_along_axis(
        b[::2] + rng.normal(size=b[::2].shape), index[::2], 1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = np.array([sps.weightedtau(a[i], b[i]).statistic for i in range(300)])
    got = _weighted_tau_rows(a, b)
    assert np.array_equal(np.isnan(got), np.isnan(expected))
    assert np.allclose(got[np.isfinite(got)], expected[np.isfinite(expected)], atol=1e-12)


def test_targets_best_counts_ties_for_each():
    y = {"t1": Y1, "t2": Y2, "t3": Y1}
    shuffled = Y1[[1, 0, 2, 3, 5, 4]]
    scores = {"A": {"t1": Y1, "t2": -Y2, "t3": Y1},      # best in t1 (tied) and t3 (tied)
              "B": {"t1": Y1, "t2": Y2, "t3": shuffled},  # best in t1 (tied) and t2
              "C": {"t1": -Y1, "t2": -Y2, "t3": Y1}}      # best in t3 (tied)
    board = leaderboard_over_targets(_table(y, scores), dict.fromkeys(scores, "estimator"),
                                     TRUTH, n_boot=0)
    best = board.set_index("measure")["targets_best"].to_dict()
    assert best == {"A": 2, "B": 2, "C": 1}


def test_joint_bootstrap_applies_one_resample_to_every_target():
    rng = np.random.default_rng(5)
    y, x = rng.uniform(size=8), rng.uniform(size=8)
    single = _table({"t1": y}, {"x": {"t1": x}})
    double = _table({"t1": y, "t2": y}, {"x": {"t1": x, "t2": x}})
    one = leaderboard_over_targets(single, {"x": "e"}, TRUTH, n_boot=300, seed=7)
    two = leaderboard_over_targets(double, {"x": "e"}, TRUTH, n_boot=300, seed=7)
    reference = rank_agreement(x, y, n_boot=300, seed=7, ids=single["model"].to_numpy())
    # independent resamples per target would make the interval of the mean narrower
    for m in AGREEMENT_MEASURES:
        for suffix in ("", "_lo", "_hi"):
            assert two.loc[0, m + suffix] == pytest.approx(one.loc[0, m + suffix], abs=1e-12)
            assert one.loc[0, m + suffix] == pytest.approx(reference[m + suffix], abs=1e-12)
    assert two.loc[0, "n_boot_valid"] == one.loc[0, "n_boot_valid"] == reference["n_boot_valid"]


def test_bootstrap_is_deterministic_for_a_seed_and_independent_of_row_order():
    rng = np.random.default_rng(9)
    y = {t: rng.uniform(size=8) for t in ("t1", "t2")}
    table = _table(y, {"x": {t: y[t] + rng.normal(scale=0.3, size=8) for t in y}})
    a = leaderboard_over_targets(table, {"x": "e"}, TRUTH, n_boot=100, seed=1)
    b = leaderboard_over_targets(table.sample(frac=1.0, random_state=0), {"x": "e"}, TRUTH,
                                 n_boot=100, seed=1)
    c = leaderboard_over_targets(table, {"x": "e"}, TRUTH, n_boot=100, seed=2)
    pd.testing.assert_frame_equal(a, b)
    assert (a.loc[0, "weighted_tau_lo"], a.loc[0, "weighted_tau_hi"]) \
        != (c.loc[0, "weighted_tau_lo"], c.loc[0, "weighted_tau_hi"])


def test_groups_resample_whole_groups():
    # 5 groups of 2 identical sources: kendall, spearman, pearson and relative top-1 of a
    # resample of groups equal those of the same resample of one source per group
    rng = np.random.default_rng(2)
    y = {t: rng.uniform(size=5) for t in ("t1", "t2")}
    x = {t: rng.uniform(size=5) for t in y}
    pairs = np.repeat(np.arange(5), 2)
    grouped = _table({t: v[pairs] for t, v in y.items()}, {"x": {t: v[pairs] for t, v in x.items()}},
                     groups=[f"g{g}" for g in pairs])
    plain = _table(y, {"x": x})
    with_groups = leaderboard_over_targets(grouped, {"x": "e"}, TRUTH, group_col="dataset",
                                           n_boot=300, seed=4)
    without = leaderboard_over_targets(plain, {"x": "e"}, TRUTH, n_boot=300, seed=4)
    assert (with_groups.loc[0, "n_sources"], with_groups.loc[0, "n_groups"]) == (10, 5)
    assert with_groups.loc[0, "n_boot_valid"] == without.loc[0, "n_boot_valid"]
    for m in ("kendall", "spearman", "pearson", "relative_top1"):
        for suffix in ("", "_lo", "_hi"):
            assert with_groups.loc[0, m + suffix] == pytest.approx(without.loc[0, m + suffix],
                                                                   abs=1e-12)
    ungrouped = leaderboard_over_targets(grouped, {"x": "e"}, TRUTH, n_boot=300, seed=4)
    assert ungrouped.loc[0, "n_groups"] == 10


def test_degenerate_measure_is_flagged_with_nan_coefficients():
    table = _two_targets()
    table["flat"] = np.where(table["target"] == "t2", 0.5, table[TRUTH])
    board = leaderboard_over_targets(table, {"flat": "estimator", "good": "estimator"}, TRUTH,
                                     n_boot=50)
    assert list(board["measure"]) == ["good", "flat"]
    flat = _row(board, "flat")
    assert flat["degenerate"].startswith("target t2: all 6 scores equal")
    assert all(math.isnan(flat[c]) for m in AGREEMENT_MEASURES for c in (m, f"{m}_lo", f"{m}_hi"))
    assert flat["n_boot_valid"] == 0 and flat["targets_best"] == 0
    robust = measure_robustness(table, {"flat": "e", "good": "e"}, TRUTH)
    assert list(robust["measure"]) == ["good", "flat"]
    assert math.isnan(_row(robust, "flat")["weighted_tau"]) and _row(robust, "flat")["rank"] == 2


def test_leave_one_out_min_and_max_by_hand():
    y = {"t1": np.array([0.9, 0.2, 0.5, 0.7]), "t2": np.array([0.4, 0.8, 0.6, 0.1])}
    x = {"t1": np.array([0.3, 0.1, 0.8, 0.6]), "t2": np.array([0.2, 0.9, 0.1, 0.4])}
    robust = measure_robustness(_table(y, {"x": x}), {"x": "estimator"}, TRUTH)
    assert list(robust.columns) == list(ROBUSTNESS_COLUMNS)
    loo = [np.mean([_wtau(np.delete(x[t], s), np.delete(y[t], s)) for t in y]) for s in range(4)]
    row = robust.iloc[0]
    assert row["weighted_tau"] == pytest.approx(np.mean([_wtau(x[t], y[t]) for t in y]))
    assert row["weighted_tau_loo_min"] == pytest.approx(min(loo))
    assert row["weighted_tau_loo_max"] == pytest.approx(max(loo))
    assert min(loo) < max(loo)


def test_without_largest_removes_the_largest_third_ties_by_name():
    sizes = [10, 50, 30, 30, 5, 20]  # largest: m1 (50), then m2 before m3 (tied at 30)
    rng = np.random.default_rng(8)
    y = {"t1": rng.uniform(size=6), "t2": rng.uniform(size=6)}
    x = {t: y[t] + rng.normal(scale=0.2, size=6) for t in y}
    robust = measure_robustness(_table(y, {"x": x, "size": {t: sizes for t in y}}, sizes=sizes),
                                {"x": "estimator", "size": "baseline"}, TRUTH)
    kept = [0, 3, 4, 5]
    row = _row(robust, "x")
    assert row["n_without_largest"] == 4
    expected = np.mean([_wtau(x[t][kept], y[t][kept]) for t in y])
    assert row["weighted_tau_without_largest"] == pytest.approx(expected)
    size_row = _row(robust, "size")
    assert size_row["weighted_tau_without_largest"] == pytest.approx(
        np.mean([_wtau(np.array(sizes, float)[kept], y[t][kept]) for t in y]))
    order = robust.sort_values("rank_without_largest")["measure"].tolist()
    by_value = robust.sort_values("weighted_tau_without_largest", ascending=False)
    assert order == by_value["measure"].tolist()
    assert sorted(robust["rank"]) == [1, 2]


def test_pairwise_perfect_against_reversed():
    rng = np.random.default_rng(4)
    y = {t: rng.uniform(size=12) for t in ("a", "b")}
    table = _table(y, {"good": y, "bad": {t: -v for t, v in y.items()}})
    pairs = pairwise_robustness(table, {"good": "e", "bad": "e"}, TRUTH, n_subsets=50)
    assert list(pairs.columns) == list(PAIRWISE_COLUMNS)
    forward = pairs.set_index(["measure_a", "measure_b"]).loc[("good", "bad")]
    backward = pairs.set_index(["measure_a", "measure_b"]).loc[("bad", "good")]
    for column in ("subset_share", "target_share", "loo_share", "wins_without_largest"):
        assert forward[column] == 1.0 and backward[column] == 0.0
    assert forward["n_subset_draws"] == backward["n_subset_draws"] == 50


def test_pairwise_shares_of_both_orders_sum_to_one():
    rng = np.random.default_rng(6)
    y = {t: rng.uniform(size=14) for t in ("a", "b", "c")}
    scores = {f"x{k}": {t: y[t] + rng.normal(scale=0.3 * (k + 1), size=14) for t in y}
              for k in range(3)}
    pairs = pairwise_robustness(_table(y, scores), dict.fromkeys(scores, "e"), TRUTH,
                                subset_sizes=(4, 9), n_subsets=80, seed=3)
    assert len(pairs) == 6
    keyed = pairs.set_index(["measure_a", "measure_b"])
    for (a, b), row in keyed.iterrows():
        other = keyed.loc[(b, a)]
        for column in ("subset_share", "target_share", "loo_share", "wins_without_largest"):
            assert row[column] + other[column] == pytest.approx(1.0)
    again = pairwise_robustness(_table(y, scores), dict.fromkeys(scores, "e"), TRUTH,
                                subset_sizes=(4, 9), n_subsets=80, seed=3)
    pd.testing.assert_frame_equal(pairs, again)


def test_missing_model_in_one_target_is_named():
    table = _two_targets()
    table = table[~((table["target"] == "t2") & (table["model"] == "m3"))]
    with pytest.raises(ValueError, match=r"same in every target.*'t2' lacks \['m3'\]"):
        leaderboard_over_targets(table, {"good": "e"}, TRUTH)


def test_too_few_sources_and_other_input_errors():
    two = _table({"t1": [0.1, 0.2]}, {"x": {"t1": [1.0, 2.0]}})
    with pytest.raises(ValueError, match="at least 3 source models"):
        leaderboard_over_targets(two, {"x": "e"}, TRUTH)
    table = _two_targets()
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['nope'\]"):
        measure_robustness(table, {"nope": "e"}, TRUTH)
    broken = table.copy()
    broken.loc[0, TRUTH] = np.nan
    with pytest.raises(ValueError, match="not finite"):
        pairwise_robustness(broken, {"good": "e"}, TRUTH)
    with pytest.raises(ValueError, match="several rows"):
        leaderboard_over_targets(pd.concat([table, table.iloc[:1]]), {"good": "e"}, TRUTH)
    with pytest.raises(ValueError, match="subset_sizes"):
        pairwise_robustness(table, {"good": "e", "bad": "e"}, TRUTH, subset_sizes=(2, 5))


def test_speed_sanity_25_measures_3_targets_18_sources():
    rng = np.random.default_rng(0)
    y = {t: rng.uniform(0.3, 0.9, size=18) for t in ("a", "b", "c")}
    scores = {f"x{k}": {t: y[t] + rng.normal(scale=0.05 * (k + 1), size=18) for t in y}
              for k in range(25)}
    table = _table(y, scores)
    measures = dict.fromkeys(scores, "estimator")
    board = leaderboard_over_targets(table, measures, TRUTH, n_boot=200)
    assert len(board) == 25 and board["weighted_tau_lo"].notna().all()
    assert (board["weighted_tau_lo"] <= board["weighted_tau"] + 1e-9).all()
    assert board["targets_best"].sum() >= 3
    assert len(measure_robustness(table, measures, TRUTH)) == 25
    assert len(pairwise_robustness(table, measures, TRUTH, n_subsets=20)) == 25 * 24
