"""Tests of advtransfer.core.stats: rank correlations with (group) bootstrap intervals."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from advtransfer.core.stats import (
    CORRELATION_COLUMNS,
    _kendall_rows,
    _pearson_rows,
    _spearman_rows,
    correlation_table,
    rank_correlations,
)

METHODS = ("spearman", "kendall", "pearson")


def test_perfect_and_reversed_order():
    x = np.arange(10.0)
    up = rank_correlations(x, 3 * x + 1, n_boot=200)
    down = rank_correlations(x, -(x**3), n_boot=200)
    for method in METHODS:
        assert up[method] == pytest.approx(1.0)
        assert up[f"{method}_lo"] == pytest.approx(1.0)
        assert up[f"{method}_hi"] == pytest.approx(1.0)
    assert down["spearman"] == pytest.approx(-1.0)
    assert down["kendall"] == pytest.approx(-1.0)
    assert -1.0 < down["pearson"] < -0.9  # monotone but not linear
    assert up["n"] == 10


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_point_estimates_equal_scipy_on_permutations(seed):
    rng = np.random.default_rng(seed)
    x = rng.permutation(12).astype(float)
    y = rng.permutation(12).astype(float)
    result = rank_correlations(x, y, n_boot=50)
    assert result["spearman"] == pytest.approx(sps.spearmanr(x, y).statistic, abs=1e-12)
    assert result["kendall"] == pytest.approx(sps.kendalltau(x, y).statistic, abs=1e-12)
    assert result["pearson"] == pytest.approx(sps.pearsonr(x, y).statistic, abs=1e-12)
    assert result["kendall_p_scipy"] == pytest.approx(sps.kendalltau(x, y).pvalue)


def test_vectorised_row_statistics_equal_scipy_with_ties():
    rng = np.random.default_rng(5)
    a = rng.integers(0, 4, size=(40, 9)).astype(float)
    b = rng.integers(0, 4, size=(40, 9)).astype(float)
    kendall, spearman, pearson = _kendall_rows(a, b), _spearman_rows(a, b), _pearson_rows(a, b)
    checked = 0
    for i in range(a.shape[0]):
        if np.ptp(a[i]) == 0 or np.ptp(b[i]) == 0:
            assert math.isnan(kendall[i]) and math.isnan(spearman[i])
            continue
        checked += 1
        assert kendall[i] == pytest.approx(sps.kendalltau(a[i], b[i]).statistic, abs=1e-12)
        assert spearman[i] == pytest.approx(sps.spearmanr(a[i], b[i]).statistic, abs=1e-12)
        assert pearson[i] == pytest.approx(sps.pearsonr(a[i], b[i]).statistic, abs=1e-12)
    assert checked > 30


def test_interval_contains_estimate_and_is_ordered():
    rng = np.random.default_rng(0)
    x = rng.normal(size=30)
    y = x + rng.normal(scale=0.8, size=30)
    result = rank_correlations(x, y, n_boot=1000, seed=3)
    for method in METHODS:
        assert result[f"{method}_lo"] <= result[method] <= result[f"{method}_hi"]
        assert result[f"{method}_lo"] < result[f"{method}_hi"]
    narrow = rank_correlations(x, y, n_boot=1000, seed=3, ci=0.5)
    assert narrow["spearman_hi"] - narrow["spearman_lo"] < \
        result["spearman_hi"] - result["spearman_lo"]
    assert result["n_boot_valid"] == 1000


def test_deterministic_for_a_seed():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=15), rng.normal(size=15)
    first = rank_correlations(x, y, n_boot=300, seed=9)
    again = rank_correlations(x, y, n_boot=300, seed=9)
    other = rank_correlations(x, y, n_boot=300, seed=10)
    assert first == again
    assert first["spearman_lo"] != other["spearman_lo"] or \
        first["spearman_hi"] != other["spearman_hi"]


def test_degenerate_resamples_are_skipped_and_counted():
    # 4 items, two of which share x: a resample is constant with noticeable probability
    x = np.array([0.0, 0.0, 1.0, 2.0])
    y = np.array([0.0, 1.0, 2.0, 3.0])
    result = rank_correlations(x, y, n_boot=2000, seed=0)
    # P(x constant) = (2/4)^4 + 2 (1/4)^4 = 0.0703, P(y constant) = 4 (1/4)^4 = 0.0156,
    # overlap (all items equal) = 4 (1/4)^4; expected invalid ~ 0.0703 + 0.0156 - 0.0156
    assert 2000 * (1 - 0.0703) - 60 < result["n_boot_valid"] < 2000


def test_group_bootstrap_resamples_whole_groups():
    # three groups of three identical points on a line: a group resample is degenerate
    # exactly when it picks one group three times (probability 3/27 = 1/9)
    x = np.repeat([1.0, 2.0, 3.0], 3)
    groups = np.repeat(["a", "b", "c"], 3)
    grouped = rank_correlations(x, x, n_boot=2000, seed=0, groups=groups)
    items = rank_correlations(x, x, n_boot=2000, seed=0)
    expected = 2000 * 8 / 9
    assert abs(grouped["n_boot_valid"] - expected) < 4 * math.sqrt(2000 * (8 / 9) * (1 / 9))
    assert items["n_boot_valid"] == 2000  # items: a constant resample has prob ~1e-4
    assert grouped["spearman_lo"] == grouped["spearman_hi"] == 1.0
    assert grouped["spearman"] == items["spearman"] == 1.0  # point estimate over items


def test_group_bootstrap_widens_interval_for_clustered_items():
    rng = np.random.default_rng(4)
    centres = rng.normal(size=(6, 2))
    x = np.repeat(centres[:, 0], 5) + rng.normal(scale=0.05, size=30)
    y = np.repeat(centres[:, 1], 5) + rng.normal(scale=0.05, size=30)
    groups = np.repeat(np.arange(6), 5)
    items = rank_correlations(x, y, n_boot=500, seed=0)
    grouped = rank_correlations(x, y, n_boot=500, seed=0, groups=groups)
    width = lambda r: r["spearman_hi"] - r["spearman_lo"]  # noqa: E731
    assert width(grouped) > width(items)
    assert grouped["spearman"] == items["spearman"]


def test_nan_pairs_are_dropped():
    x = np.array([1.0, 2.0, np.nan, 4.0, 5.0, 6.0])
    y = np.array([2.0, 1.0, 3.0, np.nan, 6.0, 5.0])
    result = rank_correlations(x, y, n_boot=100, seed=0)
    clean = rank_correlations([1.0, 2.0, 5.0, 6.0], [2.0, 1.0, 6.0, 5.0], n_boot=100, seed=0)
    assert result["n"] == 4
    assert result == clean


def test_too_few_pairs_give_nan():
    result = rank_correlations([1.0, np.nan, 3.0], [1.0, 2.0, 3.0])
    assert result["n"] == 2 and result["n_boot_valid"] == 0
    for method in METHODS:
        assert math.isnan(result[method])
        assert math.isnan(result[f"{method}_lo"]) and math.isnan(result[f"{method}_hi"])
    assert rank_correlations([], [])["n"] == 0


def test_constant_side_gives_nan_without_warning():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = rank_correlations([1.0, 2.0, 3.0, 4.0], [5.0] * 4, n_boot=100)
    assert math.isnan(result["spearman"]) and result["n_boot_valid"] == 0
    assert math.isnan(result["kendall_lo"])


def test_zero_resamples_gives_estimates_only():
    result = rank_correlations([1.0, 2.0, 3.0, 4.0], [1.0, 3.0, 2.0, 4.0], n_boot=0)
    assert result["spearman"] == pytest.approx(0.8)
    assert math.isnan(result["spearman_lo"]) and result["n_boot_valid"] == 0


@pytest.mark.parametrize(
    "kwargs, match",
    [({"ci": 0.0}, "ci"), ({"ci": 1.0}, "ci"), ({"n_boot": -1}, "n_boot"),
     ({"groups": [0, 1]}, "groups")],
)
def test_bad_arguments_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        rank_correlations([1.0, 2.0, 3.0], [1.0, 2.0, 3.0], **kwargs)


def test_length_mismatch_raises():
    with pytest.raises(ValueError, match="equal length"):
        rank_correlations([1.0, 2.0, 3.0], [1.0, 2.0])


def test_correlation_table_long_format():
    rng = np.random.default_rng(0)
    df = pd.DataFrame({
        "source": np.repeat(["s0", "s1", "s2", "s3", "s4"], 2),
        "adv_loss": rng.normal(size=10),
        "tau1": rng.uniform(size=10),
        "probe_accuracy": rng.uniform(size=10),
        "probe_loss": rng.uniform(size=10),
    })
    df.loc[3, "tau1"] = np.nan
    table = correlation_table(df, ["adv_loss", "tau1"], ["probe_accuracy", "probe_loss"],
                              n_boot=200, seed=1)
    assert list(table.columns) == list(CORRELATION_COLUMNS)
    assert len(table) == 4
    assert table[["adversarial_measure", "knowledge_measure"]].values.tolist() == [
        ["adv_loss", "probe_accuracy"], ["adv_loss", "probe_loss"],
        ["tau1", "probe_accuracy"], ["tau1", "probe_loss"],
    ]
    row = table.iloc[2]
    direct = rank_correlations(df["tau1"], df["probe_accuracy"], n_boot=200, seed=1)
    assert row["n"] == 9
    for key in ("spearman", "kendall_lo", "pearson_hi", "n_boot_valid"):
        assert row[key] == pytest.approx(direct[key])

    grouped = correlation_table(df, ["adv_loss"], ["probe_loss"], group_col="source",
                                n_boot=200, seed=1)
    direct = rank_correlations(df["adv_loss"], df["probe_loss"], n_boot=200, seed=1,
                               groups=df["source"])
    assert grouped.iloc[0]["spearman_lo"] == pytest.approx(direct["spearman_lo"])

    with pytest.raises(ValueError, match="not in the data frame"):
        correlation_table(df, ["missing"], ["probe_loss"])
    with pytest.raises(ValueError, match="not in the data frame"):
        correlation_table(df, ["adv_loss"], ["probe_loss"], group_col="seed")
    with pytest.raises(ValueError, match="empty"):
        correlation_table(df, [], ["probe_loss"])
