"""Claims: each check decides its verdict from the numbers, and the verdict picks the words."""

import numpy as np
import pytest

from recursive_lib import claims
from recursive_lib.book import findings

SAY = dict(holds="holds at {slope:.2f}", fails="fails at {slope:.2f}", inconclusive="unclear")


@pytest.mark.parametrize(
    ("lo", "hi", "verdict", "sentence"),
    [
        (0.1, 0.5, "holds", "holds at 0.30"),
        (-0.5, -0.1, "fails", "fails at 0.30"),
        (-0.1, 0.5, "inconclusive", "unclear"),
        (np.nan, np.nan, "inconclusive", "unclear"),
    ],
)
def test_trend_reads_the_interval(lo, hi, verdict, sentence):
    claim = claims.trend("t", 0.3, lo, hi, statement="it keeps improving", sentences=SAY)
    assert (claim.verdict, claim.sentence) == (verdict, sentence)
    assert claim.statement == "it keeps improving" and claim.numbers["slope"] == 0.3


def test_sign_against_zero():
    say = dict(holds="up {estimate:.1f}", fails="down", inconclusive="flat")
    assert claims.sign("s", 2.0, 1.0, 3.0, statement="s", sentences=say).sentence == "up 2.0"
    assert claims.sign("s", -2.0, -3.0, -1.0, statement="s", sentences=say).verdict == "fails"
    assert claims.sign("s", 0.5, -1.0, 2.0, statement="s", sentences=say).verdict == "inconclusive"


def test_coverage_allows_the_misses_chance_allows():
    say = dict(holds="{covered} of {cells}", fails="{misses} misses", inconclusive="none")
    n = 40
    predicted = np.zeros(n)
    lo, hi = np.full(n, -1.0), np.full(n, 1.0)
    assert (
        claims.coverage("c", predicted, lo, hi, predicted, statement="s", sentences=say).sentence
        == "40 of 40"
    )
    lo[:3] = 0.5  # 3 misses of 40 at a 5 % miss rate: P(>= 3) = 0.32, chance
    assert claims.coverage("c", predicted, lo, hi, predicted, statement="s", sentences=say).verdict == "holds"
    lo[:10] = 0.5  # 10 misses of 40: P(>= 10) ~ 1e-5, not chance
    claim = claims.coverage("c", predicted, lo, hi, predicted, statement="s", sentences=say)
    assert claim.verdict == "fails" and claim.sentence == "10 misses" and claim.numbers["p_value"] < 1e-4


def test_ordering_uses_the_rank_correlation_and_its_p_value():
    say = dict(holds="rho {rho:.1f}", fails="reversed", inconclusive="unclear")
    x = np.arange(8.0)
    assert claims.ordering("o", x, x**2, statement="s", sentences=say).sentence == "rho 1.0"
    assert claims.ordering("o", x, -x, statement="s", sentences=say).verdict == "fails"
    assert claims.ordering("o", x, -x, statement="s", sentences=say, increasing=False).verdict == "holds"
    noise = np.random.default_rng(0).permutation(8)
    assert claims.ordering("o", x, noise, statement="s", sentences=say).verdict == "inconclusive"


def test_wordings_must_cover_every_verdict_and_use_known_numbers():
    with pytest.raises(ValueError, match="missing \\['inconclusive'\\]"):
        claims.trend("t", 1, 0, 2, statement="s", sentences=dict(holds="a", fails="b"))
    with pytest.raises(ValueError, match="uses a number the claim does not have"):
        claims.trend(
            "t", 1, 0.5, 2, statement="s", sentences=dict(holds="{rho}", fails="b", inconclusive="c")
        )


def test_the_findings_page_lists_claims_and_changed_verdicts():
    claim = claims.trend("t-1", 0.3, 0.1, 0.5, statement="it keeps improving", sentences=SAY, figure="fig-x")
    record = dict(
        chapter="setting", preset="smoke", overridden=["T"], knobs={"T": 5}, claims=[claim.as_dict()]
    )
    old = dict(record, claims=[dict(claim.as_dict(), verdict="inconclusive")])
    page = findings.page({"setting": record}, {"setting": old})
    assert "## {doc}`setting`" in page and "Preset `smoke`, with `T = 5`." in page
    assert "- **it keeps improving** ({ref}`figure <fig-x>`): holds (was: inconclusive)." in page
    assert "This build: 1 hold, 0 fail, 0 are inconclusive." in page
    assert findings.compare(record, old) == ["t-1: inconclusive -> holds (it keeps improving)"]


def test_degenerate_inputs_are_inconclusive_not_errors():
    say = dict(holds="h", fails="f", inconclusive="nothing to say")
    assert claims.ordering("o", [1, 2], [2, 1], statement="s", sentences=say).verdict == "inconclusive"
    nan = np.full(3, np.nan)
    claim = claims.coverage("c", nan, nan, nan, np.zeros(3), statement="s", sentences=say)
    assert claim.verdict == "inconclusive" and claim.numbers["cells"] == 0
