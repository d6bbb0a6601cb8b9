"""How the book shows the charts of :mod:`recursive_lib.plots`, and reads them back.

:func:`enable` (once per notebook) selects the ``book`` Altair renderer, :func:`book_renderer`:
every chart is rendered as static SVG through ``vl-convert`` (no JavaScript from a
content-delivery network), narrowed to the text column (:func:`fit_to_column`), and also carries
its Vega-Lite spec, with the data it was drawn from, inside its HTML output. Jupyter shows the SVG;
the built book (``recursive_lib.book.sphinx_charts``) turns the spec into an interactive chart
(tooltips, hover highlighting, zoom) drawn by a locally served vega-embed, keeps the SVG as the
no-JavaScript fallback and links the data behind the figure as CSV. Reading an output back:
:func:`parse_chart_html` (spec and SVG), :func:`figure_frames` (the data behind a figure) and
:func:`figure_files` (its CSV file names), used by ``recursive-book`` and the regression tests.
"""

from __future__ import annotations

import html
import json
import re

import altair as alt
import pandas as pd

from recursive_lib.plots import COLUMN

#: The class of the ``<div>`` that wraps a chart's HTML output, and of its spec ``<script>``.
CHART_CLASS = "book-chart"
SPEC_CLASS = "book-chart-spec"
STATIC_CLASS = "book-chart-static"


def book_renderer(spec: dict, **metadata) -> dict:
    """Altair renderer: the SVG of the chart plus an HTML output holding that SVG and the spec.

    The HTML is ``<div class="book-chart">`` with the Vega-Lite spec (data included) in a
    ``<script type="application/json" class="book-chart-spec">`` and the SVG in a
    ``<div class="book-chart-static">``; no script runs from it by itself.
    """
    spec, svg = fit_to_column(spec, **metadata)
    payload = json.dumps(spec, separators=(",", ":"), allow_nan=False, default=str)
    payload = payload.replace("</", "<\\/")  # never closes the <script> early
    page = (
        f'<div class="{CHART_CLASS}"><script type="application/json" class="{SPEC_CLASS}">'
        f'{payload}</script><div class="{STATIC_CLASS}">{svg}</div></div>'
    )
    return {
        "text/html": page,
        "image/svg+xml": svg,
        "text/plain": html.unescape(f"<{CHART_CLASS}: {spec_title(spec) or 'chart'}>"),
    }


_CHART_HTML = re.compile(
    rf'^\s*<div class="{CHART_CLASS}"><script type="application/json" class="{SPEC_CLASS}">'
    rf'(?P<spec>.*?)</script><div class="{STATIC_CLASS}">(?P<svg>.*)</div></div>\s*$',
    re.DOTALL,
)


def parse_chart_html(text: str) -> tuple[dict, str] | None:
    """The spec and SVG of an HTML output of :func:`book_renderer` (None for any other HTML)."""
    match = _CHART_HTML.match(text)
    return None if match is None else (json.loads(match.group("spec")), match.group("svg"))


def _svg(spec: dict, **metadata) -> str:
    from altair.utils.mimebundle import spec_to_mimebundle

    return spec_to_mimebundle(
        spec, format="svg", mode="vega-lite", vegalite_version=alt.VEGALITE_VERSION, **metadata
    )["image/svg+xml"]


def svg_size(svg: str) -> tuple[float, float]:
    """The ``width`` and ``height`` attributes of an SVG document."""
    head = svg[: svg.index(">")]
    width, height = (re.search(rf'\b{key}="([0-9.]+)', head) for key in ("width", "height"))
    if width is None or height is None:
        raise ValueError(f"the SVG has no numeric width and height: {head[:200]!r}")
    return float(width.group(1)), float(height.group(1))


def _scaled(spec, fx: float, fy: float):
    """A copy of ``spec`` with the width and height of every view multiplied by ``fx``, ``fy``."""
    if isinstance(spec, list):
        return [_scaled(item, fx, fy) for item in spec]
    if not isinstance(spec, dict):
        return spec
    out = dict(spec)
    for key, f in (("width", fx), ("height", fy)):
        if isinstance(out.get(key), (int, float)) and not isinstance(out.get(key), bool):
            out[key] = round(out[key] * f, 1)
    for key in ("spec", "layer", "hconcat", "vconcat", "concat"):
        if key in out:
            out[key] = _scaled(out[key], fx, fy)
    return out


def fit_to_column(spec: dict, column: float | None = None, **metadata) -> tuple[dict, str]:
    """``spec`` with its views narrowed until the whole chart fits ``column`` pixels, and its SVG.

    A chart wider than the column (side-by-side charts, many panels) has every view's width
    multiplied by a factor and its height by the square root of that factor (so that narrowed
    panels do not turn into flat strips); a chart that fits is returned unchanged.
    """
    column = COLUMN if column is None else column
    svg = _svg(spec, **metadata)
    for _ in range(4):
        width = svg_size(svg)[0]
        if width <= column + 0.5:
            break
        views = _view_widths(spec, spec.get("datasets", {}))
        fixed = max(width - views, 0.0) if views else 0.0
        factor = (column - fixed) / (width - fixed) if views and column > fixed else column / width
        factor = min(max(factor, 0.2), 0.999)
        spec = _scaled(spec, factor, factor**0.5)
        svg = _svg(spec, **metadata)
    return spec, svg


def _view_widths(spec: dict, datasets: dict) -> float:
    """Sum of view widths across one row of the chart (the part of its width that scales)."""
    if "hconcat" in spec:
        return sum(_view_widths(s, datasets) for s in spec["hconcat"])
    if "vconcat" in spec:
        return max((_view_widths(s, datasets) for s in spec["vconcat"]), default=0.0)
    if "facet" in spec or "spec" in spec:
        inner = _view_widths(spec.get("spec", {}), datasets)
        facet = spec.get("facet", {})
        columns = spec.get("columns")
        if "column" in facet or ("field" in facet and columns):
            return inner * _facet_columns(spec, datasets)
        return inner
    if "layer" in spec:
        own = spec.get("width")
        return (
            float(own)
            if isinstance(own, (int, float))
            else max((_view_widths(s, datasets) for s in spec["layer"]), default=0.0)
        )
    own = spec.get("width")
    return float(own) if isinstance(own, (int, float)) else 0.0


def _facet_columns(spec: dict, datasets: dict) -> int:
    """How many panels a facet spec puts side by side (from its data)."""
    facet = spec["facet"]
    field = (facet.get("column") or facet).get("field")
    values = set()
    for rows in datasets.values():
        values |= {row.get(field) for row in rows if field in row}
    count = len(values) or 1
    return min(count, spec["columns"]) if spec.get("columns") else count


def spec_title(spec: dict) -> str:
    """The title of a chart spec as plain text ('' when it has none)."""
    title = spec.get("title", "")
    if isinstance(title, dict):
        title = title.get("text", "")
    return " ".join(title) if isinstance(title, list) else str(title)


def spec_frames(spec: dict) -> list[pd.DataFrame]:
    """The tidy frames a chart spec was drawn from: one per dataset, in the spec's order."""
    frames = [pd.DataFrame.from_records(values) for values in spec.get("datasets", {}).values()]
    inline = spec.get("data", {}).get("values") if isinstance(spec.get("data"), dict) else None
    return frames + ([pd.DataFrame.from_records(inline)] if inline else [])


def figure_frames(spec: dict) -> list[pd.DataFrame]:
    """The data behind a figure: :func:`spec_frames`, with frames of the same columns stacked.

    Side-by-side charts drawn from parts of one tidy frame (one panel per estimator, say) give
    that frame back whole; a layer drawn from other columns (a theory curve) stays its own frame.
    """
    groups: dict[tuple, list[pd.DataFrame]] = {}
    for frame in spec_frames(spec):
        groups.setdefault(tuple(frame.columns), []).append(frame)
    return [
        pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0] for frames in groups.values()
    ]


def figure_files(spec: dict, stem: str) -> dict[str, pd.DataFrame]:
    """The CSV files of a figure's data: ``{file name: frame}`` for :func:`figure_frames`, named
    ``<stem>.csv``, or ``<stem>-1.csv``, ``<stem>-2.csv``... when the figure has several tables."""
    frames = figure_frames(spec)
    if len(frames) == 1:
        return {f"{stem}.csv": frames[0]}
    return {f"{stem}-{i}.csv": frame for i, frame in enumerate(frames, start=1)}


def enable() -> None:
    """Render charts with :func:`book_renderer` and lift Altair's 5000-row guard for tidy inputs.

    Registers the ``book`` renderer on first use (importing this module changes nothing).
    """
    if "book" not in alt.renderers.names():
        alt.renderers.register("book", book_renderer)
    alt.renderers.enable("book")
    alt.data_transformers.disable_max_rows()
