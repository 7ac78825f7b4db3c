"""Tests of advtransfer.tasks.tables: long loss tables -> ATM / affinity -> agreement tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from advtransfer.tasks import tables as tt

TASKS = ["a1", "a2", "b1", "b2"]
CATEGORIES = {"a1": "A", "a2": "A", "b1": "B", "b2": "B"}
TREE = {"method": "ward", "normalise_columns": True, "weighting": "size", "permutations": 20,
        "seed": 0}


def long_table(eps=(0.1,), n_images=30, seed=0):
    """Sources of the same group (a*, b*) hurt each other's targets more."""
    rng = np.random.default_rng(seed)
    rows = []
    for e in eps:
        for s in TASKS:
            for t in TASKS:
                level = 3.0 if s == t else (2.0 if s[0] == t[0] else 1.0)
                for i in range(n_images):
                    rows.append({"source": s, "eps": e, "target": t, "image": 100 + i,
                                 "loss": level + 0.3 * rng.random()})
    return pd.DataFrame(rows)


def test_losses_by_target_pivots_and_checks():
    frame = long_table()
    losses = tt.losses_by_target(frame, TASKS)
    assert set(losses) == set(TASKS) and losses["b1"].shape == (4, 30)
    with pytest.raises(ValueError, match="no losses"):
        tt.losses_by_target(frame[frame["source"] != "a2"], TASKS)


def test_atm_table_and_split_round_trip():
    table = tt.atm_table(long_table(eps=(0.05, 0.1)), TASKS)
    assert list(table.columns) == ["eps", "target", *TASKS] and len(table) == 8
    matrices = tt.split_matrix_table(table)
    assert sorted(matrices) == [0.05, 0.1]
    m = matrices[0.1]
    assert m.loc["a1", "a2"] > m.loc["a1", "b1"] and m.loc["b2", "b1"] > m.loc["b2", "a2"]
    kept = tt.split_matrix_table(tt.atm_table(long_table(), TASKS, "keep"))[0.1]
    assert np.allclose(kept.sum(axis=1), 1.0) and kept.loc["a1", "a1"] > 0.9
    knowledge = tt.matrix_from_losses(long_table()[lambda f: f["eps"] == 0.1], TASKS,
                                      higher_is_more_transferable=False)
    assert knowledge.loc["a1", "a2"] < knowledge.loc["a1", "b1"]  # lower loss wins here
    with pytest.raises(ValueError, match="self_transfer"):
        tt.matrix_from_losses(long_table(), TASKS, higher_is_more_transferable=True,
                              self_transfer="drop")


def test_agreement_tables_recover_planted_groups():
    atms = tt.split_matrix_table(tt.atm_table(long_table(), TASKS))
    entropy, clusters = tt.agreement_tables(atms, atms[0.1], CATEGORIES, TREE)
    k2 = entropy[entropy["k"] == 2].set_index(["tree", "reference"])
    assert k2.loc[("adversarial", "a_priori"), "ari"] == pytest.approx(1.0)
    assert k2.loc[("adversarial", "knowledge"), "entropy"] == pytest.approx(0.0)
    assert k2.loc[("knowledge", "a_priori"), "entropy"] == pytest.approx(0.0)
    assert k2.loc[("random", "a_priori"), "entropy"] > 0
    assert set(clusters.columns) == {"tree", "eps", "k", "task", "cluster"}
    assert len(clusters) == 2 * 4 * 4 and clusters["cluster"].max() == 3  # trees x k x tasks
    with pytest.raises(ValueError, match="sources"):
        tt.agreement_tables(atms, atms[0.1][TASKS[::-1]], CATEGORIES, TREE)
