"""Multi-task models: task losses, label-free PGD on any task output, training, encoder transfer.

Reference: Liang et al., §4.4 and App. G.4 (docs/method.md §9.4). A *task model* maps images in
``[0, 1]`` pixel units to a task output: logits ``(N, K)`` or dense logits ``(N, K, H, W)``
for classification tasks, values ``(N, d)`` or ``(N, C, H, W)`` for regression tasks.
It exposes ``features(x)``: the shared-architecture encoder's representation that
knowledge transfer keeps frozen.

Losses. Every task has one loss *kind*; :func:`per_sample_loss` gives one value per image
(the mean over output elements / pixels):

* ``"mse"``: ``mean (f(x) - t)^2``;  ``"l1"``: ``mean |f(x) - t|``;
* ``"ce"``:  cross-entropy of the logits (class axis 1) to integer classes ``t``;
* ``"kl"``:  ``KL(t || softmax f(x))`` along axis 1 for target probabilities ``t``.

Label-free use (attacks, adversarial scoring): the target is the model's own clean output
turned into a target by :func:`clean_target` (itself for ``mse`` / ``l1``, its argmax for
``ce``, its softmax for ``kl``), so ``l_T(f_T(x'), f_T(x))`` measures how far an input
``x'`` moves task ``T``'s prediction away from its prediction on the clean ``x``.

Attack (:func:`task_pgd`): the L-inf PGD of :func:`advtransfer.core.attacks.pgd_attack`
(same random start, step, projection and clipping, hence identical results for ``ce`` and
``mse``), with the source loss any kind above::

    x_0     = clip(x + u),  u ~ U[-eps, eps]^n
    x_{t+1} = clip(min(max(x_t + xi sign(∇ sum_i l_S(f_S(x_t))_i), x - eps), x + eps))

Knowledge transfer (:func:`fit_transfer_head`): a new head on frozen features, fitted on
the target's training data: closed-form ridge regression for ``mse`` / ``l1`` tasks,
multinomial logistic regression (L-BFGS) for ``ce`` tasks (docs/method.md §6).

Models are stored as safetensors plus a JSON sidecar (:func:`save_task_model`,
:func:`load_task_model`); no pickle is read.
"""

from __future__ import annotations

import importlib
import json
import logging
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from numbers import Integral, Real
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from advtransfer.core.attacks import projected_gradient_ascent
from advtransfer.core.checks import check_batch_size, check_positive_int
from advtransfer.core.modelutils import eval_mode, model_device
from advtransfer.fitting import fit_model

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "LOSS_KINDS",
    "TaskSpec",
    "per_sample_loss",
    "clean_target",
    "label_free_loss",
    "task_pgd",
    "adversarial_task_losses",
    "train_task_model",
    "TransferHead",
    "fit_transfer_head",
    "model_outputs",
    "save_task_model",
    "load_task_model",
    "ARCHITECTURES",
    "TaskData",
    "save_task_data",
    "load_task_data",
    "seeded_subset",
    "cross_task_losses",
    "encoder_transfer_losses",
]

logger = logging.getLogger(__name__)

#: Loss kinds understood by :func:`per_sample_loss`.
LOSS_KINDS: tuple[str, ...] = ("mse", "l1", "ce", "kl")

#: Registered task-model architectures: sidecar ``arch`` -> ``"module:Class"``.
ARCHITECTURES: dict[str, str] = {
    "digits_tasknet": "advtransfer.tasks.digits:TaskNet",
    "taskbank": "advtransfer.tasks.taskbank:TaskBankNet",
}


@dataclass(frozen=True)
class TaskSpec:
    """One task: its name, a-priori category, loss kind and output size.

    Attributes:
        name: task name (``[A-Za-z0-9_]+``).
        category: a-priori category (e.g. ``"pixel"``, ``"2D"``).
        loss: one of :data:`LOSS_KINDS`.
        out_dim: number of outputs (classes for ``ce`` / ``kl``; channels for dense outputs).
    """

    name: str
    category: str
    loss: str
    out_dim: int

    def __post_init__(self) -> None:
        if self.loss not in LOSS_KINDS:
            raise ValueError(f"task {self.name}: unknown loss {self.loss!r}; known: {LOSS_KINDS}")
        if isinstance(self.out_dim, bool) or not isinstance(self.out_dim, Integral) \
                or self.out_dim < 1:
            raise ValueError(f"task {self.name}: out_dim must be a positive integer")

    @property
    def is_classification(self) -> bool:
        """True for ``ce`` and ``kl`` tasks (outputs are logits)."""
        return self.loss in ("ce", "kl")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# --------------------------------------------------------------------------- losses


def _check_kind(kind: str) -> None:
    if kind not in LOSS_KINDS:
        raise ValueError(f"unknown loss kind {kind!r}; expected one of {LOSS_KINDS}")


def per_sample_loss(output: Tensor, target: Tensor, kind: str) -> Tensor:
    """Per-image task loss, averaged over output elements (pixels).

    Formula (mean over every axis but the batch axis, for ``ce`` / ``kl`` over every axis
    but the batch and class axes)::

        mse: mean (output - target)^2          l1: mean |output - target|
        ce:  mean -log softmax(output)_target  kl: mean sum_c t_c (log t_c - log softmax(output)_c)

    Args:
        output: model output (values or logits, class axis 1).
        target: same shape as ``output`` for ``mse`` / ``l1`` / ``kl`` (probabilities for
            ``kl``); integer classes of shape ``(N, *spatial)`` for ``ce``.
        kind: one of :data:`LOSS_KINDS`.

    Shape:
        output: ``(N, K)`` or ``(N, K, *spatial)``; returns ``(N,)``.

    Returns:
        Per-sample losses in the output's float dtype (at least float32).
    """
    _check_kind(kind)
    if output.dim() < 2:
        raise ValueError(f"output must have a batch and an output axis, got {tuple(output.shape)}")
    out = output.to(torch.promote_types(output.dtype, torch.float32))
    n = out.shape[0]
    if kind == "ce":
        expected = (n, *out.shape[2:])
        if tuple(target.shape) != expected:
            raise ValueError(f"ce target must have shape {expected}, got {tuple(target.shape)}")
        return F.cross_entropy(out, target.long(), reduction="none").reshape(n, -1).mean(dim=1)
    if target.shape != output.shape:
        raise ValueError(
            f"{kind} target must have the output's shape {tuple(output.shape)}, "
            f"got {tuple(target.shape)}"
        )
    tgt = target.to(out.dtype)
    if kind == "mse":
        return (out - tgt).pow(2).reshape(n, -1).mean(dim=1)
    if kind == "l1":
        return (out - tgt).abs().reshape(n, -1).mean(dim=1)
    log_q = F.log_softmax(out, dim=1)
    kl = torch.xlogy(tgt, tgt) - tgt * log_q  # xlogy: 0 log 0 = 0
    return kl.sum(dim=1).reshape(n, -1).mean(dim=1)


def clean_target(clean_output: Tensor, kind: str) -> Tensor:
    """Turn a model's clean output into the target of its label-free loss.

    ``mse`` / ``l1``: the output itself; ``ce``: its argmax over axis 1; ``kl``: its
    softmax over axis 1.
    """
    _check_kind(kind)
    out = clean_output.detach()
    if kind == "ce":
        return out.argmax(dim=1)
    if kind == "kl":
        return F.softmax(out.to(torch.promote_types(out.dtype, torch.float32)), dim=1)
    return out


def label_free_loss(output: Tensor, clean_output: Tensor, kind: str) -> Tensor:
    """``l(f(x'), f(x))`` per sample: :func:`per_sample_loss` against :func:`clean_target`."""
    return per_sample_loss(output, clean_target(clean_output, kind), kind)


# --------------------------------------------------------------------------- attack


def task_pgd(
    model: nn.Module,
    x: Tensor,
    *,
    kind: str,
    eps: float,
    steps: int,
    step_size: float | None = None,
    random_start: bool = True,
    seed: int = 0,
    batch_size: int = 256,
    clip: tuple[float, float] = (0.0, 1.0),
) -> Tensor:
    r"""Label-free L-inf PGD on a task model with the task's own loss (Liang et al., App. G.4).

    Same projection semantics as :func:`advtransfer.core.attacks.pgd_attack` (random start from
    a CPU generator seeded with ``seed`` for all of ``x`` at once, step ``xi sign(g)``,
    projection onto the eps-ball intersected with ``clip``); the source loss is
    :func:`label_free_loss` of kind ``kind`` summed over the batch, so each sample's
    gradient is its own. For ``kind="ce"`` / ``"mse"`` the result equals
    ``pgd_attack(loss="ce_clean" / "mse_clean")``. ``mse`` and ``l1`` have zero gradient
    at ``x_t = x``: keep ``random_start=True`` for them.

    Args:
        model: task model mapping inputs in [0, 1] to its output.
        x: clean inputs inside ``clip``.
        kind: the task's loss kind, one of :data:`LOSS_KINDS`.
        eps: L-inf radius in pixel units, ``0 <= eps <= 1``.
        steps: PGD steps, ``>= 0``.
        step_size: ``xi > 0``; default ``2.5 eps / steps``.
        random_start: start from a uniform point of the eps-ball.
        seed: seed of the random start.
        batch_size: inputs per forward/backward pass.
        clip: valid input box.

    Shape:
        x: ``(N, C, H, W)``; returns the same shape.

    Returns:
        Detached adversarial inputs on ``x``'s device; ``eps == 0`` returns ``x.clone()``.
    """
    _check_kind(kind)
    return projected_gradient_ascent(
        model, x,
        reference=lambda clean_out, rows, device: clean_target(clean_out, kind),
        loss=lambda out, target: per_sample_loss(out, target, kind).sum(),
        eps=eps, steps=steps, step_size=step_size, random_start=random_start, seed=seed,
        batch_size=batch_size, clip=clip,
    )  # fmt: skip


@torch.no_grad()
def model_outputs(model: nn.Module, x: Tensor, batch_size: int = 256) -> Tensor:
    """Outputs of ``model`` on ``x`` in eval mode, in batches, returned on the CPU."""
    check_batch_size(batch_size)
    device = model_device(model, x.device)
    with eval_mode(model):
        return torch.cat(
            [model(x[b : b + batch_size].to(device)).cpu() for b in range(0, x.shape[0], batch_size)]
        )


@torch.no_grad()
def adversarial_task_losses(
    model: nn.Module,
    x: Tensor,
    x_adv: Tensor,
    kind: str,
    batch_size: int = 256,
) -> Tensor:
    """Per-image label-free loss of a (target) task model on adversarial inputs.

    ``loss_i = l_T(f_T(x_adv_i), f_T(x_i))`` (:func:`label_free_loss`): how far another
    task's adversarial example moves task ``T``'s prediction; the entries of the
    tournament of docs/method.md §9.4 (Liang et al. §4.4).

    Shape:
        x, x_adv: ``(N, C, H, W)``; returns ``(N,)`` on the CPU.
    """
    if x.shape != x_adv.shape:
        raise ValueError(f"x and x_adv differ in shape: {tuple(x.shape)} vs {tuple(x_adv.shape)}")
    _check_kind(kind)
    check_batch_size(batch_size)
    device = model_device(model, x.device)
    pieces = []
    with eval_mode(model):
        for b in range(0, x.shape[0], batch_size):
            clean = model(x[b : b + batch_size].to(device))
            adv = model(x_adv[b : b + batch_size].to(device))
            pieces.append(label_free_loss(adv, clean, kind).cpu())
    return torch.cat(pieces)


# --------------------------------------------------------------------------- training


def train_task_model(
    model: nn.Module,
    train: tuple[Tensor, Tensor],
    val: tuple[Tensor, Tensor],
    *,
    kind: str,
    epochs: int,
    batch_size: int,
    lr: float,
    weight_decay: float = 0.0,
    seed: int,
    input_transform: Callable[[Tensor, torch.Generator], Tensor] | None = None,
    device: str | torch.device = "cpu",
    progress: bool = True,
) -> tuple[nn.Module, dict[str, Any]]:
    """Train a task model with its own loss (Adam, cosine schedule), keep the best-val weights.

    Each epoch visits ``train`` once in an order drawn from a CPU generator seeded with
    ``seed``; ``input_transform(xb, generator)`` (e.g. noise for denoising) draws from the
    same generator. The validation loss (clean inputs, mean :func:`per_sample_loss`) is
    measured after every epoch and the weights of the lowest one are restored: model
    selection on validation data, never on test data.

    Args:
        model: task model (modified in place).
        train, val: ``(x, target)`` pairs; targets as :func:`per_sample_loss` expects.
        kind: loss kind.
        epochs, batch_size, lr, weight_decay: optimisation settings.
        seed: seeds shuffling, input transforms and ``torch.manual_seed``.
        input_transform: optional training-input corruption.
        device: where to train.
        progress: tqdm bar over epochs on stderr.

    Returns:
        ``(model, history)``: the model in eval mode; ``history`` with per-epoch
        ``train_loss`` / ``val_loss`` / ``lr``, ``best_epoch`` (1-based) and
        ``best_val_loss`` (see :func:`advtransfer.fitting.fit_model`).
    """
    _check_kind(kind)
    check_positive_int(epochs, "epochs")
    check_batch_size(batch_size)
    if not (isinstance(lr, Real) and math.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be a positive number, got {lr!r}")
    x_tr, t_tr = train
    x_va, t_va = val
    if len(x_tr) != len(t_tr) or len(x_va) != len(t_va) or len(x_tr) == 0 or len(x_va) == 0:
        raise ValueError("train and val must be non-empty (x, target) pairs of equal length")
    dev = torch.device(device)
    model.to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs)

    def batch_loss(idx: Tensor, generator: torch.Generator) -> Tensor:
        xb = x_tr[idx]
        if input_transform is not None:
            xb = input_transform(xb, generator)
        return per_sample_loss(model(xb.to(dev)), t_tr[idx].to(dev), kind).mean()

    @torch.no_grad()
    def validate() -> dict[str, float]:
        with eval_mode(model):
            losses = [
                per_sample_loss(model(x_va[b : b + 512].to(dev)), t_va[b : b + 512].to(dev),
                                kind).cpu()
                for b in range(0, len(x_va), 512)
            ]  # fmt: skip
        return {"loss": float(torch.cat(losses).mean())}

    history = fit_model(
        model, n_train=len(x_tr), batch_loss=batch_loss, validate=validate,
        select=lambda scores: -scores["loss"], optimizer=opt, epochs=epochs,
        batch_size=batch_size, seed=seed, scheduler=sched, progress=progress, name="train",
    )  # fmt: skip
    return model, history


# ----------------------------------------------------------------------- transfer heads


@dataclass(frozen=True)
class TransferHead:
    """A new head on frozen features: ridge regression or multinomial logistic regression.

    Attributes:
        kind: the target task's loss kind.
        mean, scale: feature standardisation from the training features.
        weight, bias: ``(k, d)`` and ``(d,)`` for ridge heads (``None`` for logistic).
        probe: fitted :class:`advtransfer.core.probes.LinearProbe` for ``ce`` heads.
    """

    kind: str
    mean: np.ndarray
    scale: np.ndarray
    weight: np.ndarray | None = None
    bias: np.ndarray | None = None
    probe: Any = None

    def predict(self, features: np.ndarray | Tensor) -> Tensor:
        """Head output: regression values ``(N, d)`` or log-probabilities ``(N, K)``."""
        f = np.asarray(features.detach().cpu() if isinstance(features, Tensor) else features,
                       dtype=np.float64)
        if self.kind == "ce":
            proba = np.clip(self.probe.predict_proba(f), 1e-12, 1.0)
            return torch.from_numpy(np.log(proba))
        z = (f - self.mean) / self.scale
        return torch.from_numpy(z @ self.weight + self.bias)

    def losses(self, features: np.ndarray | Tensor, targets: Tensor) -> Tensor:
        """Per-sample test loss of the head (:func:`per_sample_loss`), ``(N,)`` float64."""
        out = self.predict(features)
        if self.kind == "ce":
            classes = [int(c) for c in self.probe.classes]
            lookup = {c: i for i, c in enumerate(classes)}
            t = targets.long().tolist()
            if any(c not in lookup for c in t):
                # a class never seen in training: probability floor 1e-12
                out = torch.cat([out, torch.full((out.shape[0], 1), math.log(1e-12),
                                                 dtype=out.dtype)], dim=1)
            idx = torch.tensor([lookup.get(c, len(classes)) for c in t])
            return per_sample_loss(out, idx, "ce").double()
        return per_sample_loss(out, targets.reshape(out.shape).double(), self.kind).double()


def fit_transfer_head(
    features: np.ndarray | Tensor,
    targets: Tensor,
    kind: str,
    *,
    ridge: float = 1e-3,
    C: float = 1.0,
) -> TransferHead:
    r"""Fit a new target head on frozen source features (knowledge transfer, docs/method.md §6).

    * ``mse`` / ``l1`` targets: ridge regression on standardised features ``z``,
      ``W = (Z^T Z + ridge * n * I)^{-1} Z^T (Y - mean Y)``, ``b = mean Y`` (closed form,
      float64).
    * ``ce`` targets: multinomial logistic regression with inverse L2 strength ``C``
      (:func:`advtransfer.core.probes.fit_linear_probe`).

    Args:
        features: ``(N, k)`` training features of the frozen encoder.
        targets: ``(N, d)`` regression targets or ``(N,)`` integer classes.
        kind: the target task's loss kind (``kl`` heads are not supported).
        ridge: ridge strength per sample (> 0).
        C: logistic regression inverse regularisation (> 0).

    Returns:
        A :class:`TransferHead`.
    """
    _check_kind(kind)
    f = np.asarray(features.detach().cpu() if isinstance(features, Tensor) else features,
                   dtype=np.float64)
    if f.ndim != 2 or f.shape[0] < 2 or not np.all(np.isfinite(f)):
        raise ValueError(f"features must be a finite (N >= 2, k) array, got shape {f.shape}")
    mean = f.mean(axis=0)
    scale = f.std(axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    if kind == "ce":
        from advtransfer.core.probes import fit_linear_probe

        probe = fit_linear_probe(f, targets.long().numpy(), C=C)
        return TransferHead(kind=kind, mean=mean, scale=scale, probe=probe)
    if kind == "kl":
        raise ValueError("transfer heads for kl tasks are not supported (use ce or mse targets)")
    if not ridge > 0:
        raise ValueError(f"ridge must be > 0, got {ridge}")
    y = targets.reshape(len(targets), -1).double().numpy()
    if y.shape[0] != f.shape[0]:
        raise ValueError(f"{f.shape[0]} feature rows but {y.shape[0]} targets")
    z = (f - mean) / scale
    y_mean = y.mean(axis=0)
    gram = z.T @ z + ridge * len(z) * np.eye(z.shape[1])
    weight = np.linalg.solve(gram, z.T @ (y - y_mean))
    return TransferHead(kind=kind, mean=mean, scale=scale, weight=weight, bias=y_mean)


# ------------------------------------------------------------------------ save / load


def _architecture(arch: str) -> type[nn.Module]:
    if arch not in ARCHITECTURES:
        raise ValueError(f"unknown task-model architecture {arch!r}; known: {sorted(ARCHITECTURES)}")
    module, name = ARCHITECTURES[arch].split(":")
    return getattr(importlib.import_module(module), name)


def _sidecar(path: str | os.PathLike[str]) -> Path:
    return Path(path).with_suffix(".json")


def save_task_model(
    model: nn.Module,
    path: str | os.PathLike[str],
    task: TaskSpec,
    meta: Mapping[str, Any] | None = None,
) -> None:
    """Save a task model as safetensors plus a JSON sidecar (atomic renames).

    The sidecar holds ``arch`` and ``config`` (``model.config()``, the constructor
    arguments), ``task`` (:class:`TaskSpec`) and ``meta``.
    """
    from safetensors.torch import save_file

    from advtransfer.io import atomic_path

    arch = getattr(model, "arch", None)
    if arch not in ARCHITECTURES:
        raise ValueError(f"model has no registered `arch` attribute (got {arch!r})")
    record = {**dict(meta or {}), "arch": arch, "config": model.config(), "task": task.to_dict()}
    text = json.dumps(record, indent=2, sort_keys=True, allow_nan=False, default=float)
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata={"arch": arch})
    with atomic_path(_sidecar(path)) as tmp:
        tmp.write_text(text + "\n")


def load_task_model(
    path: str | os.PathLike[str], map_location: str | torch.device = "cpu"
) -> tuple[nn.Module, TaskSpec, dict[str, Any]]:
    """Rebuild a task model saved by :func:`save_task_model` (strict, no pickle).

    Returns:
        ``(model, task, meta)``: the model in eval mode on ``map_location``, its
        :class:`TaskSpec` and the full sidecar.

    Raises:
        FileNotFoundError: weights or sidecar missing (the message names the file).
        ValueError: unknown architecture or tensors that do not fit the rebuilt model;
            :class:`advtransfer.io.CorruptFileError` (a ValueError) for a truncated or
            damaged weights file or sidecar, naming the file and the fix.
    """
    from advtransfer.io import CorruptFileError, corrupt_file_message, load_tensors

    path = Path(path)
    side = _sidecar(path)
    for p in (path, side):
        if not p.is_file():
            raise FileNotFoundError(f"task model file not found: {p}")
    try:
        meta = json.loads(side.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CorruptFileError(corrupt_file_message(side, f"not valid JSON: {err}")) from err
    cls = _architecture(meta.get("arch", ""))
    model = cls(**meta["config"])
    state = load_tensors(path)  # io.CorruptFileError names a damaged file and the fix
    expected = model.state_dict()
    bad = sorted(set(expected) ^ set(state)) + [
        k for k in set(expected) & set(state) if expected[k].shape != state[k].shape
    ]
    if bad:
        raise ValueError(f"weights in {path} do not fit the model in {side}: {bad[:5]}")
    model.load_state_dict(state, strict=True)
    model.to(map_location)
    model.eval()
    return model, TaskSpec(**meta["task"]), meta


# ------------------------------------------------------------------------- task data


@dataclass
class TaskData:
    """Images shared by all tasks, with optional per-task targets and splits.

    Attributes:
        x: ``(N, C, H, W)`` float32 images in [0, 1].
        targets: task -> targets for :func:`per_sample_loss` (empty for Taskonomy images).
        splits: split name -> canvas indices (empty: every image is an attack image).
        meta: JSON metadata (``tasks``: list of :class:`TaskSpec` dicts, provenance).
    """

    x: Tensor
    targets: dict[str, Tensor]
    splits: dict[str, Tensor]
    meta: dict[str, Any]


def save_task_data(
    path: str | os.PathLike[str],
    x: Tensor,
    targets: Mapping[str, Tensor],
    splits: Mapping[str, Tensor],
    meta: Mapping[str, Any],
) -> None:
    """Save a task data set as one safetensors file (``x``, ``target_<task>``, ``split_<name>``).

    ``x`` may be uint8 (0..255) or float in [0, 1]; metadata values are stored as JSON.
    """
    from advtransfer.io import save_tensors

    tensors = {"x": x}
    # clones: targets may be views of x (autoencoding), which safetensors refuses to alias
    tensors.update({f"target_{k}": v.clone() for k, v in targets.items()})
    tensors.update({f"split_{k}": v for k, v in splits.items()})
    save_tensors(path, tensors, meta=dict(meta))


def load_task_data(path: str | os.PathLike[str]) -> TaskData:
    """Load a file written by :func:`save_task_data`; images come back as float32 in [0, 1]."""
    from advtransfer.io import load_tensor_meta, load_tensors

    tensors = load_tensors(path)  # io.CorruptFileError names a damaged file and the fix
    meta = load_tensor_meta(path)
    x = tensors.pop("x")
    x = x.float().div_(255.0) if x.dtype == torch.uint8 else x.float()
    targets = {k[7:]: v for k, v in tensors.items() if k.startswith("target_")}
    splits = {k[6:]: v.long() for k, v in tensors.items() if k.startswith("split_")}
    return TaskData(x=x, targets=targets, splits=splits, meta=meta)


def seeded_subset(indices: Tensor, n: int | None, seed: int) -> Tensor:
    """A sorted seeded sample of ``min(n, len(indices))`` entries of ``indices`` (all if None)."""
    if n is None or n >= len(indices):
        return indices.clone()
    generator = torch.Generator().manual_seed(int(seed))
    keep = torch.randperm(len(indices), generator=generator)[:n]
    return indices[keep.sort().values]


# ------------------------------------------------------------------ experiment loops


def cross_task_losses(
    source: nn.Module,
    source_task: TaskSpec,
    x: Tensor,
    image_ids: Tensor,
    targets: Mapping[str, Callable[[], tuple[nn.Module, TaskSpec]]],
    *,
    eps_values: list[float],
    steps: int,
    step_size: float | None,
    seed: int,
    batch_size: int,
    device: torch.device,
) -> pd.DataFrame:
    """Attack one source task and score the examples on every target task (docs/method.md §9.4).

    For each ``eps``: ``x_adv = task_pgd(source, x, kind=source_task.loss, ...)``; then each
    target model is loaded once (``targets[name]()``, so only one target lives in memory)
    and scored with :func:`adversarial_task_losses` on every ``x_adv``.

    Returns:
        Long ``DataFrame`` with columns ``source``, ``eps``, ``target``, ``image`` (the ids
        in ``image_ids``) and ``loss``.
    """
    import pandas as pd

    source = source.to(device)
    adversarial = {}
    for eps in eps_values:
        adversarial[eps] = task_pgd(
            source, x, kind=source_task.loss, eps=float(eps), steps=steps,
            step_size=step_size, seed=seed, batch_size=batch_size,
        )  # fmt: skip
        logger.info("%s: PGD eps %g, %d steps on %d images", source_task.name, eps, steps,
                    len(x))
    source.cpu()
    frames = []
    for name, load in targets.items():
        model, spec = load()
        model = model.to(device)
        for eps, x_adv in adversarial.items():
            losses = adversarial_task_losses(model, x, x_adv, spec.loss, batch_size=batch_size)
            frames.append(pd.DataFrame({
                "source": source_task.name, "eps": float(eps), "target": name,
                "image": image_ids.numpy(), "loss": losses.double().numpy(),
            }))  # fmt: skip
            logger.info("target %s (%s), eps %g: mean loss %.5g", name, spec.loss, eps,
                        float(losses.mean()))
        del model
    return pd.concat(frames, ignore_index=True)


def encoder_transfer_losses(
    source: nn.Module,
    source_task: TaskSpec,
    data: TaskData,
    target_tasks: list[TaskSpec],
    train_idx: Tensor,
    test_idx: Tensor,
    *,
    ridge: float,
    C: float,
    device: torch.device,
    batch_size: int = 512,
) -> pd.DataFrame:
    """Knowledge transfer of one frozen source encoder to every target task (Liang et al. §4.4).

    Features ``source.features(x)`` are computed once (eval mode) for the training and test
    canvases; for every target a :func:`fit_transfer_head` is fitted on the training
    features and targets and its per-image test loss recorded.

    Returns:
        Long ``DataFrame`` with columns ``source``, ``target``, ``image`` and ``loss``.
    """
    import pandas as pd

    source = source.to(device)
    with eval_mode(source), torch.no_grad():
        feats = {
            part: torch.cat([
                source.features(data.x[idx[b : b + batch_size]].to(device)).flatten(1).cpu()
                for b in range(0, len(idx), batch_size)
            ]).double()
            for part, idx in (("train", train_idx), ("test", test_idx))
        }  # fmt: skip
    frames = []
    for spec in target_tasks:
        if spec.name not in data.targets:
            raise ValueError(f"the data set has no targets for task {spec.name}")
        y = data.targets[spec.name]
        head = fit_transfer_head(feats["train"], y[train_idx], spec.loss, ridge=ridge, C=C)
        losses = head.losses(feats["test"], y[test_idx])
        frames.append(pd.DataFrame({"source": source_task.name, "target": spec.name,
                                    "image": test_idx.numpy(), "loss": losses.numpy()}))
        logger.info("%s -> %s: mean test loss %.5g", source_task.name, spec.name,
                    float(losses.mean()))
    return pd.concat(frames, ignore_index=True)
