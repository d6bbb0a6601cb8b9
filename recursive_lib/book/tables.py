"""Result tables laid out for reading: readable column names, a few significant digits, no
numeric index, grouped rows.

A chapter ends a cell with ``tables.show(frame, ...)`` instead of a raw ``frame.round(3)``::

    tables.show(decay, columns={"alpha": "real fraction α", "slope": "fitted slope",
                                "lo": "95 % lower", "hi": "95 % upper", "reps": "repetitions"})

The frame is shown, not changed: :func:`show` returns a pandas ``Styler`` over a copy whose
values are formatted as text. Index levels with a name (``pivot_table``'s rows) become the first
columns; an unnamed integer index is dropped. Repeated values of the grouping columns (by
default every index level but the last) are printed once per group, with a rule above each new
group, as in a printed table. Nothing here computes a result: rounding is display only.
"""

from __future__ import annotations

import hashlib
import math
import numbers
from collections.abc import Mapping, Sequence
from typing import Any

#: what an empty cell (NaN, None) reads as
MISSING = "–"

#: cells up to this many characters never wrap (numbers, intervals)
SHORT = 24

#: readable headers of the tidy results' usual columns (a chapter's ``columns`` overrides them)
NAMES = {
    "alpha": "α",
    "bias_rate": "bias rate q",
    "burn_in": "burn-in",
    "estimator": "estimator",
    "exponent": "fitted exponent",
    "hi": "upper",
    "lo": "lower",
    "metric": "distance",
    "n": "n",
    "predicted": "predicted",
    "reps": "repetitions",
    "se": "std. error",
    "slope": "fitted slope",
}


def _label(column: Any, names: Sequence[str | None]) -> str:
    """``("ecdf", "w1")`` under levels ``(estimator, metric)`` -> ``"ecdf, w1"``; ``0.25`` under
    a level named ``alpha`` -> ``"alpha = 0.25"``."""
    parts = column if isinstance(column, tuple) else (column,)
    shown = [f"{p:g}" if isinstance(p, numbers.Real) and not isinstance(p, bool) else str(p) for p in parts]
    numeric = all(isinstance(p, numbers.Real) and not isinstance(p, bool) for p in parts)
    if numeric and len(names) == len(parts) and all(names):
        return ", ".join(f"{n} = {s}" for n, s in zip(names, shown, strict=True))
    return ", ".join(shown)


def _number(value: Any, digits: int) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    if isinstance(value, (bool,)) or type(value).__name__ == "bool_":
        return "yes" if value else "no"
    if isinstance(value, numbers.Integral):
        return f"{int(value):d}"
    if isinstance(value, numbers.Real):
        value = float(value)
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        if value == 0:
            return "0"
        if value == round(value) and abs(value) < 10**digits:
            return f"{value:.0f}"
        magnitude = math.floor(math.log10(abs(value)))
        decimals = max(digits - 1 - magnitude, 0)
        return f"{value:.{decimals}f}"
    return str(value)


def show(
    frame,
    columns: Mapping[str, str] | None = None,
    digits: int | Mapping[str, int] = 3,
    group: Sequence[str] | None = None,
    caption: str | None = None,
):
    """A ``Styler`` that shows ``frame`` as a table for reading.

    Parameters
    ----------
    frame
        A DataFrame or Series: tidy results or a pivot table. Named index levels become leading columns.
    columns
        ``{column: readable name}``; when given, only these columns are shown, in this order.
        Columns it does not name keep their header from :data:`NAMES`, else their own name.
    digits
        Significant digits of real numbers (integers are shown whole), one for every column or
        ``{column: digits}`` (columns not named keep 3). Between 1 and 15.
    group
        Columns (original names) whose repeated values are printed once per group. Default:
        every index level but the last of a multi-level index, otherwise none.
    caption
        A caption printed above the table.
    """
    import pandas as pd

    data, group = _table_data(frame, columns, digits, group)
    text, starts = _text_cells(data, digits, group)
    numeric = [
        c
        for c in data.columns
        if pd.api.types.is_numeric_dtype(data[c]) and not pd.api.types.is_bool_dtype(data[c])
    ]
    names = {**NAMES, **(columns or {})}
    text = text.rename(columns={c: names.get(c, c) for c in text.columns})
    return _styled(text, starts, bool(group), [names.get(c, c) for c in numeric], caption)


def _table_data(frame, columns, digits, group):
    """``(data, group)``: the arguments of :func:`show` checked, ``frame`` as a flat DataFrame of
    the columns to show (index levels first) and the grouping columns."""
    import pandas as pd

    if isinstance(frame, pd.Series):
        frame = frame.to_frame()
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"frame must be a pandas DataFrame or Series, got {type(frame).__name__}")
    for name, d in digits.items() if isinstance(digits, Mapping) else [("digits", digits)]:
        if isinstance(d, bool) or not isinstance(d, numbers.Integral) or not 1 <= d <= 15:
            raise ValueError(f"digits ({name}) must be an integer in [1, 15], got {d!r}")
    data = frame.copy()
    levels = [n for n in data.index.names if n is not None]
    if group is None:
        group = levels[:-1] if len(levels) > 1 else []
    header_names = [NAMES.get(n, n) if n is not None else None for n in data.columns.names]
    data.columns = [_label(c, header_names) for c in data.columns]
    data = data.reset_index() if levels else data.reset_index(drop=True)
    if columns is not None:
        missing = [c for c in columns if c not in data.columns]
        if missing:
            raise ValueError(f"columns {missing} are not in the frame; it has {list(data.columns)}")
        data = data[list(columns)]
    unknown = [g for g in group if g not in data.columns]
    if unknown:
        raise ValueError(f"group {unknown} names no column of the frame; it has {list(data.columns)}")
    return data, group


def _text_cells(data, digits, group):
    """``(text, starts)``: every cell of ``data`` as text (a group's repeated values blanked) and
    a boolean Series, true on the first row of each group."""
    import pandas as pd

    def places(column: str) -> int:
        return digits.get(column, 3) if isinstance(digits, Mapping) else digits

    def cells(column: str) -> list[str]:
        values, d = data[column], places(column)
        # a column of short values (real fractions 0.25, 0.5) reads best as typed
        short = pd.api.types.is_float_dtype(values) and all(
            math.isnan(v) or math.isinf(v) or float(f"{v:.{d}g}") == v for v in values
        )
        if short:
            return [_number(v, d) if math.isnan(v) or math.isinf(v) else f"{v:g}" for v in values]
        return [_number(v, d) for v in values]

    text = pd.DataFrame({c: cells(c) for c in data.columns}, index=data.index)
    starts = pd.Series(True, index=text.index)
    if group:
        key = data[list(group)].astype(str).agg("\x1f".join, axis=1)
        starts = key.ne(key.shift())
        for i, g in enumerate(group):
            outer = data[list(group[: i + 1])].astype(str).agg("\x1f".join, axis=1)
            text.loc[~outer.ne(outer.shift()), g] = ""
    return text, starts


def _styled(text, starts, grouped: bool, shown_numeric, caption):
    """The ``Styler`` of :func:`show`: numbers right-aligned, short cells unwrapped, a rule above
    each group when ``grouped``."""

    def rules(_):
        # short cells (numbers, intervals) never wrap; long text may
        css = text.map(lambda v: "white-space: nowrap;" if len(v) <= SHORT else "")
        if grouped:
            rows = starts & (text.index > text.index[0])
            css.loc[rows, :] = css.loc[rows, :] + " border-top: 1px solid #888;"
        return css

    uid = hashlib.sha256(text.to_json().encode()).hexdigest()[:10]
    styler = (
        text.style.hide(axis="index")
        .apply(rules, axis=None)
        .set_properties(subset=shown_numeric, **{"text-align": "right"})
        .set_table_styles(
            [
                {"selector": "", "props": "font-size: 0.9em;"},
                {"selector": "td, th", "props": "padding: 0.2em 0.6em;"},
            ]
        )
        .set_table_attributes('class="dataframe book-table"')
        .set_uuid(uid)
    )
    if caption:
        styler = styler.set_caption(caption)
    return styler
