"""Transferability leaderboard: which measure ranks a pool of source models best, at what cost.

For every source model of a pool, each transferability estimator of
:mod:`advtransfer.core.estimators` scores the source from its frozen features and source-head
predictions on the target *training* data, and the adversarial measures of Liang et al.
(ICML 2021) come from the attack stages. The ground truth is the accuracy of a linear
probe on the source's features, measured on the target *test* split. Each measure is
then ranked against the truth over the sources with :func:`advtransfer.core.ranking.rank_agreement`
(Kendall tau, weighted tau, Spearman, Pearson, relative top-1 accuracy, each with a
bootstrap interval over sources).

Pure functions: arrays and data frames in, numbers and data frames out; no file I/O.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from advtransfer.core import estimators, ranking
from advtransfer.core.names import ADVERSARIAL_MEASURES

__all__ = [
    "ESTIMATORS",
    "HEAD_ESTIMATORS",
    "ADVERSARIAL_MEASURES",
    "run_estimators",
    "softmax",
    "source_table",
    "rank_measures",
    "adversarial_cost",
    "estimator_costs",
]

#: Estimators computed from features / source predictions, in report order.
ESTIMATORS: tuple[str, ...] = (
    "nce",
    "leep",
    "h_score",
    "regularized_h_score",
    "log_me",
    "transrate",
    "gbc",
    "knn",
)
#: Estimators that need source-class predictions (a source head).
HEAD_ESTIMATORS = frozenset({"nce", "leep"})


def softmax(logits: ArrayLike) -> np.ndarray:
    """Row-wise softmax in float64 (max-shifted), shape (N, Z) -> (N, Z)."""
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _estimate(
    name: str,
    features: np.ndarray,
    probs: np.ndarray | None,
    labels: np.ndarray,
    settings: Mapping[str, Any],
) -> float:
    if name == "nce":
        return estimators.nce(np.argmax(probs, axis=1), labels)
    if name == "leep":
        return estimators.leep(probs, labels)
    if name == "h_score":
        return estimators.h_score(features, labels)
    if name == "regularized_h_score":
        return estimators.regularized_h_score(features, labels)
    if name == "log_me":
        return estimators.log_me(features, labels)
    if name == "transrate":
        cfg = settings.get("transrate", {})
        return estimators.transrate(
            features, labels, eps=cfg.get("eps", 1e-4), normalize=cfg.get("normalize", True)
        )
    if name == "gbc":
        cfg = settings.get("gbc", {})
        return estimators.gbc(
            features, labels, pca_dim=cfg.get("pca_dim"),
            covariance=cfg.get("covariance", "diagonal"),
        )
    if name == "knn":
        cfg = settings.get("knn", {})
        return estimators.knn_accuracy(
            features, labels, k=cfg.get("k", 5), metric=cfg.get("metric", "cosine")
        )
    raise ValueError(f"unknown estimator {name!r}; known: {', '.join(ESTIMATORS)}")


def _warm_up(
    names: Sequence[str],
    features: np.ndarray,
    probs: np.ndarray | None,
    labels: np.ndarray,
    settings: Mapping[str, Any],
) -> None:
    classes = np.unique(labels)
    rows = np.concatenate([np.flatnonzero(labels == c)[:8] for c in classes])
    sub_settings = {**settings, "knn": {**settings.get("knn", {}), "k": 1}}
    for name in names:
        if name in HEAD_ESTIMATORS and probs is None:
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                _estimate(name, features[rows], None if probs is None else probs[rows],
                          labels[rows], sub_settings)
        except Exception:  # noqa: BLE001 - best effort; the timed run reports real problems
            pass


def run_estimators(
    features: ArrayLike,
    probs: ArrayLike | None,
    labels: ArrayLike,
    names: Sequence[str] = ESTIMATORS,
    settings: Mapping[str, Any] | None = None,
    *,
    warmup: bool = True,
) -> tuple[dict[str, float], dict[str, float]]:
    """Score one source with every requested estimator and time each one.

    Args:
        features: the source's frozen features on the target training data.
        probs: its source-class probabilities on the same samples, or ``None`` for a
            source without head (then NCE and LEEP are NaN).
        labels: target labels of the samples.
        names: estimators to run (subset of :data:`ESTIMATORS`).
        settings: per-estimator options: ``knn: {k, metric}``,
            ``transrate: {eps, normalize}``, ``gbc: {pca_dim, covariance}``.
        warmup: run every estimator once, untimed, on a small subset first.

    Shape:
        features (N, d), probs (N, Z), labels (N,).

    Returns:
        ``(scores, seconds)``: ``{name: score}`` (higher = predicted better transfer) and
        ``{name: wall-clock seconds}`` (``time.perf_counter``).

    Raises:
        ValueError: unknown estimator name, or bad arrays (from the estimators).
    """
    unknown = [n for n in names if n not in ESTIMATORS]
    if unknown:
        raise ValueError(f"unknown estimator(s) {unknown}; known: {', '.join(ESTIMATORS)}")
    settings = settings or {}
    f = np.asarray(features, dtype=np.float64)
    y = np.asarray(labels)
    p = None if probs is None else np.asarray(probs, dtype=np.float64)
    scores: dict[str, float] = {}
    seconds: dict[str, float] = {}
    if warmup:
        # one untimed pass on a small class-balanced subset loads the BLAS / LAPACK
        # kernels, so the first estimator timed is not charged for their start-up
        _warm_up(names, f, p, y, settings)
    for name in names:
        if name in HEAD_ESTIMATORS and p is None:
            scores[name], seconds[name] = float("nan"), 0.0
            continue
        start = time.perf_counter()
        scores[name] = float(_estimate(name, f, p, y, settings))  # warnings reach the caller
        seconds[name] = time.perf_counter() - start
    return scores, seconds


def source_table(
    scores: pd.DataFrame,
    transfer: pd.DataFrame,
    *,
    adversarial: Sequence[str] = ADVERSARIAL_MEASURES,
    truths: Sequence[str] = ("probe_accuracy", "kshot_accuracy"),
) -> pd.DataFrame:
    """One row per source: estimator scores, adversarial measures and ground truth.

    Args:
        scores: per-source estimator rows (column ``model`` plus one column per estimator
            and timing columns).
        transfer: the scenario's ``transfer.tsv`` (column ``model``, the adversarial
            measures and the truth columns).
        adversarial, truths: columns taken from ``transfer``.

    Returns:
        the merged table, sorted by the first truth (best first), with ``rank`` (1 = best
        by the first truth).

    Raises:
        ValueError: a source missing from one side, or a missing column.
    """
    missing = [c for c in (*adversarial, *truths) if c not in transfer]
    if missing:
        raise ValueError(f"transfer table lacks columns {missing}")
    a, b = set(scores["model"]), set(transfer["model"])
    if a != b:
        raise ValueError(
            f"estimator rows and transfer table disagree on the sources: only scored "
            f"{sorted(a - b)}, only in transfer table {sorted(b - a)}"
        )
    keep = ["model", *[c for c in ("label", "dataset", "seed") if c in transfer],
            *adversarial, *truths]
    table = scores.merge(transfer[keep], on="model", validate="one_to_one")
    table = table.sort_values(truths[0], ascending=False, kind="stable").reset_index(drop=True)
    table.insert(1, "rank", np.arange(1, len(table) + 1))
    return table


def estimator_costs(
    scores: pd.DataFrame, names: Sequence[str], job_s: float
) -> dict[str, dict[str, float]]:
    """Wall-clock cost of each estimator over a pool.

    ``cost_s`` is the benchmark of the scoring job, which scores every source with every
    estimator: running any one estimator costs about that much, because loading the
    sources, extracting their features and the job's start-up dominate. ``compute_s`` is
    the in-process time of one estimator: loading each source, extracting its features
    and predictions on the target training data, and the estimator itself (columns
    ``load_s``, ``extract_s`` and ``<name>_s`` of ``scores``), summed over sources.

    Args:
        scores: one row per source with the timing columns.
        names: estimators.
        job_s: benchmark wall-clock seconds of the scoring job.

    Returns:
        ``{name: {"cost_s", "cost_per_source_s", "compute_s", "compute_per_source_s"}}``.
    """
    n = len(scores)
    shared = scores["load_s"].to_numpy(float) + scores["extract_s"].to_numpy(float)
    costs = {}
    for name in names:
        per = shared + scores[f"{name}_s"].to_numpy(float)
        costs[name] = {"cost_s": float(job_s), "cost_per_source_s": float(job_s) / n,
                       "compute_s": float(per.sum()), "compute_per_source_s": float(per.mean())}
    return costs


def adversarial_cost(
    per_source: Mapping[str, Sequence[float]], fixed: Sequence[float]
) -> dict[str, float]:
    """Wall-clock cost of the adversarial measures over a pool, from job benchmarks.

    The adversarial measures of a source need its attack and measurement jobs, plus,
    once for the pool, the reference model trained on the target and its own attack.
    Job times include each job's start-up (interpreter, imports), like ``cost_s`` of
    :func:`estimator_costs`; the computation alone is not separable from a benchmark
    (``compute_s`` is NaN).

    Args:
        per_source: ``{source: [seconds of each per-source job]}``.
        fixed: seconds of each once-per-pool job (reference training and attack).

    Returns:
        ``{"cost_s": total over the pool, "cost_per_source_s": cost_s / sources,
        "compute_s": NaN, "compute_per_source_s": NaN}``.
    """
    total = float(sum(sum(times) for times in per_source.values()) + sum(fixed))
    n = len(per_source)
    return {"cost_s": total, "cost_per_source_s": total / n if n else float("nan"),
            "compute_s": float("nan"), "compute_per_source_s": float("nan")}


def rank_measures(
    table: pd.DataFrame,
    measures: Mapping[str, str],
    truths: Sequence[str],
    costs: Mapping[str, Mapping[str, float]],
    *,
    n_boot: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Agreement of every measure's ranking of the sources with every ground truth.

    Args:
        table: one row per source (:func:`source_table`), with a ``model`` column.
        measures: ``{column: kind}`` (kind ``estimator`` or ``adversarial``); higher
            column values must predict better transfer.
        truths: ground-truth columns (e.g. ``probe_accuracy``).
        costs: ``{column: {"cost_s", "cost_per_source_s", ...}}``, copied into the rows.
        n_boot, seed, confidence: bootstrap of :func:`advtransfer.core.ranking.rank_agreement`
            (resampling sources).

    Returns:
        one row per (truth, measure): ``truth``, ``measure``, ``kind``, the keys of
        :data:`advtransfer.core.ranking.RANK_AGREEMENT_KEYS`, ``top_source`` (the source the
        measure ranks first) and the cost columns; within each truth sorted by weighted
        tau (best first, NaN last).
    """
    rows = []
    for truth in truths:
        y = table[truth].to_numpy(dtype=np.float64)
        for column, kind in measures.items():
            x = table[column].to_numpy(dtype=np.float64)
            agreement = ranking.rank_agreement(x, y, n_boot=n_boot, seed=seed,
                                               confidence=confidence)
            finite = np.isfinite(x)
            top = str(table["model"].iloc[int(np.nanargmax(np.where(finite, x, -np.inf)))]) \
                if finite.any() else ""
            rows.append({"truth": truth, "measure": column, "kind": kind, **agreement,
                         "top_source": top, **dict(costs.get(column, {}))})
    out = pd.DataFrame(rows)
    out["_order"] = out["truth"].map({t: i for i, t in enumerate(truths)})
    out = out.sort_values(["_order", "weighted_tau"], ascending=[True, False],
                          na_position="last", kind="stable")
    return out.drop(columns="_order").reset_index(drop=True)
