"""Same numbers: seeded results and every glued value of every chapter, digested before the
library's redesign (scripts/record_digests.py), must not change when code moves.

A change that is meant to change numbers records new digests in the same commit and says so.
"""

import json

import pytest
from conftest import ROOT
from regression_cases import CASES, digest, glue_values

DIGESTS = ROOT / "tests" / "digests"
RESULTS = json.loads((DIGESTS / "results.json").read_text())
GLUE = json.loads((DIGESTS / "glue_smoke.json").read_text())


def test_every_case_has_a_recorded_digest():
    assert sorted(CASES) == sorted(RESULTS)


@pytest.mark.parametrize("name", sorted(CASES))
def test_seeded_results_are_unchanged(name):
    assert digest(CASES[name]()) == RESULTS[name], (
        f"{name}: the numbers changed; if that is intended, run scripts/record_digests.py"
    )


@pytest.mark.book
@pytest.mark.parametrize("chapter", sorted(GLUE))
def test_glued_values_at_smoke_are_unchanged(chapter, executed_dir):
    notebook = executed_dir / f"{chapter}.ipynb"
    assert notebook.is_file(), f"{notebook} missing: execute the chapters with --preset smoke"
    found = glue_values(notebook)
    changed = {k: (v, found.get(k)) for k, v in GLUE[chapter].items() if found.get(k) != v}
    assert not changed, f"{chapter}: glued values changed (recorded, now): {changed}"
