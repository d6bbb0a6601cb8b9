"""Glue a value into the executed notebook, for the book's ``{glue}`` roles and directives.

The output is the one ``myst_nb.glue`` writes, so the book reads it the same way: the value's
display formats (``text/plain``, ``text/markdown``, ``image/svg+xml``...) with
``metadata.scrapbook = {name, mime_prefix}``; with ``display=False`` every format is prefixed
with :data:`GLUE_PREFIX`, so a notebook front end does not show it. Only IPython is needed: a
reader's kernel (Colab, Binder) runs the chapters without myst-nb and Sphinx.
"""

from __future__ import annotations

from typing import Any

__all__ = ["GLUE_PREFIX", "glue"]

#: prefix of the formats of a value glued with ``display=False`` (myst-nb's and scrapbook's)
GLUE_PREFIX = "application/papermill.record/"


def glue(name: str, variable: Any, display: bool = True) -> None:
    """Show ``variable`` as an output named ``name`` that the book's ``{glue:...}`` roles and
    ``{glue:figure}`` directives refer to; ``display=False`` keeps it off the notebook's view."""
    from IPython.core.formatters import format_display_data
    from IPython.display import display as ipy_display

    mimebundle, metadata = format_display_data(variable)
    mime_prefix = "" if display else GLUE_PREFIX
    metadata["scrapbook"] = dict(name=name, mime_prefix=mime_prefix)
    ipy_display({mime_prefix + k: v for k, v in mimebundle.items()}, raw=True, metadata=metadata)
