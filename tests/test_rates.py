"""Rate fits: known slopes are recovered with honest intervals, the log correction works, errors are clear."""

import numpy as np
import pandas as pd
import pytest

from recursive_lib import rates
from recursive_lib.rates import burn_in_sensitivity, fit_slopes, needs_log_correction, summarize_slopes


def synthetic(
    a: float,
    seed: int,
    reps: int = 40,
    T: int = 150,
    m1: int = 50,
    m2: int = 50,
    C: float = 2.0,
    sigma: float = 0.3,
    log_factor: bool = False,
) -> pd.DataFrame:
    """Tidy results with ``err = C M_n^-a [log M_n] * LogNormal(0, sigma^2)``, independent noise per point."""
    rng = np.random.default_rng(seed)
    n = np.arange(1, T + 1)
    M = m1 + (n - 1) * (m1 + m2)
    err = C * M ** (-a) * (np.log(M) if log_factor else 1.0)
    noise = np.exp(sigma * rng.standard_normal((reps, T)))
    return pd.DataFrame(
        {
            "rep": np.repeat(np.arange(reps), T),
            "n": np.tile(n, reps),
            "M": np.tile(M, reps),
            "w1": (err * noise).ravel(),
        }
    )


@pytest.mark.slow
def test_recovers_known_slope_with_coverage():
    # 20 independent data sets: the 95% Student-t interval must cover the true slope in most of
    # them, and every estimate must sit within 4 standard errors of the truth. The t
    # interval over 40 repetitions covers 95% of the time (tests/test_intervals.py), so
    # P(fewer than 15 of 20) < 1%.
    a = 0.35
    covered = 0
    for seed in range(20):
        summary = summarize_slopes(fit_slopes(synthetic(a, seed), "w1", burn_in=30), seed=seed)
        row = summary.iloc[0]
        assert row["reps"] == 40
        assert abs(row["slope"] - a) < 4 * row["se"]
        covered += row["lo"] <= a <= row["hi"]
    assert covered >= 15


def test_per_rep_fit_is_ols_and_drops_burn_in():
    df = synthetic(0.5, seed=1, reps=3, T=40)
    slopes = fit_slopes(df, "w1", burn_in=10)
    assert list(slopes.columns) == ["rep", "slope", "intercept", "points"]
    assert (slopes["points"] == 30).all()
    for rep, row in slopes.set_index("rep").iterrows():
        kept = df[(df["rep"] == rep) & (df["n"] > 10)]
        coef, intercept = np.polyfit(np.log(kept["M"]), np.log(kept["w1"]), 1)
        assert row["slope"] == pytest.approx(-coef, rel=1e-10)
        assert row["intercept"] == pytest.approx(intercept, rel=1e-10)


def test_log_correction_recovers_exponent():
    df = synthetic(0.5, seed=2, sigma=0.0, log_factor=True)
    corrected = fit_slopes(df, "w1", burn_in=30, log_correction=True)
    assert np.allclose(corrected["slope"], 0.5, atol=1e-10)
    # Without the correction the log M factor biases the slope downwards.
    assert (fit_slopes(df, "w1", burn_in=30)["slope"] < 0.45).all()


def test_log_correction_by_column_and_groups():
    both = pd.concat(
        [
            synthetic(0.5, 3, sigma=0.0, log_factor=True).assign(alpha=0.5),
            synthetic(0.3, 3, sigma=0.0).assign(alpha=0.3),
        ],
        ignore_index=True,
    )
    both["at_boundary"] = needs_log_correction(0.5, both["alpha"].to_numpy())
    slopes = fit_slopes(both, "w1", burn_in=30, log_correction="at_boundary", by="alpha")
    summary = summarize_slopes(slopes, by="alpha")
    assert summary["alpha"].tolist() == [0.3, 0.5]
    assert np.allclose(summary["slope"], [0.3, 0.5], atol=1e-10)


def test_missing_configuration_values_form_their_own_group():
    df = pd.concat(
        [synthetic(0.3, 14, sigma=0.0).assign(q=np.nan), synthetic(0.2, 14, sigma=0.0).assign(q=0.25)],
        ignore_index=True,
    )
    summary = summarize_slopes(fit_slopes(df, "w1", by="q"), by="q", n_boot=10)
    assert len(summary) == 2
    assert np.allclose(summary.sort_values("slope")["slope"], [0.2, 0.3])


def test_regressor_n_gives_same_slope_when_M_proportional_to_n():
    df = synthetic(0.4, seed=4, sigma=0.0, m1=30, m2=0)  # M_n = 30 n
    assert np.allclose(fit_slopes(df, "w1", burn_in=5, x="n")["slope"], 0.4)


def test_summary_t_interval_and_seeded_bootstrap():
    from scipy import stats

    slopes = fit_slopes(synthetic(0.3, seed=5), "w1")
    t = summarize_slopes(slopes)
    se = slopes["slope"].std(ddof=1) / np.sqrt(len(slopes))
    half = stats.t.ppf(0.975, len(slopes) - 1) * se
    assert t["se"].item() == pytest.approx(se)
    assert (t["lo"].item(), t["hi"].item()) == pytest.approx(
        (t["slope"].item() - half, t["slope"].item() + half)
    )
    first = summarize_slopes(slopes, method="bootstrap", seed=7)
    pd.testing.assert_frame_equal(first, summarize_slopes(slopes, method="bootstrap", seed=7))
    other = summarize_slopes(slopes, method="bootstrap", seed=8)
    assert first["slope"].item() == other["slope"].item() == pytest.approx(t["slope"].item())
    assert first["lo"].item() != other["lo"].item()
    assert first["lo"].item() < first["slope"].item() < first["hi"].item()


def test_group_interval_does_not_depend_on_other_groups():
    df = pd.concat([synthetic(0.3, 6).assign(alpha=0.3), synthetic(0.5, 7).assign(alpha=0.5)])
    slopes = fit_slopes(df, "w1", by="alpha")
    alone = summarize_slopes(slopes[slopes["alpha"] == 0.5], by="alpha")
    together = summarize_slopes(slopes, by="alpha")
    pd.testing.assert_frame_equal(
        alone.reset_index(drop=True), together[together["alpha"] == 0.5].reset_index(drop=True)
    )


def test_burn_in_sensitivity_has_one_row_per_burn_in():
    out = burn_in_sensitivity(synthetic(0.3, 8), "w1", burn_ins=[0, 30, 100], n_boot=200)
    assert out["burn_in"].tolist() == [0, 30, 100]
    assert list(out.columns) == ["burn_in", "slope", "se", "lo", "hi", "reps"]
    assert np.allclose(out["slope"], 0.3, atol=0.05)


def test_needs_log_correction():
    assert needs_log_correction(0.5, 0.5) is True
    assert needs_log_correction(0.5, 0.5 + 1e-12) is True
    assert needs_log_correction(0.5, 0.4) is False
    assert needs_log_correction(0.5, np.array([0.1, 0.5])).tolist() == [False, True]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(metric="tv"), "metric must name a column"),
        (dict(x="Mn"), "x must name a column"),
        (dict(by="estimator"), "by must name a column"),
        (dict(burn_in=148), "burn_in=148 leaves only 2"),
        (dict(burn_in=500), "burn_in=500 drops every iteration"),
        (dict(burn_in=-1), "burn_in must be an integer >= 0"),
        (dict(log_correction="missing"), "log_correction must name a column"),
    ],
)
def test_fit_slopes_errors(kwargs, match):
    df = synthetic(0.3, 9, reps=2)
    with pytest.raises(ValueError, match=match):
        fit_slopes(df, **{"metric": "w1", **kwargs})


def test_fit_slopes_refuses_pooled_configurations():
    df = pd.concat([synthetic(0.3, 10).assign(alpha=0.3), synthetic(0.5, 11).assign(alpha=0.5)])
    with pytest.raises(ValueError, match="by must name every configuration column"):
        fit_slopes(df, "w1")


def test_fit_slopes_refuses_non_positive_errors():
    df = synthetic(0.3, 12, reps=2)
    df.loc[df.index[-1], "w1"] = 0.0
    with pytest.raises(ValueError, match="must be finite and > 0"):
        fit_slopes(df, "w1")


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(confidence=1.0), r"confidence must be in \(0, 1\)"),
        (dict(confidence=0.0), r"confidence must be in \(0, 1\)"),
        (dict(n_boot=0), "n_boot must be an integer >= 1"),
        (dict(by="alpha"), "by must name a column"),
    ],
)
def test_summarize_errors(kwargs, match):
    slopes = fit_slopes(synthetic(0.3, 13, reps=3), "w1")
    with pytest.raises(ValueError, match=match):
        summarize_slopes(slopes, **kwargs)


def test_min_rule_gaps_add_the_baseline_uncertainty_where_the_prediction_is_p_hat():
    from scipy import stats

    from recursive_lib.rates import min_rule_gaps

    summary = pd.DataFrame(
        dict(alpha=[0.25, 0.75, 1.0], slope=[0.3, 0.5, 0.55], se=[0.03, 0.04, 0.02], reps=[6, 6, 6])
    )
    gaps = min_rule_gaps(summary, dict(slope=0.5, se=0.02)).set_index("alpha")
    assert list(gaps.index) == [0.25, 0.75]  # the baseline itself is not a cell
    q = stats.t.ppf(0.975, 5)
    # below p_hat the prediction is alpha, known exactly; above it, p_hat with its error
    assert gaps.loc[0.25, "gap"] == pytest.approx(0.05)
    assert gaps.loc[0.25, "hi"] - gaps.loc[0.25, "gap"] == pytest.approx(q * 0.03)
    assert gaps.loc[0.75, "gap"] == pytest.approx(0.0)
    assert gaps.loc[0.75, "hi"] - gaps.loc[0.75, "gap"] == pytest.approx(q * np.hypot(0.04, 0.02))
    one = min_rule_gaps(summary.assign(se=np.nan, reps=1), dict(slope=0.5, se=np.nan))
    assert one["lo"].isna().all() and one["gap"].notna().all()


def test_mean_interval_is_the_t_interval_as_sign_arguments():
    values = [0.1, 0.3, 0.2, 0.4]
    mean, _, lo, hi, n = rates.t_interval(values)
    assert rates.mean_interval(values) == dict(estimate=mean, lo=lo, hi=hi, df=n - 1)
    one = rates.mean_interval([0.5, np.nan])
    assert one["estimate"] == 0.5 and np.isnan(one["lo"]) and np.isnan(one["df"])
    assert all(np.isnan(v) for v in rates.mean_interval([]).values())


def test_rep_mean_summary_takes_the_repetition_as_its_unit():
    frame = pd.DataFrame(
        dict(alpha=[0.5] * 6, rep=[0, 0, 1, 1, 2, 2], n=[1, 2] * 3, ratio=[1.0, 3.0, 2.0, 2.0, 4.0, np.nan])
    )
    out = rates.rep_mean_summary(frame, "ratio", by=["alpha"])
    mean, se, lo, hi, n = rates.t_interval([2.0, 2.0, 4.0])
    row = out.iloc[0]
    assert list(out.columns) == ["alpha", "mean", "reps", "se", "lo", "hi"]
    assert row["reps"] == n == 3
    assert np.allclose([row["mean"], row["se"], row["lo"], row["hi"]], [mean, se, lo, hi])


def test_zones_sort_a_grid_around_the_tie():
    p = [0.3, 0.3, 0.3, 0.3, 0.3]
    alpha = [0.1, 0.2, 0.3, 0.4, 0.6]
    assert list(rates.zones(p, alpha)) == [
        "data-limited",
        "next to the tie",
        "tie",
        "next to the tie",
        "model-limited",
    ]
    assert list(rates.zones([0.5], [0.5])) == ["tie"]


def test_miss_counts_by_side_of_the_tie():
    summary = pd.DataFrame(
        dict(
            p=[0.5] * 4,
            alpha=[0.2, 0.3, 0.5, 0.8],
            lo=[0.1, 0.35, 0.3, 0.4],
            hi=[0.3, 0.4, 0.45, 0.6],
            predicted=[0.2, 0.3, 0.5, 0.5],
        )
    )
    assert rates.miss_counts(summary) == dict(data_limited=1, model_limited=0, tie=1)
