"""Leaderboards over several target tasks, and how robust their verdicts are.

A transferability measure is judged by how well its scores rank a pool of source models
by their transfer performance on one target (:mod:`advtransfer.core.ranking`). Agostinelli
et al. ("How stable are transferability metrics evaluations?", ECCV 2022) showed that such
verdicts -- which measure is best -- change with small changes of the experimental
setup: the pool of sources, the target data set, the agreement coefficient. Model size
alone is a strong baseline as well: larger sources tend to transfer better, so a measure
that only recognises size looks good until the largest sources are taken out. This
module aggregates the per-target agreement over several targets and reports how stable
the result is:

* :func:`leaderboard_over_targets`: the mean over targets of every coefficient of
  :data:`advtransfer.core.ranking.AGREEMENT_MEASURES`, with a *joint* bootstrap over
  sources (one resample of the shared pool applied to every target), and the number of
  targets in which each measure is the best;
* :func:`measure_robustness`: the mean weighted tau on the full pool, its range over
  leave-one-source-out pools, and on the pool without the largest sources;
* :func:`pairwise_robustness`: for every ordered pair of measures, the share of random
  source subsets, of targets and of leave-one-out pools in which the first beats the
  second (the win rates of Agostinelli et al.), and the verdict without the largest
  sources.

Input everywhere: a long table with one row per (source model, target), the columns
``model`` and ``target`` (names configurable), one column per measure (higher =
predicted better transfer), the truth column (e.g. ``probe_accuracy``, higher = better)
and optionally a group column (the data set each source was trained on) and a size
column (``param_count``). Every target must hold the same sources.

Pure functions: data frames in, data frames out; no printing, no I/O.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from numbers import Integral, Real
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from advtransfer.core import ranking, scoring, stats
from advtransfer.core.ranking import AGREEMENT_MEASURES

__all__ = [
    "LEADERBOARD_COLUMNS",
    "PAIRWISE_COLUMNS",
    "ROBUSTNESS_COLUMNS",
    "leaderboard_over_targets",
    "measure_robustness",
    "pairwise_robustness",
]

#: Columns of :func:`leaderboard_over_targets`, in order.
LEADERBOARD_COLUMNS: tuple[str, ...] = (
    "truth", "measure", "kind", "n_targets", "n_sources", "n_groups",
    *(f"{m}{suffix}" for m in AGREEMENT_MEASURES for suffix in ("", "_lo", "_hi")),
    "n_boot_valid", "targets_best", "degenerate",
)
#: Columns of :func:`measure_robustness`, in order.
ROBUSTNESS_COLUMNS: tuple[str, ...] = (
    "measure", "kind", "weighted_tau", "weighted_tau_loo_min", "weighted_tau_loo_max",
    "weighted_tau_without_largest", "n_without_largest", "rank", "rank_without_largest",
)
#: Columns of :func:`pairwise_robustness`, in order.
PAIRWISE_COLUMNS: tuple[str, ...] = (
    "measure_a", "measure_b", "subset_share", "n_subset_draws", "target_share", "loo_share",
    "wins_without_largest",
)

_MIN_SOURCES = 3
# Coefficients closer than this count as tied (a half win each, best in a target each).
_TIE = 1e-12
# Weighted tau is computed in chunks of at most this many sign entries (rows * n * n).
_SHOW = 5  # offending names shown in an error message


_ROWS = {
    "kendall": stats._kendall_rows,
    "weighted_tau": stats._weighted_tau_rows,
    "spearman": stats._spearman_rows,
    "pearson": stats._pearson_rows,
    "relative_top1": ranking._relative_top1_rows,
}


# ---- input checks --------------------------------------------------------------------


class _Pool(NamedTuple):
    """The table as arrays over (measure, target, source), sources in canonical order."""

    measures: list[str]  # (M,)
    kinds: list[str]  # (M,)
    targets: list[Any]  # (T,)
    models: np.ndarray  # (S,) names, ordered by (group, name)
    scores: np.ndarray  # (M, T, S); a degenerate measure's scores are set to 0
    truth: np.ndarray  # (T, S)
    codes: np.ndarray  # (S,) group code of each source (0..G-1)
    reasons: list[str]  # (M,) degenerate reason, "" for a measure that ranks every target
    sizes: np.ndarray | None  # (S,) size of each source


def _check_measures(measures: Any) -> dict[str, str]:
    if not isinstance(measures, Mapping) or len(measures) == 0:
        raise ValueError(f"measures must be a non-empty mapping {{column: kind}}, got "
                         f"{measures!r}: pass e.g. {{'leep': 'estimator'}}")
    return {str(column): str(kind) for column, kind in measures.items()}


def _check_columns(table: Any, needed: Sequence[str]) -> None:
    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"table must be a pandas DataFrame, got {type(table).__name__}")
    missing = [c for c in dict.fromkeys(needed) if c not in table.columns]
    if missing:
        raise ValueError(f"table lacks column(s) {missing} (it has {list(table.columns)}): "
                         "pass the names of existing columns or add them to the table")
    if table.empty:
        raise ValueError("table has no rows: it needs one row per (source model, target)")


def _check_complete(index: pd.MultiIndex, targets: list[Any], models: np.ndarray) -> None:
    """Raise unless every target holds every model exactly once."""
    duplicated = index[index.duplicated()].unique()
    if len(duplicated):
        raise ValueError(f"{len(duplicated)} (target, model) pair(s) have several rows, e.g. "
                         f"{list(duplicated[:_SHOW])}: keep one row per model and target")
    problems = []
    for target in targets:
        present = set(index[index.get_level_values(0) == target].get_level_values(1))
        absent = [str(m) for m in models if m not in present]
        if absent:
            problems.append(f"target {target!r} lacks {absent[:_SHOW]}"
                            + (f" and {len(absent) - _SHOW} more" if len(absent) > _SHOW else ""))
    if problems:
        raise ValueError("sources must be the same in every target: " + "; ".join(problems)
                         + ". Add the missing rows or drop those models from every target")
    if len(models) < _MIN_SOURCES:
        raise ValueError(f"need at least {_MIN_SOURCES} source models to rank, got "
                         f"{len(models)} ({[str(m) for m in models]}): add sources")


def _per_model(table: pd.DataFrame, model_col: str, column: str, models: np.ndarray) -> np.ndarray:
    """The value of ``column`` for each model; raise if missing or varying across targets."""
    values = table[column]
    if values.isna().any():
        bad = sorted({str(m) for m in table.loc[values.isna(), model_col]})
        raise ValueError(f"column {column!r} is missing for model(s) {bad[:_SHOW]}: fill it in")
    counts = table.groupby(model_col, sort=False)[column].nunique()
    varying = [str(m) for m in counts.index[counts > 1]]
    if varying:
        raise ValueError(f"column {column!r} differs between targets for model(s) "
                         f"{varying[:_SHOW]}: it describes the source, give it one value")
    return table.groupby(model_col, sort=False)[column].first().reindex(models).to_numpy()


def _numeric(frame: pd.DataFrame, column: str) -> np.ndarray:
    try:
        values = pd.to_numeric(frame[column], errors="raise")
    except (TypeError, ValueError):
        raise ValueError(f"column {column!r} must be numeric (dtype {frame[column].dtype}): "
                         "convert it, e.g. with pandas.to_numeric") from None
    return values.to_numpy(dtype=np.float64, na_value=np.nan)


def _check_truth(truth: np.ndarray, name: str, targets: list[Any], models: np.ndarray) -> None:
    bad = ~np.isfinite(truth)
    if bad.any():
        pairs = [(targets[t], str(models[s])) for t, s in zip(*np.nonzero(bad), strict=True)]
        raise ValueError(f"truth column {name!r} is not finite for {int(bad.sum())} "
                         f"(target, model) pair(s), e.g. {pairs[:_SHOW]}: fill in the truth "
                         "or drop those models from every target")


def _degenerate_reasons(scores: np.ndarray, targets: list[Any]) -> list[str]:
    """Per measure, "target X: <reason>" for every target it cannot rank ("" if none).

    Reasons are those of :func:`advtransfer.core.scoring.degenerate_reason`, and
    non-finite scores (every source must be scored in every target).
    """
    reasons = []
    for per_target in scores:
        found = []
        for target, values in zip(targets, per_target, strict=True):
            reason = scoring.degenerate_reason(values)
            missing = int(np.sum(~np.isfinite(values)))
            if not reason and missing:
                reason = f"{missing} of {values.size} scores not finite"
            if reason:
                found.append(f"target {target}: {reason}")
        reasons.append("; ".join(found))
    return reasons


def _prepare(
    table: pd.DataFrame,
    measures: Any,
    truth: str,
    target_col: str,
    model_col: str,
    group_col: str | None = None,
    size_col: str | None = None,
) -> _Pool:
    """Check the long table and lay it out as arrays; see the module docstring."""
    kinds = _check_measures(measures)
    extra = [c for c in (group_col, size_col) if c is not None]
    _check_columns(table, [target_col, model_col, truth, *kinds, *extra])
    index = pd.MultiIndex.from_frame(table[[target_col, model_col]])
    targets = list(pd.unique(table[target_col]))
    seen = pd.unique(table[model_col])
    _check_complete(index, targets, seen)
    groups = None if group_col is None else _per_model(table, model_col, group_col, seen)
    order, codes = stats._canonical_order(len(seen), groups, np.asarray(seen))
    models = np.asarray(seen)[order]
    frame = table.set_index(index).reindex(pd.MultiIndex.from_product([targets, models]))
    shape = (len(targets), len(models))
    y = _numeric(frame, truth).reshape(shape)
    _check_truth(y, truth, targets, models)
    x = np.stack([_numeric(frame, column).reshape(shape) for column in kinds])
    reasons = _degenerate_reasons(x, targets)
    x[np.array([bool(r) for r in reasons])] = 0.0
    sizes = None
    if size_col is not None:
        sizes = _per_model(table, model_col, size_col, models).astype(np.float64)
        if not np.all(np.isfinite(sizes)):
            raise ValueError(f"size column {size_col!r} must be finite for every model")
    return _Pool(list(kinds), list(kinds.values()), targets, models, x, y, codes, reasons,
                 sizes)


def _check_int(value: Any, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _check_fraction(value: Any, name: str, *, closed: bool) -> float:
    ok = isinstance(value, Real) and not isinstance(value, bool) and \
        (0.0 <= value < 1.0 if closed else 0.0 < value < 1.0)
    if not ok:
        interval = "[0, 1)" if closed else "(0, 1)"
        raise ValueError(f"{name} must lie in {interval}, got {value!r}")
    return float(value)


# ---- coefficients over pools of sources ----------------------------------------------


def _pool_coefficients(
    pool: _Pool, pools: np.ndarray, names: Sequence[str] = AGREEMENT_MEASURES
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Every coefficient of every measure in every target on every pool of sources.

    A pool is valid for a (measure, target) when it holds at least 3 sources and neither
    the scores nor the truth are constant on it (the coefficients are undefined
    otherwise, as in :func:`advtransfer.core.ranking.rank_agreement`); invalid entries
    are NaN.

    Shape:
        pools ``(P, L)`` source indices -> values ``{name: (M, T, P)}``, valid ``(M, T, P)``.
    """
    xs = pool.scores[:, :, pools]
    ys = np.broadcast_to(pool.truth[None][:, :, pools], xs.shape)
    valid = (np.ptp(xs, axis=-1) > 0) & (np.ptp(ys, axis=-1) > 0) \
        & (pools.shape[1] >= _MIN_SOURCES)
    a, b = xs[valid], ys[valid]
    values = {}
    for name in names:
        out = np.full(valid.shape, np.nan)
        if a.shape[0]:
            out[valid] = _ROWS[name](a, b)
        values[name] = out
    return values, valid


def _mean_weighted_tau(pool: _Pool, pools: np.ndarray) -> np.ndarray:
    """Mean over targets of weighted tau on each pool (NaN if undefined in a target).

    Shape:
        pools ``(P, L)`` -> ``(M, P)``.
    """
    values, _ = _pool_coefficients(pool, pools, ("weighted_tau",))
    return values["weighted_tau"].mean(axis=1)


def _leave_one_out(n: int) -> np.ndarray:
    """Row ``s`` holds every source index but ``s``; shape ``(n, n - 1)``."""
    return np.array([np.delete(np.arange(n), s) for s in range(n)], dtype=np.intp)


def _without_largest(pool: _Pool, fraction: float) -> np.ndarray:
    """Indices of the sources left after removing the ``ceil(fraction * S)`` largest.

    Largest by size, ties broken by model name (the first name goes first).
    """
    n = pool.models.size
    k = min(n, math.ceil(fraction * n - 1e-9))
    order = np.lexsort((pool.models.astype(str), -pool.sizes))
    return np.sort(order[k:])


def _bootstrap_means(
    pool: _Pool, n_boot: int, seed: int
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Mean over targets of each coefficient on joint cluster-bootstrap resamples.

    One resample of groups (:func:`advtransfer.core.stats._resample_batches`,
    ``numpy.random.default_rng(seed)``) is applied to every target; a resample counts
    for a measure only when it is valid in every target.

    Returns:
        ``({name: (M, n_boot) means, NaN where not valid}, (M,) valid counts)``.
    """
    m = len(pool.measures)
    means: dict[str, list[np.ndarray]] = {name: [np.empty((m, 0))] for name in AGREEMENT_MEASURES}
    n_valid = np.zeros(m, dtype=int)
    if n_boot == 0:
        return {name: parts[0] for name, parts in means.items()}, n_valid
    for batch in stats._resample_batches(pool.codes, n_boot, np.random.default_rng(seed)):
        values, valid = _pool_coefficients(pool, batch)
        everywhere = valid.all(axis=1)
        n_valid += everywhere.sum(axis=1)
        for name in AGREEMENT_MEASURES:
            means[name].append(np.where(everywhere, values[name].mean(axis=1), np.nan))
    return {name: np.concatenate(parts, axis=1) for name, parts in means.items()}, n_valid


def _best_counts(per_target: np.ndarray) -> np.ndarray:
    """Per measure, the targets where its coefficient is the highest (ties: each counts).

    Shape:
        per_target ``(M, T)`` -> ``(M,)``.
    """
    finite = np.isfinite(per_target)
    best = np.where(finite, per_target, -np.inf).max(axis=0)
    return np.sum(finite & (per_target >= best - _TIE), axis=1).astype(int)


def leaderboard_over_targets(
    table: pd.DataFrame,
    measures: Mapping[str, str],
    truth: str,
    *,
    target_col: str = "target",
    model_col: str = "model",
    group_col: str | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Agreement of every measure with the truth, averaged over several target tasks.

    Reference: Agostinelli et al., "How stable are transferability metrics
    evaluations?", ECCV 2022 (a verdict should hold over targets, not in one); the
    coefficients are those of :func:`advtransfer.core.ranking.rank_agreement`.

    For each measure and target the coefficients of
    :data:`advtransfer.core.ranking.AGREEMENT_MEASURES` compare the measure's scores with
    the truth over the sources; each column ``m`` is their mean over targets. The
    interval ``[m_lo, m_hi]`` is the percentile interval of that mean under a joint
    bootstrap: each resample draws the sources (whole groups with ``group_col``, single
    sources otherwise) once and applies the same draw to every target, so the interval
    reflects that every target ranks the same pool. Resamples in which a measure's
    scores or the truth are constant in some target are skipped for that measure
    (``n_boot_valid`` counts the rest). With one target the intervals are those of
    :func:`advtransfer.core.ranking.rank_agreement` with the same seed, groups and
    model names as ``ids``.

    Args:
        table: One row per (source model, target); see the module docstring.
        measures: ``{column: kind}`` of the measures to rank (higher = predicted better).
        truth: Column of the ground truth (higher = better transfer).
        target_col: Column naming the target task.
        model_col: Column naming the source model.
        group_col: Column naming each source's group (the unit of resampling), or None.
        n_boot: Bootstrap resamples (0: NaN intervals).
        seed: Seed of the resampling (``numpy.random.default_rng``).
        confidence: Coverage of the percentile intervals, in (0, 1).

    Returns:
        One row per measure with columns :data:`LEADERBOARD_COLUMNS`: ``truth``,
        ``measure``, ``kind``, ``n_targets``, ``n_sources`` (sources of every target),
        ``n_groups``, per coefficient ``m``, ``m_lo``, ``m_hi``, then ``n_boot_valid``,
        ``targets_best`` (targets in which the measure has the highest weighted tau of all
        measures; ties count for each) and ``degenerate`` ("target X: <reason>" for each
        target where :func:`advtransfer.core.scoring.degenerate_reason` objects or a score
        is not finite, "" otherwise; a degenerate measure has NaN coefficients). Sorted by
        mean weighted tau, best first, NaN last.

    Raises:
        ValueError: a missing column, a target without some model, a duplicated
            (target, model) row, fewer than 3 sources, non-finite truth, bad settings.
        TypeError: ``table`` is not a pandas DataFrame.
    """
    n_boot = _check_int(n_boot, "n_boot", 0)
    seed = _check_int(seed, "seed", 0)
    confidence = _check_fraction(confidence, "confidence", closed=False)
    pool = _prepare(table, measures, truth, target_col, model_col, group_col=group_col)
    point, _ = _pool_coefficients(pool, np.arange(pool.models.size)[None])
    point = {name: values[:, :, 0] for name, values in point.items()}  # (M, T)
    means, n_valid = _bootstrap_means(pool, n_boot, seed)
    best = _best_counts(point["weighted_tau"])
    rows = []
    for i, (measure, kind) in enumerate(zip(pool.measures, pool.kinds, strict=True)):
        row: dict[str, Any] = {
            "truth": truth, "measure": measure, "kind": kind, "n_targets": len(pool.targets),
            "n_sources": int(pool.models.size), "n_groups": int(pool.codes.max()) + 1,
        }
        for name in AGREEMENT_MEASURES:
            row[name] = float(point[name][i].mean())
            row[f"{name}_lo"], row[f"{name}_hi"] = stats._percentiles(means[name][i], confidence)
        row.update(n_boot_valid=int(n_valid[i]), targets_best=int(best[i]),
                   degenerate=pool.reasons[i])
        rows.append(row)
    out = pd.DataFrame(rows, columns=list(LEADERBOARD_COLUMNS))
    out = out.sort_values("weighted_tau", ascending=False, na_position="last", kind="stable")
    return out.reset_index(drop=True)


def _rank(values: np.ndarray) -> np.ndarray:
    """1 = highest; tied values share the best rank; NaN ranks after every number."""
    ranks = pd.Series(values).rank(ascending=False, method="min", na_option="bottom")
    return ranks.to_numpy(dtype=int)


def _nan_extreme(values: np.ndarray, smallest: bool) -> np.ndarray:
    """Row-wise min (or max) over the finite entries; NaN for a row without any."""
    finite = np.isfinite(values)
    fill = np.inf if smallest else -np.inf
    filled = np.where(finite, values, fill)
    out = filled.min(axis=1) if smallest else filled.max(axis=1)
    return np.where(finite.any(axis=1), out, np.nan)


def measure_robustness(
    table: pd.DataFrame,
    measures: Mapping[str, str],
    truth: str,
    *,
    target_col: str = "target",
    model_col: str = "model",
    size_col: str = "param_count",
    largest_fraction: float = 1 / 3,
) -> pd.DataFrame:
    """How much a measure's mean weighted tau depends on single sources and on size.

    Reference: Agostinelli et al., ECCV 2022 (small changes of the source pool reorder
    transferability leaderboards). Larger sources tend to transfer better, so a measure
    that mostly tracks model size ranks the full pool well; on the pool without the
    largest sources it has to rank models of similar size.

    Every value is the mean over targets of the weighted tau (Vigna, WWW 2015;
    ``scipy.stats.weightedtau`` defaults) between the measure and the truth over a pool
    of sources: the full pool; each leave-one-source-out pool (min and max over them);
    the pool without the ``ceil(largest_fraction * S)`` largest sources by ``size_col``
    (ties broken by model name). A pool of fewer than 3 sources, or one where the
    measure or the truth is constant in some target, gives NaN; a measure degenerate on
    the full pool (see :func:`leaderboard_over_targets`) is NaN throughout.

    Args:
        table: One row per (source model, target); see the module docstring.
        measures: ``{column: kind}`` of the measures (higher = predicted better).
        truth: Column of the ground truth (higher = better transfer).
        target_col: Column naming the target task.
        model_col: Column naming the source model.
        size_col: Column of the source's size (e.g. parameter count), one value per model.
        largest_fraction: Share of the sources removed as the largest, in [0, 1).

    Returns:
        One row per measure with columns :data:`ROBUSTNESS_COLUMNS`: ``measure``,
        ``kind``, ``weighted_tau``, ``weighted_tau_loo_min``, ``weighted_tau_loo_max``,
        ``weighted_tau_without_largest``, ``n_without_largest`` (sources left), ``rank``
        and ``rank_without_largest`` (1 = best by ``weighted_tau`` and by
        ``weighted_tau_without_largest``; ties share the best rank, NaN ranks last).
        Sorted by ``rank``.

    Raises:
        ValueError: as :func:`leaderboard_over_targets`, and a size that is missing, not
            finite or differs between targets.
    """
    fraction = _check_fraction(largest_fraction, "largest_fraction", closed=True)
    pool = _prepare(table, measures, truth, target_col, model_col, size_col=size_col)
    n = pool.models.size
    full = _mean_weighted_tau(pool, np.arange(n)[None])[:, 0]
    loo = _mean_weighted_tau(pool, _leave_one_out(n))
    kept = _without_largest(pool, fraction)
    smaller = _mean_weighted_tau(pool, kept[None])[:, 0]
    out = pd.DataFrame({
        "measure": pool.measures, "kind": pool.kinds, "weighted_tau": full,
        "weighted_tau_loo_min": _nan_extreme(loo, True),
        "weighted_tau_loo_max": _nan_extreme(loo, False),
        "weighted_tau_without_largest": smaller, "n_without_largest": int(kept.size),
        "rank": _rank(full), "rank_without_largest": _rank(smaller),
    }, columns=list(ROBUSTNESS_COLUMNS))
    return out.sort_values("rank", kind="stable").reset_index(drop=True)


def _subset_draws(
    n: int, subset_sizes: Any, n_subsets: int, seed: int
) -> list[np.ndarray]:
    """Random source subsets, stacked by size: ``[(draws, size) index arrays]``.

    ``n_subsets`` draws with ``numpy.random.default_rng(seed)``: a size uniform on
    ``subset_sizes[0]..subset_sizes[1]`` (inclusive, capped at ``n``), then that many
    distinct sources.
    """
    try:
        low, high = (int(v) for v in subset_sizes)
        ok = all(isinstance(v, Integral) and not isinstance(v, bool) for v in subset_sizes)
    except (TypeError, ValueError):
        ok = False
    if not ok or not _MIN_SOURCES <= low <= high:
        raise ValueError(f"subset_sizes must be two integers (low, high) with "
                         f"{_MIN_SOURCES} <= low <= high, got {subset_sizes!r}")
    rng = np.random.default_rng(seed)
    sizes = np.minimum(rng.integers(low, high + 1, size=n_subsets), n)
    subsets = [np.sort(rng.choice(n, size=int(k), replace=False)) for k in sizes]
    return [np.stack([s for s in subsets if s.size == k]) for k in sorted(set(sizes.tolist()))]


def _share(a: np.ndarray, b: np.ndarray) -> tuple[float, int]:
    """Share of the entries where ``a > b`` (ties 1/2; entries with a NaN skipped)."""
    used = np.isfinite(a) & np.isfinite(b)
    if not used.any():
        return float("nan"), 0
    diff = a[used] - b[used]
    wins = np.where(diff > _TIE, 1.0, np.where(diff < -_TIE, 0.0, 0.5))
    return float(wins.mean()), int(used.sum())


def pairwise_robustness(
    table: pd.DataFrame,
    measures: Mapping[str, str],
    truth: str,
    *,
    target_col: str = "target",
    model_col: str = "model",
    size_col: str = "param_count",
    subset_sizes: tuple[int, int] = (5, 10),
    n_subsets: int = 200,
    seed: int = 0,
    largest_fraction: float = 1 / 3,
) -> pd.DataFrame:
    """How often one measure beats another when the evaluation setup changes.

    Reference: Agostinelli et al., ECCV 2022, who count in how many variations of the
    setup (source pools, targets) one transferability metric beats another. Every
    comparison is of weighted tau with the truth (Vigna, WWW 2015); a win counts 1, a
    tie 1/2, and comparisons where either is undefined (NaN) are skipped:

    * ``subset_share``: over ``n_subsets`` random subsets of the sources (the same
      subsets for every pair; see ``subset_sizes``), comparing the mean over targets of
      weighted tau on the subset; ``n_subset_draws`` counts the draws compared;
    * ``target_share``: over targets, on the full pool;
    * ``loo_share``: over (left-out source, target) pools;
    * ``wins_without_largest``: 1, 0.5 or 0, comparing the mean over targets on the pool
      without the ``ceil(largest_fraction * S)`` largest sources by ``size_col`` (as in
      :func:`measure_robustness`); NaN if either is NaN.

    Args:
        table: One row per (source model, target); see the module docstring.
        measures: ``{column: kind}`` of the measures (higher = predicted better).
        truth: Column of the ground truth (higher = better transfer).
        target_col: Column naming the target task.
        model_col: Column naming the source model.
        size_col: Column of the source's size, one value per model.
        subset_sizes: ``(low, high)``: each subset's size is drawn uniformly from
            ``low..high`` inclusive (capped at the number of sources); ``low >= 3``.
        n_subsets: Random subsets drawn (``numpy.random.default_rng(seed)``), >= 0.
        seed: Seed of the subset draws.
        largest_fraction: Share of the sources removed as the largest, in [0, 1).

    Returns:
        One row per ordered pair of distinct measures (``measure_a`` major, in the order
        of ``measures``) with columns :data:`PAIRWISE_COLUMNS`: ``measure_a``,
        ``measure_b``, ``subset_share``, ``n_subset_draws``, ``target_share``,
        ``loo_share``, ``wins_without_largest`` (shares are those of ``a`` beating ``b``).

    Raises:
        ValueError: as :func:`measure_robustness`, and bad ``subset_sizes`` / ``n_subsets``.
    """
    n_subsets = _check_int(n_subsets, "n_subsets", 0)
    seed = _check_int(seed, "seed", 0)
    fraction = _check_fraction(largest_fraction, "largest_fraction", closed=True)
    pool = _prepare(table, measures, truth, target_col, model_col, size_col=size_col)
    n = pool.models.size
    draws = _subset_draws(n, subset_sizes, n_subsets, seed)
    subset = np.concatenate([np.empty((len(pool.measures), 0))]
                            + [_mean_weighted_tau(pool, batch) for batch in draws], axis=1)
    per_target = _pool_coefficients(pool, np.arange(n)[None], ("weighted_tau",))[0]
    per_target = per_target["weighted_tau"][:, :, 0]  # (M, T)
    loo = _pool_coefficients(pool, _leave_one_out(n), ("weighted_tau",))[0]["weighted_tau"]
    loo = loo.reshape(len(pool.measures), -1)  # (M, T * S)
    smaller = _mean_weighted_tau(pool, _without_largest(pool, fraction)[None])[:, 0]
    rows = []
    for a, b in itertools.permutations(range(len(pool.measures)), 2):
        subset_share, used = _share(subset[a], subset[b])
        rows.append({
            "measure_a": pool.measures[a], "measure_b": pool.measures[b],
            "subset_share": subset_share, "n_subset_draws": used,
            "target_share": _share(per_target[a], per_target[b])[0],
            "loo_share": _share(loo[a], loo[b])[0],
            "wins_without_largest": _share(smaller[a: a + 1], smaller[b: b + 1])[0],
        })
    return pd.DataFrame(rows, columns=list(PAIRWISE_COLUMNS))
