"""An installed copy of the library, not the clone, runs a chapter: the wheel holds every file the
chapters read at run time (the paper-scale measurements among them), and nothing reaches back
into the repository."""

import json
import shutil
import site
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

#: what a wheel is built from: the package and the files pyproject.toml names
WHEEL_SOURCES = ("pyproject.toml", "README.md", "LICENSE", "recursive_lib")
#: the chapter run from the wheel: it quotes the paper-scale projection (package data)
CHAPTER = "quantile"


def _build_wheel(folder: Path) -> Path:
    """``pip wheel --no-deps`` of a copy of the package's sources (an in-tree build would leave
    ``build/`` in the repository)."""
    source = folder / "source"
    source.mkdir(parents=True)
    for name in WHEEL_SOURCES:
        if (ROOT / name).is_dir():
            ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc")
            shutil.copytree(ROOT / name, source / name, ignore=ignore)
        else:
            shutil.copy2(ROOT / name, source / name)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(folder), str(source)],
        check=True,
    )
    [wheel] = folder.glob("recursive_lib-*.whl")
    return wheel


def _scratch_environment(folder: Path, wheel: Path) -> Path:
    """A virtual environment with the wheel installed non-editable; the test environment's
    packages (torch, papermill...) are reused through a ``.pth`` file naming its site-packages
    (``--system-site-packages`` would give the base interpreter's, not this environment's). The
    editable install's import hook is not run from there: only the wheel provides recursive_lib."""
    subprocess.run([sys.executable, "-m", "venv", str(folder)], check=True)
    python = folder / "bin" / "python"
    scratch_site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    Path(scratch_site, "test-environment.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    subprocess.run(
        [python, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", "--force-reinstall", wheel],
        check=True,
    )
    return python


@pytest.mark.slow
def test_a_wheel_installed_in_a_scratch_environment_runs_a_chapter(tmp_path, root):
    wheel = _build_wheel(tmp_path / "wheel")
    python = _scratch_environment(tmp_path / "venv", wheel)
    work = tmp_path / "reader"  # outside the repository: nothing there to import from
    work.mkdir()

    def run(*command):
        return subprocess.run(
            [python, *command], cwd=work, capture_output=True, text=True, check=True
        ).stdout.strip()

    where = Path(run("-c", "import recursive_lib; print(recursive_lib.__file__)"))
    assert where.is_relative_to(tmp_path / "venv"), where
    assert not where.is_relative_to(root)
    assert run("-c", "from recursive_lib.book import timing; print(timing.RESULTS.is_file())") == "True"

    kernel = "recursive-scratch"  # its own kernel: no python3 kernelspec elsewhere can stand in
    run("-m", "ipykernel", "install", "--prefix", str(tmp_path / "venv"), "--name", kernel)
    shutil.copy2(root / "chapters" / f"{CHAPTER}.md", work / f"{CHAPTER}.md")
    run("-m", "jupytext", "--to", "ipynb", f"{CHAPTER}.md", "-o", "in.ipynb")
    # a last cell records where the kernel imported the library from
    notebook = json.loads((work / "in.ipynb").read_text())
    notebook["cells"].append(
        {
            "cell_type": "code",
            "execution_count": None,
            "id": "where",
            "metadata": {},
            "outputs": [],
            "source": "import recursive_lib\nprint('library at', recursive_lib.__file__)",
        }
    )
    (work / "in.ipynb").write_text(json.dumps(notebook))
    run(
        "-m", "papermill", "in.ipynb", "out.ipynb", "-k", kernel, "-p", "preset", "smoke", "--no-progress-bar"
    )

    cells = json.loads((work / "out.ipynb").read_text())["cells"]
    printed = "".join(
        "".join(o.get("text", "")) for c in cells for o in c.get("outputs", []) if o.get("name") == "stdout"
    )
    assert f"library at {tmp_path / 'venv'}" in printed
    glued = {
        o["metadata"]["scrapbook"]["name"]: o["data"]
        for c in cells
        for o in c.get("outputs", [])
        if "scrapbook" in o.get("metadata", {})
    }
    sentence = "".join(next(v for k, v in glued[f"{CHAPTER}-paper-time"].items() if k.endswith("text/plain")))
    assert "measured by benchmarks/bench_paper_scale.py" in sentence, sentence
    assert "not measured" not in sentence
