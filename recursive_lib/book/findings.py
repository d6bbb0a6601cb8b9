"""The page "What this build found": every claim of every chapter, from the executed notebooks.

Each executed chapter carries its claims (:meth:`recursive_lib.claims.Findings.record`). This
module reads them back and writes one Markdown page that reads as a report: what the verdicts
mean and the family-wise policy, a notice when a chapter was not run at the ``book`` preset, a
summary table (chapter, claim, verdict, key number, tolerance, link to the claim's figure), then
the details per chapter (preset and overridden knobs, the size of its Holm family and the false
"fails" to expect if the theory is exactly right, and per claim its sentence, how it was decided,
its numbers and, when inconclusive, why). :func:`compare` lists the claims whose verdict differs
between two runs of a chapter (what a rerun with other parameters changed);
:func:`preset_notice` is the admonition a page built at another preset opens with.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from recursive_lib.claims import FAMILY_LEVEL, VERDICTS, read_findings

MARK = {"holds": "holds", "fails": "**fails**", "inconclusive": "*inconclusive*"}

#: What each preset means for the verdicts of a page built with it.
PRESET_MEANING = {
    "smoke": (
        "a run of a few seconds that checks every cell executes: a handful of repetitions, short "
        "horizons, small networks. Its numbers are too noisy to test the theory: expect most "
        "verdicts to be inconclusive, and read any holds or fails as an illustration, not a result."
    ),
    "paper": (
        "the sizes of the paper's experiments: longer runs and more repetitions than the book's, "
        "so narrower intervals and stricter verdicts."
    ),
}

VERDICT_MEANING = (
    "**holds**: every interval lies inside the prediction ± δ, the tolerance the claim declares "
    "(an equivalence test: it says *consistent with the prediction within δ*, not that the "
    "prediction is exact, nor why); for a direction or an ordering, the interval or the rank test "
    "excludes the opposite. **fails**: the run contradicts the claim: intervals wholly outside "
    "the prediction ± δ in more cells than chance allows, or a difference of the wrong sign. "
    "**inconclusive**: neither; the details say why (intervals wider than the band, cells "
    "without an interval, a premise that does not hold, a rejection that does not survive the "
    "chapter's adjustment for multiple tests)."
)


def collect(executed: Path, chapters: list[str]) -> dict[str, dict[str, Any] | None]:
    """``{chapter: its recorded findings or None}`` for the executed notebooks in ``executed``."""
    out = {}
    for name in chapters:
        notebook = Path(executed) / f"{name}.ipynb"
        out[name] = read_findings(notebook) if notebook.is_file() else None
    return out


def preset_notice(preset: str | None, overridden: dict[str, Any] | None = None, what: str = "page") -> str:
    """The admonition (MyST) a ``what`` built with ``preset`` (and ``overridden`` knobs) opens
    with, or ``""`` for the ``book`` preset without overrides."""
    overridden = overridden or {}
    if (preset in (None, "book")) and not overridden:
        return ""
    knobs = ", ".join(f"`{k} = {json.dumps(v)}`" for k, v in overridden.items())
    meaning = PRESET_MEANING.get(str(preset), "not the preset the text was written for.")
    lines = [
        f"```{{admonition}} Built with the `{preset}` preset" + (" and overridden knobs" if knobs else ""),
        ":class: warning",
        "",
        f"This {what} was built with the `{preset}` preset" + (f", with {knobs}" if knobs else "") + ": ",
        meaning if preset != "book" else "the book's sizes, but knobs changed by hand.",
        "The sentences that describe results are chosen by this run's verdicts; the prose around "
        "them was written for the `book` preset.",
        "```",
    ]
    return "\n".join(lines) + "\n"


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return "n/a" if math.isnan(value) else f"{value:.3g}"
    return str(value)


def _numbers(numbers: dict[str, Any]) -> str:
    return ", ".join(f"{key} = {_fmt(value)}" for key, value in numbers.items())


def key_number(claim: dict[str, Any]) -> str:
    """The number a reader wants first: the largest deviation and how many intervals lie inside
    the band (agreement), the estimate with its interval (sign, trend), the correlation (ordering)."""
    n = claim.get("numbers", {})
    if "max_dev" in n:
        return (
            f"largest deviation {_fmt(n['max_dev'])}; {n.get('inside', '?')} of {n.get('cells', '?')} inside"
        )
    for key in ("estimate", "slope"):
        if key in n:
            return f"{_fmt(n[key])} [{_fmt(n.get('lo'))}, {_fmt(n.get('hi'))}]"
    if "rho" in n:
        return f"ρ = {_fmt(n['rho'])} (p = {_fmt(n.get('p_value'))})"
    return ""


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def expected_false_fails(tests: int, level: float = FAMILY_LEVEL) -> str:
    """What the policy promises a chapter of ``tests`` rejection tests if the theory is exactly right."""
    if tests == 0:
        return "none (no rejection test)"
    return (
        f"at most a {level:.0%} chance of any (Holm over {tests} tests; without the adjustment, "
        f"up to {tests * level:.2f} expected)"
    )


def page(findings: dict[str, dict[str, Any] | None], reference: dict | None = None) -> str:
    """The Markdown page. ``reference``: findings of another build, to mark changed verdicts."""
    total = {v: 0 for v in VERDICTS}
    for record in findings.values():
        for claim in (record or {}).get("claims", []):
            total[claim["verdict"]] += 1
    presets = {r.get("preset") for r in findings.values() if r}
    lines = ["# What this build found", ""]
    for preset in sorted(p for p in presets if p not in (None, "book")):
        chapters = ", ".join(f"{{doc}}`{c}`" for c, r in findings.items() if r and r.get("preset") == preset)
        lines += [preset_notice(preset, what=f"build ({chapters})"), ""]
    lines += [
        "Every sentence of this book that describes a result is a *claim*: a statement checked "
        "against the results of the run that built the page, with a test that respects their "
        "uncertainty. The run decides the wording each chapter shows; this page lists them all. "
        f"This build: {total['holds']} hold, {total['fails']} fail, "
        f"{total['inconclusive']} are inconclusive.",
        "",
        VERDICT_MEANING,
        "",
        f"*Multiple tests.* Each chapter is one family: the p-values of its rejection tests are "
        f"adjusted by Holm's step-down procedure at {FAMILY_LEVEL:g}, so if the theory is exactly "
        f"right a chapter shows one or more false **fails** with probability at most "
        f"{FAMILY_LEVEL:.0%}. Cells that share runs (two distances of one run) are never pooled into "
        "one test.",
        "",
        "## Summary",
        "",
        "| chapter | claim | verdict | key number | δ | where |",
        "|---|---|---|---|---|---|",
    ]
    for chapter, record in findings.items():
        if not record:
            lines.append(f"| {{doc}}`{chapter}` | (not executed) | | | | |")
            continue
        for claim in record["claims"]:
            delta = claim.get("numbers", {}).get("delta")
            where = f"{{ref}}`figure <{claim['figure']}>`" if claim.get("figure") else f"{{doc}}`{chapter}`"
            lines.append(
                f"| {{doc}}`{chapter}` | {_cell(claim['statement'])} | {MARK[claim['verdict']]} | "
                f"{_cell(key_number(claim))} | {'' if delta is None else _fmt(delta)} | {where} |"
            )
    lines += ["", "## Details", ""]
    for chapter, record in findings.items():
        lines += [f"### {{doc}}`{chapter}`", ""]
        if not record:
            lines += ["No claims were recorded (the chapter was not executed).", ""]
            continue
        overridden = record.get("overridden") or []
        knobs = ", ".join(f"`{k} = {json.dumps(record['knobs'].get(k))}`" for k in overridden)
        lines += [f"Preset `{record.get('preset')}`" + (f", with {knobs}." if knobs else "."), ""]
        policy = record.get("policy") or {}
        tests = policy.get("tests")
        if tests is None:
            tests = sum(1 for c in record["claims"] if c.get("p_value") is not None)
        lines += [
            f"False **fails** to expect if the theory is exactly right: {expected_false_fails(tests)}.",
            "",
        ]
        before = {c["name"]: c for c in ((reference or {}).get(chapter) or {}).get("claims", [])}
        for claim in record["claims"]:
            figure = f" ({{ref}}`figure <{claim['figure']}>`)" if claim.get("figure") else ""
            change = ""
            old = before.get(claim["name"])
            if old is not None and old["verdict"] != claim["verdict"]:
                change = f" (was: {old['verdict']})"
            why = f" *Why inconclusive:* {claim['reason']}." if claim.get("reason") else ""
            adjusted = claim.get("adjusted")
            holm = f" *Holm-adjusted p:* {_fmt(adjusted)}." if adjusted is not None else ""
            premise = f" *Presupposes:* `{claim['given']}`." if claim.get("given") else ""
            lines += [
                f"- **{claim['statement']}**{figure}: {MARK[claim['verdict']]}{change}.",
                f"  {claim['sentence']}",
                f"  *Test:* {claim['test']}.{why}{holm}{premise} *Numbers:* {_numbers(claim['numbers'])}.",
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
