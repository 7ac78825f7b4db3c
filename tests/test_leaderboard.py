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
                                                 settings={"gbc": {"pca_dim": 4}},
                                                 logits=logits)
    n = len(scoring.ESTIMATORS)
    assert list(scores)[:n] == list(scoring.ESTIMATORS) == list(seconds)
    parts = [f"{e}_{c}" for e, cs in scoring.POOL_COMPONENTS.items() for c in cs]
    assert list(scores)[n:] == parts
    pooled = set(scoring.POOL_COMPONENTS)
    assert all(np.isfinite(v) for k, v in scores.items() if k not in pooled)
    assert all(np.isnan(scores[k]) for k in pooled)  # filled in over the pool
    assert all(s >= 0 for s in seconds.values())
    assert scores["knn"] > 0.9  # well-separated classes


def test_pool_estimators_are_combined_over_the_pool():
    labels = np.arange(120) % 3
    rows = []
    for i, sep in enumerate((0.0, 1.0, 4.0)):
        feats, _ = clustered(3, sep=sep)
        logits = sep * np.eye(3)[labels] + np.random.default_rng(i).normal(size=(120, 3))
        scores, _ = scoring.run_estimators(feats, scoring.softmax(logits), labels,
                                           ["ncti", "etran", "sfda", "nleep"], logits=logits)
        rows.append({"model": f"s{i}", **scores})
    frame = scoring.combine_pool_estimators(pd.DataFrame(rows))
    for name in ("ncti", "etran", "sfda", "nleep"):
        assert frame[name].is_monotonic_increasing, name
    assert frame["ncti"].iloc[-1] == pytest.approx(3.0)  # best on all three components
    # without logits ETran is not defined; the other components are
    scores, seconds = scoring.run_estimators(clustered(3, sep=1.0)[0], None, labels,
                                             ["etran", "ncti"])
    assert np.isnan(scores["etran_energy"]) and seconds["etran"] == 0.0
    assert np.isfinite(scores["ncti_ncc"])


def test_estimators_prefer_informative_features():
    good, labels = clustered(0, sep=4.0)
    bad, _ = clustered(0, sep=0.0)
    names = [n for n in scoring.ESTIMATORS
             if n not in scoring.HEAD_ESTIMATORS and n not in scoring.POOL_COMPONENTS]
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
    # each row names the measure as leaderboard.tsv does (beside its display name)
    assert {t.get_text() for t in left.get_yticklabels()} == {"perfect", "noise", "τ1 (tau1)"}
    assert right.get_xscale() == "log"


def test_degenerate_measures_are_flagged_not_ranked():
    scores, transfer = pool()
    scores["flat"] = 0.5
    scores["saturated"] = 1.0 + 1e-9 * np.arange(8)
    scores["half"] = [np.nan] * 6 + [1.0, 2.0]
    table = scoring.source_table(scores, transfer, adversarial=["tau1"],
                                 truths=["probe_accuracy"])
    board = scoring.rank_measures(
        table, {"perfect": "estimator", "flat": "estimator", "saturated": "estimator",
                "half": "estimator", "noise": "estimator"},
        ["probe_accuracy"], {}, n_boot=50)
    row = board.set_index("measure")
    assert row.loc["perfect", "degenerate"] == "" and row.loc["noise", "degenerate"] == ""
    assert "equal" in row.loc["flat", "degenerate"]
    assert "saturate" in row.loc["saturated", "degenerate"]
    assert "finite" in row.loc["half", "degenerate"]
    for m in ("flat", "saturated", "half"):
        assert np.isnan(row.loc[m, "weighted_tau"]) and row.loc[m, "top_source"] == ""
    assert list(board["measure"][-3:]) == ["flat", "saturated", "half"]  # unranked, last
    assert scoring.degenerate_reason([1e6, 1e6 + 5.0, 1e6 + 10.0]) == ""  # relative spread
    assert scoring.degenerate_reason([0.0, 2e-7, 5e-7]) != ""


def test_baseline_rows_and_random_ranking():
    scores, transfer = pool()
    scores["param_count"] = [10, 20, 30, 40, 50, 60, 70, 80]  # s7 largest = best
    table = scoring.source_table(scores, transfer, adversarial=["tau1"],
                                 truths=["probe_accuracy"])
    board = scoring.rank_measures(table, {"perfect": "estimator", "param_count": "baseline"},
                                  ["probe_accuracy"], {}, n_boot=20, random_draws=400)
    row = board.set_index("measure")
    assert row.loc["param_count", "kind"] == "baseline"
    assert row.loc["param_count", "weighted_tau"] == pytest.approx(1.0)
    rnd = row.loc[scoring.RANDOM_BASELINE]
    assert rnd["kind"] == "baseline" and rnd["n_boot_valid"] == 400
    # a random ranking agrees by chance only: mean near 0, a wide central range
    assert abs(rnd["kendall"]) < 0.06 and abs(rnd["weighted_tau"]) < 0.08
    assert rnd["weighted_tau_lo"] < -0.3 and rnd["weighted_tau_hi"] > 0.3
    # expected relative top-1 of a random pick = mean truth / max truth
    truth = np.linspace(0.5, 0.9, 8)
    assert rnd["relative_top1"] == pytest.approx(truth.mean() / truth.max(), abs=0.02)
    # exact: Kendall's tau of a random permutation of 8 has variance 2(2n+5)/(9n(n-1))
    assert rnd["kendall_sd"] == pytest.approx(np.sqrt(2 * 21 / (9 * 8 * 7)), rel=0.1)
    again = scoring.random_ranking(table["probe_accuracy"], draws=400, seed=0)
    assert again["weighted_tau"] == rnd["weighted_tau"]  # fixed seed
