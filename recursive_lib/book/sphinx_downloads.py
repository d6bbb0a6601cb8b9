"""Sphinx extension: every chapter page offers its MyST source for download, next to its notebook.

The book is built from executed notebooks (``recursive-book build`` stages them), so the page's
own source, which sphinx-book-theme's download button offers, is the executed ``.ipynb``. The
staged book also holds each chapter's jupytext MyST source under ``_myst/chapters/<name>.md``
(:func:`recursive_lib.book.cli.stage`); this extension copies it to
``_sources/chapters/<name>.md`` in the HTML output and adds it to the page's download menu, as
"MyST source". Everything stays local: the links are relative files of the built book.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

#: folder of the staged book (next to its ``_config.yml``) that holds the chapters' MyST sources
MYST_FOLDER = "_myst"
#: the entry this extension adds to the theme's download menu (its ``label``)
BUTTON_LABEL = "download-myst-button"


def myst_source(confdir: Path, pagename: str) -> Path | None:
    """The MyST source of page ``pagename`` in the staged book, or None if it has none."""
    path = Path(confdir) / MYST_FOLDER / f"{pagename}.md"
    return path if path.is_file() else None


def add_myst_download(app, pagename: str, templatename: str, context: dict[str, Any], doctree) -> None:
    """``html-page-context`` handler, run after sphinx-book-theme has filled ``header_buttons``."""
    source = myst_source(app.confdir, pagename)
    if source is None or not context.get("sourcename", "").endswith(".ipynb"):
        return
    menu = next((b for b in context.get("header_buttons", []) if b.get("label") == "download-buttons"), None)
    if menu is None:  # the theme's download button is switched off: nothing to add to
        return
    target = Path(app.outdir) / "_sources" / f"{pagename}.md"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(source, target)
    menu["buttons"].insert(
        1,
        {
            "type": "link",
            "url": f"{context['pathto']('_sources', 1)}/{pagename}.md",
            "text": ".md",
            "tooltip": "Download the MyST source (jupytext)",
            "icon": "fas fa-file-code",
            "label": BUTTON_LABEL,
        },
    )


def setup(app) -> dict[str, Any]:
    # sphinx-book-theme builds the download menu at priority 501
    app.connect("html-page-context", add_myst_download, priority=600)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
