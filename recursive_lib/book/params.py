'''A chapter's knobs: one table of presets in the chapter, overrides, validation.

Every chapter declares its knobs once, in its ``parameters`` cell, as a Markdown table held in a
string, one row per knob with its value under each preset, what values it accepts and what it
means::

    preset = "book"   # "smoke" (seconds), "book" (the default build) or "paper" (the authors' scale)
    PRESETS = """
    | knob     | smoke           | book                 | paper       | accepts                   | meaning         |
    |----------|-----------------|----------------------|-------------|---------------------------|-----------------|
    | alphas   | [0.2, 0.5, 1.0] | [0.1, 0.3, 0.5, 1.0] | [0.1, 0.5]  | list of float in (0, 1]   | real fractions  |
    | T        | 12              | 200                  | 2000        | int at least 1            | iterations      |
    | at       | [1, 5]          | [1, 100]             | [1, 1000]   | set of int in [1, T]      | iterations shown|
    """

Values are YAML (``0.5``, ``[0.1, 0.5]``, ``kde``, ``null``), as on the command line. The next cell
reads them with :func:`resolve`::

    cfg = params.resolve(PRESETS, preset, globals())

A knob assigned as a variable after the table (papermill's ``-p alphas "[0.3]"`` injects exactly
that) overrides the preset's value; any other name assigned there is a typo and stops the chapter
with an error that lists the knobs and suggests the closest one. Every value is checked against its
row's ``accepts`` column (:class:`Accepts`, the little language below), so a knob a fork adds is
checked like the others; :func:`for_chapter` applies the same checks before a kernel starts. The
page shows the table with the values used (``Params._repr_markdown_``). Forking a chapter is
copying its file: its presets and their constraints come along.

The ``accepts`` language: alternatives joined by ``or``, each one of

- ``int``, ``float`` (finite; an int is accepted as a float), ``str``, ``bool``, ``map`` (a YAML
  mapping), ``path`` (a folder, a string), ``null``, ``any``;
- a number type followed by bounds joined by ``and``: ``at least 1``, ``above 0``, ``at most T``,
  ``below 1``, or an interval ``in (0, 1]`` / ``in [1, T]``; a bound is a number, ``inf``, or the
  name of another knob of the table (checked against that knob's value). Words, not ``>=``:
  papermill reads every line of the parameters cell holding ``=`` as an assignment;
- ``one of a, b, c`` (YAML scalars);
- ``list of X`` (at least one item; a single item is taken as a list of one), ``list[2..] of X``,
  ``list[1..5] of X``, ``list[3] of X`` (item counts), ``set of X`` (a list, sorted, duplicates
  dropped), where ``X`` is any of the above but a list;
- ``call recursive_lib.module.function``: a check of the library, called as
  ``function(name, value)``, returning the value to use and raising ``ValueError``.

Lists come back as tuples, floats as ``float``, ints as ``int``.
'''

from __future__ import annotations

import ast
import difflib
import importlib
import math
import numbers
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from recursive_lib._validation import check_choice

PRESET_NAMES = ("smoke", "book", "paper")
#: the variable of the parameters cell that holds the table
TABLE_NAME = "PRESETS"
#: the columns of a preset table, in order
COLUMNS = ("knob", *PRESET_NAMES, "accepts", "meaning")
_PLAIN = (bool, int, float, str, list, tuple, dict, type(None))
_IGNORED = {"preset", TABLE_NAME, "In", "Out"}  # IPython's history lists are plain data too
_CONSTANT = re.compile(r"^[A-Z][A-Z0-9_]+$")  # imported constants (REGIMES), outside a kernel
#: a YAML value (a preset or ``-p``) longer than this, or holding more nodes, is refused
MAX_YAML_CHARS = 10_000
#: a YAML value holding more nodes than this (items of lists and maps, scalars) is refused
MAX_YAML_NODES = 10_000


def load_yaml(text: str, what: str) -> Any:
    """``text`` parsed as one YAML value, bounded: at most :data:`MAX_YAML_CHARS` characters and
    :data:`MAX_YAML_NODES` nodes, without anchors or aliases (so ``*a`` cannot expand a small text
    into a huge value) and with the safe loader's types only. Raises ``ValueError`` naming ``what``."""
    import yaml

    if not isinstance(text, str):
        raise ValueError(f"{what}: a YAML value must be a string, got {type(text).__name__}")
    if len(text) > MAX_YAML_CHARS:
        raise ValueError(f"{what}: the value is {len(text)} characters long; at most {MAX_YAML_CHARS}")

    class Bounded(yaml.SafeLoader):
        nodes = 0

        def compose_node(self, parent, index):
            if self.check_event(yaml.AliasEvent) or getattr(self.peek_event(), "anchor", None):
                raise ValueError(f"{what}: YAML anchors and aliases (&, *) are not accepted")
            Bounded.nodes += 1
            if Bounded.nodes > MAX_YAML_NODES:
                raise ValueError(f"{what}: the value holds more than {MAX_YAML_NODES} items")
            return super().compose_node(parent, index)

    try:
        return yaml.load(text, Loader=Bounded)  # noqa: S506 (a SafeLoader subclass)
    except yaml.YAMLError as error:
        raise ValueError(f"{what}: {text!r} is not valid YAML ({getattr(error, 'problem', error)})") from None


_NUMBER = r"[-+]?(?:inf|\d+(?:\.\d*)?(?:e[-+]?\d+)?|\.\d+(?:e[-+]?\d+)?)"
_BOUND = rf"(?:{_NUMBER}|[A-Za-z_]\w*)"
_INTERVAL = re.compile(rf"^in\s*([\[(])\s*({_BOUND})\s*,\s*({_BOUND})\s*([\])])$")
_COMPARE = re.compile(rf"^(at least|above|at most|below)\s+({_BOUND})$")
_OPERATOR = {"at least": ">=", "above": ">", "at most": "<=", "below": "<"}
_LIST = re.compile(r"^(list|set)(?:\[(\d+)(\.\.(\d+)?)?\])?\s+of\s+(.+)$")
_SCALARS = ("int", "float", "str", "bool", "map", "path", "null", "any")


def _bound(text: str) -> float | str:
    try:
        return float(text)
    except ValueError:
        return text  # a knob's name, looked up when checking


@dataclass(frozen=True)
class _Alternative:
    kind: str  # one of _SCALARS, "choice", "list", "call"
    low: float | str | None = None
    high: float | str | None = None
    low_open: bool = False
    high_open: bool = False
    choices: tuple = ()
    item: _Alternative | None = None
    min_items: int = 1
    max_items: int | None = None
    unique: bool = False
    function: str = ""

    def knobs(self) -> set[str]:
        names = {b for b in (self.low, self.high) if isinstance(b, str)}
        return names | (self.item.knobs() if self.item else set())


@dataclass(frozen=True)
class Accepts:
    """The parsed ``accepts`` cell of a knob: ``check(value)`` returns the normalised value or raises
    ``ValueError`` naming the knob, the value and ``text`` (what it accepts)."""

    text: str
    alternatives: tuple[_Alternative, ...] = field(repr=False)

    @classmethod
    def parse(cls, text: str, knob: str = "knob") -> Accepts:
        text = " ".join(text.strip().strip("`").split())
        if not text:
            raise ValueError(f"{TABLE_NAME}: knob {knob!r} needs an accepts cell (e.g. int at least 1)")
        try:
            return cls(text, tuple(_parse_alternative(part.strip()) for part in text.split(" or ")))
        except ValueError as error:
            raise ValueError(f"{TABLE_NAME}: the accepts cell of {knob!r} ({text!r}): {error}") from None

    def knobs(self) -> set[str]:
        """Other knobs this constraint refers to (bounds such as ``<= T``)."""
        return set().union(*(a.knobs() for a in self.alternatives))

    def check(self, name: str, value: Any, env: Mapping[str, Any] | None = None) -> Any:
        reasons = []
        for alternative in self.alternatives:
            try:
                return _check(alternative, name, value, env or {})
            except ValueError as error:
                reasons.append(str(error))
        reason = reasons[0] if len(reasons) == 1 else "; ".join(dict.fromkeys(reasons))
        raise ValueError(f"{reason} ({name} accepts: {self.text})")


def _parse_alternative(text: str, in_list: bool = False) -> _Alternative:
    listed = _LIST.match(text)
    if listed:
        if in_list:
            raise ValueError("a list of lists is not part of the language")
        kind, low, dots, high, item = listed.groups()
        low_n = 1 if low is None else int(low)
        high_n = None if (low is not None and dots and high is None) else int(high or low or 0) or None
        if low is not None and not dots:
            high_n = low_n
        return _Alternative(
            "list",
            item=_parse_alternative(item, in_list=True),
            min_items=low_n,
            max_items=high_n,
            unique=kind == "set",
        )
    if text.startswith("one of "):
        words = [w.strip() for w in text[len("one of ") :].split(",") if w.strip()]
        if not words:
            raise ValueError("'one of' needs choices")
        return _Alternative("choice", choices=tuple(load_yaml(w, "a choice") for w in words))
    if text.startswith("call "):
        function = text[len("call ") :].strip()
        if not re.fullmatch(r"recursive_lib(\.\w+)+", function):
            raise ValueError("'call' names a function of the library, recursive_lib.module.function")
        return _Alternative("call", function=function)
    kind, _, rest = text.partition(" ")
    if kind not in _SCALARS:
        raise ValueError(f"unknown type {kind!r}; the types are {', '.join(_SCALARS)}, one of, list of, call")
    rest = rest.strip()
    if not rest:
        return _Alternative(kind)
    if kind not in ("int", "float"):
        raise ValueError(f"only int and float take bounds, not {kind}")
    low = high = None
    low_open = high_open = False
    for part in re.split(r"\s+and\s+", rest):
        interval, compare = _INTERVAL.match(part), _COMPARE.match(part)
        if interval:
            left, lo, hi, right = interval.groups()
            low, high, low_open, high_open = _bound(lo), _bound(hi), left == "(", right == ")"
        elif compare:
            word, bound = compare.groups()
            op = _OPERATOR[word]
            if op.startswith(">"):
                low, low_open = _bound(bound), op == ">"
            else:
                high, high_open = _bound(bound), op == "<"
        else:
            raise ValueError(
                f"cannot read the bound {part!r} (write at least 1, above 0, at most T, below 1 or in (0, 1])"
            )
    return _Alternative(kind, low=low, high=high, low_open=low_open, high_open=high_open)


def _describe(a: _Alternative) -> str:
    if a.kind in ("int", "float"):
        noun = "an integer" if a.kind == "int" else "a finite number"
        if a.low is not None and a.high is not None:
            left, right = "(" if a.low_open else "[", ")" if a.high_open else "]"
            return f"{noun} in {left}{_fmt(a.low)}, {_fmt(a.high)}{right}"
        if a.low is not None:
            return f"{noun} {'>' if a.low_open else '>='} {_fmt(a.low)}"
        if a.high is not None:
            return f"{noun} {'<' if a.high_open else '<='} {_fmt(a.high)}"
        return noun
    if a.kind == "choice":
        return "one of " + ", ".join(repr(c) for c in a.choices)
    return {
        "str": "a string",
        "path": "a folder path (a string)",
        "bool": "true or false",
        "map": "a mapping",
        "null": "null",
        "any": "anything",
    }.get(a.kind, a.kind)


def _fmt(bound: float | str) -> str:
    if isinstance(bound, str):
        return bound
    return "inf" if bound == math.inf else ("-inf" if bound == -math.inf else f"{bound:g}")


def _limit(name: str, bound: float | str | None, env: Mapping[str, Any]) -> float | None:
    if bound is None or not isinstance(bound, str):
        return bound
    value = env.get(bound)
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} is bounded by knob {bound!r}, whose value {value!r} is not a number")
    return float(value)


def _check(a: _Alternative, name: str, value: Any, env: Mapping[str, Any]) -> Any:
    if a.kind == "any":
        return value
    if a.kind == "null":
        if value is None:
            return None
        raise ValueError(f"{name} must be null, got {value!r}")
    if a.kind == "call":
        module, _, function = a.function.rpartition(".")
        return getattr(importlib.import_module(module), function)(name, value)
    if a.kind == "list":
        item = a.item
        if item is None:  # the parser gives every list its item type
            raise ValueError(f"{name}: a list alternative without an item type")
        items = [value] if not isinstance(value, (list, tuple)) else list(value)
        if isinstance(value, (dict, set)) or (isinstance(value, str) and item.kind not in ("str", "choice")):
            raise ValueError(f"{name} must be a list, each item {_describe(item)}, got {value!r}")
        count = (
            f"at least {a.min_items}"
            if a.max_items is None
            else (f"{a.min_items}" if a.max_items == a.min_items else f"{a.min_items} to {a.max_items}")
        )
        if len(items) < a.min_items or (a.max_items is not None and len(items) > a.max_items):
            raise ValueError(f"{name} must hold {count} item(s), got {len(items)}: {value!r}")
        checked = [_check(item, name, v, env) for v in items]
        return tuple(sorted(set(checked))) if a.unique else tuple(checked)
    if a.kind == "choice":
        return check_choice(name, value, a.choices)
    if a.kind in ("str", "path"):
        if isinstance(value, str) and value:
            return value
        raise ValueError(f"{name} must be {_describe(a)}, got {value!r}")
    if a.kind == "bool":
        if isinstance(value, bool):
            return value
        raise ValueError(f"{name} must be true or false, got {value!r}")
    if a.kind == "map":
        if isinstance(value, Mapping):
            return dict(value)
        raise ValueError(f"{name} must be a mapping, got {value!r}")
    # int, float
    wrong = isinstance(value, bool) or not isinstance(value, numbers.Real)
    if a.kind == "int" and not wrong and not isinstance(value, numbers.Integral):
        wrong = True
    if wrong or not math.isfinite(float(value)):
        raise ValueError(f"{name} must be {_describe(a)}, got {value!r}")
    v = int(value) if a.kind == "int" else float(value)
    low, high = _limit(name, a.low, env), _limit(name, a.high, env)
    too_low = low is not None and (v <= low if a.low_open else v < low)
    too_high = high is not None and (v >= high if a.high_open else v > high)
    if too_low or too_high:
        where = "".join(f", {b} = {env.get(b)!r}" for b in (a.low, a.high) if isinstance(b, str))
        if a.low is not None and a.high is not None:
            left, right = "(" if a.low_open else "[", ")" if a.high_open else "]"
            raise ValueError(
                f"{name} must be in {left}{_fmt(a.low)}, {_fmt(a.high)}{right}{where}, got {value!r}"
            )
        raise ValueError(f"{name} must be {_describe(a)}{where}, got {value!r}")
    return v


class Knob(SimpleNamespace):
    """One row of a preset table: ``name``, ``values`` (preset -> value), ``accepts``
    (:class:`Accepts`) and ``meaning``."""


def parse_table(table: str) -> dict[str, Knob]:
    """The knobs of a Markdown preset table (module docstring), in order.

    Raises ``ValueError`` for a table without the columns of :data:`COLUMNS`, a knob listed
    twice, a value that is not valid YAML, an ``accepts`` cell the language cannot read, or one
    that names a bound that is not a knob of the table.
    """
    if not isinstance(table, str):
        raise ValueError(f"{TABLE_NAME} must be a Markdown table in a string, got {type(table).__name__}")
    rows = [line.strip() for line in table.strip().splitlines() if line.strip()]
    cells = [[c.strip() for c in row.strip("|").split("|")] for row in rows]
    if len(cells) < 2 or tuple(cells[0]) != COLUMNS:
        raise ValueError(
            f"{TABLE_NAME} must be a Markdown table with the columns {' | '.join(COLUMNS)}; "
            f"its first row is {rows[:1]}"
        )
    knobs: dict[str, Knob] = {}
    for row in cells[1:]:
        if set("".join(row)) <= set("-: "):
            continue  # the |---|---| rule under the header
        if len(row) != len(COLUMNS):
            raise ValueError(
                f"{TABLE_NAME}: every row needs {len(COLUMNS)} cells ({', '.join(COLUMNS)}), got {row}"
            )
        name = row[0].strip("`")
        if not name.isidentifier() or name in knobs or name in _IGNORED:
            raise ValueError(f"{TABLE_NAME}: knob {name!r} must be a Python name, listed once")
        values = {
            preset: load_yaml(text.strip("`"), f"{TABLE_NAME}: the {preset} value of {name!r}")
            for preset, text in zip(PRESET_NAMES, row[1:4], strict=True)
        }
        knobs[name] = Knob(name=name, values=values, accepts=Accepts.parse(row[4], name), meaning=row[5])
    for knob in knobs.values():
        strangers = knob.accepts.knobs() - set(knobs)
        if strangers:
            raise ValueError(
                f"{TABLE_NAME}: the accepts cell of {knob.name!r} refers to {sorted(strangers)}, "
                "which are not knobs of the table"
            )
    return knobs


class Params(SimpleNamespace):
    """The knobs of one run: attribute access, ``as_dict()``, and the preset table on the page."""

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if not k.startswith("_")}

    def _repr_markdown_(self) -> str:
        head = ["knob", *PRESET_NAMES, f"this run ({self.preset})", "accepts", "meaning"]
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for knob in self._knobs.values():
            used = _show(getattr(self, knob.name))
            if knob.name in self._overridden:
                used = f"**{used}** (set)"
            cells = [
                f"`{knob.name}`",
                *(_show(knob.values[p]) for p in PRESET_NAMES),
                used,
                knob.accepts.text,
                knob.meaning,
            ]
            lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines)


def _show(value: Any) -> str:
    text = repr(list(value) if isinstance(value, tuple) else value)
    return text if len(text) <= 40 else text[:37] + "..."


def _assigned_after_table(history: list) -> list[str] | None:
    """Names assigned by the cells run after the one that defined the table, the running cell
    left out: what papermill's injected cell (or a reader) set. ``None`` if no cell defined it."""
    cells = [c for c in history[:-1] if isinstance(c, str)]
    for i in range(len(cells) - 1, -1, -1):
        if re.search(rf"^{TABLE_NAME}\s*=", cells[i], re.M):
            names = []
            for source in cells[i + 1 :]:
                try:
                    tree = ast.parse(source)
                except SyntaxError:
                    continue
                for node in ast.walk(tree):
                    if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                        names.append(node.id)
            return names
    return None


def _unknown(namespace: Mapping[str, Any], knobs: Mapping[str, Knob], table: str, strict: bool) -> list:
    history = namespace.get("In")
    assigned = _assigned_after_table(history) if isinstance(history, list) and not strict else None
    if assigned is not None:  # in a kernel: exactly the names set after the table, whatever their case
        return [n for n in dict.fromkeys(assigned) if n not in knobs and n not in _IGNORED]
    return [
        name
        for name, value in namespace.items()
        if name not in knobs
        and (strict or name not in _IGNORED)
        and (strict or (not name.startswith("_") and not _CONSTANT.match(name)))
        and (strict or isinstance(value, _PLAIN))
        and (strict or value is not table)
    ]


def resolve(table: str, preset: str, namespace: Mapping[str, Any], strict: bool = False) -> Params:
    """The knobs of ``table`` under ``preset``, with the overrides found in ``namespace``, checked
    against each knob's ``accepts`` cell.

    ``namespace``: the notebook's ``globals()``. A knob bound there to plain data (a number,
    string, list, dict, ``None``) overrides the table. Unknown parameters: in a kernel, every name
    assigned by a cell run after the table's (papermill's injected cell) that is not a knob, in
    any case; elsewhere, any plain value under a name that is not a knob, except ``_private``
    names and ``UPPER_CASE`` constants. With ``strict`` (``namespace`` holds only overrides), every
    name that is not a knob. Raises ``ValueError`` naming the parameter and what it accepts for a
    bad value, an unknown preset or parameter.
    """
    check_choice("preset", preset, PRESET_NAMES)
    knobs = parse_table(table)
    unknown = _unknown(namespace, knobs, table, strict)
    if unknown:
        name = unknown[0]
        close = difflib.get_close_matches(name, list(knobs), n=1) or difflib.get_close_matches(
            name.lower(), [k.lower() for k in knobs], n=1
        )
        if close and close[0] not in knobs:
            close = [k for k in knobs if k.lower() == close[0]]
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        if name == TABLE_NAME:
            raise ValueError(
                f"{TABLE_NAME} is the chapter's preset table, not a knob; its knobs are {', '.join(knobs)}"
            )
        raise ValueError(
            f"unknown parameter {name!r}{hint}; this chapter's knobs are {', '.join(knobs)} (and preset)"
        )
    raw, overridden = {}, []
    for name, knob in knobs.items():
        raw[name] = knob.values[preset]
        if name in namespace:
            given = namespace[name]
            if not isinstance(given, _PLAIN):
                raise ValueError(
                    f"knob {name!r} is also the name of a {type(given).__name__} in "
                    "the notebook; rename one of them"
                )
            raw[name] = given
            overridden.append(name)
    values: dict[str, Any] = {}
    # knobs that bound others first, so that a bound such as <= T reads T's checked value
    order = sorted(knobs, key=lambda n: bool(knobs[n].accepts.knobs()))
    for name in order:
        values[name] = knobs[name].accepts.check(name, raw[name], {**raw, **values})
    return Params(
        preset=preset, _knobs=knobs, _overridden=overridden, **{name: values[name] for name in knobs}
    )


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
    """The checked knobs a chapter would run with under ``preset`` and ``overrides`` (without
    executing it): what ``recursive-book run -p`` checks before starting, and what tests read.
    Every override must be a knob, in its exact case."""
    return resolve(chapter_table_text(source), preset, overrides, strict=True)
