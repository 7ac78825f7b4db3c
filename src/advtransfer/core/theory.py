"""Theory checks of Liang et al. §3.2-§3.3 (docs/method.md §5): Theorems 1-3 and Proposition 2.

All functions take the mapping returned by
:func:`advtransfer.core.tau.adversarial_transferability` (called ``res`` below) and the
Jacobians it was computed from, and return tensors. ``||J(x)||_2`` is the spectral norm
of the ``d x n`` Jacobian at ``x``; ``||J||_{D,2}^2 = E ||J(x)||_2^2``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import torch
from torch import Tensor

from advtransfer.core.checks import check_batch_size
from advtransfer.core.linalg import symmetric_eig

__all__ = [
    "MAX_SIGMOID_SECOND_DERIVATIVE",
    "gradient_difference",
    "theorem1_rhs",
    "theorem2_bound",
    "theorem2_bound_worst_case",
    "theorem3_bound",
    "sigmoid_mlp_beta",
    "proposition2_bounds",
]

#: ``max_z |sigmoid''(z)| = 1 / (6 sqrt 3)``, attained at ``sigmoid(z) = 1/2 -+ 1/(2 sqrt 3)``.
MAX_SIGMOID_SECOND_DERIVATIVE = 1.0 / (6.0 * math.sqrt(3.0))


def gradient_difference(
    jac_source: Tensor, jac_target: Tensor, a: Tensor, chunk: int | None = None
) -> Tensor:
    """True gradient difference ``G = E ||J_T(x) - A J_S(x)||_2^2`` (spectral norm per point).

    This is ``||∇f_T - ∇(g∘f_S)||_{D,2}^2`` for any affine ``g(z) = A z + c``.

    ``||M||_2^2`` is the largest eigenvalue of the Gram matrix ``M M^T`` (``d_T x d_T``, or
    ``M^T M`` when ``n < d_T``), computed in float64 ``chunk`` points at a time; no SVD of
    the whole ``(N, d_T, n)`` difference and no copy of it are made.

    Args:
        jac_source: ``(N, d_S, n)``.
        jac_target: ``(N, d_T, n)``.
        a: ``(d_T, d_S)``, usually ``res["A"]``.
        chunk: points per float64 block; by default ``max(64, 2^22 / (d_T n))`` (a float64
            difference of at most 32 MB, or 64 points): one batched ``eigvalsh`` where the
            Jacobians are small instead of a loop of small ones.

    Returns:
        0-dim tensor, dtype of ``jac_target``.
    """
    if chunk is None:
        chunk = max(64, 2**22 // max(jac_target.shape[1] * jac_target.shape[2], 1))
    check_batch_size(chunk)
    a64 = a.to(torch.float64)
    total = torch.zeros((), dtype=torch.float64, device=jac_target.device)
    for start in range(0, jac_target.shape[0], chunk):
        block_s = jac_source[start : start + chunk].to(torch.float64)
        diff = torch.baddbmm(jac_target[start : start + chunk].to(torch.float64),
                             a64.expand(block_s.shape[0], *a64.shape), block_s, alpha=-1.0)
        gram = diff @ diff.transpose(1, 2) if diff.shape[1] <= diff.shape[2] else (
            diff.transpose(1, 2) @ diff)
        total = total + symmetric_eig(gram, eigenvectors=False)[:, -1].clamp_min(0.0).sum()
    return (total / max(jac_target.shape[0], 1)).to(jac_target.dtype)


def theorem1_rhs(res: Mapping[str, Tensor]) -> Tensor:
    """Right-hand side of Theorem 1 (scalar models, ``d_S = d_T = 1``).

    ``E[(1 - tau1(x) tau2) ||∇f_T(x)||^2]``, which equals
    ``||∇f_T - ∇(g∘f_S)||_D^2`` exactly when ``g(z) = A z + c`` with ``A`` the tau2 map.

    Args:
        res: output of ``adversarial_transferability`` on scalar models.

    Returns:
        0-dim tensor.
    """
    if res["A"].shape != (1, 1):
        raise ValueError(f"Theorem 1 needs scalar models; A has shape {tuple(res['A'].shape)}")
    return ((1.0 - res["tau1_per_sample"] * res["tau2"]) * res["sigma1_target"].pow(2)).mean()


def theorem2_bound(res: Mapping[str, Tensor]) -> Tensor:
    """Theorem 2 upper bound on ``G``, per-point form.

    ``5 E[(1 - tau1(x) tau2 + (1 - tau1(x))(1 - tau2) lambda_T(x)^2) ||J_T(x)||_2^2
    + (lambda_T(x) + lambda_S(x))^2 ||J_S(x)||_2^2 ||J_T||_{D,2}^2 / ||J_S||_{D,2}^2]``.

    Returns:
        0-dim tensor.
    """
    tau1 = res["tau1_per_sample"]
    tau2 = res["tau2"]
    lam_t = res["lambda_target_per_sample"]
    lam_s = res["lambda_source_per_sample"]
    jt2 = res["sigma1_target"].pow(2)
    js2 = res["sigma1_source"].pow(2)
    scale = jt2.mean() / js2.mean() if js2.mean() > 0 else torch.zeros_like(jt2.mean())
    term = (1 - tau1 * tau2 + (1 - tau1) * (1 - tau2) * lam_t.pow(2)) * jt2
    term = term + (lam_t + lam_s).pow(2) * js2 * scale
    return 5.0 * term.mean()


def theorem2_bound_worst_case(res: Mapping[str, Tensor]) -> Tensor:
    """Theorem 2 upper bound on ``G``, worst-case form.

    ``((1 - tau1 tau2) + (1 - tau1)(1 - tau2) lambda_T^2 + (lambda_T + lambda_S)^2) 5 L^2``
    with ``tau1`` the mean, ``lambda`` the worst-case ratios and ``L = max ||J_T(x)||_2``.

    Returns:
        0-dim tensor.
    """
    tau1, tau2 = res["tau1"], res["tau2"]
    lam_t, lam_s = res["lambda_target"], res["lambda_source"]
    lip = res["sigma1_target"].max()
    core = (1 - tau1 * tau2) + (1 - tau1) * (1 - tau2) * lam_t**2 + (lam_t + lam_s) ** 2
    return 5.0 * core * lip**2


def theorem3_bound(
    target_residual: Tensor, grad_diff: Tensor, res: Mapping[str, Tensor], beta: float
) -> Tensor:
    """Theorem 3 upper bound on the transferred loss ``||g∘f_S - y||_D^2``.

    ``(||f_T - y||_D + ||∇f_T - ∇(g∘f_S)||_{D,2} + (1 + ||J_T||_{D,2}/||J_S||_{D,2}) beta)^2``
    with ``g(z) = A (z - f_S(0)) + f_T(0)``. It assumes inputs with ``||x|| <= 1`` and
    ``beta``-smooth models; every quantity must be expressed in those input coordinates.

    Args:
        target_residual: ``f_T(x) - y``, shape ``(N, d_T)``.
        grad_diff: ``G = E ||J_T - A J_S||_2^2`` (0-dim).
        res: output of ``adversarial_transferability``.
        beta: smoothness constant, ``max(beta_S, beta_T)``.

    Returns:
        0-dim tensor.
    """
    fit = target_residual.pow(2).sum(1).mean().sqrt()
    ratio = (res["sigma1_target"].pow(2).mean() / res["sigma1_source"].pow(2).mean()).sqrt()
    return (fit + grad_diff.sqrt() + (1.0 + ratio) * beta) ** 2


def sigmoid_mlp_beta(w1: Tensor, w2: Tensor) -> float:
    """Smoothness bound of ``f(x) = W2 sigmoid(W1 x + b1) + b2``.

    ``beta <= max|sigmoid''| ||W2||_2 ||W1||_2^2`` with ``max|sigmoid''| = 1/(6 sqrt 3)``.

    Args:
        w1: ``(h, n)`` first-layer weights.
        w2: ``(d, h)`` second-layer weights.
    """
    s1 = torch.linalg.matrix_norm(w1, ord=2)
    s2 = torch.linalg.matrix_norm(w2, ord=2)
    return float(MAX_SIGMOID_SECOND_DERIVATIVE * s2 * s1**2)


def proposition2_bounds(res: Mapping[str, Tensor], eps: float | Sequence[float]) -> tuple:
    """Proposition 2: first-order bounds on the target's loss under the source's attack.

    Lower ``eps^2 E[tau1(x) ||J_T(x)||^2]``; upper
    ``eps^2 E[(lambda_T(x)^2 + (1 - lambda_T(x)^2) tau1(x)) ||J_T(x)||^2]``. The
    first-order loss itself, ``eps^2 E ||J_T v_S||^2``, lies between them.

    Returns:
        ``(lower, upper)`` 0-dim tensors (or tensors shaped like ``eps``).
    """
    eps_t = torch.as_tensor(eps, dtype=res["tau1"].dtype)
    tau1 = res["tau1_per_sample"]
    lam_t2 = res["lambda_target_per_sample"].pow(2)
    jt2 = res["sigma1_target"].pow(2)
    lower = (tau1 * jt2).mean()
    upper = ((lam_t2 + (1 - lam_t2) * tau1) * jt2).mean()
    return eps_t**2 * lower, eps_t**2 * upper
