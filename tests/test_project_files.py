"""The files a research project ships: licence, citation, changelog, one version."""

import subprocess
import sys

import pytest
import tomllib
import yaml
from conftest import ROOT

from recursive_lib import __version__


def test_one_version_from_one_source():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" not in pyproject["project"] and "version" in pyproject["project"]["dynamic"]
    assert pyproject["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "recursive_lib.__version__"}
    out = subprocess.run(
        [sys.executable, "-m", "recursive_lib.book.cli", "--version"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out.strip() == f"recursive-book {__version__}"
    assert f"## {__version__} " in (ROOT / "CHANGELOG.md").read_text()
    assert yaml.safe_load((ROOT / "CITATION.cff").read_text())["version"] == __version__


def test_citation_file_is_valid_and_prefers_the_paper():
    cffconvert = pytest.importorskip("cffconvert")
    del cffconvert
    result = subprocess.run(
        [sys.executable, "-m", "cffconvert.cli.cli", "--validate", "-i", str(ROOT / "CITATION.cff")],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0 and "No module named" in result.stderr:
        result = subprocess.run(
            ["cffconvert", "--validate", "-i", str(ROOT / "CITATION.cff")], capture_output=True, text=True
        )
    assert result.returncode == 0, result.stdout + result.stderr
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert "arXiv:2602.16065" in str(cff["preferred-citation"])


def test_the_licence_is_the_one_the_readme_names():
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")
    assert "Code: MIT" in (ROOT / "README.md").read_text()
