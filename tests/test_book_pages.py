"""Pages that read like a book: prose first, setup and bookkeeping folded away, tables for reading.

The unit tests check the chapter sources' cell tags, the staging step that folds papermill's
injected cell, and :func:`recursive_lib.book.tables.show`. The tests marked ``book`` open every
chapter of the built book in headless Debian chromium (as tests/test_book_browser.py does), save
a screenshot of its first screen to ``_build/screenshots/first-screen/`` and check that the
first screen holds the chapter's title and prose, not code.
"""

import ast
import json
import math

import jupytext
import pandas as pd
import pytest
from conftest import ROOT
from test_book_browser import browser, server  # noqa: F401  (fixtures: chromium, the built book served)

from recursive_lib.book import cli, tables

CHAPTERS = cli.executable_chapters(ROOT)
CLAIM_METHODS = {"sign", "trend", "coverage", "ordering"}
#: the tags that keep a cell's code off the page or folded behind a toggle
FOLDED = {"hide-input", "hide-cell", "remove-input", "remove-cell"}


def _code_cells(name: str):
    notebook = jupytext.read(ROOT / "chapters" / f"{name}.md", fmt="md:myst")
    return [c for c in notebook.cells if c.cell_type == "code"]


def _tags(cell) -> set[str]:
    return set(cell.metadata.get("tags", []))


def _checks_claims(source: str) -> bool:
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            f = node.func
            if (
                isinstance(f, ast.Attribute)
                and getattr(f.value, "id", None) == "found"
                and f.attr in CLAIM_METHODS
            ):
                return True
    return False


# --- the chapters' sources ------------------------------------------------------------------


@pytest.mark.parametrize("name", CHAPTERS)
def test_setup_cells_are_folded_and_the_knobs_stay_findable(name):
    cells = _code_cells(name)
    imports, parameters = cells[0], cells[1]
    assert "hide-input" in _tags(imports), f"{name}: the imports cell is not folded"
    assert "parameters" in _tags(parameters), f"{name}: the second code cell is not the parameters cell"
    assert "hide-input" in _tags(parameters), f"{name}: the parameters cell is not folded"
    prompt = parameters.metadata.get("mystnb", {}).get("code_prompt_show", "")
    assert "PRESETS" in prompt, f"{name}: the parameters cell's toggle does not say where the knobs are"
    resolve = next(c for c in cells if c.source.startswith("cfg = params.resolve("))
    assert {"remove-input", "hide-output"} <= _tags(resolve), (
        f"{name}: the knob table of the run is not folded behind its own toggle"
    )
    assert "knobs" in resolve.metadata.get("mystnb", {}).get("code_prompt_show", "")


@pytest.mark.parametrize("name", CHAPTERS)
def test_claim_checks_are_folded(name):
    """The code that decides a claim's words is bookkeeping for the reader: one click away."""
    loud = [
        c.source.splitlines()[0]
        for c in _code_cells(name)
        if _checks_claims(c.source) and not _tags(c) & FOLDED
    ]
    assert not loud, f"{name}: claim cells shown in full: {loud}"


@pytest.mark.parametrize("name", CHAPTERS)
def test_no_raw_frame_dump_ends_a_cell(name):
    """A cell that ends by showing a frame shows it through tables.show (no ``.round(3)``,
    ``.head()`` or bare frame)."""
    raw = []
    for cell in _code_cells(name):
        body = ast.parse(cell.source).body
        if not body or not isinstance(body[-1], ast.Expr) or cell.source.rstrip().endswith(";"):
            continue
        last = ast.unparse(body[-1].value)
        if last.endswith((".round(1)", ".round(2)", ".round(3)", ".head()")) or (
            isinstance(body[-1].value, ast.Name) and body[-1].value.id not in {"cfg"}
        ):
            raw.append(last)
    assert not raw, f"{name}: frames shown raw: {raw}"


@pytest.mark.book
def test_no_claim_is_printed_twice(executed_dir):
    """A claim's sentence reaches the page once, through its glue role: a cell whose last line
    returns the Claim (its repr is the sentence again) has its output removed."""
    twice = []
    for name in CHAPTERS:
        path = executed_dir / f"{name}.ipynb"
        if not path.is_file():
            continue
        for cell in json.loads(path.read_text())["cells"]:
            shown = [
                o
                for o in cell.get("outputs", [])
                if "scrapbook" not in o.get("metadata", {})
                and "".join(o.get("data", {}).get("text/plain", "")).startswith("Claim(")
            ]
            if shown and "remove-output" not in cell["metadata"].get("tags", []):
                twice.append(f"{name}: {''.join(cell['source']).splitlines()[0][:60]}")
    assert not twice, "\n".join(twice)


def test_staging_removes_the_injected_parameters_cell(tmp_path):
    notebook = {
        "cells": [
            {
                "cell_type": "code",
                "metadata": {"tags": ["parameters"]},
                "source": "preset = 'book'",
                "outputs": [],
                "execution_count": 1,
            },
            {
                "cell_type": "code",
                "metadata": {"tags": ["injected-parameters"]},
                "source": "preset = 'smoke'",
                "outputs": [],
                "execution_count": 2,
            },
        ],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    source = tmp_path / "chapter.ipynb"
    source.write_text(json.dumps(notebook))
    copied = json.loads(cli.copy_for_reading(source, tmp_path / "staged.ipynb").read_text())
    assert copied["cells"][1]["metadata"]["tags"] == ["injected-parameters", "remove-cell"]
    assert copied["cells"][0]["metadata"]["tags"] == ["parameters"]
    assert json.loads(source.read_text()) == notebook, "the executed notebook itself changed"


# --- the README's first screen and the landing page -----------------------------------------

PAGES_PLACEHOLDER = "https://<owner>.github.io/<repository>/"


def _configured_repositories() -> list[str]:
    """Repository addresses set in the book's configuration files (empty ones are not set)."""
    import yaml

    found = []
    for name in ("_config.yml", "_config.online.yml"):
        path = ROOT / name
        if path.is_file():
            url = ((yaml.safe_load(path.read_text()) or {}).get("repository") or {}).get("url")
            if url:
                found.append(str(url))
    return found


def pages_url(repository: str) -> str:
    """``https://github.com/OWNER/NAME`` -> ``https://OWNER.github.io/NAME/`` (GitHub Pages)."""
    import re

    match = re.fullmatch(r"https://github\.com/([\w.-]+)/([\w.-]+?)(?:\.git)?/?", repository)
    if not match:
        raise ValueError(f"repository url must be https://github.com/OWNER/NAME, got {repository!r}")
    return f"https://{match.group(1).lower()}.github.io/{match.group(2)}/"


def test_pages_url_from_the_repository_address():
    assert (
        pages_url("https://github.com/Some-Lab/recursive-book.git")
        == "https://some-lab.github.io/recursive-book/"
    )
    with pytest.raises(ValueError, match="repository url must be"):
        pages_url("git@github.com:lab/book.git")


def test_readme_first_screen_says_where_to_read_how_to_cite_and_the_two_commands(root):
    first_screen = "\n".join((root / "README.md").read_text().splitlines()[:30])
    for needed in ("github.io", "CITATION.cff", "bash scripts/build-book.sh", "bash scripts/test.sh"):
        assert needed in first_screen, f"README's first screen lacks {needed!r}"
    repositories = _configured_repositories()
    expected = [pages_url(r) for r in repositories] or [PAGES_PLACEHOLDER]
    for url in expected:
        assert url in first_screen, (
            f"README's first screen should give the online address {url} "
            f"(from the repository url {repositories or 'not set'})"
        )


def test_landing_page_says_how_to_rerun_fork_and_cite(root):
    intro = (root / "chapters" / "intro.md").read_text()
    for needed, why in [
        ("recursive-book run CHAPTER -p KNOB VALUE", "rerun"),
        ("cp chapters/", "fork: copy one chapter"),
        ("_toc.yml", "fork: list it"),
        ("CITATION.cff", "cite the book"),
        ("{cite}`wang2026survive`", "cite the paper"),
    ]:
        assert needed in intro, f"chapters/intro.md does not say how to {why} ({needed!r})"


# --- tables.show ----------------------------------------------------------------------------


def _pivot():
    rows = [
        dict(estimator=e, metric=m, alpha=a, slope=s)
        for (e, m), base in {("ecdf", "w1"): 0.1, ("ecdf", "mmd"): 0.2, ("kde", "w1"): 0.3}.items()
        for a, s in [(0.25, base + 0.123456), (0.5, base + 1 / 3)]
    ]
    return pd.DataFrame(rows).pivot_table(index=["estimator", "metric"], columns="alpha", values="slope")


def test_show_hides_the_index_and_names_the_columns():
    html = tables.show(_pivot()).to_html()
    assert "row_heading" not in html and "<th" not in html.split("<tbody>")[1]
    shown = tables.show(_pivot()).data
    assert list(shown.columns) == ["estimator", "distance", "α = 0.25", "α = 0.5"]


def test_show_rounds_to_significant_digits_for_display_only():
    frame = pd.DataFrame(
        {
            "slope": [0.123456, 12.3456, -0.000123456, math.nan],
            "reps": [4, 4, 4, 4],
            "alpha": [0.25, 0.5, 1.0, 0.1],
        }
    )
    before = frame.copy()
    shown = tables.show(frame).data
    assert list(shown["fitted slope"]) == ["0.123", "12.3", "-0.000123", tables.MISSING]
    assert list(shown["repetitions"]) == ["4"] * 4
    assert list(shown["α"]) == ["0.25", "0.5", "1", "0.1"], "short values are shown as typed"
    assert list(tables.show(frame, digits={"slope": 2}).data["fitted slope"])[:2] == ["0.12", "12"]
    pd.testing.assert_frame_equal(frame, before)


def test_show_prints_each_group_once_with_a_rule_above_it():
    styler = tables.show(_pivot())
    assert list(styler.data["estimator"]) == ["ecdf", "", "kde"]
    assert list(styler.data["distance"]) == ["mmd", "w1", "w1"]
    css = styler.to_html().split("</style>")[0]
    ruled = set()
    for block in css.split("}")[:-1]:
        selectors, props = block.rsplit("{", 1)
        if "border-top" in props:
            ruled |= {s.strip().split("_")[-2] for s in selectors.split(",")}
    assert ruled == {"row2"}, "the rule goes above the first row of each new group, only there"


def test_show_selects_and_renames_columns():
    frame = pd.DataFrame({"alpha": [0.5], "slope": [0.4], "junk": [1]})
    shown = tables.show(frame, columns={"alpha": "real fraction", "slope": "fitted slope"}).data
    assert list(shown.columns) == ["real fraction", "fitted slope"]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(digits=0), r"digits \(digits\) must be an integer in \[1, 15\], got 0"),
        (dict(digits={"slope": 99}), r"digits \(slope\) must be an integer in \[1, 15\], got 99"),
        (dict(columns={"nope": "x"}), r"columns \['nope'\] are not in the frame"),
        (dict(group=["nope"]), r"group \['nope'\] names no column"),
    ],
)
def test_show_rejects_bad_arguments_by_name(kwargs, message):
    with pytest.raises(ValueError, match=message):
        tables.show(pd.DataFrame({"slope": [0.4]}), **kwargs)
    with pytest.raises(TypeError, match="frame must be a pandas DataFrame"):
        tables.show([1, 2])


def test_show_is_deterministic():
    """The table's element ids come from its content: rebuilding the book changes no byte."""
    assert tables.show(_pivot()).to_html() == tables.show(_pivot()).to_html()


# --- the built book, in a browser -----------------------------------------------------------

VIEWPORT = {"width": 1280, "height": 800}

FIRST_SCREEN = """() => {
  // checkVisibility() also sees what a closed <details> hides (content-visibility)
  const visible = el => el.checkVisibility({visibilityProperty: true, opacityProperty: true})
      && el.getBoundingClientRect().height > 0;
  const main = document.querySelector('article.bd-article') || document.body;
  const h1 = main.querySelector('h1');
  const paragraph = Array.from(main.querySelectorAll('section > p'))
      .find(p => visible(p) && p.textContent.trim().length > 80);
  const code = Array.from(main.querySelectorAll('.cell_input'))
      .filter(visible).map(el => ({top: el.getBoundingClientRect().top,
                                  text: el.textContent.trim().slice(0, 60)}));
  const tables = Array.from(main.querySelectorAll('.cell_output table'))
      .filter(t => t.querySelector('tbody th')).map(t => t.textContent.trim().slice(0, 80));
  const toggles = Array.from(main.querySelectorAll('details summary')).map(s => s.textContent.trim());
  return {h1: h1 && visible(h1) ? h1.getBoundingClientRect().bottom : null,
          paragraph: paragraph ? {top: paragraph.getBoundingClientRect().top,
                                  bottom: paragraph.getBoundingClientRect().bottom} : null,
          code, tables, toggles};
}"""


@pytest.mark.book
def test_first_screen_of_every_chapter_is_prose(browser, server, built_html, root):  # noqa: F811
    shots = root / "_build" / "screenshots" / "first-screen"
    shots.mkdir(parents=True, exist_ok=True)
    failures = []
    for name in cli.toc_chapters(root):
        if not (built_html / "chapters" / f"{name}.html").is_file():
            failures.append(f"{name}: no page")
            continue
        context = browser.new_context(viewport=VIEWPORT)
        context.route(
            "**/*",
            lambda r: (
                r.continue_()
                if r.request.url.startswith(server) or r.request.url.startswith(("data:", "blob:"))
                else r.abort()
            ),
        )
        page = context.new_page()
        page.goto(f"{server}/chapters/{name}.html", wait_until="networkidle")
        page.screenshot(path=str(shots / f"{name}.png"))
        seen = page.evaluate(FIRST_SCREEN)
        context.close()
        height = VIEWPORT["height"]
        if seen["h1"] is None or seen["h1"] > height:
            failures.append(f"{name}: the title is not on the first screen")
        if name in CHAPTERS and (seen["paragraph"] is None or seen["paragraph"]["bottom"] > height):
            failures.append(f"{name}: no full paragraph of prose on the first screen ({seen['paragraph']})")
        first = seen["paragraph"]["top"] if seen["paragraph"] else height
        early = [c["text"] for c in seen["code"] if c["top"] < max(first, height)]
        if early:
            failures.append(f"{name}: code on the first screen or above the first paragraph: {early}")
        if seen["tables"]:
            failures.append(f"{name}: tables with an index column (raw frame dumps): {seen['tables']}")
        if name in CHAPTERS and not any("PRESETS" in t for t in seen["toggles"]):
            failures.append(f"{name}: no toggle leads to the parameters cell ({seen['toggles']})")
    assert not failures, "\n".join(failures)
