"""Neural and multivariate estimators, 2-D truths, sample metrics, the batched quantile engine and
the protocol for unknown baseline rates."""

import numpy as np
import ot
import pandas as pd
import pytest

from recursive_lib.data import MIXTURE_2D, MOONS, PAPER_TRUTH, MixtureND, dimension
from recursive_lib.estimators import GMM, Flow, QuantileSampler, make_estimator
from recursive_lib.loops.ensemble import run_batched
from recursive_lib.loops.reference import run_reference
from recursive_lib.metrics import mmd2_unbiased, w1_points
from recursive_lib.rates import baseline_rate, check_min_rule
from recursive_lib.simulation import simulate

TINY = dict(epochs=3, n_eval=500)


def test_batched_ensemble_equals_sequential_training_on_the_same_streams():
    """Each repetition draws the same random numbers in both paths: equal up to rounding."""
    grid = PAPER_TRUTH.grid(60)
    seeds = np.random.SeedSequence(3).spawn(4)
    batched = run_batched(
        QuantileSampler(**TINY), 0.5, 20, 3, PAPER_TRUTH, grid, [np.random.default_rng(s) for s in seeds]
    )
    for r, s in enumerate(seeds):
        ref = run_reference(QuantileSampler(**TINY), 0.5, 20, 3, PAPER_TRUTH, grid, np.random.default_rng(s))
        for key in ("w1", "mmd", "mean", "var"):
            np.testing.assert_allclose(batched[key][r], ref[key], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("truth, grid", [(MOONS, None), (PAPER_TRUTH, PAPER_TRUTH.grid(60))])
def test_flow_ensemble_equals_sequential_flows_on_the_same_streams(truth, grid):
    """The flows of an ensemble (torch.func over stacked zuko modules) are the lone flows, exactly."""
    tiny = dict(steps=8, n_eval=200)
    seeds = np.random.SeedSequence(5).spawn(3)
    batched = run_batched(
        Flow(**tiny),
        0.5,
        15,
        2,
        truth,
        grid,
        [np.random.default_rng(s) for s in seeds],
        metric_samples=150,
    )
    for r, s in enumerate(seeds):
        ref = run_reference(
            Flow(**tiny), 0.5, 15, 2, truth, grid, np.random.default_rng(s), metric_samples=150
        )
        for key in ("w1", "mmd", "mean", "var"):
            np.testing.assert_allclose(batched[key][r], ref[key], rtol=1e-5, atol=1e-6)
    fast = simulate(
        estimator="flow",
        alpha=0.5,
        m1=15,
        T=1,
        reps=1,
        truth=MOONS,
        metric_samples=150,
        estimator_params=tiny,
    )
    assert fast.engine.iloc[0] == "fast"
    with pytest.raises(ValueError, match="estimator"):
        run_batched(GMM(), 0.5, 15, 1, truth, grid, [np.random.default_rng(0)])


@pytest.mark.slow
def test_batched_and_sequential_agree_statistically_on_independent_streams():
    """simulate's two engines use different streams; their mean errors agree within noise."""
    kw = dict(
        alpha=0.5, m1=40, T=3, reps=12, seed=1, grid_size=100, estimator_params=dict(epochs=10, n_eval=2000)
    )
    fast = simulate(estimator="quantile", engine="fast", **kw)
    ref = simulate(estimator="quantile", engine="reference", **kw)
    a, b = (df[df.n == 3].w1.to_numpy() for df in (fast, ref))
    se = np.sqrt(a.var(ddof=1) / a.size + b.var(ddof=1) / b.size)
    assert abs(a.mean() - b.mean()) < 4 * se + 1e-3
    assert (fast.engine == "fast").all() and (ref.engine == "reference").all()


def test_quantile_sampler_is_seeded_and_sklearn_shaped():
    x = PAPER_TRUTH.sample(300, np.random.default_rng(0))
    a = QuantileSampler(**TINY, random_state=7).fit(x)
    b = QuantileSampler(**TINY, random_state=7).fit(x)
    np.testing.assert_array_equal(
        a.sample(50, np.random.default_rng(1)), b.sample(50, np.random.default_rng(1))
    )
    assert a.cdf(np.array([-100.0, 100.0])).tolist() == [0.0, 1.0]
    with pytest.raises(ValueError, match="epochs must be an integer >= 1"):
        QuantileSampler(epochs=0).fit(x)


def test_quantile_simulate_is_reproducible_and_columns_match():
    kw = dict(alpha=0.5, m1=20, T=2, reps=2, seed=4, grid_size=50, estimator_params=TINY)
    a = simulate(estimator="quantile", **kw)
    pd.testing.assert_frame_equal(a, simulate(estimator="quantile", **kw))
    assert list(a.columns[:7]) == ["rep", "n", "M", "w1", "mmd", "mean", "var"]
    with pytest.raises(ValueError, match="estimator_params for 'quantile' must be among"):
        simulate(estimator="quantile", estimator_params=dict(nonsense=1), T=1, reps=1)


def test_gmm_one_and_two_dimensions():
    rng = np.random.default_rng(0)
    x = PAPER_TRUTH.sample(4000, rng)
    g = GMM(random_state=0).fit(x)
    grid = PAPER_TRUTH.grid(400)
    assert np.abs(g.cdf(grid) - PAPER_TRUTH.cdf(grid)).max() < 0.03
    assert abs(g.mean_ - PAPER_TRUTH.mean) < 0.1 and abs(g.var_ - PAPER_TRUTH.var) < 0.3
    assert np.trapezoid(g.pdf(grid), grid) == pytest.approx(1.0, abs=1e-3)
    g2 = GMM(random_state=0).fit(MIXTURE_2D.sample(4000, rng))
    assert g2.sample(10, rng).shape == (10, 2)
    assert abs(g2.var_ - MIXTURE_2D.var) < 0.3
    assert GMM(n_components="bic", max_components=3, random_state=0).fit(x).model_.n_components >= 2


def test_flow_is_seeded_and_two_dimensional():
    x = MOONS.sample(200, np.random.default_rng(0))
    a = Flow(steps=5, n_eval=100, random_state=3).fit(x)
    b = Flow(steps=5, n_eval=100, random_state=3).fit(x)
    np.testing.assert_array_equal(
        a.sample(20, np.random.default_rng(1)), b.sample(20, np.random.default_rng(1))
    )
    assert a.sample(20, np.random.default_rng(1)).shape == (20, 2)


def test_two_dimensional_truths():
    assert dimension(MOONS) == dimension(MIXTURE_2D) == 2 and dimension(PAPER_TRUTH) == 1
    x = MOONS.sample(200_000, np.random.default_rng(0))
    assert x.mean(0) == pytest.approx([0.5, 0.25], abs=0.01)
    assert x.var(0).sum() == pytest.approx(MOONS.var, rel=0.01)
    y = MIXTURE_2D.sample(200_000, np.random.default_rng(1))
    assert y[:, 0].mean() == pytest.approx(MIXTURE_2D.mean, abs=0.02)
    assert y.var(0).sum() == pytest.approx(MIXTURE_2D.var, rel=0.01)
    assert "MixtureND(weights=[0.35, 0.65]" in repr(MIXTURE_2D)
    with pytest.raises(ValueError, match="means and sds must have shape"):
        MixtureND([1.0], [[0.0]], [[1.0]])


def test_sample_metrics():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=300), rng.normal(1.0, 1.0, size=400)
    assert w1_points(x, y) == pytest.approx(ot.wasserstein_1d(x, y, p=1), rel=1e-6)
    big_x, big_y = rng.normal(size=(3000, 2)), rng.normal(size=(3000, 2)) + [1.0, 0.0]
    assert 0.3 < w1_points(big_x, big_y) < 1.0  # sliced: an average of projected shifts
    same = [mmd2_unbiased(rng.normal(size=(200, 2)), rng.normal(size=(200, 2))) for _ in range(30)]
    assert abs(np.mean(same)) < 3 * np.std(same) / np.sqrt(30) + 1e-3
    assert mmd2_unbiased(big_x[:500], big_y[:500]) > 0.02


def test_simulate_routes_multivariate_truths_to_the_reference_loop():
    df = simulate(estimator="gmm", alpha=0.5, m1=40, T=3, reps=2, truth=MIXTURE_2D, metric_samples=200)
    assert (df.engine == "reference").all() and len(df) == 6
    assert np.isfinite(df[["w1", "mmd", "mean", "var"]].to_numpy()).all()
    with pytest.raises(ValueError, match=r"estimator \(multivariate truth\) must be one of 'gmm', 'flow'"):
        simulate(estimator="ecdf", truth=MOONS, T=1, reps=1)
    one_d = simulate(estimator="gmm", alpha=0.5, m1=40, T=2, reps=1, grid_size=50)
    assert (one_d.engine == "reference").all()


def test_baseline_rate_and_min_rule():
    rng = np.random.default_rng(0)
    rows = []
    for alpha, rate in ((1.0, 0.5), (0.5, 0.5), (0.2, 0.2)):
        for rep in range(20):
            M = np.arange(1, 60) * 100.0
            # a random level per repetition, exact power law within it: intervals must cover
            w1 = M**-rate * np.exp(0.3 * rng.standard_normal() + 1e-6 * rng.standard_normal(M.size))
            rows.append(pd.DataFrame(dict(alpha=alpha, rep=rep, n=np.arange(1, 60), M=M, w1=w1)))
    df = pd.concat(rows, ignore_index=True)
    base = baseline_rate(df, burn_in=5).iloc[0]
    assert base.lo - 1e-4 < 0.5 < base.hi + 1e-4
    from recursive_lib.rates import fit_slopes, summarize_slopes

    summary = summarize_slopes(fit_slopes(df, burn_in=5, by="alpha"), by="alpha")
    out = check_min_rule(summary, base, alphas=[0.1, 0.2, 0.5, 1.0])
    assert out.value.tolist() == pytest.approx([0.1, 0.2, base.slope, base.slope])
    assert out.dropna().consistent.all() and out.slope.isna().sum() == 1
    with pytest.raises(ValueError, match="alpha = 1"):
        baseline_rate(df[df.alpha < 1])


def test_min_rule_gaps_keep_a_cell_without_a_slope_and_add_the_baseline_uncertainty():
    from scipy import stats

    from recursive_lib.rates import min_rule_gaps

    summary = pd.DataFrame(
        dict(
            alpha=[0.2, 0.5, 0.8, 1.0],
            slope=[0.25, 0.45, np.nan, 0.4],
            se=[0.01, 0.02, np.nan, 0.03],
            lo=0.0,
            hi=1.0,
            reps=5,
        )
    )
    base = summary.set_index("alpha").loc[1.0]
    gaps = min_rule_gaps(summary, base)
    # alpha = 1 is the baseline, not a cell; the cell without a slope stays, without an interval
    assert gaps.alpha.tolist() == [0.2, 0.5, 0.8] and gaps.iloc[2][["gap", "lo", "hi"]].isna().all()
    gaps = gaps.iloc[:2]
    assert gaps.gap.tolist() == pytest.approx([0.05, 0.05])
    # at 0.2 the prediction is alpha (exact); at 0.5 > p_hat it is p_hat, whose se adds
    assert gaps.se.tolist() == pytest.approx([0.01, np.hypot(0.02, 0.03)])
    half = stats.t.ppf(0.975, 4) * gaps.se
    assert (gaps.hi - gaps.gap).tolist() == pytest.approx(half.tolist())


def test_registry_knows_the_new_families():
    for name in ("quantile", "gmm", "flow"):
        assert "random_state" in make_estimator(name).get_params()


def test_sample_trajectory_is_tidy_and_seeded():
    from recursive_lib.experiments.paths import sample_trajectory

    a = sample_trajectory("gmm", 0.5, 30, [1, 3], MIXTURE_2D, seed=2, n_show=50)
    assert list(a.columns) == ["n", "x", "y", "alpha"] and sorted(a.n.unique()) == [0, 1, 3]
    pd.testing.assert_frame_equal(a, sample_trajectory("gmm", 0.5, 30, [1, 3], MIXTURE_2D, seed=2, n_show=50))
    one_d = sample_trajectory("gmm", 1.0, 30, [2], PAPER_TRUTH, n_show=40)
    assert one_d.groupby("n").y.apply(lambda u: bool(np.all(np.diff(u) > 0))).all()


def test_batched_engine_only_for_the_unbiased_accumulate_regime():
    kw = dict(alpha=0.5, m1=10, T=2, reps=1, grid_size=50, estimator_params=dict(epochs=2, n_eval=200))
    assert simulate(estimator="quantile", **kw).engine.iloc[0] == "fast"
    assert simulate(estimator="quantile", regime="replace", **kw).engine.iloc[0] == "reference"
