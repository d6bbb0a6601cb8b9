"""Named parameter sets for every chapter: ``smoke`` (CI, seconds), ``book`` (the default build,
minutes on a laptop), ``paper`` (the authors' scale, from their scripts; see shared PAPER.md).

A chapter's ``parameters`` cell holds ``preset`` and one variable per knob, ``None`` meaning
"the preset's value"; ``resolve`` fills the gaps and validates everything at once::

    cfg = presets.resolve("setting", preset, alphas=alphas, m1=m1, T=T, reps=reps, seed=seed)
    cfg.alphas, cfg.T, cfg.as_dict()

To add a chapter, add an entry to ``PRESETS`` (all three presets, same keys) and, for a new
kind of knob, a check to ``CHECKS``.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, Callable

from recursive_lib._validation import check_choice, check_int, check_range

PRESET_NAMES = ("smoke", "book", "paper")
PAPER_ALPHAS = tuple(round(0.1 * k, 1) for k in range(1, 11))


def _check_alphas(name: str, values: Any) -> tuple[float, ...]:
    if isinstance(values, (int, float)):
        values = [values]
    values = tuple(float(v) for v in values)
    if not values:
        raise ValueError(f"{name} must hold at least one real fraction in (0, 1], got none")
    for v in values:
        check_range(name, v, 0.0, 1.0, low_inclusive=False)
    return values


def _positive_int(minimum: int) -> Callable[[str, Any], int]:
    def check(name: str, value: Any) -> int:
        check_int(name, value, minimum)
        return int(value)

    return check


def _positive_float(name: str, value: Any) -> float:
    check_range(name, value, 0.0, float("inf"), low_inclusive=False)
    return float(value)


def _estimator(name: str, value: Any) -> str:
    from recursive_lib.estimators import ESTIMATORS

    check_choice(name, value, tuple(ESTIMATORS))
    return value


def _estimators(name: str, values: Any) -> tuple[str, ...]:
    values = (values,) if isinstance(values, str) else tuple(values)
    return tuple(_estimator(name, v) for v in values)


CHECKS: dict[str, Callable[[str, Any], Any]] = {
    "alphas": _check_alphas,
    "m1": _positive_int(1),
    "T": _positive_int(1),
    "reps": _positive_int(1),
    "seed": _positive_int(0),
    "p": _positive_float,
    "h0": _positive_float,
    "estimator": _estimator,
    "estimators": _estimators,
    "burn_in": _positive_int(0),
}

PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    # The first contaminated recursive training runs, with the readable reference loop.
    "setting": {
        "smoke": dict(estimator="ecdf", alphas=(0.2, 0.5, 1.0), m1=20, T=12, reps=4, seed=0),
        "book": dict(estimator="ecdf", alphas=(0.1, 0.3, 0.5, 1.0), m1=50, T=200, reps=20, seed=0),
        "paper": dict(estimator="ecdf", alphas=PAPER_ALPHAS, m1=50, T=2000, reps=100, seed=0),
    },
    # The heuristic error recursion of the introduction (no simulation).
    "intro": {
        "smoke": dict(alphas=(0.1, 0.3, 0.5, 0.8, 1.0), p=0.5, T=1_000),
        "book": dict(alphas=(0.1, 0.3, 0.5, 0.8, 1.0), p=0.5, T=100_000),
        "paper": dict(alphas=PAPER_ALPHAS, p=0.5, T=1_000_000),
    },
}


class Params(SimpleNamespace):
    """Resolved chapter parameters: attribute access, plus ``as_dict()`` for tables and glue."""

    def as_dict(self) -> dict[str, Any]:
        return dict(vars(self))


def resolve(chapter: str, preset: str, **overrides: Any) -> Params:
    """The preset's parameters for ``chapter`` with every non-``None`` override applied, validated.

    Raises ``ValueError`` naming the parameter and its allowed range for any bad value, an
    unknown chapter, preset or knob.
    """
    check_choice("chapter", chapter, tuple(PRESETS))
    check_choice("preset", preset, PRESET_NAMES)
    params = dict(PRESETS[chapter][preset])
    for name, value in overrides.items():
        if name not in params:
            raise ValueError(f"unknown parameter {name!r} for chapter {chapter!r}; "
                             f"its parameters are {sorted(params)}")
        if value is not None:
            params[name] = value
    for name, value in params.items():
        check = CHECKS.get(name)
        if check is not None:
            params[name] = check(name, value)
    return Params(preset=preset, **params)
