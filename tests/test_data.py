"""Truth distributions and the validation helpers."""

import numpy as np
import pytest

from recursive_lib._validation import check_choice, check_int, check_range
from recursive_lib.data import PAPER_TRUTH, Mixture1D, cell_probabilities


def test_check_range_names_parameter_and_interval():
    with pytest.raises(ValueError, match=r"alpha must be in \(0, 1\], got 1.5"):
        check_range("alpha", 1.5, 0, 1, low_inclusive=False)
    with pytest.raises(ValueError, match=r"alpha must be in \(0, 1\], got 0"):
        check_range("alpha", 0, 0, 1, low_inclusive=False)
    with pytest.raises(ValueError, match="h0 must be a real number"):
        check_range("h0", "big", 0, np.inf)
    assert check_range("alpha", 1, 0, 1, low_inclusive=False) == 1.0


def test_check_int_and_choice():
    with pytest.raises(ValueError, match="m1 must be an integer >= 1, got 0"):
        check_int("m1", 0, 1)
    with pytest.raises(ValueError, match="m1 must be an integer >= 1, got 2.5"):
        check_int("m1", 2.5, 1)
    with pytest.raises(ValueError, match="m1 must be an integer"):
        check_int("m1", True, 1)
    assert check_int("m1", np.int64(3), 1) == 3
    with pytest.raises(ValueError, match="engine must be one of 'fast', 'reference', got 'slow'"):
        check_choice("engine", "slow", ("fast", "reference"))


def test_mixture_validation():
    with pytest.raises(ValueError, match="weights"):
        Mixture1D([0.5, 0.6], [0, 1], [1, 1])
    with pytest.raises(ValueError, match="sds"):
        Mixture1D([0.5, 0.5], [0, 1], [1, 0])
    with pytest.raises(ValueError, match="same length"):
        Mixture1D([1.0], [0, 1], [1, 1])


def test_paper_truth_pdf_integrates_to_one_and_cdf_matches():
    grid = PAPER_TRUTH.grid(4001)
    pdf = PAPER_TRUTH.pdf(grid)
    assert np.trapezoid(pdf, grid) == pytest.approx(1.0, abs=1e-6)
    cumulative = np.concatenate(([0.0], np.cumsum((pdf[1:] + pdf[:-1]) / 2 * np.diff(grid))))
    np.testing.assert_allclose(PAPER_TRUTH.cdf(grid), PAPER_TRUTH.cdf(grid[0]) + cumulative, atol=1e-6)
    assert PAPER_TRUTH.cdf(grid[0]) < 1e-8 and PAPER_TRUTH.cdf(grid[-1]) > 1 - 1e-8


def test_paper_truth_moments_and_grid():
    assert PAPER_TRUTH.mean == pytest.approx(0.35 * -2 + 0.65 * 1)
    second = 0.35 * (0.8**2 + 4) + 0.65 * (1.3**2 + 1)
    assert PAPER_TRUTH.var == pytest.approx(second - PAPER_TRUTH.mean**2)
    grid = PAPER_TRUTH.grid(500)
    assert grid.shape == (500,)
    assert grid[0] == pytest.approx(-2 - 6 * 0.8) and grid[-1] == pytest.approx(1 + 6 * 1.3)


def test_sample_moments_within_standard_errors():
    n = 200_000
    x = PAPER_TRUTH.sample(n, np.random.default_rng(0))
    assert x.shape == (n,)
    var = PAPER_TRUTH.var
    assert abs(x.mean() - PAPER_TRUTH.mean) < 4 * np.sqrt(var / n)
    fourth = np.mean((x - x.mean()) ** 4)
    assert abs(x.var() - var) < 4 * np.sqrt((fourth - var**2) / n)


def test_sample_is_reproducible():
    a = PAPER_TRUTH.sample(10, np.random.default_rng(3))
    b = PAPER_TRUTH.sample(10, np.random.default_rng(3))
    np.testing.assert_array_equal(a, b)


def test_cell_probabilities():
    grid = PAPER_TRUTH.grid(50)
    probs = cell_probabilities(PAPER_TRUTH, grid)
    assert probs.shape == (51,)
    assert probs.sum() == pytest.approx(1.0) and np.all(probs >= 0)
    x = PAPER_TRUTH.sample(100_000, np.random.default_rng(1))
    counts = np.bincount(np.searchsorted(grid, x, side="left"), minlength=51)
    se = np.sqrt(probs * (1 - probs) / x.size)
    assert np.all(np.abs(counts / x.size - probs) <= 5 * se + 1e-12)


def test_repr_is_stable():
    assert repr(PAPER_TRUTH) == "Mixture1D(weights=[0.35, 0.65], means=[-2.0, 1.0], sds=[0.8, 1.3])"


def test_characteristic_function_is_the_transform_of_the_density():
    from recursive_lib.data import PAPER_TRUTH
    from recursive_lib.data.contamination import BiasSchedule

    x = np.linspace(-15, 15, 20001)
    t = np.array([0.0, 0.3, 1.0, 2.5])
    for dist in (PAPER_TRUTH, BiasSchedule(scale=0.2).stream(PAPER_TRUTH, 3)):
        numeric = np.trapezoid(dist.pdf(x)[None, :] * np.exp(1j * np.outer(t, x)), x, axis=1)
        np.testing.assert_allclose(dist.charfn(t), numeric, atol=1e-10)
