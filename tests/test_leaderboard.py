"""Leaderboard assembly: estimator runs, the per-source table, rank agreement and costs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from advtransfer.core import scoring
from advtransfer.leaderboard import figure


def clustered(seed: int, sep: float, n: int = 120, d: int = 6, k: int = 3):
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % k
    return sep * rng.normal(size=(k, d))[labels] + rng.normal(size=(n, d)), labels


def test_run_estimators_scores_and_times_every_estimator():
    feats, labels = clustered(0, sep=3.0)
    logits = np.eye(3)[labels] * 4.0 + np.random.default_rng(1).normal(size=(120, 3))
    probs = scoring.softmax(logits)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)
    scores, seconds = scoring.run_estimators(feats, probs, labels,
                                                 settings={"gbc": {"pca_dim": 4}})
    assert list(scores) == list(scoring.ESTIMATORS) == list(seconds)
    assert all(np.isfinite(v) for v in scores.values())
    assert all(s >= 0 for s in seconds.values())
    assert scores["knn"] > 0.9  # well-separated classes


def test_estimators_prefer_informative_features():
    good, labels = clustered(0, sep=4.0)
    bad, _ = clustered(0, sep=0.0)
    names = [n for n in scoring.ESTIMATORS if n not in scoring.HEAD_ESTIMATORS]
    s_good = scoring.run_estimators(good, None, labels, names)[0]
    s_bad = scoring.run_estimators(bad, None, labels, names)[0]
    for name in names:
        assert s_good[name] > s_bad[name], name


def test_sources_without_head_get_nan_for_label_estimators():
    feats, labels = clustered(2, sep=2.0)
    scores, seconds = scoring.run_estimators(feats, None, labels, ["nce", "leep", "h_score"])
    assert np.isnan(scores["nce"]) and np.isnan(scores["leep"]) and seconds["nce"] == 0.0
    assert np.isfinite(scores["h_score"])
    with pytest.raises(ValueError, match="unknown estimator"):
        scoring.run_estimators(feats, None, labels, ["magic"])


def pool(n: int = 8):
    truth = np.linspace(0.5, 0.9, n)
    rng = np.random.default_rng(0)
    scores = pd.DataFrame({
        "model": [f"s{i}" for i in range(n)],
        "perfect": np.exp(truth),                 # monotone in the truth
        "reversed": -truth,
        "noise": rng.normal(size=n),
        "load_s": 0.1, "extract_s": 0.2, "perfect_s": 0.05, "reversed_s": 0.01, "noise_s": 0.0,
    })
    transfer = pd.DataFrame({
        "model": scores["model"][::-1].to_numpy(), "label": "x",
        "tau1": truth[::-1] ** 2, "probe_accuracy": truth[::-1], "kshot_accuracy": truth[::-1] / 2,
    })
    return scores, transfer


def test_a_perfectly_ranking_estimator_gets_tau_one():
    scores, transfer = pool()
    table = scoring.source_table(scores, transfer, adversarial=["tau1"],
                                     truths=["probe_accuracy", "kshot_accuracy"])
    assert list(table["rank"]) == list(range(1, 9))
    assert table["model"].iloc[0] == "s7"  # best probe accuracy first
    board = scoring.rank_measures(
        table, {"perfect": "estimator", "reversed": "estimator", "noise": "estimator",
                "tau1": "adversarial"},
        ["probe_accuracy", "kshot_accuracy"], {"tau1": {"cost_s": 9.0}}, n_boot=200, seed=0)
    assert len(board) == 8 and list(board["truth"][:4]) == ["probe_accuracy"] * 4
    row = board.set_index(["truth", "measure"])
    for measure in ("perfect", "tau1"):
        got = row.loc[("probe_accuracy", measure)]
        for key in ("kendall", "weighted_tau", "spearman", "relative_top1"):
            assert got[key] == pytest.approx(1.0), (measure, key)
        assert got["weighted_tau_lo"] == pytest.approx(1.0)  # every resample agrees
        assert got["top_source"] == "s7"
    rev = row.loc[("probe_accuracy", "reversed")]
    assert rev["kendall"] == pytest.approx(-1.0) and rev["weighted_tau"] == pytest.approx(-1.0)
    assert rev["relative_top1"] == pytest.approx(0.5 / 0.9)
    assert row.loc[("probe_accuracy", "tau1"), "cost_s"] == 9.0
    first = board[board["truth"] == "probe_accuracy"]
    assert first["weighted_tau"].is_monotonic_decreasing


def test_source_table_rejects_mismatched_pools():
    scores, transfer = pool()
    with pytest.raises(ValueError, match="only scored"):
        scoring.source_table(scores, transfer.iloc[1:], adversarial=["tau1"],
                                 truths=["probe_accuracy"])
    with pytest.raises(ValueError, match="lacks columns"):
        scoring.source_table(scores, transfer, adversarial=["alpha"],
                                 truths=["probe_accuracy"])


def test_costs_of_jobs_and_computation():
    scores, _ = pool(4)
    costs = scoring.estimator_costs(scores, ["perfect", "reversed", "noise"], 12.0)
    assert costs["perfect"]["cost_s"] == 12.0 and costs["noise"]["cost_per_source_s"] == 3.0
    assert costs["perfect"]["compute_s"] == pytest.approx(4 * 0.35)  # load + extract + own
    assert costs["noise"]["compute_per_source_s"] == pytest.approx(0.3)
    adv = scoring.adversarial_cost({"a": [5.0, 4.0], "b": [6.0, 4.0]}, [13.0, 4.0])
    assert adv["cost_s"] == pytest.approx(36.0)
    assert adv["cost_per_source_s"] == pytest.approx(18.0)
    assert np.isnan(adv["compute_s"])


def test_figure_has_agreement_and_cost_panels():
    scores, transfer = pool()
    table = scoring.source_table(scores, transfer, adversarial=["tau1"],
                                     truths=["probe_accuracy", "kshot_accuracy"])
    costs = {m: {"cost_s": c, "compute_s": c / 10}
             for m, c in (("perfect", 0.1), ("noise", 0.2), ("tau1", 30.0))}
    board = scoring.rank_measures(table, {"perfect": "estimator", "noise": "estimator",
                                              "tau1": "adversarial"},
                                      ["probe_accuracy", "kshot_accuracy"], costs, n_boot=20)
    fig = figure.leaderboard_figure(board, title="test")
    left, right = fig.axes
    assert {t.get_text() for t in left.get_yticklabels()} == {"perfect", "noise", "τ1"}
    assert right.get_xscale() == "log"
