"""A chapter's findings: its claims checked in the kernel, worded in its Markdown, recorded in
the executed notebook, and reported on the page "What this build found".

**In a chapter.** :class:`Findings` collects the chapter's claims. Each check is one call
(``found.coverage("bias-w1", estimate, lo, hi, predicted, delta=0.05)``); its statement and
its wordings stand in the chapter's Markdown, where the sentence belongs, as a ``claim``
directive whose options give the statement and one wording per verdict, ``str.format``
templates over the check's numbers (:mod:`recursive_lib.claims`) and ``{reason}``::

    ```{claim} bias-w1
    ---
    statement: The fitted W1 slopes agree with min(p, alpha, q) within {delta:g}.
    holds: >-
      The fitted slopes are consistent with $\\min(p, \\alpha, q)$ within {delta:g} ...
    fails: ...
    inconclusive: ... {reason}.
    ---
    ```

The kernel reads those blocks from the chapter's source (:func:`chapter_source`), so the check
cell's output is the chosen sentence, in Jupyter as in the book; the book's Sphinx extension
(``recursive_lib.book.sphinx_claims``) renders each block from the executed notebook's record
with the same function. :meth:`Findings.record`, the chapter's last cell, applies the
family-wise policy (:func:`recursive_lib.claims.adjust`) and glues every claim as one JSON
record, ``<chapter>-claims``; :func:`read_findings` reads it back.

**The report.** :func:`page` writes the page from every chapter's record: what the verdicts mean
and the family-wise policy, a notice when a chapter was not run at the ``book`` preset, a summary
table (chapter, claim, verdict, key number, tolerance, link to the claim's figure), then the
details per chapter (preset and overridden knobs, the size of its Holm family and the false
"fails" to expect if the theory is exactly right, and per claim its sentence, how it was decided,
its numbers and, when inconclusive, why). :func:`compare` lists the claims whose verdict differs
between two runs of a chapter (what a rerun with other parameters changed);
:func:`preset_notice` is the admonition a page built at another preset opens with.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from recursive_lib import claims
from recursive_lib.claims import FAMILY_LEVEL, VERDICTS, Claim

#: The options of a ``claim`` block: the statement and one wording per verdict.
WORDING_KEYS = ("statement", *VERDICTS)

_FENCE = re.compile(r"^(?P<fence>`{3,}|:{3,})\{claim\}[ \t]+(?P<name>\S+)[ \t]*$")


def claim_blocks(text: str, where: str = "the chapter") -> dict[str, dict[str, str]]:
    """``{name: {statement, holds, fails, inconclusive}}`` for every ``claim`` block of MyST
    Markdown ``text`` (a fenced ``{claim} NAME`` directive whose ``---`` options block, YAML,
    holds the four keys). ``where`` names the text in errors."""
    import yaml

    blocks: dict[str, dict[str, str]] = {}
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        match = _FENCE.match(lines[i].strip())
        i += 1
        if not match:
            continue
        name, fence, start = match["name"], match["fence"], i
        while i < len(lines) and lines[i].strip() != fence:
            i += 1
        body = lines[start:i]
        i += 1
        if not body or body[0].strip() != "---" or "---" not in [b.strip() for b in body[1:]]:
            raise ValueError(f"claim {name!r} in {where}: its options must stand between two '---' lines")
        end = 1 + [b.strip() for b in body[1:]].index("---")
        try:
            options = yaml.safe_load("\n".join(body[1:end])) or {}
        except yaml.YAMLError as error:
            raise ValueError(f"claim {name!r} in {where}: its options are not valid YAML ({error})") from None
        if not isinstance(options, dict) or set(options) != set(WORDING_KEYS):
            got = sorted(options) if isinstance(options, dict) else type(options).__name__
            raise ValueError(f"claim {name!r} in {where} must give exactly {list(WORDING_KEYS)}, got {got}")
        if name in blocks:
            raise ValueError(f"claim {name!r} is worded twice in {where}")
        blocks[name] = {key: str(options[key]) for key in WORDING_KEYS}
    return blocks


def notebook_text(path: Path) -> str:
    """The text of a chapter's source: a MyST Markdown file as it is, a notebook's Markdown cells
    joined."""
    path = Path(path)
    if path.suffix != ".ipynb":
        return path.read_text(encoding="utf-8")
    cells = json.loads(path.read_text(encoding="utf-8")).get("cells", [])
    return "\n\n".join(
        "".join(c["source"]) if isinstance(c["source"], list) else c["source"]
        for c in cells
        if c.get("cell_type") == "markdown"
    )


def chapter_source(chapter: str, source: str | os.PathLike | None = None) -> Path | None:
    """Where a chapter's wordings are: ``source`` if given; else the notebook the kernel was
    started for (``JPY_SESSION_NAME``, which Jupyter and ``recursive-book`` set); else
    ``<chapter>.md`` or ``<chapter>.ipynb`` in the working folder (where Jupyter Book and Jupyter
    run a chapter). ``None`` when none exists (a notebook opened alone, as on Colab)."""
    if source is not None:
        path = Path(source)
        if not path.is_file():
            raise FileNotFoundError(f"source: no chapter file at {path}")
        return path
    candidates = []
    session = os.environ.get("JPY_SESSION_NAME")
    if session:
        candidates.append(Path(session))
    candidates += [Path.cwd() / f"{chapter}.md", Path.cwd() / f"{chapter}.ipynb"]
    return next((path for path in candidates if path.suffix in (".md", ".ipynb") and path.is_file()), None)


def glue_knobs(chapter: str, knobs: Mapping[str, Any]) -> list[str]:
    """Glue every knob with a single value (a number, a string, a flag) as
    ``<chapter>-<knob>``, underscores as hyphens (``bias-burn-in``), for the prose to quote with
    ``{glue:text}``; returns the names glued."""
    from recursive_lib._glue import glue

    names = []
    for knob, value in knobs.items():
        if isinstance(value, (bool, int, float, str)) and not isinstance(value, np.generic):
            names.append(f"{chapter}-{knob.replace('_', '-')}")
            glue(names[-1], value, display=False)
    return names


class Findings:
    """A chapter's claims (module docstring).

    ``chapter``: the chapter's name (its record is glued as ``<chapter>-claims``); ``cfg``: its
    resolved knobs (recorded with the claims, so the page says which preset and overrides
    produced them; those with a single value are glued for the prose, :func:`glue_knobs`);
    ``source``: the chapter file holding the ``claim`` blocks (found by :func:`chapter_source`
    when not given; without one, each sentence is a plain account of the
    verdict and its test). Each check method takes the arguments of the check of the same name in
    :mod:`recursive_lib.claims` without ``statement`` and ``sentences`` (they come from the
    chapter's block of the same name); ``given`` may be a claim's name. The claim is returned:
    as a cell's last expression, its sentence is the cell's output.
    """

    def __init__(self, chapter: str, cfg=None, source=None, alpha_test: float = FAMILY_LEVEL):
        self.chapter = chapter
        self.alpha_test = float(alpha_test)
        self.claims: dict[str, Claim] = {}
        knobs = {} if cfg is None else cfg.as_dict()
        self.preset = knobs.pop("preset", None)
        self.overridden = list(getattr(cfg, "_overridden", []))
        self.knobs = {k: (list(v) if isinstance(v, tuple) else v) for k, v in knobs.items()}
        self.source = chapter_source(chapter, source)
        where = str(self.source)
        self.wordings = None if self.source is None else claim_blocks(notebook_text(self.source), where)
        if cfg is not None:
            glue_knobs(chapter, knobs)

    def _words(self, name: str, kwargs: dict) -> dict:
        premise = kwargs.get("given")
        if isinstance(premise, str):
            if premise not in self.claims:
                raise ValueError(f"given={premise!r}: no such claim recorded yet in {self.chapter!r}")
            kwargs["given"] = self.claims[premise]
        if self.wordings is not None and "sentences" not in kwargs:
            if name not in self.wordings:
                raise ValueError(
                    f"claim {name!r} has no ```{{claim}} {name}``` block in {self.source}: its "
                    f"statement and wordings stand in the chapter's Markdown"
                )
            words = self.wordings[name]
            kwargs.setdefault("statement", words["statement"])
            kwargs["sentences"] = {v: words[v] for v in VERDICTS}
        return kwargs

    def add(self, claim: Claim) -> Claim:
        """Keep ``claim`` (its name must be new to the chapter)."""
        if claim.name in self.claims:
            raise ValueError(f"claim {claim.name!r} is already recorded in {self.chapter!r}")
        self.claims[claim.name] = claim
        return claim

    def coverage(self, name, estimate, *args, **kwargs) -> Claim | None:
        """:func:`recursive_lib.claims.coverage`; no cell at all (a knob left them out of the
        run) checks nothing and records nothing: the claim's block says the run did not check it."""
        if np.size(estimate) == 0:
            return None
        return self.add(claims.coverage(name, estimate, *args, **self._words(name, kwargs)))

    def sign(self, name, *args, **kwargs) -> Claim:
        return self.add(claims.sign(name, *args, **self._words(name, kwargs)))

    def exact(self, name, *args, **kwargs) -> Claim:
        return self.add(claims.exact(name, *args, **self._words(name, kwargs)))

    def ordering(self, name, *args, **kwargs) -> Claim:
        return self.add(claims.ordering(name, *args, **self._words(name, kwargs)))

    def trend(self, name, *args, **kwargs) -> Claim:
        return self.add(claims.trend(name, *args, **self._words(name, kwargs)))

    def tests(self) -> int:
        """How many of the chapter's claims carry a p-value (the size of its Holm family)."""
        return sum(1 for c in self.claims.values() if c.p_value is not None and math.isfinite(c.p_value))

    def adjust(self) -> list[str]:
        """Apply the family-wise policy (:func:`recursive_lib.claims.adjust`); returns the names
        of the claims whose verdict changed."""
        return claims.adjust(list(self.claims.values()), self.alpha_test)

    def as_dict(self) -> dict[str, Any]:
        return dict(
            chapter=self.chapter,
            preset=self.preset,
            overridden=self.overridden,
            knobs=self.knobs,
            policy=dict(method="holm", alpha=self.alpha_test, tests=self.tests()),
            claims=[c.as_dict() for c in self.claims.values()],
        )

    def record(self) -> None:
        """Apply the family-wise policy (:meth:`adjust`) and glue every claim as one JSON record,
        ``<chapter>-claims`` (call once, in the chapter's last cell)."""
        from recursive_lib._glue import glue

        self.adjust()
        glue(f"{self.chapter}-claims", json.dumps(self.as_dict(), default=_json_default), display=False)


def _json_default(value):
    if isinstance(value, (np.generic,)):
        return value.item()
    raise TypeError(f"not JSON-serialisable: {value!r}")


def read_findings(notebook) -> dict[str, Any] | None:
    """The claims an executed chapter recorded (:meth:`Findings.record`), or ``None``."""
    return glued_record(json.loads(Path(notebook).read_text()))


def glued_record(nb: Mapping[str, Any]) -> dict[str, Any] | None:
    """The ``<chapter>-claims`` record glued in an executed notebook (as JSON-loaded), or ``None``."""
    for cell in nb.get("cells", []):
        for output in cell.get("outputs", []):
            scrapbook = output.get("metadata", {}).get("scrapbook", {})
            if str(scrapbook.get("name", "")).endswith("-claims"):
                data = output["data"][scrapbook.get("mime_prefix", "") + "text/plain"]
                return parse_record("".join(data) if isinstance(data, list) else data)
    return None


def parse_record(text: str) -> dict[str, Any]:
    """A glued record's ``text/plain`` (the repr of its JSON string) as a dictionary."""
    import ast

    value = ast.literal_eval(text)
    return json.loads(value if isinstance(value, str) else json.dumps(value))


def wording(block: Mapping[str, str], claim: Mapping[str, Any]) -> str:
    """The sentence a ``claim`` block says for a recorded ``claim`` (a record's entry): the
    wording of its verdict filled with its numbers and reason."""
    return claims.say(
        {v: block[v] for v in VERDICTS}, claim["verdict"], claim.get("numbers", {}), claim.get("reason", "")
    )


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
