"""The stages of the byo scenario on in-memory data, shared by the workflow's scripts
(scripts/byo/*.py, which read and write the files between them) and by
:func:`advtransfer.byo.rank_candidates` (which keeps everything in memory).

Target data are the arrays of :func:`advtransfer.images.imagesets.save_imageset`:
``{"x_train", "y_train", "x_val", "y_val", "x_test", "y_test"}`` (uint8 images).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn

from advtransfer.core import attacks
from advtransfer.images import (
    architectures,
    datasets,
    imagefolder,
    imagesets,
    measures,
    sources,
    training,
)

__all__ = [
    "SPLITS",
    "attack_images",
    "attack_reference",
    "build_target",
    "measure_candidate",
    "merge_transfer",
    "probe_candidate",
    "target_split",
    "train_reference",
]

SPLITS = ("train", "val", "test")
_LOG = logging.getLogger(__name__)


def build_target(
    target: Mapping[str, Any], log: logging.Logger | None = None
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Read the target image folder, resize it and split it (stratified by class).

    Args:
        target: ``byo.target`` settings (``image_folder``, ``image_size``, ``channels``,
            ``max_per_class``, ``split``, ``split_seed``).

    Returns:
        the split arrays and ``{"classes", "domain"}``.

    Raises:
        ValueError: a malformed folder, or a split without an image of some class.
    """
    log = log or _LOG
    index = imagefolder.scan_image_folder(target["image_folder"],
                                          max_per_class=target.get("max_per_class"))
    log.info("%s: %d images in classes %s", index.root, len(index.files), index.counts())
    x, y = imagefolder.read_image_folder(index, image_size=target["image_size"],
                                         channels=target["channels"])
    parts = datasets.split_indices(y, target["split"], seed=target.get("split_seed", 0))
    for split in SPLITS:
        counts = np.bincount(y[parts[split]], minlength=len(index.classes))
        if counts.min() == 0:
            raise ValueError(
                f"the {split} split of {index.root} has no image of class "
                f"{index.classes[int(counts.argmin())]} (split {target['split']}, "
                f"{len(y)} images). Fix: add images to that class or change byo.target.split."
            )
        log.info("%s: %d images per class %s", split, len(parts[split]), counts.tolist())
    arrays = {f"{k}_{split}": v[parts[split]] for split in SPLITS
              for k, v in (("x", x), ("y", y))}
    return arrays, {"classes": list(index.classes), "domain": f"image folder {index.root}"}


def target_split(arrays: Mapping[str, Any], split: str) -> tuple[Tensor, Tensor]:
    """Images (float32 in [0, 1]) and labels of one split of in-memory target arrays."""
    x = torch.as_tensor(np.ascontiguousarray(arrays[f"x_{split}"]))
    y = torch.as_tensor(np.ascontiguousarray(arrays[f"y_{split}"])).long()
    return imagesets.to_float_images(x), y


def train_reference(
    train_data: tuple[Tensor, Tensor],
    val_data: tuple[Tensor, Tensor],
    num_classes: int,
    train: Mapping[str, Any],
    *,
    seed: int,
    device: str | torch.device,
    log: logging.Logger | None = None,
) -> tuple[nn.Module, dict[str, Any]]:
    """Train the reference model on the target; model selection on the validation split.

    Returns:
        the model (on ``device``) and ``{"val_accuracy", "val_loss", "history"}``.
    """
    log = log or _LOG
    (x_train, y_train), (x_val, y_val) = train_data, val_data
    mean, std = datasets.channel_stats(x_train)
    torch.manual_seed(seed)
    model = architectures.build_model(
        train["arch"], num_classes=num_classes, in_channels=x_train.shape[1], mean=mean, std=std
    ).to(device)
    log.info("training the reference (%s) on %d classes: %d train / %d val images, device %s",
             train["arch"], num_classes, len(y_train), len(y_val), device)
    model, history = training.train_classifier(
        model, (x_train, y_train), (x_val, y_val), epochs=train["epochs"],
        batch_size=train["batch_size"], optimizer=train["optimizer"], lr=train["lr"],
        momentum=train["momentum"], weight_decay=train["weight_decay"], seed=seed,
        device=device, augment=train["augment"], lr_schedule=train["lr_schedule"],
    )
    val = training.evaluate(model, x_val, y_val, batch_size=512, device=device)
    log.info("best epoch %s, validation accuracy %.4f", history.get("best_epoch"),
             val["accuracy"])
    return model, {"val_accuracy": val["accuracy"], "val_loss": val["loss"],
                   "history": history}


def attack_images(
    val_data: tuple[Tensor, Tensor], attack: Mapping[str, Any]
) -> tuple[Tensor, Tensor, Tensor]:
    """The attack images: a seeded sample of the validation split (never test).

    Returns:
        ``(index, x, y)``.
    """
    x, y = val_data
    idx = imagesets.attack_subset(len(y), attack["n_images"], attack["seed"])
    return idx, x[idx], y[idx]


def attack_reference(model: nn.Module, x: Tensor, y: Tensor, attack: Mapping[str, Any],
                     device: str | torch.device) -> Tensor:
    """PGD (L-inf) images of the reference (on the CPU)."""
    return attacks.pgd_attack(
        model, x.to(device), eps=attack["eps"], steps=attack["steps"],
        step_size=attack["step_size"], loss=attack["loss"], y=y.to(device),
        seed=attack["seed"], batch_size=attack["batch_size"],
    ).cpu()


def measure_candidate(
    source: nn.Module,
    reference: nn.Module,
    x: Tensor,
    y: Tensor,
    x_adv_reference: Tensor,
    attack: Mapping[str, Any],
    *,
    jacobian_points: int,
    jacobian_output: str,
    device: str | torch.device,
) -> dict[str, Any]:
    """Attack one candidate on the attack images and measure its adversarial
    transferability to the reference: ``{"attack_loss", <measures>}``.

    A candidate without source head is attacked with the squared output deviation.
    """
    x, y = x.to(device), y.to(device)
    source, reference = source.to(device), reference.to(device)
    loss = sources.attack_loss(source, attack["loss"])
    x_adv = attacks.pgd_attack(
        source, x, eps=attack["eps"], steps=attack["steps"], step_size=attack["step_size"],
        loss=loss, y=y, seed=attack["seed"], batch_size=attack["batch_size"],
    )
    row = measures.adversarial_measures(
        source, reference, x, y, x_adv, x_adv_reference.to(device),
        jacobian_points=jacobian_points, batch_size=attack["batch_size"],
        jacobian_output=jacobian_output,
    )
    return {"attack_loss": loss, **row}


def probe_candidate(
    source: nn.Module,
    train: tuple[Tensor, Tensor],
    test: tuple[Tensor, Tensor],
    val: tuple[Tensor, Tensor] | None,
    probe: Mapping[str, Any],
    *,
    device: str | torch.device,
) -> dict[str, float]:
    """Verified transfer accuracy: linear probes on the candidate's frozen features
    (``val`` is used only to choose C from ``probe["C_grid"]``)."""
    return measures.knowledge_measures(
        source.to(device), train, test, C=probe["C"], C_grid=probe.get("C_grid"),
        val=val if probe.get("C_grid") else None, kshot=probe["kshot"], device=device,
    )


def merge_transfer(
    info: pd.DataFrame, adversarial: pd.DataFrame, probes: pd.DataFrame
) -> pd.DataFrame:
    """One row per candidate: its description, adversarial measures and probe accuracies."""
    keep = [c for c in ("model", "label", "format", "arch") if c in info.columns]
    return info[keep].merge(adversarial, on="model", validate="one_to_one").merge(
        probes, on="model", validate="one_to_one")
