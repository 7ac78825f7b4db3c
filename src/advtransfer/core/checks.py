"""Argument checks shared by every layer, each raising ValueError that names the argument.

Pure functions; no file I/O.
"""

from __future__ import annotations

import math
from numbers import Integral, Real
from typing import Any

__all__ = ["check_batch_size", "check_positive_int", "check_positive_number"]


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
