"""The library reference (``chapters/api.md``): a plain page of the book, rendered from the docstrings.

The unit tests check the page's place in the book (in ``_toc.yml``, never executed, copied by the
build's staging). The ``book`` tests read the built HTML: every public name of every module the
page documents has an entry (autodoc silently leaves out a function without a docstring), the
entries the chapters lean on are there, no object's memory address leaks into a rendered value,
and every chapter links to the reference at least once.
"""

import importlib
import inspect
import re

import pytest
from conftest import ROOT

from recursive_lib.book import cli

PAGE = "api"
SOURCE = ROOT / "chapters" / f"{PAGE}.md"


def documented_modules() -> list[str]:
    """Modules the page renders with their members (``automodule`` without ``:no-members:``)."""
    return re.findall(r"^\.\. automodule:: (\S+)\n(?!   :no-members:)", SOURCE.read_text(), flags=re.M)


def public_names(module_name: str) -> list[str]:
    """Anchors the page must hold for a module: ``<defining module>.<name>`` for each public name
    (its ``__all__``, or the functions and classes it defines)."""
    module = importlib.import_module(module_name)
    names = getattr(module, "__all__", None)
    if names is None:
        names = [
            n
            for n, obj in vars(module).items()
            if not n.startswith("_")
            and (inspect.isfunction(obj) or inspect.isclass(obj))
            and obj.__module__ == module_name
        ]
    anchors = []
    for name in names:
        obj = getattr(module, name)  # a stale name in __all__ fails here
        home = obj.__module__ if inspect.isfunction(obj) or inspect.isclass(obj) else module_name
        anchors.append(f"{home}.{name}")
    return anchors


def test_reference_is_a_plain_page_of_the_book(root):
    assert PAGE in cli.toc_chapters(root)
    assert not cli.is_notebook(SOURCE)
    assert PAGE not in cli.executable_chapters(root)


def test_staging_copies_the_reference_page(tmp_path, root):
    (tmp_path / "executed").mkdir()
    empty = '{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}'
    for name in cli.executable_chapters(root):  # stand-ins for the executed chapters
        (tmp_path / "executed" / f"{name}.ipynb").write_text(empty)
    staged = cli.stage(root, tmp_path / "executed", tmp_path / "staged")
    assert (staged / "chapters" / f"{PAGE}.md").read_text() == SOURCE.read_text()


def test_page_documents_the_layers_the_chapters_call():
    modules = documented_modules()
    for needed in (
        "recursive_lib.simulation",
        "recursive_lib.sweep",
        "recursive_lib.rates",
        "recursive_lib.theory",
        "recursive_lib.claims",
        "recursive_lib.plots",
        "recursive_lib.metrics",
        "recursive_lib.loops.regimes",
        "recursive_lib.estimators.kde",
        "recursive_lib.data.truths",
        "recursive_lib.experiments.thinned",
    ):
        assert needed in modules, needed
    for module in modules:
        assert public_names(module), f"{module}: no public name to document"


@pytest.fixture(scope="module")
def page(built_html) -> str:
    path = built_html / "chapters" / f"{PAGE}.html"
    assert path.is_file(), f"{path} was not built"
    return path.read_text()


@pytest.mark.book
def test_reference_documents_every_public_name(page):
    anchors = set(re.findall(r'id="(recursive_lib[\w.]*)"', page))
    for name in (
        "recursive_lib.simulation.simulate",
        "recursive_lib.simulation.Config",
        "recursive_lib.sweep.run_sweep",
        "recursive_lib.rates.fit_slopes",
    ):
        assert name in anchors, name
    missing = [a for m in documented_modules() for a in public_names(m) if a not in anchors]
    assert not missing, f"public names without an entry on the reference page (no docstring?): {missing}"


@pytest.mark.book
def test_reference_renders_parameters_and_no_addresses(page):
    simulate = page[page.index('id="recursive_lib.simulation.simulate"') :]
    simulate = simulate[: simulate.index("</dl>")]
    assert "Returns" in simulate, "simulate's Returns section did not render"
    assert not re.search(r" at 0x[0-9a-f]{6,}", page), "an object's memory address leaked into the page"


@pytest.mark.book
def test_every_chapter_links_to_the_reference(built_html, page, root):
    anchors = set(re.findall(r'id="([\w.-]+)"', page))
    for name in cli.executable_chapters(root):
        html = (built_html / "chapters" / f"{name}.html").read_text()
        links = re.findall(rf'href="{PAGE}\.html#((?:module-)?recursive_lib[\w.]*)"', html)
        assert links, f"chapter {name} does not link to the reference page"
        assert set(links) <= anchors, f"{name}: links to missing entries {set(links) - anchors}"
