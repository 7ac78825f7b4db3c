"""Synthetic RBF regression experiment (Liang et al. §4.1, Figure 2; docs/method.md §9.1).

Data: ``x in R^n`` from a mixture of Gaussians (identity covariance, centres
``U(-0.5, 0.5)^n``); targets ``y = A phi(x) + b`` with radial basis functions
``phi_i(x) = exp(-||x - mu_i||^2 / s_i^2)``, ``mu_i ~ U(-0.5, 0.5)^n``,
``A, b ~ U(-0.5, 0.5)`` and squared widths ``s_i^2 = width_scale * U(0, 1)``.

Width choice: the paper's text draws widths from ``U(-0.5, 0.5)`` and writes a plain sum.
With ``||x - mu||^2 ~ n = 30`` such narrow bumps are ``exp(-60)``-small everywhere, so
``y`` would be the constant ``b``. We use ``s_i^2 = 100 U(0, 1)`` (docs/method.md §9.1) and the
linear read-out ``A phi + b`` so that the targets vary over the data.

Models are one-hidden-layer sigmoid MLPs; a source is ``W_S = W_0 + t V`` for every
parameter tensor with ``V ~ U(-0.5, 0.5)`` and ``t`` the *total* scale (the authors'
code accumulated ``t`` across steps).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from advtransfer.core import tau, theory
from advtransfer.core.checks import check_finite

__all__ = [
    "RBFData",
    "SigmoidMLP",
    "make_rbf_data",
    "train_mlp",
    "random_direction",
    "perturbed",
    "refit_last_layer_loss",
    "refit_affine_output_loss",
    "TargetTerms",
    "target_terms",
    "sweep_point",
]


@dataclass(frozen=True)
class RBFData:
    """Inputs ``x (N, n)``, targets ``y (N, d)`` and the generating parameters."""

    x: Tensor
    y: Tensor
    centres: Tensor
    rbf_means: Tensor
    rbf_widths_sq: Tensor
    a: Tensor
    b: Tensor


def make_rbf_data(
    n_samples: int = 1200,
    input_dim: int = 30,
    output_dim: int = 10,
    n_rbf: int = 100,
    n_clusters: int = 3,
    width_scale: float = 100.0,
    seed: int = 0,
    dtype: torch.dtype = torch.float64,
) -> RBFData:
    """Draw the synthetic RBF regression data set (see module docstring).

    Samples are split as evenly as possible among the ``n_clusters`` Gaussians.

    Returns:
        :class:`RBFData` with ``x (n_samples, input_dim)`` and ``y (n_samples, output_dim)``.
    """
    if min(n_samples, input_dim, output_dim, n_rbf, n_clusters) < 1:
        raise ValueError("all sizes must be >= 1")
    if width_scale <= 0:
        raise ValueError(f"width_scale must be > 0, got {width_scale}")
    gen = torch.Generator().manual_seed(seed)

    def uniform(*shape: int) -> Tensor:
        return torch.rand(*shape, generator=gen, dtype=dtype) - 0.5

    centres = uniform(n_clusters, input_dim)
    which = torch.arange(n_samples) % n_clusters
    x = centres[which] + torch.randn(n_samples, input_dim, generator=gen, dtype=dtype)
    mu = uniform(n_rbf, input_dim)
    widths_sq = width_scale * torch.rand(n_rbf, generator=gen, dtype=dtype).clamp_min(1e-3)
    a = uniform(output_dim, n_rbf)
    b = uniform(output_dim)
    phi = torch.exp(-torch.cdist(x, mu).pow(2) / widths_sq)
    y = phi @ a.T + b
    return RBFData(x=x, y=y, centres=centres, rbf_means=mu, rbf_widths_sq=widths_sq, a=a, b=b)


class SigmoidMLP(nn.Module):
    """``f(x) = W2 sigmoid(W1 x + b1) + b2`` (one hidden sigmoid layer)."""

    def __init__(self, input_dim: int, hidden: int, output_dim: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(input_dim, hidden)
        self.fc2 = nn.Linear(hidden, output_dim)

    def hidden(self, x: Tensor) -> Tensor:
        """Hidden activations ``sigmoid(W1 x + b1)``, ``(N, hidden)``."""
        return torch.sigmoid(self.fc1(x))

    def forward(self, x: Tensor) -> Tensor:
        return self.fc2(self.hidden(x))

    def input_jacobian(self, x: Tensor) -> Tensor:
        """Input Jacobians in closed form, ``J(x) = W2 diag(h (1 - h)) W1`` with ``h`` the
        hidden activations: ``(N, output_dim, input_dim)``, one batched product instead
        of ``output_dim`` backward passes; equal to :func:`advtransfer.core.tau.input_jacobians`
        up to rounding.
        """
        with torch.no_grad():
            h = self.hidden(x)
            return check_finite(
                (self.fc2.weight * (h * (1 - h)).unsqueeze(1)) @ self.fc1.weight,
                "SigmoidMLP.input_jacobian(x)")

    @property
    def beta(self) -> float:
        """Smoothness bound ``max|sigmoid''| ||W2||_2 ||W1||_2^2`` (Theorem 3)."""
        return theory.sigmoid_mlp_beta(self.fc1.weight.detach(), self.fc2.weight.detach())


def train_mlp(
    x: Tensor,
    y: Tensor,
    hidden: int,
    *,
    steps: int = 3000,
    lr: float = 1e-2,
    seed: int = 0,
    progress: bool = False,
) -> tuple[SigmoidMLP, list[float]]:
    """Fit a sigmoid MLP by full-batch Adam on mean squared error (in-sample).

    Returns:
        The model (eval mode, dtype of ``x``) and the loss curve (one value per 100 steps).
    """
    torch.manual_seed(seed)
    model = SigmoidMLP(x.shape[1], hidden, y.shape[1]).to(x.dtype)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(steps, 1))
    curve: list[float] = []
    iterator = range(steps)
    if progress:
        from tqdm import tqdm

        iterator = tqdm(iterator, desc=f"train mlp (seed {seed})", mininterval=2.0)
    for step in iterator:
        opt.zero_grad()
        loss = (model(x) - y).pow(2).sum(1).mean()
        loss.backward()
        opt.step()
        sched.step()
        if step % 100 == 0 or step == steps - 1:
            curve.append(float(loss))
    model.eval()
    return model, curve


def random_direction(model: nn.Module, seed: int, scale: float = 0.5) -> dict[str, Tensor]:
    """One entry ``~ U(-scale, scale)`` per parameter, keyed like ``model.state_dict()``."""
    gen = torch.Generator().manual_seed(seed)
    return {
        name: (torch.rand(p.shape, generator=gen, dtype=p.dtype) * 2 - 1) * scale
        for name, p in model.state_dict().items()
    }


def perturbed(model: SigmoidMLP, direction: dict[str, Tensor], t: float) -> SigmoidMLP:
    """A copy of ``model`` with every parameter ``W + t V`` (``t`` is the total scale)."""
    out = SigmoidMLP(model.fc1.in_features, model.fc1.out_features, model.fc2.out_features)
    out = out.to(model.fc1.weight.dtype)
    state = {k: v + t * direction[k] for k, v in model.state_dict().items()}
    out.load_state_dict(state)
    return out.eval()


def refit_last_layer_loss(model: SigmoidMLP, x: Tensor, y: Tensor) -> float:
    """In-sample MSE ``E ||y_hat - y||^2`` after refitting ``W2, b2`` by least squares."""
    with torch.no_grad():
        h = model.hidden(x)
        design = torch.cat([h, torch.ones(h.shape[0], 1, dtype=h.dtype)], dim=1)
        coef = torch.linalg.lstsq(design, y, driver="gelsd").solution
        return float((design @ coef - y).pow(2).sum(1).mean())


def refit_affine_output_loss(model: nn.Module, x: Tensor, y: Tensor) -> float:
    """In-sample MSE ``min_{M, b} E ||M f(x) + b - y||^2``: the best affine map on outputs.

    This is the function class of the theory (``g o f_S`` with ``g`` affine, Theorem 3),
    fitted by least squares on the model's outputs. For an MLP it is a subset of the
    last-layer refit (``M (W2 h + b2) + b`` is affine in ``h``), so its loss is at least
    :func:`refit_last_layer_loss`.
    """
    with torch.no_grad():
        out = model(x)
        design = torch.cat([out, torch.ones(out.shape[0], 1, dtype=out.dtype)], dim=1)
        coef = torch.linalg.lstsq(design, y, driver="gelsd").solution
        return float((design @ coef - y).pow(2).sum(1).mean())


#: A ratio ``bound / true`` is left undefined (NaN) when the true quantity is below this
#: fraction of its natural scale (numerically zero, e.g. G of the target against itself).
RATIO_ZERO_TOL = 1e-12


def _ratio(bound: float, true: float, scale: float) -> float:
    return bound / true if true > RATIO_ZERO_TOL * scale else math.nan


@dataclass(frozen=True)
class TargetTerms:
    """What :func:`sweep_point` needs of the target on ``x``, the same for every source.

    Attributes:
        jac: input Jacobians ``J_T``, ``(N, d_T, n)``.
        top: ``top_singular(jac)`` (``v_T``, ``sigma_1``, ``sigma_2`` per point).
        outputs: ``f_T(x)``, ``(N, d_T)``.
        at_zero: ``f_T(0)``, ``(1, d_T)``.
    """

    jac: Tensor
    top: tau.TopSingular
    outputs: Tensor
    at_zero: Tensor


def target_terms(target: SigmoidMLP, x: Tensor) -> TargetTerms:
    """The target's Jacobians, singular structure and outputs on ``x``, computed once.

    A sweep measures many sources against one target on the same inputs; passing the
    result to every :func:`sweep_point` call avoids recomputing the target side.
    """
    jac = target.input_jacobian(x)
    with torch.no_grad():
        outputs = target(x)
        at_zero = target(torch.zeros(1, x.shape[1], dtype=x.dtype))
    return TargetTerms(jac=jac, top=tau.top_singular(jac), outputs=outputs, at_zero=at_zero)


#: Points of ``x`` on which :func:`sweep_point` checks that given ``TargetTerms`` are the
#: target's (its outputs are recomputed there).
TERMS_CHECK_POINTS = 8


def sweep_point(
    source: SigmoidMLP, target: SigmoidMLP, x: Tensor, y: Tensor, input_scale: float, *,
    terms: TargetTerms | None = None,
) -> dict[str, float]:
    """Every Figure-2 quantity for one (source, target) pair on inputs ``x``.

    Theorem 3 needs ``||x|| <= 1``: it is evaluated in rescaled coordinates
    ``x' = x / input_scale`` (``input_scale >= max ||x||``), where the same functions are
    MLPs with ``W1' = input_scale W1``, Jacobians ``input_scale J`` and so
    ``G' = input_scale^2 G`` and ``beta' = input_scale^2 beta``. The invariant measures
    (tau1, tau2, alpha, lambdas) do not change; G and the Theorem 2 bound are reported in
    the original coordinates.

    Also: Proposition 2's bounds ``prop2_lower <= first_order_cross_loss <= prop2_upper``
    on the target's first-order loss under the source's attack, ``E ||J_T v_S||^2``, per
    unit ``eps^2`` (output^2 / input^2); ``affine_transferred_loss`` (best affine map on
    the source's outputs, :func:`refit_affine_output_loss`); and how loose the theorems
    are: ``thm2_ratio = thm2_bound / grad_diff`` and
    ``thm3_ratio = thm3_bound / g_transferred_loss`` (NaN when the true quantity is
    numerically zero, see :data:`RATIO_ZERO_TOL`).

    ``terms``: :func:`target_terms` of ``target`` on ``x``, when a sweep has computed them
    once for all its sources (checked against the target's outputs on the first
    :data:`TERMS_CHECK_POINTS` points); computed here otherwise.
    """
    if terms is None:
        terms = target_terms(target, x)
    else:
        _check_terms(terms, target, x)
    jac_s = source.input_jacobian(x)
    res = tau.adversarial_transferability(jac_s, terms.jac, target_top=terms.top)
    grad_diff = theory.gradient_difference(jac_s, terms.jac, res["A"])
    thm2 = theory.theorem2_bound(res)
    thm2_wc = theory.theorem2_bound_worst_case(res)
    with torch.no_grad():
        zero = torch.zeros(1, x.shape[1], dtype=x.dtype)
        f_s = source(x)
        g_of_fs = (f_s - source(zero)) @ res["A"].T + terms.at_zero
        g_loss = float((g_of_fs - y).pow(2).sum(1).mean())
        target_resid = terms.outputs - y
    c2 = input_scale**2
    beta = max(source.beta, target.beta) * c2
    thm3 = theory.theorem3_bound(target_resid, grad_diff * c2, res, beta)
    prop2_lower, prop2_upper = theory.proposition2_bounds(res, 1.0)
    cross = float(res["delta_target"].pow(2).sum(1).mean())
    jt_scale = float(res["sigma1_target"].pow(2).mean())  # ||J_T||_{D,2}^2, the scale of G
    y_scale = float(y.pow(2).sum(1).mean())  # E ||y||^2, the scale of the losses
    return {
        "tau1": float(res["tau1"]),
        "tau2": float(res["tau2"]),
        "alpha": float(res["alpha"]),
        "lambda_source": float(res["lambda_source"]),
        "lambda_target": float(res["lambda_target"]),
        "grad_diff": float(grad_diff),
        "thm2_bound": float(thm2),
        "thm2_bound_worst_case": float(thm2_wc),
        "thm3_bound": float(thm3),
        "transferred_loss": refit_last_layer_loss(source, x, y),
        "g_transferred_loss": g_loss,
        "target_loss": float(target_resid.pow(2).sum(1).mean()),
        "affine_transferred_loss": refit_affine_output_loss(source, x, y),
        "prop2_lower": float(prop2_lower),
        "first_order_cross_loss": cross,
        "prop2_upper": float(prop2_upper),
        "thm2_ratio": _ratio(float(thm2), float(grad_diff), jt_scale),
        "thm3_ratio": _ratio(float(thm3), g_loss, y_scale),
        "beta": beta,
        "input_scale": input_scale,
    }


def _check_terms(terms: TargetTerms, target: SigmoidMLP, x: Tensor) -> None:
    head = x[:TERMS_CHECK_POINTS]
    with torch.no_grad():
        outputs = target(head)
    if (terms.jac.shape[0] != x.shape[0] or terms.outputs.shape != (x.shape[0], outputs.shape[1])
            or not torch.allclose(terms.outputs[: head.shape[0]], outputs, rtol=1e-10, atol=0)):
        raise ValueError(
            "terms are not target_terms(target, x) for this target and these inputs (their "
            "shape or outputs differ); compute them with target_terms(target, x)"
        )


def input_scale_for(x: Tensor) -> float:
    """Smallest scale ``c`` with ``||x / c|| <= 1`` for every row (at least 1)."""
    return max(1.0, float(x.norm(dim=1).max()) * (1 + 1e-12))


def _check_t(ts: list[float]) -> None:
    for t in ts:
        if not (0.0 <= t <= 1.0) or math.isnan(t):
            raise ValueError(f"t values must lie in [0, 1], got {t}")
