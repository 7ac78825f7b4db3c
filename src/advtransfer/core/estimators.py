"""Transferability estimators: cheap predictors of how well a source model transfers.

These are the baselines that adversarial transferability (Liang et al., "Does Adversarial
Transferability Indicate Knowledge Transferability?", ICML 2021) is compared against:
each scores a frozen source model on a target task from its target-set features or its
source-class predictions and the target labels, without training a new head. Higher
scores predict better transfer for every estimator here.

Conventions
-----------
* ``N`` target samples, ``d`` feature dimensions, ``K`` target classes, ``Z`` source
  classes.
* Labels are integer class ids (any integers: they are mapped to ``0..K-1`` in sorted
  order); float arrays holding only integral values are accepted, anything else raises.
* Features must be finite. All computation is in float64.

Every function is pure: arrays in, a float out; no printing, no file I/O, no global state.
:func:`log_me` may emit a ``RuntimeWarning`` when its fixed-point iteration hits the
iteration cap.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from numbers import Real
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike
from sklearn.covariance import LedoitWolf

from advtransfer.core.checks import check_finite, check_positive_int

__all__ = [
    "nce",
    "leep",
    "h_score",
    "regularized_h_score",
    "log_me",
    "linear_model_log_evidence",
    "transrate",
    "gbc",
    "knn_accuracy",
    "nleep",
    "sfda",
    "ncti_components",
    "ncti",
    "etran_components",
    "etran",
    "pool_normalized_sum",
]

# --------------------------------------------------------------------------------------
# Input checks
# --------------------------------------------------------------------------------------


def _as_features(features: ArrayLike, name: str, min_rows: int = 1) -> np.ndarray:
    """Float64 copy of a finite (N, d) matrix."""
    try:
        array = np.array(features, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a numeric (N, d) array: {exc}") from None
    if array.ndim != 2:
        raise ValueError(f"{name} must be 2-D (N, d), got shape {array.shape}")
    if array.shape[0] < min_rows:
        raise ValueError(f"{name} needs at least {min_rows} rows, got {array.shape[0]}")
    if array.shape[1] < 1:
        raise ValueError(f"{name} has no columns (shape {array.shape})")
    return check_finite(array, name)


def _as_labels(
    labels: ArrayLike, n: int, name: str, min_classes: int = 2
) -> tuple[np.ndarray, int]:
    """Map integer labels of length ``n`` to codes ``0..K-1``; return ``(codes, K)``."""
    array = np.asarray(labels)
    if array.ndim != 1 or array.shape[0] != n:
        raise ValueError(f"{name} must have shape ({n},), got {array.shape}")
    if array.dtype == bool or not (
        np.issubdtype(array.dtype, np.integer) or np.issubdtype(array.dtype, np.floating)
    ):
        raise ValueError(f"{name} must hold integer class labels, got dtype {array.dtype}")
    if np.issubdtype(array.dtype, np.floating):
        if not np.all(np.isfinite(array)) or not np.all(array == np.round(array)):
            raise ValueError(f"{name} must hold integer class labels, got non-integral values")
        array = array.astype(np.int64)
    classes, codes = np.unique(array, return_inverse=True)
    if classes.size < min_classes:
        raise ValueError(
            f"{name} must contain at least {min_classes} distinct classes, got {classes.size}"
        )
    return codes.astype(np.int64), int(classes.size)


def _check_positive(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, Real) or not np.isfinite(value) \
            or value <= 0:
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return float(value)




def _class_means(features: np.ndarray, codes: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-class counts (K,) and means (K, d)."""
    counts = np.bincount(codes, minlength=k).astype(np.float64)
    sums = np.zeros((k, features.shape[1]))
    np.add.at(sums, codes, features)
    return counts, sums / counts[:, None]


def _entropy_terms(p: np.ndarray) -> np.ndarray:
    """Elementwise ``p log p`` with ``0 log 0 = 0``."""
    out = np.zeros_like(p)
    mask = p > 0
    out[mask] = p[mask] * np.log(p[mask])
    return out


# --------------------------------------------------------------------------------------
# Label-based estimators
# --------------------------------------------------------------------------------------


def nce(source_labels: ArrayLike, target_labels: ArrayLike) -> float:
    """Negative Conditional Entropy of target labels given source predictions.

    Reference: Tran, Nguyen, Hassner, "Transferability and Hardness of Supervised
    Classification Tasks", ICCV 2019, Eq. (2)-(4).

    With the empirical joint ``P(y, z) = #{i : y_i = y, z_i = z} / N`` of target labels
    ``Y`` and discrete source-model predictions ``Z`` (the source's argmax class on each
    target sample)::

        NCE = -H(Y | Z) = sum_{y,z} P(y, z) log P(y | z),   P(y | z) = P(y, z) / P(z)

    It is 0 when ``Y`` is a deterministic function of ``Z`` and ``-H(Y)`` (in nats) when
    they are independent.

    Args:
        source_labels: Source-class prediction of every target sample (integers).
        target_labels: Target label of every sample (integers, at least two classes).

    Shape:
        source_labels ``(N,)``, target_labels ``(N,)``.

    Returns:
        ``-H(Y|Z)`` in nats, ``<= 0``; higher is better.
    """
    y_arr = np.asarray(target_labels)
    if y_arr.ndim != 1 or y_arr.shape[0] < 1:
        raise ValueError(f"target_labels must be a non-empty 1-D array, got {y_arr.shape}")
    n = y_arr.shape[0]
    y, k = _as_labels(y_arr, n, "target_labels", min_classes=2)
    z, m = _as_labels(source_labels, n, "source_labels", min_classes=1)
    joint = np.zeros((k, m))
    np.add.at(joint, (y, z), 1.0)
    joint /= n
    p_z = joint.sum(axis=0)
    # sum P(y,z) log P(y,z) - sum P(z) log P(z) = -H(Y,Z) + H(Z) = -H(Y|Z)
    value = _entropy_terms(joint).sum() - _entropy_terms(p_z).sum()
    return float(min(value, 0.0))


def leep(source_probs: ArrayLike, target_labels: ArrayLike) -> float:
    """Log Expected Empirical Prediction.

    Reference: Nguyen, Hassner, Seeger, Archambeau, "LEEP: A New Measure to Evaluate
    Transferability of Learned Representations", ICML 2020, Eq. (1)-(2).

    With ``theta(x_i)`` the source model's class distribution on target sample ``i``::

        P(y, z) = (1/N) sum_{i : y_i = y} theta_z(x_i),   P(z) = sum_y P(y, z)
        P(y | z) = P(y, z) / P(z)
        LEEP    = (1/N) sum_i log sum_z P(y_i | z) theta_z(x_i)

    i.e. the mean log-likelihood of the "expected empirical predictor" that maps source
    predictions to target labels through ``P(y|z)``. Source classes with ``P(z) = 0``
    have ``theta_z = 0`` on every sample and drop out.

    Args:
        source_probs: Source-class probabilities (softmax outputs) on each target sample;
            non-negative, rows summing to 1 (within 1e-3; rows are renormalised).
        target_labels: Target labels (integers, at least two classes).

    Shape:
        source_probs ``(N, Z)``, target_labels ``(N,)``.

    Returns:
        LEEP, ``<= 0``; higher is better.
    """
    theta = _as_features(source_probs, "source_probs")
    n = theta.shape[0]
    if np.any(theta < 0):
        raise ValueError("source_probs must be non-negative")
    row_sums = theta.sum(axis=1)
    if not np.allclose(row_sums, 1.0, rtol=0.0, atol=1e-3):
        raise ValueError("source_probs rows must sum to 1 (pass softmax outputs, not logits)")
    theta = theta / row_sums[:, None]
    y, k = _as_labels(target_labels, n, "target_labels")
    joint = np.zeros((k, theta.shape[1]))
    np.add.at(joint, y, theta)
    joint /= n
    p_z = joint.sum(axis=0)
    conditional = np.divide(joint, p_z[None, :], out=np.zeros_like(joint), where=p_z[None, :] > 0)
    eep = np.einsum("iz,iz->i", theta, conditional[y])  # (N,) prob. of each true label
    with np.errstate(divide="ignore"):
        return float(np.mean(np.log(eep)))


# --------------------------------------------------------------------------------------
# Feature-based estimators
# --------------------------------------------------------------------------------------


def _between_class_quadratic(
    precision_eigvals: np.ndarray,
    eigvecs: np.ndarray,
    centred_means: np.ndarray,
    weights: np.ndarray,
) -> float:
    """``tr(S^{+} S_b)`` with ``S_b = sum_c w_c m_c m_c^T`` and ``S^+ = Q diag(p) Q^T``."""
    projected = centred_means @ eigvecs  # (K, d)
    return float(np.sum(weights[:, None] * projected**2 * precision_eigvals[None, :]))


def _pinv_eigvals(eigvals: np.ndarray, rtol: float) -> np.ndarray:
    """Reciprocal eigenvalues of a PSD matrix, zero below ``rtol * max eigenvalue``."""
    top = max(float(eigvals.max()), 0.0)
    keep = eigvals > rtol * top if top > 0 else np.zeros_like(eigvals, dtype=bool)
    out = np.zeros_like(eigvals)
    out[keep] = 1.0 / eigvals[keep]
    return out


def h_score(features: ArrayLike, labels: ArrayLike, *, rtol: float = 1e-10) -> float:
    """H-score: how much of the feature covariance is explained by the class means.

    Reference: Bao, Li, Huang, Wang, Zhang, Tong, "An Information-Theoretic Approach to
    Transferability in Task Transfer Learning", ICIP 2019, Definition 2.

    ::

        H(f) = tr( cov(f)^{+} cov(E[f | y]) )
        cov(f)        = (1/N) sum_i (f_i - mu)(f_i - mu)^T
        cov(E[f | y]) = sum_c (N_c / N) (mu_c - mu)(mu_c - mu)^T

    Both covariances use the same ``1/N`` normalisation (with ``1/(N-1)`` for both the
    ratio is identical). ``^+`` is the Moore-Penrose pseudo-inverse, with eigenvalues
    below ``rtol * largest`` treated as zero. ``H`` lies in ``[0, min(d, K-1)]``; for
    class-independent features its expectation is about ``(K-1) d / N``.

    Args:
        features: Target-set features of the source model.
        labels: Target labels (integers, at least two classes).
        rtol: Relative eigenvalue cut-off of the pseudo-inverse.

    Shape:
        features ``(N, d)``, labels ``(N,)``.

    Returns:
        The H-score; higher is better.
    """
    f = _as_features(features, "features", min_rows=2)
    y, k = _as_labels(labels, f.shape[0], "labels")
    rtol = _check_positive(rtol, "rtol")
    n = f.shape[0]
    f = f - f.mean(axis=0)
    eigvals, eigvecs = np.linalg.eigh(f.T @ f / n)
    counts, means = _class_means(f, y, k)
    return _between_class_quadratic(_pinv_eigvals(eigvals, rtol), eigvecs, means, counts / n)


def regularized_h_score(features: ArrayLike, labels: ArrayLike) -> float:
    """Shrinkage-regularised H-score.

    Reference: Ibrahim, Ponomareva, Mazumder, "Newer is not always better: Rethinking
    transferability metrics, their peculiarities, stability and performance",
    arXiv:2110.06893 (ECML-PKDD 2022), Section 4.

    The feature covariance in the H-score is replaced by the Ledoit-Wolf shrinkage
    estimate, and the between-class covariance is scaled by the same factor::

        cov_a(f) = (1 - a) cov(f) + a (tr(cov(f)) / d) I      (Ledoit-Wolf, a in [0, 1])
        H_a(f)   = tr( cov_a(f)^{-1} (1 - a) cov(E[f | y]) )

    with ``a`` the Ledoit-Wolf optimal shrinkage (``sklearn.covariance.LedoitWolf``,
    ``1/N`` normalisation, features centred) and ``cov(E[f|y])`` as in :func:`h_score`.
    Shrinkage makes the estimate stable when ``d`` is comparable to or larger than ``N``,
    where the plain H-score is dominated by the noise of the inverse covariance.

    Args:
        features: Target-set features of the source model.
        labels: Target labels (integers, at least two classes).

    Shape:
        features ``(N, d)``, labels ``(N,)``.

    Returns:
        The regularised H-score; higher is better.
    """
    f = _as_features(features, "features", min_rows=2)
    y, k = _as_labels(labels, f.shape[0], "labels")
    n = f.shape[0]
    f = f - f.mean(axis=0)
    lw = LedoitWolf(assume_centered=True).fit(f)
    shrinkage = float(lw.shrinkage_)
    eigvals, eigvecs = np.linalg.eigh(lw.covariance_)
    counts, means = _class_means(f, y, k)
    return (1.0 - shrinkage) * _between_class_quadratic(
        _pinv_eigvals(eigvals, 1e-12), eigvecs, means, counts / n
    )


# --------------------------------------------------------------------------------------
# LogME
# --------------------------------------------------------------------------------------


def _evidence_terms(
    alpha: float, beta: float, s2: np.ndarray, z: np.ndarray, perp: float
) -> tuple[float, float, float, float]:
    """Posterior quantities in the SVD basis: ``(gamma, ||m||^2, ||Fm - y||^2, log|A|)``.

    ``s2`` holds the ``r = min(N, d)`` squared singular values of ``F``, ``z = U^T y`` and
    ``perp = ||y||^2 - ||z||^2`` the energy of ``y`` outside the column space of ``U``.
    The remaining ``d - r`` eigenvalues of ``F^T F`` are zero and are added by the caller.
    """
    denom = alpha + beta * s2
    gamma = float(np.sum(beta * s2 / denom))
    m2 = float(np.sum((beta * np.sqrt(s2) * z / denom) ** 2))
    res2 = float(np.sum((alpha / denom * z) ** 2) + perp)
    logdet = float(np.sum(np.log(denom)))
    return gamma, m2, res2, logdet


def _log_evidence_svd(
    alpha: float, beta: float, s2: np.ndarray, z: np.ndarray, perp: float, n: int, d: int
) -> float:
    """Per-sample log evidence ``log p(y | F, alpha, beta) / N`` from the SVD of ``F``."""
    _, m2, res2, logdet = _evidence_terms(alpha, beta, s2, z, perp)
    logdet += (d - s2.size) * np.log(alpha)
    value = (
        0.5 * n * np.log(beta)
        + 0.5 * d * np.log(alpha)
        - 0.5 * n * np.log(2.0 * np.pi)
        - 0.5 * beta * res2
        - 0.5 * alpha * m2
        - 0.5 * logdet
    )
    return float(value / n)


def linear_model_log_evidence(
    features: ArrayLike, y: ArrayLike, alpha: float, beta: float
) -> float:
    """Per-sample log evidence of a Bayesian linear model at fixed hyper-parameters.

    Reference: You, Liu, Wang, Long, "LogME: Practical Assessment of Pre-trained Models
    for Transfer Learning", ICML 2021, Eq. (2)-(3).

    Model ``y = F w + noise`` with prior ``w ~ N(0, alpha^{-1} I_d)`` and noise
    ``N(0, beta^{-1} I_N)``. With ``A = alpha I + beta F^T F`` and ``m = beta A^{-1} F^T y``::

        log p(y | F, alpha, beta) = N/2 log beta + d/2 log alpha - N/2 log 2 pi
                                    - beta/2 ||F m - y||^2 - alpha/2 ||m||^2 - 1/2 log|A|

    Computed through the thin SVD of ``F`` (valid for ``N < d`` too). Used by
    :func:`log_me`, which maximises it over ``alpha, beta``.

    Args:
        features: Feature matrix ``F``.
        y: One real target column.
        alpha: Prior precision, ``> 0``.
        beta: Noise precision, ``> 0``.

    Shape:
        features ``(N, d)``, y ``(N,)``.

    Returns:
        ``log p(y | F, alpha, beta) / N``.
    """
    f = _as_features(features, "features")
    target = _as_targets(y, f.shape[0])
    if target.shape[1] != 1:
        raise ValueError(f"y must be one column, got shape {np.shape(y)}")
    alpha = _check_positive(alpha, "alpha")
    beta = _check_positive(beta, "beta")
    u, s, _ = np.linalg.svd(f, full_matrices=False)
    t = target[:, 0]
    z = u.T @ t
    perp = max(float(t @ t - z @ z), 0.0)
    return _log_evidence_svd(alpha, beta, s**2, z, perp, f.shape[0], f.shape[1])


def _as_targets(targets: ArrayLike, n: int) -> np.ndarray:
    """Finite float64 regression targets as an (N, t) matrix."""
    try:
        array = np.array(targets, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"targets must be numeric: {exc}") from None
    if array.ndim == 1:
        array = array[:, None]
    if array.ndim != 2 or array.shape[0] != n or array.shape[1] < 1:
        raise ValueError(f"targets must have shape ({n},) or ({n}, t), got {np.shape(targets)}")
    return check_finite(array, "targets")


def log_me(
    features: ArrayLike,
    targets: ArrayLike,
    regression: bool = False,
    *,
    tol: float = 1e-8,
    max_iter: int = 1000,
) -> float:
    """LogME: maximum log evidence of a Bayesian linear model on the features.

    Reference: You, Liu, Wang, Long, "LogME: Practical Assessment of Pre-trained Models
    for Transfer Learning", ICML 2021, Algorithm 1 / 2.

    For each target column ``y`` (one-hot columns of the labels for classification, the
    given columns for regression) the evidence of :func:`linear_model_log_evidence` is
    maximised over ``alpha, beta`` by MacKay's fixed-point iteration, run in the
    eigenbasis of ``F^T F`` (thin SVD ``F = U S V^T``, ``sigma_i = s_i^2``)::

        gamma = sum_i beta sigma_i / (alpha + beta sigma_i)
        alpha <- gamma / ||m||^2,     beta <- (N - gamma) / ||F m - y||^2

    starting from ``alpha = beta = 1``. It stops when both change by less than ``tol``
    (relative) or the per-sample evidence changes by less than ``tol * (1 + |evidence|)``;
    the second rule ends the iteration when the supremum lies on the boundary (e.g.
    ``alpha -> inf`` for features unrelated to ``y``: the evidence then tends to that of
    ``y ~ N(0, beta^{-1} I)`` while ``alpha`` grows geometrically). At most ``max_iter``
    iterations are run; a ``RuntimeWarning`` is issued if the cap is hit and the evidence
    at the last iterate is used. The score is the per-sample log evidence
    ``log p(y | F, alpha*, beta*) / N`` averaged over columns. Features are used as given
    (no centring or scaling), as in the paper.

    Args:
        features: Target-set features of the source model.
        targets: Integer labels (classification) or real targets (regression).
        regression: Treat ``targets`` as real-valued regression targets.
        tol: Relative convergence tolerance of ``alpha`` and ``beta``.
        max_iter: Iteration cap per column.

    Shape:
        features ``(N, d)``; targets ``(N,)`` labels, or ``(N,)`` / ``(N, t)`` for
        regression.

    Returns:
        The LogME value (nats per sample); higher is better.
    """
    f = _as_features(features, "features", min_rows=2)
    n, d = f.shape
    if regression:
        target_matrix = _as_targets(targets, n)
    else:
        codes, k = _as_labels(targets, n, "targets")
        target_matrix = np.eye(k)[codes]
    tol = _check_positive(tol, "tol")
    max_iter = check_positive_int(max_iter, "max_iter")
    if np.any(np.all(target_matrix == 0.0, axis=0)):
        raise ValueError("a target column is identically zero; its evidence is unbounded")

    u, s, _ = np.linalg.svd(f, full_matrices=False)
    s2 = s**2
    zs = u.T @ target_matrix  # (r, t)
    perps = np.maximum(np.sum(target_matrix**2, axis=0) - np.sum(zs**2, axis=0), 0.0)
    tiny = np.finfo(np.float64).tiny
    evidences = []
    for col in range(target_matrix.shape[1]):
        z, perp = zs[:, col], float(perps[col])
        alpha, beta = 1.0, 1.0
        value = _log_evidence_svd(alpha, beta, s2, z, perp, n, d)
        converged = False
        for _ in range(max_iter):
            gamma, m2, res2, _ = _evidence_terms(alpha, beta, s2, z, perp)
            new_alpha = max(gamma, tiny) / max(m2, tiny)
            new_beta = max(n - gamma, tiny) / max(res2, tiny)
            step = max(abs(new_alpha - alpha) / alpha, abs(new_beta - beta) / beta)
            new_value = _log_evidence_svd(new_alpha, new_beta, s2, z, perp, n, d)
            change = abs(new_value - value)
            alpha, beta, value = new_alpha, new_beta, new_value
            if step < tol or change < tol * (1.0 + abs(value)):
                converged = True
                break
        if not converged or not np.isfinite(value):
            warnings.warn(
                f"log_me: fixed-point iteration did not converge in {max_iter} iterations "
                f"(column {col}, alpha={alpha:.3g}, beta={beta:.3g})",
                RuntimeWarning,
                stacklevel=2,
            )
        evidences.append(value)
    return float(np.mean(evidences))


# --------------------------------------------------------------------------------------
# TransRate
# --------------------------------------------------------------------------------------


def _coding_rate(z: np.ndarray, eps: float) -> float:
    """``R(Z, eps) = 1/2 logdet(I_d + d / (n eps^2) Z^T Z)`` via singular values."""
    n, d = z.shape
    s = np.linalg.svd(z, compute_uv=False)
    return 0.5 * float(np.sum(np.log1p(d / (n * eps**2) * s**2)))


def transrate(
    features: ArrayLike,
    labels: ArrayLike,
    eps: float = 1e-4,
    *,
    normalize: bool = False,
    class_weighting: Literal["proportional", "uniform"] = "proportional",
) -> float:
    """TransRate: mutual information between features and labels as a coding-rate gap.

    Reference: Huang, Huang, Ye, Wang, Ke, "Frustratingly Easy Transferability Estimation",
    ICML 2022, Section 3 (coding rate after Ma et al., 2007; Yu et al., MCR^2, 2020).

    ::

        R(Z, eps)     = 1/2 logdet(I_d + d / (n eps^2) Z^T Z)            (Z is n x d)
        R(Z | Y, eps) = sum_c w_c R(Z_c, eps),  Z_c = rows of class c (n_c of them)
        TrR           = R(Z, eps) - R(Z | Y, eps)

    Features are centred by their global mean (not per class), so ``Z_c`` keeps its
    class offset, which is what makes separated classes score high. With
    ``normalize=True`` the centred features are also divided by their root-mean-square
    row norm, making the score invariant to a global rescaling of the features (the paper
    does not rescale; ``eps`` then acts on unit-RMS features). ``w_c = n_c / n``
    (``"proportional"``, the MCR^2 conditional rate) or ``1/K`` (``"uniform"``). The
    log-determinants are computed from singular values, in ``O(n d min(n, d))``.

    Args:
        features: Target-set features of the source model.
        labels: Target labels (integers, at least two classes).
        eps: Distortion rate, ``> 0``.
        normalize: Rescale centred features to unit RMS row norm.
        class_weighting: Weights ``w_c`` of the class-conditional rates.

    Shape:
        features ``(N, d)``, labels ``(N,)``.

    Returns:
        TransRate in nats; higher is better.
    """
    f = _as_features(features, "features", min_rows=2)
    y, k = _as_labels(labels, f.shape[0], "labels")
    eps = _check_positive(eps, "eps")
    if class_weighting not in ("proportional", "uniform"):
        raise ValueError(
            f"class_weighting must be 'proportional' or 'uniform', got {class_weighting!r}"
        )
    n = f.shape[0]
    z = f - f.mean(axis=0)
    if normalize:
        rms = float(np.sqrt(np.mean(np.sum(z**2, axis=1))))
        if rms == 0.0:
            raise ValueError("features are constant; cannot normalise")
        z = z / rms
    rate = _coding_rate(z, eps)
    conditional = 0.0
    for c in range(k):
        zc = z[y == c]
        weight = zc.shape[0] / n if class_weighting == "proportional" else 1.0 / k
        conditional += weight * _coding_rate(zc, eps)
    return float(rate - conditional)


# --------------------------------------------------------------------------------------
# GBC
# --------------------------------------------------------------------------------------


def gbc(
    features: ArrayLike,
    labels: ArrayLike,
    *,
    pca_dim: int | None = None,
    covariance: Literal["diagonal", "spherical"] = "diagonal",
    var_floor: float = 1e-6,
) -> float:
    """Gaussian Bhattacharyya Coefficient: negative total overlap of class Gaussians.

    Reference: Pandy, Agostinelli, Uijlings, Ferrari, Mensink, "Transferability Estimation
    using Bhattacharyya Class Separability", CVPR 2022, Eq. (1)-(4).

    Each class ``c`` is fitted a Gaussian ``N(mu_c, Sigma_c)`` with diagonal (or
    spherical: ``sigma_c^2 I`` with the mean per-dimension variance) covariance, and::

        Sigma   = (Sigma_i + Sigma_j) / 2
        D_B     = 1/8 (mu_i - mu_j)^T Sigma^{-1} (mu_i - mu_j)
                  + 1/2 log( det Sigma / sqrt(det Sigma_i det Sigma_j) )
        BC      = exp(-D_B)
        GBC     = - sum_{i} sum_{j != i} BC(c_i, c_j)

    (the paper's double sum over ordered pairs, i.e. twice the sum over unordered pairs).
    Class variances use ``1/N_c`` and are floored at ``var_floor`` times the mean
    per-dimension variance of all features, so single-sample classes and constant
    dimensions stay finite. With ``pca_dim`` the (centred) features are first projected
    onto their top ``pca_dim`` principal components, as in the paper (``min(pca_dim, d,
    N)`` components are kept).

    Args:
        features: Target-set features of the source model.
        labels: Target labels (integers, at least two classes).
        pca_dim: Optional PCA dimension.
        covariance: ``"diagonal"`` or ``"spherical"`` class covariances.
        var_floor: Relative variance floor, ``> 0``.

    Shape:
        features ``(N, d)``, labels ``(N,)``.

    Returns:
        GBC in ``[-K(K-1), 0]``; higher (closer to 0) is better.
    """
    f = _as_features(features, "features", min_rows=2)
    y, k = _as_labels(labels, f.shape[0], "labels")
    if covariance not in ("diagonal", "spherical"):
        raise ValueError(f"covariance must be 'diagonal' or 'spherical', got {covariance!r}")
    var_floor = _check_positive(var_floor, "var_floor")
    f = f - f.mean(axis=0)
    if pca_dim is not None:
        pca_dim = check_positive_int(pca_dim, "pca_dim")
        _, _, vt = np.linalg.svd(f, full_matrices=False)
        f = f @ vt[:pca_dim].T
    scale = float(np.mean(f**2))
    floor = var_floor * scale if scale > 0 else var_floor
    counts, means = _class_means(f, y, k)
    sq = np.zeros_like(means)
    np.add.at(sq, y, f**2)
    variances = np.maximum(sq / counts[:, None] - means**2, 0.0)
    if covariance == "spherical":
        variances = np.repeat(variances.mean(axis=1, keepdims=True), f.shape[1], axis=1)
    variances = np.maximum(variances, floor)
    log_var = np.log(variances)
    total = 0.0
    for i in range(k - 1):
        avg = 0.5 * (variances[i] + variances[i + 1 :])  # (K-i-1, p)
        mahal = np.sum((means[i] - means[i + 1 :]) ** 2 / avg, axis=1) / 8.0
        logdet = 0.5 * np.sum(np.log(avg) - 0.5 * (log_var[i] + log_var[i + 1 :]), axis=1)
        total += float(np.sum(np.exp(-(mahal + logdet))))
    return -2.0 * total


# --------------------------------------------------------------------------------------
# k-nearest-neighbour probe
# --------------------------------------------------------------------------------------


def _neighbour_predictions(
    reference: np.ndarray,
    reference_codes: np.ndarray,
    query: np.ndarray,
    k: int,
    n_classes: int,
    metric: str,
    leave_one_out: bool,
    chunk: int = 1024,
) -> np.ndarray:
    """Majority vote of the ``k`` nearest reference points for each query point."""
    if metric == "cosine":
        def unit(a: np.ndarray) -> np.ndarray:
            norms = np.linalg.norm(a, axis=1, keepdims=True)
            return np.divide(a, norms, out=np.zeros_like(a), where=norms > 0)

        reference, query = unit(reference), unit(query)
    else:
        ref_sq = np.sum(reference**2, axis=1)
    preds = np.empty(query.shape[0], dtype=np.int64)
    for start in range(0, query.shape[0], chunk):
        q = query[start : start + chunk]
        if metric == "cosine":
            dist = 1.0 - q @ reference.T
        else:
            dist = np.sum(q**2, axis=1)[:, None] + ref_sq[None, :] - 2.0 * q @ reference.T
        if leave_one_out:
            rows = np.arange(q.shape[0])
            dist[rows, start + rows] = np.inf
        # k smallest, then sorted by (distance, index) for a deterministic order
        part = np.argpartition(dist, k - 1, axis=1)[:, :k]
        part.sort(axis=1)
        order = np.argsort(np.take_along_axis(dist, part, axis=1), axis=1, kind="stable")
        neighbours = np.take_along_axis(part, order, axis=1)
        nb_labels = reference_codes[neighbours]  # (m, k), nearest first
        votes = np.zeros((q.shape[0], n_classes), dtype=np.int64)
        np.add.at(votes, (np.repeat(np.arange(q.shape[0]), k), nb_labels.ravel()), 1)
        best = votes.max(axis=1)
        # ties between classes: the class of the nearest neighbour among the tied classes
        tied = np.take_along_axis(votes, nb_labels, axis=1) == best[:, None]
        first = np.argmax(tied, axis=1)
        preds[start : start + q.shape[0]] = nb_labels[np.arange(q.shape[0]), first]
    return preds


def knn_accuracy(
    train_features: ArrayLike,
    train_labels: ArrayLike,
    eval_features: ArrayLike | None = None,
    eval_labels: ArrayLike | None = None,
    *,
    k: int = 5,
    metric: Literal["cosine", "euclidean"] = "cosine",
) -> float:
    """Accuracy of a k-nearest-neighbour classifier on frozen features.

    A training-free probe of feature quality (as in e.g. Wu et al., CVPR 2018; Caron et
    al., ICCV 2021): each evaluation point gets the majority label of its ``k`` nearest
    training points::

        yhat(x) = argmax_c #{ j in kNN(x) : y_j = c },   accuracy = mean(yhat(x_i) == y_i)

    Distances are cosine (``1 - <a, b> / (|a| |b|)``; all-zero rows have similarity 0 to
    everything) or Euclidean. Ties in distance are broken by training index, ties in the
    vote by the class of the nearest neighbour among the tied classes. Without
    ``eval_features`` the accuracy is leave-one-out on the training set (each point's own
    entry is excluded; exact duplicates of it are not).

    Args:
        train_features: Reference features.
        train_labels: Reference labels (integers, at least two classes).
        eval_features: Query features (optional; leave-one-out when omitted).
        eval_labels: Query labels (required with ``eval_features``).
        k: Number of neighbours, ``1 <= k <= number of reference points`` (minus one for
            leave-one-out).
        metric: ``"cosine"`` or ``"euclidean"``.

    Shape:
        train_features ``(N, d)``, train_labels ``(N,)``, eval_features ``(M, d)``,
        eval_labels ``(M,)``.

    Returns:
        Accuracy in ``[0, 1]``; higher is better.
    """
    reference = _as_features(train_features, "train_features")
    n = reference.shape[0]
    train_arr = np.asarray(train_labels)
    codes, n_classes = _as_labels(train_arr, n, "train_labels")
    classes = np.unique(train_arr).astype(np.int64)  # code -> original label
    k = check_positive_int(k, "k")
    if metric not in ("cosine", "euclidean"):
        raise ValueError(f"metric must be 'cosine' or 'euclidean', got {metric!r}")
    if (eval_features is None) != (eval_labels is None):
        raise ValueError("eval_features and eval_labels must be given together")
    if eval_features is None:
        if k > n - 1:
            raise ValueError(f"leave-one-out needs k <= N - 1 = {n - 1}, got k={k}")
        preds = _neighbour_predictions(reference, codes, reference, k, n_classes, metric, True)
        return float(np.mean(preds == codes))
    query = _as_features(eval_features, "eval_features")
    if query.shape[1] != reference.shape[1]:
        raise ValueError(
            f"eval_features have {query.shape[1]} columns, train_features {reference.shape[1]}"
        )
    _as_labels(eval_labels, query.shape[0], "eval_labels", min_classes=1)  # checks only
    eval_raw = np.asarray(eval_labels).astype(np.int64)
    if k > n:
        raise ValueError(f"k must be <= number of training points {n}, got k={k}")
    preds = _neighbour_predictions(reference, codes, query, k, n_classes, metric, False)
    return float(np.mean(classes[preds] == eval_raw))


# --------------------------------------------------------------------------------------
# Newer estimators: NLEEP, SFDA, NCTI, ETran
# --------------------------------------------------------------------------------------


def _pca_scores(f: np.ndarray, *, dim: int | None = None,
                variance: float | None = None) -> np.ndarray:
    """Centred features projected onto their leading principal components.

    ``dim`` keeps at most that many components, ``variance`` the fewest components whose
    cumulative explained variance reaches that fraction (at least one); components with
    (numerically) zero variance are always dropped.
    """
    z = f - f.mean(axis=0)
    u, s, _ = np.linalg.svd(z, full_matrices=False)
    top = float(s[0]) if s.size else 0.0
    rank = int(np.sum(s > 1e-12 * top)) if top > 0 else 0
    if rank == 0:
        raise ValueError("features are constant; there are no principal components")
    keep = rank
    if dim is not None:
        keep = min(keep, dim)
    if variance is not None:
        ratio = np.cumsum(s[:rank] ** 2) / np.sum(s[:rank] ** 2)
        keep = min(keep, int(np.searchsorted(ratio, variance - 1e-12) + 1))
    return u[:, :keep] * s[:keep]


def _unit_rms(z: np.ndarray) -> np.ndarray:
    """Rows rescaled so that the root-mean-square row norm is 1 (centred input)."""
    rms = float(np.sqrt(np.mean(np.sum(z**2, axis=1))))
    if rms == 0.0:
        raise ValueError("features are constant; cannot normalise")
    return z / rms


def _softmax_rows(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    return e / e.sum(axis=1, keepdims=True)


def _check_fraction(value: Any, name: str) -> float:
    value = _check_positive(value, name)
    if value > 1.0:
        raise ValueError(f"{name} must lie in (0, 1], got {value!r}")
    return value


def nleep(
    features: ArrayLike,
    labels: ArrayLike,
    *,
    pca_variance: float = 0.8,
    components_per_class: int = 5,
    n_components: int | None = None,
    covariance: Literal["full", "diag", "spherical", "tied"] = "full",
    seed: int = 0,
) -> float:
    """NLEEP: LEEP with a Gaussian mixture on the features in place of the source head.

    Reference: Li, Jia, Sang, Zhu, Green, Wang, Gong, "Ranking Neural Checkpoints",
    CVPR 2021, Section 4 (N-LEEP).

    The features are reduced by PCA, a Gaussian mixture with ``V`` components is fitted
    to them, and its posteriors ``gamma_v(x_i) = P(v | x_i)`` play the role of the source
    model's class distribution in :func:`leep`::

        P(y, v)  = (1/N) sum_{i : y_i = y} gamma_v(x_i),   P(y | v) = P(y, v) / P(v)
        NLEEP    = (1/N) sum_i log sum_v P(y_i | v) gamma_v(x_i)

    Variant implemented: PCA keeps the fewest components explaining ``pca_variance`` of
    the variance (80 % by default) and the reduced features are rescaled to unit RMS row
    norm (NLEEP is then invariant to a global rescaling of the features); ``V =
    components_per_class * K`` (5 K by default, capped at ``N``) unless ``n_components``
    is given; ``sklearn.mixture.GaussianMixture`` with ``covariance`` covariances, k-means
    initialisation and ``random_state=seed`` (deterministic). With one component the
    posteriors are all 1 and NLEEP is ``sum_c pi_c log pi_c = -H(Y)``; with components
    that each cover one class it is 0.

    Args:
        features: Target-set features of the source model.
        labels: Target labels (integers, at least two classes).
        pca_variance: Fraction of variance kept by the PCA, in ``(0, 1]``.
        components_per_class: ``V / K`` when ``n_components`` is not given.
        n_components: Number of mixture components ``V`` (overrides the default).
        covariance: Covariance type of the mixture components.
        seed: Seed of the mixture's initialisation.

    Shape:
        features ``(N, d)``, labels ``(N,)``.

    Returns:
        NLEEP, ``<= 0``; higher is better.
    """
    from sklearn.mixture import GaussianMixture

    f = _as_features(features, "features", min_rows=2)
    n = f.shape[0]
    y, k = _as_labels(labels, n, "labels")
    pca_variance = _check_fraction(pca_variance, "pca_variance")
    if n_components is None:
        v = check_positive_int(components_per_class, "components_per_class") * k
    else:
        v = check_positive_int(n_components, "n_components")
    v = min(v, n)
    if covariance not in ("full", "diag", "spherical", "tied"):
        raise ValueError(f"covariance must be full, diag, spherical or tied, got {covariance!r}")
    z = _unit_rms(_pca_scores(f, variance=pca_variance))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning: the posteriors are still valid
        gmm = GaussianMixture(n_components=v, covariance_type=covariance, random_state=seed,
                              reg_covar=1e-6).fit(z)
    posteriors = gmm.predict_proba(z)
    return leep(posteriors, y)


def _fisher_projection(f: np.ndarray, y: np.ndarray, k: int, a: float) -> np.ndarray:
    """Regularised Fisher discriminant directions ``U`` (d, min(K-1, d)), best first.

    ``U`` solves ``S_b u = w S_w^lam u`` with ``S_w^lam = (1 - lam) S_w + lam I``,
    ``lam = exp(-a sigma_max(S_w))``, normalised so that ``U^T S_w^lam U = I``.
    """
    from scipy.linalg import eigh

    n, d = f.shape
    counts, means = _class_means(f, y, k)
    within = f - means[y]
    s_w = within.T @ within / n
    centred = means - f.mean(axis=0)
    s_b = (centred * (counts / n)[:, None]).T @ centred
    sigma = float(np.linalg.eigvalsh(s_w)[-1])
    lam = float(np.exp(-a * max(sigma, 0.0)))
    s_reg = (1.0 - lam) * s_w + lam * np.eye(d)
    # a negligible ridge keeps the generalised problem definite when S_w is singular
    s_reg += 1e-10 * max(float(np.trace(s_reg)) / d, 1e-300) * np.eye(d)
    _, vecs = eigh(s_b, s_reg)
    return vecs[:, ::-1][:, : min(k - 1, d)]


def _nearest_mean_posteriors(z: np.ndarray, y: np.ndarray, k: int) -> np.ndarray:
    """Posteriors of the identity-covariance Gaussian classifier in a projected space.

    ``log p(c | z) = z^T m_c - |m_c|^2 / 2 + log pi_c + const`` with class means ``m_c``
    and priors ``pi_c = N_c / N`` (linear discriminant analysis with ``Sigma = I``).
    """
    counts, means = _class_means(z, y, k)
    logits = z @ means.T - 0.5 * np.sum(means**2, axis=1)[None, :] + np.log(counts / z.shape[0])
    return _softmax_rows(logits)


def sfda(features: ArrayLike, labels: ArrayLike, *, a: float = 1.0) -> float:
    """SFDA: Self-challenging Fisher Discriminant Analysis.

    Reference: Shao, Zhao, Yuan, Ding, Wang, Shan, Luo, "Not All Models Are Equal:
    Predicting Model Transferability in a Self-challenging Fisher Space", ECCV 2022,
    Section 3 (Eq. 2-7).

    1. Regularised FDA. With the within- and between-class scatters::

           S_w = (1/N) sum_i (x_i - mu_{y_i})(x_i - mu_{y_i})^T
           S_b = sum_c (N_c / N) (mu_c - mu)(mu_c - mu)^T
           lam = exp(-a sigma_max(S_w)),   S_w^lam = (1 - lam) S_w + lam I

       ``U`` holds the top ``min(K-1, d)`` generalised eigenvectors of
       ``(S_b, S_w^lam)`` (``U^T S_w^lam U = I``) and ``x~ = U^T x``.
    2. Classification in the Fisher space, with projected class means ``m_c``::

           p(c | x) = softmax_c( x~^T m_c - |m_c|^2 / 2 + log(N_c / N) )

    3. Self-challenging step (ConfMix). Each sample is moved towards the mean of the
       class it is most confused with, in proportion to its uncertainty::

           p_i = p(y_i | x_i),   c_i = argmax_{c != y_i} p(c | x_i)
           x'_i = p_i x_i + (1 - p_i) mu_{c_i}

       and steps 1-2 are repeated on the mixed features ``x'``.
    4. ``SFDA = (1/N) sum_i p'(y_i | x'_i)``, the mean probability of the true class in
       the Fisher space of the mixed features.

    Variant implemented: the paper's ConfMix mixes hard samples with other classes by
    their confidence; here the mixing partner is the mean of each sample's most
    confused class and the weight its true-class probability (confident samples stay
    put), after which the Fisher space is refitted. ``a = 1`` as in the paper; ``lam``
    is close to 0 for features with large within-class scatter.

    Args:
        features: Target-set features of the source model.
        labels: Target labels (integers, at least two classes).
        a: Regularisation rate of ``lam``, ``> 0``.

    Shape:
        features ``(N, d)``, labels ``(N,)``.

    Returns:
        SFDA in ``(0, 1)``; higher is better.
    """
    f = _as_features(features, "features", min_rows=2)
    y, k = _as_labels(labels, f.shape[0], "labels")
    a = _check_positive(a, "a")
    f = f - f.mean(axis=0)
    u = _fisher_projection(f, y, k, a)
    probs = _nearest_mean_posteriors(f @ u, y, k)
    rows = np.arange(f.shape[0])
    confidence = probs[rows, y]
    rivals = probs.copy()
    rivals[rows, y] = -np.inf
    confused = np.argmax(rivals, axis=1)
    _, means = _class_means(f, y, k)
    mixed = confidence[:, None] * f + (1.0 - confidence[:, None]) * means[confused]
    u2 = _fisher_projection(mixed, y, k, a)
    probs2 = _nearest_mean_posteriors(mixed @ u2, y, k)
    return float(np.mean(probs2[rows, y]))


def _lda_posteriors(z: np.ndarray, y: np.ndarray, k: int) -> np.ndarray:
    """Posteriors of linear discriminant analysis with a shared, shrunk covariance.

    ``log p(c | z) = -(z - mu_c)^T Sigma^{-1} (z - mu_c) / 2 + log pi_c + const``, with
    ``Sigma`` the Ledoit-Wolf estimate of the pooled within-class covariance.
    """
    counts, means = _class_means(z, y, k)
    within = z - means[y]
    cov = LedoitWolf(assume_centered=True).fit(within).covariance_
    vals, vecs = np.linalg.eigh(cov)
    inv = _pinv_eigvals(vals, 1e-12)
    proj_z, proj_m = z @ vecs, means @ vecs
    quad = np.sum((proj_z[:, None, :] - proj_m[None, :, :]) ** 2 * inv, axis=2)
    return _softmax_rows(-0.5 * quad + np.log(counts / z.shape[0])[None, :])


def _nuclear(m: np.ndarray) -> float:
    return float(np.sum(np.linalg.svd(m, compute_uv=False)))


def ncti_components(
    features: ArrayLike, labels: ArrayLike, *, pca_dim: int = 64
) -> dict[str, float]:
    """The three neural-collapse scores of NCTI for one source (combine with
    :func:`pool_normalized_sum` over the pool).

    Reference: Wang, Luo, Zheng, Huang, Baktashmotlagh, "How Far Pre-trained Models Are
    from Neural Collapse on the Target Dataset Informs their Transferability", ICCV 2023,
    Section 3.

    ``H`` are the centred features reduced to their top ``min(pca_dim, d, rank)``
    principal components and rescaled to unit RMS row norm, ``H_c`` its rows of class
    ``c`` with class mean ``mu_c``; ``Z`` (N x K) are the posteriors of the nearest-centre
    classifier (LDA with a shared Ledoit-Wolf covariance, class priors ``N_c / N``)::

        S_vc   = -(1/N) sum_c ||H_c - 1 mu_c^T||_*        within-class variability collapse
        S_seli = (1/N) ||Z||_*                            simplex ETF / SELI geometry
        S_ncc  = (1/N) sum_i z_{i, y_i}                   nearest-centre classifier

    (``||.||_*`` the nuclear norm, the convex surrogate of the rank the paper uses for
    all three.) ``S_vc`` is 0 when every class has collapsed to its mean; ``S_seli`` is
    largest, ``sqrt(K / N)``, when the predictions are confident, balanced and
    span all ``K`` classes (the simplex geometry), and ``sqrt(1 / (N K))`` for uniform
    posteriors; ``S_ncc`` is 1 when the nearest-centre rule is certain and right. The
    ``1/N`` factors are common to the sources of a pool. NCTI itself is the sum of the
    three, each normalised over the pool of candidate models (:func:`ncti`).

    Variant implemented: the scale-free unit-RMS PCA features (the paper's raw features
    differ in scale between architectures, which would drive the nuclear norms), the
    within-class deviations of those features for ``S_vc`` and the nearest-centre
    posteriors as the class "logits" of ``S_seli``.

    Args:
        features: Target-set features of the source model.
        labels: Target labels (integers, at least two classes).
        pca_dim: Maximum PCA dimension.

    Shape:
        features ``(N, d)``, labels ``(N,)``.

    Returns:
        ``{"vc": S_vc, "seli": S_seli, "ncc": S_ncc}``; each higher is better.
    """
    f = _as_features(features, "features", min_rows=2)
    n = f.shape[0]
    y, k = _as_labels(labels, n, "labels")
    pca_dim = check_positive_int(pca_dim, "pca_dim")
    h = _unit_rms(_pca_scores(f, dim=pca_dim))
    z = _lda_posteriors(h, y, k)
    _, means = _class_means(h, y, k)
    s_ncc = float(np.mean(z[np.arange(n), y]))
    s_vc = -sum(_nuclear(h[y == c] - means[c]) for c in range(k)) / n
    s_seli = _nuclear(z) / n
    return {"vc": float(s_vc), "seli": float(s_seli), "ncc": s_ncc}


def pool_normalized_sum(components: ArrayLike) -> np.ndarray:
    """Sum of min-max normalised score components over a pool of sources.

    ``components[m, j]`` is component ``j`` of source ``m``; each column is mapped to
    ``(x - min) / (max - min)`` over the sources with finite values (a constant column
    contributes 0) and the columns are summed::

        T_m = sum_j (S_mj - min_m S_mj) / (max_m S_mj - min_m S_mj)

    This is how NCTI (Wang et al., ICCV 2023) and ETran (Gholami et al., ICCV 2023)
    put scores of different scales on one footing. A source with any non-finite
    component gets NaN.

    Shape:
        components ``(M, J)`` -> ``(M,)``.
    """
    c = np.array(components, dtype=np.float64)
    if c.ndim != 2:
        raise ValueError(f"components must be 2-D (sources, components), got {c.shape}")
    out = np.zeros(c.shape[0])
    for j in range(c.shape[1]):
        col = c[:, j]
        finite = np.isfinite(col)
        if not finite.any():
            out[:] = np.nan
            continue
        lo, hi = float(col[finite].min()), float(col[finite].max())
        out += (col - lo) / (hi - lo) if hi > lo else np.where(finite, 0.0, np.nan)
    out[~np.all(np.isfinite(c), axis=1)] = np.nan
    return out


def ncti(pool_features: Sequence[ArrayLike], labels: ArrayLike, *, pca_dim: int = 64
         ) -> np.ndarray:
    """NCTI of every source of a pool: :func:`ncti_components`, then
    :func:`pool_normalized_sum` (``S_vc``, ``S_seli``, ``S_ncc`` each min-max normalised
    over the pool and summed; Wang et al., ICCV 2023). The published index subtracts a
    constant that does not change the ranking.

    Shape:
        pool_features: ``M`` arrays ``(N, d_m)``, labels ``(N,)`` -> ``(M,)``.
    """
    rows = [ncti_components(f, labels, pca_dim=pca_dim) for f in pool_features]
    return pool_normalized_sum([[r["vc"], r["seli"], r["ncc"]] for r in rows])


def etran_components(
    features: ArrayLike,
    logits: ArrayLike,
    labels: ArrayLike,
    *,
    pca_dim: int | None = 64,
    reg_variance: float = 0.8,
) -> dict[str, float]:
    """The three ETran scores for one source (combine with :func:`pool_normalized_sum`).

    Reference: Gholami, Akbari, Wang, Kamranian, Zhang, "ETran: Energy-Based
    Transferability Estimation", ICCV 2023, Section 3.

    ::

        S_en  = (1/N) sum_i log sum_z exp(l_z(x_i))      energy score (minus free energy,
                                                         T = 1) of the source logits l
        S_cls = (1/N) sum_i p_LDA(y_i | x_i)             LDA classification score
        S_reg = -(1/N) ||Y - P_r Y||_F^2                 SVD regression score

    A high ``S_en`` (low energy) marks the target data as in-distribution for the source
    model. ``p_LDA`` are the posteriors of linear discriminant analysis (shared
    Ledoit-Wolf covariance) on the features reduced by PCA to ``pca_dim`` dimensions.
    For ``S_reg``, ``Y`` is the centred one-hot label matrix and ``P_r = U_r U_r^T`` the
    projection on the top ``r`` left singular vectors of the centred features, ``r`` the
    fewest explaining ``reg_variance`` of their variance: the residual of the low-rank
    least-squares regression of the targets on the features.

    Variant implemented (classification): the combined ETran score is ``S_en + S_cls``
    normalised over the pool (:func:`etran`); ``S_reg`` is the term the paper adds for
    regression / detection targets and is included only on request.

    Args:
        features: Target-set features of the source model.
        logits: The source model's logits (pre-softmax outputs) on the same samples.
        labels: Target labels (integers, at least two classes).
        pca_dim: PCA dimension before the LDA (``None``: all components).
        reg_variance: Variance fraction defining the rank of the SVD regression.

    Shape:
        features ``(N, d)``, logits ``(N, Z)``, labels ``(N,)``.

    Returns:
        ``{"energy": S_en, "cls": S_cls, "reg": S_reg}``; each higher is better.
    """
    f = _as_features(features, "features", min_rows=2)
    n = f.shape[0]
    logit_arr = _as_features(logits, "logits")
    if logit_arr.shape[0] != n:
        raise ValueError(f"logits have {logit_arr.shape[0]} rows, features {n}")
    y, k = _as_labels(labels, n, "labels")
    reg_variance = _check_fraction(reg_variance, "reg_variance")
    if pca_dim is not None:
        pca_dim = check_positive_int(pca_dim, "pca_dim")
    top = logit_arr.max(axis=1)
    s_en = float(np.mean(top + np.log(np.sum(np.exp(logit_arr - top[:, None]), axis=1))))
    h = _unit_rms(_pca_scores(f, dim=pca_dim))
    p = _lda_posteriors(h, y, k)
    s_cls = float(np.mean(p[np.arange(n), y]))
    scores = _pca_scores(f, variance=reg_variance)
    basis = scores / np.linalg.norm(scores, axis=0)  # U_r
    target = np.eye(k)[y]
    target -= target.mean(axis=0)
    residual = target - basis @ (basis.T @ target)
    s_reg = -float(np.sum(residual**2)) / n
    return {"energy": s_en, "cls": s_cls, "reg": s_reg}


def etran(
    pool_features: Sequence[ArrayLike],
    pool_logits: Sequence[ArrayLike],
    labels: ArrayLike,
    *,
    regression: bool = False,
    pca_dim: int | None = 64,
) -> np.ndarray:
    """ETran of every source of a pool: :func:`etran_components`, then
    :func:`pool_normalized_sum` of ``S_en`` and ``S_cls`` (plus ``S_reg`` with
    ``regression=True``; Gholami et al., ICCV 2023).

    Shape:
        pool_features: ``M`` arrays ``(N, d_m)``, pool_logits ``M`` arrays ``(N, Z_m)``,
        labels ``(N,)`` -> ``(M,)``.
    """
    keys = ("energy", "cls", "reg") if regression else ("energy", "cls")
    rows = [etran_components(f, g, labels, pca_dim=pca_dim)
            for f, g in zip(pool_features, pool_logits, strict=True)]
    return pool_normalized_sum([[r[key] for key in keys] for r in rows])
