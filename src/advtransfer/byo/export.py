"""Write a model with ``features(x)`` and ``forward(x)`` as a candidate file other tools
can produce too: a ``torch.export`` program (format ``export``) or a TorchScript archive
(format ``torchscript``), following the conventions of :mod:`advtransfer.images.sources`.

The byo example (configs/byo_example.yaml) uses them to turn models of the default run
into candidates of those formats.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import Tensor, nn

__all__ = ["LogitsAndFeatures", "save_export", "save_torchscript"]


class LogitsAndFeatures(nn.Module):
    """``forward(x) -> (logits, features)``: the ``features: tuple`` convention of an
    exported program (one entry point) for a model with ``features`` and ``forward``."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        return self.model(x), self.model.features(x)


def _example(shape: Sequence[int]) -> Tensor:
    return torch.rand((2, *[int(v) for v in shape]), generator=torch.Generator().manual_seed(0))


def save_export(model: nn.Module, path: str | Path, shape: Sequence[int]) -> None:
    """``torch.export`` ``model`` (eval mode, dynamic batch) as ``(logits, features)``."""
    module = LogitsAndFeatures(model.eval()).eval()
    program = torch.export.export(module, (_example(shape),),
                                  dynamic_shapes=({0: torch.export.Dim("batch")},))
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    torch.export.save(program, str(path))


def save_torchscript(model: nn.Module, path: str | Path, shape: Sequence[int]) -> None:
    """Trace ``model`` (eval mode) with its ``forward`` and ``features`` methods."""
    x = _example(shape)
    with warnings.catch_warnings():  # torch >= 2.9 deprecates TorchScript loudly
        warnings.simplefilter("ignore", FutureWarning)
        traced = torch.jit.trace_module(model.eval(), {"forward": x, "features": x})
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        torch.jit.save(traced, str(path))
