"""JupyterLab opens the chapters as notebooks (scripts/lab.sh): the default-viewer setting names
jupytext's notebook view, lab.sh installs it into the environment's JupyterLab, and a chapter
saved from JupyterLab keeps its front matter (jupytext.toml)."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

OVERRIDES = ROOT / "scripts" / "lab-overrides.json"
DOCMANAGER = "@jupyterlab/docmanager-extension:plugin"
VIEWER = "Jupytext Notebook"


def test_the_setting_makes_jupytext_the_default_viewer_of_markdown():
    settings = json.loads(OVERRIDES.read_text())
    assert settings == {DOCMANAGER: {"defaultViewers": {"markdown": VIEWER, "myst": VIEWER}}}


def test_the_viewer_is_the_one_jupytexts_lab_extension_registers():
    static = Path(sys.prefix) / "share" / "jupyter" / "labextensions" / "jupyterlab-jupytext" / "static"
    bundles = list(static.glob("*.js"))
    if not bundles:
        pytest.skip(f"jupytext's JupyterLab extension is not installed in {sys.prefix}")
    assert any(f'FACTORY="{VIEWER}"' in b.read_text() for b in bundles)


def _merge_script() -> str:
    """The Python that scripts/lab.sh runs to write the setting (its here-document)."""
    text = (ROOT / "scripts" / "lab.sh").read_text()
    return re.search(r"<<'PYTHON'\n(.*?)\nPYTHON\n", text, re.S).group(1)


def test_lab_sh_installs_the_lab_extra_and_merges_the_setting(tmp_path, root):
    assert "source scripts/_install.sh book,lab" in (root / "scripts" / "lab.sh").read_text()
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(tmp_path / "env")], check=True)
    target = tmp_path / "env" / "share" / "jupyter" / "lab" / "settings" / "overrides.json"
    target.parent.mkdir(parents=True)
    # a setting already there is kept, also inside the same plugin
    target.write_text(
        json.dumps(
            {
                DOCMANAGER: {"defaultViewers": {"python": "Editor"}, "autosave": False},
                "@jupyterlab/apputils-extension:themes": {"theme": "JupyterLab Dark"},
            }
        )
    )
    subprocess.run(
        [tmp_path / "env" / "bin" / "python", "-", str(OVERRIDES)],
        input=_merge_script(),
        text=True,
        check=True,
    )
    assert json.loads(target.read_text()) == {
        DOCMANAGER: {
            "defaultViewers": {"python": "Editor", "markdown": VIEWER, "myst": VIEWER},
            "autosave": False,
        },
        "@jupyterlab/apputils-extension:themes": {"theme": "JupyterLab Dark"},
    }


def test_a_chapter_saved_through_jupytext_keeps_its_front_matter(root):
    """jupytext.toml: no version stamp written into a chapter, and no pairing (no .ipynb beside it)."""
    import jupytext
    import tomllib
    from jupytext.config import load_jupytext_configuration_file

    settings = tomllib.loads((root / "jupytext.toml").read_text())
    assert "formats" not in settings  # nothing paired
    config = load_jupytext_configuration_file(str(root / "jupytext.toml"))
    source = (root / "chapters" / "setting.md").read_text()
    saved = jupytext.writes(jupytext.reads(source, fmt="md:myst"), fmt="md:myst", config=config)
    assert saved.split("\n---\n")[0] == source.split("\n---\n")[0]
    plain = jupytext.writes(jupytext.reads(source, fmt="md:myst"), fmt="md:myst")
    assert "jupytext_version" in plain  # what the setting prevents
