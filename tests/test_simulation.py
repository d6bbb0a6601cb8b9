"""simulate(): columns, seeding, validation, and the agreement of the fast engine with the reference loop."""

import numpy as np
import pandas as pd
import pytest
from scipy.special import ndtr

from recursive_lib.data import PAPER_TRUTH, Mixture1D, cell_probabilities
from recursive_lib.estimators import ECDF, GaussianKDE
from recursive_lib.loops.fast import (
    PICK_BLOCK,
    _EcdfCells,
    _KdeBins,
    add_points,
    block_sums,
    pick_cells,
    pick_counts,
    shared_cells,
)
from recursive_lib.loops.reference import run_reference
from recursive_lib.metrics import grid_masses, mmd_grid, w1_grid
from recursive_lib.simulation import simulate

COLUMNS = [
    "rep",
    "n",
    "M",
    "w1",
    "mmd",
    "mean",
    "var",
    "estimator",
    "alpha",
    "m1",
    "m2",
    "regime",
    "p",
    "h0",
    "bandwidth_exponent",
    "seed",
    "engine",
]


@pytest.mark.parametrize("engine", ["fast", "reference"])
@pytest.mark.parametrize("estimator", ["ecdf", "kde"])
def test_columns_and_shape(estimator, engine):
    df = simulate(estimator=estimator, alpha=0.4, m1=10, T=6, reps=3, seed=1, grid_size=60, engine=engine)
    assert list(df.columns) == COLUMNS
    assert len(df) == 18
    assert df.groupby("rep").n.apply(list).tolist() == [list(range(1, 7))] * 3
    m2 = round(0.6 * 10 / 0.4)
    assert (df.m2 == m2).all() and (df.M == df.n * 10 + (df.n - 1) * m2).all()
    assert (df.estimator == estimator).all() and (df.engine == engine).all()
    assert df.bandwidth_exponent.iloc[0] == 0.25 and df.h0.iloc[0] == 0.5
    assert np.isfinite(df[["w1", "mmd", "mean", "var"]].to_numpy()).all()
    assert (df.w1 > 0).all() and (df.mmd > 0).all()


@pytest.mark.parametrize("engine", ["fast", "reference"])
def test_rerun_is_bit_identical_and_seed_matters(engine):
    kwargs = dict(estimator="kde", alpha=0.5, m1=20, T=8, reps=3, grid_size=50, engine=engine)
    a = simulate(seed=5, **kwargs)
    pd.testing.assert_frame_equal(a, simulate(seed=5, **kwargs))
    b = simulate(seed=6, **kwargs)
    assert not np.array_equal(a.w1.to_numpy(), b.w1.to_numpy())


def test_repetition_does_not_depend_on_reps_or_T():
    kwargs = dict(estimator="ecdf", alpha=0.3, m1=20, seed=2, grid_size=50)
    small = simulate(T=40, reps=2, **kwargs)
    big = simulate(T=70, reps=5, **kwargs)
    common = big[(big.rep < 2) & (big.n <= 40)].reset_index(drop=True)
    # equal up to rounding (matrix products are blocked differently for another number of rows)
    np.testing.assert_allclose(
        small[["w1", "mmd", "mean", "var"]].to_numpy(),
        common[["w1", "mmd", "mean", "var"]].to_numpy(),
        rtol=1e-10,
    )


def test_stream_keys():
    base = dict(estimator="ecdf", m1=20, T=3, reps=2, seed=0, grid_size=50)
    a = simulate(alpha=0.3, **base)
    # the same process gives the same numbers: float noise in alpha, ECDF with another p, another MMD width
    b = simulate(alpha=0.1 * 3, p=0.7, mmd_width=0.3, **base)
    np.testing.assert_array_equal(a.w1.to_numpy(), b.w1.to_numpy())
    assert not np.array_equal(a.mmd.to_numpy(), b.mmd.to_numpy())


def test_other_configurations_get_other_streams():
    a = simulate(estimator="ecdf", alpha=0.5, m1=20, T=3, reps=2, seed=0, grid_size=50)
    b = simulate(estimator="ecdf", alpha=0.5, m1=21, T=3, reps=2, seed=0, grid_size=50)
    assert a.w1.iloc[0] != b.w1.iloc[0]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(alpha=0), r"alpha must be in \(0, 1\], got 0"),
        (dict(alpha=1.5), r"alpha must be in \(0, 1\], got 1.5"),
        (dict(m1=0), "m1 must be an integer >= 1"),
        (dict(m1=2.5), "m1 must be an integer >= 1"),
        (dict(T=0), "T must be an integer >= 1"),
        (dict(reps=0), "reps must be an integer >= 1"),
        (dict(seed=-1), "seed must be an integer >= 0"),
        (dict(p=0), r"p must be in \(0, inf\)"),
        (dict(h0=-1), r"h0 must be in \(0, inf\)"),
        (dict(bandwidth_exponent=-0.1), r"bandwidth_exponent must be in \[0, inf\)"),
        (dict(grid_size=5), "grid_size must be an integer >= 10"),
        (dict(mmd_width=0), r"mmd_width must be in \(0, inf\)"),
        (dict(estimator="gmm-unknown"), "estimator must be one of 'ecdf', 'kde'"),
        (dict(engine="slow"), "engine must be one of 'fast', 'reference'"),
        (
            dict(regime="recycle"),
            "regime must be one of .accumulate., .fresh., .replace., .accumulate-initial.",
        ),
        (dict(truth=object()), "truth must have sample, pdf, cdf"),
    ],
)
def test_invalid_arguments_name_the_parameter(kwargs, match):
    with pytest.raises(ValueError, match=match):
        simulate(**{"T": 2, "reps": 1, **kwargs})


def test_custom_truth():
    truth = Mixture1D([1.0], [3.0], [0.5])
    df = simulate(estimator="ecdf", alpha=1.0, m1=200, T=3, reps=2, truth=truth, grid_size=100)
    assert abs(df["mean"].mean() - 3.0) < 0.2


def test_fast_ecdf_statistics_equal_reference_on_the_same_data():
    """The ECDF engine works on cell counts; W1 and MMD are exactly those of the point ECDF."""
    grid = PAPER_TRUTH.grid(80)
    x = PAPER_TRUTH.sample(700, np.random.default_rng(0))
    counts = np.bincount(np.searchsorted(grid, x, side="left"), minlength=grid.size + 1)[None, :]
    cells = _EcdfCells(PAPER_TRUTH, grid, 0.5)
    w1, mmd, mean, var = cells.measure(counts, x.size, 0.0)
    fit = ECDF().fit(x)
    assert w1[0] == pytest.approx(w1_grid(fit.cdf(grid), PAPER_TRUTH.cdf(grid), grid), rel=1e-12)
    ref_mmd = mmd_grid(grid_masses(fit, grid, False), grid_masses(PAPER_TRUTH, grid, False), grid)
    assert mmd[0] == pytest.approx(ref_mmd, rel=1e-10)
    # mean and var use the truth's conditional cell moments: an approximation within MC noise
    assert abs(mean[0] - fit.mean_) < 0.1 * np.sqrt(fit.var_ / x.size)
    assert abs(var[0] - fit.var_) < 0.02


def test_fast_kde_binning_is_close_to_exact_kde_on_the_same_data():
    grid = PAPER_TRUTH.grid(200)
    h = 0.15
    x = PAPER_TRUTH.sample(3000, np.random.default_rng(1))
    bins = _KdeBins(PAPER_TRUTH, grid, 0.5, h_max=h, h_min=h)
    assert bins.d <= h / 5
    counts = np.bincount(np.floor((x - bins.lo) / bins.d).astype(int), minlength=bins.B)[None, :]
    w1, mmd, mean, var = bins.measure(counts.astype(float), x.size, h)
    fit = GaussianKDE(h).fit(x)
    w1_exact = w1_grid(fit.cdf(grid), PAPER_TRUTH.cdf(grid), grid)
    mmd_exact = mmd_grid(grid_masses(fit, grid, True), grid_masses(PAPER_TRUTH, grid, True), grid)
    # The engine keeps each point as its bin centre. Moving points by |x - c| moves the empirical
    # distribution, and so its KDE (a convolution contracts W1), by at most mean |x - c| in W1, and
    # the Gaussian-kernel embedding by at most mean |x - c| / width in MMD (the feature map is
    # 1/width-Lipschitz). These bounds, not a percentage, are what the binning can cost.
    centres = bins.centres[np.floor((x - bins.lo) / bins.d).astype(int)]
    shift = np.abs(x - centres).mean()
    assert shift <= bins.d / 2
    assert abs(w1[0] - w1_exact) <= shift + 1e-9
    assert abs(mmd[0] - mmd_exact) <= shift / 0.5 + 1e-9
    # and the engine's fit is exactly the KDE of those centres
    fit_centres = GaussianKDE(h).fit(centres)
    assert w1[0] == pytest.approx(w1_grid(fit_centres.cdf(grid), PAPER_TRUTH.cdf(grid), grid), abs=1e-8)
    assert abs(mean[0] - fit.mean_) < bins.d and abs(var[0] - fit.var_) < bins.d


@pytest.mark.parametrize("h", [2.0, 0.4, 0.04])
@pytest.mark.parametrize("bins_per_cell", [None, 1, 2, 7])
def test_fast_kde_window_is_exact_for_the_binned_pool(h, bins_per_cell):
    """The bins span 6 max(h) beyond the grid, the FFT only 6 h and its output only at the grid
    points (decimated): the fit at the grid is still the exact KDE of the bin centres, also with
    pool points far outside the window, for any refinement r (odd, even, 1)."""
    grid = PAPER_TRUTH.grid(100)
    bins = _KdeBins(PAPER_TRUTH, grid, 0.5, h_max=2.0, h_min=0.04, bins_per_cell=bins_per_cell)
    rng = np.random.default_rng(3)
    idx = np.concatenate(
        [
            rng.integers(0, bins.B, 300),  # anywhere, tails too
            np.searchsorted(bins.centres, PAPER_TRUTH.sample(500, rng)),
        ]
    )
    counts = np.bincount(idx, minlength=bins.B)[None, :].astype(float)
    cdf, dens = bins.curves(counts, idx.size, h)
    z = (grid[:, None] - bins.centres[idx][None, :]) / h
    assert np.abs(cdf[0] - ndtr(z).mean(1)).max() < 1e-8
    exact_dens = np.exp(-0.5 * z**2).mean(1) / (h * np.sqrt(2 * np.pi))
    assert np.abs(dens[0] - exact_dens).max() < 1e-8 * max(1.0, exact_dens.max())


@pytest.mark.parametrize("C", [1, PICK_BLOCK - 1, PICK_BLOCK, 3 * PICK_BLOCK + 5, 2000])
def test_block_picks_are_the_cumsum_picks(C):
    """pick_counts (blocks) picks the very cells pick_cells (whole cumsum) picks: empty cells,
    a short last block, needles at 0 and just below 1, integer and float counts."""
    rng = np.random.default_rng(C)
    R = 7
    pool = rng.poisson(2.0, (R, C)) * (rng.random((R, C)) < 0.6)
    pool[:, 0] += pool.sum(1).max() - pool.sum(1) + 1  # every row holds the same M
    M = int(pool[0].sum())
    u = rng.random((R, 40))
    u[0, 0], u[-1, -1] = 0.0, np.nextafter(1.0, 0.0)
    expected = pick_cells(np.cumsum(pool, axis=1), M, u)
    for counts in (pool, pool.astype(float)):
        assert (pick_counts(counts, M, u) == expected).all()
        assert (pick_counts(counts, M, u, block_sums(counts)) == expected).all()


def test_add_points_keeps_counts_and_block_sums():
    rng = np.random.default_rng(5)
    pool = np.zeros((3, 100))
    sums = block_sums(pool)
    cells = rng.integers(0, 100, (3, 500))
    add_points(pool, cells, sums=sums)
    add_points(pool, cells[:, :7], weight=np.full((3, 7), 0.5), sums=sums)
    expected = np.stack([np.bincount(c, minlength=100) for c in cells]).astype(float)
    expected += 0.5 * np.stack([np.bincount(c, minlength=100) for c in cells[:, :7]])
    assert np.array_equal(pool, expected)
    assert np.allclose(sums, block_sums(expected), rtol=0, atol=1e-12)


def test_fast_real_batches_follow_the_cell_probabilities():
    """Real batches of the fast engines are Multinomial(m1, P(cells))."""
    grid = PAPER_TRUTH.grid(30)
    probs = cell_probabilities(PAPER_TRUTH, grid)
    cells = _EcdfCells(PAPER_TRUTH, grid, 0.5)
    k = 1_000_000
    counts = shared_cells(cells.real_cum, np.random.default_rng(4).random((2, k)))
    assert counts.shape == (2, grid.size + 1) and (counts.sum(1) == k).all()
    se = np.sqrt(k * probs * (1 - probs))
    assert np.all(np.abs(counts - k * probs) <= 5 * se + 1e-9)


def test_reference_loop_bookkeeping():
    grid = PAPER_TRUTH.grid(50)
    out = run_reference(ECDF(), 0.25, 10, 4, PAPER_TRUTH, grid, np.random.default_rng(0))
    np.testing.assert_array_equal(out["n"], [1, 2, 3, 4])
    np.testing.assert_array_equal(out["M"], [10, 50, 90, 130])  # m2 = 30
    out = run_reference(
        GaussianKDE(), 1.0, 10, 3, PAPER_TRUTH, grid, np.random.default_rng(0), bandwidth=lambda n: 0.5 / n
    )
    np.testing.assert_array_equal(out["M"], [10, 20, 30])
    with pytest.raises(ValueError, match="regime must be one of 'accumulate'"):
        run_reference(ECDF(), 0.5, 10, 2, PAPER_TRUTH, grid, np.random.default_rng(0), regime="recycle")


# --------------------------------------------------------------------------------- THE KEY TEST
def _trajectories(estimator, alpha, T, reps, grid_size, engine):
    df = simulate(
        estimator=estimator, alpha=alpha, m1=50, T=T, reps=reps, seed=11, grid_size=grid_size, engine=engine
    )
    g = df.groupby("n")[["w1", "mmd", "mean", "var"]]
    return g.mean(), g.std(ddof=1) / np.sqrt(reps)


@pytest.mark.slow
@pytest.mark.parametrize(
    "estimator, alpha, T, reps, grid_size, checkpoints",
    [
        ("ecdf", 0.3, 40, 200, 200, [1, 5, 15, 40]),
        ("ecdf", 1.0, 40, 200, 200, [1, 5, 15, 40]),
        ("kde", 0.3, 25, 60, 100, [1, 3, 10, 25]),
        ("kde", 1.0, 30, 120, 100, [1, 3, 10, 30]),
    ],
)
@pytest.mark.slow
def test_fast_engine_agrees_with_reference_loop(estimator, alpha, T, reps, grid_size, checkpoints):
    """Mean W1, MMD, mean and var of the fit agree at several n (fast engine: 4x the repetitions).

    Tolerance: |mean_fast - mean_ref| <= 4 sqrt(se_fast^2 + se_ref^2), se = standard error over
    repetitions (the two runs are independent). Do not widen it: a failure is a bug in one engine.
    """
    fast_mean, fast_se = _trajectories(estimator, alpha, T, 4 * reps, grid_size, "fast")
    ref_mean, ref_se = _trajectories(estimator, alpha, T, reps, grid_size, "reference")
    diff = (fast_mean - ref_mean).loc[checkpoints]
    tol = 4 * np.sqrt(fast_se**2 + ref_se**2).loc[checkpoints]
    assert (diff.abs() <= tol).all().all(), f"\n|diff|:\n{diff.abs()}\ntolerance:\n{tol}"


def test_fast_synthetic_batches_have_the_right_law():
    """One synthetic step of each fast engine, many draws: moments match the fitted distribution."""
    rng = np.random.default_rng(3)
    grid = PAPER_TRUTH.grid(100)
    x = PAPER_TRUTH.sample(500, rng)
    k = 1_000_000
    # ECDF: Multinomial(k, pool / M) on the cells
    cells = _EcdfCells(PAPER_TRUTH, grid, 0.5)
    pool = np.bincount(np.searchsorted(grid, x, side="left"), minlength=grid.size + 1)[None, :]
    drawn = np.bincount(cells.synthetic(pool, x.size, 0.0, rng.random((1, k)), None)[0], minlength=cells.C)
    expected = k * pool[0] / x.size
    assert drawn.sum() == k
    assert np.all(np.abs(drawn - expected) <= 5 * np.sqrt(expected) + 1e-9)
    # KDE: pick a pool point, add N(0, h^2), re-bin -> mean = pool mean, var = pool var + h^2
    h = 0.5
    bins = _KdeBins(PAPER_TRUTH, grid, 0.5, h_max=h, h_min=h)
    pool = np.bincount(np.floor((x - bins.lo) / bins.d).astype(int), minlength=bins.B)[None, :]
    drawn = bins.synthetic(pool.astype(float), x.size, h, rng.random((1, k)), rng.standard_normal((1, k)))[0]
    drawn = np.bincount(drawn, minlength=bins.B)
    pool_mean = pool[0] @ bins.centres / x.size
    pool_var = pool[0] @ bins.centres**2 / x.size - pool_mean**2
    mean = drawn @ bins.centres / k
    var = drawn @ bins.centres**2 / k - mean**2
    fourth = drawn @ (bins.centres - mean) ** 4 / k
    target_var = pool_var + h**2 + bins.d**2 / 12  # re-binning adds d^2 / 12
    assert abs(mean - pool_mean) < 4 * np.sqrt(target_var / k)
    assert abs(var - target_var) < 4 * np.sqrt((fourth - var**2) / k)
