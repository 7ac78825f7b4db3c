"""Inference over grouped sources: cluster bootstrap, group permutation test, Holm, duplicates."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from advtransfer.core import probes, ranking, scoring, stats

GROUPS = np.repeat([f"d{g}" for g in range(5)], 3)  # 5 source data sets x 3 seeds


def _null_data(rng: np.random.Generator, n_sims: int) -> tuple[np.ndarray, np.ndarray]:
    """Null data with strong data-set effects: x and y share groups but are unrelated."""
    group_x = rng.normal(size=(n_sims, 5)).repeat(3, axis=1) * 3.0
    group_y = rng.normal(size=(n_sims, 5)).repeat(3, axis=1) * 3.0
    x = group_x + 0.3 * rng.normal(size=(n_sims, 15))
    y = group_y + 0.3 * rng.normal(size=(n_sims, 15))
    return x, y


def test_group_permutation_test_controls_false_positives_under_group_effects():
    rng = np.random.default_rng(2024)
    x, y = _null_data(rng, 400)
    perm = np.array([stats.source_inference(a, b, groups=GROUPS, methods=("spearman",),
                                            n_boot=0, seed=i)["spearman_p"]
                     for i, (a, b) in enumerate(zip(x, y, strict=True))])
    naive = np.array([sps.spearmanr(a, b).pvalue for a, b in zip(x, y, strict=True)])
    fpr = float(np.mean(perm <= 0.05))
    assert 0.02 <= fpr <= 0.08, fpr
    # the scipy p-value, which treats the 15 seeds as independent sources, does not
    assert float(np.mean(naive <= 0.05)) > 0.2


def test_permutations_are_enumerated_for_five_equal_groups():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=15), rng.normal(size=15)
    out = stats.source_inference(x, y, groups=GROUPS, n_boot=0)
    assert out["n_perm"] == 120 and out["permutation"] == "blocks"
    assert out["n_sources"] == 15 and out["n_groups"] == 5
    assert out["spearman_p"] >= 1 / 120


def test_mixed_group_sizes_fall_back_to_group_means():
    groups = np.array(["a", "a", "b", "c", "c", "c", "d", "e", "e"])
    rng = np.random.default_rng(1)
    out = stats.source_inference(rng.normal(size=9), rng.normal(size=9), groups=groups,
                                 n_boot=0)
    assert out["permutation"] == "group_means" and out["n_perm"] == 120


def test_monotone_group_relation_with_disagreeing_seeds_is_not_degenerate():
    # group means rise together perfectly; within each group the seeds disagree
    base = np.repeat(np.arange(5.0), 3)
    x = base + np.tile([0.0, 0.2, 0.4], 5)
    y = base + np.tile([0.4, 0.0, 0.2], 5)
    out = stats.source_inference(x, y, groups=GROUPS, n_boot=2000, seed=0)
    assert out["spearman"] < 1.0
    assert out["spearman_lo"] < out["spearman_hi"]
    assert out["spearman_lo"] < 1.0


def test_one_source_per_group_is_the_ordinary_bootstrap():
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=8), rng.normal(size=8)
    plain = stats.source_inference(x, y, n_boot=500, n_perm=0, seed=4)
    grouped = stats.source_inference(x, y, groups=np.arange(8), n_boot=500, n_perm=0, seed=4)
    for key in ("spearman_lo", "spearman_hi", "kendall_lo", "pearson_hi", "n_boot_valid"):
        assert plain[key] == grouped[key]


def test_result_does_not_depend_on_row_order():
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=15), rng.normal(size=15)
    ids = np.array([f"m{i:02d}" for i in range(15)])
    se = np.full(15, 0.1)
    order = rng.permutation(15)
    a = stats.source_inference(x, y, groups=GROUPS, ids=ids, y_se=se, seed=0)
    b = stats.source_inference(x[order], y[order], groups=GROUPS[order], ids=ids[order],
                               y_se=se[order], seed=0)
    assert a == b


def test_truth_noise_gives_full_intervals():
    rng = np.random.default_rng(6)
    x = np.repeat(np.arange(5.0), 3) + rng.normal(scale=0.5, size=15)
    y = 0.8 + 0.02 * x
    out = stats.source_inference(x, y, groups=GROUPS, y_se=np.full(15, 0.03), seed=0)
    assert np.isfinite(out["spearman_lo_full"]) and out["n_boot_valid_full"] > 0
    # noise of the size of the spread between sources widens the interval
    assert out["spearman_hi_full"] - out["spearman_lo_full"] > \
        out["spearman_hi"] - out["spearman_lo"]
    no_se = stats.source_inference(x, y, groups=GROUPS, seed=0)
    assert np.isnan(no_se["spearman_lo_full"])
    assert no_se["spearman_lo"] == out["spearman_lo"]  # noise draws use their own stream


def test_holm_against_hand_computation():
    p = np.array([0.01, 0.04, np.nan, 0.03, 0.20])
    # m = 4 finite: sorted 0.01, 0.03, 0.04, 0.20 -> 0.04, 0.09, 0.09 (max), 0.20
    expected = np.array([0.04, 0.09, np.nan, 0.09, 0.20])
    np.testing.assert_allclose(stats.holm(p), expected, equal_nan=True)
    np.testing.assert_allclose(stats.holm([0.5, 0.6]), [1.0, 1.0])


def _pool(seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    effect = np.repeat(rng.normal(size=5), 3)
    cross = effect + rng.normal(scale=0.5, size=15)
    acc = np.clip(0.8 + 0.05 * effect + rng.normal(scale=0.02, size=15), 0, 1)
    return pd.DataFrame({
        "model": [f"p{g}_s{s}" for g in range(5) for s in range(3)],
        "dataset": GROUPS,
        "cross_adv_loss": cross,
        "adv_loss_ratio": cross / 3.0,
        "tau1": rng.normal(size=15),
        "probe_accuracy": acc,
        "probe_accuracy_se": np.sqrt(acc * (1 - acc) / 108),
    })


def test_correlation_table_marks_primary_duplicates_and_holm():
    table = _pool()
    corr = stats.correlation_table(
        table, ["cross_adv_loss", "adv_loss_ratio", "tau1"], ["probe_accuracy"],
        group_col="dataset", n_boot=200, primary=("cross_adv_loss", "probe_accuracy"))
    assert list(corr.columns) == list(stats.CORRELATION_COLUMNS)
    by = corr.set_index("adversarial_measure")
    assert bool(by.loc["cross_adv_loss", "primary"]) and by["primary"].sum() == 1
    assert by.loc["adv_loss_ratio", "duplicate_of"] == "cross_adv_loss"
    assert by.loc["tau1", "duplicate_of"] == ""
    assert np.isnan(by.loc["adv_loss_ratio", "p_holm"])
    family = by.loc[["cross_adv_loss", "tau1"], "spearman_p"].to_numpy()
    np.testing.assert_allclose(by.loc[["cross_adv_loss", "tau1"], "p_holm"],
                               stats.holm(family))
    assert (by["n_groups"] == 5).all() and (by["n_sources"] == 15).all()


def test_correlation_and_leaderboard_give_identical_intervals():
    table = _pool()
    corr = stats.correlation_table(table, ["cross_adv_loss", "tau1"], ["probe_accuracy"],
                                   group_col="dataset", n_boot=300, n_perm=500, seed=3)
    # the leaderboard sorts its sources by truth; the routine resamples in canonical order
    shuffled = table.sort_values("probe_accuracy", ascending=False).reset_index(drop=True)
    board = scoring.rank_measures(
        shuffled, {"cross_adv_loss": "adversarial", "tau1": "adversarial"},
        ["probe_accuracy"], {}, n_boot=300, n_perm=500, seed=3, group_col="dataset",
        primary=("cross_adv_loss", "probe_accuracy"))
    for measure in ("cross_adv_loss", "tau1"):
        c = corr.set_index("adversarial_measure").loc[measure]
        b = board.set_index("measure").loc[measure]
        for key in ("spearman", "spearman_lo", "spearman_hi", "spearman_lo_full",
                    "spearman_hi_full", "spearman_p", "kendall_lo", "kendall_hi",
                    "pearson_lo", "pearson_hi", "n_groups", "n_boot_valid"):
            assert c[key] == b[key], (measure, key)
    assert bool(board.set_index("measure").loc["cross_adv_loss", "primary"])


def test_rank_agreement_uses_the_shared_routine():
    table = _pool()
    out = ranking.rank_agreement(table["cross_adv_loss"], table["probe_accuracy"],
                                 groups=table["dataset"], n_boot=100, n_perm=50)
    direct = stats.source_inference(table["cross_adv_loss"], table["probe_accuracy"],
                                    groups=table["dataset"], n_boot=100, n_perm=50)
    assert out["spearman_lo"] == direct["spearman_lo"]
    assert out["spearman_p"] == direct["spearman_p"]
    assert np.isfinite(out["weighted_tau_p"]) and np.isfinite(out["relative_top1_lo"])


def test_probe_accuracy_standard_error_is_the_test_image_bootstrap():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(300, 5))
    labels = (features[:, 0] + 0.8 * rng.normal(size=300) > 0).astype(int)
    probe = probes.fit_linear_probe(features[:200], labels[:200], C=1.0)
    out = probe.evaluate(features[200:], labels[200:])
    p, n = out["accuracy"], out["n"]
    assert out["accuracy_se"] == pytest.approx(np.sqrt(p * (1 - p) / n), rel=1e-12)
    correct = (probe.predict(features[200:]) == labels[200:]).astype(float)
    boot = correct[rng.integers(0, n, size=(4000, n))].mean(axis=1)
    assert out["accuracy_se"] == pytest.approx(boot.std(), rel=0.1)
