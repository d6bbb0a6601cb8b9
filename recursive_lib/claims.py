"""Claims: every sentence the book says about its results, decided by the results of the run.

A claim is a statement about tidy results (a prediction the intervals cover, the sign of a
difference, an ordering, a trend), checked with a test that respects the uncertainty, and turned
into the sentence the reader sees: the run decides which wording appears, and the numbers in the
sentence are the ones it computed. A claim that fails changes the words; it never fails the build.

Four checks, each returning a :class:`Claim`:

- :func:`coverage`: predictions against intervals, cell by cell. It holds when the number of
  cells whose interval misses the prediction is no more than chance allows (a one-sided binomial
  test at level ``alpha_test`` against the intervals' own miss rate), and fails otherwise.
- :func:`sign`: a difference with its interval: above zero (holds), below zero (fails), or an
  interval that contains zero (inconclusive).
- :func:`ordering`: does ``y`` rise (or fall) with ``x``? Spearman's rank correlation with its
  permutation p-value: holds when the correlation has the stated sign and ``p < alpha_test``,
  fails when it has the opposite sign and ``p < alpha_test``, inconclusive otherwise (and with
  fewer than three points).
- :func:`trend`: a slope with its interval, read as "keeps improving" (the interval is above
  ``threshold``), "levels off" (it contains it) or "gets worse" (below).

Every claim carries a ``statement`` (what is claimed, the same whatever the outcome), a ``verdict``
(``"holds"``, ``"fails"`` or ``"inconclusive"``), the ``sentence`` chosen for that verdict with its
numbers filled in, the ``numbers`` themselves and a ``test`` that says how it was decided.

:class:`Findings` collects a chapter's claims: each check is glued under its name (the chapter's
prose shows it with ``{glue:md}`name:myst```: the ``:myst`` format renders the math in a sentence,
plain ``{glue:md}`` would print its dollar signs) and :meth:`Findings.record` glues them all as one
JSON record (``<chapter>-claims``) that the page "What this build found" lists. End a cell whose
last line is a check with ``;`` (the claim is already glued; the notebook need not show it).

Intervals the book draws are Student-t intervals over repetitions
(:func:`recursive_lib.rates.t_interval`): with a handful of repetitions a normal band with
``z = 1.96`` covers far less than 95 %.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from recursive_lib._validation import check_int

__all__ = ["Claim", "Findings", "VERDICTS", "coverage", "ordering", "read_findings", "sign", "trend"]

#: What a check can conclude about a statement.
VERDICTS = ("holds", "fails", "inconclusive")


@dataclass
class Claim:
    """One checked statement (module docstring)."""

    name: str
    statement: str
    verdict: str
    sentence: str
    numbers: dict[str, Any] = field(default_factory=dict)
    test: str = ""
    figure: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def _repr_markdown_(self) -> str:
        return self.sentence


def _say(sentences: Mapping[str, str], verdict: str, numbers: Mapping[str, Any]) -> str:
    missing = [v for v in VERDICTS if v not in sentences]
    if missing:
        raise ValueError(f"sentences must give a wording for every verdict; missing {missing}")
    try:
        return sentences[verdict].format(**numbers)
    except (KeyError, IndexError, ValueError) as error:
        raise ValueError(
            f"the wording for {verdict!r} uses a number the claim does not have "
            f"({error}); it has {sorted(numbers)}"
        ) from None


def _claim(name, statement, verdict, sentences, numbers, test, figure) -> Claim:
    if not isinstance(name, str) or not name:
        raise ValueError(f"name must be a non-empty string, got {name!r}")
    clean = {k: (float(v) if isinstance(v, (np.floating, np.integer)) else v) for k, v in numbers.items()}
    return Claim(
        name=name,
        statement=statement,
        verdict=verdict,
        sentence=_say(sentences, verdict, clean),
        numbers=clean,
        test=test,
        figure=figure,
    )


def coverage(
    name: str,
    estimate,
    lo,
    hi,
    predicted,
    *,
    statement: str,
    sentences: Mapping[str, str],
    confidence: float = 0.95,
    alpha_test: float = 0.05,
    figure: str | None = None,
) -> Claim:
    """Do intervals ``[lo, hi]`` (of nominal ``confidence``) cover the ``predicted`` values?

    Arrays of one length, one entry per cell. Holds when the misses are no more than chance
    allows: ``P(Binomial(cells, 1 - confidence) >= misses) >= alpha_test``. Numbers:
    ``cells``, ``covered``, ``misses``, ``max_dev`` (largest ``|estimate - predicted|``) and
    ``worst`` (index of that cell), ``p_value``.
    """
    from scipy import stats

    estimate, lo, hi, predicted = (np.asarray(a, dtype=float).ravel() for a in (estimate, lo, hi, predicted))
    if not (estimate.size == lo.size == hi.size == predicted.size) or estimate.size == 0:
        raise ValueError("estimate, lo, hi and predicted must be non-empty and of one length")
    finite = np.isfinite(lo) & np.isfinite(hi)
    inside = finite & (lo <= predicted) & (predicted <= hi)
    cells, covered = int(finite.sum()), int(inside.sum())
    misses = cells - covered
    p_value = float(stats.binom.sf(misses - 1, cells, 1.0 - confidence)) if cells else math.nan
    deviation = np.abs(estimate - predicted)
    finite_dev = np.isfinite(deviation)
    numbers = dict(
        cells=cells,
        covered=covered,
        misses=misses,
        p_value=p_value,
        max_dev=float(np.max(deviation[finite_dev])) if finite_dev.any() else math.nan,
        worst=int(np.argmax(np.where(finite_dev, deviation, -1.0))) if finite_dev.any() else -1,
    )
    if cells == 0:
        verdict = "inconclusive"
    else:
        verdict = "holds" if p_value >= alpha_test else "fails"
    test = (
        f"{covered} of {cells} intervals ({confidence:.0%}) cover the prediction; "
        f"P(at least {misses} misses by chance) = {p_value:.3g}"
    )
    return _claim(name, statement, verdict, sentences, numbers, test, figure)


def sign(
    name: str,
    estimate: float,
    lo: float,
    hi: float,
    *,
    statement: str,
    sentences: Mapping[str, str],
    figure: str | None = None,
    interval: str = "95% interval",
) -> Claim:
    """Is a difference positive? ``estimate`` with its interval ``[lo, hi]``: holds above zero,
    fails below zero, inconclusive when the interval contains zero. Numbers: ``estimate``,
    ``lo``, ``hi``."""
    estimate, lo, hi = float(estimate), float(lo), float(hi)
    if not (math.isfinite(lo) and math.isfinite(hi)):
        verdict = "inconclusive"
    elif lo > 0:
        verdict = "holds"
    elif hi < 0:
        verdict = "fails"
    else:
        verdict = "inconclusive"
    test = f"difference {estimate:.4g}, {interval} [{lo:.4g}, {hi:.4g}] against 0"
    return _claim(name, statement, verdict, sentences, dict(estimate=estimate, lo=lo, hi=hi), test, figure)


def ordering(
    name: str,
    x: Sequence[float],
    y: Sequence[float],
    *,
    statement: str,
    sentences: Mapping[str, str],
    increasing: bool = True,
    alpha_test: float = 0.05,
    permutations: int = 9999,
    seed: int = 0,
    figure: str | None = None,
) -> Claim:
    """Does ``y`` rise with ``x`` (``increasing``) or fall? Spearman's rank correlation ``rho`` with a
    two-sided permutation p-value (``permutations`` shuffles of ``y`` from ``seed``). Numbers:
    ``rho``, ``p_value``, ``points``."""
    from scipy import stats

    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    permutations = check_int("permutations", permutations, 99)
    if x.size < 3:  # too few points to rank: nothing can be concluded
        return _claim(
            name,
            statement,
            "inconclusive",
            sentences,
            dict(rho=math.nan, p_value=math.nan, points=int(x.size)),
            f"only {x.size} finite points: no rank correlation",
            figure,
        )
    rho = float(stats.spearmanr(x, y).statistic)
    rng = np.random.default_rng(check_int("seed", seed, 0))
    rank_x = stats.rankdata(x)
    rank_y = stats.rankdata(y)
    shuffled = np.array([np.corrcoef(rank_x, rng.permutation(rank_y))[0, 1] for _ in range(permutations)])
    p_value = float((1 + np.sum(np.abs(shuffled) >= abs(rho) - 1e-12)) / (permutations + 1))
    agrees = rho > 0 if increasing else rho < 0
    if p_value >= alpha_test or rho == 0 or math.isnan(rho):
        verdict = "inconclusive"
    else:
        verdict = "holds" if agrees else "fails"
    test = (
        f"Spearman rho = {rho:.3f} over {x.size} points, permutation p = {p_value:.3g} "
        f"({permutations} shuffles)"
    )
    return _claim(
        name, statement, verdict, sentences, dict(rho=rho, p_value=p_value, points=int(x.size)), test, figure
    )


def trend(
    name: str,
    slope: float,
    lo: float,
    hi: float,
    *,
    statement: str,
    sentences: Mapping[str, str],
    threshold: float = 0.0,
    figure: str | None = None,
    interval: str = "95% interval",
) -> Claim:
    """Keeps improving, levels off, or gets worse? A slope with its interval, in the book's sign
    convention (positive: the error falls). Holds ("keeps improving") when the interval lies above
    ``threshold``, inconclusive ("levels off", at the resolution of the run) when it contains it,
    fails ("gets worse") when it lies below. Numbers: ``slope``, ``lo``, ``hi``, ``threshold``."""
    slope, lo, hi, threshold = float(slope), float(lo), float(hi), float(threshold)
    if not (math.isfinite(lo) and math.isfinite(hi)):
        verdict = "inconclusive"
    elif lo > threshold:
        verdict = "holds"
    elif hi < threshold:
        verdict = "fails"
    else:
        verdict = "inconclusive"
    test = f"slope {slope:.4g}, {interval} [{lo:.4g}, {hi:.4g}] against {threshold:g}"
    return _claim(
        name,
        statement,
        verdict,
        sentences,
        dict(slope=slope, lo=lo, hi=hi, threshold=threshold),
        test,
        figure,
    )


class Findings:
    """A chapter's claims: each check is glued as Markdown under its name, and :meth:`record`
    glues them all as JSON under ``<chapter>-claims`` for the page "What this build found".

    ``chapter``: the chapter's name; ``cfg``: its resolved knobs (recorded with the claims, so the
    page says which preset and overrides produced them).
    """

    def __init__(self, chapter: str, cfg=None):
        self.chapter = chapter
        self.claims: dict[str, Claim] = {}
        knobs = {} if cfg is None else cfg.as_dict()
        self.preset = knobs.pop("preset", None)
        self.overridden = list(getattr(cfg, "_overridden", []))
        self.knobs = {k: (list(v) if isinstance(v, tuple) else v) for k, v in knobs.items()}

    def add(self, claim: Claim) -> Claim:
        """Keep ``claim`` and glue its sentence (Markdown) under its name."""
        from IPython.display import Markdown

        from recursive_lib._glue import glue

        if claim.name in self.claims:
            raise ValueError(f"claim {claim.name!r} is already recorded in {self.chapter!r}")
        self.claims[claim.name] = claim
        glue(claim.name, Markdown(claim.sentence), display=False)
        return claim

    def coverage(self, name, *args, **kwargs) -> Claim:
        return self.add(coverage(name, *args, **kwargs))

    def sign(self, name, *args, **kwargs) -> Claim:
        return self.add(sign(name, *args, **kwargs))

    def ordering(self, name, *args, **kwargs) -> Claim:
        return self.add(ordering(name, *args, **kwargs))

    def trend(self, name, *args, **kwargs) -> Claim:
        return self.add(trend(name, *args, **kwargs))

    def as_dict(self) -> dict[str, Any]:
        return dict(
            chapter=self.chapter,
            preset=self.preset,
            overridden=self.overridden,
            knobs=self.knobs,
            claims=[c.as_dict() for c in self.claims.values()],
        )

    def record(self) -> None:
        """Glue every claim as one JSON record, ``<chapter>-claims`` (call once, at the end)."""
        from recursive_lib._glue import glue

        glue(f"{self.chapter}-claims", json.dumps(self.as_dict(), default=_json_default), display=False)


def _json_default(value):
    if isinstance(value, (np.generic,)):
        return value.item()
    raise TypeError(f"not JSON-serialisable: {value!r}")


def read_findings(notebook) -> dict[str, Any] | None:
    """The claims an executed chapter recorded (:meth:`Findings.record`), or ``None``."""
    from pathlib import Path

    for cell in json.loads(Path(notebook).read_text())["cells"]:
        for output in cell.get("outputs", []):
            scrapbook = output.get("metadata", {}).get("scrapbook", {})
            if str(scrapbook.get("name", "")).endswith("-claims"):
                data = output["data"][scrapbook.get("mime_prefix", "") + "text/plain"]
                text = "".join(data) if isinstance(data, list) else data
                return json.loads(_unrepr(text))
    return None


def _unrepr(text: str) -> str:
    # glue stores a string's repr as text/plain
    import ast

    value = ast.literal_eval(text)
    return value if isinstance(value, str) else json.dumps(value)
