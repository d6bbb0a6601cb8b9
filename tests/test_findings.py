"""Every chapter's claims were evaluated by the smoke run, and the built book lists them."""

import pytest
from conftest import ROOT

from recursive_lib.book import cli
from recursive_lib.claims import VERDICTS, read_findings

CHAPTERS = cli.executable_chapters(ROOT)


@pytest.mark.book
@pytest.mark.parametrize("chapter", CHAPTERS)
def test_every_chapter_recorded_its_claims(chapter, executed_dir):
    record = read_findings(executed_dir / f"{chapter}.ipynb")
    assert record is not None, f"{chapter}: no claims recorded (found.record() missing?)"
    assert record["chapter"] == chapter and record["claims"], f"{chapter}: no claim"
    for claim in record["claims"]:
        assert claim["verdict"] in VERDICTS and claim["sentence"] and claim["statement"]
        assert claim["name"].startswith(f"{chapter}-"), claim["name"]


@pytest.mark.book
def test_the_book_has_a_page_of_findings(built_html):
    page = (built_html / "chapters" / "findings.html").read_text()
    assert "What this build found" in page
    for chapter in CHAPTERS:
        assert f'href="{chapter}.html"' in page, f"no section for {chapter}"


def test_staging_keeps_the_last_glue_of_a_name_and_opens_with_the_preset():
    from recursive_lib.book import findings

    def glued(name, text):
        return {
            "output_type": "display_data",
            "data": {"text/markdown": text},
            "metadata": {"scrapbook": {"name": name}},
        }

    nb = {
        "metadata": {"papermill": {"parameters": {"preset": "smoke"}}},
        "cells": [
            {"cell_type": "markdown", "source": "# Title\n\nFirst paragraph."},
            {"cell_type": "code", "outputs": [glued("c", "before Holm"), glued("d", "kept")]},
            {"cell_type": "code", "outputs": [glued("c", "after Holm")]},
        ],
    }
    cli.drop_superseded_glue(nb)
    assert [o["data"]["text/markdown"] for c in nb["cells"][1:] for o in c["outputs"]] == [
        "kept",
        "after Holm",
    ]
    cli.with_preset_notice(nb)
    # the title, the notice and the text, each a cell of its own (a fence inside the text's cell
    # hid the equations labelled below it from Sphinx)
    title, notice, text = (cell["source"] for cell in nb["cells"][:3])
    assert title == "# Title" and text == "First paragraph."
    assert notice.startswith("```{admonition} Built with the `smoke` preset")
    assert findings.preset_notice("book") == ""
    assert "`T = 5`" in findings.preset_notice("book", {"T": 5})
