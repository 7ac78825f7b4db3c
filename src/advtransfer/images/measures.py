"""Per-source measures of adversarial and knowledge transferability (docs/method.md §3-§4, §6).

These are the reusable stages behind the image scenarios: given a source model, the
reference model trained on the target and the target data, compute every adversarial
measure (cross adversarial loss, ratio, flip rate, tau1, tau2, alpha) and every knowledge
measure (full-data and k-shot linear probes on frozen source features).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from advtransfer.core import attacks, probes, tau
from advtransfer.core.matrixfree import adversarial_transferability_matrix_free, tau2_matrix_free
from advtransfer.core.modelutils import eval_mode
from advtransfer.core.names import ADVERSARIAL_MEASURES, KNOWLEDGE_MEASURES

__all__ = [
    "ADVERSARIAL_MEASURES",
    "JACOBIAN_MEMORY_MB",
    "JACOBIAN_METHODS",
    "JACOBIAN_OUTPUTS",
    "KNOWLEDGE_MEASURES",
    "adversarial_measures",
    "choose_jacobian_method",
    "knowledge_measures",
]

#: Outputs whose input Jacobians define tau1, tau2 and alpha (see adversarial_measures).
JACOBIAN_OUTPUTS = tau.JACOBIAN_OUTPUTS

#: How tau1 / tau2 / alpha are computed: ``exact`` materialises both models' input
#: Jacobians (:mod:`advtransfer.core.tau`), ``matrix_free`` uses products with them only
#: (:mod:`advtransfer.core.matrixfree`), ``auto`` picks by :data:`JACOBIAN_MEMORY_MB`.
JACOBIAN_METHODS = ("auto", "exact", "matrix_free")

#: Memory budget (MB) of ``jacobian_method: auto``: exact while both models' float32
#: Jacobians, ``N * (d_S + d_T) * n * 4`` bytes, fit in it (``jacobian_memory_mb``).
JACOBIAN_MEMORY_MB = 2000

_log = logging.getLogger(__name__)


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


class _Mapped(nn.Module):
    """``model`` followed by an output map (``logits``, ``centered_logits``, ``log_softmax``)."""

    def __init__(self, model: nn.Module, output: str) -> None:
        super().__init__()
        self.model, self.output = model, output

    def forward(self, x: Tensor) -> Tensor:
        out = self.model(x)
        out = out.reshape(out.shape[0], -1)
        if self.output == "centered_logits" and out.shape[1] > 1:
            return out - out.mean(dim=1, keepdim=True)
        if self.output == "log_softmax":
            return torch.log_softmax(out, dim=1)
        return out


def choose_jacobian_method(method: str, n_points: int, d_source: int, d_reference: int,
                           n_inputs: int, memory_mb: float = JACOBIAN_MEMORY_MB) -> str:
    """``exact`` or ``matrix_free`` for ``jacobian_method`` (``auto`` decides by memory).

    ``auto`` is ``exact`` while both models' float32 input Jacobians,
    ``n_points * (d_source + d_reference) * n_inputs * 4`` bytes, fit in ``memory_mb``
    megabytes (10^6 bytes), else ``matrix_free``; the choice is logged.
    """
    if method not in JACOBIAN_METHODS:
        raise ValueError(f"unknown jacobian_method {method!r}; choose one of {JACOBIAN_METHODS}")
    need_mb = n_points * (d_source + d_reference) * n_inputs * 4 / 1e6
    chosen = method
    if method == "auto":
        chosen = "exact" if need_mb <= memory_mb else "matrix_free"
    _log.info("jacobian_method %s -> %s: exact Jacobians %d x (%d + %d) x %d need %.0f MB "
              "(budget %.0f MB)", method, chosen, n_points, d_source, d_reference, n_inputs,
              need_mb, memory_mb)
    return chosen


def _tau_models(source: nn.Module, reference: nn.Module,
                jacobian_output: str) -> tuple[nn.Module, nn.Module]:
    """The two maps whose input Jacobians define the measures (adversarial_measures)."""
    if jacobian_output == "features":
        return _Features(source), _Features(reference)
    # a candidate without head (byo) outputs features, which have no free direction
    src_output = jacobian_output if getattr(source, "has_head", True) else "logits"
    return _Mapped(source, src_output), _Mapped(reference, jacobian_output)


def _exact_tau(source: nn.Module, reference: nn.Module, x: Tensor, jacobian_output: str,
               batch_size: int) -> tuple[dict[str, Tensor], float]:
    """Measures on materialised Jacobians, and tau2 on the raw logit Jacobians beside them."""
    tau2_logits = float("nan")
    if jacobian_output == "features":
        jac_s = tau.input_jacobians(_Features(source), x, batch_size=batch_size).double()
        jac_r = tau.input_jacobians(_Features(reference), x, batch_size=batch_size).double()
        return tau.adversarial_transferability(jac_s, jac_r), tau2_logits
    raw_s = tau.input_jacobians(source, x, batch_size=batch_size).double()
    raw_r = tau.input_jacobians(reference, x, batch_size=batch_size).double()
    z_s = z_r = None
    if jacobian_output == "log_softmax":
        z_s = _logits(source, x, batch_size)
        z_r = _logits(reference, x, batch_size)
    src_output = jacobian_output if getattr(source, "has_head", True) else "logits"
    jac_s = tau.output_jacobians(raw_s, src_output, z_s)
    jac_r = tau.output_jacobians(raw_r, jacobian_output, z_r)
    res = tau.adversarial_transferability(jac_s, jac_r)
    if jacobian_output != "logits":
        tau2_logits = float(tau.adversarial_transferability(raw_s, raw_r)["tau2"])
    else:
        tau2_logits = float(res["tau2"])
    return res, tau2_logits


def _matrix_free_tau2_logits(source: nn.Module, reference: nn.Module, x: Tensor,
                             jacobian_output: str, tau2: float, batch_size: int) -> float:
    """tau2 on the raw logits on the matrix-free path (``tau2`` itself for ``logits``).

    Another output map has other top singular vectors, so this is a second solve (of the
    source only, :func:`advtransfer.core.matrixfree.tau2_matrix_free`); NaN for
    ``features``, as on the exact path.
    """
    if jacobian_output == "features":
        return float("nan")
    if jacobian_output == "logits":
        return tau2
    value, n_bad = tau2_matrix_free(source, reference, x, batch_size=batch_size)
    if n_bad:
        _log.warning("matrix-free tau2_logits: %d of %d points did not converge (kept)",
                     n_bad, x.shape[0])
    return float(value)


def _tau_measures(source: nn.Module, reference: nn.Module, x: Tensor, jacobian_output: str,
                  batch_size: int, method: str, memory_mb: float) -> dict[str, Any]:
    """tau1, tau2, alpha, lambdas by the chosen ``jacobian_method`` (adversarial_measures)."""
    s_map, r_map = _tau_models(source, reference, jacobian_output)
    with eval_mode(s_map), eval_mode(r_map), torch.no_grad():
        d_s, d_r = s_map(x[:1]).shape[1], r_map(x[:1]).shape[1]
    chosen = choose_jacobian_method(method, x.shape[0], d_s, d_r, x[0].numel(), memory_mb)
    n_bad = 0
    if chosen == "exact":
        res, tau2_logits = _exact_tau(source, reference, x, jacobian_output, batch_size)
    else:
        res = adversarial_transferability_matrix_free(s_map, r_map, x,
                                                      batch_size=min(batch_size, 64))
        n_bad = int(res["n_not_converged"])
        tau2_logits = _matrix_free_tau2_logits(source, reference, x, jacobian_output,
                                               float(res["tau2"]), min(batch_size, 64))
        if n_bad:
            _log.warning("matrix-free tau: %d of %d points did not converge (kept, counted)",
                         n_bad, x.shape[0])
    return {
        "tau1": float(res["tau1"]),
        "tau2": float(res["tau2"]),
        "tau2_logits": tau2_logits,
        "alpha": float(res["alpha"]),
        "lambda_source": float(res["lambda_source"]),
        "lambda_reference": float(res["lambda_target"]),
        "jacobian_method": chosen,
        "n_not_converged": n_bad,
    }


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
    jacobian_method: str = "auto",
    jacobian_memory_mb: float = JACOBIAN_MEMORY_MB,
) -> dict[str, Any]:
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
      the change of definition is visible;
    * ``jacobian_method``: how tau was computed, ``exact`` (both Jacobians materialised) or
      ``matrix_free`` (:func:`advtransfer.core.matrixfree.adversarial_transferability_matrix_free`,
      products with the Jacobians only: any ``d``, memory of one batch of activations);
      ``n_not_converged``: points where the matrix-free solver did not converge (kept in
      the means, counted here; always 0 for ``exact``). On the matrix-free path
      ``tau2_logits`` takes a second solve, of the source's raw logits only
      (:func:`advtransfer.core.matrixfree.tau2_matrix_free`), unless ``jacobian_output``
      is ``logits`` (then it is ``tau2``) or ``features`` (NaN).

    Args:
        x, y: clean attack images (N, C, H, W) in [0, 1] and true labels (N,).
        x_adv_source, x_adv_reference: PGD images of the source and of the reference.
        jacobian_output: one of :data:`JACOBIAN_OUTPUTS`.
        jacobian_method: one of :data:`JACOBIAN_METHODS`; ``auto`` is ``exact`` while both
            float32 Jacobians, ``N * (d_S + d_T) * n * 4`` bytes, fit in
            ``jacobian_memory_mb`` (default :data:`JACOBIAN_MEMORY_MB`), else ``matrix_free``
            (:func:`choose_jacobian_method`, which logs the choice).
    """
    if jacobian_output not in JACOBIAN_OUTPUTS:
        raise ValueError(
            f"unknown jacobian_output {jacobian_output!r}; choose one of {JACOBIAN_OUTPUTS}"
        )
    if jacobian_method not in JACOBIAN_METHODS:
        raise ValueError(
            f"unknown jacobian_method {jacobian_method!r}; choose one of {JACOBIAN_METHODS}"
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
    taus = _tau_measures(source, reference, x[:m], jacobian_output, batch_size,
                         jacobian_method, jacobian_memory_mb)
    out = {
        "cross_adv_loss": cross,
        "reference_adv_loss": own,
        "adv_loss_ratio": cross / own if own > 0 else float("nan"),
        "reference_clean_loss": float(ref_src["loss_clean"].mean()),
        "flip_rate": float(ref_src["flip"].mean()),
        "reference_adv_accuracy": float(ref_src["correct_adv"].mean()),
        **{key: taus[key] for key in ("tau1", "tau2", "tau2_logits", "alpha",
                                      "lambda_source", "lambda_reference")},
        "jacobian_points": m,
        "attack_images": int(x.shape[0]),
        "source_flip_rate": float(src_self["flip"].mean()),
        "jacobian_method": taus["jacobian_method"],
        "n_not_converged": taus["n_not_converged"],
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
        try:
            probe_c = float(probes.choose_C_by_validation(
                f_train.cpu().numpy(), y_train, f_val, y_val, grid=list(C_grid), seed=seed)["C"])
        except ValueError as err:  # a tiny probe pool: keep the fixed C, say so
            _log.warning("probe C not chosen on validation (%s); using C = %g", err, C)
        else:
            if probe_c in (min(C_grid), max(C_grid)) and len(C_grid) > 1:
                _log.warning("probe C = %g is at the edge of probe.C_grid %s: the best C "
                               "may lie outside it", probe_c, list(C_grid))
    probe = probes.fit_linear_probe(f_train.cpu().numpy(), y_train, C=probe_c)
    full = probe.evaluate(f_test.cpu().numpy(), y_test)
    out = {
        "probe_accuracy": float(full["accuracy"]),
        # bootstrap-over-test-images standard error (from the per-image correctness)
        "probe_accuracy_se": float(full["accuracy_se"]),
        "probe_test_n": int(full["n"]),
        "probe_loss": float(full["loss"]),
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
