"""Claims: every sentence the book says about its results, decided by the results of the run.

A claim is a statement about tidy results (a prediction the intervals agree with, the sign of a
difference, an ordering, a trend), checked with a test that respects the uncertainty, and turned
into the sentence the reader sees: the run decides which wording appears, and the numbers in the
sentence are the ones it computed. A claim that fails changes the words; it never fails the build.

What the verdicts mean, for every check:

- **holds**: the run establishes the statement at the stated tolerance. For a claim of
  agreement (:func:`coverage`) every interval lies inside ``prediction ± delta``: an equivalence
  test (each 95 % interval inside the band is a two one-sided tests procedure at 2.5 % a side;
  requiring it of every cell is an intersection-union test, so more cells make "holds" harder,
  never easier). A holds-wording says "consistent with ... within delta" and nothing more: no
  cause, no identity.
- **fails**: the run contradicts the statement: for a claim of agreement, intervals lie wholly
  outside ``prediction ± delta`` in more cells than chance allows (one cell of one or two; two
  of three to fourteen; each interval lies wholly on one side with probability at most 2.5 % if
  the statement is true), and the rejection survives the chapter's other tests (Holm, below).
- **inconclusive**: neither, and ``reason`` says why: cells without an interval (NaN), intervals
  wider than the band, an interval that straddles an edge of the band, a premise that does not
  hold (``given=``), or a rejection that does not survive the chapter's Holm adjustment.

Checks, each returning a :class:`Claim`:

- :func:`coverage`: predictions against intervals, cell by cell, with a tolerance ``delta`` (in
  the units of the prediction) that every call declares. Rival statements are tested with the
  same check and the same ``delta``.
- :func:`sign`: a difference with its interval: above zero (holds), below zero (fails), or an
  interval that contains zero (inconclusive).
- :func:`exact`: the sign of a number without sampling error (an exact curve), decided as it is.
- :func:`ordering`: does ``y`` rise (or fall) with ``x``? Spearman's rank correlation with its
  permutation p-value: holds when the correlation has the stated sign and the (adjusted) p-value
  is below ``alpha_test``, fails when it has the opposite sign, inconclusive otherwise (and with
  fewer than three points).
- :func:`trend`: a slope with its interval, read as "keeps improving" (the interval is above
  ``threshold``), "levels off" (it contains it) or "gets worse" (below).

Every rejection (a coverage claim's "fails", a sign's or trend's interval that excludes its
reference, an ordering's p-value) carries a p-value. For :func:`sign` and :func:`trend` it is
read off the interval: Student-t with ``df`` degrees of freedom when the call gives them
(repetitions - 1), normal otherwise (then, for a Student-t interval over a handful of
repetitions, the adjusted p-value comes out too small: pass ``df``). Every check takes ``given``, a
claim it presupposes: unless that claim holds, the check is inconclusive.

Family-wise policy: :func:`adjust` (applied by :class:`recursive_lib.book.findings.Findings`)
adjusts the p-values of a chapter's rejections by Holm's step-down procedure at
``alpha_test = 0.05``; a rejection whose adjusted p-value is not below it becomes inconclusive.
If the theory is exactly right, the chance that a chapter shows one or more false "fails" is
then at most 5 % (without the adjustment, a chapter of ``m`` tests would expect up to
``0.05 m`` of them). Cells that share runs (two metrics of one run) are never
pooled into one check: they are two claims.

Every claim carries a ``statement`` (what is claimed, the same whatever the outcome), a ``verdict``
(``"holds"``, ``"fails"`` or ``"inconclusive"``), the ``sentence`` chosen for that verdict with its
numbers filled in (``{reason}`` is available to every wording), the ``numbers`` themselves
(``delta`` among them for a claim of agreement), a ``test`` that says how it was decided, and a
``reason`` when it is inconclusive.

A claim's ``statement`` and its wordings (``sentences``: one ``str.format`` template per
verdict) are optional: without them the sentence is a plain account of the verdict and its test
(:func:`say`). In the book they stand in each chapter's Markdown, beside the paragraph that uses
them, and :class:`recursive_lib.book.findings.Findings` supplies them: it collects a chapter's
claims, applies the family-wise policy (:func:`adjust`) and records them in the executed notebook.
``extra`` adds numbers of the caller's own (a level, a label) to those a wording can use.

Intervals the book draws are Student-t intervals over repetitions
(:func:`recursive_lib.rates.t_interval`): with a handful of repetitions a normal band with
``z = 1.96`` covers far less than 95 %.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from recursive_lib._validation import check_int

__all__ = [
    "FAMILY_LEVEL",
    "Claim",
    "VERDICTS",
    "adjust",
    "coverage",
    "exact",
    "holm",
    "ordering",
    "say",
    "sign",
    "trend",
]

#: What a check can conclude about a statement.
VERDICTS = ("holds", "fails", "inconclusive")

#: The family-wise level of a chapter's rejections (Holm over the chapter's claims).
FAMILY_LEVEL = 0.05


@dataclass
class Claim:
    """One checked statement (module docstring).

    ``reason``: why an inconclusive claim could not decide; ``p_value``: the p-value of its
    rejection test (``None`` for a claim without one), ``adjusted`` the same after the chapter's
    Holm adjustment; ``rejects``: the verdict that p-value decided (``None`` if it decided
    nothing); ``given``: the name of the claim it presupposes.
    """

    name: str
    statement: str
    verdict: str
    sentence: str
    numbers: dict[str, Any] = field(default_factory=dict)
    test: str = ""
    figure: str | None = None
    reason: str = ""
    p_value: float | None = None
    adjusted: float | None = None
    rejects: str | None = None
    given: str | None = None
    sentences: dict[str, str] | None = field(default=None, repr=False, compare=False)

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("sentences")
        return out

    def _repr_markdown_(self) -> str:
        return self.sentence

    def reword(self, verdict: str, reason: str) -> None:
        """Set a new ``verdict`` (with its ``reason``) and choose its wording again."""
        self.verdict, self.reason = verdict, reason
        self.sentence = say(self.sentences, verdict, self.numbers, reason, self)


def say(
    sentences: Mapping[str, str] | None,
    verdict: str,
    numbers: Mapping[str, Any],
    reason: str = "",
    claim: Claim | None = None,
) -> str:
    """The wording of ``verdict`` from ``sentences`` (one ``str.format`` template per verdict),
    filled with the claim's ``numbers`` and ``reason``. Without ``sentences``, a plain account
    of the claim: its statement, verdict, test and reason."""
    if sentences is None:
        if claim is None:
            raise ValueError("say needs sentences or the claim to describe")
        why = f"; {reason}" if reason else ""
        return f"{claim.statement}: **{verdict}** ({claim.test}{why})."
    missing = [v for v in VERDICTS if v not in sentences]
    if missing:
        raise ValueError(f"sentences must give a wording for every verdict; missing {missing}")
    try:
        return sentences[verdict].format(**{**numbers, "reason": reason})
    except (KeyError, IndexError, ValueError) as error:
        raise ValueError(
            f"the wording for {verdict!r} uses a number the claim does not have "
            f"({error}); it has {sorted(numbers)} and reason"
        ) from None


def _premise(given) -> tuple[str | None, str]:
    """The name of the presupposed claim and, unless it holds, why this one cannot be decided."""
    if given is None:
        return None, ""
    if not isinstance(given, Claim):
        raise TypeError(f"given must be a Claim (the premise), got {type(given).__name__}")
    if given.verdict == "holds":
        return given.name, ""
    return given.name, f"its premise ({given.statement}) is {given.verdict}"


def _claim(
    name,
    statement,
    verdict,
    sentences,
    numbers,
    test,
    figure,
    *,
    reason="",
    p_value=None,
    rejects=None,
    given=None,
    extra=None,
) -> Claim:
    if not isinstance(name, str) or not name:
        raise ValueError(f"name must be a non-empty string, got {name!r}")
    premise, why = _premise(given)
    if why:
        verdict, reason, rejects = "inconclusive", why, None
    if verdict != "inconclusive":
        reason = ""
    clashes = sorted(set(extra or {}) & set(numbers))
    if clashes:
        raise ValueError(f"extra must not redefine the check's own numbers {clashes}")
    merged = {**numbers, **dict(extra or {})}
    clean = {
        k: (v.item() if isinstance(v, (np.floating, np.integer, np.bool_)) else v) for k, v in merged.items()
    }
    claim = Claim(
        name=name,
        statement=name if statement is None else statement.format(**clean),
        verdict=verdict,
        sentence="",
        numbers=clean,
        test=test,
        figure=figure,
        reason=reason,
        p_value=None if p_value is None else float(p_value),
        rejects=rejects,
        given=premise,
        sentences=None if sentences is None else dict(sentences),
    )
    claim.sentence = say(claim.sentences, verdict, clean, reason, claim)
    return claim


def _z(confidence: float) -> float:
    from scipy import stats

    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence!r}")
    return float(stats.norm.ppf(0.5 + confidence / 2))


def _p_beyond(estimate, edge, half, confidence, df=None):
    """Two-sided p-value that ``estimate`` lies beyond ``edge`` (above it), with a standard error
    read off the interval's half-width ``half`` toward the edge as ``half / q``, ``q`` the
    quantile of the interval (Student-t with ``df`` degrees of freedom, normal if ``None``): below
    ``1 - confidence`` exactly when the interval clears the edge."""
    from scipy import stats

    law = stats.norm if df is None else stats.t(df)
    z = float(law.ppf(0.5 + confidence / 2))

    estimate, edge, half = np.broadcast_arrays(*(np.asarray(a, dtype=float) for a in (estimate, edge, half)))
    half = np.maximum(half, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        score = np.where(half > 0, z * (estimate - edge) / np.where(half > 0, half, 1.0), np.inf)
    score = np.where((half > 0) | (estimate > edge), score, -np.inf)
    return np.minimum(1.0, 2 * law.sf(score))


def coverage(
    name: str,
    estimate,
    lo,
    hi,
    predicted,
    *,
    delta: float,
    statement: str | None = None,
    sentences: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
    confidence: float = 0.95,
    alpha_test: float = FAMILY_LEVEL,
    given: Claim | None = None,
    figure: str | None = None,
) -> Claim:
    """Do the intervals ``[lo, hi]`` (of nominal ``confidence``) agree with ``predicted`` within
    ``delta``?

    Arrays of one length, one entry per cell (cells must not share runs); ``delta``: the
    tolerance, in the units of the prediction. Holds when every interval lies inside
    ``predicted ± delta`` (equivalence); fails when more intervals lie wholly outside the band
    than chance allows (``P(Binomial(cells, (1 - confidence) / 2) >= outside) < alpha_test``:
    with one or two cells, one interval wholly outside; with three to fourteen, two); inconclusive
    otherwise, with a ``reason``: cells without an
    interval, intervals that reach outside the band without clearing it, a premise (``given``)
    that does not hold. Numbers: ``cells``, ``delta``, ``inside`` (intervals inside the band),
    ``outside`` (wholly outside it; ``above`` and ``below``, ``side`` in words), ``covered`` and
    ``misses`` (intervals that contain the prediction, and not), ``missing`` (cells without an
    interval), ``max_dev`` (largest ``|estimate - predicted|``) and ``worst`` (its index),
    ``p_value``.
    """
    estimate, lo, hi, predicted = (np.asarray(a, dtype=float).ravel() for a in (estimate, lo, hi, predicted))
    if not (estimate.size == lo.size == hi.size == predicted.size) or estimate.size == 0:
        raise ValueError("estimate, lo, hi and predicted must be non-empty and of one length")
    delta = float(delta)
    if not (math.isfinite(delta) and delta >= 0):
        raise ValueError(f"delta must be a finite tolerance >= 0, got {delta!r}")
    from scipy import stats

    _z(confidence)
    finite = np.isfinite(estimate) & np.isfinite(lo) & np.isfinite(hi) & np.isfinite(predicted)
    cells, usable = int(estimate.size), int(finite.sum())
    low, high, pred = lo[finite], hi[finite], predicted[finite]
    covered = int(((low <= pred) & (pred <= high)).sum())
    inside = int(((low >= pred - delta) & (high <= pred + delta)).sum())
    above, below = int((low > pred + delta).sum()), int((high < pred - delta).sum())
    wide = int((high - low > 2 * delta).sum())
    # Under the statement (the truth within the band), an interval of nominal ``confidence`` lies
    # wholly above it (or wholly below) with probability at most (1 - confidence) / 2 per cell,
    # whatever the distribution: the count of such cells is at most binomial.
    outside = above + below
    p_value = float(stats.binom.sf(outside - 1, usable, (1 - confidence) / 2)) if usable else math.nan
    deviation = np.abs(estimate - predicted)
    finite_dev = np.isfinite(deviation)
    side = {(0, 0): "neither", (1, 0): "above", (0, 1): "below", (1, 1): "above and below"}[
        (int(above > 0), int(below > 0))
    ]
    numbers = dict(
        cells=cells,
        delta=delta,
        inside=inside,
        outside=outside,
        above=above,
        below=below,
        side=side,
        covered=covered,
        misses=usable - covered,
        missing=cells - usable,
        p_value=p_value,
        max_dev=float(np.max(deviation[finite_dev])) if finite_dev.any() else math.nan,
        worst=int(np.argmax(np.where(finite_dev, deviation, -1.0))) if finite_dev.any() else -1,
    )
    reason, rejects = "", None
    if usable == 0:
        verdict, reason = "inconclusive", f"none of the {cells} cells has an interval"
    elif p_value < alpha_test:
        verdict, rejects = "fails", "fails"
    elif usable < cells:
        verdict, reason = "inconclusive", f"{cells - usable} of {cells} cells have no interval"
    elif inside == cells:
        verdict = "holds"
    else:
        verdict = "inconclusive"
        stick = cells - inside
        reason = f"{stick} of {cells} intervals reach outside the prediction ± {delta:g}"
        if wide:
            reason += f" ({wide} wider than the whole band)"
        if outside:
            reason += (
                f"; {outside} {'lies' if outside == 1 else 'lie'} wholly outside it, as many as chance "
                f"allows among {usable} "
                f"(p = {p_value:.2g})"
            )
    test = (
        f"equivalence within ± {delta:g}: {inside} of {cells} intervals ({confidence:.0%}) inside "
        f"the prediction ± {delta:g}, {outside} wholly outside; P(at least {outside} of {usable} "
        f"wholly outside if the truth is within the band) = {p_value:.3g}"
    )
    return _claim(
        name,
        statement,
        verdict,
        sentences,
        numbers,
        test,
        figure,
        reason=reason,
        p_value=p_value,
        rejects=rejects,
        given=given,
        extra=extra,
    )


def _interval_label(interval: str | None, confidence: float, df: float | None) -> str:
    """What an interval is, for a check's ``test``: the caller's words, else its level and law."""
    if interval is not None:
        return interval
    law = "normal" if df is None else f"Student-t, {float(df):g} df"
    return f"{confidence:.0%} interval ({law})"


def _interval_verdict(estimate, lo, hi, reference, confidence, df, what="difference"):
    """Verdict, p-value and reason of an interval against a reference value: holds above it,
    fails below it."""
    if not (math.isfinite(lo) and math.isfinite(hi) and math.isfinite(estimate)):
        return "inconclusive", math.nan, None, f"the {what} has no interval"
    _z(confidence)
    p_up = float(_p_beyond(estimate, reference, estimate - lo, confidence, df))
    p_down = float(_p_beyond(-estimate, -reference, hi - estimate, confidence, df))
    if lo > reference:
        return "holds", p_up, "holds", ""
    if hi < reference:
        return "fails", p_down, "fails", ""
    return "inconclusive", min(p_up, p_down), None, f"the interval contains {reference:g}"


def sign(
    name: str,
    estimate: float,
    lo: float,
    hi: float,
    *,
    statement: str | None = None,
    sentences: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
    given: Claim | None = None,
    figure: str | None = None,
    interval: str | None = None,
    confidence: float = 0.95,
    df: float | None = None,
) -> Claim:
    """Is a difference positive? ``estimate`` with its interval ``[lo, hi]`` (of nominal
    ``confidence``; Student-t with ``df`` degrees of freedom, or normal): holds above zero,
    fails below zero, inconclusive when the interval contains zero (or is not finite, or
    ``given`` does not hold). Not a claim of agreement: to say two things agree, use
    :func:`coverage` with a ``delta``. Numbers: ``estimate``, ``lo``, ``hi``."""
    estimate, lo, hi = float(estimate), float(lo), float(hi)
    verdict, p_value, rejects, reason = _interval_verdict(estimate, lo, hi, 0.0, confidence, df)
    interval = _interval_label(interval, confidence, df)
    test = f"difference {estimate:.4g}, {interval} [{lo:.4g}, {hi:.4g}] against 0 (p = {p_value:.3g})"
    return _claim(
        name,
        statement,
        verdict,
        sentences,
        dict(estimate=estimate, lo=lo, hi=hi),
        test,
        figure,
        reason=reason,
        p_value=p_value,
        rejects=rejects,
        given=given,
        extra=extra,
    )


def exact(
    name: str,
    value: float,
    *,
    statement: str | None = None,
    sentences: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
    given: Claim | None = None,
    figure: str | None = None,
) -> Claim:
    """Is a number without sampling error (an exact recursion, a closed form) positive? Holds
    above zero, fails below, inconclusive at zero or when it is not finite. It has no p-value,
    so it is not part of the chapter's family of tests. Not for anything computed from random
    draws: use :func:`sign` with an interval. Numbers: ``value``."""
    value = float(value)
    if not math.isfinite(value):
        verdict, reason = "inconclusive", "the value is not finite"
    elif value == 0:
        verdict, reason = "inconclusive", "the value is exactly zero"
    else:
        verdict, reason = ("holds" if value > 0 else "fails"), ""
    test = f"exact value {value:.6g} against 0 (no sampling error)"
    return _claim(
        name,
        statement,
        verdict,
        sentences,
        dict(value=value),
        test,
        figure,
        reason=reason,
        given=given,
        extra=extra,
    )


def ordering(
    name: str,
    x: Sequence[float],
    y: Sequence[float],
    *,
    statement: str | None = None,
    sentences: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
    increasing: bool = True,
    alpha_test: float = FAMILY_LEVEL,
    permutations: int = 9999,
    seed: int = 0,
    given: Claim | None = None,
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
            reason=f"only {x.size} finite points to rank",
            given=given,
            extra=extra,
        )
    rho = float(stats.spearmanr(x, y).statistic)
    rng = np.random.default_rng(check_int("seed", seed, 0))
    rank_x = stats.rankdata(x)
    rank_y = stats.rankdata(y)
    shuffled = np.array([np.corrcoef(rank_x, rng.permutation(rank_y))[0, 1] for _ in range(permutations)])
    p_value = float((1 + np.sum(np.abs(shuffled) >= abs(rho) - 1e-12)) / (permutations + 1))
    agrees = rho > 0 if increasing else rho < 0
    reason, rejects = "", None
    if p_value >= alpha_test or rho == 0 or math.isnan(rho):
        verdict, reason = "inconclusive", f"permutation p = {p_value:.2g} is not below {alpha_test:g}"
    else:
        verdict = "holds" if agrees else "fails"
        rejects = verdict
    test = (
        f"Spearman rho = {rho:.3f} over {x.size} points, permutation p = {p_value:.3g} "
        f"({permutations} shuffles)"
    )
    return _claim(
        name,
        statement,
        verdict,
        sentences,
        dict(rho=rho, p_value=p_value, points=int(x.size)),
        test,
        figure,
        reason=reason,
        p_value=p_value,
        rejects=rejects,
        given=given,
        extra=extra,
    )


def trend(
    name: str,
    slope: float,
    lo: float,
    hi: float,
    *,
    statement: str | None = None,
    sentences: Mapping[str, str] | None = None,
    extra: Mapping[str, Any] | None = None,
    threshold: float = 0.0,
    given: Claim | None = None,
    figure: str | None = None,
    interval: str | None = None,
    confidence: float = 0.95,
    df: float | None = None,
) -> Claim:
    """Keeps improving, levels off, or gets worse? A slope with its interval, in the book's sign
    convention (positive: the error falls). Holds ("keeps improving") when the interval lies above
    ``threshold``, inconclusive ("levels off", at the resolution of the run) when it contains it,
    fails ("gets worse") when it lies below. Numbers: ``slope``, ``lo``, ``hi``, ``threshold``."""
    slope, lo, hi, threshold = float(slope), float(lo), float(hi), float(threshold)
    verdict, p_value, rejects, reason = _interval_verdict(slope, lo, hi, threshold, confidence, df, "slope")
    interval = _interval_label(interval, confidence, df)
    test = f"slope {slope:.4g}, {interval} [{lo:.4g}, {hi:.4g}] against {threshold:g} (p = {p_value:.3g})"
    return _claim(
        name,
        statement,
        verdict,
        sentences,
        dict(slope=slope, lo=lo, hi=hi, threshold=threshold),
        test,
        figure,
        reason=reason,
        p_value=p_value,
        rejects=rejects,
        given=given,
        extra=extra,
    )


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjusted p-values (same order as ``p_values``; NaN stays NaN and does
    not count in the family)."""
    p = np.asarray(p_values, dtype=float)
    out = np.full(p.shape, np.nan)
    tested = np.flatnonzero(np.isfinite(p))
    m = tested.size
    running = 0.0
    for rank, index in enumerate(tested[np.argsort(p[tested], kind="stable")]):
        running = max(running, min(1.0, (m - rank) * p[index]))
        out[index] = running
    return out


def adjust(claims: Sequence[Claim], alpha_test: float = FAMILY_LEVEL) -> list[str]:
    """The family-wise policy over one chapter's ``claims`` (in order of recording): Holm over
    their p-values; a rejection whose adjusted p-value is not below ``alpha_test`` becomes
    inconclusive, and so does every claim whose premise no longer holds. Sets each claim's
    ``adjusted`` and returns the names of the claims whose verdict changed."""
    listed = list(claims)
    adjusted = holm([np.nan if c.p_value is None else c.p_value for c in listed])
    m = int(np.isfinite(adjusted).sum())
    changed = []
    for claim, value in zip(listed, adjusted, strict=True):
        claim.adjusted = None if math.isnan(value) else float(value)
        if claim.rejects and claim.verdict == claim.rejects and not value < alpha_test:
            claim.reword(
                "inconclusive",
                f"p = {claim.p_value:.2g} becomes {value:.2g} after Holm's adjustment over the "
                f"chapter's {m} tests, not below {alpha_test:g}",
            )
            changed.append(claim.name)
    by_name = {c.name: c for c in listed}
    for claim in listed:  # in order of recording: a premise is recorded before its claim
        premise = by_name.get(claim.given) if claim.given else None
        if premise is not None and premise.verdict != "holds" and claim.verdict != "inconclusive":
            claim.reword("inconclusive", f"its premise ({premise.statement}) is {premise.verdict}")
            changed.append(claim.name)
    return list(dict.fromkeys(changed))
