"""Inference over source models: correlations, cluster-bootstrap intervals, permutation tests.

Reference: Liang et al., §4.2; docs/method.md §7 -- per source model, adversarial transferability
(reference model's loss on the source's adversarial examples, tau1, tau2) is set beside
knowledge transferability (linear-probe accuracy / loss), and the claim "adversarial
transferability indicates knowledge transferability" is a claim about their rank
agreement over sources.

Sources are not independent: several seeds are trained on the same source data set, and
the data set decides most of what a source is. :func:`source_inference` is the one routine
behind every correlation table and every leaderboard; it treats the *group* (the data set
a source was trained on; seeds are replicates) as the unit of resampling:

* intervals: percentile bootstrap that resamples whole groups (cluster bootstrap); with
  one source per group it is the ordinary bootstrap over sources;
* ``*_full`` intervals: the same group resamples, with each drawn source's knowledge
  measure also redrawn from its test-set sampling distribution (normal with the
  measure's standard error, e.g. ``probe_accuracy_se``) -- test images resampled as well
  as groups;
* p-values: a two-sided permutation test at group level (see :func:`source_inference`);
  the scipy p-values, which treat every source as independent, are kept as ``*_p_scipy``;
* :func:`holm` adjusts the p-values of a declared family, :func:`rank_duplicates` finds
  measures that rank the sources identically (reported once, ``duplicate_of``), and
  :func:`annotate_family` adds the ``primary``, ``duplicate_of`` and ``p_holm`` columns.

Pure functions: arrays / data frames in, numbers / data frames out; no printing, no I/O.
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from numbers import Integral, Real
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps

__all__ = [
    "CORRELATION_COLUMNS",
    "INFERENCE_METHODS",
    "annotate_family",
    "correlation_table",
    "holm",
    "inference_settings",
    "rank_correlations",
    "rank_duplicates",
    "source_inference",
]

_METHODS: tuple[str, ...] = ("spearman", "kendall", "pearson")
#: Coefficients :func:`source_inference` knows by name (others come as row functions).
INFERENCE_METHODS: tuple[str, ...] = ("spearman", "kendall", "pearson", "weighted_tau")
_SCIPY_P = ("spearman", "kendall", "pearson")

#: Columns of :func:`correlation_table`, in order.
CORRELATION_COLUMNS: tuple[str, ...] = (
    "adversarial_measure",
    "knowledge_measure",
    "primary",
    "duplicate_of",
    "n",
    "n_sources",
    "n_groups",
    *(f"{m}{suffix}" for m in _METHODS
      for suffix in ("", "_lo", "_hi", "_lo_full", "_hi_full", "_p", "_p_scipy")),
    "p_holm",
    "n_boot_valid",
    "n_boot_valid_full",
    "n_perm",
    "permutation",
)

# Bootstrap replicates are processed in chunks of at most this many pair-matrix entries
# (chunk * n * n) so that Kendall's tau stays vectorised without large memory.
_CHUNK_ENTRIES = 4_000_000
# |T*| >= |T| - _TIES counts as "at least as extreme" (round-off between equal statistics).
_TIES = 1e-12
# Block permutations are used when all groups have one size, or when at least this many
# distinct block permutations exist; otherwise the test runs on group means.
_MIN_BLOCK_PERMUTATIONS = 100


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



#: Entries of the (rows, n, n) sign arrays of one chunk of :func:`_weighted_tau_rows`.
_CHUNK_ENTRIES = 2_000_000


def _decreasing_rank(primary: np.ndarray, secondary: np.ndarray) -> np.ndarray:
    """Per row, the position of each entry in decreasing (primary, secondary) order.

    The ranking of ``scipy.stats.weightedtau`` (``rank=None`` of its one-sided form):
    the reverse of the stable lexicographic sort, 0 = most important.
    """
    order = np.lexsort((secondary, primary), axis=-1)[:, ::-1]
    rank = np.empty_like(order)
    positions = np.broadcast_to(np.arange(order.shape[1]), order.shape)
    np.put_along_axis(rank, order, positions, axis=1)
    return rank


def _weighted_tau_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise weighted tau, equal to ``scipy.stats.weightedtau(a[i], b[i])`` defaults.

    Vigna (WWW 2015), hyperbolic weigher ``1 / (r + 1)``, additive pair weights, averaged
    over the rankings by ``a`` (ties broken by ``b``) and by ``b`` (ties by ``a``)::

        tau_w = sum_{i<j} w_ij s^a_ij s^b_ij
                / sqrt(sum_{i<j} w_ij |s^a_ij| * sum_{i<j} w_ij |s^b_ij|),
        w_ij = 1 / (r_i + 1) + 1 / (r_j + 1),   s^a_ij = sign(a_i - a_j).

    Vectorised over rows (scipy's is one call per row, 0.5 ms each: too slow for
    bootstraps of many measures); NaN where a denominator is 0.

    Shape:
        a, b ``(B, n)`` -> ``(B,)``.
    """
    n = a.shape[1]
    out = np.full(a.shape[0], np.nan)
    chunk = max(1, _CHUNK_ENTRIES // max(1, n * n))
    for begin in range(0, a.shape[0], chunk):
        ra, rb = a[begin: begin + chunk], b[begin: begin + chunk]
        sa = np.sign(ra[:, :, None] - ra[:, None, :])
        sb = np.sign(rb[:, :, None] - rb[:, None, :])
        # sum_{i<j} (w_i + w_j) c_ij = sum_i w_i sum_{j != i} c_ij for symmetric c, c_ii = 0
        concordance = np.einsum("kij,kij->ki", sa, sb)
        untied_a, untied_b = np.abs(sa).sum(axis=2), np.abs(sb).sum(axis=2)
        halves = []
        for rank in (_decreasing_rank(ra, rb), _decreasing_rank(rb, ra)):
            weight = 1.0 / (rank + 1.0)
            num = np.einsum("ki,ki->k", weight, concordance)
            den = np.sqrt(np.einsum("ki,ki->k", weight, untied_a)
                          * np.einsum("ki,ki->k", weight, untied_b))
            with np.errstate(invalid="ignore", divide="ignore"):
                halves.append(np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan))
        out[begin: begin + chunk] = (halves[0] + halves[1]) / 2.0
    return np.clip(out, -1.0, 1.0)


_ROW_FUNCTIONS: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "spearman": _spearman_rows,
    "kendall": _kendall_rows,
    "pearson": _pearson_rows,
    "weighted_tau": _weighted_tau_rows,
}
_SCIPY_FUNCTIONS = {"spearman": sps.spearmanr, "kendall": sps.kendalltau,
                    "pearson": sps.pearsonr, "weighted_tau": sps.weightedtau}


def _point_estimates(
    x: np.ndarray, y: np.ndarray, functions: Mapping[str, Callable]
) -> dict[str, float]:
    """Point estimates (scipy for the named coefficients) and scipy p-values.

    NaN when a side is constant (the correlations are undefined there).
    """
    result: dict[str, float] = {}
    constant = np.all(x == x[0]) or np.all(y == y[0])
    for method, rows in functions.items():
        if constant:
            result[method] = np.nan
            if method in _SCIPY_P:
                result[f"{method}_p_scipy"] = np.nan
            continue
        if method in _SCIPY_FUNCTIONS:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                res = _SCIPY_FUNCTIONS[method](x, y)
            result[method] = float(np.clip(res.statistic, -1.0, 1.0))
            if method in _SCIPY_P:
                result[f"{method}_p_scipy"] = float(res.pvalue)
        else:
            result[method] = float(rows(x[None], y[None])[0])
    return result


def _canonical_order(
    n: int, groups: np.ndarray | None, ids: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """Order of the sources by (group label, source id, position) and their group codes.

    Resampling in this order makes the result independent of the row order of the
    table it came from (a leaderboard sorted by truth and a correlation table in
    experiment order resample the same sources).
    """
    position = np.arange(n)
    keys: list[np.ndarray] = [position]
    if ids is not None:
        keys.insert(0, pd.factorize(ids.astype(str), sort=True)[0])
    if groups is not None:
        keys.insert(0, pd.factorize(groups, sort=True)[0])
    order = np.lexsort(keys[::-1])
    if groups is None:
        codes = np.arange(n)
    else:
        codes = pd.factorize(groups[order], sort=True)[0]
    return order, codes


def _resample_batches(
    codes: np.ndarray, n_boot: int, rng: np.random.Generator
) -> list[np.ndarray]:
    """Cluster-bootstrap resamples of source indices, stacked by length.

    ``n_boot`` draws of ``n_groups`` groups with replacement; a resample holds every
    source of every drawn group. Resamples of equal length are stacked so the
    statistics stay vectorised (the order of replicates does not affect percentiles).
    With one source per group this is ``rng.integers(0, n, size=(n_boot, n))``.
    """
    n_groups = int(codes.max()) + 1
    picks = rng.integers(0, n_groups, size=(n_boot, n_groups))
    if n_groups == codes.size:  # one source per group: the ordinary bootstrap
        return [picks]
    members = [np.flatnonzero(codes == g) for g in range(n_groups)]
    rows = [np.concatenate([members[g] for g in row]) for row in picks]
    return [np.stack([row for row in rows if row.size == size])
            for size in sorted({row.size for row in rows})]


def _block_permutations(
    codes: np.ndarray, n_perm: int, rng: np.random.Generator
) -> tuple[np.ndarray, bool]:
    """Index arrays that move whole groups' y-blocks onto groups of the same size.

    Returns ``(index, exact)``: ``index`` of shape (P, n) with ``y[index[p]]`` the p-th
    permuted knowledge vector, and whether P enumerates every block permutation (the
    identity included) rather than ``n_perm`` random ones.
    """
    n_groups = int(codes.max()) + 1
    members = [np.flatnonzero(codes == g) for g in range(n_groups)]
    sizes = np.array([m.size for m in members])
    strata = [np.flatnonzero(sizes == s) for s in np.unique(sizes)]
    total = math.prod(math.factorial(len(s)) for s in strata)
    if total <= n_perm:
        per_stratum = [list(itertools.permutations(range(len(s)))) for s in strata]
        mappings = []
        for combo in itertools.product(*per_stratum):
            target = np.arange(n_groups)
            for stratum, perm in zip(strata, combo, strict=True):
                target[stratum] = stratum[list(perm)]
            mappings.append(target)
        exact = True
    else:
        mappings = []
        for _ in range(n_perm):
            target = np.arange(n_groups)
            for stratum in strata:
                target[stratum] = stratum[rng.permutation(len(stratum))]
            mappings.append(target)
        exact = False
    index = np.empty((len(mappings), codes.size), dtype=np.intp)
    for p, target in enumerate(mappings):
        for g in range(n_groups):
            index[p, members[g]] = members[target[g]]
    return index, exact


def _group_permutations(
    n_groups: int, n_perm: int, rng: np.random.Generator
) -> tuple[np.ndarray, bool]:
    """Permutations of ``n_groups`` group means: all of them, or ``n_perm`` random ones."""
    if math.factorial(n_groups) <= n_perm:
        return np.array(list(itertools.permutations(range(n_groups)))), True
    return np.stack([rng.permutation(n_groups) for _ in range(n_perm)]), False


def _permutation_pvalues(
    x: np.ndarray,
    y: np.ndarray,
    codes: np.ndarray,
    functions: Mapping[str, Callable],
    observed: Mapping[str, float],
    n_perm: int,
    rng: np.random.Generator,
) -> tuple[dict[str, float], int, str]:
    """Two-sided group-level permutation p-values; see :func:`source_inference`."""
    n_groups = int(codes.max()) + 1
    sizes = np.bincount(codes)
    block_total = math.prod(math.factorial(int(c)) for c in np.bincount(sizes)[1:])
    if sizes.min() == sizes.max() or block_total >= _MIN_BLOCK_PERMUTATIONS:
        scheme = "blocks"
        index, exact = _block_permutations(codes, n_perm, rng)
        xs, ys = np.broadcast_to(x, index.shape), y[index]
        reference = observed
    else:
        scheme = "group_means"
        xm = np.bincount(codes, weights=x) / sizes
        ym = np.bincount(codes, weights=y) / sizes
        index, exact = _group_permutations(n_groups, n_perm, rng)
        xs, ys = np.broadcast_to(xm, index.shape), ym[index]
        reference = {m: float(f(xm[None], ym[None])[0]) for m, f in functions.items()}
    xs = np.ascontiguousarray(xs)
    out: dict[str, float] = {}
    for method, rows in functions.items():
        t = reference[method]
        if not np.isfinite(t):
            out[f"{method}_p"] = np.nan
            continue
        values = rows(xs, ys)
        values = np.where(np.isfinite(values), values, 0.0)  # undefined counts as 0
        hits = int(np.sum(np.abs(values) >= abs(t) - _TIES))
        out[f"{method}_p"] = hits / values.size if exact else (1 + hits) / (1 + values.size)
    return out, int(index.shape[0]), scheme


def _percentiles(values: np.ndarray, ci: float) -> tuple[float, float]:
    finite = np.clip(values[np.isfinite(values)], -1.0, 1.0)
    if finite.size < 2:
        return np.nan, np.nan
    lo, hi = np.percentile(finite, [50.0 * (1.0 - ci), 50.0 * (1.0 + ci)])
    return float(lo), float(hi)


def _vector(values: Any, name: str, like: np.ndarray) -> np.ndarray | None:
    """``values`` as a 1-D array of the length of ``like`` (None stays None)."""
    if values is None:
        return None
    array = np.asarray(values)
    if array.ndim != 1 or array.shape != like.shape:
        raise ValueError(f"{name} must be 1-D with the length of x ({like.shape[0]}), got "
                         f"shape {array.shape}")
    return array


def _bootstrap_intervals(
    x: np.ndarray,
    y: np.ndarray,
    se: np.ndarray | None,
    codes: np.ndarray,
    functions: Mapping[str, Callable],
    n_boot: int,
    seed: int,
    ci: float,
) -> dict[str, float | int]:
    """Cluster-bootstrap intervals, and with ``se`` the ``*_full`` ones; see source_inference."""
    rng = np.random.default_rng(seed)
    noise_rng = np.random.default_rng([seed, 1])
    plain: dict[str, list[np.ndarray]] = {m: [] for m in functions}
    full: dict[str, list[np.ndarray]] = {m: [] for m in functions}
    for batch in _resample_batches(codes, n_boot, rng):
        xb, yb = x[batch], y[batch]
        valid = (np.ptp(xb, axis=1) > 0) & (np.ptp(yb, axis=1) > 0)
        for method, f in functions.items():
            plain[method].append(f(xb[valid], yb[valid]))
        if se is not None:
            yn = yb + se[batch] * noise_rng.standard_normal(yb.shape)
            valid = (np.ptp(xb, axis=1) > 0) & (np.ptp(yn, axis=1) > 0)
            for method, f in functions.items():
                full[method].append(f(xb[valid], yn[valid]))
    first = next(iter(functions))
    out: dict[str, float | int] = {"n_boot_valid": int(sum(v.size for v in plain[first]))}
    for method in functions:
        out[f"{method}_lo"], out[f"{method}_hi"] = _percentiles(np.concatenate(plain[method]), ci)
    if se is not None:
        out["n_boot_valid_full"] = int(sum(v.size for v in full[first]))
        for method in functions:
            out[f"{method}_lo_full"], out[f"{method}_hi_full"] = \
                _percentiles(np.concatenate(full[method]), ci)
    return out


def source_inference(
    x: Sequence[float] | np.ndarray,
    y: Sequence[float] | np.ndarray,
    *,
    groups: Sequence[Any] | np.ndarray | None = None,
    ids: Sequence[Any] | np.ndarray | None = None,
    y_se: Sequence[float] | np.ndarray | None = None,
    methods: Sequence[str] = _METHODS,
    rows: Mapping[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] | None = None,
    n_boot: int = 2000,
    n_perm: int = 2000,
    seed: int = 0,
    ci: float = 0.95,
) -> dict[str, Any]:
    r"""Association of a measure with a truth over grouped sources: estimate, intervals, p.

    Paper: Liang et al., §4.2; docs/method.md §7 (rank correlation of adversarial with knowledge
    transferability across sources). The one routine for inference over sources, used by
    every correlation table (:func:`correlation_table`) and every leaderboard
    (:func:`advtransfer.core.ranking.rank_agreement`).

    Sources are grouped by ``groups`` (the data set a source was trained on; its seeds are
    replicates, not independent draws). Pairs with a NaN on either side are dropped first;
    the rest are put in a canonical order (group label, ``ids``, position), so the result
    does not depend on the row order of the calling table.

    Estimates: scipy (spearmanr, kendalltau tau-b, pearsonr, weightedtau) on the sources
    themselves; NaN when a side is constant or fewer than 3 sources remain.

    Intervals (``m_lo``, ``m_hi``): percentile cluster bootstrap. Each of ``n_boot``
    replicates draws ``n_groups`` groups with replacement and takes all their sources
    (a group drawn twice contributes tied copies); the coefficient is computed on the
    sources of the replicate (not on group means, so seeds that disagree keep the
    interval off a degenerate [1, 1]). With one source per group this is the ordinary
    bootstrap over sources, with identical draws. Replicates in which x or y is constant
    are skipped for every coefficient; ``n_boot_valid`` counts the rest.

    Intervals with the truth's own noise (``m_lo_full``, ``m_hi_full``; NaN without
    ``y_se``): the same group replicates, and in each, every drawn source's y is redrawn
    as ``y + se * z``, z ~ N(0, 1) independent per drawn source (a second generator,
    seeded ``[seed, 1]``, so the plain intervals are unchanged). For an accuracy on n test
    images, ``se = sqrt(p (1 - p) / n)`` is the exact bootstrap-over-test-images standard
    error; the draws ignore that all sources share the same test images (shared hard
    images make the errors positively correlated, which would cancel in a ranking), so
    the ``_full`` interval is, if anything, conservative.

    p-values (``m_p``): two-sided permutation test of H0 "the knowledge values of a
    group are unrelated to its adversarial values", at group level:

    * ``permutation = "blocks"`` (all groups of one size, or >= 100 block permutations):
      the whole y-block of each group is moved onto another group of the *same size*
      (seeds aligned in id order; seeds are exchangeable within a group), x stays, and
      the source-level coefficient is recomputed. Under H0 (with groups independent and
      identically distributed within a size stratum) every block permutation is equally
      likely, so this is an exact test of the reported coefficient: strong group effects
      move the observed and the permuted statistics alike, which is what keeps the
      false-positive rate at alpha (scipy's p-values, treating seeds as independent
      sources, do not; see tests/test_inference.py).
    * ``permutation = "group_means"`` (groups of mixed sizes with too few block
      permutations): the coefficient of the group means of x and y is tested by
      permuting the group means of y over all groups. Means of groups of different sizes
      are not exactly exchangeable (their variances differ), so this is approximate.

    When all permutations number at most ``n_perm`` they are enumerated (identity
    included) and ``p = #{|T*| >= |T|} / N``; otherwise ``n_perm`` random permutations
    (generator seeded ``[seed, 2]``) give ``p = (1 + #{|T*| >= |T|}) / (1 + n_perm)``.
    Either way ``P(p <= alpha) <= alpha`` under H0. With G groups of equal size the
    smallest attainable p is 1 / G! (0.0083 for 5 groups).

    Args:
        x: Adversarial measure (or estimator score) per source.
        y: Knowledge measure (truth) per source.
        groups: Group label per source (None: every source is its own group).
        ids: Source names, used only to fix the canonical order (None: position).
        y_se: Standard error of each source's y (None: no ``_full`` intervals; NaN
            entries count as 0).
        methods: Coefficients among :data:`INFERENCE_METHODS`.
        rows: Extra statistics ``{name: f}``, ``f(a, b)`` row-wise on (B, m) arrays
            returning (B,) (point estimate ``f`` on the sources, same intervals and p).
        n_boot: Bootstrap replicates, >= 0 (0: NaN intervals).
        n_perm: Permutations, >= 0 (0: NaN p-values).
        seed: Seed of every random draw; results are deterministic for a seed.
        ci: Central coverage of the intervals, in (0, 1).

    Shape:
        x, y, groups, ids, y_se: (N,).

    Returns:
        Dict: ``n`` and ``n_sources`` (sources kept), ``n_groups`` (groups among them); per
        statistic ``m``: ``m``, ``m_lo``, ``m_hi``, ``m_lo_full``, ``m_hi_full``, ``m_p``
        (group permutation), and for spearman / kendall / pearson ``m_p_scipy`` (scipy,
        sources as independent); ``n_boot_valid``, ``n_boot_valid_full``, ``n_perm``
        (permutations used) and ``permutation`` (``"blocks"`` / ``"group_means"`` / "").

    Raises:
        ValueError: inputs not 1-D of equal length, missing group labels, unknown method,
            negative ``n_boot`` / ``n_perm``, ``ci`` outside (0, 1).
    """
    xa = np.asarray(x, dtype=np.float64)
    ya = np.asarray(y, dtype=np.float64)
    if xa.ndim != 1 or ya.ndim != 1 or xa.shape != ya.shape:
        raise ValueError(f"x and y must be 1-D of equal length, got shapes {xa.shape} and "
                         f"{ya.shape}")
    for value, name in ((n_boot, "n_boot"), (n_perm, "n_perm")):
        if isinstance(value, bool) or not isinstance(value, Integral) or value < 0:
            raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    if isinstance(ci, bool) or not isinstance(ci, Real) or not 0.0 < ci < 1.0:
        raise ValueError(f"ci must be in (0, 1), got {ci!r}")
    unknown = [m for m in methods if m not in _ROW_FUNCTIONS]
    if unknown:
        raise ValueError(f"unknown methods {unknown}; known: {', '.join(INFERENCE_METHODS)}")
    functions = {**{m: _ROW_FUNCTIONS[m] for m in methods}, **dict(rows or {})}

    group_array, id_array = _vector(groups, "groups", xa), _vector(ids, "ids", xa)
    se_array = _vector(y_se, "y_se", xa)
    if group_array is not None and pd.isna(group_array).any():
        raise ValueError("groups must not contain missing values")

    keep = np.isfinite(xa) & np.isfinite(ya)
    xa, ya = xa[keep], ya[keep]
    group_array = None if group_array is None else group_array[keep]
    id_array = None if id_array is None else id_array[keep]
    if se_array is not None:
        se_array = np.nan_to_num(np.asarray(se_array, dtype=np.float64)[keep], nan=0.0)
    n = int(xa.size)

    result: dict[str, Any] = {"n": n, "n_sources": n, "n_groups": 0}
    for method in functions:
        for suffix in ("", "_lo", "_hi", "_lo_full", "_hi_full", "_p"):
            result[f"{method}{suffix}"] = np.nan
        if method in _SCIPY_P:
            result[f"{method}_p_scipy"] = np.nan
    result.update(n_boot_valid=0, n_boot_valid_full=0, n_perm=0, permutation="")
    if n == 0:
        return result
    order, codes = _canonical_order(n, group_array, id_array)
    xa, ya = xa[order], ya[order]
    se_array = None if se_array is None else se_array[order]
    result["n_groups"] = int(codes.max()) + 1
    if n < 3:
        return result
    estimates = _point_estimates(xa, ya, functions)
    result.update(estimates)
    if not all(np.isfinite(estimates[m]) for m in functions if m in _ROW_FUNCTIONS):
        return result  # a constant side: nothing to resample or test

    if n_boot > 0:
        result.update(_bootstrap_intervals(xa, ya, se_array, codes, functions, int(n_boot),
                                           seed, ci))

    if n_perm > 0 and result["n_groups"] >= 2:
        pvalues, used, scheme = _permutation_pvalues(
            xa, ya, codes, functions, estimates, int(n_perm), np.random.default_rng([seed, 2]))
        result.update(pvalues)
        result["n_perm"], result["permutation"] = used, scheme
    return result


def rank_correlations(
    x: Sequence[float] | np.ndarray,
    y: Sequence[float] | np.ndarray,
    *,
    n_boot: int = 2000,
    seed: int = 0,
    ci: float = 0.95,
    groups: Sequence[Any] | np.ndarray | None = None,
    ids: Sequence[Any] | np.ndarray | None = None,
    y_se: Sequence[float] | np.ndarray | None = None,
    n_perm: int = 2000,
) -> dict[str, Any]:
    r"""Spearman, Kendall and Pearson correlations over sources: :func:`source_inference`.

    Formula::

        spearman = corr(rank(x), rank(y))          (average ranks for ties)
        kendall  = tau_b = (P - Q) / sqrt((P + Q + T_x)(P + Q + T_y))
        pearson  = corr(x, y)
        [lo, hi] = percentiles (1 - ci)/2 and (1 + ci)/2 over cluster-bootstrap replicates
        p        = group-level permutation p-value (``*_p_scipy``: scipy's, sources iid)

    Returns:
        The dict of :func:`source_inference` with methods spearman, kendall, pearson.
    """
    return source_inference(x, y, groups=groups, ids=ids, y_se=y_se, methods=_METHODS,
                            n_boot=n_boot, n_perm=n_perm, seed=seed, ci=ci)


def holm(pvalues: Sequence[float] | np.ndarray) -> np.ndarray:
    """Holm's step-down adjustment of a family of p-values (NaN entries left out).

    With the m finite p-values sorted, p_(1) <= ... <= p_(m)::

        p_holm_(i) = min(1, max_{j <= i} (m - j + 1) p_(j))

    Rejecting where ``p_holm <= alpha`` controls the family-wise error rate at alpha
    under any dependence between the tests (Holm, Scand. J. Stat. 1979).
    """
    p = np.asarray(pvalues, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    finite = np.flatnonzero(np.isfinite(p))
    m = finite.size
    if m == 0:
        return out
    order = finite[np.argsort(p[finite], kind="stable")]
    scaled = (m - np.arange(m)) * p[order]
    out[order] = np.minimum(1.0, np.maximum.accumulate(scaled))
    return out


def rank_duplicates(df: pd.DataFrame, columns: Sequence[str]) -> dict[str, str]:
    """Columns that rank the rows identically to an earlier column: ``{column: earlier}``.

    Two columns are rank-identical when they are finite on the same rows and their
    average ranks there agree exactly (e.g. ``adv_loss_ratio = cross_adv_loss / c``).
    Every coefficient of rank agreement (and Pearson, for an affine map) is then the
    same for both, so only the first is a separate hypothesis.
    """
    seen: list[tuple[str, np.ndarray, np.ndarray]] = []
    out: dict[str, str] = {}
    for column in columns:
        values = pd.to_numeric(df[column], errors="coerce").to_numpy(dtype=np.float64)
        finite = np.isfinite(values)
        ranks = sps.rankdata(values[finite]) if finite.any() else np.empty(0)
        for name, other_finite, other_ranks in seen:
            if np.array_equal(finite, other_finite) and np.array_equal(ranks, other_ranks) \
                    and finite.sum() >= 2:
                out[column] = name
                break
        else:
            seen.append((column, finite, ranks))
    return out


def annotate_family(
    table: pd.DataFrame,
    *,
    measure_col: str,
    truth_col: str,
    p_col: str,
    primary: tuple[str, str] | Sequence[str] | None = None,
    duplicates: Mapping[str, str] | None = None,
    exclude: np.ndarray | None = None,
) -> pd.DataFrame:
    """Add ``primary``, ``duplicate_of`` and ``p_holm`` to a table of (measure, truth) rows.

    The family is every row of the table (all measure x truth pairs), except rows whose
    measure duplicates another's ranking (``duplicates``: reported once, under the first
    measure; their ``duplicate_of`` names it and their ``p_holm`` is NaN), rows in
    ``exclude`` (e.g. a random baseline or a degenerate measure) and rows without a
    p-value. ``p_holm`` is :func:`holm` of ``p_col`` over the family; ``primary`` marks
    the row of the declared primary hypothesis ``(measure, truth)``.
    """
    out = table.copy()
    duplicates = dict(duplicates or {})
    out["duplicate_of"] = out[measure_col].map(lambda m: duplicates.get(m, "")).astype(str)
    if primary is not None:
        measure, truth = primary
        out["primary"] = (out[measure_col] == measure) & (out[truth_col] == truth)
    else:
        out["primary"] = False
    in_family = (out["duplicate_of"] == "").to_numpy().copy()
    if exclude is not None:
        in_family &= ~np.asarray(exclude, dtype=bool)
    p = pd.to_numeric(out[p_col], errors="coerce").to_numpy(dtype=np.float64)
    out["p_holm"] = holm(np.where(in_family, p, np.nan))
    return out


def correlation_table(
    df: pd.DataFrame,
    adversarial_cols: Sequence[str],
    knowledge_cols: Sequence[str],
    *,
    group_col: str | None = None,
    id_col: str | None = "model",
    n_boot: int = 2000,
    n_perm: int = 2000,
    seed: int = 0,
    ci: float = 0.95,
    primary: Sequence[str] | None = None,
    method: str = "spearman",
    se_suffix: str = "_se",
) -> pd.DataFrame:
    """Long table of :func:`source_inference` for every (adversarial, knowledge) pair.

    Paper: Liang et al., §4.2; docs/method.md §7 (per-source adversarial loss and tau's beside
    transfer accuracy/loss, and their rank correlation).

    Each row of ``df`` is one source. For each adversarial column a and knowledge column
    k, ``df[a]`` is correlated with ``df[k]`` with the same seed, so all rows use the same
    group resamples when no value is missing; a column ``k + se_suffix`` (e.g.
    ``probe_accuracy_se``), when present, gives the ``*_full`` intervals. The family of
    the Holm adjustment (``p_holm``, from ``method + "_p"``) is all pairs of the table,
    with rank-identical adversarial measures (:func:`rank_duplicates`) reported once.

    Args:
        df: One row per source.
        adversarial_cols: Columns with adversarial-transferability measures.
        knowledge_cols: Columns with knowledge-transferability measures.
        group_col: Column of the source's group (its training data set), or None.
        id_col: Column of source names (canonical order); ignored when absent.
        n_boot, n_perm, seed, ci: Passed to :func:`source_inference`.
        primary: The declared primary hypothesis ``(adversarial, knowledge)``.
        method: Coefficient whose p-values are Holm-adjusted.
        se_suffix: Suffix of the knowledge measures' standard-error columns.

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
    if method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}, got {method!r}")
    needed = list(adversarial_cols) + list(knowledge_cols)
    if group_col is not None:
        needed.append(group_col)
    missing = [c for c in needed if c not in df.columns]
    if missing:
        raise ValueError(f"columns {missing} are not in the data frame "
                         f"(have {list(df.columns)})")
    groups = None if group_col is None else df[group_col].to_numpy()
    ids = df[id_col].to_numpy() if id_col is not None and id_col in df else None
    rows = []
    for adversarial in adversarial_cols:
        for knowledge in knowledge_cols:
            se_col = f"{knowledge}{se_suffix}"
            se = pd.to_numeric(df[se_col], errors="coerce").to_numpy(dtype=np.float64) \
                if se_col in df else None
            stats = rank_correlations(
                pd.to_numeric(df[adversarial], errors="coerce").to_numpy(dtype=np.float64),
                pd.to_numeric(df[knowledge], errors="coerce").to_numpy(dtype=np.float64),
                n_boot=n_boot, n_perm=n_perm, seed=seed, ci=ci, groups=groups, ids=ids,
                y_se=se,
            )
            rows.append({"adversarial_measure": adversarial, "knowledge_measure": knowledge,
                         **stats})
    table = annotate_family(
        pd.DataFrame(rows), measure_col="adversarial_measure", truth_col="knowledge_measure",
        p_col=f"{method}_p", primary=primary,
        duplicates=rank_duplicates(df, list(adversarial_cols)),
    )
    return table[list(CORRELATION_COLUMNS)]


def inference_settings(config: Mapping[str, Any]) -> dict[str, Any]:
    """Keyword arguments of :func:`correlation_table` from a scenario's ``correlation`` block.

    ``{n_boot, n_perm, seed, group_col, primary}``; ``primary`` is the declared
    ``(adversarial, knowledge)`` pair (None when the block declares none). The same
    settings drive the scenario's leaderboard, so both tables resample alike.
    """
    primary = config.get("primary") or {}
    pair = (primary["adversarial"], primary["knowledge"]) \
        if primary.get("adversarial") and primary.get("knowledge") else None
    return {"n_boot": int(config.get("n_boot", 2000)), "n_perm": int(config.get("n_perm", 2000)),
            "seed": int(config.get("seed", 0)), "group_col": config.get("group_by"),
            "primary": pair}
