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

from advtransfer.core import estimators, ranking, stats
from advtransfer.core.names import ADVERSARIAL_MEASURES

__all__ = [
    "ESTIMATORS",
    "HEAD_ESTIMATORS",
    "LOGIT_ESTIMATORS",
    "POOL_COMPONENTS",
    "BASELINES",
    "RANDOM_BASELINE",
    "DEGENERATE_SPREAD",
    "combine_pool_estimators",
    "degenerate_reason",
    "random_ranking",
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
    "nleep",
    "sfda",
    "ncti",
    "etran",
)
#: Estimators that need source-class predictions (a source head).
HEAD_ESTIMATORS = frozenset({"nce", "leep", "etran"})
#: Estimators that need the source logits themselves (ETran's energy), not only softmax.
LOGIT_ESTIMATORS = frozenset({"etran"})
#: Estimators whose score is a sum of components normalised over the pool of sources:
#: per source, :func:`run_estimators` reports the components as ``<name>_<component>``
#: and NaN for the estimator; :func:`combine_pool_estimators` fills it in over a pool.
POOL_COMPONENTS: dict[str, tuple[str, ...]] = {
    "ncti": ("vc", "seli", "ncc"),
    "etran": ("energy", "cls", "reg"),
}
#: Baseline rows of the leaderboard: columns of the per-source table (higher = predicted
#: better) that every estimator should beat, plus the random ranking.
BASELINES: tuple[str, ...] = ("param_count", "source_val_accuracy")
#: Measure name of the random-ranking baseline row.
RANDOM_BASELINE = "random"
#: Scores whose spread over the pool is at most this (times ``max(1, max |score|)``)
#: are treated as tied: the measure is flagged ``degenerate`` and not ranked.
DEGENERATE_SPREAD = 1e-6


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
    logits: np.ndarray | None = None,
) -> float | dict[str, float]:
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
    if name == "nleep":
        cfg = settings.get("nleep", {})
        return estimators.nleep(
            features, labels, pca_variance=cfg.get("pca_variance", 0.8),
            components_per_class=cfg.get("components_per_class", 5),
            covariance=cfg.get("covariance", "full"), seed=cfg.get("seed", 0),
        )
    if name == "sfda":
        return estimators.sfda(features, labels, a=settings.get("sfda", {}).get("a", 1.0))
    if name == "ncti":
        return estimators.ncti_components(
            features, labels, pca_dim=settings.get("ncti", {}).get("pca_dim", 64)
        )
    if name == "etran":
        return estimators.etran_components(
            features, logits, labels, pca_dim=settings.get("etran", {}).get("pca_dim", 64)
        )
    raise ValueError(f"unknown estimator {name!r}; known: {', '.join(ESTIMATORS)}")


def _missing_inputs(name: str, probs: np.ndarray | None, logits: np.ndarray | None) -> bool:
    """True when the source lacks the head outputs that estimator ``name`` needs."""
    return (name in HEAD_ESTIMATORS and probs is None) or \
        (name in LOGIT_ESTIMATORS and logits is None)


def _warm_up(
    names: Sequence[str],
    features: np.ndarray,
    probs: np.ndarray | None,
    labels: np.ndarray,
    settings: Mapping[str, Any],
    logits: np.ndarray | None = None,
) -> None:
    classes = np.unique(labels)
    rows = np.concatenate([np.flatnonzero(labels == c)[:8] for c in classes])
    sub_settings = {**settings, "knn": {**settings.get("knn", {}), "k": 1}}
    for name in names:
        if _missing_inputs(name, probs, logits):
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                _estimate(name, features[rows], None if probs is None else probs[rows],
                          labels[rows], sub_settings,
                          None if logits is None else logits[rows])
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
    logits: ArrayLike | None = None,
) -> tuple[dict[str, float], dict[str, float]]:
    """Score one source with every requested estimator and time each one.

    Args:
        features: the source's frozen features on the target training data.
        probs: its source-class probabilities on the same samples, or ``None`` for a
            source without head (then NCE, LEEP and ETran are NaN).
        labels: target labels of the samples.
        names: estimators to run (subset of :data:`ESTIMATORS`).
        settings: per-estimator options: ``knn: {k, metric}``,
            ``transrate: {eps, normalize}``, ``gbc: {pca_dim, covariance}``,
            ``nleep: {pca_variance, components_per_class, covariance, seed}``,
            ``sfda: {a}``, ``ncti: {pca_dim}``, ``etran: {pca_dim}``.
        warmup: run every estimator once, untimed, on a small subset first.
        logits: the source's logits on the same samples (ETran's energy score needs
            them; without them ETran is NaN).

    Shape:
        features (N, d), probs (N, Z), labels (N,), logits (N, Z).

    Returns:
        ``(scores, seconds)``: ``{name: score}`` (higher = predicted better transfer) and
        ``{name: wall-clock seconds}`` (``time.perf_counter``). For the pool-normalised
        estimators of :data:`POOL_COMPONENTS` (NCTI, ETran) the score is NaN and their
        components follow the estimators as ``<name>_<component>`` keys; combine them
        over the pool with :func:`combine_pool_estimators`.

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
    g = None if logits is None else np.asarray(logits, dtype=np.float64)
    scores: dict[str, float] = {}
    seconds: dict[str, float] = {}
    parts: dict[str, float] = {}
    if warmup:
        # one untimed pass on a small class-balanced subset loads the BLAS / LAPACK
        # kernels, so the first estimator timed is not charged for their start-up
        _warm_up(names, f, p, y, settings, g)
    for name in names:
        if _missing_inputs(name, p, g):
            scores[name], seconds[name] = float("nan"), 0.0
            parts.update({f"{name}_{c}": float("nan") for c in POOL_COMPONENTS.get(name, ())})
            continue
        start = time.perf_counter()
        value = _estimate(name, f, p, y, settings, g)  # warnings reach the caller
        seconds[name] = time.perf_counter() - start
        if isinstance(value, dict):
            scores[name] = float("nan")
            parts.update({f"{name}_{c}": float(value[c]) for c in POOL_COMPONENTS[name]})
        else:
            scores[name] = float(value)
    return {**scores, **parts}, seconds


def combine_pool_estimators(
    scores: pd.DataFrame, settings: Mapping[str, Any] | None = None
) -> pd.DataFrame:
    """Fill in the pool-normalised estimators (NCTI, ETran) from their component columns.

    Each estimator of :data:`POOL_COMPONENTS` whose components are columns of
    ``scores`` (one row per source of the pool) gets the sum of its min-max normalised
    components (:func:`advtransfer.core.estimators.pool_normalized_sum`): NCTI from
    ``ncti_vc``, ``ncti_seli``, ``ncti_ncc``; ETran from ``etran_energy`` and
    ``etran_cls`` (plus ``etran_reg`` with ``settings["etran"]["regression"]``). The
    value depends on the pool: recombine when ranking a subset of the sources.

    Returns:
        a copy of ``scores`` with the estimator columns replaced.
    """
    settings = settings or {}
    out = scores.copy()
    for name, parts in POOL_COMPONENTS.items():
        if name == "etran" and not settings.get("etran", {}).get("regression", False):
            parts = tuple(c for c in parts if c != "reg")
        columns = [f"{name}_{c}" for c in parts]
        if all(c in out for c in columns) and len(out):
            out[name] = estimators.pool_normalized_sum(out[columns].to_numpy(dtype=np.float64))
    return out


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


def degenerate_reason(scores: ArrayLike, *, spread: float = DEGENERATE_SPREAD) -> str:
    """Why a measure's scores on a pool cannot rank it, or ``""`` when they can.

    Reasons: fewer than 3 finite scores; all finite scores equal; or their spread
    ``max - min`` at most ``spread * max(1, max |score|)`` (saturated: differences at the
    level of rounding noise would decide the ranking).
    """
    x = np.asarray(scores, dtype=np.float64)
    x = x[np.isfinite(x)]
    if x.size < 3:
        return f"only {x.size} finite score(s)"
    width = float(np.ptp(x))
    if width == 0.0:
        return f"all {x.size} scores equal ({x[0]:.6g})"
    if width <= spread * max(1.0, float(np.max(np.abs(x)))):
        return f"scores saturate: spread {width:.3g} <= {spread:g} x max(1, max |score|)"
    return ""


def _random_rows(scores: np.ndarray, y: np.ndarray) -> dict[str, np.ndarray]:
    """Every agreement measure of each row of ``scores`` (B, S) with ``y`` (S,), as
    :func:`advtransfer.core.ranking.rank_agreement` computes its point estimates (NaN below
    3 sources; only relative top-1 for a constant truth), vectorised over rows."""
    nan = np.full(scores.shape[0], np.nan)
    if y.size < 3:
        return {m: nan for m in ranking.AGREEMENT_MEASURES}
    tiled = np.tile(y, (scores.shape[0], 1))
    out = {"relative_top1": ranking._relative_top1_rows(scores, tiled)}
    rows = {"kendall": stats._kendall_rows, "weighted_tau": stats._weighted_tau_rows,
            "spearman": stats._spearman_rows, "pearson": stats._pearson_rows}
    for m, function in rows.items():
        out[m] = function(scores, tiled) if np.ptp(y) > 0 else nan
    return out


def random_ranking(
    truth: ArrayLike, *, draws: int = 1000, seed: int = 0, confidence: float = 0.95
) -> dict[str, float | int]:
    """Agreement of a random ranking of the sources with the truth: the chance level.

    ``draws`` random scorings (i.i.d. standard normal scores, i.e. uniformly random
    rankings without ties; ``numpy.random.default_rng(seed)``) are each compared with the
    truth by :func:`advtransfer.core.ranking.rank_agreement` (point estimates). Each
    measure ``m`` is the mean over draws (the expected agreement of a random ranking:
    0 for Kendall and Spearman, close to 0 for tau_w, ``mean truth / max truth`` for
    relative top-1) and ``m_lo``, ``m_hi`` the central ``confidence`` range of the draws
    (the spread a random ranking reaches by chance); ``m_sd`` is the standard deviation.
    ``n_boot_valid`` holds ``draws``.

    Shape:
        truth ``(S,)``.
    """
    y = np.asarray(truth, dtype=np.float64)
    y = y[np.isfinite(y)]
    rng = np.random.default_rng(seed)
    scores = rng.normal(size=(int(draws), y.size))  # row d: the d-th draw of y.size scores
    sims = _random_rows(scores, y)
    tail = 100.0 * (1.0 - confidence) / 2.0
    out: dict[str, float | int] = {"n": int(y.size)}
    for m in ranking.AGREEMENT_MEASURES:
        values = sims[m]
        values = values[np.isfinite(values)]
        if values.size == 0:
            out.update({m: np.nan, f"{m}_lo": np.nan, f"{m}_hi": np.nan, f"{m}_sd": np.nan})
            continue
        out.update({m: float(values.mean()), f"{m}_lo": float(np.percentile(values, tail)),
                    f"{m}_hi": float(np.percentile(values, 100.0 - tail)),
                    f"{m}_sd": float(values.std(ddof=1)) if values.size > 1 else np.nan})
    out["n_boot_valid"] = int(draws)
    return out


def rank_measures(
    table: pd.DataFrame,
    measures: Mapping[str, str],
    truths: Sequence[str],
    costs: Mapping[str, Mapping[str, float]],
    *,
    n_boot: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
    random_draws: int = 0,
    group_col: str | None = None,
    n_perm: int = 2000,
    primary: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Agreement of every measure's ranking of the sources with every ground truth.

    Args:
        table: one row per source (:func:`source_table`), with a ``model`` column.
        measures: ``{column: kind}`` (kind ``estimator``, ``adversarial`` or
            ``baseline``); higher column values must predict better transfer.
        truths: ground-truth columns (e.g. ``probe_accuracy``).
        costs: ``{column: {"cost_s", "cost_per_source_s", ...}}``, copied into the rows.
        n_boot, seed, confidence: bootstrap of :func:`advtransfer.core.ranking.rank_agreement`
            (resampling sources, or whole groups with ``group_col``).
        group_col: column of ``table`` naming each source's group (the data set it was
            trained on): the unit of the cluster bootstrap and the permutation test, as in
            :func:`advtransfer.core.stats.correlation_table` (same pair, same settings:
            same intervals). A column ``<truth>_se`` gives the ``*_full`` intervals.
        n_perm: permutations of the group-level permutation test (``*_p``).
        primary: the declared primary hypothesis ``(measure, truth)`` (column ``primary``);
            ``p_holm`` adjusts ``spearman_p`` over all (truth, measure) rows except the
            random baseline, degenerate measures and rank-identical duplicates
            (``duplicate_of``, :func:`advtransfer.core.stats.rank_duplicates`).
        random_draws: with ``> 0``, add the random-ranking baseline row
            (:data:`RANDOM_BASELINE`, kind ``baseline``; :func:`random_ranking` with that
            many draws and ``seed``): its agreement is the mean over random rankings,
            its interval their central ``confidence`` range.

    Returns:
        one row per (truth, measure): ``truth``, ``measure``, ``kind``, the keys of
        :data:`advtransfer.core.ranking.RANK_AGREEMENT_KEYS`, ``top_source`` (the source the
        measure ranks first), ``degenerate`` (:func:`degenerate_reason`; ``""`` for a
        measure that ranks the pool; a degenerate measure gets NaN agreement, is not
        ranked and sorts last) and the cost columns; within each truth sorted by
        weighted tau (best first, NaN last).
    """
    rows = []
    groups = None if group_col is None else table[group_col].to_numpy()
    ids = table["model"].to_numpy() if "model" in table else None
    for truth in truths:
        y = table[truth].to_numpy(dtype=np.float64)
        se = table[f"{truth}_se"].to_numpy(dtype=np.float64) if f"{truth}_se" in table else None
        for column, kind in measures.items():
            x = table[column].to_numpy(dtype=np.float64)
            reason = degenerate_reason(x)
            agreement = ranking.rank_agreement(x, y, n_boot=n_boot, seed=seed,
                                               confidence=confidence, groups=groups, ids=ids,
                                               truth_se=se, n_perm=n_perm)
            if reason:
                agreement = {key: (value if key in ranking.COUNT_KEYS and key != "n_boot_valid"
                                   else 0 if key == "n_boot_valid" else float("nan"))
                             for key, value in agreement.items()}
            finite = np.isfinite(x)
            top = str(table["model"].iloc[int(np.nanargmax(np.where(finite, x, -np.inf)))]) \
                if finite.any() and not reason else ""
            rows.append({"truth": truth, "measure": column, "kind": kind, **agreement,
                         "top_source": top, "degenerate": reason,
                         **dict(costs.get(column, {}))})
        if random_draws > 0:
            chance = random_ranking(y, draws=random_draws, seed=seed, confidence=confidence)
            rows.append({"truth": truth, "measure": RANDOM_BASELINE, "kind": "baseline",
                         **chance, "top_source": "", "degenerate": "",
                         **dict(costs.get(RANDOM_BASELINE, {}))})
    out = pd.DataFrame(rows)
    out = stats.annotate_family(
        out, measure_col="measure", truth_col="truth", p_col="spearman_p", primary=primary,
        duplicates=stats.rank_duplicates(table, [m for m in measures if m in table]),
        exclude=(out["measure"] == RANDOM_BASELINE).to_numpy()
        | (out["degenerate"].astype(str) != "").to_numpy(),
    )
    out["_order"] = out["truth"].map({t: i for i, t in enumerate(truths)})
    out = out.sort_values(["_order", "weighted_tau"], ascending=[True, False],
                          na_position="last", kind="stable")
    return out.drop(columns="_order").reset_index(drop=True)
