"""Measures of the model zoo: one source against every target task (rules/zoo.smk).

Every target task has its own reference model (trained on the task) and its own PGD images
of that reference. A source's adversarial measures on a task compare its PGD images on the
task's attack images with the reference's (:func:`advtransfer.images.measures.
adversarial_measures`); its knowledge transferability is a new linear head on its frozen
features (:func:`advtransfer.images.measures.knowledge_measures`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
import torch
from torch import Tensor, nn

from advtransfer import io
from advtransfer.core import attacks
from advtransfer.images import architectures, imagesets, measures

__all__ = ["adversarial_rows", "attack_set", "pgd_images", "probe_rows"]


def attack_set(data: str, attack: Mapping[str, Any]) -> tuple[Tensor, Tensor, Tensor]:
    """A target task's attack images: ``attack["n_images"]`` test images drawn with
    ``attack["seed"]`` (the same for the reference and every source)."""
    x, y = imagesets.load_split(data, "test")
    idx = imagesets.attack_subset(len(y), attack["n_images"], attack["seed"])
    return x[idx], y[idx], idx


def pgd_images(model: nn.Module, x: Tensor, attack: Mapping[str, Any],
               device: str | torch.device) -> Tensor:
    """L-inf PGD images of ``model`` on ``x`` (label-free losses: no labels are needed
    because a source's classes differ from the task's), on the CPU."""
    return attacks.pgd_attack(
        model, x.to(device), eps=attack["eps"], steps=attack["steps"],
        step_size=attack["step_size"], loss=attack["loss"], y=None, seed=attack["seed"],
        batch_size=attack["batch_size"],
    ).cpu()


def adversarial_rows(
    source: nn.Module,
    targets: Sequence[tuple[str, str, str, str]],
    attack: Mapping[str, Any],
    jacobian: Mapping[str, Any],
    device: str | torch.device,
) -> pd.DataFrame:
    """Adversarial measures of ``source`` on every target task, one row per task.

    Args:
        source: the source model (on ``device``).
        targets: ``(name, data, reference, reference_attack)`` per task: the task's
            imageset, its reference model file and the reference's PGD images.
        attack: the zoo's attack settings (also the source's PGD).
        jacobian: ``jacobian_points``, ``jacobian_output``, ``jacobian_method``,
            ``jacobian_memory_mb``.
        device: where the models run.

    Returns:
        columns ``target`` and those of :func:`advtransfer.images.measures.adversarial_measures`.
    """
    if attack["loss"] == "ce_label":
        raise ValueError("zoo.attack.loss ce_label needs the source's labels on the target "
                         "images, which a source of other classes has not; use ce_clean")
    rows = []
    for name, data, reference_file, reference_attack in targets:
        reference, _ = architectures.load_model(reference_file)
        x, y, idx = attack_set(data, attack)
        adv_reference = io.load_tensors(reference_attack)
        if not torch.equal(adv_reference["index"], idx):
            raise ValueError(f"{reference_attack} attacks other images than zoo.attack selects "
                             "now; delete it and re-run so that both share the attack settings")
        x_adv = pgd_images(source, x, attack, device)
        row = measures.adversarial_measures(
            source, reference.to(device), x.to(device), y.to(device), x_adv.to(device),
            adv_reference["x_adv"].to(device), batch_size=attack["batch_size"],
            jacobian_points=jacobian["jacobian_points"],
            jacobian_output=jacobian["jacobian_output"],
            jacobian_method=jacobian["jacobian_method"],
            jacobian_memory_mb=jacobian["jacobian_memory_mb"],
        )
        rows.append({"target": name, **row})
    return pd.DataFrame(rows)


def probe_rows(models: Mapping[str, str], data: str, probe: Mapping[str, Any],
               device: str | torch.device) -> pd.DataFrame:
    """Full and k-shot linear probes of every source on one target task, one row each.

    The probe's C is chosen on the task's validation split (``probe["C_grid"]``); the
    task's test split scores it. ``source_val_accuracy`` is the source's accuracy on its own
    validation split (a baseline of the leaderboard).
    """
    train, test = imagesets.load_split(data, "train"), imagesets.load_split(data, "test")
    val = imagesets.load_split(data, "val") if probe.get("C_grid") else None
    rows = []
    for name, path in models.items():
        model, meta = architectures.load_model(path)
        row = measures.knowledge_measures(
            model.to(device), train, test, C=probe["C"], C_grid=probe.get("C_grid"), val=val,
            kshot=probe["kshot"], device=device,
        )
        rows.append({"model": name, **row})
    return pd.DataFrame(rows)
