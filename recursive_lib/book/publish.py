"""What the published notebooks carry so that they run where the launch buttons open them.

The online build (``recursive-book build --online``) stages the executed chapters for the
``notebooks`` branch, which Binder and Colab open. Two things make them run there:

- **Binder** builds its image from ``binder/``: :func:`write_binder_files` writes
  ``runtime.txt`` (the Python the book is tested with), ``requirements.txt`` (this library at
  the published commit with its ``notebooks`` extra, PyTorch's CPU build) and the lock,
  ``constraints.txt``, that holds every other package at the tested version.
- **Colab** (or any kernel without the library) runs the notebook's first cell,
  :func:`install_cell`: it installs the library at the published commit when
  ``recursive_lib`` is not importable, and leaves a PyTorch already there alone.

Only the staged copies change: the chapters' sources in git and the offline build do not.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

__all__ = [
    "BINDER_PYTHON",
    "INSTALL_CELL_ID",
    "NOTEBOOKS_EXTRA",
    "TORCH_CPU_INDEX",
    "install_cell",
    "published_commit",
    "requirement",
    "with_install_cell",
    "write_binder_files",
]

#: the extra a reader's kernel installs: what the chapters import at run time, no Sphinx
NOTEBOOKS_EXTRA = "notebooks"
#: PyTorch's index of CPU wheels (PyPI's Linux wheels are the multi-GB CUDA build)
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"
#: Binder's ``runtime.txt``: the Python the book is built and tested with
BINDER_PYTHON = "python-3.11"
#: the id (and tag) of the install cell in a published notebook
INSTALL_CELL_ID = "install-recursive-lib"


def published_commit(root: Path) -> str:
    """The commit the book is built from (``git rev-parse HEAD`` in ``root``): the notebooks
    install the library at this commit, so code and executed outputs match."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        )
    except (OSError, subprocess.CalledProcessError) as err:
        raise ValueError(
            f"the online build installs the library at the published commit, but {root} is not a "
            f"git checkout with a commit ({err}); pass the commit explicitly"
        ) from None
    return out.stdout.strip()


def requirement(repository: str, commit: str, extra: str = NOTEBOOKS_EXTRA) -> str:
    """``recursive_lib[<extra>] @ git+<repository>@<commit>``, a pip requirement."""
    if not repository.startswith("https://"):
        raise ValueError(f"repository must be an https:// address, got {repository!r}")
    if not commit or any(c.isspace() for c in commit) or "@" in commit:
        raise ValueError(f"commit must be a git revision (a SHA or a tag), got {commit!r}")
    return f"recursive_lib[{extra}] @ git+{repository.rstrip('/')}@{commit}"


def install_cell(requirement: str) -> str:
    """Source of the published notebooks' first cell: ``pip install requirement`` when
    ``recursive_lib`` is not importable; an installed torch is held at its version (a
    constraint), else torch comes from :data:`TORCH_CPU_INDEX`."""
    return f'''\
# Colab, or any kernel without this book's library: install it at the commit these notebooks
# were executed with. Nothing happens where it is installed already (Binder, a local clone). A
# PyTorch already there (Colab's, CUDA on a GPU runtime) is kept; without one, the CPU build.
import importlib.util

if importlib.util.find_spec("recursive_lib") is None:
    import subprocess
    import sys
    import tempfile
    from importlib.metadata import PackageNotFoundError, version

    try:  # keep the PyTorch already there: pip may not replace it
        pin = f"torch=={{version('torch')}}\\n"
    except PackageNotFoundError:  # none yet: the CPU build, not PyPI's multi-GB CUDA one
        pin = None
    if pin:
        with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as keep:
            keep.write(pin)
        torch_options = ["-c", keep.name]
    else:
        torch_options = ["--extra-index-url", "{TORCH_CPU_INDEX}"]
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", *torch_options,
         "{requirement}"],
        check=True,
    )
    importlib.invalidate_caches()
'''


def with_install_cell(notebook: dict, requirement: str) -> dict:
    """``notebook`` (nbformat 4, as a dict) with :func:`install_cell` as its first cell, tagged
    ``remove-cell``: the book's page leaves it out, a notebook front end shows and runs it."""
    cell: dict[str, Any] = {
        "cell_type": "code",
        "execution_count": None,
        "metadata": {"tags": ["remove-cell", INSTALL_CELL_ID]},
        "outputs": [],
        "source": install_cell(requirement),
    }
    if notebook.get("nbformat_minor", 0) >= 5:  # cell ids since nbformat 4.5
        cell["id"] = INSTALL_CELL_ID
    cells = [c for c in notebook.get("cells", []) if c.get("id") != INSTALL_CELL_ID]
    return {**notebook, "cells": [cell, *cells]}


def write_binder_files(root: Path, staged: Path, requirement: str) -> Path:
    """``staged/binder/``: ``runtime.txt``, ``requirements.txt`` and the lock as
    ``constraints.txt`` (copied from ``root/requirements/``); returns the folder."""
    binder = staged / "binder"
    binder.mkdir(parents=True, exist_ok=True)
    (binder / "runtime.txt").write_text(f"{BINDER_PYTHON}\n")
    shutil.copy2(root / "requirements" / "constraints.txt", binder / "constraints.txt")
    torch_pins = [
        line.strip()
        for line in (root / "requirements" / "torch.txt").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    (binder / "requirements.txt").write_text(
        "\n".join(
            [
                "# Binder's kernel, written by `recursive-book build --online`: this library at the",
                "# published commit with the notebooks extra, PyTorch's CPU build and, for every other",
                "# package, the version the book was tested with (constraints.txt, the project's lock).",
                f"--extra-index-url {TORCH_CPU_INDEX}",
                "-c constraints.txt",
                *torch_pins,
                requirement,
                "",
            ]
        )
    )
    return binder
