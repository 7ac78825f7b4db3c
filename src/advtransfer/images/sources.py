"""Bring-your-own source models: load user networks behind the advtransfer interface.

Every loaded model maps images ``(N, C, H, W)`` in ``[0, 1]`` to outputs and has a
``features(x) -> (N, k)`` method (the frozen representation that probes and
feature-based estimators see), like :class:`advtransfer.images.architectures.Classifier`.
Input normalisation ``(x - mean) / std`` happens inside the wrapper, so attacks work in
pixel space.

A source is described by a *spec* (one entry of ``byo.models`` in the config)::

    {"name": ..., "format": ..., "file": ..., "arch": ..., "features": ..., "mean": ..., "std": ...}

Formats:

``torchvision``
    ``arch`` is a ``torchvision.models`` classification model name (e.g. ``resnet18``);
    ``file`` is its state dict, either ``.safetensors`` or a ``torch.save`` file read
    with ``torch.load(weights_only=True)`` (no pickled code is executed). The number of
    classes is read from the weights. The final ``nn.Linear`` (the last one the model
    registers, checked to produce the model's output) is the source head; the features
    are its input, the penultimate layer. Default normalisation: ImageNet mean and std.
``torchscript``
    ``file`` is a ``torch.jit.save`` archive. With ``features: method`` (the default)
    the module must export a method ``features(x) -> (N, k)`` (decorate it with
    ``@torch.jit.export``) and ``forward`` returns the source logits. With
    ``features: output`` the forward output itself is the feature vector and the model
    has no source head (LEEP and NCE are then undefined, and the PGD attack uses the
    squared output deviation). Default normalisation: none (the module gets [0, 1]
    pixels).
``export``
    ``file`` is a ``torch.export`` program (``torch.export.save``, usually ``.pt2``), the
    successor of TorchScript; it is read with ``torch.export.load``. An exported program
    has one entry point, so the features come from its output: with ``features: tuple``
    (the default) ``forward(x)`` returns ``(logits, features)``; with ``features: output``
    it returns the features alone and the model has no source head (as for TorchScript).
    Export the model in eval mode with a dynamic batch dimension, e.g.::

        class WithFeatures(nn.Module):          # wraps your classifier
            def __init__(self, net):
                super().__init__()
                self.net = net
            def forward(self, x):
                feats = self.net.features(x)    # (N, k) penultimate features
                return self.net.head(feats), feats

        program = torch.export.export(
            WithFeatures(net).eval(), (torch.rand(2, 3, 32, 32),),
            dynamic_shapes=({0: torch.export.Dim("batch")},))
        torch.export.save(program, "my_net.pt2")

    Default normalisation: none (the program gets [0, 1] pixels).
``safetensors``
    ``file`` holds the weights of a registered advtransfer architecture
    (:func:`advtransfer.images.architectures.available_architectures`). With the JSON sidecar of
    :func:`advtransfer.images.architectures.save_model` beside it the model is rebuilt from the
    sidecar; otherwise ``arch`` (or the file's ``arch`` metadata) names the architecture
    and the class count, channels and normalisation are read from the weights.
``advtransfer``
    A model written by the workflow itself (weights plus sidecar); used internally for
    the models of the image scenarios and the byo reference.

:func:`check_source_file` does the cheap file-level checks (no torch model is built) so
the workflow can reject a bad spec before any job starts; :func:`load_source` loads and
wraps the model; with ``verify_shape`` it also runs it once on a dummy batch.
"""

from __future__ import annotations

import json
import warnings
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from advtransfer import io
from advtransfer.core.checks import check_batch_size
from advtransfer.images import architectures

__all__ = [
    "FORMATS",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "ModelFileError",
    "SourceModel",
    "check_source_file",
    "load_source",
    "describe_source",
    "features_and_logits",
    "spec_summary",
    "attack_loss",
]

#: Source model formats understood by :func:`load_source`.
FORMATS = ("torchvision", "torchscript", "export", "safetensors", "advtransfer")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
_STATE_DICT_KEYS = ("state_dict", "model_state_dict", "model")
#: The fix for a damaged candidate file (the user's file: the workflow cannot rebuild it).
_REPLACE_FIX = "replace it with a complete copy (re-export or re-download the model)"


class ModelFileError(ValueError):
    """A source model file is missing, unreadable or does not match its spec."""


class _CallMethod(nn.Module):
    """``forward`` calls a named method of a (TorchScript) module."""

    def __init__(self, module: nn.Module, method: str) -> None:
        super().__init__()
        self.module = module
        self.method = method

    def forward(self, z: Tensor) -> Tensor:
        return getattr(self.module, self.method)(z)


class SourceModel(nn.Module):
    """A user network behind the advtransfer interface.

    Args:
        trunk: maps normalised images to features (any shape; flattened to (N, k)).
        head: optional ``nn.Linear`` from features to source logits.
        logits_net: optional network from normalised images to source logits (used when
            there is no ``head``, e.g. a TorchScript module's ``forward``).
        mean, std: per-channel input normalisation in [0, 1] pixel units (``None``: none).
        name: for messages.

    Shape:
        x: (N, C, H, W) in [0, 1]; ``features(x)``: (N, k); ``forward(x)``: (N, Z) logits,
        or the features when the model has no source head.
    """

    def __init__(
        self,
        trunk: nn.Module,
        *,
        head: nn.Module | None = None,
        logits_net: nn.Module | None = None,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
        name: str = "source",
    ) -> None:
        super().__init__()
        if head is not None and logits_net is not None:
            raise ValueError("give a head or a logits_net, not both")
        if (mean is None) != (std is None):
            raise ValueError("give mean and std together")
        self.trunk = trunk
        self.head = head
        self.logits_net = logits_net
        self.name = name
        self.normalized = mean is not None
        if mean is not None:
            mean_t = torch.as_tensor([float(v) for v in mean], dtype=torch.float32)
            std_t = torch.as_tensor([float(v) for v in std], dtype=torch.float32)
            if mean_t.numel() != std_t.numel() or not torch.all(std_t > 0):
                raise ValueError(f"{name}: mean and std need one value per channel, std > 0")
            self.register_buffer("mean", mean_t.view(1, -1, 1, 1))
            self.register_buffer("std", std_t.view(1, -1, 1, 1))

    @property
    def has_head(self) -> bool:
        """Whether the model produces source-class logits (needed by LEEP and NCE)."""
        return self.head is not None or self.logits_net is not None

    def normalize(self, x: Tensor) -> Tensor:
        """``(x - mean) / std`` per channel, or ``x`` unchanged without normalisation."""
        if not self.normalized:
            return x
        if x.dim() != 4 or x.shape[1] != self.mean.shape[1]:
            raise ValueError(
                f"{self.name}: expected images (N, {self.mean.shape[1]}, H, W), "
                f"got {tuple(x.shape)}"
            )
        return (x - self.mean) / self.std

    def features(self, x: Tensor) -> Tensor:
        """Frozen features of images in [0, 1], flattened to (N, k)."""
        out = self.trunk(self.normalize(x))
        return out.reshape(out.shape[0], -1)

    def forward(self, x: Tensor) -> Tensor:
        """Source logits (or the features when there is no source head)."""
        if self.logits_net is not None:
            return self.logits_net(self.normalize(x))
        feats = self.features(x)
        return self.head(feats) if self.head is not None else feats


# ---------------------------------------------------------------------------------------
# file-level checks
# ---------------------------------------------------------------------------------------


def _spec_name(spec: Mapping[str, Any]) -> str:
    return str(spec.get("name", spec.get("file", "model")))


def _is_safetensors(path: Path) -> bool:
    """True if ``path`` starts with a safetensors header (8-byte length + JSON object)."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(8)
            if len(head) != 8:
                return False
            length = int.from_bytes(head, "little")
            if not 2 <= length <= 100_000_000:
                return False
            return handle.read(1) == b"{"
    except OSError:
        return False


def _is_torchscript(path: Path) -> bool:
    """True for a ``torch.jit.save`` archive (a zip holding serialised ``code/``)."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        return any("/code/" in entry for entry in archive.namelist())


def _is_export(path: Path) -> bool:
    """True for a ``torch.export.save`` archive (a zip with an ``archive_format`` entry)."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        return any(entry.endswith("archive_format") for entry in archive.namelist())


def check_source_file(spec: Mapping[str, Any]) -> None:
    """Cheap checks of a source spec and its file, without building a model.

    Checks that the format is known, the file exists, and its bytes match the format
    (a TorchScript archive is a zip file; a ``.safetensors`` file starts with a
    safetensors header; a ``torch.save`` file is a zip file or a legacy pickle).

    Raises:
        ModelFileError: naming the model, the path and the fix.
    """
    name, fmt = _spec_name(spec), spec.get("format")
    if fmt not in FORMATS:
        raise ModelFileError(
            f"model {name}: unknown format {fmt!r}; use one of {', '.join(FORMATS[:4])}"
        )
    path = Path(spec.get("file", ""))
    if not spec.get("file") or not path.is_file():
        raise ModelFileError(
            f"model {name}: file {path} not found (relative paths are read from the "
            "working directory). Fix the `file` entry of byo.models or copy the file there."
        )
    if path.stat().st_size == 0:
        raise ModelFileError(f"model {name}: file {path} is empty; re-export the model")
    if fmt == "torchscript" and not _is_torchscript(path):
        raise ModelFileError(
            f"model {name}: {path} is not a TorchScript archive (no serialised code in it). "
            "Fix: export it with torch.jit.save(torch.jit.script(model), path), or use "
            "format torchvision / safetensors for a state dict"
            + (", or `format: export` for this torch.export program." if _is_export(path)
               else ".")
        )
    if fmt == "export" and not _is_export(path):
        raise ModelFileError(
            f"model {name}: {path} is not a torch.export program (.pt2 archive). Fix: save "
            "it with torch.export.save(torch.export.export(model, (x,)), path)"
            + (", or set `format: torchscript` for this TorchScript archive."
               if _is_torchscript(path) else ".")
        )
    wants_safetensors = fmt in ("safetensors", "advtransfer") or path.suffix == ".safetensors"
    if wants_safetensors and not _is_safetensors(path):
        raise ModelFileError(
            f"model {name}: {path} is not a safetensors file. Fix: save the weights with "
            "safetensors.torch.save_file(model.state_dict(), path)"
            + (", or give a torch.save file a .pt/.pth name" if fmt == "torchvision" else "")
        )
    if wants_safetensors:
        try:  # reads and checks the header only (tensor offsets against the file size)
            with io.open_tensors(path, fix=_REPLACE_FIX):
                pass
        except io.CorruptFileError as err:
            raise ModelFileError(f"model {name}: {err}") from err
    if fmt == "torchvision" and _is_torchscript(path):
        raise ModelFileError(
            f"model {name}: {path} is a TorchScript archive, not a state dict. Fix: set "
            "`format: torchscript` for it, or save torch.save(model.state_dict(), path)."
        )
    if fmt == "torchvision" and not wants_safetensors and not zipfile.is_zipfile(path):
        with open(path, "rb") as handle:
            if handle.read(1) != b"\x80":  # pickle protocol marker of legacy torch.save
                raise ModelFileError(
                    f"model {name}: {path} is neither a torch.save file nor safetensors. "
                    "Fix: save the weights with torch.save(model.state_dict(), path)."
                )


# ---------------------------------------------------------------------------------------
# loaders
# ---------------------------------------------------------------------------------------


def _norm(spec: Mapping[str, Any], default: tuple | None) -> tuple[Any, Any]:
    mean, std = spec.get("mean"), spec.get("std")
    if (mean is None) != (std is None):
        raise ModelFileError(f"model {_spec_name(spec)}: give `mean` and `std` together")
    if mean is None and default is not None:
        return default
    return mean, std


def _read_state_dict(path: Path, name: str) -> dict[str, Tensor]:
    """A flat ``{name: tensor}`` state dict from safetensors or ``torch.load(weights_only)``."""
    if path.suffix == ".safetensors":
        try:
            return io.load_tensors(path, fix=_REPLACE_FIX)
        except io.CorruptFileError as err:
            raise ModelFileError(f"model {name}: {err}") from err
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # noqa: BLE001 - torch raises many types for bad pickles
        raise ModelFileError(
            f"model {name}: cannot read {path} with torch.load(weights_only=True): "
            f"{_fail_message(err)}. Fix: save only the weights, "
            "torch.save(model.state_dict(), path), or use safetensors."
        ) from err
    if isinstance(obj, Mapping):
        for key in _STATE_DICT_KEYS:
            if isinstance(obj.get(key), Mapping) and len(obj) <= 4:
                obj = obj[key]
                break
    if not isinstance(obj, Mapping) or not all(isinstance(v, Tensor) for v in obj.values()):
        raise ModelFileError(
            f"model {name}: {path} does not hold a state dict of tensors. Fix: save it with "
            "torch.save(model.state_dict(), path)."
        )
    state = dict(obj)
    if state and all(k.startswith("module.") for k in state):  # nn.DataParallel
        state = {k.removeprefix("module."): v for k, v in state.items()}
    return state


def _load_strict(model: nn.Module, state: Mapping[str, Tensor], name: str, path: Path,
                 what: str) -> None:
    problems = architectures.state_dict_problems(model, state, what)
    if problems:
        raise ModelFileError(
            f"model {name}: weights in {path} do not fit {what}: " + "; ".join(problems[:6])
            + ". Fix: check `arch`, or export the model as TorchScript."
        )
    model.load_state_dict(state, strict=True)


def _set_submodule(root: nn.Module, dotted: str, module: nn.Module) -> None:
    parent_name, _, child = dotted.rpartition(".")
    parent = root.get_submodule(parent_name) if parent_name else root
    setattr(parent, child, module)


def _load_torchvision(spec: Mapping[str, Any], path: Path, name: str) -> SourceModel:
    import torchvision

    arch = spec.get("arch")
    known = torchvision.models.list_models(module=torchvision.models)
    if arch not in known:
        raise ModelFileError(
            f"model {name}: {arch!r} is not a torchvision classification model; set `arch` "
            f"to one of torchvision.models.list_models(), e.g. {', '.join(known[:6])}, ..."
        )
    state = _read_state_dict(path, name)
    model = torchvision.models.get_model(arch, weights=None)
    linears = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise ModelFileError(
            f"model {name}: torchvision {arch} has no final nn.Linear to strip; export it as "
            "TorchScript with a `features` method instead"
        )
    head_name, head = linears[-1]
    weight = state.get(f"{head_name}.weight")
    if weight is not None and weight.ndim == 2 and tuple(weight.shape) != tuple(head.weight.shape):
        if weight.shape[1] != head.in_features:
            raise ModelFileError(
                f"model {name}: {path} has {head_name}.weight of shape {tuple(weight.shape)}, "
                f"torchvision {arch} has {head.in_features} penultimate features; check `arch`"
            )
        head = nn.Linear(head.in_features, weight.shape[0], bias=head.bias is not None)
        _set_submodule(model, head_name, head)
    _load_strict(model, state, name, path, f"torchvision {arch}")
    _set_submodule(model, head_name, nn.Identity())
    mean, std = _norm(spec, (IMAGENET_MEAN, IMAGENET_STD))
    wrapped = SourceModel(model, head=head, mean=mean, std=std, name=name)
    wrapped._head_name = head_name  # noqa: SLF001 - for messages
    return wrapped


def _load_torchscript(spec: Mapping[str, Any], path: Path, name: str) -> SourceModel:
    try:
        with warnings.catch_warnings():  # torch >= 2.9 deprecates TorchScript loudly
            warnings.simplefilter("ignore", FutureWarning)
            module = torch.jit.load(str(path), map_location="cpu")
    except Exception as err:  # noqa: BLE001 - jit raises RuntimeError and others
        raise ModelFileError(
            f"model {name}: cannot load TorchScript archive {path}: "
            f"{_fail_message(err)}. Fix: export with torch.jit.save."
        ) from err
    mode = spec.get("features") or "method"
    mean, std = _norm(spec, None)
    if mode == "method":
        method = getattr(module, "features", None)
        if method is None or isinstance(method, nn.Module):
            raise ModelFileError(
                f"model {name}: TorchScript module {path} exports no `features(x)` method. "
                "Fix: add `@torch.jit.export def features(self, x)` returning the "
                "penultimate (N, k) features before scripting (or trace with "
                "torch.jit.trace_module(model, {'forward': x, 'features': x})), or set "
                "`features: output` "
                "to use the module's output as features (no source head)."
            )
        return SourceModel(_CallMethod(module, "features"), logits_net=module, mean=mean,
                           std=std, name=name)
    if mode == "output":
        return SourceModel(module, mean=mean, std=std, name=name)
    raise ModelFileError(f"model {name}: `features` must be method or output, got {mode!r}")


class _ExportedOutput(nn.Module):
    """One output of an exported program's module (``index`` None: the whole output).

    Exported modules refuse ``train()`` / ``eval()`` (their mode is fixed at export), so
    this wrapper keeps them out of mode switches.
    """

    def __init__(self, module: nn.Module, index: int | None) -> None:
        super().__init__()
        self.module = module
        self.index = index

    def train(self, mode: bool = True) -> _ExportedOutput:  # noqa: ARG002 - fixed at export
        self.training = False
        return self

    def forward(self, z: Tensor) -> Tensor:
        out = self.module(z)
        if self.index is None:
            return out
        if not isinstance(out, (tuple, list)) or len(out) != 2:
            raise ValueError("the exported program returns one tensor, not (logits, features); "
                             "set `features: output` to use it as the features")
        return out[self.index]


def _load_export(spec: Mapping[str, Any], path: Path, name: str) -> SourceModel:
    try:
        module = torch.export.load(str(path)).module()
    except Exception as err:  # noqa: BLE001 - export raises many types for bad archives
        raise ModelFileError(
            f"model {name}: cannot load torch.export program {path}: "
            f"{_fail_message(err)}. Fix: save it with torch.export.save."
        ) from err
    mode = spec.get("features") or "tuple"
    mean, std = _norm(spec, None)
    if mode == "tuple":
        return SourceModel(_ExportedOutput(module, 1), logits_net=_ExportedOutput(module, 0),
                           mean=mean, std=std, name=name)
    if mode == "output":
        return SourceModel(_ExportedOutput(module, None), mean=mean, std=std, name=name)
    raise ModelFileError(
        f"model {name}: `features` of an exported program must be tuple (forward returns "
        f"(logits, features)) or output (forward returns features), got {mode!r}"
    )


def _load_safetensors(spec: Mapping[str, Any], path: Path, name: str) -> nn.Module:
    if architectures.sidecar_path(path).is_file() and not spec.get("arch"):
        try:
            model, _ = architectures.load_model(path)
        except ValueError as err:
            raise ModelFileError(f"model {name}: {err}") from err
        return model
    try:
        with io.open_tensors(path, fix=_REPLACE_FIX) as handle:
            file_arch = (handle.metadata() or {}).get("arch")
    except io.CorruptFileError as err:
        raise ModelFileError(f"model {name}: {err}") from err
    arch = spec.get("arch") or file_arch
    known = architectures.available_architectures()
    if arch not in known:
        raise ModelFileError(
            f"model {name}: {path} needs a registered architecture; set `arch` to one of "
            f"{', '.join(known)} (got {arch!r}), or use format torchvision for a "
            "torchvision model's safetensors weights"
        )
    state = _read_state_dict(path, name)
    needed = ("head.weight", "mean", "std")
    if any(k not in state for k in needed):
        raise ModelFileError(
            f"model {name}: {path} lacks {', '.join(k for k in needed if k not in state)}; "
            f"it is not a state dict of the advtransfer architecture {arch}"
        )
    mean = state["mean"].flatten().tolist()
    model = architectures.build_model(
        arch, num_classes=int(state["head.weight"].shape[0]), in_channels=len(mean),
        mean=mean, std=state["std"].flatten().tolist(),
    )
    _load_strict(model, state, name, path, f"advtransfer architecture {arch}")
    return model


def load_source(
    spec: Mapping[str, Any],
    *,
    verify_shape: Sequence[int] | None = None,
) -> nn.Module:
    """Load a source model described by ``spec`` (see the module docstring), in eval mode.

    Args:
        spec: ``{"format", "file", ...}``; ``name`` is used in messages.
        verify_shape: optional image shape ``(C, H, W)``: run the model once on a random
            batch of two such images and check that features are (2, k), logits finite,
            and (torchvision) that the stripped head reproduces the original output.

    Returns:
        a module with ``features(x)`` and ``forward(x)``; :class:`SourceModel` or
        :class:`advtransfer.images.architectures.Classifier`.

    Raises:
        ModelFileError: any problem with the file or the spec, naming the path.
    """
    check_source_file(spec)
    name, fmt, path = _spec_name(spec), spec["format"], Path(spec["file"])
    head = None
    if fmt == "torchvision":
        model = _load_torchvision(spec, path, name)
        head = model.head
    elif fmt == "torchscript":
        model = _load_torchscript(spec, path, name)
    elif fmt == "export":
        model = _load_export(spec, path, name)
    elif fmt == "safetensors":
        model = _load_safetensors(spec, path, name)
    else:  # advtransfer
        try:
            model, _ = architectures.load_model(path)
        except (ValueError, FileNotFoundError) as err:
            raise ModelFileError(f"model {name}: {err}") from err
    model.eval()
    if verify_shape is not None:
        _verify(model, name, tuple(int(v) for v in verify_shape), head)
    return model


def _fail_message(err: Exception, limit: int = 200) -> str:
    """First line of an exception message, shortened."""
    text = str(err).splitlines()[0] if str(err) else type(err).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _verify(model: nn.Module, name: str, shape: tuple[int, ...], head: nn.Module | None) -> None:
    gen = torch.Generator().manual_seed(0)
    x = torch.rand((2, *shape), generator=gen)
    try:
        with torch.no_grad():
            feats = model.features(x)
    except Exception as err:  # noqa: BLE001 - any failure of user code
        raise ModelFileError(
            f"model {name} fails on images of shape {shape} (C, H, W): {_fail_message(err)}. "
            "Fix: set byo.target.image_size / channels to what the model accepts."
        ) from err
    if feats.ndim != 2 or feats.shape[0] != 2:
        raise ModelFileError(
            f"model {name}: features(x) must return (N, k), got {tuple(feats.shape)}"
        )
    head_name = getattr(model, "_head_name", None)
    if head is not None and head_name is not None:
        # The stripped nn.Linear must be the output layer: only then does the original
        # network's output equal head(features). Check with the head put back.
        _set_submodule(model.trunk, head_name, head)
        try:
            with torch.no_grad():
                full = model.trunk(model.normalize(x))
        finally:
            _set_submodule(model.trunk, head_name, nn.Identity())
        try:
            with torch.no_grad():
                same = torch.allclose(full, head(feats), rtol=1e-4, atol=1e-5)
        except RuntimeError:
            same = False
        if not same:
            raise ModelFileError(
                f"model {name}: the last nn.Linear ({head_name}) is not the output layer of "
                "this torchvision model, so its input is not the penultimate layer. Fix: "
                "export the model as TorchScript with a `features` method."
            )
    try:
        with torch.no_grad():
            out = model(x)
    except Exception as err:  # noqa: BLE001 - any failure of user code
        raise ModelFileError(f"model {name}: forward fails: {_fail_message(err)}") from err
    if out.ndim != 2 or out.shape[0] != 2:
        raise ModelFileError(f"model {name}: forward(x) must return (N, Z), got {tuple(out.shape)}")
    if not (torch.isfinite(feats).all() and torch.isfinite(out).all()):
        raise ModelFileError(f"model {name}: non-finite features or outputs on random images")


def describe_source(model: nn.Module, shape: Sequence[int]) -> dict[str, Any]:
    """Feature width, source classes and parameter count of a loaded model.

    Args:
        model: from :func:`load_source`.
        shape: one image's shape ``(C, H, W)``.

    Returns:
        ``{"feature_dim", "num_source_classes" (0 without head), "parameters"}``.
    """
    x = torch.rand((1, *[int(v) for v in shape]), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        feats = model.features(x)
        out = model(x)
    head = getattr(model, "has_head", True)
    return {
        "feature_dim": int(feats.reshape(1, -1).shape[1]),
        "num_source_classes": int(out.shape[1]) if head else 0,
        "parameters": int(sum(p.numel() for p in model.parameters())),
    }


def features_and_logits(
    model: nn.Module, x: Tensor, *, batch_size: int = 256
) -> tuple[Tensor, Tensor | None]:
    """Frozen features and source logits of images ``x`` in one pass, in batches.

    Logits are ``head(features)`` when the model has a linear head, else ``model(x)``;
    ``None`` for a model without source head (``has_head`` false).

    Shape:
        x (N, C, H, W) in [0, 1] -> features (N, k), logits (N, Z).
    """
    check_batch_size(batch_size)
    has_head = getattr(model, "has_head", True)
    head = getattr(model, "head", None)
    model.eval()
    feats, logits = [], []
    with torch.no_grad():
        for start in range(0, x.shape[0], batch_size):
            xb = x[start : start + batch_size]
            f = model.features(xb)
            f = f.reshape(f.shape[0], -1)
            feats.append(f.cpu())
            if has_head:
                logits.append((head(f) if head is not None else model(xb)).cpu())
    return torch.cat(feats), (torch.cat(logits) if has_head else None)


def spec_summary(spec: Mapping[str, Any]) -> str:
    """One-line description of a spec, for logs and tables."""
    keep = {k: spec[k] for k in ("format", "arch", "file", "features") if spec.get(k)}
    return json.dumps(keep, sort_keys=True)


def attack_loss(model: nn.Module, loss: str) -> str:
    """The PGD source loss to use for ``model``: ``loss``, or ``"mse_clean"`` (squared
    output deviation) for a model without source head, whose outputs are features rather
    than class logits (see :func:`advtransfer.core.attacks.pgd_attack`)."""
    return loss if getattr(model, "has_head", True) else "mse_clean"
