"""The transferability leaderboard of the distributions scenario through the real DAG."""

from __future__ import annotations

import pandas as pd
import pytest
import yaml
from conftest import TINY_DISTRIBUTIONS, run_snakemake, write_config

pytestmark = pytest.mark.workflow

MEASURES = {"nce", "leep", "h_score", "regularized_h_score", "log_me", "transrate", "gbc", "knn",
            "nleep", "sfda", "ncti", "etran",
            "cross_adv_loss", "adv_loss_ratio", "flip_rate", "tau1", "tau2", "alpha",
            "param_count", "source_val_accuracy", "random"}  # the last three: baselines


def check_board(base, n_sources: int, truths=("probe_accuracy", "kshot_accuracy")) -> pd.DataFrame:
    """Check results/<scenario>/leaderboard outputs; return source_scores.tsv."""
    for name in ("leaderboard.tsv", "source_scores.tsv", "leaderboard.png", "leaderboard.svg"):
        assert (base / name).stat().st_size > 0, name
    board = pd.read_csv(base / "leaderboard.tsv", sep="\t")
    assert set(board["truth"]) == set(truths)
    assert set(board["measure"]) == MEASURES
    assert (board["n"] <= n_sources).all()
    # a measure that cannot rank the pool (e.g. no source validation accuracy for models
    # loaded from other formats) is flagged with its reason instead of being ranked
    flagged = board["degenerate"].fillna("").astype(str) != ""
    assert (board.loc[~flagged, "n"] >= 3).all()
    assert board.loc[flagged, board.columns.intersection(["spearman", "kendall"])].isna().all().all()
    measured = board[board["kind"] != "baseline"]  # baselines have no job of their own
    assert measured["cost_s"].notna().all() and (measured["cost_s"] > 0).all()
    est = board[board["kind"] == "estimator"]
    assert (est["compute_s"] < est["cost_s"]).all()  # in-process time within the job's time
    sources = pd.read_csv(base / "source_scores.tsv", sep="\t")
    assert len(sources) == n_sources and list(sources["rank"]) == list(range(1, n_sources + 1))
    assert sources["probe_accuracy"].is_monotonic_decreasing
    return sources


def test_distributions_and_attributes_leaderboards(tiny_run):
    """The shared tiny run writes a leaderboard for both default pools."""
    sources = check_board(tiny_run / "results/default/distributions", n_sources=3)
    assert sources[["h_score", "log_me", "knn", "leep", "tau1"]].notna().all().all()
    # the estimators saw the target training split only
    log = (tiny_run / "logs/default/distributions/score_estimators.log").read_text()
    assert "p000_s0 on train (" in log
    assert sources["n_samples"].nunique() == 1
    attributes = check_board(tiny_run / "results/default/attributes", n_sources=3)
    assert set(attributes["model"]) == {"even_s0", "prime_s0", "ink_s0"}


def test_leaderboard_needs_a_pool(tmp_path):
    cfg = {"scenarios": ["distributions", "leaderboard"],
           "distributions": yaml.safe_load(yaml.safe_dump(TINY_DISTRIBUTIONS)),
           "leaderboard": {"scenarios": ["attributes"]}}
    write_config(tmp_path, cfg)
    proc = run_snakemake(tmp_path, "-n", check=False)
    assert proc.returncode != 0
    assert "none of leaderboard.scenarios (attributes) is in `scenarios`" in (
        proc.stdout + proc.stderr)
