"""Matrix-free adversarial transferability: tau1, tau2, alpha, lambda and G without Jacobians.

The exact path (:mod:`advtransfer.core.tau`) materialises every input Jacobian, shape
``(N, d, n)``, with ``d`` backward passes per batch. Here every quantity is computed from
Jacobian-vector products ``J v`` and vector-Jacobian products ``J^T u`` only, batched over
points, so the cost grows with the number of Krylov vectors (tens) instead of ``d`` and the
memory with one batch of activations instead of ``N * d * n`` (Liang et al. §3.1 and §3.3;
docs/method.md §2-§3).

Shapes use ``N`` for the number of points, ``d`` for a model's output dimension, ``n`` for
the flattened input dimension and ``k`` for the number of singular triplets.

Algorithm
---------
For each point, the top-``k`` eigenpairs ``(sigma_j^2, v_j)`` of ``J(x)^T J(x)`` (``n x n``,
never formed) come from a block Krylov method with Rayleigh-Ritz extraction (block
Lanczos with full re-orthogonalisation and thick restarts): the basis ``Q (n, m)`` grows by
the residuals of the current Ritz pairs, ``H = Q^T (J^T J Q)`` is diagonalised in float64
and a point stops when the relative residuals of its top-``k`` Ritz pairs,
``||J^T J v_j - s_j^2 v_j|| / s_1^2`` (the residual relative to the operator norm), are all
``<= tol``. Every point of a batch runs in lock-step (one batched JVP and VJP per block
vector); a point that has stopped keeps the result of the iteration where it stopped.
Points that reach the iteration cap are returned with their last iterate and *counted*
(``n_not_converged``); they are never dropped.

Products: ``mode="func"`` (default) tiles the batch ``block`` times (row ``j B + i`` carries
vector ``j`` of point ``i``), keeps one ``torch.func.vjp`` closure of that tiled batch for
``J^T u`` and computes ``J v`` in forward mode on the tiled batch (dual tensors of
``torch.autograd.forward_ad``, with eval-mode batch norms run as per-channel affine maps
with their own JVP, :func:`batchnorm_as_affine`): one plain batched call per block, no
``vmap``. ``mode="autograd"`` records one forward
pass and one ``create_graph`` backward ``g(u) = J^T u`` per batch; then ``J^T u`` is a
backward through the forward graph and ``J v = d<g(u), v>/du`` a backward through the
backward graph (reverse over reverse, batched with ``is_grads_batched``); it needs twice
differentiable backward formulas. Both give the same numbers. Samples must be independent
(eval mode): the VJP of ``sum_i <u_i, f(x_i)>`` with respect to the batch is ``J_i^T u_i``
row by row, and the JVP of a batch of tangents is ``J_i t_i``.

Cost: one product ``J^T J v`` is a JVP plus a VJP (measured ~3-5 single-output backward
passes on CPU), and a point needs ~15-40 of them per model at ``tol = 1e-4``, against
``d`` backward passes on the exact path: the matrix-free path pays off for ``d`` in the
hundreds and above, and its memory does not grow with ``N`` or ``d``.

Near-degenerate top singular values
-----------------------------------
If ``sigma_1 ~ sigma_2`` the top right-singular vector is not determined by ``J`` (any unit
vector of the top cluster is a valid attack direction of Definition 1, and the exact path
returns an arbitrary one as well), so ``tau1(x)`` is not a property of the model there.
Such points are **reported as not converged**: a point whose relative gap
``(s_1^2 - s_2^2) / s_1^2`` is ``<= gap_tol`` is counted in ``n_not_converged`` (and in
``n_degenerate``) even when its residuals are below ``tol``. Its ``sigma_1``, ``sigma_2``
(hence ``lambda`` and ``alpha``) are still accurate and its ``v_1`` is a unit vector of the
top-``k`` invariant subspace, but ``tau1(x)`` and ``Delta`` at that point depend on the
start vectors. Seeing a repeated ``sigma_1`` needs ``block >= 2`` (the default is
``block = k``): a single-vector Krylov space holds one copy of it and would report
``sigma_3`` as ``sigma_2``.

Numerically zero operators
--------------------------
``G`` is the top eigenvalue of ``M^T M`` with ``M = J_T - A J_S``. Where the source equals
the target (``t = 0`` of the synthetic sweep) ``M`` is rounding noise: its Ritz pairs never
settle, so a residual relative to ``s_1^2`` never reaches ``tol``. The residual of ``G`` is
therefore judged against ``tol * max(s_1^2, floor * E ||J_T||_2^2)`` (``floor`` =
:data:`GRAD_DIFF_FLOOR` = 1e-6 by default, ``E ||J_T||_2^2 = E sigma_{1,T}^2``): an
absolute error of at most ``tol * floor`` of the target's own scale, far below anything
``G`` is compared with. Points whose ``s_1^2`` is below that resolution count as converged
and contribute ``G = 0``. ``J^T J`` itself needs no floor: it is an exact (not a cancelled)
operator, and ``J = 0`` is caught as ``s_1 = 0``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch.autograd import forward_ad

from advtransfer.core.checks import check_batch_size, check_positive_int, check_positive_number
from advtransfer.core.linalg import symmetric_eig
from advtransfer.core.modelutils import eval_mode
from advtransfer.core.tau import directional_tau2, singular_ratio, transferability_result

__all__ = [
    "GRAD_DIFF_FLOOR",
    "MODES",
    "OUTPUTS",
    "LinearizedModel",
    "MatrixFreeSingular",
    "adversarial_transferability_matrix_free",
    "batchnorm_as_affine",
    "gradient_difference_matrix_free",
    "tau2_matrix_free",
    "top_singular_matrix_free",
    "transferability_matrix_matrix_free",
]

#: Ways of computing ``J v`` and ``J^T u`` (see the module docstring).
MODES = ("autograd", "func")

#: Output maps the Jacobian is taken of (``tau.output_jacobians`` on the exact path).
OUTPUTS = ("logits", "centered_logits", "log_softmax")

#: Absolute residual floor of G, relative to ``E ||J_T||_2^2`` (module docstring).
GRAD_DIFF_FLOOR = 1e-6

_F64 = torch.float64


def _output_map(model: nn.Module, output: str) -> Callable[[Tensor], Tensor]:
    """``x -> f(x)`` flattened to ``(B, d)``, after the chosen output map."""
    if output not in OUTPUTS:
        raise ValueError(f"unknown output {output!r}; choose one of {', '.join(OUTPUTS)}")

    def f(x: Tensor) -> Tensor:
        out = model(x)
        out = out.reshape(out.shape[0], -1)
        if output == "centered_logits" and out.shape[1] > 1:
            out = out - out.mean(dim=1, keepdim=True)
        elif output == "log_softmax":
            out = torch.log_softmax(out, dim=1)
        return out

    return f


class _ChannelAffine(torch.autograd.Function):
    """``y = x * s + c`` per channel (dim 1) for constants ``s``, ``c``, with its own JVP.

    Written as plain ``x * s + c``, forward-mode AD pairs the constants with zero
    tangents, and torch evaluates that zero-tangent arithmetic through Python reference
    implementations (more time than the convolutions of a ResNet JVP on CPU); here the
    tangent is ``x_t * s``, one native product.
    """

    @staticmethod
    def forward(x: Tensor, s: Tensor, c: Tensor) -> Tensor:
        shape = (1, -1) + (1,) * (x.ndim - 2)
        return torch.addcmul(c.reshape(shape), x, s.reshape(shape))

    @staticmethod
    def setup_context(ctx, inputs, output) -> None:
        ctx.shape = (1, -1) + (1,) * (inputs[0].ndim - 2)
        ctx.scale = inputs[1]

    @staticmethod
    def jvp(ctx, x_t: Tensor, s_t, c_t) -> Tensor:
        return x_t * ctx.scale.reshape(ctx.shape)

    @staticmethod
    def backward(ctx, grad: Tensor):
        return grad * ctx.scale.reshape(ctx.shape), None, None


@contextmanager
def batchnorm_as_affine(model: nn.Module) -> Iterator[int]:
    """Run ``model``'s eval-mode batch norms as per-channel affine maps, then restore them.

    In eval mode a batch norm is ``y = (x - mean) / sqrt(var + eps) * w + b = x * s + c``
    per channel, with running statistics. torch's forward-mode (JVP) rule for
    ``batch_norm`` runs through a Python decomposition that took about 40 % of the whole
    matrix-free computation on a CIFAR ResNet-18 on CPU, and so does a plain ``x * s + c``
    with constant ``s``, ``c`` (their zero tangents); :class:`_ChannelAffine` gives the
    tangent ``x_t * s`` directly. The two forms agree to rounding. A batch norm in training mode or without running
    statistics (which uses the batch's own statistics) is left as it is.

    Yields:
        The number of batch norms replaced.
    """
    patched: list[tuple[nn.Module, object]] = []
    for module in model.modules():
        if (not isinstance(module, nn.modules.batchnorm._BatchNorm) or module.training
                or module.running_mean is None or module.running_var is None):
            continue
        with torch.no_grad():
            scale = (module.running_var + module.eps).rsqrt()
            if module.weight is not None:
                scale = scale * module.weight
            shift = -module.running_mean * scale
            if module.bias is not None:
                shift = shift + module.bias

        def forward(x: Tensor, s: Tensor = scale, c: Tensor = shift) -> Tensor:
            return _ChannelAffine.apply(x, s, c)

        patched.append((module, module.__dict__.get("forward")))
        module.forward = forward
    try:
        yield len(patched)
    finally:
        for module, previous in patched:
            if previous is None:
                del module.forward
            else:
                module.forward = previous


class LinearizedModel:
    """The Jacobians ``J(x_i)`` of one batch of points, as batched products.

    Args:
        model: maps ``(B, *input_shape)`` to ``(B, ...)``; must already be in eval mode
            (samples independent).
        x: the batch, ``(B, *input_shape)``.
        output: ``logits`` (the raw output), ``centered_logits`` or ``log_softmax``.
        mode: ``func`` or ``autograd`` (module docstring).
        block: vectors per point in one call (``func`` mode tiles the batch this often).

    Attributes:
        n: flattened input size; ``d``: flattened output size; ``batch``: ``B``.
    """

    def __init__(self, model: nn.Module, x: Tensor, output: str = "logits",
                 mode: str = "func", block: int = 1) -> None:
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")
        self._f = _output_map(model, output)
        self.mode = mode
        self.dtype = x.dtype
        self._xb = x.detach().clone().requires_grad_(True)
        self.batch = x.shape[0]
        self.n = x[0].numel()
        self._batched = True
        with torch.enable_grad():
            if mode == "autograd":
                self._out = self._f(self._xb)
                self.d = self._out.shape[1]
                self._u = torch.zeros_like(self._out, requires_grad=True)
                if self._out.requires_grad:
                    (g,) = torch.autograd.grad(self._out, self._xb, self._u,
                                               create_graph=True, allow_unused=True)
                else:
                    g = None
                self._g = g if g is not None and g.requires_grad else None
                self._depends = g is not None
            else:
                # the batch tiled ``block`` times: row ``j * B + i`` carries vector ``j`` of
                # point ``i``, so a block of products is one plain batched call (no vmap)
                self._block = block
                self._model = model
                tiled = self._xb.detach().repeat(block, *([1] * (x.ndim - 1)))
                out, self._vjp_fn = torch.func.vjp(self._f, tiled)
                self.d = out.shape[1]
                self._depends = True

    # -- helpers ---------------------------------------------------------------------
    def _grad(self, outputs: Tensor, inputs: Tensor, cot: Tensor) -> Tensor:
        """Batched ``autograd.grad`` over the leading dim of ``cot``, loop as fallback."""
        if self._batched:
            try:
                (res,) = torch.autograd.grad(outputs, inputs, cot, retain_graph=True,
                                             is_grads_batched=True, allow_unused=True)
                return torch.zeros_like(cot[:1].expand(cot.shape[0], *inputs.shape)) \
                    if res is None else res
            except RuntimeError:  # an op without a batching rule: one product at a time
                self._batched = False
        rows = []
        for c in cot:
            (r,) = torch.autograd.grad(outputs, inputs, c, retain_graph=True, allow_unused=True)
            rows.append(torch.zeros_like(inputs) if r is None else r)
        return torch.stack(rows)

    # -- products ----------------------------------------------------------------------
    def jvp(self, v: Tensor) -> Tensor:
        """``J(x_i) v_i`` for a block of tangents.

        Args:
            v: ``(B, n, b)``.

        Returns:
            ``(B, d, b)`` in the dtype of ``x``.
        """
        b = v.shape[2]
        tangents = v.to(self.dtype).permute(2, 0, 1).reshape(b, *self._xb.shape)
        if self.mode == "autograd":
            if self._g is None:
                return torch.zeros(self.batch, self.d, b, dtype=self.dtype, device=v.device)
            res = self._grad(self._g, self._u, tangents)
        else:
            xb = self._xb.detach()
            tiled = xb.repeat(b, *([1] * (xb.ndim - 1)))
            # forward mode with dual tensors (less per-op overhead than torch.func.jvp) and
            # the batch norms as affine maps with their own JVP (batchnorm_as_affine)
            with batchnorm_as_affine(self._model), forward_ad.dual_level():
                out = self._f(forward_ad.make_dual(tiled, tangents.reshape(tiled.shape)))
                res = forward_ad.unpack_dual(out).tangent
            if res is None:  # the output does not depend on the input
                res = torch.zeros_like(out)
        return res.detach().reshape(b, self.batch, self.d).permute(1, 2, 0)

    def vjp(self, u: Tensor) -> Tensor:
        """``J(x_i)^T u_i`` for a block of cotangents.

        Args:
            u: ``(B, d, b)``.

        Returns:
            ``(B, n, b)`` in the dtype of ``x``.
        """
        b = u.shape[2]
        cot = u.to(self.dtype).permute(2, 0, 1).contiguous()
        if self.mode == "autograd":
            if not self._depends:
                return torch.zeros(self.batch, self.n, b, dtype=self.dtype, device=u.device)
            res = self._grad(self._out, self._xb, cot)
        else:
            parts = []
            for j in range(0, b, self._block):  # blocks of the tiled graph, zero-padded
                c = cot[j : j + self._block]
                if c.shape[0] < self._block:
                    c = torch.cat([c, c.new_zeros(self._block - c.shape[0], *c.shape[1:])])
                (r,) = self._vjp_fn(c.reshape(-1, self.d))
                parts.append(r.reshape(self._block, self.batch, -1)[: min(self._block, b - j)])
            res = torch.cat(parts)
        return res.detach().reshape(b, self.batch, self.n).permute(1, 2, 0)


@dataclass(frozen=True)
class MatrixFreeSingular:
    """Top-``k`` right-singular structure of ``J(x)`` for every point (float64).

    Attributes:
        v: right-singular vectors, ``(N, n, k)``, orthonormal columns, descending.
        jv: ``J v``, ``(N, d, k)`` (``Delta = J v_1`` for free).
        sigma: singular values, ``(N, k)``, descending.
        residual: relative residuals ``||J^T J v_j - s_j^2 v_j|| / s_1^2``, ``(N, k)``.
        converged: ``(N,)`` residuals ``<= tol`` and gap ``> gap_tol``.
        degenerate: ``(N,)`` relative gap ``(s_1^2 - s_2^2) / s_1^2 <= gap_tol``.
        iterations: ``(N,)`` block iterations used.
    """

    v: Tensor
    jv: Tensor
    sigma: Tensor
    residual: Tensor
    converged: Tensor
    degenerate: Tensor
    iterations: Tensor

    @property
    def sigma1(self) -> Tensor:
        """``(N,)`` largest singular values."""
        return self.sigma[:, 0]

    @property
    def sigma2(self) -> Tensor:
        """``(N,)`` second singular values (zero when ``k = 1``)."""
        return self.sigma[:, 1] if self.sigma.shape[1] > 1 else torch.zeros_like(self.sigma1)

    @property
    def v1(self) -> Tensor:
        """``(N, n)`` top right-singular vectors (sign arbitrary)."""
        return self.v[:, :, 0]

    @property
    def ratio(self) -> Tensor:
        """``lambda(x) = sigma_2 / sigma_1`` (Definition 4), zero where ``sigma_1 = 0``."""
        return singular_ratio(self.sigma1, self.sigma2)

    @property
    def n_not_converged(self) -> int:
        """Number of points that did not converge (cap reached or degenerate gap)."""
        return int((~self.converged).sum())


def _orthonormal_against(w: Tensor, q: Tensor | None, gen: torch.Generator) -> Tensor:
    """Orthonormalise the columns of ``w (B, n, b)`` against ``q (B, n, m)`` and each other.

    Columns that vanish (a converged residual) are replaced by random ones first.
    """
    scale = w.norm(dim=1, keepdim=True)
    ref = scale.amax(dim=2, keepdim=True).clamp_min(torch.finfo(_F64).tiny)
    tiny = scale <= 1e-10 * ref
    if bool(tiny.any()):
        noise = torch.randn(w.shape, generator=gen, dtype=_F64, device="cpu").to(w.device)
        w = torch.where(tiny, noise, w)
    for _ in range(2):  # CGS2: twice is enough
        if q is not None and q.shape[2] > 0:
            w = w - q @ (q.transpose(1, 2) @ w)
        w = torch.linalg.qr(w).Q
    return w


def _krylov_top(
    apply: Callable[[Tensor], tuple[Tensor, Tensor]],
    batch: int,
    n: int,
    k: int,
    block: int,
    tol: float,
    gap_tol: float,
    max_iters: int,
    max_basis: int,
    gen: torch.Generator,
    device: torch.device,
    floor: Tensor | None = None,
) -> MatrixFreeSingular:
    """Top-``k`` eigenpairs of a batch of implicit PSD operators ``A_i = B_i^T B_i``.

    ``apply(V)`` maps ``V (batch, n, b)`` (float64) to ``(A V, B V)``; ``B V`` is carried
    along the basis so that ``B v_j`` comes out without another product. Residuals are
    measured relative to ``max(theta_1, floor)``: ``floor`` (``(batch,)`` or 0-dim, absolute,
    in units of ``A``) keeps a numerically zero operator (``theta_1`` at rounding level, whose
    Ritz pairs never settle) from running to the cap; ``None`` means relative to ``theta_1``.
    """
    k_eff = min(k, n)
    cap = max(min(max_basis, n), k_eff + 1) if n > k_eff else n
    block = max(1, min(block, cap))
    v = torch.randn((batch, n, block), generator=gen, dtype=_F64, device="cpu").to(device)
    v = _orthonormal_against(v, None, gen)
    q = aq = bq = None
    out_v = torch.zeros(batch, n, k_eff, dtype=_F64, device=device)
    out_bv: Tensor | None = None
    out_theta = torch.zeros(batch, k_eff, dtype=_F64, device=device)
    out_res = torch.full((batch, k_eff), float("inf"), dtype=_F64, device=device)
    stopped = torch.zeros(batch, dtype=torch.bool, device=device)
    iters = torch.zeros(batch, dtype=torch.long, device=device)
    for it in range(1, max_iters + 1):
        av, bv = apply(v)
        q = v if q is None else torch.cat([q, v], 2)
        aq = av if aq is None else torch.cat([aq, av], 2)
        bq = bv if bq is None else torch.cat([bq, bv], 2)
        h = q.transpose(1, 2) @ aq
        theta, y = symmetric_eig((h + h.transpose(1, 2)) / 2)
        theta, y = theta.flip(1).clamp_min(0.0), y.flip(2)  # descending
        # rotate the basis onto the Ritz vectors: H becomes diag(theta)
        q, aq, bq = q @ y, aq @ y, bq @ y
        m = q.shape[2]
        kk = min(k_eff, m)
        resid = aq[:, :, :kk] - q[:, :, :kk] * theta[:, None, :kk]
        top = theta[:, :1] if floor is None else torch.maximum(
            theta[:, :1], floor.to(_F64).expand(batch).reshape(batch, 1))
        rel = torch.where(top > 0, resid.norm(dim=1) / top.clamp_min(torch.finfo(_F64).tiny),
                          torch.zeros_like(theta[:, :kk]))
        if kk < k_eff:  # basis still smaller than k
            rel = torch.cat([rel, torch.full((batch, k_eff - kk), float("inf"),
                                             dtype=_F64, device=device)], 1)
        if out_bv is None:
            out_bv = torch.zeros(batch, bq.shape[1], k_eff, dtype=_F64, device=device)
        live = ~stopped
        lv = live[:, None, None]
        out_v[:, :, :kk] = torch.where(lv, q[:, :, :kk], out_v[:, :, :kk])
        out_bv[:, :, :kk] = torch.where(lv, bq[:, :, :kk], out_bv[:, :, :kk])
        out_theta[:, :kk] = torch.where(live[:, None], theta[:, :kk], out_theta[:, :kk])
        out_res = torch.where(live[:, None], rel, out_res)
        iters = torch.where(live, torch.full_like(iters, it), iters)
        stopped = stopped | (rel.amax(dim=1) <= tol)
        if bool(stopped.all()) or it == max_iters:
            break
        if m + 1 > cap:  # thick restart on the leading Ritz vectors
            keep = max(k_eff, min(cap - 1, cap // 2))
            q, aq, bq, theta = q[:, :, :keep], aq[:, :, :keep], bq[:, :, :keep], theta[:, :keep]
            m = keep
        # next block: residuals of the leading Ritz pairs (a block Krylov extension)
        b_next = min(block, cap - m)
        w = aq[:, :, :b_next] - q[:, :, :b_next] * theta[:, None, :b_next]
        v = _orthonormal_against(w, q, gen)
    assert out_bv is not None
    return _finish(out_v, out_bv, out_theta, out_res, iters, k, tol, gap_tol)


def _finish(out_v: Tensor, out_bv: Tensor, out_theta: Tensor, out_res: Tensor, iters: Tensor,
            k: int, tol: float, gap_tol: float) -> MatrixFreeSingular:
    """Convergence and degeneracy flags, zero padding when ``n < k``."""
    batch, n, k_eff = out_v.shape
    device = out_v.device
    sigma = out_theta.sqrt()
    if k_eff > 1:
        top = out_theta[:, 0]
        gap = torch.where(top > 0, (top - out_theta[:, 1]) / top.clamp_min(
            torch.finfo(_F64).tiny), torch.ones_like(top))
        degenerate = gap <= gap_tol
    else:
        degenerate = torch.zeros(batch, dtype=torch.bool, device=device)
    converged = (out_res.amax(dim=1) <= tol) & ~degenerate
    if k_eff < k:  # n < k: the missing singular values are zero by definition
        pad = k - k_eff
        out_v = torch.cat([out_v, out_v.new_zeros(batch, n, pad)], 2)
        out_bv = torch.cat([out_bv, out_bv.new_zeros(batch, out_bv.shape[1], pad)], 2)
        sigma = torch.cat([sigma, sigma.new_zeros(batch, pad)], 1)
        out_res = torch.cat([out_res, out_res.new_zeros(batch, pad)], 1)
    return MatrixFreeSingular(v=out_v, jv=out_bv, sigma=sigma, residual=out_res,
                              converged=converged, degenerate=degenerate, iterations=iters)


def _solver_setup(x: Tensor, k: int, block: int | None, tol: float, gap_tol: float,
                  max_iters: int, max_basis: int, batch_size: int,
                  seed: int) -> tuple[int, torch.Generator]:
    """Check the inputs and solver arguments; the block size and the seeded generator."""
    if x.ndim < 2:
        raise ValueError(f"x must have a batch dimension, got shape {tuple(x.shape)}")
    block = _check_solver_args(k, block, tol, gap_tol, max_iters, max_basis, batch_size)
    return block, torch.Generator().manual_seed(seed)


def _check_solver_args(k: int, block: int | None, tol: float, gap_tol: float, max_iters: int,
                       max_basis: int, batch_size: int) -> int:
    check_positive_int(k, "k")
    if k < 2:
        raise ValueError(f"k must be >= 2 (sigma_2 is needed for lambda), got {k}")
    block = k if block is None else check_positive_int(block, "block")
    check_positive_number(tol, "tol")
    if gap_tol < 0:
        raise ValueError(f"gap_tol must be >= 0, got {gap_tol}")
    check_positive_int(max_iters, "max_iters")
    check_positive_int(max_basis, "max_basis")
    if max_basis < k + block:
        raise ValueError(f"max_basis must be >= k + block = {k + block}, got {max_basis}")
    check_batch_size(batch_size)
    return block


def _gram_apply(op: LinearizedModel) -> Callable[[Tensor], tuple[Tensor, Tensor]]:
    def apply(v: Tensor) -> tuple[Tensor, Tensor]:
        jv = op.jvp(v)
        return op.vjp(jv).to(_F64), jv.to(_F64)

    return apply


def _cat(parts: list[MatrixFreeSingular]) -> MatrixFreeSingular:
    return MatrixFreeSingular(**{f: torch.cat([getattr(p, f) for p in parts]) for f in
                                 ("v", "jv", "sigma", "residual", "converged", "degenerate",
                                  "iterations")})


def top_singular_matrix_free(
    model: nn.Module,
    x: Tensor,
    k: int = 2,
    *,
    tol: float = 1e-4,
    gap_tol: float = 1e-3,
    max_iters: int = 100,
    block: int | None = None,
    max_basis: int = 64,
    batch_size: int = 16,
    seed: int = 0,
    output: str = "logits",
    mode: str = "func",
) -> MatrixFreeSingular:
    """Top-``k`` singular triplets of each point's input Jacobian, from JVPs and VJPs only.

    Block Krylov / Rayleigh-Ritz on ``J(x)^T J(x)`` (module docstring), batched over
    ``batch_size`` points; ``J`` is never formed. Stopping per point on
    ``max_j ||J^T J v_j - s_j^2 v_j|| / s_1^2 <= tol``; at most ``max_iters`` block
    iterations of ``block`` products each (``J v`` then ``J^T (J v)``).

    Args:
        model: maps ``(B, *input_shape)`` to ``(B, ...)`` (flattened to ``d`` outputs). It is
            put in eval mode per module for the computation and restored afterwards.
        x: ``(N, *input_shape)``.
        k: number of singular triplets, ``>= 2``.
        tol: relative residual tolerance.
        gap_tol: points with ``(s_1^2 - s_2^2) / s_1^2 <= gap_tol`` are degenerate and
            reported as not converged (module docstring).
        max_iters: iteration cap per point.
        block: vectors added to the basis per iteration (default ``k``).
        max_basis: basis size at which the basis is restarted on its leading Ritz vectors.
        batch_size: points per batch (memory ``~ batch_size`` forward + backward graphs).
        seed: seed of the random start vectors.
        output: ``logits``, ``centered_logits`` or ``log_softmax`` (as ``tau.output_jacobians``).
        mode: ``func`` (forward-mode duals for ``J v``, ``torch.func.vjp`` for ``J^T u``;
            default) or ``autograd`` (reverse over reverse).

    Returns:
        :class:`MatrixFreeSingular` (float64) with ``v (N, n, k)``, ``jv (N, d, k)``,
        ``sigma (N, k)``, ``residual (N, k)``, ``converged``/``degenerate``/``iterations (N,)``.
    """
    block, gen = _solver_setup(x, k, block, tol, gap_tol, max_iters, max_basis, batch_size, seed)
    parts = []
    with eval_mode(model):
        for start in range(0, x.shape[0], batch_size):
            op = LinearizedModel(model, x[start : start + batch_size], output, mode, block)
            parts.append(_krylov_top(_gram_apply(op), op.batch, op.n, k, block, tol, gap_tol,
                                     max_iters, max_basis, gen, x.device))
            del op
    return _cat(parts)


def _both_models(source: nn.Module, target: nn.Module, x: Tensor, batch_size: int, output: str,
                 mode: str, solver: dict) -> tuple[MatrixFreeSingular, MatrixFreeSingular, Tensor]:
    """Top singular structure of both models and ``Delta_T = J_T v_S``, batch by batch."""
    src_parts, tgt_parts, dt_parts = [], [], []
    with eval_mode(source), eval_mode(target):
        for start in range(0, x.shape[0], batch_size):
            xb = x[start : start + batch_size]
            op_s = LinearizedModel(source, xb, output, mode, solver["block"])
            src = _krylov_top(_gram_apply(op_s), op_s.batch, op_s.n, **solver)
            del op_s
            op_t = LinearizedModel(target, xb, output, mode, solver["block"])
            tgt = _krylov_top(_gram_apply(op_t), op_t.batch, op_t.n, **solver)
            dt_parts.append(op_t.jvp(src.v[:, :, :1]).to(_F64)[:, :, 0])
            del op_t
            src_parts.append(src)
            tgt_parts.append(tgt)
    return _cat(src_parts), _cat(tgt_parts), torch.cat(dt_parts)


def _directional(delta_s: Tensor, delta_t: Tensor, sigma1_t: Tensor
                 ) -> tuple[Tensor, Tensor, tuple[Tensor, Tensor, Tensor], Tensor]:
    """``tau2``, ``alpha``, ``(A, A*, r)`` and ``E sigma_{1,T}^2`` from the deviations."""
    tau2, a, a_star, r = directional_tau2(delta_s, delta_t)
    tgt_sq = delta_t.pow(2).sum(1).mean()
    own = sigma1_t.pow(2).mean()
    alpha = tgt_sq / own if own > 0 else torch.zeros_like(own)
    return tau2, alpha, (a, a_star, r), own


def _directional_thin(delta_s: Tensor, delta_t: Tensor, sigma1_t: Tensor) -> tuple[Tensor, Tensor]:
    """``tau2`` and ``alpha`` as :func:`_directional`, without forming ``A`` (``d_T x d_S``).

    With the thin SVD ``Delta_S = U S V^T`` (``N x r``, ``r <= N``):
    ``A* = B C^+ = Delta_T^T U S^-1 V^T``, so ``Delta_S A*^T = U U^T Delta_T`` and
    ``||A*||_2 = ||Delta_T^T U S^-1||_2``. Singular values are kept above the cutoff of
    ``pinv(C, hermitian=True)`` in :func:`advtransfer.core.tau.affine_map` (eigenvalues of
    ``C = Delta_S^T Delta_S / N`` above ``d_S * eps * max``), so the result is the same; the
    cost is an ``N x d_S`` SVD instead of a ``d_S x d_S`` pseudo-inverse (dense outputs).
    """
    n, d_s = delta_s.shape
    u, sv, _ = torch.linalg.svd(delta_s, full_matrices=False)
    eig = sv.pow(2) / n
    keep = eig > eig.max() * d_s * torch.finfo(delta_s.dtype).eps if eig.numel() else eig > 0
    u, sv = u[:, keep], sv[keep]
    fitted = u @ (u.transpose(0, 1) @ delta_t)  # Delta_S A*^T
    src_sq = delta_s.pow(2).sum(1).mean()
    tgt_sq = delta_t.pow(2).sum(1).mean()
    r = (tgt_sq / src_sq).sqrt() if src_sq > 0 else torch.zeros_like(src_sq)
    spec = (torch.linalg.matrix_norm(delta_t.transpose(0, 1) @ u / sv, ord=2) if sv.numel()
            else torch.zeros_like(r))
    scale = r / spec if spec > r else torch.ones_like(r)
    resid = (delta_t - scale * fitted).pow(2).sum(1).mean()
    tau2 = 1.0 - resid / tgt_sq if tgt_sq > 0 else torch.zeros_like(tgt_sq)
    own = sigma1_t.pow(2).mean()
    alpha = tgt_sq / own if own > 0 else torch.zeros_like(own)
    return tau2, alpha


def adversarial_transferability_matrix_free(
    source: nn.Module,
    target: nn.Module,
    x: Tensor,
    *,
    k: int = 2,
    tol: float = 1e-4,
    gap_tol: float = 1e-3,
    max_iters: int = 100,
    block: int | None = None,
    max_basis: int = 64,
    batch_size: int = 16,
    seed: int = 0,
    output: str = "logits",
    mode: str = "func",
    with_gradient_difference: bool = False,
) -> dict[str, Tensor]:
    """tau1, tau2, alpha and singular value ratios between two models, matrix-free.

    The same definitions and result mapping as
    :func:`advtransfer.core.tau.adversarial_transferability` (Liang et al. Def. 2-4 and
    §3.3; docs/method.md §3), computed from products with the Jacobians instead of the Jacobians:

    * ``v_S, v_T`` and ``sigma_{1,2}`` from :func:`top_singular_matrix_free`;
    * ``tau1(x) = <v_S(x), v_T(x)>^2``, ``tau1 = E tau1(x)`` (Definition 2);
    * ``Delta_S = J_S v_S`` (carried along the source's Krylov basis, no extra product) and
      ``Delta_T = J_T v_S`` (one JVP of the target per point);
    * ``tau2 = 1 - ||Delta_T - A Delta_S||_D^2 / ||Delta_T||_D^2`` with ``A`` from
      :func:`advtransfer.core.tau.affine_map` (Definition 3, directional);
    * ``alpha = ||J_T v_S||_D^2 / ||J_T v_T||_D^2 = E ||Delta_T||^2 / E sigma_{1,T}^2``
      (the target's own ``sigma_1``; §3.3);
    * ``lambda_f(x) = sigma_2(x) / sigma_1(x)`` (Definition 4), worst case = max;
    * with ``with_gradient_difference``, ``G = E ||J_T - A J_S||_2^2`` by
      :func:`gradient_difference_matrix_free` (Theorem 2's left-hand side; Theorem 2's
      right-hand side needs only the per-point entries returned here, see
      ``theory.theorem2_bound``).

    Both models run in eval mode (per module, restored afterwards). Results are float64
    when ``x`` is float64 and float32 otherwise (the Krylov algebra is always float64).

    Args:
        source, target: models on the same inputs ``(B, *input_shape)``.
        x: ``(N, *input_shape)``.
        k, tol, gap_tol, max_iters, block, max_basis, batch_size, seed, output, mode:
            as :func:`top_singular_matrix_free` (applied to both models).
        with_gradient_difference: also compute ``grad_diff`` (two more products per
            power-iteration step and point).

    Returns:
        Every key of ``adversarial_transferability`` — scalars ``tau1``, ``tau2``,
        ``alpha``, ``lambda_source``, ``lambda_target``, ``r``; ``(N,)`` ``tau1_per_sample``,
        ``lambda_source_per_sample``, ``lambda_target_per_sample``, ``sigma1_source``,
        ``sigma1_target``; ``A``, ``A_star`` ``(d_T, d_S)``; ``delta_source (N, d_S)``,
        ``delta_target (N, d_T)``, ``v_source``, ``v_target (N, n)`` — plus
        ``n_not_converged`` (0-dim long: points where either model did not converge),
        ``n_degenerate``, ``converged_source``, ``converged_target`` (``(N,)`` bool),
        ``sigma2_source``, ``sigma2_target`` (``(N,)``), ``iterations_source``,
        ``iterations_target`` (``(N,)``) and, when requested, ``grad_diff`` (0-dim) and
        ``n_not_converged_grad_diff``.
    """
    block, gen = _solver_setup(x, k, block, tol, gap_tol, max_iters, max_basis, batch_size, seed)
    solver = {"k": k, "block": block, "tol": tol, "gap_tol": gap_tol, "max_iters": max_iters,
              "max_basis": max_basis, "gen": gen, "device": x.device}
    src, tgt, delta_t = _both_models(source, target, x, batch_size, output, mode, solver)
    res = transferability_result(src.v1, tgt.v1, src.jv[:, :, 0], delta_t,
                                 (src.sigma1, src.sigma2), (tgt.sigma1, tgt.sigma2))
    res.update(sigma2_source=src.sigma2, sigma2_target=tgt.sigma2)
    own = tgt.sigma1.pow(2).mean()
    dt = x.dtype if x.dtype in (torch.float32, torch.float64) else torch.float32
    not_conv = ~(src.converged & tgt.converged)
    res = {key: val.to(dt) for key, val in res.items()}
    if with_gradient_difference:
        g, g_conv = _gradient_difference(source, target, x, res["A"].to(_F64), scale=own,
                                         floor=GRAD_DIFF_FLOOR, tol=tol,
                                         max_iters=max_iters, max_basis=max_basis,
                                         batch_size=batch_size, gen=gen, output=output,
                                         mode=mode)
        res["grad_diff"] = g.to(dt)
        res["n_not_converged_grad_diff"] = (~g_conv).sum()
    res.update({
        "n_not_converged": not_conv.sum(),
        "n_degenerate": (src.degenerate | tgt.degenerate).sum(),
        "converged_source": src.converged,
        "converged_target": tgt.converged,
        "iterations_source": src.iterations,
        "iterations_target": tgt.iterations,
    })
    return res


def tau2_matrix_free(
    source: nn.Module,
    target: nn.Module,
    x: Tensor,
    *,
    k: int = 2,
    tol: float = 1e-4,
    gap_tol: float = 1e-3,
    max_iters: int = 100,
    block: int | None = None,
    max_basis: int = 64,
    batch_size: int = 16,
    seed: int = 0,
    output: str = "logits",
    mode: str = "func",
) -> tuple[Tensor, int]:
    """tau2 alone (Definition 3), matrix-free: one Krylov solve of the source only.

    ``tau2`` needs ``v_S``, ``Delta_S = J_S v_S`` and ``Delta_T = J_T v_S`` but nothing of
    the target's own singular structure, so the target costs one JVP per point here. Used
    for a second tau2 on another output map (e.g. the raw logits beside centred ones) at
    about half the cost of :func:`adversarial_transferability_matrix_free`.

    Args:
        source, target: models on the same inputs ``(B, *input_shape)``.
        x: ``(N, *input_shape)``.
        k, tol, gap_tol, max_iters, block, max_basis, batch_size, seed, output, mode: as
            :func:`top_singular_matrix_free` (applied to the source).

    Returns:
        ``(tau2, n_not_converged)``: a 0-dim tensor (float64 for float64 ``x``, else
        float32) and the number of points where the source's solve did not converge.
    """
    block, gen = _solver_setup(x, k, block, tol, gap_tol, max_iters, max_basis, batch_size, seed)
    ds_parts, dt_parts, n_bad = [], [], 0
    with eval_mode(source), eval_mode(target):
        for start in range(0, x.shape[0], batch_size):
            xb = x[start : start + batch_size]
            op_s = LinearizedModel(source, xb, output, mode, block)
            src = _krylov_top(_gram_apply(op_s), op_s.batch, op_s.n, k, block, tol, gap_tol,
                              max_iters, max_basis, gen, x.device)
            del op_s
            op_t = LinearizedModel(target, xb, output, mode, 1)
            dt_parts.append(op_t.jvp(src.v[:, :, :1]).to(_F64)[:, :, 0])
            del op_t
            ds_parts.append(src.jv[:, :, 0])
            n_bad += src.n_not_converged
    tau2 = directional_tau2(torch.cat(ds_parts), torch.cat(dt_parts))[0]
    dt = x.dtype if x.dtype in (torch.float32, torch.float64) else torch.float32
    return tau2.to(dt), n_bad


def _gradient_difference(source, target, x, a, *, scale, floor, tol, max_iters, max_basis,
                         batch_size, gen, output, mode) -> tuple[Tensor, Tensor]:
    """``E ||J_T - A J_S||_2^2`` over the points of ``x`` and the per-point convergence flags.

    Residuals are measured against ``max(s_1^2, floor * scale)`` with ``scale`` the target's
    ``E ||J_T||_2^2`` (module docstring, "Numerically zero operators"); points whose ``s_1^2``
    is below the resolution ``tol * floor * scale`` count as converged with value 0.
    """
    f_abs = torch.as_tensor(floor * float(scale), dtype=_F64, device=x.device)
    values, conv = [], []
    with eval_mode(source), eval_mode(target):
        for start in range(0, x.shape[0], batch_size):
            xb = x[start : start + batch_size]
            op_s = LinearizedModel(source, xb, output, mode, 2)
            op_t = LinearizedModel(target, xb, output, mode, 2)
            if a.shape != (op_t.d, op_s.d):
                raise ValueError(f"A must have shape (d_T, d_S) = {(op_t.d, op_s.d)}, "
                                 f"got {tuple(a.shape)}")

            def apply(v: Tensor, op_s=op_s, op_t=op_t) -> tuple[Tensor, Tensor]:
                mv = op_t.jvp(v).to(_F64) - a @ op_s.jvp(v).to(_F64)   # (B, d_T, b)
                mtm = op_t.vjp(mv).to(_F64) - op_s.vjp(a.transpose(0, 1) @ mv).to(_F64)
                return mtm, mv

            # only sigma_1 of M is used: k = 1 (a block of 2 for the Krylov extension)
            top = _krylov_top(apply, op_s.batch, op_s.n, 1, 2, tol, 0.0, max_iters,
                              max_basis, gen, x.device, floor=f_abs)
            s1sq = top.sigma1.pow(2)
            values.append(torch.where(s1sq <= tol * f_abs, torch.zeros_like(s1sq), s1sq))
            conv.append(top.residual[:, 0] <= tol)
            del op_s, op_t
    return torch.cat(values).mean(), torch.cat(conv)


def gradient_difference_matrix_free(
    source: nn.Module,
    target: nn.Module,
    x: Tensor,
    a: Tensor,
    *,
    tol: float = 1e-4,
    max_iters: int = 100,
    max_basis: int = 64,
    batch_size: int = 16,
    seed: int = 0,
    output: str = "logits",
    mode: str = "func",
    floor: float = 1e-6,
    target_scale: float | None = None,
) -> tuple[Tensor, int]:
    """``G = E ||J_T(x) - A J_S(x)||_2^2`` from products, never forming a Jacobian.

    The spectral norm of the implicit operator ``M(x): v -> J_T v - A J_S v`` (``d_T x n``)
    is the top singular value of ``M``, found by the block Krylov method of
    :func:`top_singular_matrix_free` on ``M^T M v = J_T^T (M v) - J_S^T A^T (M v)`` (two
    JVPs and two VJPs per vector). This is ``||grad f_T - grad(g o f_S)||_{D,2}^2`` for any
    affine ``g(z) = A z + c`` (Theorem 2's left-hand side; ``theory.gradient_difference``
    on the exact path).

    Args:
        source, target: models on the same inputs.
        x: ``(N, *input_shape)``.
        a: ``(d_T, d_S)``, usually ``res["A"]``.
        tol, max_iters, max_basis, batch_size, seed, output, mode: as
            :func:`top_singular_matrix_free` (convergence judged on the top pair only).
        floor: a point's residual is judged against ``max(s_1^2, floor * E ||J_T||_2^2)``,
            so a numerically zero ``M`` (a source equal to the target) converges, with
            value 0 below the resolution ``tol * floor * E ||J_T||_2^2`` (module docstring).
        target_scale: ``E ||J_T||_2^2`` when known (``E sigma1_target^2``); by default
            estimated by :func:`top_singular_matrix_free` on the target at ``tol = 1e-2``.

    Returns:
        ``(G, n_not_converged)``: a 0-dim tensor (dtype of ``x``) and the number of points
        whose top residual stayed above ``tol``.
    """
    check_positive_number(tol, "tol")
    check_positive_int(max_iters, "max_iters")
    check_positive_int(max_basis, "max_basis")
    check_batch_size(batch_size)
    if max_basis < 4:
        raise ValueError(f"max_basis must be >= 4, got {max_basis}")
    if floor < 0:
        raise ValueError(f"floor must be >= 0, got {floor}")
    if target_scale is None:
        target_scale = float(top_singular_matrix_free(
            target, x, tol=1e-2, max_iters=min(max_iters, 20), max_basis=max_basis,
            batch_size=batch_size, seed=seed, output=output, mode=mode).sigma1.pow(2).mean())
    gen = torch.Generator().manual_seed(seed)
    g, conv = _gradient_difference(source, target, x, a.detach().to(_F64),
                                   scale=target_scale, floor=floor, tol=tol,
                                   max_iters=max_iters, max_basis=max_basis,
                                   batch_size=batch_size, gen=gen, output=output, mode=mode)
    return g.to(x.dtype), int((~conv).sum())


def transferability_matrix_matrix_free(
    models: Sequence[nn.Module],
    x: Tensor,
    *,
    k: int = 2,
    tol: float = 1e-4,
    gap_tol: float = 1e-3,
    max_iters: int = 100,
    block: int | None = None,
    max_basis: int = 64,
    batch_size: int = 16,
    seed: int = 0,
    output: str = "logits",
    mode: str = "func",
) -> dict[str, Tensor]:
    """tau1, tau2 and alpha between every ordered pair of models on the same inputs.

    Entry ``[t, s]`` is the measure from source ``s`` to target ``t`` (rows = targets, as
    in a task matrix), with the definitions of
    :func:`adversarial_transferability_matrix_free`. Each model's top singular structure
    is computed once (:func:`top_singular_matrix_free`); then, per target and batch, one
    block of JVPs gives ``Delta_T = J_t v_s`` for every source at once. ``M`` models cost
    ``M`` Krylov solves and ``M`` JVP blocks instead of ``M^2`` pairwise runs, and no
    Jacobian is formed, so a whole output map per model (``d`` in the thousands) is fine;
    nor is ``A`` (``d_T x d_S``): tau2 comes from the thin SVD of ``Delta_S`` (``N x d_S``).
    The diagonal is each model with itself (``tau1 = tau2 = alpha = 1`` up to rounding).

    Args:
        models: ``M >= 2`` models on the same inputs ``(B, *input_shape)``, any output sizes.
        x: ``(N, *input_shape)``.
        k, tol, gap_tol, max_iters, block, max_basis, batch_size, seed, output, mode: as
            :func:`top_singular_matrix_free` (applied to every model).

    Returns:
        ``tau1``, ``tau2``, ``alpha``: ``(M, M)`` float64; ``n_not_converged``: ``(M, M)``
        long, points where the source or the target did not converge (kept in the means,
        counted here); ``converged``: ``(M, N)`` bool per model and point.
    """
    block = _check_solver_args(k, block, tol, gap_tol, max_iters, max_basis, batch_size)
    if len(models) < 2:
        raise ValueError(f"need at least two models, got {len(models)}")
    tops = [top_singular_matrix_free(m, x, k, tol=tol, gap_tol=gap_tol, max_iters=max_iters,
                                     block=block, max_basis=max_basis, batch_size=batch_size,
                                     seed=seed, output=output, mode=mode) for m in models]
    v_all = torch.stack([top.v1 for top in tops], dim=2)  # (N, n, M)
    n_models = len(models)
    out = {key: torch.zeros(n_models, n_models, dtype=_F64) for key in ("tau1", "tau2", "alpha")}
    out["n_not_converged"] = torch.zeros(n_models, n_models, dtype=torch.long)
    for t, target in enumerate(models):
        parts = []
        with eval_mode(target):
            for start in range(0, x.shape[0], batch_size):
                op = LinearizedModel(target, x[start : start + batch_size], output, mode, 1)
                parts.append(op.jvp(v_all[start : start + batch_size]).to(_F64))
                del op
        jv = torch.cat(parts)  # (N, d_t, M): J_t v_s for every source s
        for s_idx, src in enumerate(tops):
            tau2, alpha = _directional_thin(src.jv[:, :, 0], jv[:, :, s_idx], tops[t].sigma1)
            out["tau1"][t, s_idx] = (src.v1 * tops[t].v1).sum(1).pow(2).mean().cpu()
            out["tau2"][t, s_idx], out["alpha"][t, s_idx] = tau2.cpu(), alpha.cpu()
            out["n_not_converged"][t, s_idx] = int((~(src.converged & tops[t].converged)).sum())
    out["converged"] = torch.stack([top.converged.cpu() for top in tops])
    return out
