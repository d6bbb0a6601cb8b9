'''A chapter's knobs: one table of presets in the chapter, overrides, validation.

Every chapter declares its knobs once, in its ``parameters`` cell, as a Markdown table held in a
string, one row per knob with its value under each preset and what it means::

    preset = "book"   # "smoke" (seconds), "book" (the default build) or "paper" (the authors' scale)
    PRESETS = """
    | knob   | smoke           | book                 | paper                     | meaning                  |
    |--------|-----------------|----------------------|---------------------------|--------------------------|
    | alphas | [0.2, 0.5, 1.0] | [0.1, 0.3, 0.5, 1.0] | [0.1, 0.2, 0.3, 0.4, 0.5] | real fractions in (0, 1] |
    """

Values are YAML (``0.5``, ``[0.1, 0.5]``, ``kde``, ``null``), as on the command line. The next cell
reads them with :func:`resolve`::

    cfg = params.resolve(PRESETS, preset, globals())

A knob assigned as a variable after the table (papermill's ``-p alphas "[0.3]"`` injects exactly
that) overrides the preset's value; a plain value under a name that is not a knob is a typo and
stops the chapter with an error that lists the knobs and suggests the closest one. Every value is
validated by the check of its name in ``CHECKS`` (the knobs every chapter shares), or by one
the chapter passes (``checks={"my_knob": ...}``). The page shows the table with the values used
(``Params._repr_markdown_``). Forking a chapter is copying its file: its presets come along.
'''

from __future__ import annotations

import ast
import difflib
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from recursive_lib._validation import check_choice, check_int, check_range

PRESET_NAMES = ("smoke", "book", "paper")
#: the variable of the parameters cell that holds the table
TABLE_NAME = "PRESETS"
_PLAIN = (bool, int, float, str, list, tuple, dict, type(None))
_IGNORED = {"preset", TABLE_NAME, "In", "Out"}  # IPython's history lists are plain data too
_CONSTANT = re.compile(r"^[A-Z][A-Z0-9_]+$")  # imported constants (REGIMES), not parameters


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


def _nonnegative_floats(name: str, values: Any) -> tuple[float, ...]:
    values = (values,) if isinstance(values, (int, float)) else tuple(values)
    if not values:
        raise ValueError(f"{name} must hold at least one rate >= 0, got none")
    return tuple(check_range(name, v, 0.0, float("inf")) for v in values)


def _designs(name: str, value: Any) -> dict:
    from recursive_lib.experiments.bias import check_designs

    return check_designs(name, value)


def _optional_path(name: str, value: Any) -> Any:
    if value is not None and not isinstance(value, str):
        raise ValueError(f"{name} must be a folder path (a string) or None, got {value!r}")
    return value


def _iterations(name: str, values: Any) -> tuple[int, ...]:
    values = (values,) if isinstance(values, int) else tuple(values)
    if not values:
        raise ValueError(f"{name} must hold at least one iteration (an integer >= 1), got none")
    return tuple(sorted({int(check_int(name, v, 1)) for v in values}))


def _fresh_alphas(name: str, values: Any) -> tuple[float, ...]:
    values = (values,) if isinstance(values, (int, float)) else tuple(values)
    if not values:
        raise ValueError(f"{name} must hold at least one real fraction in [0, 1], got none")
    return tuple(check_range(name, v, 0.0, 1.0) for v in values)


def _positive_floats(name: str, values: Any) -> tuple[float, ...]:
    values = (values,) if isinstance(values, (int, float)) else tuple(values)
    if not values:
        raise ValueError(f"{name} must hold at least one rate > 0, got none")
    return tuple(float(check_range(name, v, 0.0, float("inf"), low_inclusive=False)) for v in values)


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
    "qs": lambda name, v: _nonnegative_floats(name, v),
    "designs": lambda name, v: _designs(name, v),
    "early_until": _positive_int(1),
    "cache_dir": lambda name, v: _optional_path(name, v),
    "snapshot_at": lambda name, v: _iterations(name, v),
    "grid_size": _positive_int(10),
    "phase_ps": lambda name, v: _positive_floats(name, v),
    "phase_alphas": _check_alphas,
    "phase_T": _positive_int(1),
    "phase_reps": _positive_int(1),
    "theory_alphas": _check_alphas,
    "theory_reps": _positive_int(1),
    "n_jobs": _positive_int(1),
    "m_total": _positive_int(2),
    "epochs": _positive_int(1),
    "batch_size": _positive_int(1),
    "n_eval": _positive_int(100),
    "n_components": _positive_int(1),
    "flow_steps": _positive_int(1),
    "flow_T": _positive_int(1),
    "flow_reps": _positive_int(1),
    "flow_alphas": _check_alphas,
    "metric_samples": _positive_int(100),
    "truth": lambda name, v: check_choice(name, v, ("mixture2d", "moons")),
    # Images and text: alpha = 0 is allowed in the fresh regime (pure self-training).
    "fresh_alphas": lambda name, v: _fresh_alphas(name, v),
    "dataset": lambda name, v: check_choice(name, v, ("digits", "mnist")),
    "side": _positive_int(1),
    "lr": _positive_float,
    "diffusion_steps": _positive_int(2),
    "width": _positive_int(2),
    "network": lambda name, v: check_choice(name, v, ("mlp", "unet")),
    "ema": lambda name, v: check_range(name, v, 0.0, 1.0, high_inclusive=False),
    "n_test": _positive_int(10),
    "eval_every": _positive_int(1),
    "warmup": _positive_int(0),
    "block_len": _positive_int(2),
    "hidden": _positive_int(1),
    "n_heldout": _positive_int(1),
    "n_generate": _positive_int(10),
}


class Knob(SimpleNamespace):
    """One row of a preset table: ``name``, ``meaning`` and ``values`` (preset -> value)."""


def parse_table(table: str) -> dict[str, Knob]:
    """The knobs of a Markdown preset table (module docstring), in order.

    Raises ``ValueError`` for a table without the columns ``knob``, ``smoke``, ``book``, ``paper``
    and ``meaning``, a knob listed twice, or a value that is not valid YAML.
    """
    import yaml

    if not isinstance(table, str):
        raise ValueError(f"{TABLE_NAME} must be a Markdown table in a string, got {type(table).__name__}")
    rows = [line.strip() for line in table.strip().splitlines() if line.strip()]
    cells = [[c.strip() for c in row.strip("|").split("|")] for row in rows]
    if len(cells) < 2 or cells[0] != ["knob", *PRESET_NAMES, "meaning"]:
        raise ValueError(
            f"{TABLE_NAME} must be a Markdown table with the columns knob | "
            f"{' | '.join(PRESET_NAMES)} | meaning; its first row is {rows[:1]}"
        )
    knobs: dict[str, Knob] = {}
    for row in cells[1:]:
        if set("".join(row)) <= set("-: "):
            continue  # the |---|---| rule under the header
        if len(row) != 5:
            raise ValueError(
                f"{TABLE_NAME}: every row needs 5 cells (knob, smoke, book, paper, meaning), got {row}"
            )
        name = row[0].strip("`")
        if not name.isidentifier() or name in knobs:
            raise ValueError(f"{TABLE_NAME}: knob {name!r} must be a Python name, listed once")
        values = {}
        for preset, text in zip(PRESET_NAMES, row[1:4], strict=True):
            try:
                values[preset] = yaml.safe_load(text.strip("`"))
            except yaml.YAMLError as error:
                raise ValueError(
                    f"{TABLE_NAME}: the {preset} value of {name!r} is not valid YAML "
                    f"({text!r}): {error.problem}"
                ) from None
        knobs[name] = Knob(name=name, meaning=row[4], values=values)
    return knobs


class Params(SimpleNamespace):
    """The knobs of one run: attribute access, ``as_dict()``, and the preset table on the page."""

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if not k.startswith("_")}

    def _repr_markdown_(self) -> str:
        head = ["knob", *PRESET_NAMES, f"this run ({self.preset})", "meaning"]
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for knob in self._knobs.values():
            used = _show(getattr(self, knob.name))
            if knob.name in self._overridden:
                used = f"**{used}** (set)"
            cells = [f"`{knob.name}`", *(_show(knob.values[p]) for p in PRESET_NAMES), used, knob.meaning]
            lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines)


def _show(value: Any) -> str:
    text = repr(list(value) if isinstance(value, tuple) else value)
    return text if len(text) <= 40 else text[:37] + "..."


def resolve(
    table: str,
    preset: str,
    namespace: Mapping[str, Any],
    checks: Mapping[str, Callable[[str, Any], Any]] | None = None,
) -> Params:
    """The knobs of ``table`` under ``preset``, with the overrides found in ``namespace``, validated.

    ``namespace``: the notebook's ``globals()``. A knob bound there to plain data (a number,
    string, list, dict, ``None``) overrides the table; any other plain value under a public name
    that is not a knob is an unknown parameter (except ``UPPER_CASE`` constants and IPython's
    ``In`` / ``Out``). Raises ``ValueError`` naming the parameter and its
    allowed range for a bad value, an unknown preset or parameter.
    """
    check_choice("preset", preset, PRESET_NAMES)
    knobs = parse_table(table)
    checks = {**CHECKS, **(checks or {})}
    unknown = [
        name
        for name, value in namespace.items()
        if not name.startswith("_")
        and name not in _IGNORED
        and name not in knobs
        and not _CONSTANT.match(name)
        and isinstance(value, _PLAIN)
        and value is not table
    ]
    if unknown:
        name = unknown[0]
        close = difflib.get_close_matches(name, list(knobs), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ValueError(
            f"unknown parameter {name!r}{hint}; this chapter's knobs are {', '.join(knobs)} (and preset)"
        )
    values, overridden = {}, []
    for name, knob in knobs.items():
        value = knob.values[preset]
        if name in namespace:
            given = namespace[name]
            if not isinstance(given, _PLAIN):
                raise ValueError(
                    f"knob {name!r} is also the name of a {type(given).__name__} in "
                    "the notebook; rename one of them"
                )
            value = given
            overridden.append(name)
        check = checks.get(name)
        values[name] = check(name, value) if check is not None else value
    return Params(preset=preset, _knobs=knobs, _overridden=overridden, **values)


def chapter_table_text(source: str | Path) -> str:
    """The preset table of a chapter's MyST source (``chapters/<name>.md``), read without executing
    it: the string assigned to ``PRESETS`` in its ``parameters`` cell."""
    import jupytext  # the cell's options may be a ``:tags:`` line or a YAML block

    notebook = jupytext.read(Path(source), fmt="md:myst")
    for cell in notebook.cells:
        if cell.cell_type != "code" or "parameters" not in cell.metadata.get("tags", []):
            continue
        for node in ast.parse(cell.source).body:
            if isinstance(node, ast.Assign) and any(
                getattr(t, "id", None) == TABLE_NAME for t in node.targets
            ):
                return ast.literal_eval(node.value)
        raise ValueError(f"{source}: the parameters cell has no {TABLE_NAME} table")
    raise ValueError(f"{source}: no code cell tagged parameters")


def chapter_table(source: str | Path) -> dict[str, Knob]:
    """The knobs of a chapter's source (:func:`chapter_table_text`, parsed)."""
    return parse_table(chapter_table_text(source))


def for_chapter(source: str | Path, preset: str, **overrides: Any) -> Params:
    """The validated knobs a chapter would run with under ``preset`` and ``overrides`` (without
    executing it): what ``recursive-book run -p`` checks before starting, and what tests read."""
    return resolve(chapter_table_text(source), preset, overrides)
