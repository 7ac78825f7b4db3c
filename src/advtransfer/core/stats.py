"""Rank correlations between adversarial and knowledge transferability, with bootstrap CIs.

Reference: Liang et al., §4.2 / SPEC §5.2 -- per source model, adversarial transferability
(reference model's loss on the source's adversarial examples, tau1, tau2) is set beside
knowledge transferability (linear-probe accuracy / loss), and the claim "adversarial
transferability indicates knowledge transferability" is a claim about their rank
agreement. With a handful of sources the point estimate alone says little, so every
coefficient comes with a percentile bootstrap interval over items (or over whole groups,
e.g. several training seeds of the same source dataset).

Pure functions: arrays / data frames in, numbers / data frames out; no printing, no I/O.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from numbers import Integral, Real
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps

__all__ = ["CORRELATION_COLUMNS", "rank_correlations", "correlation_table"]

_METHODS: tuple[str, ...] = ("spearman", "kendall", "pearson")

#: Columns of :func:`correlation_table`, in order.
CORRELATION_COLUMNS: tuple[str, ...] = (
    "adversarial_measure",
    "knowledge_measure",
    "n",
    "spearman",
    "spearman_lo",
    "spearman_hi",
    "kendall",
    "kendall_lo",
    "kendall_hi",
    "pearson",
    "pearson_lo",
    "pearson_hi",
    "n_boot_valid",
    "spearman_p",
    "kendall_p",
    "pearson_p",
)

# Bootstrap replicates are processed in chunks of at most this many pair-matrix entries
# (chunk * n * n) so that Kendall's tau stays vectorised without large memory.
_CHUNK_ENTRIES = 4_000_000


def _pearson_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise Pearson correlation of two (B, m) arrays (NaN where a row is constant)."""
    a = a - a.mean(axis=1, keepdims=True)
    b = b - b.mean(axis=1, keepdims=True)
    num = np.einsum("ij,ij->i", a, b)
    den = np.sqrt(np.einsum("ij,ij->i", a, a) * np.einsum("ij,ij->i", b, b))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)
    return np.clip(r, -1.0, 1.0)


def _spearman_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise Spearman rho: Pearson correlation of average ranks."""
    return _pearson_rows(sps.rankdata(a, axis=1), sps.rankdata(b, axis=1))


def _kendall_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise Kendall tau-b (ties handled as in ``scipy.stats.kendalltau``).

    tau_b = sum_{i<j} s^a_ij s^b_ij / sqrt(sum_{i<j} (s^a_ij)^2 * sum_{i<j} (s^b_ij)^2),
    s^a_ij = sign(a_i - a_j): concordant minus discordant pairs over the square roots of
    the pairs untied in each variable.
    """
    m = a.shape[1]
    iu, ju = np.triu_indices(m, k=1)
    out = np.empty(a.shape[0])
    chunk = max(1, _CHUNK_ENTRIES // max(1, iu.size))
    for begin in range(0, a.shape[0], chunk):
        sa = np.sign(a[begin : begin + chunk, iu] - a[begin : begin + chunk, ju])
        sb = np.sign(b[begin : begin + chunk, iu] - b[begin : begin + chunk, ju])
        num = np.einsum("ij,ij->i", sa, sb)
        den = np.sqrt(np.abs(sa).sum(axis=1) * np.abs(sb).sum(axis=1))
        with np.errstate(invalid="ignore", divide="ignore"):
            out[begin : begin + chunk] = np.where(den > 0, num / np.where(den > 0, den, 1.0),
                                                  np.nan)
    return np.clip(out, -1.0, 1.0)


_ROW_FUNCTIONS = {"spearman": _spearman_rows, "kendall": _kendall_rows, "pearson": _pearson_rows}


def _point_estimates(x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """scipy point estimates and p-values; NaN when a side is constant."""
    result: dict[str, float] = {}
    constant = np.all(x == x[0]) or np.all(y == y[0])
    for method, function in (("spearman", sps.spearmanr), ("kendall", sps.kendalltau),
                             ("pearson", sps.pearsonr)):
        if constant:
            result[method], result[f"{method}_p"] = np.nan, np.nan
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = function(x, y)
        result[method] = float(res.statistic)
        result[f"{method}_p"] = float(res.pvalue)
    return result


def _bootstrap_indices(
    n: int, groups: np.ndarray | None, n_boot: int, rng: np.random.Generator
) -> list[np.ndarray] | np.ndarray:
    """Resampled item indices: a (n_boot, n) array, or a list when groups vary in size."""
    if groups is None:
        return rng.integers(0, n, size=(n_boot, n))
    codes, _ = pd.factorize(groups, sort=True)
    n_groups = int(codes.max()) + 1
    members = [np.flatnonzero(codes == g) for g in range(n_groups)]
    picks = rng.integers(0, n_groups, size=(n_boot, n_groups))
    return [np.concatenate([members[g] for g in row]) for row in picks]


def rank_correlations(
    x: Sequence[float] | np.ndarray,
    y: Sequence[float] | np.ndarray,
    *,
    n_boot: int = 2000,
    seed: int = 0,
    ci: float = 0.95,
    groups: Sequence[Any] | np.ndarray | None = None,
) -> dict[str, float | int]:
    r"""Spearman, Kendall and Pearson correlations with percentile bootstrap intervals.

    Paper: Liang et al., §4.2 / SPEC §5.2 (rank correlation of adversarial with knowledge
    transferability across sources, with bootstrap intervals).

    Formula::

        spearman = corr(rank(x), rank(y))          (average ranks for ties)
        kendall  = tau_b = (P - Q) / sqrt((P + Q + T_x)(P + Q + T_y))
        pearson  = corr(x, y)
        [lo, hi] = percentiles (1 - ci)/2 and (1 + ci)/2 of the statistic over
                   bootstrap resamples of the pairs (x_i, y_i) with replacement

    Point estimates come from ``scipy.stats`` (spearmanr, kendalltau, pearsonr). Pairs
    with a NaN on either side are dropped first. Resamples in which x or y is constant
    (the statistic is undefined) are skipped; ``n_boot_valid`` counts those that remain,
    and the intervals use only valid resamples. With ``groups``, whole groups (unique
    values of ``groups``, e.g. seeds of the same source) are resampled with replacement
    instead of single pairs, since items of one group are not independent.

    Args:
        x: Adversarial-transferability measure per item.
        y: Knowledge-transferability measure per item.
        n_boot: Bootstrap resamples, >= 0 (0 gives NaN intervals).
        seed: Seed of ``np.random.default_rng``; results are deterministic for a seed.
        ci: Central coverage of the interval, in (0, 1).
        groups: Optional group label per item, same length as ``x``.

    Shape:
        x, y, groups: (N,).

    Returns:
        Dict with ``n`` (pairs kept), ``spearman``, ``spearman_lo``, ``spearman_hi``,
        ``kendall``, ``kendall_lo``, ``kendall_hi``, ``pearson``, ``pearson_lo``,
        ``pearson_hi``, ``n_boot_valid`` and the scipy p-values ``spearman_p``,
        ``kendall_p``, ``pearson_p``. Fewer than 3 pairs (or a constant side) give NaN
        statistics instead of an exception.

    Raises:
        ValueError: x, y (or groups) not 1-D of equal length, ``n_boot < 0``, ``ci``
            outside (0, 1).
    """
    xa = np.asarray(x, dtype=np.float64)
    ya = np.asarray(y, dtype=np.float64)
    if xa.ndim != 1 or ya.ndim != 1 or xa.shape != ya.shape:
        raise ValueError(f"x and y must be 1-D of equal length, got shapes {xa.shape} and "
                         f"{ya.shape}")
    if isinstance(n_boot, bool) or not isinstance(n_boot, Integral) or n_boot < 0:
        raise ValueError(f"n_boot must be a non-negative integer, got {n_boot!r}")
    if isinstance(ci, bool) or not isinstance(ci, Real) or not 0.0 < ci < 1.0:
        raise ValueError(f"ci must be in (0, 1), got {ci!r}")
    group_array: np.ndarray | None = None
    if groups is not None:
        group_array = np.asarray(groups)
        if group_array.ndim != 1 or group_array.shape != xa.shape:
            raise ValueError(f"groups must be 1-D with the length of x ({xa.shape[0]}), got "
                             f"shape {group_array.shape}")
        if pd.isna(group_array).any():
            raise ValueError("groups must not contain missing values")

    keep = np.isfinite(xa) & np.isfinite(ya)
    xa, ya = xa[keep], ya[keep]
    if group_array is not None:
        group_array = group_array[keep]
    n = int(xa.size)

    result: dict[str, float | int] = {"n": n}
    for method in _METHODS:
        result[method] = result[f"{method}_lo"] = result[f"{method}_hi"] = np.nan
        result[f"{method}_p"] = np.nan
    result["n_boot_valid"] = 0
    if n < 3:
        return result
    result.update(_point_estimates(xa, ya))
    if n_boot == 0:
        return result

    rng = np.random.default_rng(seed)
    indices = _bootstrap_indices(n, group_array, int(n_boot), rng)
    # Group resamples can differ in length; resamples of equal length are stacked so the
    # statistics stay vectorised (the order of replicates does not affect percentiles).
    batches = [indices] if isinstance(indices, np.ndarray) else [
        np.stack([row for row in indices if row.size == size])
        for size in sorted({row.size for row in indices})
    ]
    collected: dict[str, list[np.ndarray]] = {m: [] for m in _METHODS}
    for batch in batches:
        xb, yb = xa[batch], ya[batch]
        valid = (np.ptp(xb, axis=1) > 0) & (np.ptp(yb, axis=1) > 0)
        for method, function in _ROW_FUNCTIONS.items():
            collected[method].append(function(xb[valid], yb[valid]))
    boot = {m: np.concatenate(v) for m, v in collected.items()}
    result["n_boot_valid"] = int(boot["spearman"].size)
    if result["n_boot_valid"] == 0:
        return result
    quantiles = [50.0 * (1.0 - ci), 50.0 * (1.0 + ci)]
    for method in _METHODS:
        lo, hi = np.percentile(boot[method], quantiles)
        result[f"{method}_lo"], result[f"{method}_hi"] = float(lo), float(hi)
    return result


def correlation_table(
    df: pd.DataFrame,
    adversarial_cols: Sequence[str],
    knowledge_cols: Sequence[str],
    *,
    group_col: str | None = None,
    n_boot: int = 2000,
    seed: int = 0,
    ci: float = 0.95,
) -> pd.DataFrame:
    """Long table of :func:`rank_correlations` for every (adversarial, knowledge) pair.

    Paper: Liang et al., §4.2 / SPEC §5.2 (per-source adversarial loss and tau's beside
    transfer accuracy/loss, and their rank correlation).

    Each row of ``df`` is one item (e.g. one source model). For each adversarial column a
    and knowledge column k, the correlation of ``df[a]`` with ``df[k]`` is computed with
    the same seed, so all rows use the same bootstrap resamples when no value is missing.

    Args:
        df: One row per item.
        adversarial_cols: Columns with adversarial-transferability measures.
        knowledge_cols: Columns with knowledge-transferability measures.
        group_col: Optional column whose unique values are resampled as whole groups.
        n_boot, seed, ci: Passed to :func:`rank_correlations`.

    Returns:
        DataFrame with columns :data:`CORRELATION_COLUMNS`, one row per pair, in the order
        adversarial measure major, knowledge measure minor.

    Raises:
        ValueError: a named column is missing, or the column lists are empty.
    """
    if isinstance(adversarial_cols, str) or isinstance(knowledge_cols, str):
        raise ValueError("adversarial_cols and knowledge_cols must be sequences of names")
    if len(adversarial_cols) == 0 or len(knowledge_cols) == 0:
        raise ValueError("adversarial_cols and knowledge_cols must not be empty")
    needed = list(adversarial_cols) + list(knowledge_cols)
    if group_col is not None:
        needed.append(group_col)
    missing = [c for c in needed if c not in df.columns]
    if missing:
        raise ValueError(f"columns {missing} are not in the data frame "
                         f"(have {list(df.columns)})")
    groups = None if group_col is None else df[group_col].to_numpy()
    rows = []
    for adversarial in adversarial_cols:
        for knowledge in knowledge_cols:
            stats = rank_correlations(
                pd.to_numeric(df[adversarial], errors="coerce").to_numpy(dtype=np.float64),
                pd.to_numeric(df[knowledge], errors="coerce").to_numpy(dtype=np.float64),
                n_boot=n_boot, seed=seed, ci=ci, groups=groups,
            )
            rows.append({"adversarial_measure": adversarial, "knowledge_measure": knowledge,
                         **stats})
    return pd.DataFrame(rows, columns=list(CORRELATION_COLUMNS))
