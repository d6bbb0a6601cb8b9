"""Forking a chapter is copying one file and adding one line to _toc.yml: no library edit.

Done here exactly as a new user would: in a copy of the repository, through the command line.
"""

import json
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import ROOT


def _copy_of_the_repository(target: Path) -> Path:
    files = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    for name in files:
        if (ROOT / name).is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, target / name)
    return target


def _glued(notebook: Path, name: str) -> str:
    for cell in json.loads(notebook.read_text())["cells"]:
        for output in cell.get("outputs", []):
            if output.get("metadata", {}).get("scrapbook", {}).get("name") == name:
                return "".join(output["data"]["application/papermill.record/text/plain"])
    raise AssertionError(f"{name} not glued in {notebook}")


def test_fork_a_chapter_by_copying_one_file(tmp_path):
    repo = _copy_of_the_repository(tmp_path / "repo")
    before = {p: p.read_bytes() for p in (repo / "recursive_lib").rglob("*.py")}
    chapters = repo / "chapters"
    source = (chapters / "setting.md").read_text()
    # the fork changes one preset value in its own table: smoke reps 4 -> 3
    row = next(line for line in source.splitlines() if line.startswith("| `reps`"))
    forked_row = row.replace("| 4 ", "| 3 ", 1)
    assert forked_row != row
    (chapters / "my_experiment.md").write_text(source.replace(row, forked_row))
    with open(repo / "_toc.yml", "a") as toc:
        toc.write("  - caption: My experiments\n    chapters:\n      - file: chapters/my_experiment\n")

    cli = [sys.executable, "-m", "recursive_lib.book.cli"]
    listed = subprocess.run(
        [*cli, "params", "my_experiment"], cwd=repo, capture_output=True, text=True, check=True
    ).stdout
    assert any(line.split()[:2] == ["reps", "3"] for line in listed.splitlines())
    run = subprocess.run(
        [*cli, "run", "my_experiment", "--preset", "smoke", "-p", "T", "5", "--out", "results/mine"],
        cwd=repo,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    notebook = repo / "results" / "mine" / "my_experiment.ipynb"
    assert _glued(notebook, "setting-reps") == "3" and _glued(notebook, "setting-T") == "5"
    assert {p: p.read_bytes() for p in (repo / "recursive_lib").rglob("*.py")} == before
