"""The built book, as a reader sees it: offline, math typeset, charts drawn, no console errors.

Runs after the book is built (``recursive-book build``). Headless Debian chromium is driven by
Playwright (pointed at the system binary; Playwright's own browser download is never used).
Screenshots of every page land in ``_build/screenshots/`` for humans to look at.
"""

import functools
import http.server
import shutil
import threading
from pathlib import Path

import pytest
from conftest import IN_CI

from recursive_lib.book.offline import scan

pytestmark = pytest.mark.book

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]


def _pages(html: Path) -> list[Path]:
    return sorted(p for p in html.rglob("*.html") if "_static" not in p.parts)


def test_built_book_loads_nothing_from_the_network(built_html):
    assert scan(built_html) == []


def test_no_warning_or_traceback_leaks_into_the_book(built_html, root):
    """Executed chapters print no warnings or errors on stderr (a reader would see them)."""
    import json

    executed = root / "_build" / "executed"
    notebooks = sorted(executed.glob("*.ipynb"))
    if not notebooks:
        pytest.skip(f"no executed notebooks in {executed}")
    leaks = []
    for path in notebooks:
        for cell in json.loads(path.read_text())["cells"]:
            for out in cell.get("outputs", []):
                text = "".join(out.get("text", "")) if out.get("name") == "stderr" else ""
                if "Warning" in text or "Traceback" in text or out.get("output_type") == "error":
                    leaks.append(f"{path.name}: {text[:200] or out.get('ename')}")
    assert not leaks, "\n".join(leaks)


def test_every_chapter_page_was_built(built_html, root):
    from recursive_lib.book.cli import toc_chapters

    for name in toc_chapters(root):
        assert (built_html / "chapters" / f"{name}.html").is_file(), name


def _unavailable(reason: str):
    if IN_CI:
        pytest.fail(f"browser test cannot run under CI=true: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser():
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    if executable is None:
        _unavailable("Debian's chromium is not installed (apt-get install chromium chromium-driver)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as err:
        _unavailable(f"playwright cannot be imported ({err}); pip install -e '.[test]'")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def server(built_html):
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(built_html))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    httpd.RequestHandlerClass.log_message = lambda *args: None
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


COUNT_MARKS = """async () => {
  const imgs = Array.from(document.querySelectorAll('img')).filter(i => i.src.endsWith('.svg')
      && i.closest('.cell_output, figure, .figure'));
  const out = [];
  for (const img of imgs) {
    const text = await (await fetch(img.src)).text();
    out.push({src: img.src, loaded: img.complete && img.naturalWidth > 0,
              marks: (text.match(/role-mark/g) || []).length,
              paths: (text.match(/<path/g) || []).length});
  }
  const inline = Array.from(document.querySelectorAll('svg.marks'));  // vega's own root svg
  for (const svg of inline) {
    out.push({src: 'inline', loaded: true, marks: svg.querySelectorAll('.role-mark').length,
              paths: svg.querySelectorAll('path').length});
  }
  return out;
}"""


def test_every_page_renders_offline_without_errors(browser, server, built_html, root):
    shots = root / "_build" / "screenshots"
    shots.mkdir(parents=True, exist_ok=True)
    failures: list[str] = []
    charts_seen = 0
    for page_path in _pages(built_html):
        rel = page_path.relative_to(built_html).as_posix()
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        external: list[str] = []
        errors: list[str] = []

        def route(r, external=external):
            if r.request.url.startswith(server) or r.request.url.startswith(("data:", "blob:")):
                r.continue_()
            else:
                external.append(r.request.url)
                r.abort()

        context.route("**/*", route)
        page = context.new_page()
        page.on("console", lambda m, errors=errors: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e, errors=errors: errors.append(str(e)))
        page.goto(f"{server}/{rel}", wait_until="networkidle")
        html = page_path.read_text()
        if 'class="math' in html:
            typeset = page.evaluate("""async () => {
                if (!window.MathJax || !MathJax.startup) return -1;
                await MathJax.startup.promise;
                return document.querySelectorAll('mjx-container').length
                     - document.querySelectorAll('mjx-merror').length * 1000;
            }""")
            if typeset <= 0:
                failures.append(f"{rel}: math not typeset (MathJax returned {typeset})")
        specs = page.locator("script.book-chart-spec").count()
        if specs:
            try:  # every chart with a spec is drawn live by the local vega-embed bundle
                page.wait_for_function(
                    "n => document.querySelectorAll('div.book-chart-drawn').length >= n",
                    arg=specs,
                    timeout=60_000,
                )
            except Exception:
                drawn = page.locator("div.book-chart-drawn").count()
                failures.append(f"{rel}: {drawn} of {specs} interactive charts drawn")
        for chart in page.evaluate(COUNT_MARKS):
            charts_seen += 1
            if not chart["loaded"] or chart["marks"] == 0 or chart["paths"] == 0:
                failures.append(f"{rel}: chart {chart['src']} has no drawn marks ({chart})")
        target = shots / (rel.replace("/", "__").removesuffix(".html") + ".png")
        page.screenshot(path=str(target), full_page=True)
        failures += [f"{rel}: console error: {e}" for e in errors]
        failures += [f"{rel}: network request to {u}" for u in external]
        context.close()
    assert not failures, "\n".join(failures)
    assert charts_seen > 0, "no chart found in the whole book"


def _tooltip_number(text: str) -> float:
    return float(text.replace("\u2212", "-").replace(",", ""))


def test_a_chart_answers_a_hover_with_the_values_of_its_csv(browser, server, built_html):
    """Hover a point of the first chart of the introduction: the tooltip names alpha, n, the error
    and its interval, its numbers are a row of the figure's CSV, and the other lines dim."""
    import csv
    import io

    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.route("**/*", lambda r: r.continue_() if r.request.url.startswith(server) else r.abort())
    page = context.new_page()
    page.goto(f"{server}/chapters/intro.html", wait_until="networkidle")
    page.wait_for_selector("div.book-chart-drawn", timeout=60_000)
    chart = page.locator("div.book-chart-drawn").first
    assert chart.locator("img").first.is_hidden()  # the static SVG gave way to the live chart
    points = chart.locator("g.mark-symbol.role-mark path")
    assert points.count() > 2
    points.nth(points.count() // 2).hover(force=True)
    tooltip = page.locator("#vg-tooltip-element")
    tooltip.wait_for(state="visible", timeout=10_000)
    cells = tooltip.locator("tr").evaluate_all(
        "rows => rows.map(r => [r.cells[0].textContent, r.cells[1].textContent])"
    )
    values = dict(cells)
    assert {"alpha", "n", "interval"} <= set(values), values
    error_key = next(k for k in values if k not in {"alpha", "n", "interval"})
    href = chart.locator("a.book-chart-csv").first.get_attribute("href")
    text = page.evaluate("async url => (await fetch(url)).text()", href)
    rows = list(csv.DictReader(io.StringIO(text)))
    n = _tooltip_number(values["n"])  # shown to 4 significant digits
    match = [
        row
        for row in rows
        if float(row["alpha"]) == _tooltip_number(values["alpha"]) and abs(float(row["n"]) - n) <= 5e-4 * n
    ]
    assert len(match) == 1, (values, len(rows))
    assert _tooltip_number(values[error_key]) == pytest.approx(float(match[0]["mean"]), rel=1e-3)
    if values["interval"] == "none":  # a single repetition has no interval
        assert not match[0]["lo"] and not match[0]["hi"], match[0]
    else:
        lo, hi = (_tooltip_number(v) for v in values["interval"].split(" to "))
        assert (lo, hi) == (
            pytest.approx(float(match[0]["lo"]), rel=1e-3),
            pytest.approx(float(match[0]["hi"]), rel=1e-3),
        )
    opacities = chart.locator("g.mark-line.role-mark path").evaluate_all(
        "paths => paths.map(p => parseFloat(p.getAttribute('opacity') ?? '1'))"
    )
    assert max(opacities) == 1 and min(opacities) < 0.5, opacities  # hovered line stands out
    context.close()
