"""The files a research project ships: licence, citation, changelog, one version."""

import subprocess
import sys

import tomllib
import yaml

from recursive_lib import __version__


def test_one_version_from_one_source(root):
    pyproject = tomllib.loads((root / "pyproject.toml").read_text())
    assert "version" not in pyproject["project"] and "version" in pyproject["project"]["dynamic"]
    assert pyproject["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "recursive_lib.__version__"}
    out = subprocess.run(
        [sys.executable, "-m", "recursive_lib.book.cli", "--version"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out.strip() == f"recursive-book {__version__}"
    assert f"## {__version__} " in (root / "CHANGELOG.md").read_text()
    assert yaml.safe_load((root / "CITATION.cff").read_text())["version"] == __version__


def test_citation_file_is_valid_and_prefers_the_paper(root):
    """The required keys of the Citation File Format 1.2.0 are there (the full schema check is the
    pre-commit hook `validate-cff`, which runs cffconvert in an environment of its own)."""
    cff = yaml.safe_load((root / "CITATION.cff").read_text())
    assert cff["cff-version"] == "1.2.0"
    assert {"message", "title", "authors", "version"} <= set(cff)
    assert all("family-names" in a or "name" in a for a in cff["authors"])
    assert "arXiv:2602.16065" in str(cff["preferred-citation"])
    assert {"type", "title", "authors"} <= set(cff["preferred-citation"])
    hooks = yaml.safe_load((root / ".pre-commit-config.yaml").read_text())["repos"]
    assert any(hook["id"] == "validate-cff" for repo in hooks for hook in repo["hooks"])


def test_the_licence_is_the_one_the_readme_names(root):
    assert (root / "LICENSE").read_text().startswith("MIT License")
    assert "Code: MIT" in (root / "README.md").read_text()
