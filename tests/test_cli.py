"""The chapter runner: parameters reach the notebook, figures are exported, failures exit 1."""

import json
import textwrap

import pytest
from conftest import MYST_HEADER

from recursive_lib.book import cli

CHAPTER = MYST_HEADER + textwrap.dedent('''\
    # A tiny chapter

    ```{code-cell} ipython3
    import altair as alt
    import pandas as pd
    from recursive_lib.book import glue
    alt.renderers.enable("svg")
    ```

    ```{code-cell} ipython3
    :tags: [parameters]

    preset = "book"
    PRESETS = """
    | knob    | smoke | book | paper | accepts | meaning                     |
    |---------|-------|------|-------|---------|-----------------------------|
    | `scale` | 1.0   | 2.0  | 2.0   | float   | height of the last point    |
    | `label` | small | book | paper | str     | a word printed with the run |
    """
    ```

    ```{code-cell} ipython3
    from recursive_lib.book import params
    cfg = params.resolve(PRESETS, preset, globals())
    scale = cfg.scale
    if scale <= 0:
        raise ValueError(f"scale must be > 0, got {scale}")
    chart = alt.Chart(pd.DataFrame({"x": [1, 2, 3], "y": [1, 2, scale]})).mark_line().encode(x="x", y="y")
    glue("fig-tiny", chart, display=False)
    print(f"preset={preset} scale={scale}")
    ```
    ''')


@pytest.fixture
def book(tmp_path):
    (tmp_path / "chapters").mkdir()
    (tmp_path / "chapters" / "tiny.md").write_text(CHAPTER)
    (tmp_path / "chapters" / "notes.md").write_text("# Notes\n\nPlain page.\n")
    (tmp_path / "_toc.yml").write_text(
        "format: jb-book\nroot: chapters/tiny\nchapters:\n  - file: chapters/notes\n"
    )
    return tmp_path


def _stdout(notebook):
    cells = json.loads(notebook.read_text())["cells"]
    texts = [o.get("text", "") for c in cells for o in c.get("outputs", []) if o.get("name") == "stdout"]
    return "".join("".join(t) if isinstance(t, list) else t for t in texts)


@pytest.mark.slow
def test_run_passes_parameters_and_exports_glued_figures(book, monkeypatch):
    monkeypatch.chdir(book)
    assert cli.main(["run", "tiny", "--preset", "smoke", "-p", "scale", "3.5", "--out", "out"]) == 0
    notebook = book / "out" / "tiny.ipynb"
    assert "preset=smoke scale=3.5" in _stdout(notebook)
    figure = book / "out" / "tiny_files" / "fig-tiny.svg"
    assert figure.read_text().lstrip().startswith("<svg")


@pytest.mark.slow
def test_failing_cell_exits_1_with_its_error(book, monkeypatch, capsys):
    monkeypatch.chdir(book)
    assert cli.main(["run", "tiny", "-p", "scale", "-1", "--out", "out"]) == 1
    err = capsys.readouterr().err
    assert "ValueError: scale must be > 0, got -1" in err
    assert (book / "out" / "tiny.ipynb").is_file()  # the failed notebook is kept for reading


def test_unknown_or_malformed_parameters_stop_before_running(book, monkeypatch, capsys):
    monkeypatch.chdir(book)
    assert cli.main(["run", "tiny", "-p", "scal", "3", "--out", "out"]) == 2
    err = capsys.readouterr().err
    assert "unknown parameter 'scal' (did you mean 'scale'?)" in err and "Traceback" not in err
    assert cli.main(["run", "tiny", "-p", "scale", "[1,", "--out", "out"]) == 2
    assert "-p scale: '[1,' is not valid YAML" in capsys.readouterr().err
    assert not (book / "out").exists()  # no kernel was started


def test_params_lists_the_knobs_with_their_presets(book, monkeypatch, capsys):
    monkeypatch.chdir(book)
    assert cli.main(["params", "tiny"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["knob", "smoke", "book", "paper", "accepts", "meaning"]
    assert lines[1].split()[:5] == ["scale", "1.0", "2.0", "2.0", "float"]
    assert lines[2].split() == [
        "label",
        '"small"',
        '"book"',
        '"paper"',
        "str",
        "a",
        "word",
        "printed",
        "with",
        "the",
        "run",
    ]


def test_unknown_chapter_and_plain_pages(book, monkeypatch, capsys):
    monkeypatch.chdir(book)
    assert cli.main(["run", "nope", "--out", "out"]) == 2
    assert "chapter 'nope' not found" in capsys.readouterr().err
    assert cli.executable_chapters(book) == ["tiny"]
    assert cli.toc_chapters(book) == ["tiny", "notes"]


def test_parameters_are_yaml_values():
    assert cli.parse_parameters([["alphas", "[0.1, 0.5]"], ["T", "20"], ["name", "kde"]]) == {
        "alphas": [0.1, 0.5],
        "T": 20,
        "name": "kde",
    }


def test_every_toc_chapter_of_the_book_exists(root):
    for name in cli.toc_chapters(root):
        assert cli.chapter_source(root, name).is_file()
    assert "intro" in cli.executable_chapters(root)


@pytest.mark.slow
def test_parallel_chapters_with_a_relative_output_folder(book, monkeypatch):
    # papermill changes the working directory of the whole process while a chapter runs
    (book / "chapters" / "tiny2.md").write_text(CHAPTER)
    (book / "_toc.yml").write_text(
        "format: jb-book\nroot: chapters/tiny\nchapters:\n  - file: chapters/tiny2\n"
    )
    monkeypatch.chdir(book)
    assert cli.main(["execute", "--out", "nested/executed", "--jobs", "2"]) == 0
    assert (book / "nested" / "executed" / "tiny.ipynb").is_file()
    assert (book / "nested" / "executed" / "tiny2.ipynb").is_file()


@pytest.mark.slow
def test_unchanged_chapters_are_not_executed_again(book, monkeypatch, capsys):
    monkeypatch.chdir(book)
    assert cli.main(["execute", "--out", "executed", "--preset", "smoke"]) == 0
    notebook = book / "executed" / "tiny.ipynb"
    first = notebook.stat().st_mtime_ns
    capsys.readouterr()
    assert cli.main(["execute", "--out", "executed", "--preset", "smoke"]) == 0
    out = capsys.readouterr().out
    assert "unchanged tiny" in out and "(1 unchanged)" in out
    assert notebook.stat().st_mtime_ns == first
    # another preset, an edited source, or --force: executed again
    assert cli.main(["execute", "--out", "executed", "--preset", "book"]) == 0
    assert "ok        tiny" in capsys.readouterr().out
    source = book / "chapters" / "tiny.md"
    source.write_text(source.read_text().replace("# A tiny chapter", "# A tiny chapter, edited"))
    assert cli.main(["execute", "--out", "executed", "--preset", "book"]) == 0
    assert "ok        tiny" in capsys.readouterr().out
    assert cli.main(["execute", "--out", "executed", "--preset", "book", "--force"]) == 0
    assert "ok        tiny" in capsys.readouterr().out


@pytest.mark.slow
def test_the_terminal_sees_progress_not_kernel_warnings(book):
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "recursive_lib.book.cli", "run", "tiny", "--preset", "smoke", "--out", "out"],
        cwd=book,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert "tiny: executing with preset smoke" in result.stdout
    assert "tiny: executed in" in result.stdout
    assert "TCP" not in result.stderr and "WARNING" not in result.stderr, result.stderr
    noise = ("Passed unknown parameter", "KeyboardInterrupt caught in kernel", "Traceback")
    assert not [n for n in noise if n in result.stdout + result.stderr], result.stdout + result.stderr


def test_outside_the_repository_and_missing_dependencies_are_one_line_errors(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["params", "setting"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("recursive-book: no _toc.yml at or above") and err.count("\n") == 1
    monkeypatch.setattr(cli, "find_root", lambda: tmp_path)
    monkeypatch.setitem(__import__("sys").modules, "papermill", None)
    (tmp_path / "chapters").mkdir()
    (tmp_path / "chapters" / "tiny.md").write_text(CHAPTER)
    (tmp_path / "_toc.yml").write_text("format: jb-book\nroot: chapters/tiny\n")
    assert cli.main(["run", "tiny", "--out", "out"]) == 1
    err = capsys.readouterr().err
    assert "papermill is not installed" in err and "Traceback" not in err
