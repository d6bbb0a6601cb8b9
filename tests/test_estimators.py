"""ECDF and Gaussian KDE: fit / sample / cdf / pdf, weights, validation, registry."""

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
