"""W1 and MMD on a grid, on cases with known answers."""

import numpy as np
import pytest
from scipy.stats import norm

from recursive_lib.data import PAPER_TRUTH
from recursive_lib.estimators import ECDF
from recursive_lib.metrics import (
    GridMetrics,
    grid_masses,
    kernel_factor,
    masses_from_cdf,
    masses_from_pdf,
    mmd_grid,
    trapezoid_weights,
    w1_grid,
    w1_samples,
)

GRID = np.linspace(-10, 10, 2001)


def test_trapezoid_weights():
    w = trapezoid_weights(GRID)
    assert w.sum() == pytest.approx(20.0)
    assert w @ GRID**2 == pytest.approx(2 * 1000 / 3, rel=1e-5)
    with pytest.raises(ValueError, match="grid must be a 1-D strictly increasing"):
        trapezoid_weights(np.array([0.0, 0.0, 1.0]))


def test_w1_between_point_masses():
    a, b = -1.0, 2.5
    cdf_a = (GRID >= a).astype(float)
    cdf_b = (GRID >= b).astype(float)
    assert w1_grid(cdf_a, cdf_b, GRID) == pytest.approx(abs(a - b), abs=GRID[1] - GRID[0])
    assert w1_grid(cdf_a, cdf_a, GRID) == 0.0


def test_w1_between_shifted_normals_and_leading_axis():
    shifts = np.array([0.0, 0.5, 1.0, 2.0])
    cdf_hat = norm.cdf(GRID[None, :] - shifts[:, None])  # (4, G)
    w1 = w1_grid(cdf_hat, norm.cdf(GRID), GRID)
    assert w1.shape == (4,)
    np.testing.assert_allclose(w1, shifts, atol=1e-6)
    # two leading axes
    assert w1_grid(cdf_hat.reshape(2, 2, -1), norm.cdf(GRID), GRID).shape == (2, 2)


def test_w1_grid_matches_pot_on_samples():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=300), rng.normal(0.3, 1.2, size=200)
    grid = np.linspace(-8, 8, 40_001)
    on_grid = w1_grid(ECDF().fit(x).cdf(grid), ECDF().fit(y).cdf(grid), grid)
    assert on_grid == pytest.approx(w1_samples(x, y), abs=1e-3)


def test_mmd_zero_symmetric_vectorised():
    mass = masses_from_pdf(norm.pdf(GRID), GRID)
    other = masses_from_pdf(norm.pdf(GRID, 1.0, 0.7), GRID)
    assert mmd_grid(mass, mass, GRID) == pytest.approx(0.0, abs=1e-7)
    assert mmd_grid(mass, other, GRID) == pytest.approx(mmd_grid(other, mass, GRID), rel=1e-12)
    both = mmd_grid(np.stack([mass, other]), mass, GRID)
    assert both.shape == (2,) and both[0] < 1e-7 and both[1] > 0.1


def test_mmd_between_point_masses_is_closed_form():
    width = 0.5
    i, j = 900, 1100  # point masses at GRID[i], GRID[j]
    a, b = np.zeros(GRID.size), np.zeros(GRID.size)
    a[i], b[j] = 1.0, 1.0
    exact = np.sqrt(2 - 2 * np.exp(-((GRID[i] - GRID[j]) ** 2) / (2 * width**2)))
    assert mmd_grid(a, b, GRID, width) == pytest.approx(exact, rel=1e-6)


def test_mmd_of_normals_matches_closed_form():
    # MMD^2 between N(0, 1) and N(d, 1) with Gaussian kernel width w:
    # 2 w / sqrt(w^2 + 2) (1 - exp(-d^2 / (2 (w^2 + 2))))
    w, d = 0.5, 1.0
    exact = np.sqrt(2 * w / np.sqrt(w**2 + 2) * (1 - np.exp(-(d**2) / (2 * (w**2 + 2)))))
    got = mmd_grid(masses_from_pdf(norm.pdf(GRID, d), GRID), masses_from_pdf(norm.pdf(GRID), GRID), GRID, w)
    assert got == pytest.approx(exact, rel=1e-6)


def test_kernel_factor_reproduces_gram_matrix():
    grid = np.linspace(-3, 3, 200)
    L = kernel_factor(grid, 0.5)
    gram = np.exp(-((grid[:, None] - grid[None, :]) ** 2) / (2 * 0.25))
    np.testing.assert_allclose(L @ L.T, gram, atol=1e-10)
    with pytest.raises(ValueError, match="width must be in"):
        kernel_factor(grid, 0.0)


def test_masses_from_cdf_and_grid_masses():
    cdf = np.array([[0.1, 0.5, 0.9], [0.0, 0.0, 1.0]])
    np.testing.assert_allclose(masses_from_cdf(cdf), [[0.1, 0.4, 0.5], [0.0, 0.0, 1.0]])
    grid = PAPER_TRUTH.grid(500)
    assert grid_masses(PAPER_TRUTH, grid, use_pdf=False).sum() == pytest.approx(1.0)
    assert grid_masses(PAPER_TRUTH, grid, use_pdf=True).sum() == pytest.approx(1.0, abs=1e-6)
    # Mixing the two discretisations would put a floor under the MMD; the same one gives 0.
    assert mmd_grid(grid_masses(PAPER_TRUTH, grid, False), grid_masses(PAPER_TRUTH, grid, True), grid) > 1e-3


def test_w1_noise_floor_has_one_name():
    from recursive_lib import metrics

    assert not hasattr(metrics, "w1_floor")  # "floor" alone is theory's bias floor
    assert metrics.w1_noise_floor(lambda n, rng: rng.normal(size=(n, 2)), 50, reps=2).shape == (2,)


def test_grid_metrics_are_the_functions_bit_for_bit():
    grid = PAPER_TRUTH.grid(120)
    rng = np.random.default_rng(2)
    cdf = np.sort(rng.random((5, grid.size)), axis=1)
    pdf = rng.random((5, grid.size))
    metrics = GridMetrics(grid, 0.7)
    assert np.array_equal(metrics.w1(cdf, PAPER_TRUTH.cdf(grid)), w1_grid(cdf, PAPER_TRUTH.cdf(grid), grid))
    assert np.array_equal(metrics.masses_from_pdf(pdf), masses_from_pdf(pdf, grid))
    masses, truth = masses_from_pdf(pdf, grid), masses_from_pdf(PAPER_TRUTH.pdf(grid), grid)
    assert np.array_equal(metrics.mmd(masses, truth), mmd_grid(masses, truth, grid, 0.7))
    with pytest.raises(ValueError, match="grid"):
        GridMetrics(grid[::-1])
