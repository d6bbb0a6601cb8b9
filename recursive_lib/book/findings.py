"""The page "What this build found": every claim of every chapter, from the executed notebooks.

Each executed chapter carries its claims (:meth:`recursive_lib.claims.Findings.record`). This
module reads them back and writes one Markdown page: per chapter, the preset and the knobs that
were overridden, then per claim its statement, verdict, numbers, how it was decided, and a link to
the figure it is about. :func:`compare` lists the claims whose verdict differs between two runs
of a chapter (what a rerun with other parameters changed).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from recursive_lib.claims import VERDICTS, read_findings

MARK = {"holds": "holds", "fails": "**fails**", "inconclusive": "*inconclusive*"}


def collect(executed: Path, chapters: list[str]) -> dict[str, dict[str, Any] | None]:
    """``{chapter: its recorded findings or None}`` for the executed notebooks in ``executed``."""
    out = {}
    for name in chapters:
        notebook = Path(executed) / f"{name}.ipynb"
        out[name] = read_findings(notebook) if notebook.is_file() else None
    return out


def _numbers(numbers: dict[str, Any]) -> str:
    shown = []
    for key, value in numbers.items():
        shown.append(f"{key} = {value:.4g}" if isinstance(value, float) else f"{key} = {value}")
    return ", ".join(shown)


def page(findings: dict[str, dict[str, Any] | None], reference: dict | None = None) -> str:
    """The Markdown page. ``reference``: findings of another build, to mark changed verdicts."""
    total = {v: 0 for v in VERDICTS}
    for record in findings.values():
        for claim in (record or {}).get("claims", []):
            total[claim["verdict"]] += 1
    lines = [
        "# What this build found",
        "",
        "Every sentence of this book that describes a result is a *claim*: a statement checked "
        "against the results of the run that built the page, with a test that respects their "
        "uncertainty. The run decides the wording each chapter shows; this page lists them all. "
        f"This build: {total['holds']} hold, {total['fails']} fail, "
        f"{total['inconclusive']} are inconclusive.",
        "",
    ]
    for chapter, record in findings.items():
        lines += [f"## {{doc}}`{chapter}`", ""]
        if not record:
            lines += ["No claims were recorded (the chapter was not executed).", ""]
            continue
        overridden = record.get("overridden") or []
        knobs = ", ".join(f"`{k} = {json.dumps(record['knobs'].get(k))}`" for k in overridden)
        lines += [f"Preset `{record.get('preset')}`" + (f", with {knobs}." if knobs else "."), ""]
        before = {c["name"]: c for c in ((reference or {}).get(chapter) or {}).get("claims", [])}
        for claim in record["claims"]:
            figure = f" ({{ref}}`figure <{claim['figure']}>`)" if claim.get("figure") else ""
            change = ""
            old = before.get(claim["name"])
            if old is not None and old["verdict"] != claim["verdict"]:
                change = f" (was: {old['verdict']})"
            lines += [
                f"- **{claim['statement']}**{figure}: {MARK[claim['verdict']]}{change}.",
                f"  {claim['sentence']}",
                f"  *Test:* {claim['test']}. *Numbers:* {_numbers(claim['numbers'])}.",
                "",
            ]
    return "\n".join(lines).rstrip() + "\n"


def compare(new: dict[str, Any] | None, old: dict[str, Any] | None) -> list[str]:
    """One line per claim whose verdict differs between two findings of one chapter."""
    if not new or not old:
        return []
    before = {c["name"]: c["verdict"] for c in old.get("claims", [])}
    return [
        f"{c['name']}: {before[c['name']]} -> {c['verdict']} ({c['statement']})"
        for c in new.get("claims", [])
        if c["name"] in before and before[c["name"]] != c["verdict"]
    ]
