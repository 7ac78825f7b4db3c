"""Tables of the task experiment: per-image loss tables -> ATM / affinity -> trees and entropy.

Glue between the workflow's TSV tables and the pure math of :mod:`advtransfer.tasks.graph`
(docs/method.md §9.4). Orientation everywhere: rows = target tasks, columns = source tasks.

* Per-image loss tables (long): ``source, [eps,] target, image, loss``.
* Matrix tables (wide): ``[eps,] target, <source 1>, ..., <source N>``.
* :func:`agreement_tables`: the trees of every ATM and of the affinity, their cuts for
  k = 1..N (``clusters``) and the entropy / ARI curves (``entropy``) against the a-priori
  categories and the knowledge-transfer categories, with a chance level; with the tau
  task matrix (:mod:`advtransfer.tasks.taumatrix`, :func:`split_tau_table`) also the
  trees of tau1 / tau2 against the categories, the knowledge tree and every ATM tree.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from advtransfer.tasks import graph

__all__ = [
    "losses_by_target",
    "matrix_from_losses",
    "SELF_TRANSFER",
    "atm_table",
    "split_matrix_table",
    "split_tau_table",
    "tree_of",
    "agreement_tables",
]


def losses_by_target(
    frame: pd.DataFrame, tasks: Sequence[str], sources: Sequence[str] | None = None
) -> dict[str, np.ndarray]:
    """Per-target loss arrays ``(n_sources, n_images)`` from a long table.

    Args:
        frame: columns ``source``, ``target``, ``image``, ``loss`` (one eps only).
        tasks: target tasks (row order of the result).
        sources: source order (default ``tasks``).

    Raises:
        ValueError: a (source, target) pair is missing or the sources scored different
            images for one target.
    """
    sources = list(tasks if sources is None else sources)
    out = {}
    for target in tasks:
        sub = frame[frame["target"] == target]
        wide = sub.pivot_table(index="source", columns="image", values="loss", aggfunc="first")
        missing = [s for s in sources if s not in wide.index]
        if missing:
            raise ValueError(f"no losses of target {target} under sources {missing}")
        wide = wide.loc[sources]
        if wide.isna().any().any():
            raise ValueError(f"sources scored different images for target {target}")
        out[target] = wide.to_numpy(dtype=np.float64)
    return out


SELF_TRANSFER: tuple[str, ...] = ("exclude", "keep")


def matrix_from_losses(
    frame: pd.DataFrame,
    tasks: Sequence[str],
    *,
    higher_is_more_transferable: bool,
    self_transfer: str = "exclude",
    method: str = "power",
) -> pd.DataFrame:
    """Tournament -> ratio -> Perron rows for every target.

    ``self_transfer="keep"``: :func:`graph.atm` over all N sources (the paper's literal
    procedure); ``"exclude"``: :func:`graph.atm_without_self`.
    """
    losses = losses_by_target(frame, tasks)
    if self_transfer == "keep":
        return graph.atm(losses, sources=list(tasks), method=method,
                             higher_is_more_transferable=higher_is_more_transferable)
    if self_transfer == "exclude":
        return graph.atm_without_self(
            losses, method=method, higher_is_more_transferable=higher_is_more_transferable
        )
    raise ValueError(f"self_transfer must be one of {SELF_TRANSFER}, got {self_transfer!r}")


def atm_table(frame: pd.DataFrame, tasks: Sequence[str], self_transfer: str = "exclude") -> pd.DataFrame:
    """Wide ATM table over every eps: columns ``eps``, ``target``, then the sources."""
    parts = []
    for eps in sorted(frame["eps"].unique()):
        matrix = matrix_from_losses(frame[frame["eps"] == eps], tasks,
                                    higher_is_more_transferable=True,
                                    self_transfer=self_transfer)
        part = matrix.reset_index()
        part.insert(0, "eps", float(eps))
        parts.append(part)
    out = pd.concat(parts, ignore_index=True)
    out.columns.name = None
    return out


def split_matrix_table(table: pd.DataFrame, by: str = "eps") -> dict[Any, pd.DataFrame]:
    """Wide table -> ``{eps: target x source DataFrame}`` (key ``None`` without an eps column).

    ``by="measure"`` splits the tau task matrix (``tau_matrix.tsv``) by measure instead
    (string keys, in order of appearance; raw values, see :func:`split_tau_table`).
    """
    groups = table.groupby(by, sort=by == "eps") if by in table else [(None, table)]
    out: dict[Any, pd.DataFrame] = {}
    for key, sub in groups:
        matrix = sub.drop(columns=[c for c in (by,) if c in sub]).set_index("target")
        matrix.index.name, matrix.columns.name = "target", "source"
        out[None if key is None else float(key) if by == "eps" else str(key)] = \
            matrix.astype(np.float64)
    return out


def split_tau_table(table: pd.DataFrame,
                    measures: Sequence[str] = ("tau1", "tau2")) -> dict[str, pd.DataFrame]:
    """``tau_matrix.tsv`` -> ``{measure: target x source matrix}`` ready for the trees.

    Self-transfer is excluded as in the ATM: the diagonal (a model with itself, 1) is set to
    the row's largest off-diagonal entry (:func:`graph.exclude_self_transfer` without its
    row rescaling: tau is already in [0, 1]); rounding below 0 is clipped.
    """
    out = {}
    for measure in measures:
        sub = table[table["measure"] == measure].drop(columns="measure").set_index("target")
        if sub.empty:
            raise ValueError(f"the tau table has no {measure} rows")
        arr = np.clip(sub.to_numpy(dtype=np.float64), 0.0, None)
        off = arr.copy()
        np.fill_diagonal(off, -np.inf)
        np.fill_diagonal(arr, off.max(axis=1))
        matrix = pd.DataFrame(arr, index=sub.index, columns=sub.columns)
        matrix.index.name, matrix.columns.name = "target", "source"
        out[measure] = matrix
    return out


def tree_of(matrix: pd.DataFrame, method: str = "ward", normalise_columns: bool = False) -> np.ndarray:
    """Task tree over the columns of ``matrix`` (optionally column-normalised first)."""
    if normalise_columns:
        matrix = graph.normalise(matrix, "columns")
    return graph.task_tree(matrix, method=method)


def agreement_tables(
    atms: Mapping[float, pd.DataFrame],
    affinity: pd.DataFrame,
    categories: Mapping[str, str],
    tree: Mapping[str, Any],
    taus: Mapping[str, pd.DataFrame] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Trees, cuts and category agreement of every ATM and of the affinity (Figs. 4-5).

    Args:
        atms: ``{eps: ATM}`` (rows = targets, columns = sources).
        affinity: knowledge-transfer affinity, same tasks in the same column order.
        categories: a-priori category of every task.
        tree: the ``tasks.tree`` config (``method``, ``normalise_columns``, ``weighting``,
            ``permutations``, ``seed``).
        taus: ``{measure: matrix}`` of the tau task matrix (:func:`split_tau_table`); its
            trees (``tree`` = the measure, ``eps`` NaN) are compared with the a-priori
            categories, the knowledge tree (``reference`` knowledge) and every ATM tree
            (``reference`` adversarial, ``eps`` = the ATM's).

    Returns:
        ``(entropy, clusters)``. ``entropy`` columns: ``tree`` (adversarial / knowledge /
        random / tau1 / tau2), ``eps`` (NaN for the knowledge and tau trees), ``reference``
        (a_priori / knowledge / adversarial), ``k``, ``entropy``, ``entropy_sd`` (random
        rows), ``ari``.
        ``clusters`` columns: ``tree``, ``eps``, ``k``, ``task``, ``cluster``.
    """
    tasks = list(affinity.columns)
    for eps, matrix in atms.items():
        if list(matrix.columns) != tasks:
            raise ValueError(f"ATM at eps {eps} has sources {list(matrix.columns)}, "
                             f"the affinity {tasks}")
    reference = [categories[t] for t in tasks]
    method, norm = tree["method"], bool(tree["normalise_columns"])
    weighting = tree["weighting"]
    z_know = tree_of(affinity, method, norm)
    curves, cuts = [], []

    def add(frame: pd.DataFrame, **labels: Any) -> None:
        frame = frame.copy()
        for i, (key, value) in enumerate(labels.items()):
            frame.insert(i, key, value)
        curves.append(frame)

    def add_cuts(z: np.ndarray, name: str, eps: float) -> None:
        for k in range(1, len(tasks) + 1):
            cuts.append(pd.DataFrame({"tree": name, "eps": eps, "k": k, "task": tasks,
                                      "cluster": graph.cut_tree(z, k)}))

    add(graph.entropy_curve(z_know, reference, weighting=weighting),
        tree="knowledge", eps=np.nan, reference="a_priori")
    add_cuts(z_know, "knowledge", np.nan)
    for eps, matrix in sorted(atms.items()):
        z = tree_of(matrix, method, norm)
        add_cuts(z, "adversarial", eps)
        add(graph.entropy_curve(z, reference, weighting=weighting),
            tree="adversarial", eps=eps, reference="a_priori")
        add(graph.tree_agreement_curve(z, z_know, weighting=weighting),
            tree="adversarial", eps=eps, reference="knowledge")
        add(graph.random_partition_curve(z, reference, tree["permutations"], tree["seed"],
                                             weighting=weighting),
            tree="random", eps=eps, reference="a_priori")
        # chance level against the knowledge categories: at each k, the knowledge tree's
        # cut is the reference and the adversarial cut's labels are shuffled
        rows = []
        rng_seed = int(tree["seed"])
        for k in range(1, len(tasks) + 1):
            ref_k = graph.cut_tree(z_know, k)
            one = graph.random_partition_curve(z, ref_k, tree["permutations"], rng_seed,
                                                   ks=[k], weighting=weighting)
            rows.append(one)
        add(pd.concat(rows, ignore_index=True), tree="random", eps=eps, reference="knowledge")
    atm_trees = {eps: tree_of(m, method, norm) for eps, m in sorted(atms.items())}
    for measure, matrix in (taus or {}).items():
        if list(matrix.columns) != tasks:
            raise ValueError(f"tau matrix {measure} has sources {list(matrix.columns)}, "
                             f"the affinity {tasks}")
        z = tree_of(matrix, method, norm)
        add_cuts(z, measure, np.nan)
        add(graph.entropy_curve(z, reference, weighting=weighting),
            tree=measure, eps=np.nan, reference="a_priori")
        add(graph.tree_agreement_curve(z, z_know, weighting=weighting),
            tree=measure, eps=np.nan, reference="knowledge")
        for eps, z_adv in atm_trees.items():
            add(graph.tree_agreement_curve(z, z_adv, weighting=weighting),
                tree=measure, eps=eps, reference="adversarial")
    entropy = pd.concat(curves, ignore_index=True)
    if "entropy_sd" not in entropy:
        entropy["entropy_sd"] = np.nan
    entropy = entropy[["tree", "eps", "reference", "k", "entropy", "entropy_sd", "ari"]]
    return entropy, pd.concat(cuts, ignore_index=True)
