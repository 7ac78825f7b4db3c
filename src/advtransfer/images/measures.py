"""Per-source measures of adversarial and knowledge transferability (SPEC §2, §4, §5.2).

These are the reusable stages behind the image scenarios: given a source model, the
reference model trained on the target and the target data, compute every adversarial
measure (cross adversarial loss, ratio, flip rate, tau1, tau2, alpha) and every knowledge
measure (full-data and k-shot linear probes on frozen source features).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from advtransfer.core import attacks, probes, tau
from advtransfer.core.names import ADVERSARIAL_MEASURES, KNOWLEDGE_MEASURES

__all__ = [
    "ADVERSARIAL_MEASURES",
    "JACOBIAN_OUTPUTS",
    "KNOWLEDGE_MEASURES",
    "adversarial_measures",
    "knowledge_measures",
]

#: Outputs whose input Jacobians define tau1, tau2 and alpha (see adversarial_measures).
JACOBIAN_OUTPUTS = ("logits", "features")


class _Features(nn.Module):
    """A classifier seen through its penultimate features: ``forward(x) = model.features(x)``."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: Tensor) -> Tensor:
        return self.model.features(x)


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
    jacobian_output: str = "logits",
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
      ``jacobian_points`` clean images: Jacobians of the logits, or with
      ``jacobian_output="features"`` of both models' penultimate features (for a
      reference with thousands of classes, whose logit Jacobians (N, d, n) do not fit
      in memory).

    Args:
        x, y: clean attack images (N, C, H, W) in [0, 1] and true labels (N,).
        x_adv_source, x_adv_reference: PGD images of the source and of the reference.
        jacobian_output: ``"logits"`` or ``"features"``.
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
    f_s, f_r = (source, reference) if jacobian_output == "logits" else (
        _Features(source), _Features(reference))
    jac_s = tau.input_jacobians(f_s, x[:m], batch_size=batch_size)
    jac_r = tau.input_jacobians(f_r, x[:m], batch_size=batch_size)
    res = tau.adversarial_transferability(jac_s.double(), jac_r.double())
    out = {
        "cross_adv_loss": cross,
        "reference_adv_loss": own,
        "adv_loss_ratio": cross / own if own > 0 else float("nan"),
        "reference_clean_loss": float(ref_src["loss_clean"].mean()),
        "flip_rate": float(ref_src["flip"].mean()),
        "reference_adv_accuracy": float(ref_src["correct_adv"].mean()),
        "tau1": float(res["tau1"]),
        "tau2": float(res["tau2"]),
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
    kshot: Mapping[str, Any] | None = None,
    batch_size: int = 512,
    device: str | torch.device = "cpu",
) -> dict[str, float]:
    """Linear probe of frozen source features on the target (SPEC §4).

    The source's feature extractor is frozen (eval mode); a new multinomial logistic
    regression is fitted on target training features and scored on target test features.
    With ``kshot = {"k", "draws", "seed"}``, also a k-shot probe (k examples per class).
    """
    f_train = probes.extract_features(source, train[0], batch_size=batch_size, device=device)
    f_test = probes.extract_features(source, test[0], batch_size=batch_size, device=device)
    y_train, y_test = train[1].cpu().numpy(), test[1].cpu().numpy()
    probe = probes.fit_linear_probe(f_train.cpu().numpy(), y_train, C=C)
    full = probe.evaluate(f_test.cpu().numpy(), y_test)
    out = {
        "probe_accuracy": float(full["accuracy"]),
        "probe_loss": float(full["loss"]),
        "probe_neg_loss": -float(full["loss"]),
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
