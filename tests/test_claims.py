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


SAY3 = dict(holds="within {delta:g}", fails="{outside} outside, {side}", inconclusive="unsure: {reason}")


def agree(estimate, lo, hi, predicted, delta=0.05, **kwargs):
    return claims.coverage(
        "c", estimate, lo, hi, predicted, delta=delta, statement="s", sentences=SAY3, **kwargs
    )


@pytest.mark.parametrize(
    ("lo", "hi", "verdict"),
    [
        ([0.47], [0.53], "holds"),  # one interval inside 0.5 +- 0.05
        ([0.85], [0.95], "fails"),  # one interval wholly outside: P = 0.025 by chance
        ([0.40], [0.60], "inconclusive"),  # wider than the band: could not have held
        ([0.52], [0.58], "inconclusive"),  # straddles the edge
        ([0.47, 0.49], [0.53, 0.51], "holds"),
        ([0.47, 0.85], [0.53, 0.95], "fails"),  # one of two wholly outside: P = 0.049
        ([0.47, np.nan], [0.53, np.nan], "inconclusive"),  # a NaN cell is never dropped silently
        ([np.nan], [np.nan], "inconclusive"),
    ],
)
def test_coverage_is_an_equivalence_test_within_delta(lo, hi, verdict):
    lo, hi = np.asarray(lo), np.asarray(hi)
    claim = agree((lo + hi) / 2, lo, hi, np.full(lo.size, 0.5))
    assert claim.verdict == verdict
    start = {"holds": "within 0.05", "fails": "1 outside, above", "inconclusive": "unsure: "}[verdict]
    assert claim.numbers["delta"] == 0.05 and claim.sentence.startswith(start)
    assert bool(claim.reason) == (verdict == "inconclusive")


def test_an_inconclusive_coverage_says_why():
    assert (
        "1 of 2 cells have no interval"
        in agree([0.5, np.nan], [0.47, np.nan], [0.53, np.nan], [0.5, 0.5]).reason
    )
    assert "wider than the whole band" in agree([0.5], [0.4], [0.6], [0.5]).reason
    assert "none of the 1 cells" in agree([np.nan], [np.nan], [np.nan], [0.5]).reason


def test_one_interval_wholly_outside_of_many_is_chance_but_two_of_six_are_not():
    est = np.zeros(6)
    lo, hi = est - 0.01, est + 0.01
    lo[0], hi[0] = 0.2, 0.3
    claim = agree(est, lo, hi, np.zeros(6))
    assert claim.verdict == "inconclusive" and "1 lies wholly outside" in claim.reason
    lo[1], hi[1] = -0.3, -0.2
    claim = agree(est, lo, hi, np.zeros(6))
    assert claim.verdict == "fails" and claim.sentence == "2 outside, above and below"
    assert claim.numbers["p_value"] == pytest.approx(1 - 0.975**6 - 6 * 0.025 * 0.975**5)


def test_coverage_needs_a_finite_tolerance():
    with pytest.raises(ValueError, match="delta"):
        agree([0.5], [0.4], [0.6], [0.5], delta=-1)
    with pytest.raises(TypeError, match="delta"):
        claims.coverage("c", [0.5], [0.4], [0.6], [0.5], statement="s", sentences=SAY3)


def test_a_claim_whose_premise_does_not_hold_is_inconclusive():
    say = dict(holds="h", fails="f", inconclusive="i: {reason}")
    premise = claims.sign("p", 0.1, -1.0, 1.0, statement="there is a plateau", sentences=say)
    claim = agree([0.5], [0.49], [0.51], [0.5], given=premise)
    assert claim.verdict == "inconclusive" and claim.given == "p"
    assert claim.reason == "its premise (there is a plateau) is inconclusive"
    premise = claims.sign("p", 2.0, 1.0, 3.0, statement="there is a plateau", sentences=say)
    assert agree([0.5], [0.49], [0.51], [0.5], given=premise).verdict == "holds"


def test_holm_adjusts_step_down():
    adjusted = claims.holm([0.01, 0.04, 0.03, np.nan, 0.5])
    np.testing.assert_allclose(adjusted[[0, 1, 2, 4]], [0.04, 0.09, 0.09, 0.5])
    assert np.isnan(adjusted[3])


def test_a_sign_reads_its_p_value_off_the_interval():
    say = dict(holds="h", fails="f", inconclusive="i")
    normal = claims.sign("s", 1.959964, 0.0, 2 * 1.959964, statement="s", sentences=say)  # lo at 0
    assert normal.p_value == pytest.approx(0.05, rel=1e-4)
    from scipy import stats

    q = stats.t.ppf(0.975, 3)
    student = claims.sign("s", q, 0.0, 2 * q, statement="s", sentences=say, df=3)
    assert student.p_value == pytest.approx(0.05, rel=1e-4)


def test_a_systematic_error_of_two_deltas_rarely_holds_at_the_smoke_sizes():
    """Power: 4 repetitions, 6 cells, Student-t intervals, every cell off by 2 delta. With 2000
    trials the binomial standard error of a rate near 5 % is sqrt(0.05 * 0.95 / 2000) = 0.005, so
    "below 5 %" is decided at ten standard errors when the rate is zero. Over a range of noise
    levels (the per-repetition standard deviation from a tenth of delta to twice it)."""
    from scipy import stats

    delta, reps, cells, trials = 0.05, 4, 6, 2000
    t = stats.t.ppf(0.975, reps - 1)
    rng = np.random.default_rng(20260216)
    for sigma in (0.1 * delta, 0.25 * delta, 0.5 * delta, delta, 2 * delta):
        holds = fails = 0
        for _ in range(trials):
            x = 2 * delta + sigma * rng.standard_normal((cells, reps))
            mean, half = x.mean(axis=1), t * x.std(axis=1, ddof=1) / np.sqrt(reps)
            verdict = agree(mean, mean - half, mean + half, np.zeros(cells), delta=delta).verdict
            holds += verdict == "holds"
            fails += verdict == "fails"
        assert holds / trials < 0.05, (sigma, holds / trials)
    # the same test at the truth's side: no systematic error, false fails below the 5 % level
    false_fails = 0
    for _ in range(trials):
        x = 0.5 * delta * rng.standard_normal((cells, reps))
        mean, half = x.mean(axis=1), t * x.std(axis=1, ddof=1) / np.sqrt(reps)
        false_fails += agree(mean, mean - half, mean + half, np.zeros(cells), delta=delta).verdict == "fails"
    assert false_fails / trials < 0.05 - 3 * np.sqrt(0.05 * 0.95 / trials)


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
    agreement = claims.coverage(
        "t-2", [0.5], [0.4], [0.6], [0.5], delta=0.05, statement="it agrees", sentences=SAY3, figure="fig-x"
    )
    record["claims"].append(agreement.as_dict())
    page = findings.page({"setting": record}, {"setting": old})
    assert "### {doc}`setting`" in page and "Preset `smoke`, with `T = 5`." in page
    assert "- **it keeps improving** ({ref}`figure <fig-x>`): holds (was: inconclusive)." in page
    assert "This build: 1 hold, 0 fail, 1 are inconclusive." in page
    assert "*Why inconclusive:* 1 of 1 intervals reach outside" in agreement.test + page
    # a report: the notice of the preset, then the summary table, then the details
    notice, summary, details = (
        page.index(k) for k in ("Built with the `smoke` preset", "## Summary", "## Details")
    )
    assert notice < summary < details
    assert (
        "| {doc}`setting` | it agrees | *inconclusive* | largest deviation 0; 0 of 1 inside | 0.05 | {ref}`figure <fig-x>` |"
        in page
    )
    assert "Holm" in page and "at most a 5% chance of any" in page
    assert findings.compare(record, old) == ["t-1: inconclusive -> holds (it keeps improving)"]


def test_degenerate_inputs_are_inconclusive_not_errors():
    say = dict(holds="h", fails="f", inconclusive="nothing to say")
    assert claims.ordering("o", [1, 2], [2, 1], statement="s", sentences=say).verdict == "inconclusive"
    nan = np.full(3, np.nan)
    claim = claims.coverage("c", nan, nan, nan, np.zeros(3), delta=0.1, statement="s", sentences=say)
    assert claim.verdict == "inconclusive" and claim.numbers["missing"] == 3


def test_without_wordings_a_claim_says_its_verdict_and_test():
    claim = claims.coverage("c", [0.5], [0.49], [0.51], [0.5], delta=0.05)
    assert claim.statement == "c" and claim.verdict == "holds"
    assert claim.sentence.startswith("c: **holds** (equivalence within ± 0.05")


def test_extra_numbers_reach_the_wording_but_never_replace_the_checks_own():
    say = dict(holds="{what}: {delta:g}", fails="f", inconclusive="i")
    claim = claims.coverage(
        "c", [0.5], [0.49], [0.51], [0.5], delta=0.05, sentences=say, extra=dict(what="W1")
    )
    assert claim.sentence == "W1: 0.05" and claim.numbers["what"] == "W1"
    with pytest.raises(ValueError, match="must not redefine"):
        claims.coverage("c", [0.5], [0.49], [0.51], [0.5], delta=0.05, sentences=say, extra=dict(delta=1))


def test_a_statement_is_filled_with_the_numbers():
    claim = claims.coverage("c", [0.5], [0.49], [0.51], [0.5], delta=0.05, statement="within {delta:g}")
    assert claim.statement == "within 0.05"


def test_an_exact_number_is_decided_by_its_sign_and_stays_out_of_the_family():
    say = dict(holds="up {value:g}", fails="down", inconclusive="zero: {reason}")
    assert claims.exact("e", 0.25, sentences=say).sentence == "up 0.25"
    assert claims.exact("e", -1e-9, sentences=say).verdict == "fails"
    zero = claims.exact("e", 0.0, sentences=say)
    assert zero.verdict == "inconclusive" and zero.p_value is None
    assert claims.exact("e", float("nan"), sentences=say).reason == "the value is not finite"
