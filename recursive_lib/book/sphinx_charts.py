"""Sphinx extension: charts that answer back offline, and the data behind every figure.

Every chart rendered by :func:`recursive_lib.book.charts.book_renderer` reaches the page as an HTML
output holding its Vega-Lite spec (with its data) and its static SVG. At build time each such
output becomes:

* the static SVG, written to ``_images/`` and shown as an ``<img>``: what a reader without
  JavaScript sees, and the file to export;
* the spec, in a ``<script type="application/json">``, which ``book-charts.js`` draws with the
  vega / vega-lite / vega-embed bundle that ``vl-convert-python`` ships (tooltips, hover, zoom),
  hiding the SVG once the live chart is drawn. Charts whose spec is larger than
  :data:`MAX_INTERACTIVE_CHARS` (thousands of points or pixels) stay static;
* a link right under the chart to the CSV of the tidy frame it was drawn from (one file per set of
  columns: a theory layer, say, gets its own), written to ``figure-data/<page>/<figure name>.csv``.

The scripts are written into the build output at ``build-finished`` (never into the source
``_static/``, whose every file jupyter-book would add to every page) and referenced only by
pages that have a chart; the bundle, an ES module, is wrapped into a strict function so that it
runs as a classic script (also from ``file://``). The bundle's one remote address, the
``$schema`` identifier that vega-lite writes into the Vega specs it compiles (never fetched), is replaced by a local name, so
the offline scan (:mod:`recursive_lib.book.offline`) finds nothing to load.

Enable with ``sphinx: extra_extensions: [recursive_lib.book.sphinx_charts]`` in ``_config.yml``.
"""

from __future__ import annotations

import hashlib
import html
import json
import posixpath
import re
from pathlib import Path

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.transforms.post_transforms import SphinxPostTransform

from recursive_lib.book.charts import (
    CHART_CLASS,
    SPEC_CLASS,
    STATIC_CLASS,
    figure_files,
    parse_chart_html,
    svg_size,
)

STATIC_DIR = "_static/book-charts"
BUNDLE = f"{STATIC_DIR}/vega-embed-bundle.js"
INIT = f"{STATIC_DIR}/book-charts.js"
CSS = f"{STATIC_DIR}/book-charts.css"
DATA_DIR = "figure-data"
#: Larger specs (e.g. a grid of digit images, thousands of sample points) are shown as SVG only.
MAX_INTERACTIVE_CHARS = 400_000
#: The identifier vega-lite writes as ``$schema`` of compiled Vega specs, and its local stand-in.
SCHEMA_URL = "https://vega.github.io/schema/vega/v6.json"
SCHEMA_LOCAL = "vega/schema/vega/v6.json"  # keeps the form vega-embed parses (library, version)

INIT_JS = """\
/* Draw every chart of the page with the local vega-embed bundle; keep the SVG if that fails. */
(function () {
  "use strict";
  function draw(box) {
    var source = box.querySelector("script.%(spec)s");
    var fallback = box.querySelector(".%(static)s");
    if (!source || !window.vegaEmbed) return;
    var live = document.createElement("div");
    live.className = "book-chart-live";
    box.insertBefore(live, fallback);
    window.vegaEmbed(live, JSON.parse(source.textContent),
                     {mode: "vega-lite", renderer: "svg", actions: false})
      .then(function () { fallback.hidden = true; box.classList.add("book-chart-drawn"); })
      .catch(function (error) { live.remove(); console.error("chart not drawn: " + error); });
  }
  function drawAll() { document.querySelectorAll("div.%(chart)s").forEach(draw); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", drawAll);
  else drawAll();
})();
""" % {"spec": SPEC_CLASS, "static": STATIC_CLASS, "chart": CHART_CLASS}  # noqa: UP031 (JS braces stay single)

CSS_TEXT = f"""\
div.{CHART_CLASS} img, div.{CHART_CLASS} .book-chart-live svg {{ max-width: 100%; height: auto; }}
div.{CHART_CLASS} .book-chart-live {{ width: fit-content; max-width: 100%; margin: 0 auto; }}
div.{CHART_CLASS} {{ text-align: center; }}
p.book-chart-data {{ font-size: 0.85em; margin: 0.25em 0 0.5em; text-align: center; }}
"""


def bundle_text() -> str:
    """The vega / vega-lite / vega-embed bundle of ``vl-convert-python``, with no remote address."""
    import vl_convert
    from altair.utils._importers import vl_version_for_vl_convert

    # the same Vega-Lite version that rendered the static SVG
    # (vl-convert's stub marks ``snippet`` required; without it the call returns the whole bundle)
    text = vl_convert.javascript_bundle(vl_version=vl_version_for_vl_convert())  # type: ignore[call-arg]
    if SCHEMA_URL not in text:
        raise RuntimeError(
            f"the vl-convert bundle no longer holds {SCHEMA_URL!r}: check it for "
            "other remote addresses and update recursive_lib/book/sphinx_charts.py"
        )
    if re.search(r"(^|[;}\s])(import|export)\s*[{(*\"'\w]", text, re.M):
        raise RuntimeError(
            "the vl-convert bundle has import/export statements: it cannot be "
            "wrapped into a classic script any more"
        )
    # The bundle is written as an ES module (strict, top-level names private to it). Wrapped in a
    # strict function it runs as a classic script: its top-level names (e.g. `_`) do not clash
    # with Sphinx's globals, and it also loads from file:// (where module scripts are refused).
    return '(function () {\n"use strict";\n' + text.replace(SCHEMA_URL, SCHEMA_LOCAL) + "\n})();\n"


def _figure_name(node: nodes.Node, fallback: str) -> str:
    parent = node.parent
    while parent is not None and not isinstance(parent, nodes.figure):
        parent = parent.parent
    ids = parent.get("ids", []) if parent is not None else []
    name = ids[0] if ids else fallback
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-") or fallback


def _json_for_script(spec: dict) -> str:
    return json.dumps(spec, separators=(",", ":"), allow_nan=False).replace("</", "<\\/")


def chart_html(spec: dict, svg: str, name: str, page_dir: str, outdir: Path) -> str:
    """The HTML of one chart on a page, after writing its SVG and its CSV files under ``outdir``."""
    data = svg.encode()
    svg_rel = f"_images/chart-{hashlib.sha256(data).hexdigest()[:32]}.svg"
    (outdir / svg_rel).parent.mkdir(parents=True, exist_ok=True)
    (outdir / svg_rel).write_bytes(data)
    width, height = svg_size(svg)
    title = spec.get("title", "")
    title = title.get("text", "") if isinstance(title, dict) else title
    alt_text = html.escape(f"Chart: {title}" if title else f"Chart {name}", quote=True)
    parts = [f'<div class="{CHART_CLASS}" data-figure="{html.escape(name, quote=True)}">']
    page_spec = {k: v for k, v in spec.items() if k != "$schema"}
    payload = _json_for_script(page_spec)
    if len(payload) <= MAX_INTERACTIVE_CHARS:
        parts.append(f'<script type="application/json" class="{SPEC_CLASS}">{payload}</script>')
    parts.append(
        f'<div class="{STATIC_CLASS}"><img src="{posixpath.relpath(svg_rel, page_dir)}" '
        f'alt="{alt_text}" width="{width:g}" height="{height:g}"></div>'
    )
    links = []
    for filename, frame in figure_files(spec, name).items():
        rel = posixpath.join(DATA_DIR, page_dir, filename)
        (outdir / rel).parent.mkdir(parents=True, exist_ok=True)
        frame.to_csv(outdir / rel, index=False)
        href = html.escape(posixpath.relpath(rel, page_dir or "."), quote=True)
        links.append(
            f'<a class="book-chart-csv" href="{href}" download>{html.escape(filename)}</a> '
            f"({len(frame)} rows; columns {html.escape(', '.join(map(str, frame.columns)))})"
        )
    if links:
        label = (
            "Data behind this figure (CSV)"
            if len(links) == 1
            else "Data behind this figure, one CSV per table"
        )
        parts.append(f'<p class="book-chart-data">{label}: ' + "; ".join(links) + "</p>")
    parts.append("</div>")
    return "".join(parts)


class ChartOutputs(SphinxPostTransform):
    """Turn each chart output of a page into its live chart, static SVG and CSV links."""

    default_priority = 5  # after myst-nb's SelectMimeType (4) has kept the text/html output
    formats = ("html",)

    def run(self, **kwargs) -> None:
        docname = self.env.docname
        page_dir = posixpath.dirname(docname)
        outdir = Path(self.app.outdir)
        count = 0
        for node in list(self.document.findall(nodes.raw)):
            if "html" not in node.get("format", "").split():
                continue
            chart = parse_chart_html(node.astext())
            if chart is None:
                continue
            count += 1
            name = _figure_name(node, f"{posixpath.basename(docname)}-chart-{count}")
            text = chart_html(*chart, name, page_dir, outdir)
            node.replace_self(nodes.raw("", text, format="html", classes=node.get("classes", [])))


def _page_assets(app: Sphinx, pagename: str, templatename: str, context: dict, doctree) -> None:
    if f'class="{SPEC_CLASS}"' in context.get("body", ""):
        app.add_js_file(BUNDLE.removeprefix("_static/"), defer="defer")
        app.add_js_file(INIT.removeprefix("_static/"), defer="defer")
    if f'class="{CHART_CLASS}"' in context.get("body", ""):
        app.add_css_file(CSS.removeprefix("_static/"))


def _write_assets(app: Sphinx, exc: Exception | None) -> None:
    if exc is not None or app.builder.format != "html":
        return
    target = Path(app.outdir)
    (target / STATIC_DIR).mkdir(parents=True, exist_ok=True)
    (target / BUNDLE).write_text(bundle_text())
    (target / INIT).write_text(INIT_JS)
    (target / CSS).write_text(CSS_TEXT)


def setup(app: Sphinx) -> dict:
    app.add_post_transform(ChartOutputs)
    app.connect("html-page-context", _page_assets)
    app.connect("build-finished", _write_assets)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
