"""Regimes (accumulate, fresh, replace, accumulate-initial), the Gaussian MLE and the exact collapse results."""

import numpy as np
import pytest

from recursive_lib import simulate, theory
from recursive_lib.data import Mixture1D
from recursive_lib.estimators import Gaussian, make_estimator
from recursive_lib.loops.regimes import REGIMES, batch_sizes, size_name, training_sizes
from recursive_lib.simulation import Config

NORMAL = Mixture1D([1.0], [0.0], [1.0])


def test_batch_and_training_sizes():
    assert batch_sizes("accumulate", 0.25, 10) == (10, 10, 30)
    assert batch_sizes("fresh", 0.3, m_total=10) == (10, 3, 7)
    assert batch_sizes("fresh", 0.0, m_total=10) == (10, 0, 10)
    assert batch_sizes("replace", 0.0, m_total=10) == (10, 0, 10)
    assert batch_sizes("accumulate-initial", 0.5, 10) == (10, 0, 10)
    np.testing.assert_array_equal(training_sizes("accumulate", 0.25, 10, 3), [10, 50, 90])
    np.testing.assert_array_equal(training_sizes("accumulate-initial", 0.5, 10, 3), [10, 20, 30])
    np.testing.assert_array_equal(training_sizes("fresh", 0.5, None, 3, m_total=10), [10, 10, 10])
    with pytest.raises(ValueError, match=r"alpha must be in \(0, 1\]"):
        batch_sizes("accumulate", 0.0, 10)
    with pytest.raises(ValueError, match=r"alpha \(regime 'replace'\) must be in \[0, 1\]"):
        batch_sizes("replace", 1.5, m_total=10)


def test_each_regime_takes_its_own_size_and_names_the_other():
    """m1 (real points per iteration) for the accumulating regimes, m_total (the whole batch) for
    fresh and replace: the wrong one is an error that names both, in the loops and in Config."""
    with pytest.raises(ValueError, match="regime 'fresh' takes m_total .*, not m1 .*; got m1 = 10"):
        batch_sizes("fresh", 0.5, 10)
    with pytest.raises(ValueError, match="regime 'accumulate' takes m1 .*, not m_total"):
        batch_sizes("accumulate", 0.5, m_total=10)
    with pytest.raises(ValueError, match="regime 'replace' needs m_total"):
        batch_sizes("replace", 0.0)
    with pytest.raises(ValueError, match="regime 'replace' takes m_total"):
        Config(regime="replace", alpha=0.0, m1=20)
    with pytest.raises(ValueError, match="m_total must be an integer >= 1"):
        Config(regime="fresh", m_total=0)
    fresh = Config(regime="fresh", m_total=20)
    assert (fresh.m1, fresh.m_total, fresh.m2) == (None, 20, 10)
    assert (Config(regime="replace").m_total, Config().m1, Config().m_total) == (50, 50, None)
    assert "m_total" in fresh.columns() and "m1" not in fresh.columns()


@pytest.mark.parametrize("engine", ["fast", "reference"])
@pytest.mark.parametrize("regime", REGIMES)
@pytest.mark.parametrize("estimator", ["ecdf", "kde"])
def test_every_regime_runs_on_both_engines(estimator, regime, engine):
    alpha = 0.0 if regime == "replace" else 0.5
    df = simulate(
        estimator=estimator,
        alpha=alpha,
        **{size_name(regime): 10},
        T=5,
        reps=2,
        seed=0,
        grid_size=40,
        regime=regime,
        engine=engine,
    )
    assert (df.engine == engine).all() and (df.regime == regime).all()
    sizes = {"m1": None, "m_total": None, size_name(regime): 10}
    np.testing.assert_array_equal(
        df[df.rep == 0].M, training_sizes(regime, alpha, sizes["m1"], 5, m_total=sizes["m_total"])
    )
    assert np.isfinite(df[["w1", "mmd", "mean", "var"]].to_numpy()).all()
    assert (df.w1 > 0).all() and (df.mmd > 0).all() and (df["var"] > 0).all()


@pytest.mark.slow
@pytest.mark.parametrize(("engine", "reps"), [("fast", 1200), ("reference", 400)])
def test_ecdf_identities_of_the_closed_loops(engine, reps):
    """Exact in expectation for the ECDF, both engines: under replace the fitted variance shrinks
    by (m - 1) / m per generation, E[var_n | var_1] = ((m - 1) / m)^(n - 1) var_1; under
    accumulate-initial the fitted mean is a martingale, E[mean_n | mean_1] = mean_1. Each
    difference has mean zero; tolerance 4 standard errors over repetitions."""
    m, T = 10, 6
    kw = dict(estimator="ecdf", T=T, reps=reps, seed=1, grid_size=400, engine=engine)
    replace = simulate(regime="replace", alpha=0.0, m_total=m, **kw)
    first, last = (replace[replace.n == n].sort_values("rep")["var"].to_numpy() for n in (1, T))
    d = last - ((m - 1) / m) ** (T - 1) * first
    assert abs(d.mean()) < 4 * d.std(ddof=1) / np.sqrt(reps)
    assert last.mean() < 0.8 * first.mean()  # and it does shrink: (0.9)^5 = 0.59
    initial = simulate(regime="accumulate-initial", alpha=0.5, m1=m, **kw)
    first, last = (initial[initial.n == n].sort_values("rep")["mean"].to_numpy() for n in (1, T))
    d = last - first
    assert abs(d.mean()) < 4 * d.std(ddof=1) / np.sqrt(reps)


def test_gaussian_estimator():
    rng = np.random.default_rng(0)
    x = rng.normal(2.0, 3.0, 50_000)
    fit = make_estimator("gaussian").fit(x)
    assert isinstance(fit, Gaussian)
    assert fit.mean_ == pytest.approx(x.mean()) and fit.var_ == pytest.approx(x.var())
    draws = fit.sample(100_000, rng)
    assert abs(draws.mean() - fit.mean_) < 4 * np.sqrt(fit.var_ / draws.size)
    grid = np.linspace(-10, 14, 2001)
    assert np.trapezoid(fit.pdf(grid), grid) == pytest.approx(1.0, abs=1e-4)
    assert fit.cdf(np.array([fit.mean_]))[0] == pytest.approx(0.5)
    weighted = Gaussian().fit(np.array([0.0, 1.0]), weights=np.array([3.0, 1.0]))
    assert weighted.mean_ == pytest.approx(0.25) and weighted.var_ == pytest.approx(0.1875)


@pytest.mark.slow
def test_gaussian_replace_variance_is_exact():
    """E[s_n^2] = sigma^2 ((m - 1)/m)^n under replace, within 4 standard errors at every n."""
    m, T, reps = 10, 8, 4000
    df = simulate(
        estimator="gaussian",
        alpha=0.0,
        m_total=m,
        T=T,
        reps=reps,
        seed=3,
        grid_size=30,
        regime="replace",
        truth=NORMAL,
    )
    g = df.groupby("n")["var"]
    exact = theory.gaussian_replace_variance(1.0, m, T)
    se = g.std().to_numpy() / np.sqrt(reps)
    assert np.all(np.abs(g.mean().to_numpy() - exact) < 4 * se), (g.mean().to_numpy(), exact)
    assert exact[-1] < 0.45  # collapse: the variance shrinks geometrically


@pytest.mark.slow
def test_gaussian_accumulate_initial_mean_error_is_bounded():
    """E (mu_hat_n - mu)^2 stays between sigma^2 / m1 (never corrected) and the pi^2/6 bound."""
    m1, T, reps = 20, 40, 3000
    df = simulate(
        estimator="gaussian",
        alpha=0.5,
        m1=m1,
        T=T,
        reps=reps,
        seed=4,
        grid_size=30,
        regime="accumulate-initial",
        truth=NORMAL,
    )
    sq = df.assign(sq=df["mean"] ** 2).groupby("n")["sq"]
    mse, se = sq.mean().to_numpy(), sq.std().to_numpy() / np.sqrt(reps)
    bound = theory.gaussian_initial_mean_mse(1.0, m1, m1, T)
    assert np.all(mse <= bound + 4 * se)
    assert mse[-1] >= 1.0 / m1 - 4 * se[-1]
    assert bound[-1] < np.pi**2 / 6 / m1 and bound[-1] > 0.95 * np.pi**2 / 6 / m1


@pytest.mark.slow
@pytest.mark.parametrize("estimator", ["ecdf", "kde"])
@pytest.mark.parametrize("regime, alpha", [("fresh", 0.5), ("replace", 0.0), ("accumulate-initial", 0.5)])
def test_fast_engine_agrees_with_reference_in_every_regime(estimator, regime, alpha):
    """Mean W1, MMD, mean and var agree within 4 combined standard errors at n = 1, 4, 12."""
    kw = dict(alpha=alpha, T=12, seed=8, grid_size=100, regime=regime, **{size_name(regime): 30})
    stats = ["w1", "mmd", "mean", "var"]
    reps = 120
    fast = simulate(estimator=estimator, reps=4 * reps, engine="fast", **kw).groupby("n")[stats]
    ref = simulate(estimator=estimator, reps=reps, engine="reference", **kw).groupby("n")[stats]
    at = [1, 4, 12]
    diff = (fast.mean() - ref.mean()).loc[at]
    tol = 4 * np.sqrt(fast.std() ** 2 / (4 * reps) + ref.std() ** 2 / reps).loc[at]
    assert (diff.abs() <= tol).all().all(), f"\n{diff.abs()}\n{tol}"


def test_ecdf_replace_support_theory():
    support = theory.ecdf_replace_support(4, 60)
    assert support[0] == 4
    assert support[1] == pytest.approx(4 * (1 - (3 / 4) ** 4))  # distinct of 4 draws from 4
    assert np.all(np.diff(support) <= 1e-12) and support[-1] == pytest.approx(1.0, abs=1e-3)
    assert theory.ecdf_replace_support(1, 3).tolist() == [1.0, 1.0, 1.0]


def test_ecdf_support_under_replace_follows_the_wright_fisher_expectation():
    from recursive_lib.data import PAPER_TRUTH
    from recursive_lib.experiments.paths import ecdf_support

    m, T, reps = 20, 40, 300
    frame = ecdf_support("replace", 0.0, m, T, reps, PAPER_TRUTH, seed=1)
    per_n = frame.groupby("n")["distinct"].agg(["mean", "sem"])
    exact = theory.ecdf_replace_support(m, T)
    z = (per_n["mean"].to_numpy() - exact) / np.maximum(per_n["sem"].to_numpy(), 1e-12)
    assert np.all(np.abs(z[1:]) < 4.5)  # 39 comparisons: 4.5 se keeps the family at 1e-3
    assert per_n["mean"].iloc[0] == m
    # fresh keeps new real points coming: more distinct support and wider coverage than replace
    fresh = ecdf_support("fresh", 0.5, m, T, reps, PAPER_TRUTH, seed=1)

    def late(f, col):
        return f[f.n > T // 2][col].mean()

    assert late(fresh, "distinct") > late(frame, "distinct") + 5
    assert late(fresh, "coverage") > late(frame, "coverage")
    with pytest.raises(ValueError, match="regime"):
        ecdf_support("accumulate", 0.5, m, T, reps, PAPER_TRUTH)


@pytest.mark.parametrize(
    "name, params", [("quantile", dict(epochs=2, n_eval=200)), ("flow", dict(steps=3, n_eval=200))]
)
def test_neural_models_keep_training_under_fresh_and_restart_under_replace(name, params, monkeypatch):
    """fresh: one model object, fitted with warm_start; replace: a new clone every iteration."""
    from recursive_lib.data import PAPER_TRUTH
    from recursive_lib.loops.reference import run_reference

    fits = []
    cls = type(make_estimator(name))
    original = cls.fit

    def spy(self, x, weights=None):
        fits.append(
            (
                self,  # the instance itself: an id() may be reused once an instance is collected
                self.warm_start,
                getattr(self, "params_", getattr(self, "ensemble_", None)) is not None,
            )
        )
        return original(self, x, weights)

    monkeypatch.setattr(cls, "fit", spy)
    grid = PAPER_TRUTH.grid(40)
    run_reference(
        make_estimator(name, **params),
        0.5,
        None,
        3,
        PAPER_TRUTH,
        grid,
        np.random.default_rng(0),
        regime="fresh",
        m_total=10,
    )
    assert len({f[0] for f in fits}) == 1 and all(f[1] for f in fits)
    assert [f[2] for f in fits] == [False, True, True]  # fitted state carried into fits 2 and 3
    fits.clear()
    run_reference(
        make_estimator(name, **params),
        0.5,
        None,
        3,
        PAPER_TRUTH,
        grid,
        np.random.default_rng(0),
        regime="replace",
        m_total=10,
    )
    assert len({f[0] for f in fits}) == 3 and not any(f[1] or f[2] for f in fits)


def test_warm_start_continues_from_the_previous_weights():
    from recursive_lib.data import PAPER_TRUTH
    from recursive_lib.estimators import QuantileSampler

    x = PAPER_TRUTH.sample(200, np.random.default_rng(0))
    kw = dict(epochs=1, n_eval=100, lr=1e-12, weight_decay=0.0)
    warm = QuantileSampler(warm_start=True, random_state=np.random.default_rng(1), **kw).fit(x)
    first = [p.clone() for p in warm.params_]
    warm.fit(x)  # a vanishing learning rate: the weights stay where the first fit left them
    assert all(np.allclose(a.numpy(), b.numpy(), atol=1e-8) for a, b in zip(first, warm.params_, strict=True))
    cold = QuantileSampler(random_state=np.random.default_rng(1), **kw).fit(x)
    cold.fit(x)  # without warm_start the second fit draws new initial weights
    assert not all(
        np.allclose(a.numpy(), b.numpy(), atol=1e-3) for a, b in zip(first, cold.params_, strict=True)
    )
