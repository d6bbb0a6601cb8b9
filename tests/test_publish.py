"""Taking the book home and reading it online: download buttons for the executed notebook and
the MyST source, the online variant's launch buttons (and none in the default build), one cache
folder for every chapter, the link check."""

import importlib.metadata
import importlib.util
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from test_cli import CHAPTER

from recursive_lib.book import cli, publish
from recursive_lib.book.sphinx_downloads import BUTTON_LABEL, MYST_FOLDER

LAUNCH_HOSTS = re.compile(r"mybinder\.org|colab\.research\.google\.com")


# the staged configuration -------------------------------------------------------------------------


def test_default_build_offers_downloads_and_no_launch_button(root):
    config = cli.staged_config(root)
    assert config["execute"]["execute_notebooks"] == "off"
    assert config["html"]["use_download_button"] is True
    assert config["html"]["use_repository_button"] is False
    assert "recursive_lib.book.sphinx_downloads" in config["sphinx"]["extra_extensions"]
    assert f"{MYST_FOLDER}/**" in config["exclude_patterns"]
    launch = config.get("launch_buttons", {})
    assert not any(launch.get(k) for k in ("binderhub_url", "colab_url", "jupyterhub_url", "thebe"))
    assert not LAUNCH_HOSTS.search(yaml.safe_dump(config))


def test_online_build_adds_binder_and_colab_for_the_notebooks_branch(root):
    config = cli.staged_config(root, online=True, repository="https://github.com/someone/book")
    assert config["launch_buttons"]["binderhub_url"] == "https://mybinder.org"
    assert config["launch_buttons"]["colab_url"] == "https://colab.research.google.com"
    assert config["repository"] == {
        "url": "https://github.com/someone/book",
        "branch": "notebooks",
        "path_to_book": "",
    }
    assert config["html"]["use_repository_button"] is True
    # the rest of _config.yml is kept
    assert config["html"]["use_download_button"] is True
    assert config["title"] == yaml.safe_load((root / "_config.yml").read_text())["title"]


def test_online_build_needs_a_repository_and_repository_needs_online(root):
    with pytest.raises(ValueError, match="repository url must be an https:// address"):
        cli.staged_config(root, online=True)  # _config.online.yml leaves the url empty
    with pytest.raises(ValueError, match="online build only"):
        cli.staged_config(root, repository="https://github.com/someone/book")


# what the published notebooks carry ---------------------------------------------------------------

REQUIREMENT = "recursive_lib[notebooks] @ git+https://github.com/someone/book@0123abc"


def test_requirement_names_the_notebooks_extra_at_the_commit():
    assert publish.requirement("https://github.com/someone/book/", "0123abc") == REQUIREMENT
    with pytest.raises(ValueError, match="https://"):
        publish.requirement("git@github.com:someone/book", "0123abc")
    with pytest.raises(ValueError, match="commit must be a git revision"):
        publish.requirement("https://github.com/someone/book", "")


def test_commit_is_for_the_online_build_only(tmp_path, root):
    with pytest.raises(ValueError, match="online build only"):
        cli.stage(root, tmp_path, tmp_path / "staged", commit="0123abc")


def test_install_cell_goes_first_once_and_keeps_the_notebook():
    notebook = {
        "cells": [{"cell_type": "markdown", "id": "t", "metadata": {}, "source": "# T"}],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    once = publish.with_install_cell(notebook, REQUIREMENT)
    assert [c.get("id") for c in once["cells"]] == [publish.INSTALL_CELL_ID, "t"]
    assert publish.with_install_cell(once, REQUIREMENT) == once
    assert notebook["cells"][0]["id"] == "t" and len(notebook["cells"]) == 1
    import nbformat

    nbformat.validate(nbformat.from_dict(once))


def _run_install_cell(monkeypatch, importable: bool, torch_version: str | None) -> list:
    """Execute the install cell with pip replaced by a recorder; the pip commands it ran."""
    calls = []
    monkeypatch.setattr(subprocess, "run", lambda command, check: calls.append(command))
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: (
            (real_find_spec(name, *a) if importable else None)
            if name == "recursive_lib"
            else real_find_spec(name, *a)
        ),
    )

    def version(name):
        if name == "torch" and torch_version is not None:
            return torch_version
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "version", version)
    exec(compile(publish.install_cell(REQUIREMENT), "install-cell", "exec"), {})
    return calls


def test_install_cell_does_nothing_where_the_library_is_installed(monkeypatch):
    assert _run_install_cell(monkeypatch, importable=True, torch_version="2.13.0") == []


def test_install_cell_keeps_the_kernels_torch(monkeypatch):
    """Colab: torch is there (a CUDA build); pip is held to it by a constraint."""
    [command] = _run_install_cell(monkeypatch, importable=False, torch_version="2.8.0+cu126")
    assert command[-1] == REQUIREMENT and "--extra-index-url" not in command
    constraint = Path(command[command.index("-c") + 1])
    assert constraint.read_text() == "torch==2.8.0+cu126\n"
    constraint.unlink()


def test_install_cell_takes_the_cpu_build_without_a_torch(monkeypatch):
    [command] = _run_install_cell(monkeypatch, importable=False, torch_version=None)
    assert command[command.index("--extra-index-url") + 1] == publish.TORCH_CPU_INDEX
    assert "-c" not in command and command[-1] == REQUIREMENT


def test_the_notebooks_extra_is_the_books_kernel_without_sphinx(root):
    """What the published notebooks install: every package the chapters' kernel needs, at the
    book extra's versions, and none of the build's (jupyter-book, myst-nb, Sphinx)."""
    import tomllib

    extras = tomllib.loads((root / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    notebooks, book = extras[publish.NOTEBOOKS_EXTRA], extras["book"]
    assert set(notebooks) <= set(book)
    assert not [r for r in notebooks if re.match(r"(jupyter-book|myst|sphinx)", r, re.I)]
    assert {re.match(r"[\w.-]+", r).group() for r in notebooks} >= {"ipykernel", "altair", "pyyaml"}
    for chapter in sorted((root / "chapters").glob("*.md")):
        assert not re.search(
            r"^\s*(from|import) (myst_nb|sphinx|jupyter_book)\b", chapter.read_text(), re.M
        ), chapter.name


def test_merge_config_merges_mappings_and_replaces_the_rest():
    base = {"html": {"a": 1, "b": 2}, "list": [1, 2], "keep": True}
    assert cli.merge_config(base, {"html": {"b": 3}, "list": [9]}) == {
        "html": {"a": 1, "b": 3},
        "list": [9],
        "keep": True,
    }
    assert base["html"] == {"a": 1, "b": 2}


# one cache folder ---------------------------------------------------------------------------------


def test_cache_dir_reaches_only_the_chapters_that_have_the_knob(tmp_path, root):
    with_knob = [
        n
        for n in cli.executable_chapters(root)
        if "cache_dir" in cli.params.chapter_table(cli.chapter_source(root, n))
    ]
    without = [n for n in cli.executable_chapters(root) if n not in with_knob]
    assert "rates" in with_knob and "setting" in without
    for name in with_knob:
        assert cli.chapter_parameters(root, name, {"seed": 1}, tmp_path / "cache") == {
            "seed": 1,
            "cache_dir": str((tmp_path / "cache" / name).resolve()),
        }
    for name in without:
        assert cli.chapter_parameters(root, name, {"seed": 1}, tmp_path / "cache") == {"seed": 1}
    assert cli.chapter_parameters(root, "rates", None, None) == {}


def test_where_results_are_cached_is_not_part_of_the_fingerprint(root):
    source = cli.chapter_source(root, "rates")
    plain = cli.chapter_fingerprint(source, "smoke", {})
    assert cli.chapter_fingerprint(source, "smoke", {"cache_dir": "/somewhere"}) == plain
    assert cli.chapter_fingerprint(source, "smoke", {"T": 7}) != plain


def test_build_cache_dir_option(monkeypatch, tmp_path, capsys, root):
    monkeypatch.chdir(root)
    # nothing is executed when the chapters come from --executed: the option would do nothing
    assert cli.main(["build", "--executed", str(tmp_path), "--cache-dir", str(tmp_path)]) == 1
    assert "--cache-dir applies when chapters are executed" in capsys.readouterr().err


# a tiny book, built -----------------------------------------------------------------------------

LABEL_ROW = "| `label` | small | book | paper | str     | a word printed with the run |\n"
assert LABEL_ROW in CHAPTER  # the row the cache_dir knob goes under
CACHED_CHAPTER = CHAPTER.replace(
    LABEL_ROW, LABEL_ROW + "| `cache_dir` | null | null | null | null or path | folder for finished runs |\n"
).replace(
    'print(f"preset={preset} scale={scale}")', 'print(f"preset={preset} scale={scale} cache={cfg.cache_dir}")'
)


@pytest.fixture
def tiny_book(tmp_path, root):
    (tmp_path / "chapters").mkdir()
    (tmp_path / "chapters" / "tiny.md").write_text(CACHED_CHAPTER)
    (tmp_path / "chapters" / "notes.md").write_text(
        "# Notes\n\nA link that cannot resolve: <https://nowhere.invalid/page>.\n"
    )
    (tmp_path / "_toc.yml").write_text(
        "format: jb-book\nroot: chapters/tiny\nchapters:\n  - file: chapters/notes\n"
    )
    config = yaml.safe_load((root / "_config.yml").read_text())
    config.pop("bibtex_bibfiles", None)  # the tiny book cites nothing
    config["sphinx"]["config"].pop("bibtex_reference_style", None)
    (tmp_path / "_config.yml").write_text(yaml.safe_dump(config))
    shutil.copy2(root / "_config.online.yml", tmp_path / "_config.online.yml")
    (tmp_path / "references.bib").write_text("")
    shutil.copytree(root / "requirements", tmp_path / "requirements")  # the lock Binder installs with
    # the online build installs the library at the book's commit: the tiny book is a git checkout
    git = ["git", "-c", "user.name=test", "-c", "user.email=test@example.org"]
    subprocess.run([*git, "init", "-q"], cwd=tmp_path, check=True)
    subprocess.run([*git, "add", "-A"], cwd=tmp_path, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "tiny book"], cwd=tmp_path, check=True)
    return tmp_path


def _launch_links(page: str) -> list[str]:
    return [h for h in re.findall(r'href="([^"]+)"', page) if LAUNCH_HOSTS.search(h)]


def test_tiny_book_online_and_offline(tiny_book, monkeypatch, capsys, root):
    """One execution with --cache-dir, two builds from it: the default build offers the
    notebook and the MyST source and no launch button; --online adds Binder and Colab."""
    monkeypatch.chdir(tiny_book)
    assert cli.main(["execute", "--out", "_build/executed", "--cache-dir", ".cache"]) == 0
    notebook = json.loads((tiny_book / "_build" / "executed" / "tiny.ipynb").read_text())
    assert f"cache={(tiny_book / '.cache' / 'tiny').resolve()}" in json.dumps(notebook["cells"])

    assert cli.main(["build", "--executed", "_build/executed"]) == 0
    html = tiny_book / "_build" / "html"
    page = (html / "chapters" / "tiny.html").read_text()
    assert 'href="_sources/chapters/tiny.ipynb"' in page or 'href="../_sources/chapters/tiny.ipynb"' in page
    assert re.search(r'href="(\.\./)?_sources/chapters/tiny\.md"', page)
    assert BUTTON_LABEL in page
    myst = (html / "_sources" / "chapters" / "tiny.md").read_text()
    assert myst == (tiny_book / "chapters" / "tiny.md").read_text()  # the source, not a rendering
    assert json.loads((html / "_sources" / "chapters" / "tiny.ipynb").read_text())["cells"]
    assert _launch_links(page) == []
    assert not (html / MYST_FOLDER).exists()  # the staged copies are not pages of their own
    # the offline build is unchanged: no install cell, no binder files
    staged = tiny_book / "_build" / "staged"
    assert not (staged / "binder").exists()
    assert publish.INSTALL_CELL_ID not in (staged / "chapters" / "tiny.ipynb").read_text()

    repository = "https://github.com/someone/book"
    assert cli.main(["build", "--executed", "_build/executed", "--online", "--repository", repository]) == 0
    page = (tiny_book / "_build" / "html" / "chapters" / "tiny.html").read_text()
    links = _launch_links(page)
    assert "https://mybinder.org/v2/gh/someone/book/notebooks?urlpath=lab/tree/chapters/tiny.ipynb" in links
    assert "https://colab.research.google.com/github/someone/book/blob/notebooks/chapters/tiny.ipynb" in links
    assert f'href="{repository}"' in page
    # launch buttons are links, not loads: the online build still reads offline
    from recursive_lib.book.offline import scan

    assert scan(tiny_book / "_build" / "html") == []

    # what the notebooks branch gets: the install cell first, at the book's commit, kept off the
    # page (which still has its title); binder/ with the runtime, the requirement and the lock
    commit = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=tiny_book, capture_output=True, text=True, check=True
    ).stdout.strip()
    wanted = f"recursive_lib[notebooks] @ git+{repository}@{commit}"
    staged = tiny_book / "_build" / "staged"
    first = json.loads((staged / "chapters" / "tiny.ipynb").read_text())["cells"][0]
    assert first["id"] == publish.INSTALL_CELL_ID and "remove-cell" in first["metadata"]["tags"]
    assert wanted in "".join(first["source"])
    assert "find_spec" not in page and "<title>A tiny chapter" in page
    binder = staged / "binder"
    assert (binder / "runtime.txt").read_text() == "python-3.11\n"
    requirements = (binder / "requirements.txt").read_text().splitlines()
    assert wanted in requirements and "torch==2.13.0" in requirements
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in requirements
    assert "-c constraints.txt" in requirements
    assert (binder / "constraints.txt").read_text() == (root / "requirements" / "constraints.txt").read_text()
    assert not any("[book]" in line for line in requirements)  # no Sphinx in the reader's kernel


def test_linkcheck_reports_a_broken_link(tiny_book, monkeypatch, capsys):
    monkeypatch.chdir(tiny_book)
    assert cli.main(["linkcheck"]) != 0
    assert "broken links" in capsys.readouterr().out
    report = (tiny_book / "_build" / "linkcheck" / "_build" / "html" / "output.txt").read_text()
    assert not (tiny_book / "_build" / "html").exists()  # the HTML book is left alone
    assert "nowhere.invalid" in report and "broken" in report
    # without the link, the check passes
    (tiny_book / "chapters" / "notes.md").write_text("# Notes\n\nNo links.\n")
    assert cli.main(["linkcheck"]) == 0


# the built book -----------------------------------------------------------------------------------


@pytest.mark.book
def test_every_chapter_page_offers_its_notebook_and_myst_source(built_html, root):
    for name in cli.executable_chapters(root):
        page = (built_html / "chapters" / f"{name}.html").read_text()
        for suffix in ("ipynb", "md"):
            assert f'href="../_sources/chapters/{name}.{suffix}"' in page, (name, suffix)
            assert (built_html / "_sources" / "chapters" / f"{name}.{suffix}").is_file()
        assert (built_html / "_sources" / "chapters" / f"{name}.md").read_text() == cli.chapter_source(
            root, name
        ).read_text()


@pytest.mark.book
def test_default_build_has_no_launch_button(built_html):
    """The default (offline) build; scripts/test.sh builds it without --online."""
    for page in built_html.rglob("*.html"):
        assert _launch_links(page.read_text()) == [], page
