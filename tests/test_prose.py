"""Nothing about results is typed by hand: the prose of every chapter holds no numeral and no trend
word outside math, code, citations, cross-references and glue roles, except the fixed facts and
parameter echoes listed in ALLOWED, each with its reason.

A number that depends on a run is glued (``{glue:text}`name:.2f```); a sentence that describes a
result is a claim (a ``{claim}`` block, :mod:`recursive_lib.book.findings`), so the run decides its
words.
"""

import re

import pytest
from conftest import ROOT

from recursive_lib.book import cli

#: Phrases that describe results: they must come from a claim, never be typed.
TREND_WORDS = [
    "keeps improving",
    "keep improving",
    "stops improving",
    "stop improving",
    "levels off",
    "level off",
    "levelled off",
    "goes down",
    "go down",
    "going down",
    "keeps falling",
    "keep falling",
    "fewer and fewer",
    "more and more",
    "the ordering",
    "is visible",
    "are visible",
    "grows with every",
    "with every iteration",
    "pulls it towards",
    "more slowly",
    "more quickly",
    "stays above",
    "stay above",
    "stays below",
    "sits between",
    "sit between",
    "straighten",
    "as predicted",
    "as the theorem predicts",
    "agrees with",
    "agree with",
    "close to the prediction",
    "clearly",
    "collapses",
    "collapse faster",
    "diverges",
    "plateaus",
    "worse than",
    "better than",
    "lower than",
    "higher than",
    "converges",
    "converge",
    "converged",
    "settles",
    "settle",
    "settled",
    "stays",
    "stay",
    "persists",
    "persist",
    "grows",
    "recovers",
    "recover",
    "matches",
    "match",
    "outperforms",
    "outperform",
    "removes the",
    "behaves as",
    "shrinks",
    "vanishes",
    "dominates",
    "overshoots",
    "undershoots",
    "is stuck",
    "the loop working",
    "cost variance",
    "falls in steps",
]

#: Phrases allowed in every chapter, with why they may be typed. Each chapter adds its own in
#: tests/prose_allowed/<chapter>.txt, one "phrase | reason" per line. A hit inside one is allowed.
ALLOWED: dict[str, list[tuple[str, str]]] = {
    "*": [
        ("Theorem 1", "the paper's numbering"),
        ("Theorem 2", "the paper's numbering"),
        ("1-D", "a dimension, not a result"),
        ("2-D", "a dimension, not a result"),
        ("GPT-2", "a model's name"),
        ("W1", "a metric's name"),
        ("95%", "the nominal level of every interval the book draws (a constant, not a result)"),
    ],
}

_FENCE = re.compile(r"^(`{3,}|:{3,})\s*(\{[\w:-]+\})?([^\n]*)\n(.*?)^\1\s*$", re.M | re.S)
_NUMERAL = re.compile(r"(?<![\w\-.^_/])\d+(?:[.,]\d+)*(?:x\d+)?%?(?![\w.]*\w)")


def prose(text: str) -> str:
    """The chapter's prose: front matter, code, math, roles and directive options removed; figure
    captions kept."""
    text = re.sub(r"\A---\n.*?\n---\n", "", text, flags=re.S)
    text = re.sub(r"<!--.*?-->", "", text, flags=re.S)

    def fence(match):
        directive, body = match.group(2) or "", match.group(4)
        if directive in ("{glue:figure}", "{figure}", "{note}", "{admonition}", "{tip}", "{warning}"):
            return "\n".join(line for line in body.splitlines() if not line.startswith(":"))
        return ""

    text = _FENCE.sub(fence, text)
    text = re.sub(r"\$\$.*?\$\$", " ", text, flags=re.S)
    text = re.sub(r"\$[^$\n]+\$", " ", text)
    text = re.sub(r"\{[\w:-]+\}`[^`]*`", " ", text)  # roles: glue, cite, eq, ref, doc, numref
    text = re.sub(r"`[^`\n]*`", " ", text)  # inline code
    text = re.sub(r"\]\([^)]*\)", "]", text)  # link targets
    text = re.sub(r"^\(.*\)=\s*$", "", text, flags=re.M)  # MyST labels
    text = re.sub(r"^(\s*)\d+\.\s", r"\1", text, flags=re.M)  # numbered-list markers
    return text


def _allowed(chapter: str) -> list[str]:
    phrases = [phrase for phrase, _ in ALLOWED["*"]]
    listed = ROOT / "tests" / "prose_allowed" / f"{chapter}.txt"
    if listed.is_file():
        for line in listed.read_text().splitlines():
            if line.strip() and not line.startswith("#"):
                phrase, sep, reason = line.partition(" | ")
                assert sep and reason.strip(), f"{listed}: every line is 'phrase | reason': {line!r}"
                phrases.append(phrase.strip())
    return phrases


def offences(chapter: str, text: str) -> list[str]:
    """``numeral 'x' in: ...`` and ``trend word 'y' in: ...`` for every hit outside the allowed phrases."""
    found = []
    allowed = _allowed(chapter)
    for paragraph in re.split(r"\n\s*\n", prose(text)):
        # a question is an invitation to the reader, not a claim about results
        flat = " ".join(
            s for s in re.split(r"(?<=[.?!])\s+", " ".join(paragraph.split())) if not s.endswith("?")
        )
        spans = [(m.start(), m.end()) for phrase in allowed for m in re.finditer(re.escape(phrase), flat)]

        def free(start, end, spans=spans):
            return not any(a <= start and end <= b for a, b in spans)

        for match in _NUMERAL.finditer(flat):
            if free(match.start(), match.end()):
                found.append(
                    f"numeral {match.group()!r} in: {flat[max(0, match.start() - 60) : match.end() + 60]}"
                )
        lower = flat.lower()
        for word in TREND_WORDS:
            for match in re.finditer(r"\b" + re.escape(word) + r"\b", lower):
                if free(match.start(), match.end()):
                    found.append(
                        f"trend word {word!r} in: {flat[max(0, match.start() - 60) : match.end() + 60]}"
                    )
    return found


@pytest.mark.parametrize("name", cli.toc_chapters(ROOT))
def test_no_result_is_typed_by_hand(name, root):
    source = cli.chapter_source(root, name)
    problems = offences(name, source.read_text())
    assert not problems, f"{name}: glue the number or make the sentence a claim:\n" + "\n".join(problems)


def test_the_scan_finds_what_it_must():
    text = (
        "Over 40 iterations the error keeps improving, and at $\\alpha = 0.5$ it is "
        "{glue:text}`x:.2f` (`T = 50`); 8x8 digits. [a link](https://example.org/1)\n"
    )
    problems = offences("none", text)
    assert any("numeral '40'" in p for p in problems)
    assert any("numeral '8x8'" in p for p in problems)
    assert any("trend word 'keeps improving'" in p for p in problems)
    assert len(problems) == 3, problems
    assert offences("none", "Theorem 2 says so; GPT-2 and W1 are names.\n") == []
    assert offences("none", "1. a step\n2. another step\n\nDoes the error keep improving?\n") == []
