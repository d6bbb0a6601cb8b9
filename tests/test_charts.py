"""The book's renderer (:mod:`recursive_lib.book.charts`): the HTML output carries the SVG and the
spec with its data, nothing in the data can close the spec early, and charts fit the text column."""

import json
import re

import altair as alt
import pandas as pd
import pytest
import vl_convert as vlc
from test_plots import _bundle, _curves, _summary

from recursive_lib import plots
from recursive_lib.book import charts


def test_enable_registers_the_book_renderer_only_when_called():
    charts.enable()
    charts.enable()  # idempotent
    assert alt.renderers.active == "book"


def test_parse_chart_html_refuses_other_html():
    assert charts.parse_chart_html("<div>not a chart</div>") is None


def test_book_renderer_carries_svg_and_spec_with_the_plotted_data():
    summary = _curves()
    bundle = _bundle(plots.error_curves(summary, "mean error", title="t"))
    page = bundle["text/html"]
    match = re.match(
        r'<div class="book-chart"><script type="application/json" class="book-chart-spec">'
        r'(.*?)</script><div class="book-chart-static">(<svg.*</svg>)</div></div>$',
        page,
        re.S,
    )
    assert match, page[:300]
    assert match.group(2) == bundle["image/svg+xml"]
    spec = json.loads(match.group(1))
    frames = charts.spec_frames(spec)
    assert len(frames) == 1
    assert set(frames[0].columns) == set(summary.columns)
    pd.testing.assert_frame_equal(
        frames[0][list(summary.columns)].reset_index(drop=True),
        summary.reset_index(drop=True),
        check_dtype=False,
    )


def test_a_closing_script_tag_in_the_data_cannot_end_the_spec_early():
    summary = _curves().assign(alpha=lambda f: f.alpha.map(lambda a: f"</script>{a}"))
    page = _bundle(plots.error_curves(summary, "mean error"))["text/html"]
    assert page.count("</script>") == 1
    spec = json.loads(page.split('class="book-chart-spec">', 1)[1].split("</script>", 1)[0])
    assert charts.spec_frames(spec)[0]["alpha"].str.startswith("</script>").all()


@pytest.mark.slow
def test_charts_fit_the_text_column():
    s = _curves()
    wide = alt.hconcat(plots.error_curves(s, "e"), plots.error_curves(s, "e"))
    assert charts.svg_size(vlc.vegalite_to_svg(wide.to_dict()))[0] > plots.COLUMN  # would overflow
    for chart in [
        plots.error_curves(s, "e"),
        wide,
        plots.slope_panels(_summary()),
        plots.faceted_curves(s.assign(estimator="kde", regime="a"), "e"),
    ]:
        width, height = charts.svg_size(_bundle(chart)["image/svg+xml"])
        assert 0.6 * plots.COLUMN <= width <= plots.COLUMN + 0.5, (chart, width)
        assert height >= 150
    single = charts.svg_size(_bundle(plots.error_curves(s, "e"))["image/svg+xml"])[0]
    assert single >= 0.85 * plots.COLUMN  # a single chart fills the column (was 518 px of 688)
