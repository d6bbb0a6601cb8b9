"""Estimators: the ECDF and the Gaussian KDE in detail (fit / sample / cdf / pdf, weights,
validation), the registry, and one battery of protocol checks run over every registry entry."""

import numpy as np
import pytest
from sklearn.base import clone

from recursive_lib.data import PAPER_TRUTH
from recursive_lib.estimators import ECDF, ESTIMATORS, GaussianKDE, make_estimator


def test_registry():
    assert set(ESTIMATORS) >= {"ecdf", "kde"}
    assert isinstance(make_estimator("ecdf"), ECDF)
    kde = make_estimator("kde", bandwidth=0.2)
    assert isinstance(kde, GaussianKDE) and kde.get_params() == {"bandwidth": 0.2}
    with pytest.raises(ValueError, match="estimator must be one of"):
        make_estimator("gmm-that-does-not-exist")


def test_fit_returns_self_and_learned_state_ends_in_underscore():
    x = np.array([0.0, 1.0, 3.0])
    for est in (ECDF(), GaussianKDE(0.3)):
        assert est.fit(x) is est
        assert hasattr(est, "points_") and hasattr(est, "weights_")
        assert not hasattr(clone(est), "points_")


def test_fit_validation():
    for est in (ECDF(), GaussianKDE(0.3)):
        with pytest.raises(ValueError, match="x must be a non-empty 1-D array"):
            est.fit(np.array([]))
        with pytest.raises(ValueError, match="weights must have the shape of x"):
            est.fit(np.array([0.0, 1.0]), weights=np.ones(3))
        with pytest.raises(ValueError, match="weights must be finite, >= 0"):
            est.fit(np.array([0.0, 1.0]), weights=np.array([1.0, -1.0]))
        with pytest.raises(ValueError, match="x must be finite"):
            est.fit(np.array([0.0, np.nan]))
    with pytest.raises(ValueError, match=r"bandwidth must be in \(0, inf\], got -1"):
        GaussianKDE(-1).fit(np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="n must be an integer >= 0"):
        ECDF().fit(np.array([0.0])).sample(-1, np.random.default_rng(0))


def test_ecdf_cdf_known_points():
    est = ECDF().fit(np.array([2.0, 0.0, 1.0, 1.0]))
    np.testing.assert_allclose(
        est.cdf(np.array([-1.0, 0.0, 0.5, 1.0, 1.5, 2.0, 9.0])), [0, 0.25, 0.25, 0.75, 0.75, 1.0, 1.0]
    )
    assert est.mean_ == pytest.approx(1.0) and est.var_ == pytest.approx(0.5)


def test_ecdf_sample_resamples_points_with_weights():
    x = np.array([0.0, 1.0, 2.0])
    w = np.array([1.0, 0.0, 3.0])
    est = ECDF().fit(x, weights=w)
    s = est.sample(40_000, np.random.default_rng(0))
    assert set(np.unique(s)) <= {0.0, 2.0}
    share = np.mean(s == 2.0)
    assert abs(share - 0.75) < 4 * np.sqrt(0.75 * 0.25 / s.size)
    np.testing.assert_allclose(est.cdf(np.array([0.5, 1.5, 2.5])), [0.25, 0.25, 1.0])
    assert est.mean_ == pytest.approx(1.5)


def test_kde_sample_moments_match_theory():
    x = PAPER_TRUTH.sample(300, np.random.default_rng(1))
    est = GaussianKDE(0.4).fit(x)
    assert est.var_ == pytest.approx(x.var() + 0.16)
    n = 200_000
    s = est.sample(n, np.random.default_rng(2))
    assert abs(s.mean() - est.mean_) < 4 * np.sqrt(est.var_ / n)
    fourth = np.mean((s - s.mean()) ** 4)
    assert abs(s.var() - est.var_) < 4 * np.sqrt((fourth - est.var_**2) / n)


def test_kde_pdf_and_cdf_are_consistent():
    x = np.array([-1.0, 0.0, 2.5])
    est = GaussianKDE(0.3).fit(x)
    grid = np.linspace(-5, 7, 6001)
    pdf = est.pdf(grid)
    assert np.trapezoid(pdf, grid) == pytest.approx(1.0, abs=1e-6)
    cumulative = np.concatenate(([0.0], np.cumsum((pdf[1:] + pdf[:-1]) / 2 * np.diff(grid))))
    np.testing.assert_allclose(est.cdf(grid), cumulative, atol=1e-6)
    # one point: the normal density
    single = GaussianKDE(0.5).fit(np.array([1.0]))
    assert single.pdf(np.array([1.0]))[0] == pytest.approx(1 / (0.5 * np.sqrt(2 * np.pi)))
    assert single.cdf(np.array([1.0]))[0] == pytest.approx(0.5)


def test_kde_weights():
    x = np.array([-3.0, 4.0])
    weighted = GaussianKDE(0.7).fit(x, weights=np.array([0.0, 2.0]))
    alone = GaussianKDE(0.7).fit(np.array([4.0]))
    grid = np.linspace(-6, 8, 50)
    np.testing.assert_allclose(weighted.pdf(grid), alone.pdf(grid))
    np.testing.assert_allclose(weighted.cdf(grid), alone.cdf(grid))
    s = weighted.sample(10_000, np.random.default_rng(0))
    assert abs(s.mean() - 4.0) < 4 * 0.7 / 100


def test_sampling_is_reproducible():
    x = np.arange(10.0)
    for est in (ECDF(), GaussianKDE(0.2)):
        est.fit(x)
        np.testing.assert_array_equal(
            est.sample(5, np.random.default_rng(7)), est.sample(5, np.random.default_rng(7))
        )


# --- one battery over every entry of the registry (in the spirit of scikit-learn's check_estimator) ---

#: Fast settings per registry entry: the neural ones train for a few steps only. A new entry of
#: ESTIMATORS must be added here (a test below says so).
FAST = {
    "ecdf": {},
    "kde": {"bandwidth": 0.3},
    "gaussian": {},
    "gmm": {"n_components": 2, "random_state": 0},
    "flow": {
        "transforms": 1,
        "hidden": (8,),
        "bins": 4,
        "steps": 3,
        "batch_size": 32,
        "n_eval": 200,
        "random_state": 0,
    },
    "quantile": {"hidden": (8,), "epochs": 1, "batch_size": 32, "n_eval": 200, "random_state": 0},
}
#: Entries whose ``fit`` takes importance weights; the others refuse them with a message naming ``weights``.
WEIGHTED = {"ecdf", "kde", "gaussian"}
#: One bad hyper-parameter per entry that has any, and the name its error message must give.
BAD_PARAMS = {
    "kde": ({"bandwidth": -1.0}, "bandwidth"),
    "gmm": ({"n_components": 0}, "n_components"),
    "flow": ({"n_eval": 0}, "n_eval"),
    "quantile": ({"epochs": 0}, "epochs"),
}
NAMES = sorted(ESTIMATORS)


def _x() -> np.ndarray:
    return PAPER_TRUTH.sample(64, np.random.default_rng(0))


def _fitted(name: str, **extra):
    return make_estimator(name, **{**FAST[name], **extra}).fit(_x())


def test_every_registry_entry_has_fast_settings_for_the_battery():
    assert set(FAST) == set(ESTIMATORS)


@pytest.mark.parametrize("name", NAMES)
def test_fit_returns_self_and_sets_only_underscored_state(name):
    est = make_estimator(name, **FAST[name])
    before = set(vars(est))
    assert est.fit(_x()) is est
    learned = set(vars(est)) - before
    assert learned and all(key.endswith("_") for key in learned), learned
    assert set(vars(clone(est))) == before  # a clone carries hyper-parameters only


@pytest.mark.parametrize("name", NAMES)
def test_sample_gives_n_float64_points(name):
    est = _fitted(name)
    for n in (0, 1, 17):
        s = est.sample(n, np.random.default_rng(1))
        assert s.shape == (n,) and s.dtype == np.float64, (n, s.shape, s.dtype)
        assert np.all(np.isfinite(s))


@pytest.mark.parametrize("name", NAMES)
def test_the_same_seeds_give_the_same_fit_and_samples(name):
    a, b = _fitted(name), _fitted(name)
    np.testing.assert_array_equal(
        a.sample(50, np.random.default_rng(7)), b.sample(50, np.random.default_rng(7))
    )
    grid = np.linspace(-3, 3, 11)
    np.testing.assert_array_equal(a.cdf(grid), b.cdf(grid))


@pytest.mark.parametrize("name", NAMES)
def test_cdf_and_pdf_where_present_are_a_distribution_on_the_grid(name):
    est = _fitted(name)
    grid = np.linspace(-6, 6, 201)
    cdf = est.cdf(grid)
    assert cdf.shape == grid.shape and np.all(np.diff(cdf) >= -1e-12)
    assert 0.0 <= cdf[0] <= 0.05 and 0.95 <= cdf[-1] <= 1.0 + 1e-12
    if hasattr(est, "pdf"):
        pdf = est.pdf(grid)
        assert pdf.shape == grid.shape and np.all(pdf >= 0)
        assert abs(np.trapezoid(pdf, grid) - 1.0) < 0.02
    assert np.isfinite(est.mean_) and est.var_ > 0


@pytest.mark.parametrize("name", NAMES)
def test_weights_move_the_fit_or_are_refused_by_name(name):
    x = np.array([-2.0, -1.0, 0.0, 1.0, 4.0] * 8)
    weights = np.where(x == 4.0, 1.0, 0.0)
    est = make_estimator(name, **FAST[name])
    if name in WEIGHTED:
        est.fit(x, weights=weights)
        assert est.mean_ == pytest.approx(4.0, abs=1e-9)
    else:
        with pytest.raises(ValueError, match="weights"):
            est.fit(x, weights=weights)


@pytest.mark.parametrize("name", NAMES)
def test_bad_input_is_refused_with_a_message_naming_the_parameter(name):
    est = make_estimator(name, **FAST[name])
    with pytest.raises(ValueError, match=r"\bx\b"):
        est.fit(np.array([]))
    with pytest.raises(ValueError, match=r"\bx\b"):
        est.fit(np.array([0.0, np.nan, 1.0]))
    with pytest.raises(ValueError, match=r"\bn\b"):
        _fitted(name).sample(-1, np.random.default_rng(0))
    if name in BAD_PARAMS:
        params, named = BAD_PARAMS[name]
        with pytest.raises(ValueError, match=named):
            make_estimator(name, **{**FAST[name], **params}).fit(_x())
