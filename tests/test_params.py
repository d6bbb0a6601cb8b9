"""A chapter's knobs: the preset table, overrides, unknown names, validation, every chapter's table."""

import pytest
from conftest import ROOT

from recursive_lib.book import cli, params

TABLE = """
| knob     | smoke      | book            | paper           | accepts                 | meaning             |
|----------|------------|-----------------|-----------------|-------------------------|---------------------|
| `alphas` | [0.5, 1.0] | [0.1, 0.5, 1.0] | [0.1, 0.5, 1.0] | list of float in (0, 1] | real fractions      |
| `T`      | 5          | 200             | 2000            | int at least 1          | iterations          |
| `label`  | small      | default         | paper run       | one of small, default, paper run | a word     |
"""


def test_the_preset_decides_and_checks_normalise():
    cfg = params.resolve(TABLE, "smoke", {})
    assert cfg.alphas == (0.5, 1.0) and cfg.T == 5 and cfg.label == "small"
    assert params.resolve(TABLE, "paper", {}).label == "paper run"
    assert cfg.as_dict() == {"preset": "smoke", "alphas": (0.5, 1.0), "T": 5, "label": "small"}


def test_a_knob_in_the_namespace_overrides_the_table_and_is_marked_on_the_page():
    cfg = params.resolve(TABLE, "book", {"T": 7, "PRESETS": TABLE, "preset": "book", "params": params})
    assert cfg.T == 7 and cfg.alphas == (0.1, 0.5, 1.0)
    page = cfg._repr_markdown_()
    assert "| `T` | 5 | 200 | 2000 | **7** (set) | int at least 1 | iterations |" in page
    assert "| `alphas` | [0.5, 1.0] | [0.1, 0.5, 1.0] | [0.1, 0.5, 1.0] | [0.1, 0.5, 1.0] | list of" in page


def test_an_unknown_parameter_is_an_error_with_a_suggestion():
    with pytest.raises(
        ValueError,
        match=r"unknown parameter 'alpha' \(did you mean 'alphas'\?\); "
        r"this chapter's knobs are alphas, T, label",
    ):
        params.resolve(TABLE, "book", {"alpha": 0.5})
    # modules, functions and private names are not parameters; IPython's history lists neither
    params.resolve(TABLE, "book", {"np": pytest, "_x": 1, "In": [], "Out": {}, "REGIMES": ("a",)})


def test_in_a_kernel_every_name_set_after_the_table_is_a_parameter_whatever_its_case():
    history = ["", "import numpy as np\nREGIMES = ('a',)", 'preset = "book"\nPRESETS = """..."""']
    injected = history + ['preset = "smoke"\nALPHAS = [0.3]\n', "cfg = params.resolve(...)"]
    namespace = {"In": injected, "REGIMES": ("a",), "ALPHAS": [0.3], "preset": "smoke"}
    with pytest.raises(ValueError, match=r"unknown parameter 'ALPHAS' \(did you mean 'alphas'\?\)"):
        params.resolve(TABLE, "smoke", namespace)
    namespace = {"In": [*history, "_x = 1\n", "cfg = ..."], "_x": 1, "REGIMES": ("a",)}
    with pytest.raises(ValueError, match="unknown parameter '_x'"):
        params.resolve(TABLE, "smoke", namespace)
    fine = {"In": [*history, 'preset = "smoke"\nT = 9\n', "cfg = ..."], "REGIMES": ("a",), "T": 9}
    assert params.resolve(TABLE, "smoke", fine).T == 9


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"alphas": [0.5, 1.5]}, r"alphas must be in \(0, 1\]"),
        ({"alphas": [0.0]}, r"alphas must be in \(0, 1\]"),
        ({"T": 2.5}, "T must be an integer >= 1"),
        ({"T": float("inf")}, "T must be an integer >= 1"),
        ({"alphas": [float("nan")]}, r"alphas must be a finite number in \(0, 1\]"),
        ({"alphas": [[0.5]]}, r"alphas must be a finite number in \(0, 1\], got \[0.5\]"),
        (
            {"alphas": "abc"},
            r"alphas must be a list, each item .*\(alphas accepts: list of float in \(0, 1\]\)",
        ),
        ({"alphas": []}, "alphas must hold at least 1 item"),
        ({"T": params}, "knob 'T' is also the name of a module"),
    ],
)
def test_bad_values_name_the_parameter(overrides, message):
    with pytest.raises(ValueError, match=message):
        params.resolve(TABLE, "smoke", overrides)


def test_a_knob_is_checked_by_its_own_row():
    with pytest.raises(ValueError, match=r"label must be one of 'small', 'default', 'paper run', got 'big'"):
        params.resolve(TABLE, "book", {"label": "big"})
    forked = TABLE + "| `width` | 2 | 4 | 8 | int in [1, T] | a knob a fork adds |\n"
    assert params.resolve(forked, "book", {}).width == 4
    with pytest.raises(
        ValueError, match=r"width must be in \[1, T\], T = 5, got 8 \(width accepts: int in \[1, T\]\)"
    ):
        params.resolve(forked, "smoke", {"width": 8})


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (
            "| knob | smoke | book |\n|---|---|---|\n| T | 1 | 2 |",
            "columns knob | smoke | book | paper | accepts | meaning",
        ),
        (TABLE + "| `T` | 1 | 2 | 3 | int | again |\n", "knob 'T' must be a Python name, listed once"),
        (TABLE + "| `x` | [1, | 2 | 3 | int | broken |\n", "the smoke value of 'x'.*is not valid YAML"),
        (TABLE + "| `x` | 1 | 2 | 3 | int |\n", "every row needs 6 cells"),
        (TABLE + "| `x` | 1 | 2 | 3 |  | no constraint |\n", "'x' needs an accepts cell"),
        (TABLE + "| `x` | 1 | 2 | 3 | integer | typo |\n", "unknown type 'integer'"),
        (TABLE + "| `x` | 1 | 2 | 3 | int >= 1 | symbols |\n", "cannot read the bound"),
        (TABLE + "| `x` | 1 | 2 | 3 | int at most N | a stranger |\n", r"refers to \['N'\]"),
        (TABLE + "| `x` | 1 | 2 | 3 | call os.system | not ours |\n", "a function of the library"),
        (3, "must be a Markdown table in a string"),
    ],
)
def test_malformed_tables(table, message):
    with pytest.raises(ValueError, match=message):
        params.parse_table(table)


def test_unknown_preset():
    with pytest.raises(ValueError, match="preset must be one of 'smoke', 'book', 'paper'"):
        params.resolve(TABLE, "huge", {})


@pytest.mark.parametrize("name", cli.executable_chapters(ROOT))
def test_every_chapter_declares_its_presets_once_and_each_passes_its_checks(name, root):
    source = cli.chapter_source(root, name)
    knobs = params.chapter_table(source)
    assert knobs, f"{name}: no knobs"
    for knob in knobs.values():
        assert knob.meaning, f"{name}: knob {knob.name} needs a meaning"
    for preset in params.PRESET_NAMES:
        params.for_chapter(source, preset)


def test_paper_presets_use_the_authors_parameters(root):
    paper = params.for_chapter(root / "chapters" / "setting.md", "paper")
    assert paper.alphas == tuple(round(0.1 * k, 1) for k in range(1, 11))
    assert (paper.m1, paper.T, paper.reps) == (50, 2000, 100)
