"""Charts on the page: the local vega bundle loads nothing remote, every figure links the CSV of the
data it was drawn from, and that CSV holds every plotted column (tests marked ``book`` read the
built book)."""

import json
import posixpath
from pathlib import Path

import pandas as pd
import pytest
import vl_convert

from recursive_lib import plots
from recursive_lib.book import charts, sphinx_charts
from recursive_lib.book.offline import js_remote_urls


@pytest.mark.slow
def test_the_served_bundle_names_no_remote_address():
    raw = vl_convert.javascript_bundle()
    assert js_remote_urls(raw) == [sphinx_charts.SCHEMA_URL]  # the one address we replace
    text = sphinx_charts.bundle_text()
    assert js_remote_urls(text) == []
    assert "window.vegaEmbed=" in text and len(text) > 500_000
    assert js_remote_urls(sphinx_charts.INIT_JS) == []


def _spec_and_svg(chart):
    charts.enable()
    bundle = chart._repr_mimebundle_()
    bundle = bundle[0] if isinstance(bundle, tuple) else bundle
    chart = charts.parse_chart_html(bundle["text/html"])
    assert chart is not None, bundle["text/html"][:200]
    return chart


def _curves():
    return pd.DataFrame(
        [dict(alpha=a, n=n, mean=1 / n, lo=0.9 / n, hi=1.1 / n) for a in (0.2, 1.0) for n in (1, 2, 4)]
    )


def test_chart_html_writes_the_svg_and_one_csv_per_table(tmp_path):
    summary = _curves()
    theory = summary.rename(columns={"mean": "value"})[["alpha", "n", "value"]]
    spec, svg = _spec_and_svg(plots.error_curves(summary, "e", theory=theory))
    page = sphinx_charts.chart_html(spec, svg, "fig-x", "chapters", tmp_path)
    assert 'class="book-chart-spec"' in page and "$schema" not in page
    assert 'src="../_images/chart-' in page
    img = next(tmp_path.glob("_images/chart-*.svg"))
    assert img.read_text() == svg
    first = pd.read_csv(tmp_path / "figure-data/chapters/fig-x-1.csv")
    second = pd.read_csv(tmp_path / "figure-data/chapters/fig-x-2.csv")
    assert 'href="../figure-data/chapters/fig-x-1.csv"' in page
    assert sorted([list(first.columns), list(second.columns)]) == sorted(
        [list(summary.columns), list(theory.columns)]
    )
    assert len(first) + len(second) == len(summary) + len(theory)


def test_a_large_chart_stays_static_but_keeps_its_csv(tmp_path, monkeypatch):
    spec, svg = _spec_and_svg(plots.error_curves(_curves(), "e"))
    monkeypatch.setattr(sphinx_charts, "MAX_INTERACTIVE_CHARS", 10)
    page = sphinx_charts.chart_html(spec, svg, "fig-y", "", tmp_path)
    assert "book-chart-spec" not in page and 'href="figure-data/fig-y.csv"' in page
    assert len(pd.read_csv(tmp_path / "figure-data/fig-y.csv")) == len(_curves())


# --- the built book ------------------------------------------------------------------------------


def plotted_fields(spec) -> set[str]:
    """Fields a spec encodes (x, y, colour, tooltip, facet, ...), minus those its transforms make."""
    fields, made = set(), set()

    def walk(node, in_encoding=False):
        if isinstance(node, dict):
            if in_encoding and isinstance(node.get("field"), str):
                fields.add(node["field"])
            for key, value in node.items():
                if key == "transform":
                    for step in value:
                        made.update([step["as"]] if isinstance(step.get("as"), str) else step.get("as", []))
                walk(value, in_encoding or key in ("encoding", "facet"))
        elif isinstance(node, list):
            for value in node:
                walk(value, in_encoding)

    walk(spec)
    return fields - made


def _chapter_pages(html: Path) -> list[Path]:
    return sorted((html / "chapters").glob("*.html"))


@pytest.mark.book
def test_every_figure_links_the_csv_of_its_plotted_data(built_html):
    from bs4 import BeautifulSoup

    problems, figures, interactive = [], 0, 0
    for page in _chapter_pages(built_html):
        soup = BeautifulSoup(page.read_text(), "html.parser")
        rel_dir = posixpath.dirname(page.relative_to(built_html).as_posix())
        for figure in soup.find_all("figure"):
            figures += 1
            where = f"{page.name}#{figure.get('id')}"
            charts = figure.select("div.book-chart")
            if len(charts) != 1:
                problems.append(f"{where}: {len(charts)} charts in the figure")
                continue
            links = charts[0].select("p.book-chart-data a.book-chart-csv")
            if not links:
                problems.append(f"{where}: no CSV link")
                continue
            frames = []
            for link in links:
                target = built_html / posixpath.normpath(posixpath.join(rel_dir, link["href"]))
                if not target.is_file():
                    problems.append(f"{where}: {link['href']} missing")
                    continue
                frame = pd.read_csv(target)
                if frame.empty:
                    problems.append(f"{where}: {link['href']} has no rows")
                frames.append(frame)
            source = charts[0].select_one("script.book-chart-spec")
            if source is None:
                continue
            interactive += 1
            spec = json.loads(source.string)
            columns = set().union(*(set(f.columns) for f in frames)) if frames else set()
            missing = plotted_fields(spec) - columns
            if missing:
                problems.append(f"{where}: plotted columns missing from the CSV: {sorted(missing)}")
            rows = sum(len(v) for v in spec.get("datasets", {}).values())
            if rows != sum(len(f) for f in frames):
                problems.append(f"{where}: CSV rows {[len(f) for f in frames]} != data rows {rows}")
    assert not problems, "\n".join(problems)
    assert figures >= 10 and interactive >= figures // 2, (figures, interactive)


@pytest.mark.book
def test_only_pages_with_charts_load_the_chart_scripts(built_html):
    bundle = built_html / sphinx_charts.BUNDLE
    assert bundle.is_file() and (built_html / sphinx_charts.INIT).is_file()
    with_charts = 0
    for page in sorted(built_html.rglob("*.html")):
        if "_static" in page.parts:
            continue
        text = page.read_text()
        has_spec = 'class="book-chart-spec"' in text
        loads = "book-charts/vega-embed-bundle.js" in text
        assert has_spec == loads, page
        with_charts += has_spec
    assert with_charts >= 5


def test_side_by_side_panels_of_one_frame_give_one_csv(tmp_path):
    import altair as alt

    summary = _curves().assign(estimator=lambda f: ["kde" if a < 0.5 else "ecdf" for a in f.alpha])
    theory = summary.rename(columns={"mean": "value"})[["estimator", "alpha", "n", "value"]]
    chart = alt.hconcat(
        *[
            plots.error_curves(summary[summary.estimator == e], "e", theory=theory[theory.estimator == e])
            for e in ("kde", "ecdf")
        ]
    )
    spec, svg = _spec_and_svg(chart)
    assert len(charts.spec_frames(spec)) == 4
    sphinx_charts.chart_html(spec, svg, "fig-z", "chapters", tmp_path)
    first = pd.read_csv(tmp_path / "figure-data/chapters/fig-z-1.csv")
    second = pd.read_csv(tmp_path / "figure-data/chapters/fig-z-2.csv")
    assert sorted(first.estimator.unique()) == ["ecdf", "kde"] and len(first) == len(summary)
    assert list(second.columns) == list(theory.columns) and len(second) == len(theory)


def test_export_figures_writes_the_csv_beside_the_svg(tmp_path):
    from recursive_lib.book.cli import export_figures

    charts.enable()
    bundle = plots.error_curves(_curves(), "e")._repr_mimebundle_()
    bundle = bundle[0] if isinstance(bundle, tuple) else bundle
    prefix = "application/papermill.record/"
    output = {
        "output_type": "display_data",
        "metadata": {"scrapbook": {"name": "fig-e", "mime_prefix": prefix}},
        "data": {prefix + k: v for k, v in bundle.items()},
    }
    notebook = tmp_path / "ch.ipynb"
    notebook.write_text(json.dumps({"cells": [{"cell_type": "code", "outputs": [output]}]}))
    written = export_figures(notebook, tmp_path / "ch_files")
    assert sorted(p.name for p in written) == ["fig-e.csv", "fig-e.svg"]
    frame = pd.read_csv(tmp_path / "ch_files" / "fig-e.csv")
    assert list(frame.columns) == list(_curves().columns) and len(frame) == len(_curves())
    assert (tmp_path / "ch_files" / "fig-e.svg").read_text() == bundle["image/svg+xml"]


@pytest.mark.book
def test_every_line_point_and_legend_colour_of_the_book_is_legible_on_white(built_html):
    """The static SVG of every chart of the book (the fallback the pages show): lines, points,
    rules and legend symbols reach plots.MIN_CONTRAST against white. Heatmap cells and digit
    pixels (rects) carry values, not series, and are not checked; bands are translucent."""
    from test_plots import contrast_with_white, drawn_colours

    charts = sorted(built_html.glob("_images/chart-*.svg"))
    assert len(charts) >= 10
    weak = []
    for path in charts:
        colours = drawn_colours(path.read_text(), kinds=("mark-line", "mark-symbol", "mark-rule"))
        weak += [
            f"{path.name}: rgb{c} at opacity {o:.2f}: {contrast_with_white(c, o):.2f}"
            for c, o in set(colours)
            if contrast_with_white(c, o) < plots.MIN_CONTRAST
        ]
    assert not weak, "\n".join(sorted(weak))
