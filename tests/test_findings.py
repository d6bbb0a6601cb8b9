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
