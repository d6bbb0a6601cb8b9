"""Theory: predicted exponents, the exact ECDF variance recursion (checked by Monte Carlo), the
heuristic recursion and local exponents."""

import numpy as np
import pandas as pd
import pytest

from recursive_lib import theory
from recursive_lib.data import PAPER_TRUTH, cell_probabilities
from recursive_lib.simulation import simulate


def m2_of(alpha: float, m1: int) -> int:
    return round((1 - alpha) * m1 / alpha)


def test_predicted_exponent_broadcasts():
    assert theory.predicted_exponent(0.5, 0.3) == 0.3
    assert isinstance(theory.predicted_exponent(0.5, 0.3), float)
    assert theory.predicted_exponent(0.5, 0.8, q=0.25) == 0.25
    out = theory.predicted_exponent(np.array([[0.2], [0.6]]), np.array([0.1, 0.5, 1.0]))
    assert out.shape == (2, 3)
    assert np.allclose(out, [[0.1, 0.2, 0.2], [0.1, 0.5, 0.6]])
    alphas = pd.Series([0.1, 0.9])
    assert np.allclose(theory.predicted_exponent(0.5, alphas), [0.1, 0.5])


def test_pool_sizes():
    assert theory.pool_sizes(50, 450, 4).tolist() == [50, 550, 1050, 1550]


@pytest.mark.parametrize("m1, m2", [(1, 0), (50, 450), (7, 3)])
def test_c1_is_inverse_real_batch(m1, m2):
    assert theory.ecdf_variance_coefficients(m1, m2, 3)[0] == 1.0 / m1


def test_no_synthetic_data_gives_inverse_sample_size():
    c = theory.ecdf_variance_coefficients(50, 0, 500)
    n = np.arange(1, 501)
    np.testing.assert_allclose(c, 1.0 / (n * 50), rtol=1e-12)


def test_synthetic_data_inflates_variance():
    M = theory.pool_sizes(20, 20, 50)
    c = theory.ecdf_variance_coefficients(20, 20, 50)
    assert np.all(c[1:] > 1.0 / M[1:])  # fewer effective points than the pool holds


def naive_coefficients(m1, m2, T):
    """A plausible wrong recursion: synthetic variance m2 F(1-F), forgetting E[F_hat(1-F_hat)] < F(1-F)."""
    M = theory.pool_sizes(m1, m2, T).astype(float)
    c = [1.0 / m1]
    for n in range(T - 1):
        c.append(((M[n] + m2) ** 2 * c[-1] + m1 + m2) / M[n + 1] ** 2)
    return np.array(c)


def simulate_point_errors(F: float, m1: int, m2: int, T: int, R: int, seed: int) -> np.ndarray:
    """``(T, R)`` errors ``F_hat_n(x) - F(x)`` at one point, simulating the ECDF accumulate process on counts.

    The pool's hits ``H_n = #{points <= x}``: real hits ~ Bin(m1, F), synthetic hits drawn from the
    fitted ECDF ~ Bin(m2, H_n / M_n), exactly the law of the full process at a single x.
    """
    rng = np.random.default_rng(seed)
    hits = rng.binomial(m1, F, size=R)
    M = m1
    errors = np.empty((T, R))
    for n in range(T):
        errors[n] = hits / M - F
        hits = hits + rng.binomial(m2, hits / M) + rng.binomial(m1, F, size=R)
        M += m1 + m2
    return errors


@pytest.mark.slow
@pytest.mark.parametrize(
    "m1, m2", [(20, m2_of(0.1, 20)), (20, m2_of(0.3, 20)), (20, 20), (20, 0), (1, 1), (1, 3)]
)
def test_recursion_matches_monte_carlo(m1, m2):
    # Tolerance: Var F_hat_n(x) is estimated by mean(e^2) over R = 20000 independent runs (E e = 0
    # is known), whose standard error is std(e^2) / sqrt(R) -- about var * sqrt(2 / R), i.e. 1% of
    # the variance, when e is near Gaussian. We require agreement within 4 standard errors at each
    # checked n (5 checks per case, 30 in all: a false alarm has probability ~2e-3).
    F, R, T = 0.3, 20_000, 100
    checks = np.array([1, 2, 5, 20, 100])
    errors = simulate_point_errors(F, m1, m2, T, R, seed=m1 * 1000 + m2)
    squares = errors[checks - 1] ** 2
    ratio = squares.mean(axis=1) / (F * (1 - F))
    se = squares.std(axis=1, ddof=1) / np.sqrt(R) / (F * (1 - F))
    c = theory.ecdf_variance_coefficients(m1, m2, T)[checks - 1]
    assert np.all(np.abs(ratio - c) < 4 * se), (ratio, c, se)
    assert np.all(np.abs(errors.mean(axis=1)) < 5 * errors.std(axis=1) / np.sqrt(R))  # unbiased
    if m1 == 1:
        # The same test rejects the naive recursion where the pools are small enough to tell.
        naive = naive_coefficients(m1, m2, T)[checks - 1]
        assert np.any(np.abs(ratio - naive) > 8 * se)


@pytest.mark.slow
@pytest.mark.parametrize("alpha", [0.1, 0.5, 1.0])
def test_ise_and_w1_on_grid_against_simulation(alpha):
    # The ECDF process on a grid, simulated exactly on cell counts (multinomial draws), R = 2000.
    # Expected ISE: within 4 standard errors at every n. W1: the Jensen bound holds and the
    # Gaussian approximation is within 6% (the paper reports 0.5-5% at m1 = 50).
    m1, T, R = 20, 30, 2000
    m2 = m2_of(alpha, m1)
    grid = PAPER_TRUTH.grid(120)
    F = PAPER_TRUTH.cdf(grid)
    probs = cell_probabilities(PAPER_TRUTH, grid)
    rng = np.random.default_rng(int(alpha * 100))
    counts = rng.multinomial(m1, probs, size=R).astype(float)
    M = m1
    ise, w1 = np.empty((T, R)), np.empty((T, R))
    for n in range(T):
        F_hat = np.cumsum(counts, axis=1)[:, :-1] / M  # points <= grid[j]
        ise[n] = np.trapezoid((F_hat - F) ** 2, grid, axis=1)
        w1[n] = np.trapezoid(np.abs(F_hat - F), grid, axis=1)
        if m2:
            counts += rng.multinomial(m2, counts / M)
        counts += rng.multinomial(m1, probs, size=R)
        M += m1 + m2
    expected = theory.ecdf_expected_ise(PAPER_TRUTH, grid, m1, m2, T)
    se = ise.std(axis=1, ddof=1) / np.sqrt(R)
    assert np.all(np.abs(ise.mean(axis=1) - expected) < 4 * se)
    mean_w1 = w1.mean(axis=1)
    assert np.all(mean_w1 <= theory.ecdf_w1_bound(PAPER_TRUTH, grid, m1, m2, T))
    np.testing.assert_allclose(mean_w1, theory.ecdf_w1_gaussian(PAPER_TRUTH, grid, m1, m2, T), rtol=0.06)


@pytest.mark.slow
@pytest.mark.parametrize("alpha", [0.2, 1.0])
def test_theory_matches_simulate_ecdf(alpha):
    # The library's own engine against the exact theory: mean W1 over 200 repetitions stays under
    # the Jensen bound and within 8% of the Gaussian approximation (its standard error is ~2-3%
    # per n at this size; the paper reports 0.5-5% at 400 repetitions).
    m1, T = 50, 40
    df = simulate(estimator="ecdf", alpha=alpha, m1=m1, T=T, reps=200, seed=3)
    m2 = int(df["m2"].iloc[0])
    grid = PAPER_TRUTH.grid(500)
    mean_w1 = df.groupby("n")["w1"].mean().to_numpy()
    np.testing.assert_array_equal(df.groupby("n")["M"].first(), theory.pool_sizes(m1, m2, T))
    assert np.all(mean_w1 <= theory.ecdf_w1_bound(PAPER_TRUTH, grid, m1, m2, T))
    np.testing.assert_allclose(mean_w1, theory.ecdf_w1_gaussian(PAPER_TRUTH, grid, m1, m2, T), rtol=0.08)


def test_w1_gaussian_is_bound_times_sqrt_2_over_pi():
    grid = PAPER_TRUTH.grid(50)
    ratio = theory.ecdf_w1_gaussian(PAPER_TRUTH, grid, 10, 10, 5) / theory.ecdf_w1_bound(
        PAPER_TRUTH, grid, 10, 10, 5
    )
    np.testing.assert_allclose(ratio, np.sqrt(2 / np.pi))


@pytest.mark.parametrize("alpha", [0.1, 0.25, 0.4, 0.6, 0.75, 1.0])
def test_variance_exponent_matches_recursion(alpha):
    # Local slope of log c_n against log n over the last decade up to n = 2e5. Corrections decay
    # like n^-|1 - 2 alpha|, slowest near alpha = 1/2: 0.02 covers alpha = 0.4 and 0.6.
    m1 = 20
    T = 200_000
    c = theory.ecdf_variance_coefficients(m1, m2_of(alpha, m1), T)
    curve = pd.DataFrame({"n": np.arange(1, T + 1), "c": c})
    fitted = theory.local_exponents(curve, by=None, y="c", last_fraction=0.1)["exponent"].item()
    assert fitted == pytest.approx(theory.ecdf_variance_exponent(alpha), abs=0.02)


def test_variance_exponent_at_half_has_log_factor():
    T = 200_000
    c = theory.ecdf_variance_coefficients(20, 20, T)
    n = np.arange(1, T + 1)
    curve = pd.DataFrame({"n": n, "c": c * n / np.log(n + 1)})
    fitted = theory.local_exponents(curve, by=None, y="c", last_fraction=0.1)["exponent"].item()
    assert theory.ecdf_variance_exponent(0.5) == 1.0
    assert abs(fitted) < 0.02  # c_n ~ log n / n


def test_heuristic_error_closed_form_matches_loop():
    p, alpha, T = 0.5, 0.3, 3000
    e, total = np.empty(T), 0.0
    for n in range(1, T + 1):
        e[n - 1] = (1 - alpha) * total / n + n**-p
        total += e[n - 1]
    out = theory.heuristic_error(p, alpha, T)
    assert list(out.columns) == ["n", "error"]
    assert out["n"].tolist() == list(range(1, T + 1))
    np.testing.assert_allclose(out["error"], e, rtol=1e-10)


def test_local_exponents_of_heuristic_approach_prediction():
    curves = pd.concat([theory.heuristic_error(0.5, a, 100_000).assign(alpha=a) for a in (0.1, 0.8, 1.0)])
    out = theory.local_exponents(curves, by="alpha", x="n", y="error", last_fraction=0.1)
    assert out["alpha"].tolist() == [0.1, 0.8, 1.0]
    np.testing.assert_allclose(out["exponent"], theory.predicted_exponent(0.5, out["alpha"]), atol=0.02)


def test_local_exponents_exact_power_law():
    n = np.arange(1, 1001)
    curve = pd.DataFrame({"n": n, "y": 3.0 * n**-0.7, "g": 1})
    out = theory.local_exponents(curve, by="g", y="y", last_fraction=0.5)
    assert out["exponent"].item() == pytest.approx(0.7)
    assert out["points"].item() == 501


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: theory.ecdf_variance_coefficients(0, 1, 5), "m1 must be an integer >= 1"),
        (lambda: theory.ecdf_variance_coefficients(5, -1, 5), "m2 must be an integer >= 0"),
        (lambda: theory.ecdf_variance_coefficients(5, 1, 0), "T must be an integer >= 1"),
        (lambda: theory.ecdf_variance_exponent(1.5), "alpha must lie in"),
        (lambda: theory.heuristic_error(0.0, 0.5, 10), "p must be in"),
        (lambda: theory.heuristic_error(0.5, 1.5, 10), "alpha must be in"),
        (lambda: theory.ecdf_expected_ise(PAPER_TRUTH, [1.0, 0.0], 5, 5, 3), "grid must be"),
        (lambda: theory.local_exponents(pd.DataFrame({"n": [1]}), by=None), "must name columns"),
        (
            lambda: theory.local_exponents(
                pd.DataFrame({"n": [1], "error": [1.0]}), by=None, last_fraction=1.0
            ),
            r"last_fraction must be in \(0, 1\)",
        ),
    ],
)
def test_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# --------------------------------------------------------------------------- exact E MMD^2
def _gauss_mixture_mmd2(w1, mu1, s1, w2, mu2, s2, sigma):
    """Closed-form MMD^2 between two Gaussian mixtures, Gaussian kernel of width sigma."""

    def cross(wa, ma, sa, wb, mb, sb):
        v = sigma**2 + sa[:, None] ** 2 + sb[None, :] ** 2
        k = sigma / np.sqrt(v) * np.exp(-((ma[:, None] - mb[None, :]) ** 2) / (2 * v))
        return wa @ k @ wb

    a = (np.asarray(w1), np.asarray(mu1, float), np.asarray(s1, float))
    b = (np.asarray(w2), np.asarray(mu2, float), np.asarray(s2, float))
    return cross(*a, *a) - 2 * cross(*a, *b) + cross(*b, *b)


def _grid_gram(grid_size=500, width=0.5):
    from recursive_lib.metrics import masses_from_cdf

    g = PAPER_TRUTH.grid(grid_size)
    p = masses_from_cdf(PAPER_TRUTH.cdf(g))
    return p @ np.exp(-((g[:, None] - g[None, :]) ** 2) / (2 * width**2)) @ p


@pytest.mark.parametrize("alpha", [0.1, 0.5, 1.0])
def test_ecdf_expected_mmd2_is_the_variance_recursion_times_one_minus_the_kernel_mean(alpha):
    # Unbiased accumulate: Cov(cell masses) = c_n (diag p - p p^T), so E MMD^2 = c_n (1 - p^T K p).
    m2 = m2_of(alpha, 50)
    exact = theory.expected_mmd2("ecdf", alpha, 50, 200)
    c = theory.ecdf_variance_coefficients(50, m2, 200)
    np.testing.assert_allclose(exact["mmd2"], c * (1 - _grid_gram()), rtol=1e-10)
    assert exact["M"].tolist() == theory.pool_sizes(50, m2, 200).tolist()


def test_replace_regime_mmd2_is_wright_fisher_decay():
    # Replace (g = 1): v_(n+1) = (1 - 1/m) v_n + (1 - |phi|^2) / m, so E MMD^2 = (1 - p^T K p)(1 - (1 - 1/m)^n).
    n = np.arange(1, 101)
    exact = theory.expected_mmd2("ecdf", 0.0, None, 100, m_total=20, regime="replace")
    np.testing.assert_allclose(exact["mmd2"], (1 - _grid_gram()) * (1 - (1 - 1 / 20) ** n), rtol=1e-10)


def test_fresh_regime_without_synthetic_data_stays_at_one_batch():
    exact = theory.expected_mmd2("ecdf", 1.0, None, 20, m_total=30, regime="fresh")
    np.testing.assert_allclose(exact["mmd2"], (1 - _grid_gram()) / 30, rtol=1e-10)


@pytest.mark.parametrize("h", [0.05, 0.5, 2.0])
def test_plain_kde_expected_mmd2_matches_the_closed_form(h):
    # alpha = 1: E MMD^2 = (E k~(X, X) - E k~(X, X')) / M + MMD^2(P * N(0, h^2), P), k~ the kernel
    # smoothed twice by N(0, h^2): independent of the characteristic-function quadrature.
    P, sigma, T = PAPER_TRUTH, 0.5, 5
    exact = theory.expected_mmd2("kde", 1.0, 50, T, bandwidth=np.full(T, h))["mmd2"].to_numpy()
    s = np.sqrt(sigma**2 + 2 * h**2)
    within = sigma / s
    spread = (
        sigma
        / s
        * (
            P.weights
            @ (
                s
                / np.sqrt(s**2 + P.sds[:, None] ** 2 + P.sds[None] ** 2)
                * np.exp(
                    -((P.means[:, None] - P.means[None]) ** 2)
                    / (2 * (s**2 + P.sds[:, None] ** 2 + P.sds[None] ** 2))
                )
            )
            @ P.weights
        )
    )
    smooth = np.sqrt(P.sds**2 + h**2)
    bias2 = _gauss_mixture_mmd2(P.weights, P.means, smooth, P.weights, P.means, P.sds, sigma)
    M = 50 * np.arange(1, T + 1)
    np.testing.assert_allclose(exact, (within - spread) / M + bias2, rtol=1e-9)


@pytest.mark.parametrize("h, tolerance", [(2.0, 2e-3), (1.0, 1e-5), (0.2, 1e-9)])
def test_grid_quadrature_of_the_kde_mmd_only_loses_the_mass_beyond_the_grid(h, tolerance):
    from recursive_lib.data import Mixture1D
    from recursive_lib.metrics import masses_from_pdf, mmd_grid

    P, g = PAPER_TRUTH, PAPER_TRUTH.grid(500)
    smoothed = Mixture1D(P.weights, P.means, np.sqrt(P.sds**2 + h**2))
    grid = mmd_grid(masses_from_pdf(smoothed.pdf(g), g), masses_from_pdf(P.pdf(g), g), g) ** 2
    closed = _gauss_mixture_mmd2(P.weights, P.means, smoothed.sds, P.weights, P.means, P.sds, 0.5)
    assert abs(grid / closed - 1) < tolerance


def test_kde_expected_ise_of_plain_kde_matches_the_closed_form():
    # alpha = 1: E ISE = (1 / (2 h sqrt(pi)) - integral (P * N(0, h^2))^2) / M + ISE(P * N(0, h^2), P).
    P, h, T = PAPER_TRUTH, 0.3, 4
    exact = theory.kde_expected_ise(1.0, 50, T, np.full(T, h))["ise"].to_numpy()

    def l2(wa, ma, sa, wb, mb, sb):
        v = sa[:, None] ** 2 + sb[None, :] ** 2
        return wa @ (np.exp(-((ma[:, None] - mb[None, :]) ** 2) / (2 * v)) / np.sqrt(2 * np.pi * v)) @ wb

    smooth = np.sqrt(P.sds**2 + h**2)
    a, b = (P.weights, P.means, smooth), (P.weights, P.means, P.sds)
    bias2 = l2(*a, *a) - 2 * l2(*a, *b) + l2(*b, *b)
    var = (1 / (2 * h * np.sqrt(np.pi)) - l2(*a, *a)) / (50 * np.arange(1, T + 1))
    np.testing.assert_allclose(exact, var + bias2, rtol=1e-8)


def test_expected_mmd2_refuses_what_it_cannot_compute():
    with pytest.raises(ValueError, match="not linear"):
        theory.expected_mmd2("ecdf", 0.5, 50, 10, bias_correction=True)
    with pytest.raises(ValueError, match="estimator"):
        theory.expected_mmd2("gmm", 0.5, 50, 10)
    with pytest.raises(ValueError, match="bandwidth"):
        theory.expected_mmd2("kde", 0.5, 50, 10)


def _mc_check(reps, T, **fields):
    """Simulated mean MMD^2 against the exact curve, over ``reps`` repetitions (run in chunks of at
    most 10 000, each with its own seed, to bound memory). Returns the largest ``|z|`` of the mean
    over ``n = 1..T``, and the ``|z|`` and standard error of the pooled ratio: per repetition, the
    mean over ``n`` of ``MMD^2_n / E MMD^2_n`` (one number per repetition, since the iterations of a
    repetition share their history)."""
    from recursive_lib.simulation import Config

    chunks = -(-reps // 10_000)
    sq = []
    for seed in range(chunks):
        size = {"m_total" if fields.get("regime") in ("fresh", "replace") else "m1": 50}
        config = Config(T=T, reps=reps // chunks, seed=seed, **size, **fields)
        sq.append((simulate(config)["mmd"].to_numpy() ** 2).reshape(config.reps, T))
    sq = np.concatenate(sq)
    exact = theory.expected_mmd2(
        config.estimator,
        config.alpha,
        config.m1,
        T,
        m_total=config.m_total,
        regime=config.regime,
        bandwidth=config.bandwidth if config.estimator == "kde" else None,
        bias=config.bias,
        grid_size=config.grid_size,
    )["mmd2"].to_numpy()
    z = (sq.mean(0) - exact) / (sq.std(0, ddof=1) / np.sqrt(len(sq)))
    ratio = (sq / exact).mean(1)
    se = ratio.std(ddof=1) / np.sqrt(len(sq))
    return np.abs(z).max(), abs(ratio.mean() - 1) / se, se


@pytest.mark.parametrize(
    "fields",
    [
        dict(estimator="ecdf", alpha=0.3),
        dict(estimator="kde", alpha=0.5),
        dict(estimator="kde", alpha=0.5, regime="fresh"),
        dict(estimator="ecdf", alpha=0.0, regime="replace"),
    ],
    ids=["ecdf", "kde", "kde-fresh", "ecdf-replace"],
)
def test_expected_mmd2_agrees_with_a_small_simulation(fields):
    z_max, z_pooled, _ = _mc_check(300, 12, **fields)
    assert z_max < 4 and z_pooled < 4


ECDF_BIAS = dict(scale=0.1, mean=2.0, sd=1.0, offset=5.0, rate=0.5)
KDE_BIAS = dict(scale=0.2, mean=3.0, sd=1.0, offset=5.0, rate=0.5)


@pytest.mark.slow
@pytest.mark.parametrize(
    "reps, T, fields",
    [
        (44_000, 20, dict(estimator="ecdf", alpha=0.2)),
        (34_000, 15, dict(estimator="kde", alpha=1.0)),
        (52_000, 8, dict(estimator="kde", alpha=0.25, h0=0.25)),
        (36_000, 30, dict(estimator="ecdf", alpha=0.75, bias=ECDF_BIAS, grid_size=200)),
        (6_000, 20, dict(estimator="kde", alpha=0.25, bias=KDE_BIAS, h0=2.0, bandwidth_exponent=0.5)),
        (44_000, 20, dict(estimator="ecdf", alpha=0.5, regime="accumulate-initial")),
    ],
    ids=["ecdf-0.2", "kde-1", "kde-0.25-narrow", "ecdf-bias-0.75", "kde-bias-0.25", "ecdf-initial"],
)
def test_expected_mmd2_is_the_simulated_mean_to_one_percent(reps, T, fields):
    # Tolerance: 4 standard errors, at each n and for the pooled ratio; the repetitions are chosen
    # so that the pooled ratio's standard error is at most 0.25 %, i.e. the tolerance at most 1 %.
    z_max, z_pooled, se = _mc_check(reps, T, **fields)
    assert se <= 0.0025, f"the check is coarser than 1 %: pooled standard error {se:.4f}"
    assert z_max < 4, f"largest |z| over n = 1..{T}: {z_max:.2f}"
    assert z_pooled < 4, f"pooled ratio off by {z_pooled:.2f} standard errors"


def test_the_kde_engines_bins_move_expected_mmd2_by_less_than_a_thousandth():
    # alpha = 1, no Monte Carlo: the fast engine's pool is M_n i.i.d. bin centres (bin masses of P),
    # its fit the grid density of their KDE, so its E MMD^2 on the grid is exactly
    # (sum_b p_b |psi_b|^2 - |mu|^2) / M_n + |mu - w|^2, psi_b the kernel-projected grid masses of
    # a point at bin centre b, mu = sum_b p_b psi_b, w the truth's grid masses.
    import math

    from recursive_lib.loops.fast import _KdeBins
    from recursive_lib.metrics import kernel_factor, trapezoid_weights

    grid, T = PAPER_TRUTH.grid(500), 10
    h = 0.5 * np.arange(1, T + 1) ** -0.25
    model = _KdeBins(PAPER_TRUTH, grid, 0.5, h.max(), h.min())
    p, L, tw = np.clip(model.probs(PAPER_TRUTH), 0, None), kernel_factor(grid, 0.5), trapezoid_weights(grid)
    exact = theory.expected_mmd2("kde", 1.0, 50, T, bandwidth=h)["mmd2"].to_numpy()
    for n in (1, 10):
        dens = np.exp(-0.5 * ((grid[:, None] - model.centres[None]) / h[n - 1]) ** 2) / (
            h[n - 1] * math.sqrt(2 * math.pi)
        )
        psi = L.T @ (dens * tw[:, None])
        mu, w = psi @ p, L.T @ (PAPER_TRUTH.pdf(grid) * tw)
        engine = ((p * (psi**2).sum(0)).sum() - mu @ mu) / (50 * n) + (mu - w) @ (mu - w)
        assert abs(engine / exact[n - 1] - 1) < 1e-3
