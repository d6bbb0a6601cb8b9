"""End to end: simulated slopes follow min(p, alpha) away from the tie (engine -> rates -> theory)."""

import numpy as np
import pytest

from recursive_lib import rates, simulate, theory
from recursive_lib.loops.regimes import synthetic_count

M1, T, REPS, BURN_IN = 50, 1000, 40, 30


@pytest.mark.parametrize("alpha", [0.2, 0.8])
def test_ecdf_slopes_follow_the_minimum_rule(alpha):
    """The mean per-repetition slope of log W1 on log M_n lies within 4 standard errors (Student-t
    over 40 repetitions) of the slope of the exact theory curve sqrt(c_n) fitted over the same
    window, and that finite-window prediction is within 0.01 of the asymptotic min(1/2, alpha)."""
    df = simulate(estimator="ecdf", alpha=alpha, m1=M1, T=T, reps=REPS, seed=11)
    slopes = rates.fit_slopes(df, "w1", burn_in=BURN_IN, by="alpha")
    mean, se, _, _, reps = rates.t_interval(slopes["slope"])
    m2 = synthetic_count(alpha, M1)
    c = theory.ecdf_variance_coefficients(M1, m2, T)
    M = theory.pool_sizes(M1, m2, T)
    window = np.arange(1, T + 1) > BURN_IN
    window_slope = -np.polyfit(np.log(M[window]), 0.5 * np.log(c[window]), 1)[0]
    assert reps == REPS
    assert abs(mean - window_slope) < 4 * se, (mean, se, window_slope)
    assert abs(window_slope - theory.predicted_exponent(0.5, alpha)) < 0.01
