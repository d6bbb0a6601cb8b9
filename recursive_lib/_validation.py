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


def check_fields(what: str, names: Iterable[str], allowed: list[str]) -> None:
    """Raise ``ValueError`` for the first of ``names`` not in ``allowed``: it says
    ``unknown {what} field 'x'``, suggests the closest allowed name and lists them all."""
    import difflib

    for name in names:
        if name not in allowed:
            close = difflib.get_close_matches(name, allowed, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise ValueError(f"unknown {what} field {name!r}{hint} Fields: {allowed}")


def _fmt(x: float) -> str:
    if x == float("inf"):
        return "inf"
    if x == float("-inf"):
        return "-inf"
    return f"{x:g}"


#: assumed when the machine's available memory cannot be read (neither /proc/meminfo nor sysconf)
FALLBACK_MEMORY = 8 * 2**30


def available_memory() -> int:
    """Bytes of memory a new allocation can take now: ``MemAvailable`` of ``/proc/meminfo``
    (Linux), else free pages times the page size (``os.sysconf``), else :data:`FALLBACK_MEMORY`."""
    import os

    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return FALLBACK_MEMORY


def check_memory(what: str, needed: float, knobs: str, available: int | None = None) -> float:
    """Raise ``ValueError`` if ``needed`` bytes (an estimate) exceed the memory available now,
    naming ``what`` runs, the ``knobs`` that set its size and both amounts; return ``needed``."""
    available = available_memory() if available is None else available
    if needed > available:
        raise ValueError(
            f"{what} needs about {_bytes(needed)} of memory ({knobs}), more than the "
            f"{_bytes(available)} available on this machine; make it smaller"
        )
    return needed


def _bytes(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if n < 1024 or unit == "TB":
            return f"{n:.3g} {unit}" if unit != "B" else f"{n:.0f} B"
        n /= 1024
    return f"{n:.3g} TB"
