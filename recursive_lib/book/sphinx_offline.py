"""Sphinx extension: a book that reads offline.

* MathJax 3 is served from ``_static/mathjax``, copied from the MathJax files that the
  ``sphinx-mathjax-offline`` package ships. Only the components we load are copied (startup,
  core, TeX input with its extensions, CommonHTML output with its fonts, assistive MathML);
  MathJax's all-in-one bundles also carry CDN addresses of the speech engine, which we never use.
* sphinx-thebe (always enabled by jupyter-book) writes the CDN address of thebe into every page
  even when launch buttons are off; its scripts are dropped, since nothing can launch here.

Enable with ``sphinx: extra_extensions: [recursive_lib.book.sphinx_offline]`` in ``_config.yml``.
"""

from __future__ import annotations

import importlib
import shutil
from pathlib import Path

from sphinx.application import Sphinx

COMPONENTS = ["input/tex", "output/chtml", "a11y/assistive-mml"]
FILES = [
    "startup.js",
    "core.js",
    "input/tex.js",
    "input/tex/extensions",
    "output/chtml.js",
    "output/chtml/fonts",
    "a11y/assistive-mml.js",
]


def mathjax_source() -> Path:
    """The MathJax 3 ``es5`` tree shipped by the ``sphinx-mathjax-offline`` package."""
    package = importlib.import_module("sphinx-mathjax-offline")
    if package.__file__ is None:
        raise FileNotFoundError("sphinx-mathjax-offline is installed without files (a namespace package)")
    return Path(package.__file__).parent / "static" / "mathjax"


def _configure(app: Sphinx, config) -> None:
    config.mathjax_path = "mathjax/startup.js"
    mj = dict(config.mathjax3_config or {})
    mj["loader"] = {**mj.get("loader", {}), "load": COMPONENTS}
    config.mathjax3_config = mj


def _drop_thebe(app: Sphinx, pagename: str, templatename: str, context: dict, doctree) -> None:
    scripts = context.get("script_files", [])
    keep = [
        s
        for s in scripts
        if "THEBE_JS_URL" not in str(getattr(s, "attributes", {}).get("body", ""))
        and not str(getattr(s, "filename", s)).endswith("sphinx-thebe.js")
    ]
    scripts[:] = keep


def _copy_mathjax(app: Sphinx, exc: Exception | None) -> None:
    if exc is not None or app.builder.format != "html":
        return
    source, target = mathjax_source(), Path(app.outdir) / "_static" / "mathjax"
    for rel in FILES:
        src, dst = source / rel, target / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, dst, dirs_exist_ok=True)
        else:
            shutil.copy2(src, dst)


def setup(app: Sphinx) -> dict:
    app.setup_extension("sphinx.ext.mathjax")
    app.connect("config-inited", _configure)
    app.connect("html-page-context", _drop_thebe)
    app.connect("build-finished", _copy_mathjax)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
