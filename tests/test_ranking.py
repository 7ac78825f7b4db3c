"""Rank agreement between estimator scores and ground-truth transfer accuracy."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from advtransfer.core.ranking import (
    AGREEMENT_MEASURES,
    COUNT_KEYS,
    RANK_AGREEMENT_KEYS,
    _kendall_rows,
    _pearson_rows,
    _spearman_rows,
    rank_agreement,
)

TRUTH = np.array([0.61, 0.72, 0.55, 0.80, 0.67, 0.70, 0.58, 0.75, 0.64, 0.69])


def test_keys_and_types():
    result = rank_agreement(TRUTH, TRUTH, n_boot=50)
    assert tuple(result) == RANK_AGREEMENT_KEYS
    assert isinstance(result["n"], int) and result["n"] == 10
    assert isinstance(result["n_boot_valid"], int)


def test_identical_order_gives_one_and_reversed_gives_minus_one():
    same = rank_agreement(2 * TRUTH + 1, TRUTH, n_boot=0)
    rev = rank_agreement(-TRUTH, TRUTH, n_boot=0)
    for name in ("kendall", "weighted_tau", "spearman", "pearson"):
        assert same[name] == pytest.approx(1.0)
        assert rev[name] == pytest.approx(-1.0)
    assert same["relative_top1"] == 1.0
    assert rev["relative_top1"] == pytest.approx(0.55 / 0.80)


@pytest.mark.parametrize("seed", range(5))
def test_point_estimates_equal_scipy_on_permutations(seed):
    rng = np.random.default_rng(seed)
    scores = rng.permutation(10).astype(float)
    result = rank_agreement(scores, TRUTH, n_boot=0)
    assert result["kendall"] == pytest.approx(stats.kendalltau(scores, TRUTH).statistic)
    assert result["weighted_tau"] == pytest.approx(stats.weightedtau(scores, TRUTH).statistic)
    assert result["spearman"] == pytest.approx(stats.spearmanr(scores, TRUTH).statistic)
    assert result["pearson"] == pytest.approx(stats.pearsonr(scores, TRUTH).statistic)
    assert result["relative_top1"] == pytest.approx(TRUTH[np.argmax(scores)] / TRUTH.max())


def test_vectorised_bootstrap_coefficients_equal_scipy_with_ties():
    rng = np.random.default_rng(7)
    a = rng.integers(0, 4, size=(40, 9)).astype(float)
    b = rng.integers(0, 4, size=(40, 9)).astype(float)
    a[:, 0], a[:, 1] = 0.0, 3.0  # never constant
    b[:, 0], b[:, 1] = 0.0, 3.0
    kendall, spearman, pearson = _kendall_rows(a, b), _spearman_rows(a, b), _pearson_rows(a, b)
    for i in range(a.shape[0]):
        assert kendall[i] == pytest.approx(stats.kendalltau(a[i], b[i]).statistic, abs=1e-12)
        assert spearman[i] == pytest.approx(stats.spearmanr(a[i], b[i]).statistic, abs=1e-12)
        assert pearson[i] == pytest.approx(stats.pearsonr(a[i], b[i]).statistic, abs=1e-12)


def test_relative_top1_best_scored_source_is_best():
    scores = np.array([0.1, 0.3, 0.2, 0.9, 0.5, 0.4, 0.0, 0.6, 0.2, 0.3])  # argmax = 3
    assert rank_agreement(scores, TRUTH, n_boot=0)["relative_top1"] == 1.0
    scores[3] = -1.0  # now argmax = 7 (truth 0.75)
    assert rank_agreement(scores, TRUTH, n_boot=0)["relative_top1"] == pytest.approx(0.75 / 0.8)


def test_relative_top1_averages_tied_top_scores():
    scores = np.array([1.0, 0.0, 1.0])
    truth = np.array([0.4, 0.5, 0.8])
    assert rank_agreement(scores, truth, n_boot=0)["relative_top1"] == pytest.approx(0.75)


def test_intervals_contain_estimate_and_count_valid_resamples():
    rng = np.random.default_rng(3)
    scores = TRUTH + 0.05 * rng.normal(size=TRUTH.size)
    result = rank_agreement(scores, TRUTH, n_boot=500, seed=1)
    assert result["n_boot_valid"] == 500  # 10 distinct values: no constant resample here
    for name in AGREEMENT_MEASURES:
        assert result[f"{name}_lo"] <= result[name] <= result[f"{name}_hi"], name
        assert -1.0 <= result[f"{name}_lo"] <= result[f"{name}_hi"] <= 1.0


def test_deterministic_given_seed():
    rng = np.random.default_rng(4)
    scores = rng.normal(size=10)
    a = rank_agreement(scores, TRUTH, n_boot=300, seed=11)
    b = rank_agreement(scores, TRUTH, n_boot=300, seed=11)
    c = rank_agreement(scores, TRUTH, n_boot=300, seed=12)
    assert a == b
    assert a["kendall"] == c["kendall"]
    assert (a["kendall_lo"], a["kendall_hi"]) != (c["kendall_lo"], c["kendall_hi"])


def test_constant_resamples_are_skipped():
    # 3 sources: many resamples repeat one source and are constant
    result = rank_agreement([1.0, 2.0, 3.0], [0.5, 0.6, 0.7], n_boot=400, seed=0)
    assert result["kendall"] == pytest.approx(1.0)
    assert 0 < result["n_boot_valid"] < 400
    # P(all three indices equal) = 3/27 = 1/9
    assert result["n_boot_valid"] == pytest.approx(400 * 8 / 9, rel=0.1)


def test_nan_sources_are_dropped():
    scores = np.array([0.1, np.nan, 0.3, 0.2, 0.5, 0.4])
    truth = np.array([0.5, 0.6, np.nan, 0.55, 0.7, 0.65])
    result = rank_agreement(scores, truth, n_boot=100)
    keep = [0, 3, 4, 5]
    expected = rank_agreement(scores[keep], truth[keep], n_boot=100)
    assert result["n"] == 4
    assert result == expected
    assert result["kendall"] == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("scores", "truth"),
    [([], []), ([0.3], [0.5]), ([0.3, 0.4], [0.5, 0.6]), ([0.3, np.nan, 0.1], [0.5, 0.6, 0.7])],
)
def test_fewer_than_three_sources_gives_nans(scores, truth):
    result = rank_agreement(scores, truth)
    assert result["n"] == len([s for s, t in zip(scores, truth) if np.isfinite(s + t)])
    assert result["n_boot_valid"] == 0
    for key in RANK_AGREEMENT_KEYS:
        if key not in COUNT_KEYS:
            assert math.isnan(result[key]), key


def test_constant_scores_give_nan_coefficients():
    result = rank_agreement(np.ones(5), TRUTH[:5], n_boot=100)
    for name in ("kendall", "weighted_tau", "spearman", "pearson"):
        assert math.isnan(result[name])
    assert result["n_boot_valid"] == 0
    assert result["relative_top1"] == pytest.approx(TRUTH[:5].mean() / TRUTH[:5].max())


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="same length"):
        rank_agreement([1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match="1-D"):
        rank_agreement(np.ones((3, 2)), np.ones((3, 2)))
    with pytest.raises(ValueError, match="n_boot"):
        rank_agreement([1, 2, 3], [1, 2, 3], n_boot=-1)
    with pytest.raises(ValueError, match="seed"):
        rank_agreement([1, 2, 3], [1, 2, 3], seed=1.5)
    with pytest.raises(ValueError, match="confidence"):
        rank_agreement([1, 2, 3], [1, 2, 3], confidence=1.0)
    with pytest.raises(ValueError, match="numeric"):
        rank_agreement(["a", "b", "c"], [1, 2, 3])
