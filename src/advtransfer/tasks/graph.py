"""Task graphs from pairwise tournaments (Liang et al., §4.4, App. G.4, Figs. 4-5).

The adversarial transferability matrix (ATM) among ``N`` tasks is built one target task at
a time, with the analytic-hierarchy-process normalisation Taskonomy (Zamir et al., 2018)
used for its transfer affinities (the protocol as run is in docs/method.md §9.4):

1. **Tournament.** For target task ``T`` and sources ``i, j``,
   ``m_ij = (1/n) sum_x ( 1[l_i(x) > l_j(x)] + 1/2 1[l_i(x) = l_j(x)] )``, where
   ``l_i(x)`` is ``T``'s loss on image ``x`` under source ``i``'s adversarial example:
   the fraction of images on which ``i``'s example hurts ``T`` more than ``j``'s. Ties
   count one half so that ``m_ij + m_ji = 1`` and ``m_ii = 1/2``. Entries are clipped to
   ``[0.001, 0.999]`` so that no ratio below is infinite.
2. **Ratio matrix.** ``W = M / M^T`` element-wise: ``W_ij = m_ij / m_ji``. ``W`` is
   positive and reciprocal (``W_ji = 1 / W_ij``) but **not symmetric**.
3. **Perron vector.** The principal eigenvector ``w`` of ``W`` (Perron-Frobenius: the
   eigenvalue of largest real part is real and simple, its eigenvector can be taken
   positive), normalised to sum 1, is row ``T`` of the ATM. If ``W`` is consistent
   (``W_ij = w_i / w_j``) then ``W w = N w`` exactly. The authors' code used a symmetric
   eigen-solver (``eigh``), which silently reads one triangle of ``W``; here only general
   solvers are used (power iteration, or ``numpy.linalg.eig``).

Orientation. Every matrix here has **rows = target tasks, columns = source tasks**; the
ATM row of target ``T`` is a distribution over sources. The task tree clusters the
**columns**: each source task is described by its *transfer-out profile*, the vector of
how strongly it transfers to every target. This is what Taskonomy's task-similarity tree
and the authors' Fig. 4 do (``linkage(matrix.T)``) and, on the public Taskonomy affinity
slice, it recovers the 2D / 3D / semantic grouping far better than clustering rows
(adjusted Rand index at k = 3: 0.43 vs 0.13). On that slice, scaling each column to sum 1
(:func:`normalise` with ``axis="columns"``: scale-free transfer-out profiles) raises it to
0.77, while renormalising rows over the 15 sources lowers it to 0.15 (targets whose row
mass sits almost entirely on the diagonal become one-hot and dominate Ward's distances).

Same pipeline, two uses (``higher_is_more_transferable``):

* adversarial transferability: ``losses[i]`` = target loss on source ``i``'s adversarial
  examples; a *higher* loss means ``i`` transfers more -> ``True`` (the default);
* knowledge transferability: ``losses[i]`` = per-image test loss of the target head fitted
  on source ``i``'s frozen encoder; a *lower* loss means ``i`` transfers more -> ``False``.

Category agreement (Fig. 5). Cutting the tree into ``k`` clusters gives predicted task
categories; their agreement with reference categories is measured by the mean
within-cluster entropy of the reference labels (natural log, nats) and by the adjusted
Rand index.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy.cluster import hierarchy
from sklearn.metrics import adjusted_rand_score

__all__ = [
    "tournament_matrix",
    "ratio_matrix",
    "principal_eigenpair",
    "principal_eigenvector",
    "transferability_row",
    "atm",
    "atm_without_self",
    "exclude_self_transfer",
    "normalise",
    "task_tree",
    "cut_tree",
    "category_entropy",
    "mean_category_entropy",
    "entropy_curve",
    "tree_agreement_curve",
    "random_partition_curve",
]

FloatArray = NDArray[np.float64]
Norm = Literal["l1", "l2"]


# --------------------------------------------------------------------------- helpers


def _as_finite_2d(x: ArrayLike, name: str) -> FloatArray:
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 2-D, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} must not be empty, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite (no NaN or inf)")
    return arr


def _as_square(x: ArrayLike, name: str) -> FloatArray:
    arr = _as_finite_2d(x, name)
    if arr.shape[0] != arr.shape[1]:
        raise ValueError(f"{name} must be square, got shape {arr.shape}")
    return arr


def _normalise_vector(v: FloatArray, norm: Norm) -> FloatArray:
    if norm == "l1":
        return v / v.sum()
    if norm == "l2":
        return v / np.linalg.norm(v)
    raise ValueError(f"norm must be 'l1' or 'l2', got {norm!r}")


def _labels_1d(x: ArrayLike | Sequence[object], name: str) -> np.ndarray:
    arr = np.asarray(x, dtype=object)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} must not be empty")
    return arr


# --------------------------------------------------------------- tournament -> vector


def tournament_matrix(
    losses: ArrayLike,
    clip: tuple[float, float] = (0.001, 0.999),
    higher_is_more_transferable: bool = True,
) -> FloatArray:
    """Pairwise win fractions of sources for one target task (Liang et al., §4.4; Taskonomy).

    ``m_ij = mean_x( 1[l_i(x) > l_j(x)] + 1/2 * 1[l_i(x) = l_j(x)] )``, then clipped to
    ``clip``. Ties (exactly equal losses) count one half for each side, so before clipping
    ``m_ij + m_ji = 1`` and ``m_ii = 1/2``; with the default symmetric clip that still holds
    after clipping. With ``higher_is_more_transferable=False`` the comparison is flipped
    (``l_i(x) < l_j(x)`` wins), for losses where lower means better transfer (knowledge
    transfer: test loss of a target head on a frozen source encoder).

    Args:
        losses: the target task's per-image loss under each source. For adversarial
            transferability: loss on source ``i``'s adversarial example of image ``x``.
        clip: ``(low, high)`` with ``0 < low <= 0.5 <= high <= 1``; ``low > 0`` keeps the
            ratio matrix finite.
        higher_is_more_transferable: ``True`` for adversarial losses (more damage = more
            transfer), ``False`` for knowledge-transfer test losses (lower = more transfer).

    Shape:
        losses: ``(n_sources, n_images)``.

    Returns:
        ``(n_sources, n_sources)`` float64 matrix ``M`` with diagonal ``0.5``.
    """
    arr = _as_finite_2d(losses, "losses")
    low, high = (float(c) for c in clip)
    if not (0.0 < low <= 0.5 <= high <= 1.0):
        raise ValueError(f"clip must satisfy 0 < low <= 0.5 <= high <= 1, got {clip}")
    if not higher_is_more_transferable:
        arr = -arr
    n_sources, n_images = arr.shape
    m = np.empty((n_sources, n_sources), dtype=np.float64)
    for i in range(n_sources):  # O(n_sources) vectorised rows; memory O(n_sources * n_images)
        wins = (arr[i][None, :] > arr).sum(axis=1)
        ties = (arr[i][None, :] == arr).sum(axis=1)
        m[i] = (wins + 0.5 * ties) / n_images
    np.clip(m, low, high, out=m)
    np.fill_diagonal(m, 0.5)
    return m


def ratio_matrix(m: ArrayLike) -> FloatArray:
    """Element-wise ratio ``W = M / M^T`` of a tournament matrix (Taskonomy's AHP step).

    ``W_ij = m_ij / m_ji``. For a tournament matrix (``m_ij + m_ji = 1``) ``W`` is positive
    and reciprocal (``W_ji = 1 / W_ij``, ``W_ii = 1``) but not symmetric.

    Args:
        m: strictly positive square matrix (e.g. from :func:`tournament_matrix`).

    Shape:
        m: ``(n, n)``.

    Returns:
        ``(n, n)`` float64 matrix ``W``.
    """
    arr = _as_square(m, "m")
    if np.any(arr <= 0):
        raise ValueError("m must be strictly positive (clip the tournament matrix first)")
    return arr / arr.T


def principal_eigenpair(
    w: ArrayLike,
    method: Literal["power", "eig"] = "power",
    tol: float = 1e-12,
    max_iter: int = 10_000,
    norm: Norm = "l1",
) -> tuple[float, FloatArray]:
    """Perron eigenvalue and positive eigenvector of a non-negative, possibly non-symmetric matrix.

    Perron-Frobenius: for a positive (or non-negative, irreducible and primitive) matrix the
    eigenvalue ``lambda`` of largest real part equals the spectral radius, is real and simple,
    and its eigenvector ``v`` (``W v = lambda v``) can be chosen with positive entries.

    * ``method="power"``: ``v_{t+1} = W v_t / ||W v_t||_1`` from the uniform vector, until
      ``||v_{t+1} - v_t||_1 <= tol``; converges geometrically at rate ``|lambda_2| / lambda``.
      ``lambda = sum(W v) / sum(v)`` at convergence.
    * ``method="eig"``: ``numpy.linalg.eig`` (general, non-symmetric LAPACK ``geev``); the
      eigenvalue with the largest real part is taken and its eigenvector rotated to be real
      and positive.

    A symmetric solver (``eigh``) must not be used: it reads only one triangle of ``W``.

    Args:
        w: square non-negative matrix (e.g. from :func:`ratio_matrix`).
        method: ``"power"`` or ``"eig"``.
        tol: L1 convergence tolerance of power iteration (also the tolerance for the
            imaginary part / sign checks of ``"eig"``).
        max_iter: power-iteration budget; exceeding it raises ``RuntimeError``.
        norm: ``"l1"`` -> entries sum to 1 (the ATM convention); ``"l2"`` -> unit Euclidean
            norm.

    Shape:
        w: ``(n, n)``.

    Returns:
        ``(lambda, v)``: the Perron eigenvalue (float) and the ``(n,)`` positive eigenvector.
    """
    arr = _as_square(w, "w")
    if np.any(arr < 0):
        raise ValueError("w must be non-negative (Perron-Frobenius)")
    if tol <= 0:
        raise ValueError(f"tol must be > 0, got {tol}")
    if max_iter < 1:
        raise ValueError(f"max_iter must be >= 1, got {max_iter}")
    if norm not in ("l1", "l2"):
        raise ValueError(f"norm must be 'l1' or 'l2', got {norm!r}")
    n = arr.shape[0]

    if method == "power":
        v = np.full(n, 1.0 / n)
        for _ in range(max_iter):
            u = arr @ v
            total = u.sum()
            if not total > 0:
                raise ValueError("w maps the positive vector to zero: it has no Perron vector")
            u /= total
            converged = np.abs(u - v).sum() <= tol
            v = u
            if converged:
                break
        else:
            raise RuntimeError(
                f"power iteration did not converge in {max_iter} iterations (tol={tol}); "
                "the matrix may be reducible/periodic, try method='eig' or a larger max_iter"
            )
        value = float((arr @ v).sum() / v.sum())
    elif method == "eig":
        values, vectors = np.linalg.eig(arr)
        idx = int(np.argmax(values.real))
        value_c = values[idx]
        vec = vectors[:, idx]
        vec = vec / vec[np.argmax(np.abs(vec))]  # rotate phase: largest entry real, 1
        scale = max(1.0, abs(value_c))
        if abs(value_c.imag) > 1e3 * tol * scale or np.max(np.abs(vec.imag)) > 1e3 * tol + 1e-9:
            raise ValueError("leading eigenpair is not real: w is not a Perron matrix")
        value, v = float(value_c.real), vec.real
    else:
        raise ValueError(f"method must be 'power' or 'eig', got {method!r}")

    if np.any(v < -1e-9 * np.max(np.abs(v))):
        raise ValueError("leading eigenvector has mixed signs: w is not irreducible")
    v = np.clip(v, 0.0, None)
    return value, _normalise_vector(v, norm)


def principal_eigenvector(
    w: ArrayLike,
    method: Literal["power", "eig"] = "power",
    tol: float = 1e-12,
    max_iter: int = 10_000,
    norm: Norm = "l1",
) -> FloatArray:
    """Positive Perron eigenvector of a non-negative, possibly non-symmetric matrix.

    Thin wrapper of :func:`principal_eigenpair` that drops the eigenvalue.

    Args:
        w: square non-negative matrix, e.g. the ratio matrix ``M / M^T``.
        method: ``"power"`` (power iteration with an L1 convergence check) or ``"eig"``
            (``numpy.linalg.eig``, eigenvalue of largest real part).
        tol: convergence tolerance.
        max_iter: power-iteration budget.
        norm: ``"l1"`` (sum 1, default, the ATM convention) or ``"l2"`` (unit length).

    Shape:
        w: ``(n, n)``.

    Returns:
        ``(n,)`` float64 vector with non-negative entries (positive for positive ``w``).
    """
    return principal_eigenpair(w, method=method, tol=tol, max_iter=max_iter, norm=norm)[1]


def transferability_row(
    losses: ArrayLike,
    clip: tuple[float, float] = (0.001, 0.999),
    higher_is_more_transferable: bool = True,
    method: Literal["power", "eig"] = "power",
    norm: Norm = "l1",
) -> FloatArray:
    """One ATM row: Perron vector of ``M / M^T`` for one target task (Liang et al., §4.4).

    ``row = perron( tournament(losses) / tournament(losses)^T )``, normalised by ``norm``.
    Entry ``i`` is large when source ``i`` beats the other sources on many images.

    Args:
        losses: target-task losses under each source, see :func:`tournament_matrix`.
        clip: tournament clip interval.
        higher_is_more_transferable: ``True`` for adversarial losses, ``False`` for
            knowledge-transfer test losses.
        method: eigen-solver, see :func:`principal_eigenvector`.
        norm: ``"l1"`` (sum 1) or ``"l2"``.

    Shape:
        losses: ``(n_sources, n_images)``.

    Returns:
        ``(n_sources,)`` positive float64 vector.
    """
    m = tournament_matrix(
        losses, clip=clip, higher_is_more_transferable=higher_is_more_transferable
    )
    return principal_eigenvector(ratio_matrix(m), method=method, norm=norm)


def atm(
    losses_by_target: Mapping[str, ArrayLike],
    sources: Sequence[str] | None = None,
    clip: tuple[float, float] = (0.001, 0.999),
    higher_is_more_transferable: bool = True,
    method: Literal["power", "eig"] = "power",
    norm: Norm = "l1",
) -> pd.DataFrame:
    """Transferability matrix over tasks, rows = targets, columns = sources (Liang et al., Fig. 4).

    Row ``T`` is :func:`transferability_row` of ``losses_by_target[T]``.

    * Adversarial transferability matrix: ``losses_by_target[T][i, x]`` = loss of task ``T``
      on source ``i``'s adversarial example of image ``x``; ``higher_is_more_transferable=True``.
    * Knowledge-transfer affinity with the same normalisation: ``losses_by_target[T][i, x]``
      = test loss on image ``x`` of the ``T`` head fitted on source ``i``'s frozen encoder;
      ``higher_is_more_transferable=False`` (lower loss = better transfer).

    Args:
        losses_by_target: mapping target name -> loss array; all arrays must have the same
            number of sources (images may differ between targets).
        sources: source names, in the row order of the loss arrays. ``None`` -> the targets'
            names in mapping order (the usual case: every task is both source and target);
            then the number of sources must equal the number of targets.
        clip, higher_is_more_transferable, method, norm: see :func:`transferability_row`.

    Shape:
        each value: ``(n_sources, n_images_T)``.

    Returns:
        ``DataFrame`` of shape ``(n_targets, n_sources)``, index named ``"target"`` and
        columns named ``"source"``; each row sums to 1 (``norm="l1"``).
    """
    if len(losses_by_target) == 0:
        raise ValueError("losses_by_target must not be empty")
    targets = list(losses_by_target)
    rows = []
    n_sources: int | None = None
    for target in targets:
        arr = _as_finite_2d(losses_by_target[target], f"losses_by_target[{target!r}]")
        if n_sources is None:
            n_sources = arr.shape[0]
        elif arr.shape[0] != n_sources:
            raise ValueError(
                f"losses_by_target[{target!r}] has {arr.shape[0]} sources, expected {n_sources}"
            )
        rows.append(
            transferability_row(
                arr,
                clip=clip,
                higher_is_more_transferable=higher_is_more_transferable,
                method=method,
                norm=norm,
            )
        )
    assert n_sources is not None
    if sources is None:
        if n_sources != len(targets):
            raise ValueError(
                f"{n_sources} sources but {len(targets)} targets: pass `sources` explicitly"
            )
        sources = targets
    sources = list(sources)
    if len(sources) != n_sources:
        raise ValueError(f"got {len(sources)} source names for {n_sources} sources")
    if len(set(sources)) != len(sources):
        raise ValueError("source names must be unique")
    return pd.DataFrame(
        np.vstack(rows),
        index=pd.Index(targets, name="target"),
        columns=pd.Index(sources, name="source"),
    )


def atm_without_self(
    losses_by_target: Mapping[str, ArrayLike],
    clip: tuple[float, float] = (0.001, 0.999),
    higher_is_more_transferable: bool = True,
    method: Literal["power", "eig"] = "power",
) -> pd.DataFrame:
    """Transferability matrix with each target's own model left out of its tournament.

    Every task is both a source and a target (sources in the order of the mapping). For
    target ``T`` the tournament, ratio matrix and Perron vector are computed over the
    ``N - 1`` *other* sources (their row sums to 1); the diagonal entry is then set to the
    row's largest off-diagonal entry (:func:`exclude_self_transfer`).

    Why: a task's own (white-box) adversarial examples, or its own encoder, beat every other
    source on nearly every image, so the clipped tournament gives ``m_Tj = 0.999`` and the
    Perron vector puts ~99 % of row ``T`` on the diagonal; the transfer among *different*
    tasks, which the task tree is about, is squeezed into the clip floor. Filling the
    diagonal with the row maximum ("the task transfers to itself at least as well as its
    best other source") keeps the columns comparable for clustering: the coordinate of row
    ``T`` then pulls source ``T`` towards ``T``'s best other sources.

    Args:
        losses_by_target: target -> ``(N, n_images)`` losses, sources in mapping order.
        clip, higher_is_more_transferable, method: see :func:`transferability_row`.

    Returns:
        ``DataFrame`` ``(N, N)``, index ``target``, columns ``source``.
    """
    targets = list(losses_by_target)
    n = len(targets)
    if n < 3:
        raise ValueError(f"need at least 3 tasks to leave one out of each row, got {n}")
    rows = []
    for i, target in enumerate(targets):
        arr = _as_finite_2d(losses_by_target[target], f"losses_by_target[{target!r}]")
        if arr.shape[0] != n:
            raise ValueError(
                f"losses_by_target[{target!r}] has {arr.shape[0]} sources, expected {n} "
                "(every task is a source)"
            )
        row = transferability_row(
            np.delete(arr, i, axis=0), clip=clip,
            higher_is_more_transferable=higher_is_more_transferable, method=method,
        )
        rows.append(np.insert(row, i, row.max()))
    return pd.DataFrame(
        np.vstack(rows),
        index=pd.Index(targets, name="target"),
        columns=pd.Index(targets, name="source"),
    )


def exclude_self_transfer(matrix: pd.DataFrame) -> pd.DataFrame:
    """Drop self-transfer from a square target x source matrix (see :func:`atm_without_self`).

    Off-diagonal entries of every row are rescaled to sum 1 (for a consistent reciprocal
    matrix this equals recomputing the Perron vector without the diagonal source); the
    diagonal is set to the row's largest off-diagonal entry.

    Args:
        matrix: non-negative square ``DataFrame`` with ``index == columns`` (same tasks).

    Returns:
        ``DataFrame`` of the same shape and labels.
    """
    arr = _as_square(matrix, "matrix")
    if list(matrix.index) != list(matrix.columns):
        raise ValueError("matrix rows and columns must name the same tasks in the same order")
    if np.any(arr < 0):
        raise ValueError("matrix must be non-negative")
    off = arr.copy()
    np.fill_diagonal(off, 0.0)
    sums = off.sum(axis=1, keepdims=True)
    if np.any(sums == 0):
        raise ValueError("a row has no off-diagonal mass")
    off /= sums
    np.fill_diagonal(off, off.max(axis=1))
    return pd.DataFrame(off, index=matrix.index, columns=matrix.columns)


def normalise(
    matrix: pd.DataFrame, axis: Literal["rows", "columns"], norm: Norm = "l1"
) -> pd.DataFrame:
    """Scale every row (or column) of a non-negative matrix to unit L1 or L2 norm.

    ``axis="rows"`` with ``norm="l1"`` gives every target a distribution over sources, the
    normalisation of an ATM row; apply it to a slice of a larger affinity matrix (e.g. 15 of
    Taskonomy's 37 sources) to renormalise over the kept sources. For a consistent
    reciprocal matrix this equals recomputing the Perron vector on the subset (ratios
    ``w_i / w_j`` are preserved). ``axis="columns"`` makes each source's transfer-out profile
    scale-free before clustering.

    Args:
        matrix: non-negative ``DataFrame``.
        axis: ``"rows"`` or ``"columns"``.
        norm: ``"l1"`` or ``"l2"``.

    Shape:
        matrix: ``(n_targets, n_sources)``.

    Returns:
        ``DataFrame`` of the same shape and labels.
    """
    arr = _as_finite_2d(matrix, "matrix")
    if np.any(arr < 0):
        raise ValueError("matrix must be non-negative")
    if axis not in ("rows", "columns"):
        raise ValueError(f"axis must be 'rows' or 'columns', got {axis!r}")
    ax = 1 if axis == "rows" else 0
    if norm == "l1":
        scale = arr.sum(axis=ax, keepdims=True)
    elif norm == "l2":
        scale = np.linalg.norm(arr, axis=ax, keepdims=True)
    else:
        raise ValueError(f"norm must be 'l1' or 'l2', got {norm!r}")
    if np.any(scale == 0):
        raise ValueError(f"matrix has an all-zero {axis[:-1]}")
    return pd.DataFrame(arr / scale, index=matrix.index, columns=matrix.columns)


# ------------------------------------------------------------------ tree and entropy


def task_tree(
    matrix: pd.DataFrame,
    method: Literal["ward", "average", "complete", "single"] = "ward",
    metric: str = "euclidean",
) -> FloatArray:
    """Agglomerative task tree over the COLUMNS of a target x source matrix (Fig. 4).

    Each column (source task) is one observation whose features are its values over the
    targets (rows): ``Z = scipy.cluster.hierarchy.linkage(matrix.T, method, metric)``. The
    leaves of ``Z`` are in the order of ``matrix.columns``.

    Args:
        matrix: ``DataFrame`` with rows = targets, columns = sources (e.g. :func:`atm`).
        method: linkage method; ``"ward"`` (default, as in the paper) requires ``metric
            ="euclidean"``.
        metric: distance between feature vectors.

    Shape:
        matrix: ``(n_targets, n_sources)`` with ``n_sources >= 2``.

    Returns:
        SciPy linkage matrix of shape ``(n_sources - 1, 4)``.
    """
    arr = _as_finite_2d(matrix, "matrix")
    if arr.shape[1] < 2:
        raise ValueError(f"need at least 2 columns (tasks) to build a tree, got {arr.shape[1]}")
    if method not in ("ward", "average", "complete", "single"):
        raise ValueError(f"method must be ward, average, complete or single, got {method!r}")
    if method == "ward" and metric != "euclidean":
        raise ValueError("Ward linkage requires metric='euclidean'")
    return hierarchy.linkage(arr.T, method=method, metric=metric)


def cut_tree(linkage: ArrayLike, k: int) -> NDArray[np.int64]:
    """Cut a linkage tree into exactly ``k`` clusters by undoing its last ``k - 1`` merges.

    The first ``n - k`` merges of ``linkage`` (rows are in merge order) are applied with a
    union-find; for monotone linkages (Ward, average, complete, single) this equals cutting
    the dendrogram at a height between merge ``n - k`` and ``n - k + 1``. Unlike
    ``fcluster(..., criterion="maxclust")`` it always returns exactly ``k`` clusters, also
    when merge heights tie.

    Args:
        linkage: SciPy linkage matrix of ``n`` leaves.
        k: number of clusters, ``1 <= k <= n``.

    Shape:
        linkage: ``(n - 1, 4)``.

    Returns:
        ``(n,)`` integer labels in ``0..k-1``, numbered by first appearance in leaf order.
    """
    z = np.asarray(linkage, dtype=np.float64)
    if z.ndim != 2 or z.shape[1] != 4:
        raise ValueError(f"linkage must have shape (n - 1, 4), got {z.shape}")
    hierarchy.is_valid_linkage(z, throw=True, name="linkage")
    n = z.shape[0] + 1
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= n:
        raise ValueError(f"k must be an integer in [1, {n}], got {k!r}")
    parent = list(range(2 * n - 1))

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for step in range(n - k):
        left, right = int(z[step, 0]), int(z[step, 1])
        parent[find(left)] = n + step
        parent[find(right)] = n + step
    roots = [find(leaf) for leaf in range(n)]
    relabel: dict[int, int] = {}
    return np.array([relabel.setdefault(r, len(relabel)) for r in roots], dtype=np.int64)


def category_entropy(labels: ArrayLike | Sequence[object]) -> float:
    """Shannon entropy (natural log, nats) of the empirical distribution of ``labels``.

    ``H = -sum_c p_c ln p_c`` with ``p_c`` the fraction of entries equal to ``c``.

    Args:
        labels: hashable category labels.

    Shape:
        labels: ``(n,)``.

    Returns:
        Entropy in nats, ``0 <= H <= ln(#categories)``.
    """
    arr = _labels_1d(labels, "labels")
    _, counts = np.unique(arr.astype(str), return_counts=True)
    p = counts / counts.sum()
    return float(-(p * np.log(p)).sum())


def mean_category_entropy(
    predicted_labels: ArrayLike | Sequence[object],
    reference_categories: ArrayLike | Sequence[object],
    weighting: Literal["size", "uniform"] = "size",
) -> float:
    """Mean within-cluster entropy of reference categories (Liang et al., Fig. 5).

    For each predicted cluster ``c`` let ``H_c`` be the entropy (natural log, nats) of the
    reference-category distribution among the tasks in ``c``. The score is

    * ``weighting="size"`` (default): ``sum_c (|c| / n) H_c``, i.e. the conditional entropy
      ``H(reference | predicted)``. Every task counts once, so splitting off singleton
      clusters (``H_c = 0``) is not rewarded beyond the tasks it actually separates.
    * ``weighting="uniform"``: ``(1/k) sum_c H_c``, the authors' plain average over
      clusters, which lets many small (pure) clusters hide one large mixed one.

    0 means every predicted cluster is category-pure (e.g. identical partitions); for one
    cluster (``k = 1``) both equal the entropy of the reference-category distribution.
    Lower = more agreement.

    Args:
        predicted_labels: cluster label of each task (e.g. from :func:`cut_tree`).
        reference_categories: reference category of each task, same order.
        weighting: ``"size"`` or ``"uniform"``.

    Shape:
        predicted_labels, reference_categories: ``(n,)``.

    Returns:
        Entropy in nats.
    """
    pred = _labels_1d(predicted_labels, "predicted_labels").astype(str)
    ref = _labels_1d(reference_categories, "reference_categories").astype(str)
    if pred.shape != ref.shape:
        raise ValueError(
            f"predicted_labels and reference_categories differ in length: {pred.size} vs {ref.size}"
        )
    if weighting not in ("size", "uniform"):
        raise ValueError(f"weighting must be 'size' or 'uniform', got {weighting!r}")
    clusters = np.unique(pred)
    entropies = np.array([category_entropy(ref[pred == c]) for c in clusters])
    if weighting == "uniform":
        return float(entropies.mean())
    sizes = np.array([(pred == c).sum() for c in clusters], dtype=np.float64)
    return float((sizes / sizes.sum() * entropies).sum())


def _ks(n: int, ks: Sequence[int] | None) -> list[int]:
    out = list(range(1, n + 1)) if ks is None else [int(k) for k in ks]
    if not out:
        raise ValueError("ks must not be empty")
    bad = [k for k in out if not 1 <= k <= n]
    if bad:
        raise ValueError(f"every k must lie in [1, {n}], got {bad}")
    return out


def entropy_curve(
    linkage: ArrayLike,
    reference: ArrayLike | Sequence[object],
    ks: Sequence[int] | None = None,
    weighting: Literal["size", "uniform"] = "size",
) -> pd.DataFrame:
    """Agreement of a task tree with fixed reference categories for k = 1..N (Fig. 5).

    For each ``k``: cut the tree into ``k`` clusters (:func:`cut_tree`) and report
    :func:`mean_category_entropy` of ``reference`` within clusters and the adjusted Rand
    index (``sklearn.metrics.adjusted_rand_score``) between clusters and ``reference``.

    Args:
        linkage: linkage matrix over ``n`` tasks (leaf order = order of ``reference``).
        reference: reference category of each task (e.g. 2D / 3D / semantic).
        ks: cluster counts; default ``1..n``.
        weighting: entropy weighting, see :func:`mean_category_entropy`.

    Shape:
        linkage: ``(n - 1, 4)``; reference: ``(n,)``.

    Returns:
        ``DataFrame`` with columns ``k`` (int), ``entropy`` (nats) and ``ari``.
    """
    z = np.asarray(linkage, dtype=np.float64)
    ref = _labels_1d(reference, "reference").astype(str)
    n = z.shape[0] + 1 if z.ndim == 2 else -1
    if ref.size != n:
        raise ValueError(f"reference has {ref.size} entries but the tree has {n} leaves")
    records = []
    for k in _ks(n, ks):
        labels = cut_tree(z, k)
        records.append(
            {
                "k": k,
                "entropy": mean_category_entropy(labels, ref, weighting=weighting),
                "ari": float(adjusted_rand_score(ref, labels)),
            }
        )
    return pd.DataFrame.from_records(records, columns=["k", "entropy", "ari"])


def tree_agreement_curve(
    linkage: ArrayLike,
    reference_linkage: ArrayLike,
    ks: Sequence[int] | None = None,
    weighting: Literal["size", "uniform"] = "size",
) -> pd.DataFrame:
    """Agreement of two task trees over the same tasks, both cut at each k (Fig. 5).

    For each ``k`` both trees are cut into ``k`` clusters; the reference tree's clusters
    (e.g. from knowledge transferability) are the categories whose within-cluster entropy is
    measured inside the predicted tree's clusters (e.g. from adversarial transferability).
    This is the authors' Fig. 5 comparison (they used ``weighting="uniform"``).

    Args:
        linkage: predicted tree over ``n`` tasks.
        reference_linkage: reference tree over the same ``n`` tasks in the same leaf order.
        ks: cluster counts; default ``1..n``.
        weighting: entropy weighting, see :func:`mean_category_entropy`.

    Shape:
        linkage, reference_linkage: ``(n - 1, 4)``.

    Returns:
        ``DataFrame`` with columns ``k``, ``entropy`` (nats) and ``ari``.
    """
    z = np.asarray(linkage, dtype=np.float64)
    z_ref = np.asarray(reference_linkage, dtype=np.float64)
    if z.shape != z_ref.shape:
        raise ValueError(f"trees differ in size: {z.shape} vs {z_ref.shape}")
    n = z.shape[0] + 1
    records = []
    for k in _ks(n, ks):
        labels, ref = cut_tree(z, k), cut_tree(z_ref, k)
        records.append(
            {
                "k": k,
                "entropy": mean_category_entropy(labels, ref, weighting=weighting),
                "ari": float(adjusted_rand_score(ref, labels)),
            }
        )
    return pd.DataFrame.from_records(records, columns=["k", "entropy", "ari"])


def random_partition_curve(
    linkage: ArrayLike,
    reference: ArrayLike | Sequence[object],
    permutations: int = 200,
    seed: int = 0,
    ks: Sequence[int] | None = None,
    weighting: Literal["size", "uniform"] = "size",
) -> pd.DataFrame:
    """Chance level of :func:`entropy_curve`: the tree's clusters with the leaves shuffled.

    For each ``k`` the tree is cut into ``k`` clusters (:func:`cut_tree`), the cluster
    labels are permuted over the tasks ``permutations`` times (a random assignment of
    tasks to clusters of the same sizes) and the mean within-category entropy and the
    adjusted Rand index against ``reference`` are averaged. A tree that recovers the
    reference categories lies below this curve (entropy) / above it (ARI, ~0 here).

    Args:
        linkage: linkage matrix over ``n`` tasks.
        reference: reference category of each task.
        permutations: number of random permutations (>= 1).
        seed: seed of ``numpy.random.default_rng``.
        ks: cluster counts; default ``1..n``.
        weighting: see :func:`mean_category_entropy`.

    Shape:
        linkage: ``(n - 1, 4)``; reference: ``(n,)``.

    Returns:
        ``DataFrame`` with columns ``k``, ``entropy`` (mean, nats), ``entropy_sd`` and
        ``ari`` (mean).
    """
    z = np.asarray(linkage, dtype=np.float64)
    ref = _labels_1d(reference, "reference").astype(str)
    n = z.shape[0] + 1 if z.ndim == 2 else -1
    if ref.size != n:
        raise ValueError(f"reference has {ref.size} entries but the tree has {n} leaves")
    if isinstance(permutations, bool) or not isinstance(permutations, (int, np.integer)) \
            or permutations < 1:
        raise ValueError(f"permutations must be a positive integer, got {permutations!r}")
    rng = np.random.default_rng(seed)
    records = []
    for k in _ks(n, ks):
        labels = cut_tree(z, k)
        ent, ari = [], []
        for _ in range(int(permutations)):
            shuffled = labels[rng.permutation(n)]
            ent.append(mean_category_entropy(shuffled, ref, weighting=weighting))
            ari.append(adjusted_rand_score(ref, shuffled))
        records.append({"k": k, "entropy": float(np.mean(ent)),
                        "entropy_sd": float(np.std(ent)), "ari": float(np.mean(ari))})
    return pd.DataFrame.from_records(records, columns=["k", "entropy", "entropy_sd", "ari"])
