"""Adversarial transferability metrics (Liang et al., §3.1 and §3.3; docs/method.md §1-§3).

Every function here is pure: tensors in, tensors (or mappings of tensors) out. Shapes use
``N`` for the number of evaluation points, ``d`` for the output dimension of a model and
``n`` for the (flattened) input dimension. Both float32 and float64 are supported; the
result has the dtype of the input Jacobians.

Conventions
-----------
* ``J_f(x)`` is the ``d x n`` input Jacobian (the paper writes its transpose).
* ``v_f(x)`` is the top right-singular vector of ``J_f(x)``: the first-order "virtual"
  adversarial direction of Definition 1. Its sign is arbitrary and every metric below is
  invariant to it.
* ``||F||_{D,2}^2 = E ||F(x)||_2^2`` (spectral norm per point) and ``||g||_D^2 = E ||g(x)||^2``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from advtransfer.core.checks import check_batch_size, check_finite
from advtransfer.core.linalg import symmetric_eig
from advtransfer.core.modelutils import eval_mode

__all__ = [
    "JACOBIAN_OUTPUTS",
    "TopSingular",
    "center_outputs",
    "input_jacobians",
    "log_softmax_outputs",
    "output_jacobians",
    "singular_ratio",
    "top_singular",
    "adversarial_transferability",
    "affine_map",
    "directional_tau2",
    "transferability_result",
]


def input_jacobians(model: nn.Module, x: Tensor, batch_size: int = 256) -> Tensor:
    """Input Jacobians of ``model`` at every point of ``x``, in batched reverse mode.

    For each batch, one backward pass per output coordinate computes
    ``d/dx sum_i f_k(x_i)``; because the model is in eval mode every sample is
    independent, so row ``i`` of that gradient is ``d f_k(x_i) / d x_i``. This costs ``d``
    backward passes per batch instead of ``N * d`` for a per-sample loop.

    Args:
        model: maps ``(B, *input_shape)`` to ``(B, d)`` (or ``(B,)`` for a scalar model).
            It is switched to eval mode for the computation and its previous mode restored.
        x: evaluation inputs, shape ``(N, *input_shape)``.
        batch_size: points per batch (memory ``~ batch_size * d * n``).

    Returns:
        Tensor of shape ``(N, d, n)`` with ``n = prod(input_shape)``, dtype of ``x``.

    Raises:
        ValueError: the Jacobians hold NaN or infinite values (non-finite inputs or
            model outputs).
    """
    check_batch_size(batch_size)
    if x.ndim < 2:
        raise ValueError(f"x must have a batch dimension, got shape {tuple(x.shape)}")
    jac: Tensor | None = None  # preallocated (N, d, n): one Jacobian in memory, no copies
    with eval_mode(model):
        for start in range(0, x.shape[0], batch_size):
            xb = x[start : start + batch_size].detach().clone().requires_grad_(True)
            with torch.enable_grad():
                out = model(xb)
                if out.ndim == 1:
                    out = out.unsqueeze(1)
                out = out.reshape(out.shape[0], -1)
                d = out.shape[1]
                if jac is None:
                    jac = torch.empty((x.shape[0], d, xb[0].numel()), dtype=x.dtype,
                                      device=x.device)
                for k in range(d):
                    (grad,) = torch.autograd.grad(
                        out[:, k].sum(), xb, retain_graph=k < d - 1, allow_unused=True
                    )
                    block = jac[start : start + xb.shape[0], k]
                    if grad is None:  # output does not depend on the input
                        block.zero_()
                    else:
                        block.copy_(grad.reshape(xb.shape[0], -1))
    assert jac is not None
    return check_finite(jac, "input_jacobians(model, x)")


@dataclass(frozen=True)
class TopSingular:
    """Leading singular structure of a batch of Jacobians.

    Attributes:
        v: top right-singular vectors, ``(N, n)``, unit norm (zero where ``J = 0``).
        u: top left-singular vectors, ``(N, d)``.
        sigma1: largest singular values, ``(N,)``.
        sigma2: second singular values, ``(N,)`` (zero when ``d = 1``).
    """

    v: Tensor
    u: Tensor
    sigma1: Tensor
    sigma2: Tensor

    @property
    def ratio(self) -> Tensor:
        """Singular value ratio ``lambda(x) = sigma2 / sigma1`` (Definition 4), ``(N,)``."""
        return singular_ratio(self.sigma1, self.sigma2)


def singular_ratio(sigma1: Tensor, sigma2: Tensor) -> Tensor:
    """``lambda(x) = sigma_2(x) / sigma_1(x)`` (Definition 4), zero where ``sigma_1 = 0``.

    Args:
        sigma1, sigma2: ``(N,)`` largest and second singular values per point.

    Returns:
        ``(N,)`` ratios, dtype of ``sigma1``.
    """
    safe = torch.where(sigma1 > 0, sigma1, torch.ones_like(sigma1))
    return torch.where(sigma1 > 0, sigma2 / safe, torch.zeros_like(sigma1))


def top_singular(jac: Tensor, chunk: int | None = None) -> TopSingular:
    """Top right-singular vector and the two largest singular values per point.

    Uses the ``d x d`` Gram matrix ``J J^T = U S^2 U^T``
    (:func:`advtransfer.core.linalg.symmetric_eig`) instead of a full SVD of the ``d x n``
    Jacobian: ``sigma_i = sqrt(eig_i)`` and ``v_1 = J^T u_1 / sigma_1``. This is exact
    when ``d <= n`` and much cheaper when ``d << n``.

    Precision: squaring the singular values squares the condition number, so a Gram
    matrix formed and diagonalised in float32 resolves ``sigma2 / sigma1`` only down to
    about ``sqrt(eps_32) ~ 3e-4`` (``lambda = 1e-4`` came out with a ~300 % error). The
    Gram matrix and its eigendecomposition are therefore always computed in float64
    (``chunk`` points at a time, so a float32 input is never copied whole); every float32
    entry is exact in float64, and the float64 Gram route resolves ratios down to
    ``sqrt(eps_64) ~ 1e-8``. Results are returned in the dtype of ``jac``.

    Args:
        jac: Jacobians, shape ``(N, d, n)``.
        chunk: points per float64 block; by default every point at once for a float64
            ``jac`` (no copy is made) and ``max(64, 2^22 / (d n))`` points (a float64 copy of
            at most 32 MB, or 64 points) otherwise: one batched ``eigh`` instead of a loop
            of small ones where the Jacobians are small.

    Returns:
        :class:`TopSingular` with ``v (N, n)``, ``u (N, d)``, ``sigma1 (N,)``, ``sigma2 (N,)``.
    """
    if jac.ndim != 3:
        raise ValueError(f"jac must have shape (N, d, n), got {tuple(jac.shape)}")
    d = jac.shape[1]
    if chunk is None:
        chunk = (max(jac.shape[0], 1) if jac.dtype == torch.float64
                 else max(64, 2**22 // max(d * jac.shape[2], 1)))
    check_batch_size(chunk)
    vs, us, s1, s2 = [], [], [], []
    for start in range(0, jac.shape[0], chunk):
        block = jac[start : start + chunk].to(torch.float64)
        gram = block @ block.transpose(1, 2)
        evals, evecs = symmetric_eig(gram)  # ascending
        evals = evals.clamp_min(0.0)
        sigma1 = evals[:, -1].sqrt()
        s1.append(sigma1)
        s2.append(evals[:, -2].sqrt() if d > 1 else torch.zeros_like(sigma1))
        u = evecs[:, :, -1]
        us.append(u)
        vs.append((block.transpose(1, 2) @ u.unsqueeze(-1)).squeeze(-1))
    v = torch.cat(vs)
    tiny = torch.finfo(torch.float64).tiny
    norm = v.norm(dim=1, keepdim=True)
    v = torch.where(norm > tiny, v / norm.clamp_min(tiny), torch.zeros_like(v))
    dt = jac.dtype
    return TopSingular(v=v.to(dt), u=torch.cat(us).to(dt), sigma1=torch.cat(s1).to(dt),
                       sigma2=torch.cat(s2).to(dt))


#: Output maps whose input Jacobians define tau1 / tau2 / alpha for a classifier
#: (see :func:`output_jacobians`); ``features`` is handled by the caller (another model).
JACOBIAN_OUTPUTS = ("centered_logits", "log_softmax", "logits", "features")


def center_outputs(jac: Tensor) -> Tensor:
    """Logit Jacobians projected orthogonally to the all-ones output vector.

    Softmax is invariant to ``z(x) -> z(x) + c(x) 1`` for any scalar function ``c``, so
    a classifier's predictions (and its cross-entropy) do not determine its logits: they
    determine them only up to that free direction. The logit Jacobian is not invariant
    (``J -> J + 1 grad c(x)^T``), and neither are the singular vectors, ``Delta_S``,
    ``Delta_T`` and thus tau1 / tau2 / alpha computed from it (the paper's
    definitions read ``f`` as the model's output map). Removing the free direction,
    ``P J = (I - 1 1^T / d) J = J - mean_k J_k``, gives the Jacobian of the *centred*
    logits ``z - mean(z) 1``, which is the same for every equivalent logit function:
    measures computed from it are properties of the classifier. When the logits already
    sum to zero (``1^T J = 0``), ``P J = J`` and nothing changes.

    A single output (``d = 1``, e.g. one logit read through a sigmoid) has no free
    direction and is returned unchanged.

    Args:
        jac: ``(N, d, n)`` logit Jacobians.

    Returns:
        ``(N, d, n)`` centred Jacobians, same dtype.
    """
    if jac.ndim != 3:
        raise ValueError(f"jac must have shape (N, d, n), got {tuple(jac.shape)}")
    if jac.shape[1] == 1:
        return jac
    return jac - jac.mean(dim=1, keepdim=True)


def log_softmax_outputs(jac: Tensor, logits: Tensor) -> Tensor:
    """Jacobians of ``log softmax(z(x))`` from the logit Jacobians and the logits.

    ``d log p / dx = (I - 1 p^T) J`` with ``p = softmax(z)``: like :func:`center_outputs`
    this removes the free direction ``c(x) 1`` of the logits (``(I - 1 p^T) 1 = 0``), but
    it is an oblique projection weighted by the predicted probabilities.

    Args:
        jac: ``(N, d, n)`` logit Jacobians.
        logits: ``(N, d)`` logits at the same points.
    """
    if jac.ndim != 3 or logits.shape != jac.shape[:2]:
        raise ValueError(f"need jac (N, d, n) and logits (N, d); got {tuple(jac.shape)} "
                         f"and {tuple(logits.shape)}")
    p = torch.softmax(logits.to(jac.dtype), dim=1)
    return jac - (p.unsqueeze(1) @ jac)  # (N, 1, n) broadcast over the d rows


def output_jacobians(jac: Tensor, output: str, logits: Tensor | None = None) -> Tensor:
    """Jacobians of the chosen output map from the raw logit Jacobians ``jac``.

    ``output``: ``logits`` (paper-literal, unchanged), ``centered_logits``
    (:func:`center_outputs`, the default of every classifier scenario) or ``log_softmax``
    (:func:`log_softmax_outputs`, needs ``logits``).
    """
    if output == "logits":
        return jac
    if output == "centered_logits":
        return center_outputs(jac)
    if output == "log_softmax":
        if logits is None:
            raise ValueError("output='log_softmax' needs the logits")
        return log_softmax_outputs(jac, logits)
    raise ValueError(f"unknown output {output!r}; choose logits, centered_logits or log_softmax")


def affine_map(delta_source: Tensor, delta_target: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """The linear map ``A`` of Definition 3 between deviations, with its norm projection.

    ``B = E[Delta_T Delta_S^T]``, ``C = E[Delta_S Delta_S^T]``, ``A* = B C^+`` and
    ``r = ||Delta_T||_D / ||Delta_S||_D``; ``A = A*`` if ``||A*||_2 <= r`` else
    ``r A* / ||A*||_2``.

    Args:
        delta_source: ``Delta_S``, shape ``(N, d_S)``.
        delta_target: ``Delta_T``, shape ``(N, d_T)``.

    Returns:
        ``(A, A_star, r)`` with ``A`` and ``A_star`` of shape ``(d_T, d_S)`` and ``r`` a
        0-dim tensor.
    """
    n = delta_source.shape[0]
    b = delta_target.transpose(0, 1) @ delta_source / n
    c = delta_source.transpose(0, 1) @ delta_source / n
    a_star = b @ torch.linalg.pinv(c, hermitian=True)
    src_sq = delta_source.pow(2).sum(1).mean()
    tgt_sq = delta_target.pow(2).sum(1).mean()
    r = (tgt_sq / src_sq).sqrt() if src_sq > 0 else torch.zeros_like(src_sq)
    spec = torch.linalg.matrix_norm(a_star, ord=2)
    a = a_star * (r / spec) if spec > r else a_star
    return a, a_star, r


def adversarial_transferability(jac_source: Tensor, jac_target: Tensor, *,
                                target_top: TopSingular | None = None) -> dict[str, Tensor]:
    """tau1, tau2, alpha and singular value ratios between a source and a target model.

    Definitions (Liang et al. Def. 2-4 and §3.3; docs/method.md §3), with ``v_S``, ``v_T`` the
    first-order attack directions of each model at ``x``:

    * ``tau1(x) = <v_S(x), v_T(x)>^2`` and ``tau1 = E tau1(x)``;
    * ``Delta_S = J_S v_S``, ``Delta_T = J_T v_S`` (both under the source's attack);
    * ``tau2 = 1 - ||Delta_T - A Delta_S||_D^2 / ||Delta_T||_D^2`` with ``A`` from
      :func:`affine_map` (``tau2`` is directional: source -> target);
    * ``alpha = ||J_T v_S||_D^2 / ||J_T v_T||_D^2`` (first-order normalised cross
      adversarial loss; ``eps`` cancels);
    * ``lambda_f(x) = sigma_2(x) / sigma_1(x)``, worst case = max over the points.

    Args:
        jac_source: ``J_S``, shape ``(N, d_S, n)``.
        jac_target: ``J_T``, shape ``(N, d_T, n)``, same ``N`` and ``n``.
        target_top: ``top_singular(jac_target)`` when the caller already has it (one target
            against many sources); computed here otherwise.

    Returns:
        Mapping with scalars ``tau1``, ``tau2``, ``alpha``, ``lambda_source``,
        ``lambda_target`` (worst case), ``r``; per-sample ``tau1_per_sample``,
        ``lambda_source_per_sample``, ``lambda_target_per_sample``,
        ``sigma1_source``, ``sigma1_target`` (``(N,)``); ``A``, ``A_star`` (``(d_T, d_S)``);
        ``delta_source`` (``(N, d_S)``), ``delta_target`` (``(N, d_T)``),
        ``v_source``, ``v_target`` (``(N, n)``).
    """
    if jac_source.ndim != 3 or jac_target.ndim != 3:
        raise ValueError(
            "Jacobians must have shape (N, d, n); got "
            f"{tuple(jac_source.shape)} and {tuple(jac_target.shape)}"
        )
    if jac_source.shape[0] != jac_target.shape[0] or jac_source.shape[2] != jac_target.shape[2]:
        raise ValueError(
            "source and target Jacobians need the same N and input size n; got "
            f"{tuple(jac_source.shape)} and {tuple(jac_target.shape)}"
        )
    if jac_source.dtype != jac_target.dtype:
        raise ValueError(f"dtype mismatch: {jac_source.dtype} vs {jac_target.dtype}")
    check_finite(jac_source, "jac_source")
    check_finite(jac_target, "jac_target")
    src = top_singular(jac_source)
    tgt = top_singular(jac_target) if target_top is None else target_top
    if tgt.v.shape != (jac_target.shape[0], jac_target.shape[2]) or (
            tgt.u.shape != jac_target.shape[:2]):
        raise ValueError(
            f"target_top does not belong to jac_target {tuple(jac_target.shape)}: its v has "
            f"shape {tuple(tgt.v.shape)} and u {tuple(tgt.u.shape)}; pass "
            "top_singular(jac_target)"
        )
    delta_s = (jac_source @ src.v.unsqueeze(-1)).squeeze(-1)
    delta_t = (jac_target @ src.v.unsqueeze(-1)).squeeze(-1)
    return transferability_result(src.v, tgt.v, delta_s, delta_t, (src.sigma1, src.sigma2),
                                  (tgt.sigma1, tgt.sigma2))


def directional_tau2(delta_source: Tensor, delta_target: Tensor
                     ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """``tau2`` of Definition 3 from the deviations, with the map it used.

    ``tau2 = 1 - ||Delta_T - A Delta_S||_D^2 / ||Delta_T||_D^2`` with ``A`` from
    :func:`affine_map`; zero where ``Delta_T = 0``.

    Args:
        delta_source: ``Delta_S = J_S v_S``, ``(N, d_S)``.
        delta_target: ``Delta_T = J_T v_S``, ``(N, d_T)``.

    Returns:
        ``(tau2, A, A_star, r)``: 0-dim ``tau2`` and ``r``, ``A`` and ``A_star`` of shape
        ``(d_T, d_S)``.
    """
    a, a_star, r = affine_map(delta_source, delta_target)
    tgt_sq = delta_target.pow(2).sum(1).mean()
    resid = (delta_target - delta_source @ a.transpose(0, 1)).pow(2).sum(1).mean()
    tau2 = 1.0 - resid / tgt_sq if tgt_sq > 0 else torch.zeros_like(tgt_sq)
    return tau2, a, a_star, r


def transferability_result(
    v_source: Tensor,
    v_target: Tensor,
    delta_source: Tensor,
    delta_target: Tensor,
    sigma_source: tuple[Tensor, Tensor],
    sigma_target: tuple[Tensor, Tensor],
) -> dict[str, Tensor]:
    """The result mapping of :func:`adversarial_transferability` from per-point pieces.

    Shared by the exact path (pieces from materialised Jacobians) and the matrix-free path
    (:mod:`advtransfer.core.matrixfree`, pieces from Jacobian products), so that both
    apply the same definitions and return the same keys.

    Args:
        v_source, v_target: top right-singular vectors ``v_S``, ``v_T``, ``(N, n)``.
        delta_source, delta_target: ``Delta_S = J_S v_S`` ``(N, d_S)``, ``Delta_T = J_T v_S``
            ``(N, d_T)``.
        sigma_source, sigma_target: ``(sigma_1, sigma_2)`` per point, each ``(N,)``.

    Returns:
        The mapping described in :func:`adversarial_transferability`.
    """
    tau1_ps = (v_source * v_target).sum(1).pow(2)
    tau2, a, a_star, r = directional_tau2(delta_source, delta_target)
    tgt_sq = delta_target.pow(2).sum(1).mean()
    own = sigma_target[0].pow(2).mean()
    alpha = tgt_sq / own if own > 0 else torch.zeros_like(own)
    lam_s, lam_t = singular_ratio(*sigma_source), singular_ratio(*sigma_target)
    return {
        "tau1": tau1_ps.mean(),
        "tau1_per_sample": tau1_ps,
        "tau2": tau2,
        "alpha": alpha,
        "A": a,
        "A_star": a_star,
        "r": r,
        "lambda_source": lam_s.max(),
        "lambda_target": lam_t.max(),
        "lambda_source_per_sample": lam_s,
        "lambda_target_per_sample": lam_t,
        "sigma1_source": sigma_source[0],
        "sigma1_target": sigma_target[0],
        "delta_source": delta_source,
        "delta_target": delta_target,
        "v_source": v_source,
        "v_target": v_target,
    }
