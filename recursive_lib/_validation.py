"""Checks used at every public boundary.

Each raises ``ValueError`` with a message that names the parameter, the allowed range and the value
received, e.g. ``alpha must be in (0, 1], got 1.5``.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable
from typing import Any


def check_range(
    name: str, value: Any, low: float, high: float, low_inclusive: bool = True, high_inclusive: bool = True
) -> float:
    """Return ``float(value)`` if it is a real number in the interval, else raise ``ValueError``."""
    left = "[" if low_inclusive else "("
    right = "]" if high_inclusive else ")"
    interval = f"{left}{_fmt(low)}, {_fmt(high)}{right}"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a real number in {interval}, got {value!r}")
    v = float(value)
    ok_low = v >= low if low_inclusive else v > low
    ok_high = v <= high if high_inclusive else v < high
    if not (ok_low and ok_high) or v != v:
        raise ValueError(f"{name} must be in {interval}, got {value!r}")
    return v


def check_int(name: str, value: Any, minimum: int) -> int:
    """Return ``int(value)`` if it is an integer ``>= minimum`` (bools refused), else raise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_choice(name: str, value: Any, choices: Iterable[Any]) -> Any:
    """Return ``value`` if it is one of ``choices``, else raise ``ValueError`` listing them."""
    choices = tuple(choices)
    if value not in choices:
        allowed = ", ".join(repr(c) for c in choices)
        raise ValueError(f"{name} must be one of {allowed}, got {value!r}")
    return value


def _fmt(x: float) -> str:
    if x == float("inf"):
        return "inf"
    if x == float("-inf"):
        return "-inf"
    return f"{x:g}"
