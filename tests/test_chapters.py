"""Static checks of every chapter: the shape STYLE.md asks for, before anything executes.

Execution itself is covered by `recursive-book execute --preset smoke` in scripts/test.sh.
"""

import re
import subprocess

import jupytext
import pytest
from conftest import ROOT
from papermill.translators import PythonTranslator

from recursive_lib.book import cli, params

CHAPTERS = cli.executable_chapters(ROOT)


def _code_cells(name):
    notebook = jupytext.read(cli.chapter_source(ROOT, name))
    return [c for c in notebook.cells if c.cell_type == "code"]


@pytest.mark.parametrize("name", CHAPTERS)
def test_one_parameters_cell_holding_the_preset_and_the_table(name):
    cells = _code_cells(name)
    tagged = [i for i, c in enumerate(cells) if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, f"{name}: exactly one cell tagged parameters"
    assert tagged[0] == 1, f"{name}: first code cell imports, the second holds the parameters"
    source = cells[1].source
    assert re.search(r'^preset = "book"', source, re.M), f"{name}: default preset must be book"
    assert re.search(r'^PRESETS = """', source, re.M), f"{name}: the knobs are one PRESETS table"
    names = [p.name for p in PythonTranslator.inspect(cells[1])]
    assert names[:1] == ["preset"], f"{name}: papermill must see the preset: {names}"
    # papermill reads every line with an "=" as an assignment and warns when it cannot
    table = [line for line in source.splitlines()[1:] if not line.startswith(("PRESETS", "#"))]
    assert not [line for line in table if "=" in line], f"{name}: no '=' inside the PRESETS table"


@pytest.mark.parametrize("name", CHAPTERS)
def test_knobs_are_resolved_right_after_and_every_knob_is_used(name, root):
    cells = _code_cells(name)
    assert cells[2].source.startswith("cfg = params.resolve(PRESETS, preset, globals())"), (
        f"{name}: the third cell must resolve the knobs"
    )
    code = "\n".join(c.source for c in cells[3:])
    for knob in params.chapter_table(cli.chapter_source(root, name)):
        assert re.search(rf"\bcfg\.{knob}\b", code), f"{name}: knob {knob} is never used"


def test_no_notebooks_tracked_in_git(root):
    tracked = subprocess.run(["git", "ls-files", "*.ipynb"], cwd=root, capture_output=True, text=True)
    assert tracked.stdout.strip() == ""


def test_claims_are_worded_in_markdown_and_checked_in_one_call(root):
    """Hidden check cells are at most a fifth of the chapters' code, and no cell only glues: a
    claim's words stand in its ``claim`` block, its numbers reach them through the check."""
    import sys

    sys.path.insert(0, str(root / "scripts"))
    import chapter_stats

    rows = {
        name: chapter_stats.stats(cli.chapter_source(root, name)) for name in cli.executable_chapters(root)
    }
    code = sum(r["code"] for r in rows.values())
    hidden = sum(r["hidden_checks"] for r in rows.values())
    assert hidden / code <= 0.20, {n: f"{r['share']:.0%}" for n, r in rows.items()}
    assert not [n for n, r in rows.items() if r["glue_only"]]
    from recursive_lib.book import findings

    for name in rows:
        text = cli.chapter_source(root, name).read_text()
        blocks = findings.claim_blocks(text, name)
        assert blocks, f"{name}: no claim block"
        quoted = [c for c in blocks if re.search(r"\{glue:(md|text)\}`" + re.escape(c) + r"[`:]", text)]
        assert not quoted, f"{name}: claims quoted through glue, not their blocks: {quoted}"
