"""Supervised training of source and reference classifiers (docs/method.md §9.2-§9.3).

:func:`train_classifier` runs mini-batch training with cross-entropy (or focal loss, used
with the ArcFace head of the face-recognition reference, Liang et al. §4.3), evaluates the
validation split after every epoch and restores the weights of the best validation
epoch (model selection on validation data, never on test data). Shuffling and
augmentation draw from a ``torch.Generator`` seeded from ``seed``, and
``torch.manual_seed(seed)`` seeds everything else (e.g. dropout), so on a CPU two runs
with the same seed and the same initial weights give identical weights.
"""

from __future__ import annotations

import logging
import math
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from advtransfer.core.checks import check_batch_size
from advtransfer.core.modelutils import eval_mode, model_device, pick_device
from advtransfer.fitting import fit_model
from advtransfer.images.arcface import focal_loss
from advtransfer.images.datasets import to_float_images

__all__ = [
    "OPTIMIZERS",
    "AUGMENTATIONS",
    "CRITERIA",
    "pick_device",
    "evaluate",
    "train_classifier",
]

logger = logging.getLogger(__name__)

OPTIMIZERS: tuple[str, ...] = ("sgd", "adam", "adadelta")
AUGMENTATIONS: tuple[str, ...] = ("flip_crop",)
#: Training losses: cross-entropy, or focal loss (Lin et al., 2017) with ``focal_gamma``.
CRITERIA: tuple[str, ...] = ("ce", "focal")
_SCHEDULES = ("cosine", "none")

ArrayLike = np.ndarray | torch.Tensor


def _as_tensors(data: tuple[ArrayLike, ArrayLike], name: str) -> tuple[torch.Tensor, torch.Tensor]:
    if not isinstance(data, (tuple, list)) or len(data) != 2:
        raise ValueError(f"{name} must be a pair (x, y)")
    x = torch.as_tensor(data[0])
    if x.dtype != torch.uint8:  # uint8 images stay compact; batches are converted
        x = x.to(torch.float32)
    y = torch.as_tensor(data[1]).to(torch.int64)
    if x.dim() < 2 or y.dim() != 1 or x.shape[0] != y.shape[0]:
        raise ValueError(
            f"{name}: need x of shape (N, ...) and y of shape (N,), got "
            f"{tuple(x.shape)} and {tuple(y.shape)}"
        )
    if x.shape[0] == 0:
        raise ValueError(f"{name} is empty")
    return x, y


@torch.no_grad()
def evaluate(
    model: nn.Module,
    x: ArrayLike,
    y: ArrayLike,
    batch_size: int = 512,
    device: str | torch.device | None = None,
) -> dict[str, float]:
    """Accuracy and mean cross-entropy of ``model`` on ``(x, y)``, in eval mode.

    The model's train/eval mode is restored afterwards.

    Args:
        model: classifier returning logits (N, num_classes).
        x: inputs (N, C, H, W) in [0, 1], or uint8 images 0..255 (converted per batch).
        y: integer labels (N,).
        batch_size: samples per forward pass.
        device: where to compute; default the model's device.

    Returns:
        ``{"accuracy": float in [0, 1], "loss": float, "n": int}``.

    Raises:
        ValueError: empty or mismatched inputs, batch_size < 1.
    """
    check_batch_size(batch_size)
    xt, yt = _as_tensors((x, y), "evaluation data")
    dev = torch.device(device) if device is not None else model_device(model, torch.device("cpu"))
    total_loss, correct = 0.0, 0
    with eval_mode(model):
        for start in range(0, len(yt), batch_size):
            xb = to_float_images(xt[start : start + batch_size].to(dev))
            yb = yt[start : start + batch_size].to(dev)
            logits = model(xb)
            total_loss += float(F.cross_entropy(logits, yb, reduction="sum"))
            correct += int((logits.argmax(dim=1) == yb).sum())
    n = len(yt)
    return {"accuracy": correct / n, "loss": total_loss / n, "n": n}


def _flip_crop(xb: torch.Tensor, generator: torch.Generator, pad: int = 4) -> torch.Tensor:
    """Random crop of the original size from a zero-padded image plus horizontal flip.

    Random numbers come from ``generator`` (CPU), so results do not depend on device.
    """
    n, _, h, w = xb.shape
    offsets = torch.randint(0, 2 * pad + 1, (n, 2), generator=generator)
    flips = torch.rand(n, generator=generator) < 0.5
    padded = F.pad(xb, (pad, pad, pad, pad))
    rows = (offsets[:, 0:1] + torch.arange(h)).to(xb.device)  # (n, h)
    cols = (offsets[:, 1:2] + torch.arange(w)).to(xb.device)  # (n, w)
    idx = torch.arange(n, device=xb.device)[:, None, None]
    out = padded.permute(0, 2, 3, 1)[idx, rows[:, :, None], cols[:, None, :]]  # (n, h, w, c)
    out = out.permute(0, 3, 1, 2)
    flips = flips.to(xb.device)
    return torch.where(flips[:, None, None, None], out.flip(-1), out).contiguous()


def _make_optimizer(
    model: nn.Module, name: str, lr: float, momentum: float, weight_decay: float
) -> torch.optim.Optimizer:
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError("model has no trainable parameters")
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    return torch.optim.Adadelta(params, lr=lr, weight_decay=weight_decay)


def train_classifier(
    model: nn.Module,
    train: tuple[ArrayLike, ArrayLike],
    val: tuple[ArrayLike, ArrayLike],
    *,
    epochs: int,
    batch_size: int,
    optimizer: Literal["sgd", "adam", "adadelta"],
    lr: float,
    momentum: float = 0.9,
    weight_decay: float = 0.0,
    seed: int,
    device: str | torch.device = "cpu",
    augment: Literal["flip_crop"] | None = None,
    lr_schedule: Literal["cosine", "none"] = "cosine",
    progress: bool = True,
    criterion: Literal["ce", "focal"] = "ce",
    focal_gamma: float = 2.0,
) -> tuple[nn.Module, dict[str, Any]]:
    """Train ``model`` with cross-entropy, keeping the best-validation-accuracy weights.

    Each epoch visits the training set once in an order drawn from a generator seeded
    with ``seed`` (a final batch of a single sample is dropped, since BatchNorm cannot
    normalise one sample). After each epoch the validation accuracy is measured in eval
    mode; the weights of the first epoch reaching the best accuracy are restored at the
    end. ``lr_schedule="cosine"`` anneals the learning rate per epoch from ``lr`` to 0
    (``CosineAnnealingLR`` with ``T_max = epochs``). The loss sees
    ``model.training_logits(x, y)`` where the model has that method (an ArcFace head adds
    its margin there) and ``model(x)`` otherwise; validation always uses ``model(x)``.

    Args:
        model: the classifier (logits out); modified in place and returned.
        train: ``(x, y)`` training images (N, C, H, W) in [0, 1] and labels (N,); uint8
            images (0..255) are kept as uint8 and converted per batch, so a paper-scale
            set (CelebA: 163k x 3 x 112 x 112) costs a quarter of the float32 memory.
        val: ``(x, y)`` validation data used for model selection.
        epochs: number of passes over ``train`` (>= 1).
        batch_size: mini-batch size (>= 1).
        optimizer: ``"sgd"`` (with ``momentum``), ``"adam"`` or ``"adadelta"``.
        lr: learning rate (> 0).
        momentum: SGD momentum in [0, 1).
        weight_decay: L2 penalty (>= 0), passed to the optimizer.
        seed: seeds shuffling, augmentation and ``torch.manual_seed``.
        device: where to train (see :func:`pick_device`).
        augment: None, or ``"flip_crop"``: random crop of the image size from the
            image zero-padded by 4 pixels, plus a random horizontal flip (the standard
            CIFAR augmentation; intended for 32x32 images).
        lr_schedule: ``"cosine"`` or ``"none"``.
        progress: show a tqdm bar over epochs on stderr.
        criterion: ``"ce"`` (cross-entropy) or ``"focal"`` (focal loss,
            :func:`advtransfer.images.arcface.focal_loss`).
        focal_gamma: focusing parameter of the focal loss, >= 0 (0 is cross-entropy).

    Returns:
        ``(model, history)``: the model in eval mode with the best weights, and
        ``history`` with per-epoch lists ``train_loss``, ``val_accuracy``, ``val_loss``,
        ``lr``, plus ``best_epoch`` (1-based: the lists' index is ``best_epoch - 1``),
        ``best_val_accuracy`` and ``best_val_loss`` (see :func:`advtransfer.fitting.fit_model`).

    Raises:
        ValueError: bad hyper-parameters or data.
        FloatingPointError: the training loss became NaN or infinite.
    """
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be a positive integer, got {epochs!r}")
    check_batch_size(batch_size)
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {optimizer!r}; choose one of {', '.join(OPTIMIZERS)}")
    if not (math.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be a positive number, got {lr!r}")
    if not 0 <= momentum < 1:
        raise ValueError(f"momentum must lie in [0, 1), got {momentum!r}")
    if not (math.isfinite(weight_decay) and weight_decay >= 0):
        raise ValueError(f"weight_decay must be >= 0, got {weight_decay!r}")
    if augment is not None and augment not in AUGMENTATIONS:
        raise ValueError(
            f"unknown augmentation {augment!r}; choose None or one of {', '.join(AUGMENTATIONS)}"
        )
    if lr_schedule not in _SCHEDULES:
        raise ValueError(f"unknown lr_schedule {lr_schedule!r}; choose 'cosine' or 'none'")
    if criterion not in CRITERIA:
        raise ValueError(f"unknown criterion {criterion!r}; choose one of {', '.join(CRITERIA)}")
    if not (isinstance(focal_gamma, (int, float)) and math.isfinite(focal_gamma)
            and focal_gamma >= 0):
        raise ValueError(f"focal_gamma must be >= 0, got {focal_gamma!r}")
    x_tr, y_tr = _as_tensors(train, "train")
    x_va, y_va = _as_tensors(val, "val")
    if augment == "flip_crop" and x_tr.dim() != 4:
        raise ValueError("augment='flip_crop' needs images of shape (N, C, H, W)")

    dev = torch.device(device)
    model.to(dev)
    x_tr, y_tr = x_tr.to(dev), y_tr.to(dev)  # a no-op on CPU; one copy instead of per batch
    opt = _make_optimizer(model, optimizer, lr, momentum, weight_decay)
    scheduler = (
        torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)
        if lr_schedule == "cosine"
        else None
    )
    margin_logits = callable(getattr(model, "training_logits", None))

    def batch_loss(idx: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        idx = idx.to(dev)
        xb, yb = to_float_images(x_tr[idx]), y_tr[idx]
        if augment == "flip_crop":
            xb = _flip_crop(xb, generator)
        logits = model.training_logits(xb, yb) if margin_logits else model(xb)
        if criterion == "focal":
            return focal_loss(logits, yb, gamma=focal_gamma)
        return F.cross_entropy(logits, yb)

    def validate() -> dict[str, float]:
        scores = evaluate(model, x_va, y_va, batch_size=max(batch_size, 256), device=dev)
        return {"accuracy": scores["accuracy"], "loss": scores["loss"]}

    history = fit_model(
        model, n_train=len(y_tr), batch_loss=batch_loss, validate=validate,
        select=lambda scores: scores["accuracy"], optimizer=opt, epochs=epochs,
        batch_size=batch_size, seed=seed, scheduler=scheduler, progress=progress,
        name="train",
    )  # fmt: skip
    return model, history
