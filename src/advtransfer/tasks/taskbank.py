"""Taskonomy task-bank networks (Zamir et al., CVPR 2018) for the paper-scale task experiment.

Liang et al. §4.4 attack the 15 task-bank models of :data:`advtransfer.tasks.taskonomy.TASKONOMY_15`
(docs/method.md §9.4). The public PyTorch ports of those models are the ``visualpriors`` package's
``TaskonomyEncoder`` / ``TaskonomyDecoder`` (PyPI ``visualpriors`` 0.3.5) with weights
``<name>_encoder-<sha256>.pth`` / ``<name>_decoder-<sha256>.pth``. Its model definitions
do run on torch 2.14, but the package installs through ``distutils`` (gone in Python 3.12)
and loads weights by downloading and unpickling them; so the architecture is restated
here with the **same state-dict keys and shapes**, and the ``.pth`` files are read with
``torch.load(weights_only=True)`` from a local directory and converted to safetensors.

Architecture (``width`` = 64 for the public weights; smaller widths give tiny test models):

* Encoder: ResNet-50-style, ``pad 3 -> conv7x7/2 (width) -> BN -> ReLU -> maxpool3/2 (ceil)
  -> 4 stages of Bottleneck blocks [3, 4, 6, 3] with planes width x (1, 2, 4, 8)``; the
  *last* block of stages 1-2 has stride 2 (its shortcut a stride-2 1x1 max-pool), stages
  3-4 keep the resolution; then ``conv3x3 -> 8 channels -> BN -> ReLU``. A 256 x 256 image
  becomes the 8 x 16 x 16 representation (``image_size / 16`` per side).
* Pixel decoder: 6 conv-BN-LeakyReLU(0.2) layers 8 -> 1024 -> 1024 -> 512 -> 256 -> 256 ->
  128, four 2x up-samplings (pad (1,0,1,0), transposed conv 3x3/2, crop the first row and
  column) interleaved with convs, then ``conv3x3 -> out_channels`` and ``tanh`` (no tanh
  for segmentsemantic). Channel counts scale with ``width / 64``.
* Classification decoder (class_1000, class_places): flatten the representation in
  NHWC order -> linear(2048) -> BN -> ReLU -> dropout -> linear(classes).

The network is wrapped by :class:`TaskBankNet`, which takes images in ``[0, 1]`` and maps
them to the task bank's ``[-1, 1]`` inside (``2 x - 1``), so attacks run in pixel units and
eps is never silently doubled.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from advtransfer.tasks.models import TaskSpec
from advtransfer.tasks.taskonomy import TASKONOMY_15, TASKONOMY_CATEGORIES

__all__ = [
    "TASKBANK_TABLE",
    "TASKBANK_WEIGHTS_HINT",
    "IMAGE_SUFFIXES",
    "taskbank_tasks",
    "TaskBankEncoder",
    "TaskBankDecoder",
    "TaskBankNet",
    "weight_files",
    "missing_weights_message",
    "read_state_dict",
    "build_taskbank_model",
    "list_images",
    "select_images",
    "load_images",
]

#: Task (Taskonomy/Liang et al. name) -> (task-bank weight name, output channels or classes,
#: decoder "conv" / "mlp", tanh on the output, default loss kind). Losses follow the task
#: bank's training losses (L1 for most pixel tasks, L2 for curvature and for the metric
#: embeddings of the unsupervised segmentations, cross-entropy per pixel for semantic
#: segmentation, KL to the soft labels for the classifiers); attacks and scoring use them
#: label-free against the model's own clean output.
TASKBANK_TABLE: dict[str, tuple[str, int, str, bool, str]] = {
    "autoencoder": ("autoencoding", 3, "conv", True, "l1"),
    "curvature": ("curvature", 2, "conv", True, "mse"),
    "edge2d": ("edge_texture", 1, "conv", True, "l1"),
    "keypoint2d": ("keypoints2d", 1, "conv", True, "l1"),
    "segment2d": ("segment_unsup2d", 64, "conv", True, "mse"),
    "edge3d": ("edge_occlusion", 1, "conv", True, "l1"),
    "keypoint3d": ("keypoints3d", 1, "conv", True, "l1"),
    "reshade": ("reshading", 1, "conv", True, "l1"),
    "rgb2depth": ("depth_zbuffer", 1, "conv", True, "l1"),
    "rgb2mist": ("depth_euclidean", 1, "conv", True, "l1"),
    "rgb2sfnorm": ("normal", 3, "conv", True, "l1"),
    "segment25d": ("segment_unsup25d", 64, "conv", True, "mse"),
    "segmentsemantic": ("segment_semantic", 17, "conv", False, "ce"),
    "class_1000": ("class_object", 1000, "mlp", True, "kl"),
    "class_places": ("class_scene", 63, "mlp", True, "kl"),
}

TASKBANK_WEIGHTS_HINT = (
    "the task-bank weights are the public PyTorch ports used by the visualpriors package "
    "(PyPI visualpriors 0.3.5: file names in visualpriors.taskonomy_network."
    "TASKONOMY_PRETRAINED_WEIGHT_FILES, served from the alexsax/visual-prior GitHub "
    "repository, branch networks, folder assets/pytorch); put the <name>_encoder-*.pth and "
    "<name>_decoder-*.pth files into the weights directory (tasks.taskbank.weights_dir)"
)

#: Image file suffixes read from the images directory.
IMAGE_SUFFIXES: tuple[str, ...] = (".png", ".jpg", ".jpeg")


def taskbank_tasks(
    names: Sequence[str] | None = None, losses: Mapping[str, str] | None = None
) -> list[TaskSpec]:
    """Task specs of the task-bank tasks (``names=None``: :data:`TASKONOMY_15`).

    Args:
        names: tasks to use.
        losses: optional loss-kind overrides per task.
    """
    names = list(TASKONOMY_15) if names is None else list(names)
    unknown = [n for n in names if n not in TASKBANK_TABLE]
    if unknown:
        raise ValueError(f"unknown task-bank tasks {unknown}; known: {list(TASKBANK_TABLE)}")
    losses = dict(losses or {})
    stray = sorted(set(losses) - set(names))
    if stray:
        raise ValueError(f"loss overrides for tasks not in use: {stray}")
    return [
        TaskSpec(n, TASKONOMY_CATEGORIES[n], losses.get(n, TASKBANK_TABLE[n][4]),
                 TASKBANK_TABLE[n][1])
        for n in names
    ]


# ------------------------------------------------------------------------ networks


def _scaled(channels: int, width: int) -> int:
    return max(1, channels * width // 64)


class _Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1,
                 downsample: nn.Module | None = None) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, kernel_size=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, stride=stride, padding=1,
                               bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * 4, kernel_size=1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.downsample = downsample

    def forward(self, x: Tensor) -> Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        residual = x if self.downsample is None else self.downsample(x)
        return F.relu(out + residual)


class TaskBankEncoder(nn.Module):
    """Task-bank encoder: images in [-1, 1] -> (N, 8, H/16, W/16) representation."""

    def __init__(self, width: int = 64) -> None:
        super().__init__()
        self.inplanes = width
        self.conv1 = nn.Conv2d(3, width, kernel_size=7, stride=2, padding=0, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=0, ceil_mode=True)
        self.layer1 = self._make_layer(width, 3, stride=2)
        self.layer2 = self._make_layer(2 * width, 4, stride=2)
        self.layer3 = self._make_layer(4 * width, 6)
        self.layer4 = self._make_layer(8 * width, 3)
        self.compress1 = nn.Conv2d(32 * width, 8, kernel_size=3, stride=1, padding=1, bias=False)
        self.compress_bn = nn.BatchNorm2d(8)

    def _make_layer(self, planes: int, blocks: int, stride: int = 1) -> nn.Sequential:
        downsample = None
        if self.inplanes != planes * 4:
            downsample = nn.Sequential(
                nn.Conv2d(self.inplanes, planes * 4, kernel_size=1, stride=1, bias=False),
                nn.BatchNorm2d(planes * 4),
            )
        layers = [_Bottleneck(self.inplanes, planes, downsample=downsample)]
        self.inplanes = planes * 4
        layers += [_Bottleneck(self.inplanes, planes) for _ in range(1, blocks - 1)]
        last = nn.Sequential(nn.MaxPool2d(kernel_size=1, stride=stride)) if stride != 1 else None
        layers.append(_Bottleneck(self.inplanes, planes, stride, last))
        return nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        x = F.pad(x, (3, 3, 3, 3))
        x = self.maxpool(F.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return F.relu(self.compress_bn(self.compress1(x)))


class _Crop(nn.Module):
    """Drop the first row and column (the task bank's 'Scissor' after a padded deconv)."""

    def forward(self, x: Tensor) -> Tensor:
        return x[:, :, 1:, 1:]


def _decoder_layer(cin: int, cout: int, up: bool = False) -> nn.Sequential:
    if up:
        conv = nn.ConvTranspose2d(cin, cout, kernel_size=3, stride=2, padding=1, bias=False)
        return nn.Sequential(nn.ZeroPad2d((1, 0, 1, 0)), conv, _Crop(), nn.BatchNorm2d(cout),
                             nn.LeakyReLU(0.2))
    conv = nn.Conv2d(cin, cout, kernel_size=3, stride=1, padding=1, bias=False)
    return nn.Sequential(conv, nn.BatchNorm2d(cout), nn.LeakyReLU(0.2))


class TaskBankDecoder(nn.Module):
    """Task-bank decoder: pixel decoder (``kind="conv"``) or classification MLP (``"mlp"``).

    Args:
        out_channels: output channels (pixel tasks) or classes (classifiers).
        kind: ``"conv"`` or ``"mlp"``.
        apply_tanh: ``tanh`` on the pixel output.
        width: 64 for the public weights.
        representation_size: side of the 8-channel representation (16 for 256 px).
    """

    def __init__(self, out_channels: int, kind: str = "conv", apply_tanh: bool = True,
                 width: int = 64, representation_size: int = 16) -> None:
        super().__init__()
        self.kind = kind
        if kind == "mlp":
            features = 8 * representation_size * representation_size
            hidden = _scaled(2048, width)
            self.fc0 = nn.Linear(features, hidden, bias=False)
            self.bn0 = nn.BatchNorm1d(hidden)
            self.dropout = nn.Dropout(p=0.5)
            self.fc2 = nn.Linear(hidden, out_channels)
            return
        if kind != "conv":
            raise ValueError(f"decoder kind must be 'conv' or 'mlp', got {kind!r}")
        c = {n: _scaled(n, width) for n in (1024, 512, 256, 128, 64, 32, 16)}
        self.conv2 = _decoder_layer(8, c[1024])
        self.conv3 = _decoder_layer(c[1024], c[1024])
        self.conv4 = _decoder_layer(c[1024], c[512])
        self.conv5 = _decoder_layer(c[512], c[256])
        self.conv6 = _decoder_layer(c[256], c[256])
        self.conv7 = _decoder_layer(c[256], c[128])
        self.deconv8 = _decoder_layer(c[128], c[64], up=True)
        self.conv9 = _decoder_layer(c[64], c[64])
        self.deconv10 = _decoder_layer(c[64], c[32], up=True)
        self.conv11 = _decoder_layer(c[32], c[32])
        self.deconv12 = _decoder_layer(c[32], c[16], up=True)
        self.conv13 = _decoder_layer(c[16], c[32])
        self.deconv14 = _decoder_layer(c[32], c[16], up=True)
        out: list[nn.Module] = [nn.Conv2d(c[16], out_channels, kernel_size=3, padding=1)]
        if apply_tanh:
            out.append(nn.Tanh())
        self.decoder_output = nn.Sequential(*out)

    def forward(self, z: Tensor) -> Tensor:
        if self.kind == "mlp":
            z = z.permute(0, 2, 3, 1).reshape(z.shape[0], -1)  # NHWC, as the TF weights expect
            return self.fc2(self.dropout(F.relu(self.bn0(self.fc0(z)))))
        for name in ("conv2", "conv3", "conv4", "conv5", "conv6", "conv7", "deconv8", "conv9",
                     "deconv10", "conv11", "deconv12", "conv13", "deconv14", "decoder_output"):
            z = getattr(self, name)(z)
        return z


class TaskBankNet(nn.Module):
    """A task-bank model on images in [0, 1]: ``decoder(encoder(2 x - 1))``.

    Args:
        out_channels, decoder, apply_tanh: see :class:`TaskBankDecoder`.
        width: 64 for the public weights.
        image_size: input side (256 for the public weights; a multiple of 16).

    Shape:
        x: ``(N, 3, image_size, image_size)``; ``features(x)``: ``(N, 8, s, s)`` with
        ``s = image_size / 16``; output ``(N, out_channels, image_size, image_size)`` (conv)
        or ``(N, out_channels)`` (mlp).
    """

    arch = "taskbank"

    def __init__(self, out_channels: int, decoder: str = "conv", apply_tanh: bool = True,
                 width: int = 64, image_size: int = 256) -> None:
        super().__init__()
        if image_size % 16 or image_size < 16:
            raise ValueError(f"image_size must be a positive multiple of 16, got {image_size}")
        if width < 1:
            raise ValueError(f"width must be >= 1, got {width}")
        self._config = {"out_channels": int(out_channels), "decoder": decoder,
                        "apply_tanh": bool(apply_tanh), "width": int(width),
                        "image_size": int(image_size)}
        self.encoder = TaskBankEncoder(width)
        self.decoder = TaskBankDecoder(out_channels, decoder, apply_tanh, width, image_size // 16)

    def config(self) -> dict[str, Any]:
        return dict(self._config)

    def features(self, x: Tensor) -> Tensor:
        size = self._config["image_size"]
        if x.dim() != 4 or tuple(x.shape[1:]) != (3, size, size):
            raise ValueError(f"expected (N, 3, {size}, {size}) images, got {tuple(x.shape)}")
        return self.encoder(2.0 * x - 1.0)

    def forward(self, x: Tensor) -> Tensor:
        return self.decoder(self.features(x))


# ------------------------------------------------------------------------- weights


def weight_files(weights_dir: str | os.PathLike[str], task: str) -> dict[str, Path | str]:
    """The encoder and decoder ``.pth`` files of ``task`` in ``weights_dir``.

    Looks for ``<name>_encoder*.pth`` and ``<name>_decoder*.pth`` with ``name`` the
    task-bank weight name (:data:`TASKBANK_TABLE`). A missing file is returned as its glob
    pattern (a ``str``); see :func:`missing_weights_message`.

    Returns:
        ``{"encoder": path or pattern, "decoder": path or pattern}``.
    """
    if task not in TASKBANK_TABLE:
        raise ValueError(f"unknown task-bank task {task!r}")
    name = TASKBANK_TABLE[task][0]
    out: dict[str, Path | str] = {}
    for part in ("encoder", "decoder"):
        pattern = os.path.join(os.fspath(weights_dir), f"{name}_{part}*.pth")
        found = sorted(glob.glob(glob.escape(os.fspath(weights_dir)) + f"/{name}_{part}*.pth"))
        if len(found) > 1:
            raise ValueError(f"several {part} files for task {task}: {found}; keep one")
        out[part] = Path(found[0]) if found else pattern
    return out


def missing_weights_message(weights_dir: str | os.PathLike[str], tasks: Sequence[str]) -> str | None:
    """A message listing every missing weight file of ``tasks`` (``None`` if all exist)."""
    missing = [
        str(f) for t in tasks for f in weight_files(weights_dir, t).values() if isinstance(f, str)
    ]
    if not missing:
        return None
    return (
        f"Taskonomy task-bank weights missing in {weights_dir}: expected "
        + ", ".join(missing) + f". {TASKBANK_WEIGHTS_HINT}."
    )


def read_state_dict(path: str | os.PathLike[str]) -> dict[str, Tensor]:
    """Read a third-party ``.pth`` state dict with ``torch.load(weights_only=True)``.

    Accepts ``{"state_dict": {...}}`` (the task-bank files) or a bare state dict.
    """
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - re-raised with the file name and the reason
        raise ValueError(
            f"cannot read {path} as a weights-only state dict (no pickled objects are "
            f"executed): {err}"
        ) from err
    if isinstance(obj, Mapping) and "state_dict" in obj:
        obj = obj["state_dict"]
    if not isinstance(obj, Mapping) or not all(isinstance(v, Tensor) for v in obj.values()):
        raise ValueError(f"{path} does not hold a state dict of tensors")
    return {str(k).removeprefix("module."): v for k, v in obj.items()}


def build_taskbank_model(
    task: TaskSpec,
    encoder_state: Mapping[str, Tensor],
    decoder_state: Mapping[str, Tensor],
    *,
    width: int = 64,
    image_size: int = 256,
) -> TaskBankNet:
    """A :class:`TaskBankNet` for ``task`` with the given encoder / decoder state dicts.

    Raises:
        ValueError: missing, unexpected or mis-shaped tensors (the message names them and
            the ``width`` / ``image_size`` that were assumed).
    """
    _, channels, decoder, tanh, _ = TASKBANK_TABLE[task.name]
    model = TaskBankNet(channels, decoder, tanh, width, image_size)
    for part, module, state in (("encoder", model.encoder, encoder_state),
                                ("decoder", model.decoder, decoder_state)):
        expected = module.state_dict()
        problems = sorted(set(expected) ^ set(state)) + [
            f"{k}: {tuple(state[k].shape)} vs {tuple(expected[k].shape)}"
            for k in set(expected) & set(state) if state[k].shape != expected[k].shape
        ]
        if problems:
            raise ValueError(
                f"{task.name} {part} weights do not fit the task-bank architecture with "
                f"width {width} and image_size {image_size}: {problems[:6]}"
            )
        module.load_state_dict(state, strict=True)
    return model.eval()


# -------------------------------------------------------------------------- images


def list_images(images_dir: str | os.PathLike[str]) -> list[Path]:
    """Image files (:data:`IMAGE_SUFFIXES`) directly in ``images_dir``, sorted by name."""
    directory = Path(images_dir)
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def select_images(
    images_dir: str | os.PathLike[str], n_images: int, seed: int
) -> list[Path]:
    """A seeded sample of ``n_images`` image files, in name order.

    Raises:
        FileNotFoundError: fewer than ``n_images`` images (the message says where and how
            to fix it).
    """
    files = list_images(images_dir)
    if len(files) < n_images:
        raise FileNotFoundError(
            f"need {n_images} images ({', '.join(IMAGE_SUFFIXES)}) in {images_dir}, found "
            f"{len(files)}: point tasks.taskbank.images_dir at a folder of Taskonomy RGB "
            "images (e.g. the taskonomy-sample-model-1 rgb/ folder of the Taskonomy data "
            "set) or lower tasks.attack.n_images"
        )
    rng = np.random.default_rng(seed)
    keep = np.sort(rng.choice(len(files), size=n_images, replace=False))
    return [files[i] for i in keep]


def load_images(paths: Sequence[str | os.PathLike[str]], image_size: int) -> Tensor:
    """Load RGB images, resize the shorter side to ``image_size`` and centre-crop.

    Returns:
        ``(N, 3, image_size, image_size)`` uint8 tensor.
    """
    from PIL import Image

    out = torch.empty((len(paths), 3, image_size, image_size), dtype=torch.uint8)
    for i, path in enumerate(paths):
        with Image.open(path) as img:
            img = img.convert("RGB")
            w, h = img.size
            scale = image_size / min(w, h)
            nw, nh = max(image_size, round(w * scale)), max(image_size, round(h * scale))
            img = img.resize((nw, nh), Image.Resampling.BILINEAR)
            left, top = (nw - image_size) // 2, (nh - image_size) // 2
            img = img.crop((left, top, left + image_size, top + image_size))
            out[i] = torch.from_numpy(np.asarray(img, dtype=np.uint8).copy()).permute(2, 0, 1)
    return out
