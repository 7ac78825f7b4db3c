"""Agreement between a transferability estimator and ground-truth transfer over sources.

Model-selection benchmarks for transferability estimators (LEEP, LogME, TransRate, GBC,
and here adversarial transferability; Liang et al., ICML 2021) score every source model
in a pool and ask how well the scores rank the sources by their actual transfer accuracy.
:func:`rank_agreement` reports the usual coefficients with percentile-bootstrap intervals
over sources, because with a pool of ten or twenty sources the point estimate alone
carries little information.

Pure functions: arrays in, a dictionary of numbers out; no printing, no I/O.
"""

from __future__ import annotations

from numbers import Integral, Real
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy import stats as sps

from advtransfer.core.stats import (  # noqa: F401  (row functions re-exported)
    _kendall_rows,
    _pearson_rows,
    _spearman_rows,
    source_inference,
)

__all__ = ["AGREEMENT_MEASURES", "COUNT_KEYS", "RANK_AGREEMENT_KEYS", "rank_agreement"]

#: Measures reported by :func:`rank_agreement`, in order.
AGREEMENT_MEASURES: tuple[str, ...] = (
    "kendall",
    "weighted_tau",
    "spearman",
    "pearson",
    "relative_top1",
)

#: Keys of the dictionary returned by :func:`rank_agreement`, in order.
RANK_AGREEMENT_KEYS: tuple[str, ...] = (
    "n",
    *(f"{m}{suffix}" for m in AGREEMENT_MEASURES for suffix in ("", "_lo", "_hi")),
    "n_boot_valid",
    # inference over grouped sources (advtransfer.core.stats.source_inference)
    "n_sources",
    "n_groups",
    *(f"{m}{suffix}" for m in AGREEMENT_MEASURES for suffix in ("_lo_full", "_hi_full", "_p")),
    *(f"{m}_p_scipy" for m in ("kendall", "spearman", "pearson")),
    "n_boot_valid_full",
    "n_perm",
    "permutation",
)
#: Keys of :data:`RANK_AGREEMENT_KEYS` that are counts or labels, not coefficients.
COUNT_KEYS = frozenset({"n", "n_boot_valid", "n_sources", "n_groups", "n_boot_valid_full",
                        "n_perm", "permutation"})

_MIN_SOURCES = 3


def _check_nonnegative_int(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    return int(value)


def _as_vector(values: ArrayLike, name: str) -> np.ndarray:
    try:
        array = np.array(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be numeric: {exc}") from None
    if array.ndim != 1:
        raise ValueError(f"{name} must be 1-D (one value per source), got shape {array.shape}")
    return array


# ---- row-wise (vectorised over bootstrap replicates) coefficients --------------------


# Pearson, Spearman and Kendall tau-b per bootstrap row are shared with advtransfer.core.stats.


def _relative_top1_rows(scores: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """``mean(truth over argmax-score ties) / max(truth)`` per row (NaN if max <= 0)."""
    is_top = scores == scores.max(axis=1, keepdims=True)
    chosen = np.sum(truth * is_top, axis=1) / np.sum(is_top, axis=1)
    best = truth.max(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(best > 0, chosen / best, np.nan)
    return out


def _point_estimates(scores: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """All measures on one sample of sources (NaN where undefined)."""
    if np.ptp(scores) == 0 or np.ptp(truth) == 0:
        rel = _relative_top1_rows(scores[None], truth[None])[0]
        out = {m: float("nan") for m in AGREEMENT_MEASURES}
        out["relative_top1"] = float(rel)
        return out
    coefficients = {
        "kendall": sps.kendalltau(scores, truth).statistic,
        "weighted_tau": sps.weightedtau(scores, truth).statistic,
        "spearman": sps.spearmanr(scores, truth).statistic,
        "pearson": sps.pearsonr(scores, truth).statistic,
    }
    out = {name: float(np.clip(value, -1.0, 1.0)) for name, value in coefficients.items()}
    out["relative_top1"] = float(_relative_top1_rows(scores[None], truth[None])[0])
    return out


def rank_agreement(
    scores: ArrayLike,
    truth: ArrayLike,
    *,
    n_boot: int = 2000,
    seed: int = 0,
    confidence: float = 0.95,
    groups: ArrayLike | None = None,
    ids: ArrayLike | None = None,
    truth_se: ArrayLike | None = None,
    n_perm: int = 0,
) -> dict[str, float | int | str]:
    """How well estimator scores rank sources by their true transfer performance.

    Reference: the evaluation protocol of transferability-estimation benchmarks (Kendall's
    tau and the weighted tau_w of Vigna, WWW 2015, as used by You et al., ICML 2021 and
    Huang et al., ICML 2022), applied to the source pools of Liang et al., ICML 2021.

    Measures, over the sources ``s`` with finite score and truth::

        kendall        tau-b               (scipy.stats.kendalltau)
        weighted_tau   tau_w, hyperbolic weights 1/(r+1), additive, averaged over the
                       rankings by score and by truth   (scipy.stats.weightedtau defaults)
        spearman       rho                 (scipy.stats.spearmanr)
        pearson        r                   (scipy.stats.pearsonr)
        relative_top1  truth[argmax_s scores] / max_s truth

    ``relative_top1`` assumes non-negative ground truth where larger is better (accuracy):
    it is 1 when the top-scored source is (one of) the best, and the fraction of the best
    accuracy obtained by picking the top-scored source otherwise. When several sources
    share the top score their truth is averaged; it is NaN if ``max truth <= 0``.

    Intervals and p-values come from :func:`advtransfer.core.stats.source_inference`, the
    routine behind the correlation tables too (same seed and settings give the same
    intervals for the same pair): percentile cluster-bootstrap intervals that resample
    whole ``groups`` (the data set each source was trained on; without groups, single
    sources: ``n_boot`` resamples with replacement, ``numpy.random.default_rng(seed)``),
    ``*_full`` intervals that also redraw the truth from its standard error
    ``truth_se``, and group-level permutation p-values ``*_p`` (``n_perm``
    permutations; 0: none). Resamples in which scores or truth are constant are skipped
    (the correlations are undefined there) for every measure, and ``n_boot_valid``
    counts the rest. In resamples, duplicated sources are ties, handled as scipy handles
    ties (tau-b, average ranks). The bootstrap uses vectorised implementations of tau-b,
    rho and r that agree with scipy.

    Sources with a NaN or infinite score or truth are dropped (``n`` counts those kept).
    With fewer than 3 kept sources, or constant scores or truth, the coefficients are NaN
    (no exception); intervals are NaN when fewer than 2 resamples are valid.

    Args:
        scores: Estimator score of each source (higher = predicted better).
        truth: Ground-truth transfer performance of each source (e.g. probe accuracy).
        n_boot: Number of bootstrap resamples (0 disables the intervals).
        seed: Seed of the bootstrap resampling.
        confidence: Coverage of the percentile intervals, in (0, 1).
        groups: Group label of each source (None: each source its own group).
        ids: Source names, fixing the resampling order (None: input order).
        truth_se: Standard error of each source's truth (None: no ``*_full`` intervals).
        n_perm: Permutations of the group-level permutation test (0: NaN p-values).

    Shape:
        scores ``(S,)``, truth ``(S,)``.

    Returns:
        Dict with keys :data:`RANK_AGREEMENT_KEYS`: ``n`` (int), for every measure ``m`` in
        :data:`AGREEMENT_MEASURES` the estimate ``m`` and interval ``m_lo``, ``m_hi``, and
        ``n_boot_valid`` (int), then the inference keys of
        :func:`advtransfer.core.stats.source_inference` (``n_sources``, ``n_groups``,
        ``m_lo_full``, ``m_hi_full``, ``m_p``, ``m_p_scipy``, ``n_boot_valid_full``,
        ``n_perm``, ``permutation``); the values of :data:`COUNT_KEYS` are ints or a
        label, all other values are floats.
    """
    x = _as_vector(scores, "scores")
    y = _as_vector(truth, "truth")
    if x.shape != y.shape:
        raise ValueError(f"scores and truth must have the same length, got {x.size} and {y.size}")
    n_boot = _check_nonnegative_int(n_boot, "n_boot")
    n_perm = _check_nonnegative_int(n_perm, "n_perm")
    if isinstance(seed, bool) or not isinstance(seed, Integral):
        raise ValueError(f"seed must be an integer, got {seed!r}")
    if isinstance(confidence, bool) or not isinstance(confidence, Real) \
            or not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must lie in (0, 1), got {confidence!r}")

    inference = source_inference(
        x, y, groups=groups, ids=ids, y_se=truth_se,
        methods=("kendall", "weighted_tau", "spearman", "pearson"),
        rows={"relative_top1": _relative_top1_rows},
        n_boot=n_boot, n_perm=n_perm, seed=int(seed), ci=float(confidence),
    )
    result: dict[str, float | int | str] = {key: inference.get(key, float("nan"))
                                            for key in RANK_AGREEMENT_KEYS}
    if int(result["n"]) >= _MIN_SOURCES:
        keep = np.isfinite(x) & np.isfinite(y)
        result.update(_point_estimates(x[keep], y[keep]))
    return result
