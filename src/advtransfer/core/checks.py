"""Argument checks shared by every layer, each raising ValueError that names the argument.

Pure functions; no file I/O.
"""

from __future__ import annotations

import math
import sys
from numbers import Integral, Real
from typing import Any

import numpy as np

__all__ = ["check_batch_size", "check_finite", "check_positive_int", "check_positive_number"]


def check_positive_int(value: Any, name: str) -> int:
    """Return ``value`` as an int; raise ValueError unless it is an integer >= 1 (not a bool)."""
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def check_batch_size(batch_size: Any) -> int:
    """:func:`check_positive_int` for the ubiquitous ``batch_size`` argument."""
    return check_positive_int(batch_size, "batch_size")


def check_positive_number(value: Any, name: str) -> float:
    """Return ``value`` as a float; raise ValueError unless it is finite and > 0."""
    if isinstance(value, bool) or not isinstance(value, Real) or not (
        math.isfinite(value) and value > 0
    ):
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return float(value)


def check_finite(array: Any, name: str) -> Any:
    """Return ``array`` unchanged; raise ValueError if it holds NaN or infinite values.

    ``array`` is a torch tensor or anything NumPy reads as a numeric array. The message
    names the argument, how many entries are not finite, and the first one's index and
    value, so that the NaN can be traced back to the model or data that produced it.
    """
    torch = sys.modules.get("torch")  # not imported here: NumPy-only callers stay light
    if torch is not None and isinstance(array, torch.Tensor):
        if not (array.is_floating_point() or array.is_complex()):
            return array
        # Fast path: any NaN or inf makes the sum non-finite (a sum that overflows from
        # finite entries only falls through to the exact check below).
        if bool(torch.isfinite(array.detach().sum())):
            return array
        bad = ~torch.isfinite(array.detach())
        if not bool(bad.any()):
            return array
        count = int(bad.sum())
        index = tuple(int(i) for i in torch.nonzero(bad)[0])
        value = array.detach()[index].item()
    else:
        values = np.asarray(array)
        if values.dtype.kind not in "fc":
            return array
        bad = ~np.isfinite(values)
        if not bad.any():
            return array
        count = int(bad.sum())
        index = tuple(int(i) for i in np.argwhere(bad)[0])
        value = values[index].item()
    where = f" at index {index}" if index else ""
    raise ValueError(
        f"{name} contains {count} NaN or infinite value(s) (first: {value}{where}); "
        "inputs must be finite: check the model or data that produced it"
    )
