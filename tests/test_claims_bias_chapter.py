"""The additions the bias chapter's claims rest on: the ECDF's predicted error under bias, the
finite-window slopes of the predictions, the Welch difference of two final errors, and the slope
chart with finite-horizon markers."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from recursive_lib import plots, rates, simulate, theory
from recursive_lib.data import PAPER_TRUTH
from recursive_lib.data.contamination import BiasSchedule
from recursive_lib.experiments import bias
from recursive_lib.loops.regimes import synthetic_count

ECDF_BIAS = dict(scale=0.1, mean=2.0, sd=1.0, offset=5.0)


def test_ecdf_bias_w1_without_bias_is_the_gaussian_approximation():
    schedule = BiasSchedule(rate=0.5, **dict(ECDF_BIAS, scale=1e-12))
    got = theory.ecdf_bias_w1(schedule, 0.5, 50, 40, grid_size=200)
    grid = PAPER_TRUTH.grid(200)
    want = theory.ecdf_w1_gaussian(PAPER_TRUTH, grid, 50, synthetic_count(0.5, 50), 40)
    np.testing.assert_allclose(got["value"], want, rtol=1e-6)
    assert list(got.columns) == ["n", "value", "floor"] and got["n"].tolist() == list(range(1, 41))


def test_ecdf_bias_w1_floor_is_the_floor_curve_and_a_lower_bound():
    schedule = BiasSchedule(rate=0.25, **ECDF_BIAS)
    got = theory.ecdf_bias_w1(schedule, 0.25, 50, 60, grid_size=200)
    floor = theory.floor_curve(schedule, 0.25, 50, 60, grid_size=200)["value"]
    np.testing.assert_allclose(got["floor"], floor, rtol=1e-12)
    assert np.all(got["value"] >= got["floor"])


@pytest.mark.parametrize(("alpha", "q"), [(0.5, 0.25), (0.25, 0.75)])
def test_ecdf_bias_w1_matches_simulation(alpha, q):
    # Mean and variance are exact; the Gaussian shape is within a few per cent for m1 = 50.
    runs = simulate(
        estimator="ecdf",
        alpha=alpha,
        m1=50,
        T=30,
        reps=600,
        seed=3,
        bias=dict(ECDF_BIAS, rate=q),
        grid_size=200,
    )
    simulated = runs.groupby("n")["w1"].mean().to_numpy()
    predicted = theory.ecdf_bias_w1(BiasSchedule(rate=q, **ECDF_BIAS), alpha, 50, 30, 200)["value"]
    np.testing.assert_allclose(simulated, predicted, rtol=0.05)


def test_horizon_slopes_fit_the_predictions_like_the_simulation():
    designs = bias.check_designs("designs", "paper")
    got = bias.horizon_slopes(
        designs, ["ecdf", "kde"], [0.25, 0.75], [0.5], 0.5, 50, 400, 40, correction=(False, True)
    )
    assert len(got) == 2 * 2 * 2 * 2
    key = ["estimator", "metric", "alpha", "bias_rate", "bias_correction"]
    assert not got.duplicated(key).any()
    # floor: the same for both metrics, none when corrected; exact: every MMD, and the ECDF's W1
    assert got.loc[got.bias_correction, "floor"].isna().all()
    assert got.loc[~got.bias_correction, "floor"].notna().all()
    assert got.loc[(got.estimator == "kde") & (got.metric == "w1"), "exact"].isna().all()
    assert got.loc[(got.estimator == "ecdf") | (got.metric == "mmd"), "exact"].notna().all()
    row = got[(got.estimator == "kde") & (got.metric == "mmd") & (got.alpha == 0.25) & ~got.bias_correction]
    curve = theory.expected_mmd2(
        "kde",
        0.25,
        50,
        400,
        bandwidth=2.0 * np.arange(1, 401) ** -0.5,
        bias=BiasSchedule(rate=0.5, **designs["kde"]["bias"]),
    )
    frame = curve.assign(rep=0)
    want = rates.fit_slopes(frame, "rms", burn_in=40)["slope"].iloc[0]
    assert row["exact"].iloc[0] == pytest.approx(want, rel=1e-12)
    row = got[(got.estimator == "kde") & (got.alpha == 0.75) & ~got.bias_correction].iloc[0]
    schedule = BiasSchedule(rate=0.5, **designs["kde"]["bias"])
    curve = theory.floor_curve(schedule, 0.75, 50, 400, grid_size=designs["kde"]["grid_size"])
    frame = curve.assign(rep=0, M=theory.pool_sizes(50, synthetic_count(0.75, 50), 400))
    want = rates.fit_slopes(frame, "value", burn_in=40)["slope"].iloc[0]
    assert row["floor"] == pytest.approx(want, rel=1e-12)


@pytest.mark.slow
def test_the_floor_approaches_its_exponent_from_below():
    # eq-bias-transient: the slower term is positive, the faster one subtracted.
    designs = bias.check_designs("designs", "paper")
    got = bias.horizon_slopes(designs, ["ecdf"], [0.25, 0.5, 0.75], [0.25, 0.5, 0.75], 0.5, 50, 1000, 100)
    got = got[got.metric == "w1"]
    plain = ~rates.needs_log_correction(0.5, got["alpha"], got["bias_rate"])
    below = got["floor"] < np.minimum(got["alpha"], got["bias_rate"])
    assert below[plain].all()


def test_last_difference_is_welch():
    rng = np.random.default_rng(0)
    a, b = rng.normal(1.0, 1.0, 8), rng.normal(0.0, 2.0, 12)
    frames = [
        pd.DataFrame({"g": "x", "n": [1, 5][i], "rep": range(len(v)), "y": v}) for v in (a, b) for i in (0, 1)
    ]
    first = rates.curve_summary(pd.concat(frames[:2]).assign(y=lambda d: d["y"] + d["n"]), "y", by=["g"])
    second = rates.curve_summary(pd.concat(frames[2:]).assign(y=lambda d: d["y"] + d["n"]), "y", by=["g"])
    got = rates.last_difference(first, second, by=["g"]).iloc[0]
    welch = stats.ttest_ind(a, b, equal_var=False)
    want = welch.confidence_interval(0.95)
    assert got["n"] == 5 and got["estimate"] == pytest.approx(a.mean() - b.mean())
    assert (got["lo"], got["hi"]) == pytest.approx((want.low, want.high))
    assert got["df"] == pytest.approx(welch.df)


def test_slopes_with_horizon_draws_and_checks_its_columns():
    summary = pd.DataFrame(
        {
            "bias_rate": [0.25, 0.5],
            "alpha": [0.5, 0.5],
            "estimator": "ecdf",
            "metric": "w1",
            "slope": [0.2, 0.4],
            "lo": [0.1, 0.3],
            "hi": [0.3, 0.5],
            "predicted": [0.25, 0.5],
            "floor": [0.18, np.nan],
        }
    )
    spec = plots.slopes_with_horizon(summary, {"floor": "bias floor"}).to_dict()
    assert "facet" in spec
    with pytest.raises(ValueError, match="summary needs column 'exact'"):
        plots.slopes_with_horizon(summary, {"exact": "ECDF"})


def test_plateau_levels_give_the_floor_and_the_ecdf_prediction_at_the_last_iteration():
    got = bias.plateau_levels(bias.PAPER_DESIGNS, ["ecdf", "kde"], [0.25, 0.5], 50, 30)
    assert list(got.columns) == ["estimator", "alpha", "floor", "expected"] and len(got) == 4
    ecdf = BiasSchedule(rate=0.0, **bias.PAPER_DESIGNS["ecdf"]["bias"])
    want = theory.ecdf_bias_w1(ecdf, 0.5, 50, 30, grid_size=200).iloc[-1]
    row = got[(got.estimator == "ecdf") & (got.alpha == 0.5)].iloc[0]
    np.testing.assert_allclose([row["floor"], row["expected"]], [want["floor"], want["value"]], rtol=1e-12)
    kde = got[got.estimator == "kde"]
    assert kde["expected"].isna().all() and (kde["floor"] > 0).all()
    # the floor is a lower bound; under a constant bias it is the same plateau at every alpha
    assert (got.loc[got.estimator == "ecdf", "expected"] > got.loc[got.estimator == "ecdf", "floor"]).all()
    np.testing.assert_allclose(kde["floor"], kde["floor"].iloc[0], rtol=1e-9)
