"""Per-source measures of adversarial and knowledge transferability (docs/method.md §3-§4, §6).

These are the reusable stages behind the image scenarios: given a source model, the
reference model trained on the target and the target data, compute every adversarial
measure (cross adversarial loss, ratio, flip rate, tau1, tau2, alpha) and every knowledge
measure (full-data and k-shot linear probes on frozen source features).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from advtransfer.core import attacks, probes, tau
from advtransfer.core.modelutils import eval_mode
from advtransfer.core.names import ADVERSARIAL_MEASURES, KNOWLEDGE_MEASURES

__all__ = [
    "ADVERSARIAL_MEASURES",
    "JACOBIAN_OUTPUTS",
    "KNOWLEDGE_MEASURES",
    "adversarial_measures",
    "knowledge_measures",
]

#: Outputs whose input Jacobians define tau1, tau2 and alpha (see adversarial_measures).
JACOBIAN_OUTPUTS = tau.JACOBIAN_OUTPUTS


class _Features(nn.Module):
    """A classifier seen through its penultimate features: ``forward(x) = model.features(x)``."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: Tensor) -> Tensor:
        return self.model.features(x)


def _logits(model: nn.Module, x: Tensor, batch_size: int) -> Tensor:
    """Eval-mode logits of ``model`` on ``x`` in float64, ``(N, d)``."""
    with eval_mode(model), torch.no_grad():
        return torch.cat([model(x[i : i + batch_size]).reshape(len(x[i : i + batch_size]), -1)
                          for i in range(0, x.shape[0], batch_size)]).double()


def adversarial_measures(
    source: nn.Module,
    reference: nn.Module,
    x: Tensor,
    y: Tensor,
    x_adv_source: Tensor,
    x_adv_reference: Tensor,
    *,
    jacobian_points: int = 200,
    batch_size: int = 256,
    jacobian_output: str = "centered_logits",
) -> dict[str, float]:
    """Cross adversarial loss and first-order transferability of ``source`` -> ``reference``.

    * ``cross_adv_loss``: ``E l_T(f_T(x + delta_S(x)), y)``, the reference's cross-entropy on
      the source's adversarial images with true labels (Def. 6);
    * ``reference_adv_loss``: the same under the reference's own attack ``delta_T``;
    * ``adv_loss_ratio``: their ratio, the finite normalised cross adversarial loss;
    * ``flip_rate``: fraction of images whose reference prediction changes under
      ``delta_S``; ``source_flip_rate`` the same for the source itself;
    * ``tau1``, ``tau2``, ``alpha``, ``lambda_*``: first-order measures of
      :func:`advtransfer.core.tau.adversarial_transferability` on the first
      ``jacobian_points`` clean images, on the Jacobians of ``jacobian_output``:
      ``centered_logits`` (default; the logit Jacobians projected orthogonally to the
      all-ones vector, :func:`advtransfer.core.tau.center_outputs`: softmax ignores
      ``logits + c(x) 1``, so the measures must too), ``log_softmax``, ``logits`` (the
      paper-literal raw logits) or ``features``, both models' penultimate features (for a
      reference with thousands of classes, whose logit Jacobians (N, d, n) do not fit
      in memory);
    * ``tau2_logits``: tau2 on the raw logit Jacobians beside the invariant one (same
      Jacobians, no extra backward pass; NaN for ``features``), kept for one release so
      the change of definition is visible.

    Args:
        x, y: clean attack images (N, C, H, W) in [0, 1] and true labels (N,).
        x_adv_source, x_adv_reference: PGD images of the source and of the reference.
        jacobian_output: one of :data:`JACOBIAN_OUTPUTS`.
    """
    if jacobian_output not in JACOBIAN_OUTPUTS:
        raise ValueError(
            f"unknown jacobian_output {jacobian_output!r}; choose one of {JACOBIAN_OUTPUTS}"
        )
    ref_src = attacks.adversarial_losses(reference, x, x_adv_source, y, batch_size=batch_size)
    ref_own = attacks.adversarial_losses(reference, x, x_adv_reference, y, batch_size=batch_size)
    # only the source's own prediction flips are used: its classes differ from the target's
    # (there may be fewer of them), so it is scored against placeholder labels 0
    src_self = attacks.adversarial_losses(source, x, x_adv_source, torch.zeros_like(y),
                                          batch_size=batch_size)
    cross = float(ref_src["loss_adv"].mean())
    own = float(ref_own["loss_adv"].mean())
    m = min(jacobian_points, x.shape[0])
    tau2_logits = float("nan")
    if jacobian_output == "features":
        jac_s = tau.input_jacobians(_Features(source), x[:m], batch_size=batch_size).double()
        jac_r = tau.input_jacobians(_Features(reference), x[:m], batch_size=batch_size).double()
    else:
        raw_s = tau.input_jacobians(source, x[:m], batch_size=batch_size).double()
        raw_r = tau.input_jacobians(reference, x[:m], batch_size=batch_size).double()
        z_s = z_r = None
        if jacobian_output == "log_softmax":
            z_s = _logits(source, x[:m], batch_size)
            z_r = _logits(reference, x[:m], batch_size)
        # a candidate without head (byo) outputs features, which have no free direction
        src_output = jacobian_output if getattr(source, "has_head", True) else "logits"
        jac_s = tau.output_jacobians(raw_s, src_output, z_s)
        jac_r = tau.output_jacobians(raw_r, jacobian_output, z_r)
        if jacobian_output != "logits":
            tau2_logits = float(tau.adversarial_transferability(raw_s, raw_r)["tau2"])
    res = tau.adversarial_transferability(jac_s, jac_r)
    out = {
        "cross_adv_loss": cross,
        "reference_adv_loss": own,
        "adv_loss_ratio": cross / own if own > 0 else float("nan"),
        "reference_clean_loss": float(ref_src["loss_clean"].mean()),
        "flip_rate": float(ref_src["flip"].mean()),
        "reference_adv_accuracy": float(ref_src["correct_adv"].mean()),
        "tau1": float(res["tau1"]),
        "tau2": float(res["tau2"]),
        "tau2_logits": float(res["tau2"]) if jacobian_output == "logits" else tau2_logits,
        "alpha": float(res["alpha"]),
        "lambda_source": float(res["lambda_source"]),
        "lambda_reference": float(res["lambda_target"]),
        "jacobian_points": m,
        "attack_images": int(x.shape[0]),
        "source_flip_rate": float(src_self["flip"].mean()),
    }
    return out


def knowledge_measures(
    source: nn.Module,
    train: tuple[Tensor, Tensor],
    test: tuple[Tensor, Tensor],
    *,
    C: float = 1.0,
    C_grid: Sequence[float] | None = None,
    val: tuple[Tensor, Tensor] | None = None,
    kshot: Mapping[str, Any] | None = None,
    batch_size: int = 512,
    device: str | torch.device = "cpu",
    seed: int = 0,
) -> dict[str, float]:
    """Linear probe of frozen source features on the target (Liang et al. §4; docs/method.md §6).

    The source's feature extractor is frozen (eval mode); a new multinomial logistic
    regression is fitted on target training features and scored on target test features.
    Its inverse L2 strength is ``C``, or with ``C_grid`` the value of the grid with the
    lowest validation loss (:func:`advtransfer.core.probes.choose_C_by_validation`) on
    ``val`` (the target validation split), or, without ``val``, on a stratified 20 % of
    the training data (seed ``seed``); the probe is then refitted on all training data.
    The test split never takes part in the choice; ``probe_C`` records the C used.
    With ``kshot = {"k", "draws", "seed"}``, also a k-shot probe (k examples per class,
    fixed ``C``: a handful of examples per class cannot be split for validation).
    """
    f_train = probes.extract_features(source, train[0], batch_size=batch_size, device=device)
    f_test = probes.extract_features(source, test[0], batch_size=batch_size, device=device)
    y_train, y_test = train[1].cpu().numpy(), test[1].cpu().numpy()
    probe_c = float(C)
    if C_grid:
        if val is not None and len(val[1]) > 0:
            f_val = probes.extract_features(source, val[0], batch_size=batch_size,
                                            device=device).cpu().numpy()
            y_val = val[1].cpu().numpy()
        else:
            f_val = y_val = None
        probe_c = float(probes.choose_C_by_validation(
            f_train.cpu().numpy(), y_train, f_val, y_val, grid=list(C_grid), seed=seed)["C"])
    probe = probes.fit_linear_probe(f_train.cpu().numpy(), y_train, C=probe_c)
    full = probe.evaluate(f_test.cpu().numpy(), y_test)
    out = {
        "probe_accuracy": float(full["accuracy"]),
        # bootstrap-over-test-images standard error (from the per-image correctness)
        "probe_accuracy_se": float(full["accuracy_se"]),
        "probe_test_n": int(full["n"]),
        "probe_loss": float(full["loss"]),
        "probe_neg_loss": -float(full["loss"]),
        "probe_C": probe_c,
        "feature_dim": int(f_train.shape[1]),
    }
    if kshot:
        counts = np.bincount(y_train)
        k = int(min(kshot["k"], counts.min()))
        few = probes.kshot_probe(
            f_train.cpu().numpy(), y_train, f_test.cpu().numpy(), y_test,
            k=k, draws=kshot["draws"], seed=kshot["seed"], C=C,
        )
        out.update(
            kshot_k=k,
            kshot_accuracy=float(few["accuracy_mean"]),
            kshot_accuracy_std=float(few["accuracy_std"]),
            kshot_loss=float(few["loss_mean"]),
        )
    return out
