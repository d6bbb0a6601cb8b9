"""What the theory predicts: rate exponents, the heuristic error recursion, the exact
finite-``n`` variance of the ECDF under contaminated recursive training (accumulate regime), and the
exact expected MMD of the ECDF and the KDE (:func:`~recursive_lib.theory.expected_mmd2`, every regime, with or without
bias) with the KDE's exact integrated squared error (:func:`~recursive_lib.theory.kde_expected_ise`).

Symbols follow the paper: ``p`` the estimator's baseline rate, ``alpha = m1 / (m1 + m2)`` the real
fraction, ``q`` the bias decay rate, ``M_n`` the pool size the ``n``-th model is fitted on
(``M_1 = m1``, ``M_(n+1) = M_n + m1 + m2``), ``F`` the true distribution function.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
import pandas as pd
from scipy.special import digamma, gammaln

from recursive_lib._validation import check_choice, check_int, check_range
from recursive_lib.data.contamination import BiasSchedule
from recursive_lib.data.truths import PAPER_TRUTH
from recursive_lib.loops.regimes import REGIMES, batch_sizes, synthetic_count
from recursive_lib.metrics import masses_from_cdf
from recursive_lib.rates import ols_by_group

__all__ = [
    "HasCdf",
    "predicted_exponent",
    "pool_sizes",
    "ecdf_variance_coefficients",
    "ecdf_variance_exponent",
    "ecdf_expected_ise",
    "ecdf_w1_bound",
    "ecdf_w1_gaussian",
    "heuristic_error",
    "local_exponents",
    "bias_share",
    "bias_floor",
    "floor_curve",
    "gaussian_replace_variance",
    "gaussian_replace_typical_variance",
    "gaussian_initial_mean_mse",
    "ecdf_replace_support",
]


class HasCdf(Protocol):
    """Anything with a distribution function ``cdf(x)`` (``F``, same shape as ``x``): the truths of
    :mod:`recursive_lib.data.truths` and the contaminating ``Q`` of a bias schedule."""

    def cdf(self, x: np.ndarray) -> np.ndarray: ...


def _scalar_or_array(value: np.ndarray) -> float | np.ndarray:
    return float(value) if np.ndim(value) == 0 else value


def predicted_exponent(
    p: float | np.ndarray, alpha: float | np.ndarray, q: float | np.ndarray | None = None
) -> float | np.ndarray:
    """The paper's rate exponent ``min(p, alpha)``, or ``min(p, alpha, q)`` with a bias decaying at rate ``q``.

    ``E d(P_hat_n, P) = O(n^-exponent)`` (times ``log n`` where two of the terms tie). Broadcasts
    like numpy (``p``, ``alpha``, ``q`` may be arrays or Series); a plain ``float`` for scalars.
    """
    out = np.minimum(np.asarray(p, dtype=float), np.asarray(alpha, dtype=float))
    if q is not None:
        out = np.minimum(out, np.asarray(q, dtype=float))
    return _scalar_or_array(out)


def pool_sizes(m1: int, m2: int, T: int) -> np.ndarray:
    """``(T,)`` int array of pool sizes ``M_n = m1 + (n - 1)(m1 + m2)``, ``n = 1..T`` (accumulate regime)."""
    check_int("m1", m1, 1)
    check_int("m2", m2, 0)
    check_int("T", T, 1)
    return m1 + np.arange(T, dtype=np.int64) * (m1 + m2)


def ecdf_variance_coefficients(m1: int, m2: int, T: int) -> np.ndarray:
    """``(T,)`` array ``c_n`` with ``Var F_hat_n(x) = c_n F(x)(1 - F(x))`` exactly, for every ``x``.

    ``F_hat_n`` is the ECDF of the whole pool of ``M_n`` points (accumulate regime): ``m1`` fresh
    real points per iteration plus ``m2`` synthetic points drawn from ``F_hat_n`` after it is fitted.
    ``c_n`` is the effective inverse sample size (``c_n = 1 / M_n`` without synthetic data).

    Derivation. Fix ``x``, let ``e_n = F_hat_n(x) - F(x)``. The pool of iteration ``n + 1`` is the
    pool of ``n``, plus ``m2`` draws from ``F_hat_n`` (their ECDF at ``x`` is ``F_hat_n + eta_n``),
    plus ``m1`` real draws (``F + r_(n+1)``), so
    ``M_(n+1) e_(n+1) = (M_n + m2) e_n + m1 r_(n+1) + m2 eta_n``.
    The three terms are uncorrelated (``E[eta_n | F_hat_n] = 0``; ``r`` is independent),
    ``Var(m1 r) = m1 F(1 - F)`` and ``Var(m2 eta_n) = m2 E[F_hat_n(1 - F_hat_n)]
    = m2 (F(1 - F) - Var F_hat_n)`` because ``E F_hat_n = F``. Dividing by ``F(1 - F)``:
    ``c_1 = 1 / m1``, ``M_(n+1)^2 c_(n+1) = ((M_n + m2)^2 - m2) c_n + m1 + m2``.
    """
    M = pool_sizes(m1, m2, T).astype(float)
    c = np.empty(T)
    c[0] = 1.0 / m1
    # A scalar loop: the recursion is first order and T is at most ~1e6 (about a second).
    for n in range(T - 1):
        c[n + 1] = (((M[n] + m2) ** 2 - m2) * c[n] + m1 + m2) / M[n + 1] ** 2
    return c


def ecdf_variance_exponent(alpha: float | np.ndarray) -> float | np.ndarray:
    """Asymptotic decay exponent of ``c_n``: ``c_n ~ n^-(2 min(alpha, 1/2))`` (``log n / n`` at ``alpha = 1/2``).

    Why: ``c_(n+1) ~ (1 - alpha / n)^2 c_n + 1 / ((m1 + m2) n^2)``; the homogeneous part decays like
    ``n^(-2 alpha)``, the forcing like ``n^(-1)``, the slower one wins. So the ECDF's root mean
    squared error decays like ``n^-min(alpha, 1/2)`` = ``n^-min(p, alpha)`` with ``p = 1/2``.
    """
    alpha = np.asarray(alpha, dtype=float)
    if np.any((alpha < 0) | (alpha > 1)):
        raise ValueError(f"alpha must lie in [0, 1], got {alpha.tolist()!r}")
    return _scalar_or_array(2.0 * np.minimum(alpha, 0.5))


def _cdf_terms(truth: HasCdf, grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    grid = np.asarray(grid, dtype=float)
    if grid.ndim != 1 or grid.size < 2 or np.any(np.diff(grid) <= 0):
        raise ValueError("grid must be a strictly increasing 1-D array of at least 2 points")
    F = np.asarray(truth.cdf(grid), dtype=float)
    return grid, F * (1.0 - F)


def ecdf_expected_ise(truth: HasCdf, grid: np.ndarray, m1: int, m2: int, T: int) -> np.ndarray:
    """``(T,)`` exact expected integrated squared error ``E integral (F_hat_n - F)^2 dx = c_n integral F(1 - F) dx``.

    ``truth``: anything with ``.cdf(x)`` (``P``); ``grid``: ``(G,)`` increasing points in the units
    of ``x`` covering the support (trapezoid rule, so exact up to quadrature and truncation).
    """
    grid, var_shape = _cdf_terms(truth, grid)
    return ecdf_variance_coefficients(m1, m2, T) * np.trapezoid(var_shape, grid)


def ecdf_w1_bound(truth: HasCdf, grid: np.ndarray, m1: int, m2: int, T: int) -> np.ndarray:
    """``(T,)`` upper bound ``E W1(F_hat_n, F) <= sqrt(c_n) integral sqrt(F(1 - F)) dx`` (Jensen).

    ``E W1 = integral E|e_n(x)| dx`` and ``E|e| <= sqrt(E e^2)`` at every ``x``. Valid for every
    ``n``; loose by the factor ``sqrt(pi / 2) ~ 1.25`` once the errors are near Gaussian, see
    :func:`ecdf_w1_gaussian` for the sharp approximation.
    """
    grid, var_shape = _cdf_terms(truth, grid)
    return np.sqrt(ecdf_variance_coefficients(m1, m2, T)) * np.trapezoid(np.sqrt(var_shape), grid)


def ecdf_w1_gaussian(truth: HasCdf, grid: np.ndarray, m1: int, m2: int, T: int) -> np.ndarray:
    """``(T,)`` Gaussian approximation ``E W1_n ~ sqrt(2 c_n / pi) integral sqrt(F(1 - F)) dx``.

    Exact if each ``e_n(x)`` is Gaussian (``E|Z| = sigma sqrt(2 / pi)``); by the central limit
    theorem it becomes sharp as ``M_n`` grows. It is not a bound in general: for skewed or
    light-tailed errors ``E|e| / sd`` may lie on either side of ``sqrt(2 / pi)``.
    """
    return np.sqrt(2.0 / np.pi) * ecdf_w1_bound(truth, grid, m1, m2, T)


def heuristic_error(p: float, alpha: float, T: int, c: float = 1.0) -> pd.DataFrame:
    """The heuristic error recursion ``e_n = (1 - alpha) (1/n) sum_(k<n) e_k + c n^-p``, ``n = 1..T``.

    Solved in closed form (vectorised, ``T`` up to ~1e7): with ``S_n = sum_(k<=n) e_k``,
    ``S_n = S_(n-1) (1 + (1 - alpha)/n) + c n^-p``, so ``S_n = P_n sum_(k<=n) c k^-p / P_k`` with
    ``P_n = prod_(j<=n) (1 + (1 - alpha)/j) = Gamma(n + 2 - alpha) / (Gamma(2 - alpha) Gamma(n + 1))``.

    Returns a DataFrame with columns ``n`` (1..T) and ``error`` (``e_n``, dimensionless).
    """
    check_range("p", p, 0.0, np.inf, low_inclusive=False)
    check_range("alpha", alpha, 0.0, 1.0)
    check_int("T", T, 1)
    check_range("c", c, 0.0, np.inf, low_inclusive=False)
    n = np.arange(1, T + 1, dtype=float)
    log_P = gammaln(n + 2.0 - alpha) - gammaln(2.0 - alpha) - gammaln(n + 1.0)
    forcing = c * n ** (-p)
    S = np.exp(log_P) * np.cumsum(forcing * np.exp(-log_P))
    S_before = np.concatenate([[0.0], S[:-1]])
    error = (1.0 - alpha) * S_before / n + forcing
    return pd.DataFrame({"n": n.astype(np.int64), "error": error})


def local_exponents(
    curves: pd.DataFrame,
    by: str | Sequence[str] | None = "alpha",
    x: str = "n",
    y: str = "error",
    last_fraction: float = 0.1,
) -> pd.DataFrame:
    """Decay exponent ``-d log y / d log x`` of deterministic curves, fitted where ``x >= last_fraction * max x``.

    ``last_fraction = 0.1`` fits the last decade of each curve. Use it on theory curves
    (:func:`heuristic_error`, :func:`ecdf_variance_coefficients`); for simulated, noisy results use
    :func:`recursive_lib.rates.fit_slopes`. Returns ``*by, exponent, points``.
    """
    by = [] if by is None else [by] if isinstance(by, str) else list(by)
    for column in [x, y, *by]:
        if column not in curves.columns:
            raise ValueError(
                f"x, y and by must name columns of curves, one of {list(curves.columns)}; got {column!r}"
            )
    check_range("last_fraction", last_fraction, 0.0, 1.0, low_inclusive=False, high_inclusive=False)
    x_max = curves.groupby(by, dropna=False)[x].transform("max") if by else curves[x].max()
    window = curves[curves[x] >= last_fraction * x_max]
    if np.any(window[x] <= 0) or np.any(window[y] <= 0):
        raise ValueError(f"columns {x!r} and {y!r} must be > 0 to take logs")
    frame = window[by].copy()
    frame["_lx"] = np.log(window[x].to_numpy(dtype=float))
    frame["_ly"] = np.log(window[y].to_numpy(dtype=float))
    fits = ols_by_group(frame, by, "_lx", "_ly")
    fits["exponent"] = -fits["coef"]
    return fits[by + ["exponent", "points"]]


def bias_share(m1: int, m2: int, b: Sequence[float] | np.ndarray) -> np.ndarray:
    """``(T,)`` share ``beta_n`` of ``Q`` in the expected fit under biased real data (accumulate regime).

    ``b``: the bias ``b_n`` of the real data at ``n = 1..T`` (:meth:`recursive_lib.data.contamination.BiasSchedule.b`).
    For estimators linear in the empirical measure (ECDF exactly; KDE up to its kernel)
    ``E P_hat_n = (1 - beta_n) P + beta_n Q``: a synthetic batch copies the expected fit, so
    ``M_1 beta_1 = m1 b_1`` and ``M_(n+1) beta_(n+1) = (M_n + m2) beta_n + m1 b_(n+1)``.
    The homogeneous part decays like ``n^-alpha``, the forcing like ``n^-q``: the carried bias
    fades at rate ``min(alpha, q)``, and an early-only bias (``b_n = 0`` for ``n > N``) at rate ``alpha``.
    """
    b = np.asarray(b, dtype=float)
    if b.ndim != 1 or b.size == 0 or np.any((b < 0) | (b >= 1)):
        raise ValueError("b must be a non-empty 1-D array of biases in [0, 1)")
    M = pool_sizes(m1, m2, b.size).astype(float)
    beta = np.empty(b.size)
    beta[0] = b[0]
    for n in range(b.size - 1):
        beta[n + 1] = ((M[n] + m2) * beta[n] + m1 * b[n + 1]) / M[n + 1]
    return beta


def bias_floor(truth: HasCdf, q_dist: HasCdf, grid: np.ndarray, share) -> float | np.ndarray:
    """``W1(E P_hat_n, P) = beta_n W1(Q, P) = beta_n integral |F_Q - F| dx`` (trapezoid on ``grid``).

    A lower bound on ``E W1(P_hat_n, P)`` (Jensen), and its limit when the bias never fades
    (``beta_n -> b0``: the plateau ``b0 W1(Q, P)`` of the mixture ``(1 - b0) P + b0 Q``).
    ``share``: scalar or array of ``beta_n``; ``grid`` should cover both ``P`` and ``Q``.
    """
    grid = np.asarray(grid, dtype=float)
    distance = np.trapezoid(np.abs(q_dist.cdf(grid) - truth.cdf(grid)), grid)
    return _scalar_or_array(np.asarray(share, dtype=float) * distance)


def floor_curve(
    schedule: BiasSchedule, alpha: float, m1: int, T: int, grid_size: int = 500, truth=None
) -> pd.DataFrame:
    """Predicted bias floor ``W1(E P_hat_n, P) = beta_n W1(Q, P)``, ``n = 1..T``: columns ``n, value``.

    ``beta_n``: :func:`bias_share` of the schedule's ``b_n`` (the share of ``Q`` carried by the
    pool, accumulate regime with real fraction ``alpha``); with a bias that never fades
    (``rate = 0``) it tends to ``b0``: the plateau ``b0 W1(Q, P)`` of the mixture
    ``(1 - b0) P + b0 Q``. Exact in expectation for the ECDF, a lower bound on ``E W1``; for the
    KDE up to the kernel's own bias. ``W1(Q, P)`` is computed on the evaluation grid
    ``truth.grid(grid_size)``, as the simulated W1 is.
    """
    truth = PAPER_TRUTH if truth is None else truth
    n = np.arange(1, check_int("T", T, 1) + 1)
    share = bias_share(m1, synthetic_count(alpha, m1), np.asarray(schedule.b(n)))
    grid = truth.grid(check_int("grid_size", grid_size, 10))
    return pd.DataFrame({"n": n, "value": bias_floor(truth, schedule.q_dist, grid, share)})


def ecdf_bias_w1(
    schedule: BiasSchedule, alpha: float, m1: int, T: int, grid_size: int = 500, truth=None
) -> pd.DataFrame:
    """The grid ECDF's expected W1 under biased real data (accumulate regime), ``n = 1..T``.

    Exact first two moments, Gaussian shape. At every point ``x`` of the evaluation grid
    ``truth.grid(grid_size)`` the error ``e_n(x) = F_hat_n(x) - F(x)`` has the exact mean
    ``beta_n d(x)``, ``d = F_Q - F`` and ``beta_n`` the :func:`bias_share` of the schedule's ``b_n``,
    and the exact variance ``v_n(x)`` of the recursion (the pool of ``n + 1`` is the pool of ``n``,
    ``m2`` draws from ``F_hat_n`` and ``m1`` draws from ``P_(n+1)``, so with ``G_n = F + beta_n d``
    and ``F_n = F + b_n d``)::

        M_(n+1)^2 v_(n+1) = ((M_n + m2)^2 - m2) v_n + m2 G_n (1 - G_n) + m1 F_(n+1) (1 - F_(n+1)),
        v_1 = F_1 (1 - F_1) / m1,

    which is :func:`ecdf_variance_coefficients` when there is no bias. ``E|e_n(x)|`` is then taken
    as the mean of a folded normal with that mean and variance (exact if ``e_n(x)`` is Gaussian,
    sharp once ``M_n`` is large), and integrated with the trapezoid rule on the grid, as the
    simulated W1 is. The bias part alone is the floor :func:`floor_curve` (Jensen: a lower bound);
    this adds the ECDF's own sampling error to it.

    Returns a DataFrame with columns ``n`` (1..T), ``value`` (the predicted ``E W1(P_hat_n, P)``)
    and ``floor`` (``beta_n W1(Q, P)`` on the same grid).
    """
    from scipy.stats import norm

    truth = PAPER_TRUTH if truth is None else truth
    check_range("alpha", alpha, 0.0, 1.0, low_inclusive=False)
    m1, T = check_int("m1", m1, 1), check_int("T", T, 1)
    m2 = synthetic_count(alpha, m1)
    grid = truth.grid(check_int("grid_size", grid_size, 10))
    weights = np.zeros_like(grid)  # trapezoid rule, as metrics.w1_grid
    weights[:-1] += np.diff(grid) / 2
    weights[1:] += np.diff(grid) / 2
    F = np.asarray(truth.cdf(grid), dtype=float)
    d = np.asarray(schedule.q_dist.cdf(grid), dtype=float) - F
    M = pool_sizes(m1, m2, T).astype(float)
    b = np.asarray(schedule.b(np.arange(1, T + 1)), dtype=float)
    beta = bias_share(m1, m2, b)
    value, floor = np.empty(T), np.empty(T)
    real = F + b[0] * d
    v = real * (1.0 - real) / m1
    for n in range(T):
        mean = beta[n] * d
        sd = np.sqrt(np.maximum(v, 0.0))
        z = np.divide(mean, sd, out=np.zeros_like(mean), where=sd > 0)
        folded = np.where(
            sd > 0,
            sd * np.sqrt(2.0 / np.pi) * np.exp(-(z**2) / 2.0) + mean * (1.0 - 2.0 * norm.cdf(-z)),
            np.abs(mean),
        )
        value[n], floor[n] = folded @ weights, np.abs(mean) @ weights
        if n + 1 < T:
            fit = F + mean
            real = F + b[n + 1] * d
            v = (((M[n] + m2) ** 2 - m2) * v + m2 * fit * (1.0 - fit) + m1 * real * (1.0 - real)) / M[
                n + 1
            ] ** 2
    return pd.DataFrame({"n": np.arange(1, T + 1), "value": value, "floor": floor})


__all__ += ["ecdf_bias_w1"]


def gaussian_replace_variance(sigma2: float, m: int, T: int) -> np.ndarray:
    """``(T,)`` exact ``E[s_n^2] = sigma^2 ((m - 1) / m)^n``, ``n = 1..T``: Gaussian MLE, replace regime.

    The first model is fitted on ``m`` real points (``m_total`` of the replace regime; variance
    ``sigma2``, any distribution); every
    later one on ``m`` samples of the previous fit. The MLE variance has
    ``E[s^2 | previous] = previous variance * (m - 1) / m``, so the variance collapses
    geometrically to 0 (Shumailov et al. 2024).
    """
    check_range("sigma2", sigma2, 0.0, np.inf, low_inclusive=False)
    m = check_int("m", m, 2)
    n = np.arange(1, check_int("T", T, 1) + 1)
    return sigma2 * ((m - 1) / m) ** n


def gaussian_initial_mean_mse(sigma2: float, m1: int, m2: int, T: int) -> np.ndarray:
    """``(T,)`` upper bound on ``E (mu_hat_n - mu)^2`` for the Gaussian MLE, accumulate-initial regime.

    The pool is ``m1`` real points plus ``m2`` synthetic points per iteration (``M_n = m1 + (n - 1) m2``).
    The synthetic batch of fit ``n`` has mean ``mu_hat_n + s_n Z / sqrt(m2)``, so
    ``mu_hat_(n+1) - mu_hat_n = sqrt(m2) s_n Z_n / M_(n+1)``: uncorrelated increments, and with
    ``E s_n^2 <= sigma^2``,
    ``E (mu_hat_n - mu)^2 <= sigma^2 / m1 + sum_(k=1)^(n-1) m2 sigma^2 / M_(k+1)^2``.
    It never falls below the first term (the initial error is never corrected) and stays bounded:
    with ``m2 = m1`` the sum is ``sigma^2 / m1 sum_(k=2)^n 1 / k^2 < (pi^2 / 6 - 1) sigma^2 / m1``,
    so the bound tends to ``(pi^2 / 6) sigma^2 / m1`` (the factor of Gerstgrasser et al. 2024).
    """
    check_range("sigma2", sigma2, 0.0, np.inf, low_inclusive=False)
    m1, m2, T = check_int("m1", m1, 1), check_int("m2", m2, 0), check_int("T", T, 1)
    M = m1 + m2 * np.arange(T, dtype=float)  # no new real points: M_n = m1 + (n - 1) m2
    increments = m2 * sigma2 / M[1:] ** 2
    return sigma2 / m1 + np.concatenate([[0.0], np.cumsum(increments)])


def gaussian_replace_typical_variance(sigma2: float, m: int, T: int) -> np.ndarray:
    """``(T,)`` geometric mean ``exp E log s_n^2 = sigma^2 exp(n (psi((m - 1)/2) + log(2/m)))`` under replace.

    ``m`` is the batch, ``m_total`` of the replace regime. Each refit multiplies the variance by an
    independent ``chi^2_(m-1) / m``, whose log has mean
    ``psi((m - 1)/2) + log(2/m) < log((m - 1)/m)``: the typical run collapses faster than the
    expectation :func:`gaussian_replace_variance`, which rare runs with a large variance carry.
    Exact for a Gaussian truth (the first batch is then Gaussian too).
    """
    check_range("sigma2", sigma2, 0.0, np.inf, low_inclusive=False)
    m = check_int("m", m, 2)
    n = np.arange(1, check_int("T", T, 1) + 1)
    return sigma2 * np.exp(n * (digamma((m - 1) / 2) + np.log(2 / m)))


def ecdf_replace_support(m: int, T: int) -> np.ndarray:
    """``(T,)`` exact expected number of distinct points the ECDF of fit ``n = 1..T`` rests on, replace regime.

    Fit 1 is the ECDF of ``m`` real points (the batch ``m_total`` of the replace regime; ``m``
    distinct values, the truth being continuous);
    fit ``n`` the ECDF of ``m`` draws from fit ``n - 1``. A draw copies a point, so the support can
    only shrink: it is the set of first-batch points that still have descendants (Wright-Fisher
    drift, which ends with one point). Traced backwards, ``k`` lineages pick their parents
    uniformly among ``m`` points, and the number of distinct parents follows the occupancy law of
    ``k`` balls in ``m`` boxes: a Markov chain on ``1..m`` whose ``n - 1`` steps from ``m`` give the
    expectation exactly.
    """
    m = check_int("m", m, 1)
    T = check_int("T", T, 1)
    # occupancy[k, j]: P(k balls in m boxes fill exactly j boxes), one ball at a time.
    occupancy = np.zeros((m + 1, m + 1))
    occupancy[0, 0] = 1.0
    j = np.arange(m + 1)
    for k in range(1, m + 1):
        occupancy[k] = occupancy[k - 1] * j / m
        occupancy[k, 1:] += occupancy[k - 1, :-1] * (m - j[1:] + 1) / m
    lineages = np.zeros(m + 1)
    lineages[m] = 1.0
    out = np.empty(T)
    for n in range(T):
        out[n] = lineages @ j
        lineages = lineages @ occupancy
    return out


# --------------------------------------------------------------------------- exact MMD of linear fits
#: Estimators whose fit is linear in the pool, so that :func:`expected_mmd2` is exact for them.
LINEAR_ESTIMATORS = ("ecdf", "kde")


def fit_error_spectrum(
    phi: np.ndarray,
    phi_q: np.ndarray | None,
    b: np.ndarray,
    h: np.ndarray | None,
    t: np.ndarray,
    sizes: tuple[int, int, int],
    keep: bool,
    weights: np.ndarray,
    block: int = 256,
) -> tuple[np.ndarray, np.ndarray]:
    """``E |phi_hat_n(t) - phi(t)|^2`` of a fit linear in its training set, integrated against ``weights``.

    (One function on purpose: the block loop carries ``A_n`` and ``B_n`` from block to block, and
    pieces would pass a dozen arrays between them.)

    The fit ``n`` is a pool ``S_n`` of ``M_n`` points, smoothed: given the pool its characteristic
    function is ``phi_hat_n(t) = g_n(t) S_n(t) / M_n``, ``S_n(t) = sum_j exp(i t X_j)``, and a
    synthetic point is a pool point picked uniformly plus ``h_n Z`` (``g_n = exp(-h_n^2 t^2 / 2)``;
    ``g_n = 1`` for the ECDF, which resamples the pool). With ``A_n = E S_n``, ``B_n = E |S_n|^2``,
    ``k`` real points and ``m2`` synthetic points joining (the pool kept, ``keep``, or dropped)::

        A_(n+1) = (keep + m2 g_n / M_n) A_n + k phi_(n+1)
        B_(n+1) = (keep + 2 keep m2 g_n / M_n + m2 (m2 - 1) g_n^2 / M_n^2) B_n + m2
                  + 2 Re[(keep + m2 g_n / M_n) A_n conj(k phi_(n+1))] + k + k (k - 1) |phi_(n+1)|^2

    from ``A_1 = m1 phi_1``, ``B_1 = m1 + m1 (m1 - 1) |phi_1|^2``, and
    ``E |phi_hat_n - phi|^2 = g_n^2 B_n / M_n^2 - 2 g_n Re[conj(phi) A_n] / M_n + |phi|^2``.

    Parameters
    ----------
    phi, phi_q
        ``(K,)`` complex: characteristic functions of ``P`` and of the contaminating ``Q`` (``None``
        without bias) at the ``K`` frequencies ``t``.
    b
        ``(T,)`` bias ``b_n``: the real data of iteration ``n`` has ``phi_n = (1 - b_n) phi + b_n phi_q``.
    h
        ``(T,)`` bandwidths ``h_n`` (KDE), or ``None`` (ECDF, ``g_n = 1``).
    t
        ``(K,)`` frequencies, in ``1 / x``.
    sizes
        ``(real points at n = 1, real points at each n >= 2, synthetic points per fit)``, as
        :func:`recursive_lib.loops.regimes.batch_sizes`.
    keep
        ``True`` if the pool is kept (accumulate, accumulate-initial), ``False`` if every model
        trains on a new batch (fresh, replace).
    weights
        ``(K,)`` quadrature weights; the result is ``sum_t error_n(t) weights(t)``.
    block
        Iterations whose coefficients are computed at once (memory ``~ 10 block K`` floats).

    Returns
    -------
    tuple of numpy.ndarray
        ``(M, integrals)``: the ``(T,)`` training-set sizes ``M_n`` and the ``(T,)`` integrals.
    """
    first, later, m2 = sizes
    T = b.size
    M = np.empty(T)
    M[0] = first
    for n in range(1, T):
        M[n] = (M[n - 1] if keep else 0.0) + m2 + later
    kept = 1.0 if keep else 0.0
    counts = np.full(T, float(later))
    counts[0] = first
    weights = np.asarray(weights, dtype=float)
    const = (np.abs(phi) ** 2) @ weights
    out = np.empty(T)
    A = B = None
    for start in range(0, T, block):
        stop = min(T, start + block)
        rows = slice(start, stop)
        # Coefficients of iterations start..stop-1, and the real data of start+1..stop.
        g = np.ones((1, t.size)) if h is None else np.exp(-0.5 * np.outer(h[rows] ** 2, t**2))
        ratio = g / M[rows, None]
        carry = kept + m2 * ratio
        grow = kept + 2.0 * kept * m2 * ratio + m2 * (m2 - 1.0) * ratio**2
        w_sq = (ratio**2 * weights) * np.ones((stop - start, 1))
        w_lin = (2.0 * ratio * weights) * np.conj(phi)
        w_lin = w_lin * np.ones((stop - start, 1))
        nxt = np.arange(start + 1, min(T, stop + 1))
        real = phi if phi_q is None else (1.0 - b[nxt, None]) * phi + b[nxt, None] * phi_q
        real = np.broadcast_to(real, (nxt.size, t.size))
        k = counts[nxt, None]
        k_real = k * real
        k_conj = np.conj(k_real)
        forcing = m2 + k + k * (k - 1.0) * np.abs(real) ** 2
        carry = np.broadcast_to(carry, (stop - start, t.size))
        grow = np.broadcast_to(grow, (stop - start, t.size))
        if A is None:
            phi_1 = phi if phi_q is None else (1.0 - b[0]) * phi + b[0] * phi_q
            A = first * phi_1
            B = first + first * (first - 1.0) * np.abs(phi_1) ** 2
        for j in range(stop - start):
            out[start + j] = B @ w_sq[j] - (A @ w_lin[j]).real + const
            if j >= nxt.size:
                break
            cross = (A * k_conj[j]).real
            B = grow[j] * B + forcing[j] + 2.0 * carry[j] * cross
            A = carry[j] * A + k_real[j]
    return M, out


def _frequencies(t_max: float, t_step: float) -> tuple[np.ndarray, np.ndarray]:
    # Trapezoid nodes on [0, t_max] for an even integrand over the whole line: weights doubled,
    # the node at 0 counted once. The integrands are transforms of differences of points spread
    # over ~20 units of x, and a step s puts the first alias 2 pi / s away: spectrally accurate
    # (the MMD's step 0.1 and the ISE's 0.2 agree with a step of 0.025 to 1e-10 on the paper's laws).
    t = np.arange(0.0, t_max + t_step / 2, t_step)
    w = np.full(t.size, 2.0 * t_step)
    w[0] = t_step
    return t, w


def _linear_fit_setup(
    estimator, alpha, sizes, T, regime, bandwidth, bias, bias_correction, grid_size, truth, t
):
    check_choice("estimator", estimator, LINEAR_ESTIMATORS)
    check_choice("regime", regime, REGIMES)
    if bias_correction:
        raise ValueError(
            "bias_correction=True has no exact curve: the corrected fit divides the importance-weighted "
            "pool by its random total weight, so it is a ratio of two sums, not linear in the pool"
        )
    truth = PAPER_TRUTH if truth is None else truth
    T = check_int("T", T, 1)
    sizes = batch_sizes(regime, alpha, **sizes)
    b = np.zeros(T) if bias is None else np.asarray(bias.b(np.arange(1, T + 1)), dtype=float)
    if estimator == "ecdf":
        # The grid ECDF and its MMD see every law binned to the grid points (metrics.masses_from_cdf):
        # the recursion is exact for those binned laws.
        grid = truth.grid(check_int("grid_size", grid_size, 10))
        wave = np.exp(1j * np.outer(grid, t))

        def charfn(dist):
            return masses_from_cdf(dist.cdf(grid)) @ wave

        h = None
    else:
        if bandwidth is None:
            raise ValueError(
                "bandwidth (a function n -> h_n, or an array of T values) is required for the KDE"
            )
        h = _bandwidths(bandwidth, T)
        if not hasattr(truth, "charfn"):
            raise ValueError(
                f"the KDE's exact curve needs truth.charfn (a characteristic function); {truth!r} has none"
            )

        def charfn(dist):
            return dist.charfn(t)

    phi_q = None if bias is None else charfn(bias.q_dist)
    keep = regime in ("accumulate", "accumulate-initial")
    return dict(phi=charfn(truth), phi_q=phi_q, b=b, h=h, t=t, sizes=sizes, keep=keep)


def expected_mmd2(
    estimator: str,
    alpha: float,
    m1: int | None,
    T: int,
    *,
    m_total: int | None = None,
    regime: str = "accumulate",
    bandwidth=None,
    bias: BiasSchedule | None = None,
    bias_correction: bool = False,
    mmd_width: float = 0.5,
    grid_size: int = 500,
    truth=None,
    t_step: float = 0.1,
) -> pd.DataFrame:
    """Exact ``E MMD^2(P_hat_n, P)``, ``n = 1..T``, of the ECDF or the KDE under recursive training.

    (Long only by this docstring: the computation is :func:`fit_error_spectrum` with the MMD's
    weights.)

    Both fits are linear in their training set, and the MMD with the Gaussian kernel
    ``exp(-(x - y)^2 / (2 sigma^2))`` (``sigma = mmd_width``) is a weighted ``L2`` distance of
    characteristic functions::

        MMD^2(P_hat, P) = (sigma / sqrt(2 pi)) integral |phi_hat(t) - phi(t)|^2 exp(-sigma^2 t^2 / 2) dt,

    so ``E MMD^2`` is the integral of ``E |phi_hat_n - phi|^2``, which the first two moments of the
    pool's empirical characteristic function give exactly (:func:`fit_error_spectrum`). Every regime
    (accumulate, fresh, replace, accumulate-initial) and any bias schedule ``b_n`` (real data from
    ``(1 - b_n) P + b_n Q``) enters only through those moments. ``m1``: real points per iteration
    of the accumulating regimes; fresh and replace take ``m1=None`` and ``m_total``, the batch
    (:func:`recursive_lib.loops.regimes.batch_sizes`).

    Exact for the quantity :func:`recursive_lib.simulation.simulate` reports, up to quadrature:

    - ECDF: the grid metric moves every mass to a grid point (:func:`recursive_lib.metrics.masses_from_cdf`),
      and so does the fast engine, so ``P``, ``Q`` and the fit are the laws binned to
      ``truth.grid(grid_size)``; the result is exact for them.
    - KDE (``bandwidth``: ``n -> h_n``, or ``(T,)`` values): the continuous MMD of the KDE of the
      pool. The simulated MMD differs from it in two ways, both negligible on the paper's grid.
      The grid quadrature is spectrally accurate for the kernel width 0.5 and only misses the kernel
      mass beyond the grid's ends: on the smoothed truth, ``-0.17 %`` of ``MMD^2`` at ``h = 2`` (the
      authors' bias design at ``n = 1``), ``2e-6`` relative at ``h = 1``. The fast engine rounds
      points to bins of width ``<= h_T / 5``: at ``alpha = 1`` the binned engine's exact ``E MMD^2``
      differs from this curve by ``5e-5`` to ``1.4e-4`` relative over the first ten iterations.

    ``bias_correction=True`` raises: the importance-weighted fit divides by its random total weight,
    so it is not linear in the pool. Frequencies: trapezoid on ``[0, 9 / sigma]`` (the weight falls
    to ``e^-40``) with step ``t_step``.

    Returns a DataFrame with columns ``n``, ``M`` (``M_n``), ``mmd2`` (``E MMD^2``, in squared kernel
    units) and ``rms`` (``sqrt(E MMD^2)``, an upper bound on ``E MMD`` by Jensen).
    """
    sigma = check_range("mmd_width", mmd_width, 0.0, np.inf, low_inclusive=False)
    t, w = _frequencies(9.0 / sigma, t_step)
    w = w * sigma / np.sqrt(2.0 * np.pi) * np.exp(-0.5 * (sigma * t) ** 2)
    sizes = {"m1": m1, "m_total": m_total}
    setup = _linear_fit_setup(
        estimator, alpha, sizes, T, regime, bandwidth, bias, bias_correction, grid_size, truth, t
    )
    M, mmd2 = fit_error_spectrum(**setup, weights=w)
    return pd.DataFrame(
        {"n": np.arange(1, T + 1), "M": M.astype(np.int64), "mmd2": mmd2, "rms": np.sqrt(mmd2)}
    )


def kde_expected_ise(
    alpha: float,
    m1: int | None,
    T: int,
    bandwidth,
    *,
    m_total: int | None = None,
    regime: str = "accumulate",
    bias: BiasSchedule | None = None,
    truth=None,
    t_step: float = 0.2,
) -> pd.DataFrame:
    """Exact integrated squared error ``E integral (f_hat_n - f)^2 dx`` of the KDE, ``n = 1..T``.

    Plancherel: ``integral (f_hat - f)^2 dx = (1 / 2 pi) integral |phi_hat(t) - phi(t)|^2 dt``, the
    integral :func:`expected_mmd2` takes with the weight ``1 / (2 pi)`` instead of the MMD's kernel.
    The integrand decays like ``exp(-h_n^2 t^2)``: frequencies up to ``7 / min h_n``. ``m1`` and
    ``m_total`` as in :func:`expected_mmd2`. Returns columns ``n``, ``M``, ``ise`` (units ``1 / x``).
    """
    h = _bandwidths(bandwidth, T)
    t, w = _frequencies(max(7.0 / h.min(), 12.0), t_step)
    sizes = {"m1": m1, "m_total": m_total}
    setup = _linear_fit_setup("kde", alpha, sizes, T, regime, h, bias, False, 500, truth, t)
    M, ise = fit_error_spectrum(**setup, weights=w / (2.0 * np.pi))
    return pd.DataFrame({"n": np.arange(1, T + 1), "M": M.astype(np.int64), "ise": ise})


def _bandwidths(bandwidth, T: int) -> np.ndarray:
    T = check_int("T", T, 1)
    n = np.arange(1, T + 1)
    h = (
        np.array([bandwidth(k) for k in n], dtype=float)
        if callable(bandwidth)
        else np.asarray(bandwidth, float)
    )
    if h.shape != (T,) or not np.all(np.isfinite(h) & (h > 0)):
        raise ValueError(f"bandwidth must give T = {T} finite values > 0, got shape {h.shape}")
    return h


__all__ += ["LINEAR_ESTIMATORS", "fit_error_spectrum", "expected_mmd2", "kde_expected_ise"]
