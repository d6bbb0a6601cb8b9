"""Every chapter's claims were evaluated by the smoke run, and the built book lists them."""

import json

import pytest
from conftest import ROOT

from recursive_lib.book import cli, findings
from recursive_lib.book.findings import read_findings
from recursive_lib.claims import VERDICTS

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


BLOCK = """Some prose.

```{claim} setting-a
---
statement: The difference is positive.
holds: >-
  It is positive: {estimate:.2f} [{lo:.2f}, {hi:.2f}].
fails: It is negative.
inconclusive: "Cannot tell: {reason}."
---
```
"""


def _chapter(tmp_path, text=BLOCK, name="setting.md"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_claim_blocks_read_the_statement_and_one_wording_per_verdict():
    blocks = findings.claim_blocks(BLOCK)
    assert blocks == {
        "setting-a": dict(
            statement="The difference is positive.",
            holds="It is positive: {estimate:.2f} [{lo:.2f}, {hi:.2f}].",
            fails="It is negative.",
            inconclusive="Cannot tell: {reason}.",
        )
    }


@pytest.mark.parametrize(
    "broken, message",
    [
        (BLOCK.replace("fails: It is negative.\n", ""), "must give exactly"),
        (BLOCK.replace("---\n```", "```"), "between two '---' lines"),
        (BLOCK.replace("fails: It is negative.", "fails: [unclosed"), "not valid YAML"),
        (BLOCK + BLOCK, "worded twice"),
    ],
)
def test_a_malformed_claim_block_is_refused_with_its_name(broken, message):
    with pytest.raises(ValueError, match=message) as error:
        findings.claim_blocks(broken, "setting.md")
    assert "setting-a" in str(error.value)


def test_the_kernel_words_a_claim_from_its_chapters_markdown(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _chapter(tmp_path)
    found = findings.Findings("setting")
    claim = found.sign("setting-a", 1.0, 0.5, 1.5)
    assert claim.sentence == "It is positive: 1.00 [0.50, 1.50]."
    assert claim._repr_markdown_() == claim.sentence and claim.statement == "The difference is positive."
    with pytest.raises(ValueError, match="no ```{claim} setting-b``` block"):
        found.sign("setting-b", 1.0, 0.5, 1.5)


def test_the_session_names_the_chapter_file_before_the_working_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _chapter(tmp_path)  # setting.md here says "positive"
    fork = _chapter(tmp_path, BLOCK.replace("It is positive", "Up"), "my_fork.md")
    monkeypatch.setenv("JPY_SESSION_NAME", str(fork))
    assert findings.Findings("setting").sign("setting-a", 1.0, 0.5, 1.5).sentence.startswith("Up:")
    ipynb = tmp_path / "my_fork.ipynb"
    ipynb.write_text(json.dumps({"cells": [{"cell_type": "markdown", "source": BLOCK.splitlines(True)}]}))
    monkeypatch.setenv("JPY_SESSION_NAME", str(ipynb))
    assert findings.chapter_source("setting") == ipynb
    assert findings.Findings("setting").sign("setting-a", -1.0, -1.5, -0.5).sentence == "It is negative."


def test_without_the_chapter_file_a_claim_says_its_verdict_and_test(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    found = findings.Findings("setting")
    assert found.source is None
    assert found.sign("setting-a", 1.0, 0.5, 1.5).sentence.startswith("setting-a: **holds** (difference 1")
    with pytest.raises(FileNotFoundError, match="source"):
        findings.Findings("setting", source=tmp_path / "missing.md")


def test_findings_apply_holm_and_then_the_premises(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    say = dict(holds="h", fails="f", inconclusive="i: {reason}")
    found = findings.Findings("setting")
    # p = 0.02 alone would hold; among three tests Holm needs 0.05 / 3
    found.sign("setting-a", 1.0, 0.08, 1.92, statement="a", sentences=say)
    found.sign("setting-b", 0.0, -1.0, 1.0, statement="b", sentences=say)
    found.coverage(
        "setting-c", [0.5], [0.49], [0.51], [0.5], delta=0.05, statement="c", sentences=say, given="setting-a"
    )
    assert found.claims["setting-a"].verdict == "holds" and found.claims["setting-c"].verdict == "holds"
    assert set(found.adjust()) == {"setting-a", "setting-c"}
    a, c = found.claims["setting-a"], found.claims["setting-c"]
    assert a.verdict == "inconclusive" and "Holm" in a.reason and a.adjusted == pytest.approx(3 * a.p_value)
    assert c.verdict == "inconclusive" and c.sentence == "i: its premise (a) is inconclusive"
    assert found.as_dict()["policy"] == dict(method="holm", alpha=0.05, tests=3)


def test_the_page_words_a_recorded_claim_as_the_kernel_did(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _chapter(tmp_path)
    found = findings.Findings("setting")
    found.sign("setting-a", 0.2, -0.5, 0.9)
    record = json.loads(json.dumps(found.as_dict()))
    block = findings.claim_blocks(BLOCK)["setting-a"]
    (entry,) = record["claims"]
    assert findings.wording(block, entry) == found.claims["setting-a"].sentence
    assert entry["sentence"] == "Cannot tell: the interval contains 0."
    assert findings.parse_record(repr(json.dumps(record))) == record


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_every_claim_block_reads_the_same_to_myst_and_to_the_kernel(chapter):
    from myst_parser.parsers.options import options_to_items

    source = cli.chapter_source(ROOT, chapter)
    text = source.read_text()
    blocks = findings.claim_blocks(text, chapter)
    for name, block in blocks.items():
        start = text.index(f"{{claim}} {name}")
        body = text[start:].split("\n---\n", 2)[1] if "\n---\n" in text[start:] else ""
        assert dict(options_to_items(body)[0]) == block, name


def test_a_claim_without_cells_is_not_checked(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    found = findings.Findings("setting")
    assert found.coverage("setting-a", [], [], [], [], delta=0.1) is None and not found.claims
