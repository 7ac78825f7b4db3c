"""Rank candidate source models for an image-folder target in one Python call.

:func:`rank_candidates` runs the stages of the byo workflow (rules/byo.smk) in-process,
through the same functions its scripts call (:mod:`advtransfer.byo.stages`,
:mod:`advtransfer.byo.candidates`, :mod:`advtransfer.core.scoring`). It keeps
everything in memory and writes nothing: use it for small targets and a few candidates,
and the workflow (configs/byo_example.yaml) for anything that takes long, since the
workflow resumes, runs candidates in parallel and adds the estimator leaderboard with
bootstrap intervals.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from advtransfer.byo import candidates as candidate_checks
from advtransfer.byo import stages
from advtransfer.core import scoring
from advtransfer.core.modelutils import pick_device
from advtransfer.images import sources

__all__ = ["DEFAULTS", "rank_candidates", "resolve_settings"]

_LOG = logging.getLogger(__name__)

#: Settings of :func:`rank_candidates`: the defaults of the config section ``byo``
#: (schemas/scenarios/byo.schema.yaml; a test keeps the two equal), less the file lists.
DEFAULTS: dict[str, Any] = {
    "target": {"image_size": 32, "channels": 3, "max_per_class": None,
               "split": [0.6, 0.2, 0.2], "split_seed": 0},
    "reference_seed": 0,
    "train": {"arch": "resnet18_cifar", "epochs": 30, "batch_size": 64, "optimizer": "adam",
              "lr": 0.001, "momentum": 0.9, "weight_decay": 0.0001, "augment": None,
              "lr_schedule": "cosine"},
    "attack": {"eps": 0.03, "steps": 10, "step_size": None, "loss": "ce_clean",
               "n_images": 500, "seed": 0, "batch_size": 64},
    "jacobian_points": 50,
    "jacobian_output": "centered_logits",
    "probe": {"C": 1.0, "C_grid": [0.01, 0.1, 1.0, 10.0],
              "kshot": {"k": 5, "draws": 10, "seed": 0}},
}


def _merge(base: dict[str, Any], over: Mapping[str, Any], path: str = "") -> dict[str, Any]:
    for key, value in over.items():
        if key not in base:
            raise ValueError(f"unknown setting {path}{key}; known: {', '.join(base)}")
        if isinstance(base[key], dict) and isinstance(value, Mapping):
            _merge(base[key], value, f"{path}{key}.")
        else:
            base[key] = copy.deepcopy(value)
    return base


def resolve_settings(settings: Mapping[str, Any] | None, target_folder: str) -> dict[str, Any]:
    """:data:`DEFAULTS` updated with ``settings`` (nested, like the config section ``byo``)
    and the target folder."""
    cfg = _merge(copy.deepcopy(DEFAULTS), settings or {})
    cfg["target"]["image_folder"] = str(target_folder)
    return cfg


def _specs(models: Sequence[Mapping[str, Any]] | Mapping[str, Mapping[str, Any]]) -> dict:
    entries = list(models.values()) if isinstance(models, Mapping) else list(models)
    specs = {}
    for entry in entries:
        spec = {k: (str(v) if k == "file" else v) for k, v in entry.items()}
        if spec.get("name") in specs or "name" not in spec:
            raise ValueError(f"every candidate needs its own name, got {spec.get('name')!r}")
        specs[spec["name"]] = spec
    if len(specs) < 2:
        raise ValueError(f"ranking needs at least two candidates, got {len(specs)}")
    return specs


def _estimator_scores(specs, train, names, settings, device, batch_size) -> pd.DataFrame:
    """Every estimator's score of every candidate on the target training split."""
    x, y = train
    rows = []
    for name, spec in specs.items():
        model = sources.load_source(spec).to(device)
        feats, logits = sources.features_and_logits(model, x.to(device), batch_size=batch_size)
        probs = None if logits is None else scoring.softmax(logits.numpy())
        scores, _ = scoring.run_estimators(
            feats.numpy(), probs, y.numpy(), names, settings=settings,
            logits=None if logits is None else logits.numpy(),
        )
        rows.append({"model": name, **scores})
    return scoring.combine_pool_estimators(pd.DataFrame(rows), settings)


def _measure_all(specs, cfg, data, num_classes, device, log) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """Reference training and attack, then every candidate's adversarial and probe row."""
    train, val, test = data
    reference, ref_info = stages.train_reference(
        train, val, num_classes, cfg["train"],
        seed=cfg["reference_seed"], device=device, log=log,
    )
    _, x, y = stages.attack_images(val, cfg["attack"])
    x_adv_reference = stages.attack_reference(reference, x, y, cfg["attack"], device)
    adversarial, probes = [], []
    for name, spec in specs.items():
        source = sources.load_source(spec)
        adversarial.append({"model": name, **stages.measure_candidate(
            source, reference, x, y, x_adv_reference, cfg["attack"],
            jacobian_points=cfg["jacobian_points"], jacobian_output=cfg["jacobian_output"],
            device=device)})
        probes.append({"model": name, **stages.probe_candidate(
            source, train, test, val, cfg["probe"], device=device)})
        log.info("%s: %s", name, {**adversarial[-1], **probes[-1]})
    return pd.DataFrame(adversarial), pd.DataFrame(probes), ref_info


def rank_candidates(
    candidates: Sequence[Mapping[str, Any]] | Mapping[str, Mapping[str, Any]],
    target_folder: str,
    *,
    settings: Mapping[str, Any] | None = None,
    estimators: Sequence[str] = scoring.ESTIMATORS,
    estimator_settings: Mapping[str, Any] | None = None,
    device: str = "auto",
    log: logging.Logger | None = None,
) -> pd.DataFrame:
    """Rank candidate source models by how well they transfer to an image-folder target.

    The same steps as the byo workflow, in-process: check and run every candidate once
    (with the cost estimate of its Jacobians, and a WARNING for large ones), read and
    split the folder, train a reference model on it, attack the reference and every
    candidate on validation images, measure adversarial transferability, score every
    transferability estimator on the training split, and fit linear probes on each
    candidate's frozen features (the verified transfer accuracy, on the test split).

    Args:
        candidates: model specs as in ``byo.models`` (``name``, ``format``, ``file``, ...;
            see :mod:`advtransfer.images.sources`), a list or ``{name: spec}``.
        target_folder: one sub-folder of images per class.
        settings: overrides of :data:`DEFAULTS`, nested like the config section ``byo``,
            e.g. ``{"target": {"image_size": 8, "channels": 1}, "train": {"epochs": 5}}``.
        estimators: names of :data:`advtransfer.core.scoring.ESTIMATORS` to score.
        estimator_settings: per-estimator options (the ``leaderboard`` section's
            ``knn``, ``transrate``, ``gbc``, ...); ``None``: their defaults.
        device: ``auto`` (a GPU when there is one), ``cpu`` or ``cuda``.

    Returns:
        one row per candidate, best first (by ``probe_accuracy``, the verified transfer
        accuracy): ``rank``, ``model``, ``label``, ``format``, ``arch``, the adversarial
        measures (``cross_adv_loss``, ``tau1``, ...), the probe accuracies, every
        estimator's score, and the cost estimate (``jacobian_mb``, ``jacobian_s_est``).
        ``attrs`` holds the reference's validation accuracy and the target's classes.

    Raises:
        sources.ModelFileError: bad candidates (all listed at once), before any training.
        ValueError: a malformed image folder or unknown setting.

    Example:
        >>> from advtransfer.byo import rank_candidates
        After ``make run`` and the example (configs/byo_example.yaml), rank three of the
        default run's digits models for the exported digits folder:

        >>> models = "results/default/distributions/models"
        >>> ranking = rank_candidates(
        ...     [{"name": "a", "format": "advtransfer", "file": f"{models}/p000_s0.safetensors"},
        ...      {"name": "b", "format": "safetensors", "arch": "digits_cnn",
        ...       "file": f"{models}/p050_s0.safetensors"},
        ...      {"name": "c", "format": "export",
        ...       "file": "results/byo_example/byo/example/digits_p100_export.pt2"}],
        ...     "results/byo_example/byo/example/target",
        ...     settings={"target": {"image_size": 8, "channels": 1},
        ...               "train": {"arch": "digits_cnn", "epochs": 10}})  # doctest: +SKIP
        >>> ranking[["rank", "model", "probe_accuracy", "cross_adv_loss", "leep"]]  # doctest: +SKIP
    """
    log = log or _LOG
    cfg = resolve_settings(settings, target_folder)
    specs = _specs(candidates)
    target = cfg["target"]
    shape = [target["channels"], target["image_size"], target["image_size"]]
    info = candidate_checks.check_candidates(
        specs, shape, jacobian_points=cfg["jacobian_points"], attack=cfg["attack"], log=log)
    arrays, meta = stages.build_target(target, log)
    data = tuple(stages.target_split(arrays, split) for split in stages.SPLITS)
    dev = pick_device(device)
    adversarial, probes, ref_info = _measure_all(specs, cfg, data, len(meta["classes"]),
                                                 dev, log)
    scores = _estimator_scores(specs, data[0], list(estimators), estimator_settings, dev,
                               cfg["attack"]["batch_size"])
    cost = ["model", "feature_dim", "num_source_classes", "parameters", "outputs",
            "input_size", "jacobian_mb", "forward_backward_s", "jacobian_s_est", "attack_s_est"]
    table = stages.merge_transfer(info, adversarial, probes)
    table = table.merge(scores[[c for c in scores if c == "model" or c not in table]],
                        on="model", validate="one_to_one")
    table = table.merge(info[[c for c in cost if c == "model" or c not in table]],
                        on="model", validate="one_to_one")
    table = table.sort_values("probe_accuracy", ascending=False, kind="stable")
    table = table.reset_index(drop=True)
    table.insert(0, "rank", range(1, len(table) + 1))
    table.attrs.update({"classes": meta["classes"],
                        "reference_val_accuracy": ref_info["val_accuracy"]})
    return table
