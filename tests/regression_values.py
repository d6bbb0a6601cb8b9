"""Regression values: numbers recorded once, compared with stated tolerances, never as bits.

Floats differ in their last bits across CPUs, kernel selections and resolved versions of numpy,
scipy and torch, so a recorded value is a number, and "the same" means equal within the tolerance
of its kind:

========== ============ ===================================================================
kind       tolerance    what
========== ============ ===================================================================
float64    rtol 1e-9    NumPy / SciPy paths (the simulations, rates, theory)
float32    rtol 1e-4    paths through torch in float32 (neural estimators, DDPM, language
                        models): training amplifies last-bit differences over many steps
========== ============ ===================================================================

A value ``x`` recorded as ``r`` passes when ``|x - r| <= rtol * scale``, where ``scale`` is the
largest magnitude among the values of the same column (a table's column, or the same key of a
nested record), so a value near zero in a column of order one is held to the column's precision
rather than to its own. Counts, labels and words compare exactly. A decimal number printed in a
sentence with ``d`` decimals may also differ by one unit of its last printed digit (a value on a
rounding boundary rounds either way); a whole number in a sentence is a count and compares within
``rtol`` only.

Used by ``tests/test_regression.py``; ``scripts/record_regression.py`` records.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

#: relative tolerance of each kind of path
RTOL = {"float64": 1e-9, "float32": 1e-4}

#: glued wall-clock times (book.timing.Stopwatch): measurements of the machine, not results
RUN_TIME_SUFFIX = "-run-time"

#: a number as it is printed in prose: sign, digits, decimals, exponent
NUMBER = re.compile(r"(?<![\w.])[-+−]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?(?![\w])")
#: Altair names datasets and views after a hash of their content (a last-bit change renames
#: them) and parameters after a counter of the kernel (a chart added earlier renumbers them)
HASHED_NAME = re.compile(r"\b(?:data-[0-9a-f]{32}|view_[0-9a-f]{16}|(?:hover|param)_\d+)\b")


# ---------------------------------------------------------------------------- recording


def frame_record(frame: pd.DataFrame, kind: str) -> dict[str, Any]:
    """A DataFrame's values, column by column, at full precision (JSON; NaN as null)."""
    if kind not in RTOL:
        raise ValueError(f"kind must be one of {sorted(RTOL)}, got {kind!r}")
    columns = {}
    for column in frame.columns:
        values = frame[column].to_numpy()
        if values.dtype.kind in "biuf":
            columns[str(column)] = [None if v != v else _plain(v) for v in values.tolist()]
        else:
            columns[str(column)] = [str(v) for v in values.tolist()]
    return {"kind": kind, "rows": len(frame), "columns": columns}


def _plain(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return value  # keep the float: 3.0 stays 3.0 in JSON
    return value


def glue_record(notebook: str | Path, kind: str) -> dict[str, Any]:
    """Every glued value of an executed notebook, as something comparable: a number or a
    sentence (its text), a JSON record (parsed), a figure (its Vega-Lite spec, data included;
    never the SVG). Glued run times are left out."""
    if kind not in RTOL:
        raise ValueError(f"kind must be one of {sorted(RTOL)}, got {kind!r}")
    values: dict[str, Any] = {}
    for name, data in _glued_outputs(notebook):
        if name.endswith(RUN_TIME_SUFFIX):
            continue
        if "text/html" in data and "image/svg+xml" in data:
            values[name] = {"figure": _figure_spec(data["text/html"])}
        elif "text/markdown" in data:
            values[name] = {"text": data["text/markdown"]}
        else:
            text = data.get("text/plain", "")
            values[name] = _json_or_text(text)
    return {"kind": kind, "values": values}


def _glued_outputs(notebook: str | Path) -> Iterator[tuple[str, dict[str, str]]]:
    for cell in json.loads(Path(notebook).read_text())["cells"]:
        for output in cell.get("outputs", []):
            scrapbook = output.get("metadata", {}).get("scrapbook")
            if not scrapbook:
                continue
            prefix = scrapbook.get("mime_prefix", "")
            data = {
                k.removeprefix(prefix): ("".join(v) if isinstance(v, list) else v)
                for k, v in output.get("data", {}).items()
            }
            yield scrapbook["name"], data


def _json_or_text(text: str) -> dict[str, Any]:
    """A glued string holding JSON (a claims record) is compared as data; anything else as text."""
    if text[:1] in "'\"" and text[-1:] == text[:1]:
        try:
            import ast

            inner = ast.literal_eval(text)
            if isinstance(inner, str) and inner[:1] in "[{":
                return {"json": json.loads(inner)}
        except (ValueError, SyntaxError):
            pass
    return {"text": text}


def _figure_spec(html: str) -> Any:
    from recursive_lib.book.charts import parse_chart_html

    parsed = parse_chart_html(html)
    if parsed is None:
        raise ValueError("a glued figure without the book renderer's spec")
    names: dict[str, str] = {}

    def rename(match: re.Match) -> str:
        prefix = re.match(r"[a-z]+[-_]", match.group(0)).group(0)
        return names.setdefault(match.group(0), f"{prefix}{len(names)}")

    spec = json.loads(HASHED_NAME.sub(rename, json.dumps(parsed[0])))
    spec["datasets"] = {name: _columns(rows) for name, rows in spec.get("datasets", {}).items()}
    return spec


def _columns(rows: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """A dataset's rows as columns (the same values, stored once per field name)."""
    fields = list(dict.fromkeys(key for row in rows for key in row))
    return {field: [row.get(field) for row in rows] for field in fields}


# ---------------------------------------------------------------------------- comparing


def compare_frame(found: pd.DataFrame, record: dict[str, Any]) -> list[str]:
    """Differences between a DataFrame and its record beyond the record kind's tolerance
    (an empty list when they agree)."""
    rtol = RTOL[record["kind"]]
    problems = []
    if len(found) != record["rows"]:
        return [f"{len(found)} rows, recorded {record['rows']}"]
    if sorted(map(str, found.columns)) != sorted(record["columns"]):
        return [f"columns {sorted(map(str, found.columns))}, recorded {sorted(record['columns'])}"]
    for column, recorded in record["columns"].items():
        values = found[column].to_numpy()
        if values.dtype.kind not in "biuf":
            if [str(v) for v in values.tolist()] != recorded:
                problems.append(f"{column}: labels changed")
            continue
        got = values.astype(float)
        want = np.array([np.nan if v is None else v for v in recorded], dtype=float)
        problems += _beyond(column, "values", got, want, rtol)
    return problems


def _beyond(where: str, what: str, got: np.ndarray, want: np.ndarray, rtol: float, unit=0.0) -> list[str]:
    """One line naming the values of ``got`` beyond the tolerance, and the first of them."""
    bad = _far(got, want, rtol, unit)
    if not bad.any():
        return []
    i = int(np.flatnonzero(bad)[0])
    return [
        f"{where}: {int(bad.sum())} of {len(want)} {what} beyond rtol {rtol:g}, "
        f"first at {i}: {float(got[i])!r}, recorded {float(want[i])!r}"
    ]


def _far(got: np.ndarray, want: np.ndarray, rtol: float, unit: np.ndarray | float = 0.0) -> np.ndarray:
    finite = np.isfinite(want)
    scale = float(np.max(np.abs(want[finite]))) if finite.any() else 0.0
    same_nonfinite = (np.isnan(got) & np.isnan(want)) | (got == want)
    close = np.abs(got - want) <= np.maximum(rtol * scale, unit) * (1 + 1e-12)
    return ~(same_nonfinite | (finite & close))


def compare_glue(found: dict[str, Any], record: dict[str, Any]) -> list[str]:
    """Differences between the glued values of a notebook and their record (see the module
    docstring for the tolerances)."""
    rtol = RTOL[record["kind"]]
    found_values, recorded_values = found["values"], record["values"]
    problems = [f"{name}: no longer glued" for name in sorted(set(recorded_values) - set(found_values))]
    problems += [
        f"{name}: glued but not recorded" for name in sorted(set(found_values) - set(recorded_values))
    ]
    for name in sorted(set(found_values) & set(recorded_values)):
        problems += [f"{name}: {p}" for p in compare_values(found_values[name], recorded_values[name], rtol)]
    return problems


def compare_values(found: Any, recorded: Any, rtol: float) -> list[str]:
    """Differences between two nested values (dicts, lists, numbers, sentences): structure and
    words exactly, numbers within ``rtol`` of the largest magnitude at the same place."""
    got_skeleton, got_numbers = _flatten(found)
    want_skeleton, want_numbers = _flatten(recorded)
    if got_skeleton != want_skeleton:
        return [f"words or structure changed: {_first_difference(got_skeleton, want_skeleton)}"]
    groups: dict[str, list[int]] = defaultdict(list)
    for i, (path, _, _) in enumerate(want_numbers):
        groups[path].append(i)
    problems = []
    for path, index in groups.items():
        got = np.array([got_numbers[i][1] for i in index], dtype=float)
        want = np.array([want_numbers[i][1] for i in index], dtype=float)
        unit = np.array([max(got_numbers[i][2], want_numbers[i][2]) for i in index], dtype=float)
        problems += _beyond(path or "value", "numbers", got, want, rtol, unit)
    return problems


def _flatten(value: Any, path: str = "") -> tuple[list[str], list[tuple[str, float, float]]]:
    """The words and structure of a nested value (numbers replaced by '#') and its numbers as
    (place, value, one unit of the last printed digit for numbers read from text, else 0)."""
    skeleton: list[str] = []
    numbers: list[tuple[str, float, float]] = []

    def walk(v: Any, where: str) -> None:
        if isinstance(v, dict):
            skeleton.append("{")
            for key in sorted(v):
                skeleton.append(f"{key}:")
                walk(v[key], f"{where}.{key}")
            skeleton.append("}")
        elif isinstance(v, list):
            skeleton.append("[")
            for item in v:
                walk(item, f"{where}[]")
            skeleton.append("]")
        elif isinstance(v, bool) or v is None:
            skeleton.append(repr(v))
        elif isinstance(v, (int, float)):
            skeleton.append("#")
            numbers.append((where, float(v), 0.0))
        elif isinstance(v, str):
            words, found = _split_text(v)
            skeleton.append(words)
            numbers.extend((f"{where}~{j}", x, unit) for j, (x, unit) in enumerate(found))
        else:
            raise TypeError(f"cannot compare a {type(v).__name__} at {where or 'top'}")

    walk(value, path)
    return skeleton, numbers


def _split_text(text: str) -> tuple[str, list[tuple[float, float]]]:
    numbers = []

    def take(match: re.Match) -> str:
        literal = match.group(0).replace("−", "-")
        mantissa, _, exponent = literal.lower().partition("e")
        point, decimals = "." in mantissa, len(mantissa.partition(".")[2])
        # a whole number in prose is a count (exact); a decimal may sit on a rounding boundary
        unit = 10.0 ** (int(exponent or 0) - decimals) if point else 0.0
        numbers.append((float(literal), unit))
        return "#"

    return NUMBER.sub(take, text), numbers


def _first_difference(a: list[str], b: list[str]) -> str:
    for x, y in zip(a, b, strict=False):
        if x != y:
            return f"{x[:160]!r}, recorded {y[:160]!r}"
    return f"{len(a)} parts, recorded {len(b)}"
