"""Small torch helpers shared by every layer: mode and device of a model.

Pure functions; no file I/O.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn

__all__ = ["eval_mode", "model_device", "pick_device"]


@contextmanager
def eval_mode(model: nn.Module) -> Iterator[None]:
    """Put every submodule in eval mode and restore each one's own flag afterwards.

    ``model.train(was_training)`` would overwrite submodules that had been set to a
    different mode on purpose (e.g. a frozen BatchNorm), so the flags are saved per module.
    """
    saved = [(module, module.training) for module in model.modules()]
    model.eval()
    try:
        yield
    finally:
        for module, flag in saved:
            module.training = flag


def model_device(model: nn.Module, fallback: torch.device) -> torch.device:
    """Device of the model's first parameter or buffer, else ``fallback``."""
    for tensor in model.parameters():
        return tensor.device
    for tensor in model.buffers():
        return tensor.device
    return fallback


def pick_device(prefer: str = "auto") -> torch.device:
    """Choose the device to compute on.

    Args:
        prefer: ``"auto"`` (CUDA if available, else CPU), ``"cpu"``, or ``"cuda"`` /
            ``"cuda:<i>"``.

    Returns:
        the torch device.

    Raises:
        ValueError: an unknown name, or CUDA requested but not available.
    """
    if prefer == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if prefer == "cpu":
        return torch.device("cpu")
    if prefer == "cuda" or prefer.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise ValueError(f"device {prefer!r} requested but CUDA is not available")
        return torch.device(prefer)
    raise ValueError(f"unknown device {prefer!r}; use 'auto', 'cpu', 'cuda' or 'cuda:<i>'")
