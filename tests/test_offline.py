"""The offline scanner finds what a browser would fetch, and ignores links a reader clicks."""

import pytest

from recursive_lib.book.offline import css_remote_urls, is_remote, js_remote_urls, scan


def test_is_remote():
    assert is_remote("https://cdn.jsdelivr.net/npm/vega@5")
    assert is_remote("//fonts.googleapis.com/css")
    assert not is_remote("_static/mathjax/tex-chtml.js")
    assert not is_remote("data:image/png;base64,AAAA")


def test_css_and_js_detection():
    assert css_remote_urls("@import 'https://fonts.googleapis.com/css?family=Lato';") == [
        "https://fonts.googleapis.com/css?family=Lato"
    ]
    assert css_remote_urls("a{background:url(img/x.png)}") == []
    js = 'var s = "https://cdn.jsdelivr.net/npm/vega-embed@6"; // see https://example.org/docs'
    assert js_remote_urls(js) == ["https://cdn.jsdelivr.net/npm/vega-embed@6"]
    assert js_remote_urls('load("https://unpkg.com/x/dist/y.min.js")') == [
        "https://unpkg.com/x/dist/y.min.js"
    ]


def _page(tmp_path, body, extra=None):
    (tmp_path / "index.html").write_text(f"<html><head></head><body>{body}</body></html>")
    for name, text in (extra or {}).items():
        (tmp_path / name).write_text(text)
    return scan(tmp_path)


def test_scan_flags_loads_but_not_anchors(tmp_path):
    problems = _page(
        tmp_path,
        """
        <a href="https://arxiv.org/abs/2602.16065">paper</a>
        <script src="https://cdn.example.org/mathjax.js"></script>
        <link rel="stylesheet" href="https://fonts.googleapis.com/css2">
        <img src="_images/ok.svg">
        <script>require.config({paths: {vega: "https://cdn.jsdelivr.net/npm/vega@5?noext"}})</script>
        """,
        {"theme.css": "@font-face{src:url(https://fonts.gstatic.com/x.woff2)}"},
    )
    text = "\n".join(problems)
    assert "cdn.example.org/mathjax.js" in text
    assert "fonts.googleapis.com" in text
    assert "cdn.jsdelivr.net" in text
    assert "fonts.gstatic.com" in text
    assert "arxiv.org" not in text
    assert len(problems) == 4


def test_scan_needs_a_built_book(tmp_path):
    with pytest.raises(FileNotFoundError, match="build the book first"):
        scan(tmp_path)
