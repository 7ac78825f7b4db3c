"""Check candidate source models and estimate what measuring them costs.

:func:`check_candidates` loads and runs every candidate once (the ``check_byo_models``
job and :func:`advtransfer.byo.rank_candidates` both call it) and lists them with their
feature width, source classes and the estimated cost of their input Jacobians
(:func:`jacobian_cost`); :func:`cost_warning` says when that cost is large.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
import torch
from torch import nn

from advtransfer.images import sources

__all__ = ["LARGE_INPUT", "LARGE_OUTPUTS", "check_candidates", "cost_warning", "jacobian_cost"]

#: A candidate with more outputs than this gets a cost warning (d backward passes per batch).
LARGE_OUTPUTS = 100
#: ... and so does an input with more values than this (3 x 128 x 128 pixels).
LARGE_INPUT = 3 * 128 * 128
#: ... or Jacobians (one model's, float32) larger than this many MiB.
LARGE_JACOBIAN_MB = 1024.0


def _forward_backward_s(model: nn.Module, x: torch.Tensor) -> float:
    """Seconds of one forward and backward pass of ``model`` on the batch ``x`` (best of 2,
    after a warm-up pass)."""
    times = []
    for _ in range(3):
        xb = x.clone().requires_grad_(True)
        start = time.perf_counter()
        model(xb).sum().backward()
        times.append(time.perf_counter() - start)
    model.zero_grad(set_to_none=True)
    return min(times[1:])


def jacobian_cost(
    model: nn.Module,
    shape: Sequence[int],
    *,
    jacobian_points: int,
    batch_size: int,
    attack_steps: int = 0,
    n_images: int = 0,
) -> dict[str, Any]:
    """Estimated memory and time of measuring ``model`` (PGD and input Jacobians).

    With ``d`` outputs, ``n`` input values per image and ``N`` Jacobian points, the
    Jacobians take ``N d n`` float32 values (``N * d * n * 4`` bytes; the measures hold
    float64 copies beside them, about three times that at the peak) and cost ``d``
    backward passes per batch. One forward + backward pass on one batch of
    ``min(batch_size, N)`` images is timed on the model's device.

    Returns:
        ``{"outputs": d, "input_size": n, "jacobian_mb", "forward_backward_s",
        "jacobian_s_est", "attack_s_est"}`` (seconds, MiB).
    """
    n = int(math.prod(int(v) for v in shape))
    batch = max(1, min(int(batch_size), int(jacobian_points)))
    device = next((p.device for p in model.parameters()), torch.device("cpu"))
    x = torch.rand((batch, *[int(v) for v in shape]), generator=torch.Generator().manual_seed(0))
    x = x.to(device)
    with torch.no_grad():
        d = int(model(x[:1]).reshape(1, -1).shape[1])
    step = _forward_backward_s(model, x)
    jac_batches = math.ceil(jacobian_points / batch)
    pgd_batches = math.ceil(n_images / max(1, int(batch_size))) if n_images else 0
    return {
        "outputs": d,
        "input_size": n,
        "jacobian_mb": jacobian_points * d * n * 4 / 2**20,
        "forward_backward_s": step,
        "jacobian_s_est": jac_batches * d * step,
        "attack_s_est": pgd_batches * attack_steps * step * max(1, batch_size) / batch,
    }


def cost_warning(name: str, cost: Mapping[str, Any]) -> str | None:
    """A warning line when a candidate's Jacobians are large (else ``None``)."""
    reasons = []
    if cost["outputs"] > LARGE_OUTPUTS:
        reasons.append(f"{cost['outputs']} outputs (> {LARGE_OUTPUTS})")
    if cost["input_size"] > LARGE_INPUT:
        reasons.append(f"inputs of {cost['input_size']} values (> {LARGE_INPUT})")
    if cost["jacobian_mb"] > LARGE_JACOBIAN_MB:
        reasons.append(f"Jacobians of {cost['jacobian_mb']:.0f} MiB")
    if not reasons:
        return None
    return (
        f"{name}: {', '.join(reasons)}: its input Jacobians take about "
        f"{cost['jacobian_mb']:.1f} MiB (float32; about 3x at the peak) and "
        f"{cost['jacobian_s_est']:.1f} s ({cost['outputs']} backward passes per batch at "
        f"{cost['forward_backward_s']:.3g} s each), the attack about "
        f"{cost['attack_s_est']:.1f} s. Fix if too much: lower byo.jacobian_points or "
        "byo.target.image_size."
    )


def check_candidates(
    specs: Mapping[str, Mapping[str, Any]],
    shape: Sequence[int],
    *,
    jacobian_points: int,
    attack: Mapping[str, Any],
    log: logging.Logger | None = None,
) -> pd.DataFrame:
    """Load and run every candidate once; one row per candidate with its cost estimate.

    Args:
        specs: ``{name: spec}`` (see :mod:`advtransfer.images.sources`).
        shape: target image shape ``(C, H, W)``.
        jacobian_points, attack: the byo settings (``attack``: ``steps``, ``n_images``,
            ``batch_size``), for the cost estimate.

    Raises:
        sources.ModelFileError: listing every bad candidate at once.
    """
    log = log or logging.getLogger(__name__)
    rows, problems = [], []
    for spec in specs.values():
        try:
            model = sources.load_source(spec, verify_shape=shape)
        except sources.ModelFileError as err:
            problems.append(str(err))
            continue
        info = sources.describe_source(model, shape)
        cost = jacobian_cost(model, shape, jacobian_points=jacobian_points,
                             batch_size=attack["batch_size"], attack_steps=attack["steps"],
                             n_images=attack["n_images"])
        rows.append({"model": spec["name"], "label": spec.get("label") or spec["name"],
                     "format": spec["format"], "arch": spec.get("arch") or "",
                     "file": spec["file"], **info, **cost})
        log.info("%s: %s", spec["name"], rows[-1])
        if info["num_source_classes"] == 0:
            log.info("%s has no source head: LEEP and NCE are undefined for it", spec["name"])
        warning = cost_warning(spec["name"], cost)
        if warning:
            log.warning(warning)
    if problems:
        raise sources.ModelFileError("bad candidate model(s):\n  - " + "\n  - ".join(problems))
    return pd.DataFrame(rows)
