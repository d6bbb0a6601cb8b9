"""Static checks of every chapter: the shape STYLE.md asks for, before anything executes.

Execution itself is covered by `recursive-book execute --preset smoke` in scripts/test.sh.
"""

import re
import subprocess

import jupytext
import pytest
from papermill.translators import PythonTranslator

from conftest import ROOT
from recursive_lib import cli, presets

CHAPTERS = cli.executable_chapters(ROOT)


def _code_cells(name):
    notebook = jupytext.read(cli.chapter_source(ROOT, name))
    return [c for c in notebook.cells if c.cell_type == "code"]


@pytest.mark.parametrize("name", CHAPTERS)
def test_one_parameters_cell_with_a_book_preset(name):
    cells = _code_cells(name)
    tagged = [i for i, c in enumerate(cells) if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, f"{name}: exactly one cell tagged parameters"
    i = tagged[0]
    assert i == 1, f"{name}: first code cell imports, the second holds the parameters"
    source = cells[i].source
    assert re.search(r'^preset = "book"', source, re.M), f"{name}: default preset must be book"
    params = PythonTranslator.inspect(cells[i])
    assignments = [line for line in source.splitlines() if re.match(r"^\w+\s*=", line)]
    # papermill skips lines it cannot parse (an '=' inside a comment, say): every knob must parse
    assert [p.name for p in params] == [a.split("=")[0].strip() for a in assignments]
    assert all(p.help for p in params), f"{name}: every knob needs a comment"


@pytest.mark.parametrize("name", CHAPTERS)
def test_parameters_are_validated_right_after(name):
    cells = _code_cells(name)
    knobs = [p.name for p in PythonTranslator.inspect(cells[1]) if p.name != "preset"]
    check = cells[2].source
    assert f'presets.resolve("{name}", preset' in check, f"{name}: third cell must validate"
    for knob in knobs:
        assert re.search(rf"\b{knob}={knob}\b", check), f"{name}: knob {knob} is not validated"
    assert name in presets.PRESETS


def test_no_notebooks_tracked_in_git():
    tracked = subprocess.run(["git", "ls-files", "*.ipynb"], cwd=ROOT, capture_output=True, text=True)
    assert tracked.stdout.strip() == ""
