"""The one training loop: seeded mini-batch epochs with model selection on validation data.

Every model the workflow trains goes through :func:`fit_model`: the image classifiers
(:func:`advtransfer.images.training.train_classifier`), the task models
(:func:`advtransfer.tasks.models.train_task_model`) and the text classifiers
(:func:`advtransfer.nlp.models.finetune_classifier`). What differs between them is an
argument: the loss of one batch, the validation metrics, which validation result is best,
and when the learning-rate schedule steps.

Randomness: ``torch.manual_seed(seed)`` seeds everything global (dropout, new heads), and a
CPU ``torch.Generator`` seeded with ``seed`` draws the batch order and is passed to the batch
loss for its own draws (augmentation, input noise), so results do not depend on device.

``best_epoch`` in the returned history counts from 1 (the epoch number the log prints), and
the per-epoch lists are indexed by ``best_epoch - 1``.
"""

from __future__ import annotations

import logging
import math
import sys
from collections.abc import Callable, Mapping
from typing import Any, Literal

import torch
from torch import Tensor, nn
from tqdm import tqdm

from advtransfer.core.checks import check_batch_size, check_positive_int

__all__ = ["fit_model"]

logger = logging.getLogger(__name__)


def _batch_stops(n: int, batch_size: int, drop_lone_batch: bool) -> list[int]:
    """Start offsets of the batches of one epoch; a lone last sample is dropped on request."""
    stops = list(range(0, n, batch_size))
    if drop_lone_batch and len(stops) > 1 and n - stops[-1] == 1:
        stops.pop()  # a lone sample breaks BatchNorm in train mode
    return stops


def _run_epoch(
    model: nn.Module,
    perm: Tensor,
    stops: list[int],
    batch_size: int,
    batch_loss: Callable[[Tensor, torch.Generator], Tensor],
    generator: torch.Generator,
    optimizer: torch.optim.Optimizer,
    batch_scheduler: Any,
    epoch: int,
) -> float:
    """One pass over the training set; returns the sample-weighted mean training loss."""
    model.train()
    loss_sum, seen = 0.0, 0
    for start in stops:
        idx = perm[start : start + batch_size]
        loss = batch_loss(idx, generator)
        if not torch.isfinite(loss):
            raise FloatingPointError(
                f"training loss became {float(loss.detach())} in epoch {epoch}; "
                "lower the learning rate"
            )
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if batch_scheduler is not None:
            batch_scheduler.step()
        loss_sum += float(loss.detach()) * len(idx)
        seen += len(idx)
    return loss_sum / max(seen, 1)


def fit_model(
    model: nn.Module,
    *,
    n_train: int,
    batch_loss: Callable[[Tensor, torch.Generator], Tensor],
    validate: Callable[[], Mapping[str, float]],
    select: Callable[[Mapping[str, float]], Any],
    optimizer: torch.optim.Optimizer,
    epochs: int,
    batch_size: int,
    seed: int,
    scheduler: Any = None,
    scheduler_step: Literal["epoch", "batch"] = "epoch",
    drop_lone_batch: bool = True,
    progress: bool = True,
    name: str = "train",
) -> dict[str, Any]:
    """Train ``model`` for ``epochs`` epochs and restore the weights of its best epoch.

    ``torch.manual_seed(seed)`` is called here, after ``model`` and ``optimizer`` exist;
    a caller that draws random numbers while building them seeds that step itself.

    Args:
        model: the model (modified in place; left in eval mode with the best weights).
        n_train: number of training samples; batches are index tensors into ``0..n_train-1``.
        batch_loss: ``batch_loss(idx, generator)`` -> scalar mean loss of the samples
            ``idx`` (an int64 CPU tensor), the model in train mode; may draw from
            ``generator`` (augmentation, noise).
        validate: called after every epoch; returns validation metrics such as
            ``{"accuracy": ..., "loss": ...}`` (recorded as ``val_<name>``). It must leave
            the model's modes as it found them.
        select: maps the metrics to a comparable key; the first epoch with the greatest
            key is kept (e.g. ``lambda m: m["accuracy"]``, ``lambda m: -m["loss"]``).
        optimizer: the optimizer over the trainable parameters.
        epochs: passes over the training set (>= 1).
        batch_size: samples per step (>= 1).
        seed: seeds the batch order, ``generator`` and ``torch.manual_seed``.
        scheduler: optional learning-rate scheduler, stepped per ``scheduler_step``.
        scheduler_step: ``"epoch"`` or ``"batch"``.
        drop_lone_batch: drop a final batch of one sample (BatchNorm cannot normalise it).
        progress: tqdm bar over epochs, on stderr, only when stderr is a terminal.
        name: label of the progress bar and the log lines.

    Returns:
        history: per-epoch lists ``train_loss``, ``lr`` (at the epoch's start) and
        ``val_<metric>`` for every metric of ``validate``; ``best_epoch`` (1-based) and
        ``best_val_<metric>`` of the kept epoch.

    Raises:
        ValueError: bad epochs, batch size, n_train or scheduler_step.
        FloatingPointError: the training loss became NaN or infinite.
    """
    epochs = check_positive_int(epochs, "epochs")
    batch_size = check_batch_size(batch_size)
    n_train = check_positive_int(n_train, "n_train")
    if scheduler_step not in ("epoch", "batch"):
        raise ValueError(f"scheduler_step must be 'epoch' or 'batch', got {scheduler_step!r}")
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    history: dict[str, Any] = {"train_loss": [], "lr": []}
    best_key, best_epoch, best_metrics, best_state = None, 0, {}, None
    stops = _batch_stops(n_train, batch_size, drop_lone_batch)
    show = progress and sys.stderr.isatty()
    bar = tqdm(range(1, epochs + 1), desc=name, unit="epoch", file=sys.stderr, disable=not show)
    for epoch in bar:
        current_lr = optimizer.param_groups[0]["lr"]
        perm = torch.randperm(n_train, generator=generator)
        train_loss = _run_epoch(
            model, perm, stops, batch_size, batch_loss, generator, optimizer,
            scheduler if scheduler_step == "batch" else None, epoch,
        )  # fmt: skip
        if scheduler is not None and scheduler_step == "epoch":
            scheduler.step()
        metrics = dict(validate())
        history["train_loss"].append(train_loss)
        history["lr"].append(current_lr)
        for key, value in metrics.items():
            history.setdefault(f"val_{key}", []).append(value)
        key = select(metrics)
        if best_key is None or key > best_key:
            best_key, best_epoch, best_metrics = key, epoch, metrics
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        shown = ", ".join(f"val {k} {v:.4f}" for k, v in metrics.items())
        bar.set_postfix_str(f"loss {train_loss:.4f}, {shown}")
        logger.info(
            "%s epoch %d/%d: train loss %.5f, %s, lr %.3g",
            name, epoch, epochs, train_loss, shown, current_lr,
        )  # fmt: skip
    bar.close()
    assert best_state is not None
    model.load_state_dict(best_state)
    model.eval()
    history["best_epoch"] = best_epoch
    for key, value in best_metrics.items():
        history[f"best_val_{key}"] = value
    logger.info("%s: restored the weights of epoch %d (%s)", name, best_epoch,
                ", ".join(f"val {k} {v:.4f}" for k, v in best_metrics.items()))
    if not all(math.isfinite(float(v)) for v in best_metrics.values()):
        logger.warning("%s: the kept epoch has non-finite validation metrics", name)
    return history
