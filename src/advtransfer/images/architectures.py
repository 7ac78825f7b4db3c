"""Registry of image classifiers with a frozen-probe interface.

Every model is a :class:`Classifier`: inputs are images in ``[0, 1]`` pixel units of
shape ``(N, C, H, W)``; per-channel normalisation ``(x - mean) / std`` happens inside
the model (mean and std are buffers saved with the weights), so attacks and
Jacobians work in pixel space (docs/method.md §1). The network splits into

* ``features(x) -> (N, k)``: the penultimate representation that knowledge-transfer
  probes keep frozen (Liang et al. §4; docs/method.md §6), and
* ``head``: an ``nn.Linear(k, num_classes)`` (``head="linear"``, the default) or an
  :class:`advtransfer.images.arcface.ArcFaceHead` (``head="arcface"``: scaled cosines to class
  centres, margin added only in training); ``forward(x) == head(features(x))``, and
  :meth:`Classifier.training_logits` gives the logits a training loss should see.

Registered architectures (see :func:`available_architectures`):

``digits_cnn``
    Small CNN for 8x8 grey digits: conv3x3(16) -> ReLU -> conv3x3(32) -> ReLU ->
    adaptive max-pool to 4x4 -> linear(64) -> ReLU; k = 64. About 38 k parameters,
    trains in seconds on a CPU.
``resnet18_cifar``
    ResNet-18 (He et al., 2016) with the CIFAR stem used by the paper (§4.2): a 3x3
    stride-1 stem convolution and no max-pool, four stages of two basic blocks with
    64/128/256/512 channels, global average pooling; k = 512.
``resnet18_torchvision``
    ``torchvision.models.resnet18(weights=None)`` (ImageNet stem) with its ``fc``
    removed and replaced by ``head``; k = 512.
``digits_mlp_s`` / ``digits_mlp_l``, ``digits_cnn_s``, ``digits_resnet_s`` / ``digits_resnet_l``
    The model zoo's families for 8x8 digits (:data:`FAMILIES`): two-hidden-layer MLPs of
    width 32 / 256, a 4/8-channel CNN (16 wide; ``digits_cnn`` is the family's large
    member), residual networks of width 8 (one block) / 48 (three blocks).

Weights are stored as safetensors plus a JSON sidecar that records how to rebuild the
model (:func:`save_model`, :func:`load_model`); pickled checkpoints are never read.
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from advtransfer import io
from advtransfer.core.checks import check_positive_int

__all__ = [
    "HEADS",
    "Classifier",
    "DigitsCNN",
    "DigitsConvNet",
    "DigitsMLP",
    "DigitsResNet",
    "FAMILIES",
    "ResNet18CIFAR",
    "ResNet18Torchvision",
    "available_architectures",
    "build_model",
    "save_model",
    "load_model",
    "sidecar_path",
    "state_dict_problems",
]

logger = logging.getLogger(__name__)

#: Keys of the JSON sidecar that describe how to rebuild the model.
_MODEL_KEYS = ("arch", "num_classes", "in_channels", "mean", "std")
#: Heads accepted by :func:`build_model`; sidecars without a ``head`` key mean "linear".
HEADS: tuple[str, ...] = ("linear", "arcface")


class Classifier(nn.Module):
    """Base class: normalisation buffers, a feature extractor and a linear head.

    Subclasses implement :meth:`_embed` (normalised images -> features) and set
    ``feature_dim``; the base class owns normalisation and the head.

    Args:
        arch: registry name, recorded for saving.
        num_classes: number of output logits (>= 1).
        in_channels: number of image channels C (>= 1).
        mean: per-channel mean in [0, 1] pixel units, length ``in_channels``.
        std: per-channel standard deviation (> 0), length ``in_channels``.
        feature_dim: width k of the penultimate representation.
        head: ``"linear"`` (``nn.Linear(k, num_classes)``) or ``"arcface"``
            (:class:`~advtransfer.images.arcface.ArcFaceHead`).
        head_options: for ``"arcface"``: ``{"scale": s, "margin": m}`` (defaults 64, 0.5).

    Shape:
        x: (N, C, H, W), values in [0, 1]. ``features(x)``: (N, k).
        ``forward(x)``: (N, num_classes) logits.
    """

    def __init__(
        self,
        arch: str,
        num_classes: int,
        in_channels: int,
        mean: Sequence[float],
        std: Sequence[float],
        feature_dim: int,
        head: str = "linear",
        head_options: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__()
        num_classes = check_positive_int(num_classes, "num_classes")
        in_channels = check_positive_int(in_channels, "in_channels")
        mean_t, std_t = _check_norm(mean, std, in_channels)
        self.arch = arch
        self.num_classes = num_classes
        self.in_channels = in_channels
        self.feature_dim = feature_dim
        self._norm = ([float(v) for v in mean], [float(v) for v in std])
        self.register_buffer("mean", mean_t.view(1, in_channels, 1, 1))
        self.register_buffer("std", std_t.view(1, in_channels, 1, 1))
        self.head_kind, self.head_options = _check_head(head, head_options)
        self.head: nn.Module
        if self.head_kind == "arcface":
            from advtransfer.images.arcface import ArcFaceHead

            self.head = ArcFaceHead(feature_dim, num_classes, **self.head_options)
        else:
            self.head = nn.Linear(feature_dim, num_classes)

    # -- interface ---------------------------------------------------------------------
    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """Map [0, 1] pixels to network units: ``(x - mean) / std`` per channel."""
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"{self.arch}: expected input of shape (N, {self.in_channels}, H, W), "
                f"got {tuple(x.shape)}"
            )
        return (x - self.mean) / self.std

    def _embed(self, z: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate features of images ``x`` in [0, 1]; shape (N, C, H, W) -> (N, k)."""
        return self._embed(self.normalize(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``head(features(x))``; shape (N, C, H, W) -> (N, num_classes)."""
        return self.head(self.features(x))

    def training_logits(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Logits a training loss should see: ``forward(x)``, or with an ArcFace head the
        margin logits ``s cos(theta_y + m)`` at the labels ``y``; (N, num_classes)."""
        if self.head_kind == "arcface":
            return self.head(self.features(x), y)
        return self.forward(x)

    def config(self) -> dict[str, Any]:
        """The JSON-serialisable arguments that rebuild this model with :func:`build_model`.

        ``head`` and ``head_options`` appear only for non-linear heads, so sidecars of
        linear models are unchanged.
        """
        out: dict[str, Any] = {
            "arch": self.arch,
            "num_classes": self.num_classes,
            "in_channels": self.in_channels,
            "mean": list(self._norm[0]),
            "std": list(self._norm[1]),
        }
        if self.head_kind != "linear":
            out["head"] = self.head_kind
            out["head_options"] = dict(self.head_options)
        return out


class DigitsCNN(Classifier):
    """Small CNN for 8x8 digit images (k = 64 features); see the module docstring."""

    def __init__(
        self,
        num_classes: int,
        in_channels: int,
        mean: Sequence[float],
        std: Sequence[float],
        head: str = "linear",
        head_options: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(
            "digits_cnn", num_classes, in_channels, mean, std, feature_dim=64,
            head=head, head_options=head_options,
        )
        self.body = nn.Sequential(
            nn.Conv2d(self.in_channels, 16, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(16, 32, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.AdaptiveMaxPool2d((4, 4)),
            nn.Flatten(),
            nn.Linear(32 * 4 * 4, 64),
            nn.ReLU(inplace=True),
        )

    def _embed(self, z: torch.Tensor) -> torch.Tensor:
        return self.body(z)


class _BasicBlock(nn.Module):
    """Two 3x3 conv-BN layers with an identity (or 1x1 conv-BN) shortcut."""

    def __init__(self, in_planes: int, planes: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut: nn.Module
        if stride != 1 or in_planes != planes:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_planes, planes, 1, stride=stride, bias=False),
                nn.BatchNorm2d(planes),
            )
        else:
            self.shortcut = nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return torch.relu(out + self.shortcut(x))


class ResNet18CIFAR(Classifier):
    """ResNet-18 with the CIFAR stem (3x3 stride-1 conv, no max-pool); k = 512."""

    def __init__(
        self,
        num_classes: int,
        in_channels: int,
        mean: Sequence[float],
        std: Sequence[float],
        head: str = "linear",
        head_options: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(
            "resnet18_cifar", num_classes, in_channels, mean, std, feature_dim=512,
            head=head, head_options=head_options,
        )
        self.stem = nn.Sequential(
            nn.Conv2d(self.in_channels, 64, 3, stride=1, padding=1, bias=False),
            nn.BatchNorm2d(64),
            nn.ReLU(inplace=True),
        )
        stages = []
        in_planes = 64
        for planes, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
            stages.append(
                nn.Sequential(
                    _BasicBlock(in_planes, planes, stride), _BasicBlock(planes, planes, 1)
                )
            )
            in_planes = planes
        self.stages = nn.Sequential(*stages)
        self.pool = nn.AdaptiveAvgPool2d(1)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")

    def _embed(self, z: torch.Tensor) -> torch.Tensor:
        return torch.flatten(self.pool(self.stages(self.stem(z))), 1)


class ResNet18Torchvision(Classifier):
    """``torchvision.models.resnet18(weights=None)`` with ``fc`` moved to ``head``; k = 512.

    For ``in_channels != 3`` the first convolution is replaced by one with the same
    geometry (7x7, stride 2) and the requested number of input channels.
    """

    def __init__(
        self,
        num_classes: int,
        in_channels: int,
        mean: Sequence[float],
        std: Sequence[float],
        head: str = "linear",
        head_options: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(
            "resnet18_torchvision", num_classes, in_channels, mean, std, feature_dim=512,
            head=head, head_options=head_options,
        )
        from torchvision.models import resnet18

        backbone = resnet18(weights=None)
        if self.in_channels != 3:
            backbone.conv1 = nn.Conv2d(
                self.in_channels, 64, kernel_size=7, stride=2, padding=3, bias=False
            )
            nn.init.kaiming_normal_(backbone.conv1.weight, mode="fan_out", nonlinearity="relu")
        backbone.fc = nn.Identity()
        self.backbone = backbone

    def _embed(self, z: torch.Tensor) -> torch.Tensor:
        return self.backbone(z)


class DigitsMLP(Classifier):
    """Multilayer perceptron on flattened 8x8 digits: two hidden layers of ``width``
    (Linear -> ReLU); k = ``width``. The model zoo's ``mlp`` family."""

    def __init__(self, arch: str, width: int, num_classes: int, in_channels: int,
                 mean: Sequence[float], std: Sequence[float], head: str = "linear",
                 head_options: Mapping[str, Any] | None = None, side: int = 8) -> None:
        super().__init__(arch, num_classes, in_channels, mean, std, feature_dim=width,
                         head=head, head_options=head_options)
        self.body = nn.Sequential(
            nn.Flatten(),
            nn.Linear(self.in_channels * side * side, width),
            nn.ReLU(inplace=True),
            nn.Linear(width, width),
            nn.ReLU(inplace=True),
        )

    def _embed(self, z: torch.Tensor) -> torch.Tensor:
        return self.body(z)


class DigitsConvNet(Classifier):
    """Two 3x3 convolutions (``channels`` wide) -> ReLU -> adaptive max-pool 4x4 ->
    linear(``width``) -> ReLU; k = ``width``. The model zoo's ``cnn`` family (``digits_cnn``
    is its 16/32-channel, 64-wide member)."""

    def __init__(self, arch: str, channels: tuple[int, int], width: int, num_classes: int,
                 in_channels: int, mean: Sequence[float], std: Sequence[float],
                 head: str = "linear", head_options: Mapping[str, Any] | None = None) -> None:
        super().__init__(arch, num_classes, in_channels, mean, std, feature_dim=width,
                         head=head, head_options=head_options)
        self.body = nn.Sequential(
            nn.Conv2d(self.in_channels, channels[0], kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(channels[0], channels[1], kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.AdaptiveMaxPool2d((4, 4)),
            nn.Flatten(),
            nn.Linear(channels[1] * 16, width),
            nn.ReLU(inplace=True),
        )

    def _embed(self, z: torch.Tensor) -> torch.Tensor:
        return self.body(z)


class DigitsResNet(Classifier):
    """Residual network for small images: a 3x3 conv-BN-ReLU stem of ``width`` channels,
    ``blocks`` basic blocks (He et al., 2016) at full resolution, global average pooling;
    k = ``width``. The model zoo's ``resnet`` family."""

    def __init__(self, arch: str, width: int, blocks: int, num_classes: int, in_channels: int,
                 mean: Sequence[float], std: Sequence[float], head: str = "linear",
                 head_options: Mapping[str, Any] | None = None) -> None:
        super().__init__(arch, num_classes, in_channels, mean, std, feature_dim=width,
                         head=head, head_options=head_options)
        self.stem = nn.Sequential(
            nn.Conv2d(self.in_channels, width, 3, padding=1, bias=False),
            nn.BatchNorm2d(width),
            nn.ReLU(inplace=True),
        )
        self.blocks = nn.Sequential(*(_BasicBlock(width, width, 1) for _ in range(blocks)))
        self.pool = nn.AdaptiveAvgPool2d(1)

    def _embed(self, z: torch.Tensor) -> torch.Tensor:
        return torch.flatten(self.pool(self.blocks(self.stem(z))), 1)


def _variant(cls: type, arch: str, **sizes: Any) -> Callable[..., Classifier]:
    """A registry constructor of ``cls`` with fixed sizes, recorded under ``arch``."""

    def build(num_classes: int, in_channels: int, mean: Sequence[float], std: Sequence[float],
              head: str = "linear", head_options: Mapping[str, Any] | None = None) -> Classifier:
        return cls(arch, **sizes, num_classes=num_classes, in_channels=in_channels, mean=mean,
                   std=std, head=head, head_options=head_options)

    return build


#: Architecture families of the model zoo (8x8 digits): {family: [arch, ...]}, small first.
FAMILIES: dict[str, list[str]] = {
    "mlp": ["digits_mlp_s", "digits_mlp_l"],
    "cnn": ["digits_cnn_s", "digits_cnn"],
    "resnet": ["digits_resnet_s", "digits_resnet_l"],
}

_REGISTRY: dict[str, Callable[..., Classifier]] = {
    "digits_cnn": DigitsCNN,
    "resnet18_cifar": ResNet18CIFAR,
    "resnet18_torchvision": ResNet18Torchvision,
    "digits_mlp_s": _variant(DigitsMLP, "digits_mlp_s", width=32),
    "digits_mlp_l": _variant(DigitsMLP, "digits_mlp_l", width=256),
    "digits_cnn_s": _variant(DigitsConvNet, "digits_cnn_s", channels=(4, 8), width=16),
    "digits_resnet_s": _variant(DigitsResNet, "digits_resnet_s", width=8, blocks=1),
    "digits_resnet_l": _variant(DigitsResNet, "digits_resnet_l", width=48, blocks=3),
}


def available_architectures() -> list[str]:
    """Names accepted by :func:`build_model`, sorted.

    Returns:
        list of registry names.
    """
    return sorted(_REGISTRY)


def build_model(
    arch: str,
    num_classes: int,
    in_channels: int,
    mean: Sequence[float],
    std: Sequence[float],
    *,
    head: str = "linear",
    head_options: Mapping[str, Any] | None = None,
) -> Classifier:
    """Build a freshly initialised classifier (training mode, random weights).

    Initialisation uses the global torch RNG; call ``torch.manual_seed`` first for
    reproducible weights.

    Args:
        arch: registry name, one of :func:`available_architectures`.
        num_classes: number of logits (>= 1).
        in_channels: image channels C (>= 1).
        mean: per-channel mean of the training images in [0, 1] units (length C).
        std: per-channel standard deviation, all > 0 (length C).
        head: ``"linear"`` or ``"arcface"`` (see :data:`HEADS`).
        head_options: ArcFace ``{"scale", "margin"}``; must be empty for a linear head.

    Returns:
        a :class:`Classifier`.

    Raises:
        ValueError: unknown ``arch`` (the message lists the known ones), unknown head
            or head option, or bad sizes.
    """
    if arch not in _REGISTRY:
        raise ValueError(
            f"unknown architecture {arch!r}; known architectures: "
            f"{', '.join(available_architectures())}"
        )
    return _REGISTRY[arch](num_classes, in_channels, mean, std, head=head,
                           head_options=head_options)


def sidecar_path(path: str | os.PathLike[str]) -> Path:
    """The JSON sidecar that accompanies weights at ``path`` (same name, suffix ``.json``)."""
    return Path(path).with_suffix(".json")


def save_model(
    model: Classifier,
    path: str | os.PathLike[str],
    meta: Mapping[str, Any] | None = None,
) -> None:
    """Write ``model``'s weights as safetensors and its description as a JSON sidecar.

    ``path`` receives ``state_dict()`` (tensors made contiguous and moved to CPU);
    :func:`sidecar_path` of ``path`` receives ``meta`` plus the model's ``arch``,
    ``num_classes``, ``in_channels``, ``mean`` and ``std``. Both files are written to a
    temporary name first and then renamed, so an interrupted job leaves no half file.

    Args:
        model: the classifier to save.
        path: destination of the weights (conventionally ``*.safetensors``).
        meta: extra JSON-serialisable metadata (e.g. training history, seed). Keys
            that collide with the model description must agree with it.

    Raises:
        ValueError: ``model`` is not a :class:`Classifier`, ``path`` ends in
            ``.json``, ``meta`` is not JSON-serialisable or contradicts the model.
    """
    from safetensors.torch import save_file

    if not isinstance(model, Classifier):
        raise ValueError(f"save_model expects a Classifier, got {type(model).__name__}")
    path = Path(path)
    side = sidecar_path(path)
    if side == path:
        raise ValueError(f"weights path {path} must not end in .json (that is the sidecar)")
    record: dict[str, Any] = dict(meta or {})
    for key, value in model.config().items():
        if key in record and json.loads(json.dumps(record[key])) != value:
            raise ValueError(
                f"meta[{key!r}] = {record[key]!r} contradicts the model's {key} = {value!r}"
            )
        record[key] = value
    try:
        text = json.dumps(record, indent=2, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as err:
        raise ValueError(f"meta for {path} is not JSON-serialisable: {err}") from err

    tensors = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp_weights = _temp_name(path)
    try:
        save_file(tensors, str(tmp_weights), metadata={"arch": model.arch})
        tmp_side = _temp_name(side)
        tmp_side.write_text(text + "\n", encoding="utf-8")
        os.replace(tmp_weights, path)
        os.replace(tmp_side, side)
    finally:
        for tmp in (tmp_weights, _temp_name(side)):
            if tmp.exists():
                tmp.unlink()
    logger.info("saved %s (%s) to %s", model.arch, side.name, path)


def load_model(
    path: str | os.PathLike[str],
    map_location: str | torch.device = "cpu",
) -> tuple[Classifier, dict[str, Any]]:
    """Rebuild a classifier saved by :func:`save_model` and load its weights strictly.

    Args:
        path: the ``.safetensors`` weights file; its JSON sidecar must sit beside it.
        map_location: device for the returned model.

    Returns:
        ``(model, meta)``: the model in eval mode on ``map_location`` and the sidecar's
        full contents (user metadata plus the model description).

    Raises:
        FileNotFoundError: the weights file does not exist.
        ValueError: the sidecar is missing or malformed, names an unknown
            architecture, or the weights do not match the rebuilt model (missing,
            unexpected or differently shaped tensors) -- the message names the file;
            :class:`advtransfer.io.CorruptFileError` (a ValueError) for truncated or
            damaged weights, naming the file and the fix.
    """
    path = Path(path)
    side = sidecar_path(path)
    if not path.is_file():
        raise FileNotFoundError(f"model weights not found: {path}")
    if not side.is_file():
        raise ValueError(
            f"cannot load {path}: its JSON sidecar {side} is missing "
            "(it records arch, num_classes, in_channels, mean and std; save with save_model)"
        )
    try:
        meta = json.loads(side.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"sidecar {side} is not valid JSON: {err}") from err
    if not isinstance(meta, dict):
        raise ValueError(f"sidecar {side} must hold a JSON object, got {type(meta).__name__}")
    missing = [k for k in _MODEL_KEYS if k not in meta]
    if missing:
        raise ValueError(f"sidecar {side} lacks required keys: {', '.join(missing)}")
    if meta["arch"] not in _REGISTRY:
        raise ValueError(
            f"sidecar {side} names unknown architecture {meta['arch']!r}; known "
            f"architectures: {', '.join(available_architectures())}"
        )
    try:
        model = build_model(
            meta["arch"], meta["num_classes"], meta["in_channels"], meta["mean"], meta["std"],
            head=meta.get("head", "linear"), head_options=meta.get("head_options"),
        )
    except (TypeError, ValueError) as err:
        raise ValueError(f"sidecar {side} describes an invalid model: {err}") from err

    state = io.load_tensors(path)  # io.CorruptFileError (a ValueError) names file and fix
    problems = state_dict_problems(
        model, state, f"{meta['arch']} with the sidecar's settings"
    )
    if problems:
        raise ValueError(
            f"weights in {path} are incompatible with the model described by {side}: "
            + "; ".join(problems)
        )
    model.load_state_dict(state, strict=True)
    model.to(map_location)
    model.eval()
    return model, meta


# -- helpers -------------------------------------------------------------------------------
_ARCFACE_DEFAULTS = {"scale": 64.0, "margin": 0.5}


def _check_head(
    head: str, options: Mapping[str, Any] | None
) -> tuple[str, dict[str, float]]:
    if head not in HEADS:
        raise ValueError(f"unknown head {head!r}; choose one of {', '.join(HEADS)}")
    options = dict(options or {})
    if head == "linear":
        if options:
            raise ValueError(f"a linear head takes no head_options, got {sorted(options)}")
        return head, {}
    unknown = sorted(set(options) - set(_ARCFACE_DEFAULTS))
    if unknown:
        raise ValueError(
            f"unknown arcface head option(s) {unknown}; known: {sorted(_ARCFACE_DEFAULTS)}"
        )
    merged = {k: float(options.get(k, v)) for k, v in _ARCFACE_DEFAULTS.items()}
    return head, merged




def _check_norm(
    mean: Sequence[float], std: Sequence[float], in_channels: int
) -> tuple[torch.Tensor, torch.Tensor]:
    try:
        mean_t = torch.as_tensor([float(v) for v in mean], dtype=torch.float32)
        std_t = torch.as_tensor([float(v) for v in std], dtype=torch.float32)
    except (TypeError, ValueError) as err:
        raise ValueError(f"mean and std must be sequences of numbers: {err}") from err
    if mean_t.numel() != in_channels or std_t.numel() != in_channels:
        raise ValueError(
            f"mean and std need one value per channel ({in_channels}), "
            f"got {mean_t.numel()} and {std_t.numel()}"
        )
    if not all(math.isfinite(v) for v in mean_t.tolist()):
        raise ValueError(f"mean must be finite, got {mean_t.tolist()}")
    if not all(math.isfinite(v) and v > 0 for v in std_t.tolist()):
        raise ValueError(f"std must be finite and > 0, got {std_t.tolist()}")
    return mean_t, std_t


def _temp_name(path: Path) -> Path:
    return path.with_name(f".{path.name}.tmp{os.getpid()}")


def state_dict_problems(
    model: nn.Module, state: Mapping[str, torch.Tensor], expected_by: str
) -> list[str]:
    """Why ``state`` cannot be loaded strictly into ``model``; empty when it can.

    Lists missing and unexpected tensor names (abbreviated) and every shape mismatch as
    ``"<key> has shape (..), <expected_by> expects (..)"``.
    """
    expected = model.state_dict()
    problems: list[str] = []
    absent = sorted(set(expected) - set(state))
    extra = sorted(set(state) - set(expected))
    if absent:
        problems.append(f"missing tensors {_abbrev(absent)}")
    if extra:
        problems.append(f"unexpected tensors {_abbrev(extra)}")
    for key in sorted(set(expected) & set(state)):
        if tuple(state[key].shape) != tuple(expected[key].shape):
            problems.append(
                f"{key} has shape {tuple(state[key].shape)}, {expected_by} expects "
                f"{tuple(expected[key].shape)}"
            )
    return problems


def _abbrev(keys: list[str], limit: int = 5) -> str:
    shown = ", ".join(keys[:limit])
    return shown + (f" (+{len(keys) - limit} more)" if len(keys) > limit else "")
