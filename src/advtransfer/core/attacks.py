"""Projected gradient descent (PGD) attacks in [0, 1] pixel space.

Reference: Liang et al., "Does Adversarial Transferability Indicate Knowledge
Transferability?", App. G.1 (see docs/method.md §4). The source model S is attacked with an
L-infinity PGD whose loss compares S's output on the perturbed input with S's own output
on the clean input (label-free), so the attack needs no labels:

    x_0     = clip_[0,1](x + u),  u ~ U[-eps, eps]^n          (random start)
    x_{t+1} = proj_{B_inf(x, eps) ∩ [0,1]^n}(x_t + xi * sign(∇_x l_S(f_S(x_t), f_S(x))))

The adversarial examples are then scored by a *different* (reference) model with
:func:`adversarial_losses`, which gives the cross adversarial loss of Def. 6.

All functions are pure: tensors in, tensors out; no printing and no file I/O. Models map
inputs in [0, 1] with shape (N, C, H, W) to logits (N, K); normalisation lives inside the
model, so ``eps`` is always in [0, 1] pixel units (the authors' code silently doubled eps
on [-1, 1] images; this module cannot make that mistake).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from numbers import Integral, Real

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from advtransfer.core.checks import check_batch_size
from advtransfer.core.modelutils import eval_mode, model_device

__all__ = [
    "PGD_LOSSES",
    "adversarial_losses",
    "pgd_attack",
    "projected_gradient_ascent",
]

#: Source losses understood by :func:`pgd_attack`.
PGD_LOSSES: tuple[str, ...] = ("ce_clean", "mse_clean", "ce_label")


def _check_labels(y: Tensor | None, n: int, name: str = "y") -> Tensor:
    if y is None:
        raise ValueError(f"{name} (true labels) is required")
    if not isinstance(y, Tensor):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(y).__name__}")
    if y.dim() != 1 or y.shape[0] != n:
        raise ValueError(f"{name} must have shape ({n},), got {tuple(y.shape)}")
    if y.dtype.is_floating_point or y.dtype.is_complex or y.dtype == torch.bool:
        raise ValueError(f"{name} must hold integer class indices, got dtype {y.dtype}")
    return y


def _source_loss(logits: Tensor, reference: Tensor, loss: str) -> Tensor:
    """Summed source loss of one batch (a sum keeps each sample's gradient its own).

    ``reference`` holds class indices for the cross-entropy losses and the clean outputs
    for ``"mse_clean"``.
    """
    if loss == "mse_clean":
        return (logits - reference).pow(2).sum()
    return F.cross_entropy(logits, reference, reduction="sum")


def pgd_attack(
    model: nn.Module,
    x: Tensor,
    *,
    eps: float,
    steps: int,
    step_size: float | None = None,
    loss: str = "ce_clean",
    y: Tensor | None = None,
    random_start: bool = True,
    seed: int = 0,
    batch_size: int = 256,
    clip: tuple[float, float] = (0.0, 1.0),
    progress: Callable[[int, int], None] | None = None,
) -> Tensor:
    r"""L-infinity PGD attack on a source model, label-free by default.

    Paper: Liang et al., App. G.1; docs/method.md §4 (eps = 0.1, 10 steps, random start).

    Formula::

        x_0     = clip(x + u),  u ~ U[-eps, eps]^n         if random_start else x
        x_{t+1} = clip(min(max(x_t + xi * sign(g_t), x - eps), x + eps))
        g_t     = ∇_{x_t} l(f(x_t), f(x))

    with ``clip`` the box ``[clip[0], clip[1]]`` and the source loss ``l`` one of

    * ``"ce_clean"``  -- cross-entropy to the model's clean prediction argmax f(x)
      (label-free, the default);
    * ``"mse_clean"`` -- squared output deviation ||f(x_t) - f(x)||_2^2 (label-free;
      its gradient vanishes at x_t = x, so use it with ``random_start=True``);
    * ``"ce_label"``  -- cross-entropy to the true labels ``y``.

    The model is switched to eval mode for the attack and every submodule's mode is
    restored afterwards. Gradients are taken with :func:`torch.autograd.grad` with respect
    to the input only, so no ``.grad`` is accumulated on the parameters. The random start
    is drawn for the whole of ``x`` at once on the CPU from a ``torch.Generator`` seeded
    with ``seed`` and then moved, so the result does not depend on ``batch_size`` or the
    device and repeats exactly for the same seed. Batches are moved to the model's device
    and the result is returned on ``x``'s device.

    Args:
        model: Source model mapping inputs in [0, 1] to logits / outputs (N, K).
        x: Clean inputs, floating point, all values inside ``clip``.
        eps: Radius of the L-inf ball in pixel units, 0 <= eps <= 1.
        steps: Number of PGD steps, >= 0.
        step_size: Step size xi > 0; default ``2.5 * eps / steps`` (Madry et al.).
        loss: Source loss, one of :data:`PGD_LOSSES`.
        y: True labels (N,), required for ``loss="ce_label"`` and ignored otherwise.
        random_start: Start from a uniform random point of the eps-ball.
        seed: Seed of the random start.
        batch_size: Inputs attacked per forward/backward pass.
        clip: Valid input box ``(low, high)`` with ``0 <= low < high <= 1``.
        progress: optional ``progress(done, total)`` called after each batch (inputs
            attacked so far, of ``N``), e.g. to log progress; never called for the trivial
            cases.

    Shape:
        x: (N, C, H, W) (any (N, ...) the model accepts); y: (N,); output: same as x.

    Returns:
        Adversarial inputs ``x_adv`` (detached), with ``|x_adv - x| <= eps`` element-wise
        and values inside ``clip``. ``eps == 0`` returns ``x.clone()``; ``steps == 0``
        returns the (clipped) random start, or ``x.clone()`` without random start.

    Raises:
        ValueError: negative eps or eps > 1, steps < 0 or not an integer, non-positive
            step size, unknown loss, ``y`` missing or malformed for ``"ce_label"``,
            ``x`` not floating point or outside ``clip``, a bad ``clip`` or ``batch_size``.
    """
    if loss not in PGD_LOSSES:
        raise ValueError(f"unknown loss {loss!r}; expected one of {PGD_LOSSES}")
    _check_attack_input(x)
    labels = _check_labels(y, x.shape[0]) if loss == "ce_label" else None

    def reference(clean_out: Tensor, rows: slice, device: torch.device) -> Tensor:
        if loss == "ce_clean":
            return clean_out.argmax(dim=1)
        if loss == "ce_label":
            assert labels is not None
            return labels[rows].to(device=device, dtype=torch.long)
        return clean_out.detach()

    return projected_gradient_ascent(
        model, x, reference=reference, loss=lambda out, ref: _source_loss(out, ref, loss),
        eps=eps, steps=steps, step_size=step_size, random_start=random_start, seed=seed,
        batch_size=batch_size, clip=clip, progress=progress,
    )  # fmt: skip


def _check_attack_input(x: Tensor) -> None:
    if not isinstance(x, Tensor):
        raise ValueError(f"x must be a torch.Tensor, got {type(x).__name__}")
    if not x.dtype.is_floating_point:
        raise ValueError(f"x must be floating point, got dtype {x.dtype}")
    if x.dim() < 1 or x.shape[0] == 0:
        raise ValueError(f"x must have a non-empty batch dimension, got shape {tuple(x.shape)}")


def projected_gradient_ascent(
    model: nn.Module,
    x: Tensor,
    *,
    reference: Callable[[Tensor, slice, torch.device], Tensor],
    loss: Callable[[Tensor, Tensor], Tensor],
    eps: float,
    steps: int,
    step_size: float | None = None,
    random_start: bool = True,
    seed: int = 0,
    batch_size: int = 256,
    clip: tuple[float, float] = (0.0, 1.0),
    progress: Callable[[int, int], None] | None = None,
) -> Tensor:
    """The L-inf PGD loop behind :func:`pgd_attack` and ``multitask.task_pgd``.

    For each batch ``rows`` of ``x`` (moved to the model's device): ``ref =
    reference(model(x_clean), rows, device)`` once, then ``steps`` ascent steps on
    ``loss(model(x_adv), ref)`` (a scalar; sum per-sample losses so that each sample's
    gradient is its own) with the projection, random start and trivial cases described in
    :func:`pgd_attack`, whose argument checks (other than ``loss`` and ``y``) run here.
    """
    clip_lo, clip_hi = _check_pgd_arguments(x, eps, steps, step_size, batch_size, clip)

    # ---- trivial cases ----
    if eps == 0 or (steps == 0 and not random_start):
        return x.detach().clone()
    xi = float(step_size) if step_size is not None else (2.5 * eps / steps if steps else 0.0)

    x = x.detach()
    start = _random_start(x, eps, seed, clip_lo, clip_hi) if random_start else x.clone()
    if steps == 0:
        return start
    device = model_device(model, x.device)
    pieces: list[Tensor] = []
    with eval_mode(model), torch.enable_grad():
        for begin in range(0, x.shape[0], batch_size):
            rows = slice(begin, begin + batch_size)
            x_clean = x[rows].to(device)
            with torch.no_grad():
                ref = reference(model(x_clean), rows, device)
            x_adv = _ascend(model, x_clean, start[rows].to(device), ref, loss, eps=eps,
                            steps=steps, xi=xi, clip=(clip_lo, clip_hi))
            pieces.append(x_adv.to(x.device))
            if progress is not None:
                progress(min(begin + batch_size, x.shape[0]), x.shape[0])
    return torch.cat(pieces, dim=0)


def _check_pgd_arguments(
    x: Tensor, eps: float, steps: int, step_size: float | None, batch_size: int,
    clip: tuple[float, float],
) -> tuple[float, float]:
    """Validate the PGD arguments; returns the clip box ``(low, high)``."""
    _check_attack_input(x)
    if isinstance(eps, bool) or not isinstance(eps, Real) or not math.isfinite(eps):
        raise ValueError(f"eps must be a finite real number, got {eps!r}")
    if eps < 0:
        raise ValueError(f"eps must be non-negative, got {eps}")
    if eps > 1:
        raise ValueError(f"eps is in [0, 1] pixel units and must be <= 1, got {eps}")
    if isinstance(steps, bool) or not isinstance(steps, Integral):
        raise ValueError(f"steps must be an integer, got {steps!r}")
    if steps < 0:
        raise ValueError(f"steps must be non-negative, got {steps}")
    if step_size is not None:
        if (
            isinstance(step_size, bool)
            or not isinstance(step_size, Real)
            or not math.isfinite(step_size)
            or step_size <= 0
        ):
            raise ValueError(f"step_size must be a positive finite number, got {step_size!r}")
    check_batch_size(batch_size)
    if len(clip) != 2:
        raise ValueError(f"clip must be a pair (low, high), got {clip!r}")
    clip_lo, clip_hi = float(clip[0]), float(clip[1])
    if not (0.0 <= clip_lo < clip_hi <= 1.0):
        raise ValueError(f"clip must satisfy 0 <= low < high <= 1, got {clip!r}")
    in_box = (x >= clip_lo) & (x <= clip_hi)  # NaN fails both comparisons
    if not bool(in_box.all()):
        raise ValueError(
            f"x must lie in [{clip_lo}, {clip_hi}] (pixel units, normalisation belongs "
            f"inside the model); got values in [{x.min().item()}, {x.max().item()}]"
        )
    return clip_lo, clip_hi


def _random_start(x: Tensor, eps: float, seed: int, clip_lo: float, clip_hi: float) -> Tensor:
    """``clip(x + u)``, ``u ~ U[-eps, eps]^n`` drawn on the CPU from ``seed`` (device-free)."""
    generator = torch.Generator(device="cpu").manual_seed(int(seed))
    noise = torch.rand(x.shape, generator=generator, dtype=x.dtype)
    noise = (2.0 * noise - 1.0).mul_(eps).to(x.device)
    return (x + noise).clamp_(clip_lo, clip_hi)


def _ascend(
    model: nn.Module, x_clean: Tensor, x_adv: Tensor, ref: Tensor,
    loss: Callable[[Tensor, Tensor], Tensor], *, eps: float, steps: int, xi: float,
    clip: tuple[float, float],
) -> Tensor:
    """``steps`` signed-gradient ascent steps on one batch, projected on the eps-box ∩ clip."""
    lower = (x_clean - eps).clamp_(min=clip[0])
    upper = (x_clean + eps).clamp_(max=clip[1])
    for _ in range(steps):
        x_adv.requires_grad_(True)
        value = loss(model(x_adv), ref)
        (grad,) = torch.autograd.grad(value, x_adv)
        with torch.no_grad():
            x_adv = x_adv + xi * grad.sign()
            x_adv = torch.minimum(torch.maximum(x_adv, lower), upper)
    return x_adv.detach()


def adversarial_losses(
    model: nn.Module,
    x: Tensor,
    x_adv: Tensor,
    y: Tensor,
    batch_size: int = 256,
) -> dict[str, Tensor]:
    r"""Per-sample true-label losses of a (reference) model on clean and adversarial inputs.

    Paper: Liang et al., Def. 6 (cross adversarial loss) and App. G.2: the adversarial
    transferability from a source S to the reference T is
    ``L_adv(f_T, delta_S) = E l_T(f_T(x + delta_S(x)), y(x))``, i.e. the mean of
    ``loss_adv`` below when ``x_adv`` was crafted against S.

    Formula::

        loss_clean_i = -log softmax(f(x_i))_{y_i}
        loss_adv_i   = -log softmax(f(x_adv_i))_{y_i}
        flip_i       = 1[argmax f(x_adv_i) != argmax f(x_i)]

    The model runs in eval mode without gradients; every submodule's mode is restored.

    Args:
        model: Classifier mapping inputs in [0, 1] to logits (N, K).
        x: Clean inputs.
        x_adv: Adversarial inputs, same shape as ``x``.
        y: True class indices.
        batch_size: Inputs per forward pass.

    Shape:
        x, x_adv: (N, C, H, W); y: (N,); every returned tensor: (N,).

    Returns:
        Dict of CPU tensors: ``loss_clean`` and ``loss_adv`` (float cross-entropies),
        ``flip`` (float 0/1 indicator, so ``flip.mean()`` is the flip rate),
        ``pred_clean`` and ``pred_adv`` (long predictions), ``correct_clean`` and
        ``correct_adv`` (float 0/1 indicators of a correct prediction).

    Raises:
        ValueError: mismatched shapes, non-integer labels, bad ``batch_size``.
    """
    if not isinstance(x, Tensor) or not isinstance(x_adv, Tensor):
        raise ValueError("x and x_adv must be torch.Tensors")
    if x.shape != x_adv.shape:
        raise ValueError(
            f"x and x_adv must have the same shape, got {tuple(x.shape)} and "
            f"{tuple(x_adv.shape)}"
        )
    if x.dim() < 1 or x.shape[0] == 0:
        raise ValueError(f"x must have a non-empty batch dimension, got shape {tuple(x.shape)}")
    y = _check_labels(y, x.shape[0])
    check_batch_size(batch_size)

    device = model_device(model, x.device)
    out: dict[str, list[Tensor]] = {
        "loss_clean": [], "loss_adv": [], "pred_clean": [], "pred_adv": []
    }
    with eval_mode(model), torch.no_grad():
        for begin in range(0, x.shape[0], batch_size):
            yb = y[begin : begin + batch_size].to(device=device, dtype=torch.long)
            for tag, inputs in (("clean", x), ("adv", x_adv)):
                logits = model(inputs[begin : begin + batch_size].to(device))
                out[f"loss_{tag}"].append(
                    F.cross_entropy(
                        logits.to(torch.promote_types(logits.dtype, torch.float32)), yb,
                        reduction="none",
                    ).cpu()
                )
                out[f"pred_{tag}"].append(logits.argmax(dim=1).cpu())
    result = {key: torch.cat(value) for key, value in out.items()}
    y_cpu = y.detach().cpu().long()
    result["flip"] = (result["pred_adv"] != result["pred_clean"]).float()
    result["correct_clean"] = (result["pred_clean"] == y_cpu).float()
    result["correct_adv"] = (result["pred_adv"] == y_cpu).float()
    return result
