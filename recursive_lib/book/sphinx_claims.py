"""Sphinx extension: the ``claim`` directive, a chapter's claim worded where the prose needs it.

A chapter states each claim and words each of its verdicts in its Markdown::

    ```{claim} bias-w1
    ---
    statement: The fitted W1 slopes agree with min(p, alpha, q) within {delta:g}.
    holds: The slopes are consistent with it within {delta:g} ({inside} of {cells} inside).
    fails: ...
    inconclusive: This run cannot decide it: {reason}.
    ---
    ```

and checks it in a code cell (:class:`recursive_lib.book.findings.Findings`). The page shows, in
place of the block, the wording of the verdict the run reached, filled with the check's numbers:
read from the claims record the executed notebook carries (glued by
:meth:`~recursive_lib.book.findings.Findings.record`) and formatted by
:func:`recursive_lib.book.findings.wording`, the function the kernel used for the sentence it
printed. The sentence is MyST (math included), wrapped in a container with the classes ``claim``
and ``claim-<verdict>`` and the anchor ``claim-<name>``. A block the run did not check (a knob
left its cells out) says so; a page without a record, or a block without its four options, is a
warning, hence an error in the book's ``-W`` build.

Enable with ``sphinx: extra_extensions: [recursive_lib.book.sphinx_claims]`` in ``_config.yml``.
"""

from __future__ import annotations

from typing import Any

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

from recursive_lib.book.findings import WORDING_KEYS, parse_record, wording

LOGGER = logging.getLogger(__name__)


def notebook_record(document: nodes.document) -> dict[str, Any] | None:
    """The claims record glued in the notebook ``document`` was built from, or ``None`` (parsed
    once per page, kept on the document for its other claim blocks)."""
    if "nb_renderer" not in document:
        return None
    if "claims_record" not in document:
        document["claims_record"] = _read_record(document["nb_renderer"].renderer.nb_client.glue_data)
    return document["claims_record"]


def _read_record(glue_data: dict[str, Any]) -> dict[str, Any] | None:
    for key, value in glue_data.items():
        if key.endswith("-claims"):
            data = value["data"]
            text = next((v for k, v in data.items() if k.endswith("text/plain")), None)
            if text is not None:
                return parse_record("".join(text) if isinstance(text, list) else text)
    return None


class ClaimDirective(SphinxDirective):
    """``{claim} NAME`` with the options ``statement``, ``holds``, ``fails``, ``inconclusive``."""

    required_arguments = 1
    has_content = False
    option_spec = {key: directives.unchanged_required for key in WORDING_KEYS}

    def run(self) -> list[nodes.Node]:
        name = self.arguments[0]
        missing = [key for key in WORDING_KEYS if key not in self.options]
        if missing:
            return self._warn(f"claim {name!r} lacks the options {missing}")
        record = notebook_record(self.state.document)
        if record is None:
            return self._warn(f"claim {name!r}: this page carries no claims record (no found.record()?)")
        claim = next((c for c in record.get("claims", []) if c.get("name") == name), None)
        if claim is None:
            text = "*This run did not check it.*"
            verdict = "unchecked"
        else:
            text, verdict = wording(self.options, claim), claim["verdict"]
        container = nodes.container(classes=["claim", f"claim-{verdict}"], ids=[f"claim-{name}"])
        container += self._markdown(text)
        return [container]

    def _markdown(self, text: str) -> list[nodes.Node]:
        from myst_nb.core.render import MimeData

        renderer = self.state.document["nb_renderer"]
        key = renderer.config.cell_metadata_key
        mime = MimeData(
            "text/markdown",
            text,
            cell_metadata={key: {"markdown_format": "myst"}},
            output_metadata={},
            line=self.lineno,
        )
        return renderer.render_markdown(mime)

    def _warn(self, message: str) -> list[nodes.Node]:
        LOGGER.warning(message, location=(self.env.docname, self.lineno), type="claims")
        return []


def setup(app) -> dict[str, Any]:
    app.add_directive("claim", ClaimDirective)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
