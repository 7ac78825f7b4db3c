"""Tests of advtransfer.tasks.graph: tournaments, Perron vectors, task trees, category entropy."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy.cluster.hierarchy import fcluster
from scipy.stats import entropy as scipy_entropy

from advtransfer.tasks.graph import (
    atm,
    atm_without_self,
    cut_tree,
    entropy_curve,
    exclude_self_transfer,
    mean_category_entropy,
    normalise,
    principal_eigenpair,
    principal_eigenvector,
    random_partition_curve,
    ratio_matrix,
    task_tree,
    tournament_matrix,
    transferability_row,
    tree_agreement_curve,
)

# ----------------------------------------------------------------- tournament matrix


def test_tournament_counts_ties_as_half_and_clips():
    losses = np.array(
        [
            [1.0, 2.0, 3.0, 5.0],
            [1.0, 1.0, 4.0, 0.0],
            [0.0, 0.0, 0.0, 0.0],
        ]
    )
    m = tournament_matrix(losses)
    # source 0 vs 1: tie, win, loss, win -> (0.5 + 1 + 0 + 1) / 4
    assert m[0, 1] == pytest.approx(2.5 / 4)
    assert m[1, 0] == pytest.approx(1.5 / 4)
    # source 0 vs 2: 0 beats 2 on every image -> 1, clipped to 0.999
    assert m[0, 2] == pytest.approx(0.999)
    assert m[2, 0] == pytest.approx(0.001)
    np.testing.assert_allclose(np.diag(m), 0.5)
    np.testing.assert_allclose(m + m.T, 1.0)
    # lower is better: the comparison flips, i.e. M becomes M^T
    np.testing.assert_allclose(tournament_matrix(losses, higher_is_more_transferable=False), m.T)
    np.testing.assert_allclose(tournament_matrix(losses, clip=(0.2, 0.8))[0, 2], 0.8)


@pytest.mark.parametrize(
    "losses, kwargs",
    [
        (np.ones(3), {}),
        (np.ones((2, 0)), {}),
        (np.array([[1.0, np.nan], [0.0, 1.0]]), {}),
        (np.ones((2, 3)), {"clip": (0.0, 1.0)}),
        (np.ones((2, 3)), {"clip": (0.6, 0.9)}),
    ],
)
def test_tournament_rejects_bad_input(losses, kwargs):
    with pytest.raises(ValueError):
        tournament_matrix(losses, **kwargs)


# ----------------------------------------------------------------- hand-solved 3 x 3


def test_three_sources_solved_by_hand():
    # Sources A, B, C; 15 images. Per image the order of T's loss (highest first) is
    #   8 x (A > B > C), 2 x (A > C > B), 2 x (B > A > C), 3 x (C > B > A).
    # Wins: A over B on 8 + 2 = 10 images, A over C on 8 + 2 + 2 = 12, B over C on 8 + 2 = 10.
    #   M = [[1/2, 10/15, 12/15],      W = M / M^T = [[1,   2,   4],
    #        [5/15, 1/2, 10/15],                      [1/2, 1,   2],
    #        [3/15, 5/15, 1/2]]                       [1/4, 1/2, 1]]
    # W is consistent, W_ij = w_i / w_j with w = (4, 2, 1):
    #   W w = (4 + 2*2 + 4*1, 2 + 2 + 2*1, 1 + 1 + 1) = (12, 6, 3) = 3 w,
    # so the Perron eigenvalue is N = 3 and the sum-1 eigenvector is (4, 2, 1) / 7.
    orders = [(3, 2, 1)] * 8 + [(3, 1, 2)] * 2 + [(2, 3, 1)] * 2 + [(1, 2, 3)] * 3
    losses = np.array(orders, dtype=float).T  # (3 sources, 15 images)

    m = tournament_matrix(losses)
    np.testing.assert_allclose(
        m, [[0.5, 10 / 15, 12 / 15], [5 / 15, 0.5, 10 / 15], [3 / 15, 5 / 15, 0.5]]
    )
    w = ratio_matrix(m)
    np.testing.assert_allclose(w, [[1, 2, 4], [0.5, 1, 2], [0.25, 0.5, 1]])
    for method in ("power", "eig"):
        value, vector = principal_eigenpair(w, method=method)
        assert value == pytest.approx(3.0)
        np.testing.assert_allclose(vector, np.array([4, 2, 1]) / 7, atol=1e-10)
    np.testing.assert_allclose(transferability_row(losses), np.array([4, 2, 1]) / 7, atol=1e-10)
    l2 = principal_eigenvector(w, norm="l2")
    np.testing.assert_allclose(l2, np.array([4, 2, 1]) / math.sqrt(21), atol=1e-10)

    # The authors' symmetric solver reads only one triangle of W: wrong Perron vector.
    sym_vals, sym_vecs = np.linalg.eigh(w)
    sym = np.abs(sym_vecs[:, np.argmax(sym_vals)])
    assert not np.allclose(sym / sym.sum(), np.array([4, 2, 1]) / 7, atol=1e-2)


# --------------------------------------------------------------- consistent rankings


@settings(max_examples=40, deadline=None)
@given(
    n_sources=st.integers(2, 9),
    n_images=st.integers(1, 25),
    seed=st.integers(0, 2**32 - 1),
)
def test_consistent_ranking_gives_strictly_ordered_eigenvector(n_sources, n_images, seed):
    rng = np.random.default_rng(seed)
    # per image: a random base loss plus increments, so source i > source j whenever i < j
    steps = rng.uniform(0.1, 2.0, size=(n_sources, n_images))
    losses = rng.normal(size=n_images) + np.cumsum(steps[::-1], axis=0)[::-1]
    assert np.all(np.diff(losses, axis=0) < 0)
    for method in ("power", "eig"):
        row = transferability_row(losses, method=method)
        assert np.all(row > 0)
        assert row.sum() == pytest.approx(1.0)
        assert np.all(np.diff(row) < 0), row
        flipped = transferability_row(losses, method=method, higher_is_more_transferable=False)
        assert np.all(np.diff(flipped) > 0), flipped


# ------------------------------------------------------ agreement with numpy's solver


positive_matrices = st.integers(1, 8).flatmap(
    lambda n: hnp.arrays(
        np.float64, (n, n), elements=st.floats(0.05, 20.0, allow_nan=False, allow_infinity=False)
    )
)


@settings(max_examples=60, deadline=None)
@given(w=positive_matrices)
def test_power_iteration_matches_numpy_general_eigensolver(w):
    values, vectors = np.linalg.eig(w)
    idx = np.argmax(values.real)
    expected = np.abs(vectors[:, idx].real)  # Perron vector up to sign
    expected /= expected.sum()
    assert abs(values[idx].imag) < 1e-8

    value_p, power = principal_eigenpair(w, method="power")
    value_e, eig = principal_eigenpair(w, method="eig")
    np.testing.assert_allclose(power, expected, rtol=1e-7, atol=1e-10)
    np.testing.assert_allclose(eig, expected, rtol=1e-7, atol=1e-10)
    np.testing.assert_allclose(power, eig, rtol=1e-7, atol=1e-10)
    assert value_p == pytest.approx(values[idx].real, rel=1e-8)
    assert value_e == pytest.approx(values[idx].real, rel=1e-8)
    np.testing.assert_allclose(w @ power, value_p * power, rtol=1e-6, atol=1e-10)
    assert np.all(power > 0)


@settings(max_examples=30, deadline=None)
@given(
    losses=st.integers(2, 7).flatmap(
        lambda n: hnp.arrays(np.float64, (n, 20), elements=st.integers(0, 4).map(float))
    )
)
def test_power_and_eig_agree_on_tournaments_with_ties(losses):
    w = ratio_matrix(tournament_matrix(losses))
    np.testing.assert_allclose(w * w.T, 1.0)  # reciprocal
    np.testing.assert_allclose(
        principal_eigenvector(w, method="power"), principal_eigenvector(w, method="eig"), atol=1e-9
    )


def test_power_iteration_reports_non_convergence_and_bad_input():
    periodic = np.array([[0.0, 2.0], [1.0, 0.0]])  # eigenvalues +-sqrt(2): oscillates
    with pytest.raises(RuntimeError, match="did not converge"):
        principal_eigenvector(periodic, method="power", max_iter=200)
    np.testing.assert_allclose(
        principal_eigenvector(periodic, method="eig"),
        np.array([math.sqrt(2), 1]) / (1 + math.sqrt(2)),
    )
    for bad in (np.ones((2, 3)), -np.ones((2, 2)), np.array([[1.0, np.inf], [1.0, 1.0]])):
        with pytest.raises(ValueError):
            principal_eigenvector(bad)
    with pytest.raises(ValueError):
        principal_eigenvector(np.ones((2, 2)), method="eigh")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        principal_eigenvector(np.ones((2, 2)), norm="l3")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        ratio_matrix(np.array([[0.5, 0.0], [1.0, 0.5]]))


# ------------------------------------------------------------------------------ ATM


def test_atm_rows_targets_columns_sources_and_flag():
    rng = np.random.default_rng(0)
    tasks = ["a", "b", "c"]
    # source "a" always does the most damage, "c" the least, for every target
    base = rng.uniform(size=(1, 30))
    losses = {
        t: base + np.array([[3.0], [2.0], [1.0]]) + 0.01 * rng.uniform(size=(3, 30)) for t in tasks
    }
    adv = atm(losses)
    assert list(adv.index) == tasks and list(adv.columns) == tasks
    assert adv.index.name == "target" and adv.columns.name == "source"
    np.testing.assert_allclose(adv.sum(axis=1), 1.0)
    assert np.all(adv["a"] > adv["b"]) and np.all(adv["b"] > adv["c"])
    knowledge = atm(losses, higher_is_more_transferable=False)  # now lower loss = better
    assert np.all(knowledge["c"] > knowledge["b"]) and np.all(knowledge["b"] > knowledge["a"])

    named = atm({"t": losses["a"]}, sources=["x", "y", "z"])
    assert list(named.columns) == ["x", "y", "z"] and list(named.index) == ["t"]
    with pytest.raises(ValueError, match="sources"):
        atm({"t": losses["a"]})
    with pytest.raises(ValueError):
        atm({"t": losses["a"], "u": losses["a"][:2]}, sources=["x", "y", "z"])
    with pytest.raises(ValueError):
        atm({})


def test_normalise_rows_and_columns():
    m = pd.DataFrame([[1.0, 3.0], [2.0, 2.0]], index=["t1", "t2"], columns=["s1", "s2"])
    np.testing.assert_allclose(normalise(m, "rows").to_numpy(), [[0.25, 0.75], [0.5, 0.5]])
    np.testing.assert_allclose(normalise(m, "columns").to_numpy(), [[1 / 3, 0.6], [2 / 3, 0.4]])
    assert list(normalise(m, "columns", "l2").columns) == ["s1", "s2"]
    with pytest.raises(ValueError):
        normalise(m, "diagonal")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        normalise(-m, "rows")


# ------------------------------------------------------------------- tree and cutting


def _two_group_matrix() -> pd.DataFrame:
    # columns p, q, r are near (1, 0, 0); columns x, y near (0, 1, 1)
    return pd.DataFrame(
        [[1.0, 0.9, 1.1, 0.0, 0.1], [0.0, 0.1, 0.0, 1.0, 0.9], [0.1, 0.0, 0.0, 1.1, 1.0]],
        index=["t1", "t2", "t3"],
        columns=["p", "q", "r", "x", "y"],
    )


def test_task_tree_clusters_columns_and_cut_tree():
    z = task_tree(_two_group_matrix())
    assert z.shape == (4, 4)
    np.testing.assert_array_equal(cut_tree(z, 2), [0, 0, 0, 1, 1])
    np.testing.assert_array_equal(cut_tree(z, 1), [0] * 5)
    np.testing.assert_array_equal(cut_tree(z, 5), [0, 1, 2, 3, 4])
    for k in range(1, 6):
        labels = cut_tree(z, k)
        assert len(set(labels)) == k
        assert pd.Series(labels).factorize()[0].tolist() == labels.tolist()  # first-appearance
        ref = fcluster(z, k, criterion="maxclust")  # no tied heights here: same partition
        assert pd.crosstab(labels, ref).astype(bool).sum(axis=1).eq(1).all()
    for bad in (0, 6, 2.5, True):
        with pytest.raises(ValueError):
            cut_tree(z, bad)
    with pytest.raises(ValueError):
        task_tree(_two_group_matrix(), metric="cityblock")
    with pytest.raises(ValueError):
        task_tree(_two_group_matrix()[["p"]])


def test_cut_tree_gives_exactly_k_clusters_with_tied_heights():
    # four identical columns: every merge height is 0
    z = task_tree(pd.DataFrame(np.ones((3, 4))))
    for k in range(1, 5):
        assert len(set(cut_tree(z, k))) == k


# ------------------------------------------------------------------ entropy and ARI


def test_identical_partitions_give_zero_entropy_and_unit_ari():
    labels = np.array([0, 0, 1, 1, 1, 2])
    renamed = np.array(["u", "u", "v", "v", "v", "w"])
    assert mean_category_entropy(labels, renamed) == 0.0
    assert mean_category_entropy(labels, renamed, weighting="uniform") == 0.0

    z = task_tree(_two_group_matrix())
    curve = tree_agreement_curve(z, z)
    assert list(curve.columns) == ["k", "entropy", "ari"]
    assert curve["k"].tolist() == [1, 2, 3, 4, 5]
    np.testing.assert_allclose(curve["entropy"], 0.0)
    np.testing.assert_allclose(curve["ari"], 1.0)
    at_two = entropy_curve(z, ["g1", "g1", "g1", "g2", "g2"], ks=[2])
    assert at_two["entropy"].item() == 0.0 and at_two["ari"].item() == pytest.approx(1.0)


def test_entropy_for_one_cluster_is_category_entropy():
    reference = ["2D"] * 5 + ["3D"] * 7 + ["semantic"] * 3
    expected = -sum(p * math.log(p) for p in (5 / 15, 7 / 15, 3 / 15))  # nats
    assert expected == pytest.approx(scipy_entropy([5, 7, 3]))
    assert mean_category_entropy(np.zeros(15), reference) == pytest.approx(expected)
    z = task_tree(pd.DataFrame(np.random.default_rng(1).uniform(size=(4, 15))))
    curve = entropy_curve(z, reference)
    assert curve.loc[curve["k"] == 1, "entropy"].item() == pytest.approx(expected)
    assert curve.loc[curve["k"] == 1, "ari"].item() == pytest.approx(0.0)
    assert curve.loc[curve["k"] == 15, "entropy"].item() == 0.0
    assert curve["entropy"].is_monotonic_decreasing  # refining never raises H(ref | pred)


def test_entropy_weighting():
    predicted = [0, 0, 0, 0, 1]
    reference = ["a", "a", "b", "b", "c"]
    assert mean_category_entropy(predicted, reference) == pytest.approx(0.8 * math.log(2))
    assert mean_category_entropy(predicted, reference, weighting="uniform") == pytest.approx(
        0.5 * math.log(2)
    )
    with pytest.raises(ValueError):
        mean_category_entropy([0, 1], ["a"])
    with pytest.raises(ValueError):
        mean_category_entropy([0, 1], ["a", "b"], weighting="max")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        entropy_curve(task_tree(_two_group_matrix()), ["a", "b"])
    with pytest.raises(ValueError):
        entropy_curve(task_tree(_two_group_matrix()), list("abcde"), ks=[0])


# ------------------------------------------------------------ self-transfer and chance


def test_atm_without_self_leaves_the_own_source_out():
    rng = np.random.default_rng(0)
    tasks = ["a", "b", "c", "d"]
    losses = {t: rng.random((4, 50)) for t in tasks}
    for i, t in enumerate(tasks):
        losses[t][i] += 10.0  # the own (white-box) source wins on every image
    kept = atm(losses)
    assert np.all(np.diag(kept.to_numpy()) > 0.9)  # the saturation the option removes
    out = atm_without_self(losses)
    assert list(out.index) == tasks and list(out.columns) == tasks
    for i, t in enumerate(tasks):
        others = np.delete(losses[t], i, axis=0)
        expected = transferability_row(others)
        np.testing.assert_allclose(np.delete(out.loc[t].to_numpy(), i), expected)
        assert out.loc[t, t] == pytest.approx(expected.max())
    # the own source's losses do not matter at all
    shifted = {t: v.copy() for t, v in losses.items()}
    shifted["b"][1] -= 100.0
    pd.testing.assert_frame_equal(atm_without_self(shifted), out)
    with pytest.raises(ValueError, match="at least 3"):
        atm_without_self({"a": np.ones((2, 3)), "b": np.ones((2, 3))})


def test_exclude_self_transfer_renormalises_off_diagonal():
    m = pd.DataFrame([[0.9, 0.06, 0.04], [0.2, 0.7, 0.1], [0.5, 0.3, 0.2]],
                     index=list("abc"), columns=list("abc"))
    out = exclude_self_transfer(m)
    np.testing.assert_allclose(out.to_numpy(), [[0.6, 0.6, 0.4], [2 / 3, 2 / 3, 1 / 3],
                                                [0.625, 0.375, 0.625]])
    # consistent matrix: equals the Perron vector of the sub-matrix without the diagonal
    w = np.array([0.5, 0.3, 0.2])
    sub = np.delete(w, 0) / np.delete(w, 0).sum()
    consistent = pd.DataFrame(np.tile(w, (3, 1)), index=list("abc"), columns=list("abc"))
    np.testing.assert_allclose(exclude_self_transfer(consistent).loc["a", ["b", "c"]], sub)
    with pytest.raises(ValueError, match="same tasks"):
        exclude_self_transfer(m.rename(columns={"a": "x"}))


def test_random_partition_curve_is_chance_level():
    ref = ["x"] * 4 + ["y"] * 4 + ["z"] * 4
    cols = np.repeat(np.eye(3), 4, axis=0).T + 0.01 * np.arange(12)  # 3 clean groups
    z = task_tree(pd.DataFrame(cols))
    chance = random_partition_curve(z, ref, permutations=100, seed=1)
    exact = entropy_curve(z, ref)
    assert list(chance.columns) == ["k", "entropy", "entropy_sd", "ari"]
    assert exact.loc[2, "entropy"] == 0 and exact.loc[2, "ari"] == 1
    assert chance.loc[2, "entropy"] > 0.5 and abs(chance.loc[2, "ari"]) < 0.1
    assert chance.loc[0, "entropy"] == pytest.approx(np.log(3))  # k = 1: one cluster
    pd.testing.assert_frame_equal(chance, random_partition_curve(z, ref, permutations=100,
                                                                 seed=1))
    with pytest.raises(ValueError, match="permutations"):
        random_partition_curve(z, ref, permutations=0)
