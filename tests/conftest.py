"""Shared fixtures: the repository root and the built book (for tests marked ``book``)."""

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: the front matter of a jupytext MyST chapter: tests put it before the chapters they make
MYST_HEADER = """---
jupytext:
  text_representation:
    extension: .md
    format_name: myst
kernelspec:
  display_name: Python 3
  language: python
  name: python3
---

"""
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def built_html() -> Path:
    """``_build/html`` of a finished build; a missing build is a failure in CI, a skip elsewhere."""
    html = Path(os.environ.get("RECURSIVE_BOOK_HTML", ROOT / "_build" / "html"))
    if not (html / "index.html").is_file():
        message = f"no built book at {html}: run `recursive-book build` first"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return html


@pytest.fixture(scope="session")
def executed_dir() -> Path:
    """The chapters executed with ``--preset smoke`` (scripts/test.sh writes ``_build/executed``)."""
    folder = Path(os.environ.get("RECURSIVE_BOOK_EXECUTED", ROOT / "_build" / "executed"))
    if not any(folder.glob("*.ipynb")):
        message = f"no executed chapters in {folder}: run `recursive-book execute --preset smoke`"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return folder


#: modules whose every test runs a subprocess of some weight (a benchmark, a book build, a forked
#: chapter, worker pools): left out of the quick default (`pytest`), run by scripts/test.sh
SLOW_MODULES = frozenset({"test_benchmarks", "test_publish", "test_fork", "test_sweep_backends"})


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.module.__name__ in SLOW_MODULES:
            item.add_marker(pytest.mark.slow)
