"""Intervals mean what they say: the coverage of every interval function the book draws, simulated.

4000 simulated experiments per case: the Monte Carlo standard error of a 95 % coverage is
sqrt(0.95 * 0.05 / 4000) = 0.0034, and the tolerance is 4 of them.
"""

import numpy as np
import pandas as pd
import pytest

from recursive_lib import rates

SIMS = 4000
TOL = 4 * np.sqrt(0.95 * 0.05 / SIMS)


def _experiments(reps: int, seed: int) -> pd.DataFrame:
    values = np.random.default_rng(seed).normal(0.3, 0.1, size=(SIMS, reps))
    return pd.DataFrame(
        {
            "sim": np.repeat(np.arange(SIMS), reps),
            "n": 1,
            "rep": np.tile(np.arange(reps), SIMS),
            "slope": values.ravel(),
        }
    )


@pytest.mark.parametrize("reps", [3, 5, 20])
def test_curve_summary_covers_95_percent(reps):
    summary = rates.curve_summary(_experiments(reps, reps), "slope", by=["sim"])
    covered = ((summary["lo"] <= 0.3) & (0.3 <= summary["hi"])).mean()
    assert abs(covered - 0.95) < TOL, covered


@pytest.mark.parametrize("reps", [3, 5, 20])
def test_summarize_slopes_covers_95_percent(reps):
    summary = rates.summarize_slopes(_experiments(reps, 100 + reps), by="sim")
    covered = ((summary["lo"] <= 0.3) & (0.3 <= summary["hi"])).mean()
    assert abs(covered - 0.95) < TOL, covered


@pytest.mark.parametrize("reps", [3, 5, 20])
def test_t_interval_covers_95_percent(reps):
    values = np.random.default_rng(200 + reps).normal(0.3, 0.1, size=(SIMS, reps))
    hits = [lo <= 0.3 <= hi for _, _, lo, hi, _ in map(rates.t_interval, values)]
    assert abs(np.mean(hits) - 0.95) < TOL


def test_the_bootstrap_is_too_narrow_with_few_repetitions():
    """Why the book does not use it below a few dozen repetitions: at 3 it covers about 76 %."""
    summary = rates.summarize_slopes(
        _experiments(3, 7).query("sim < 1000"), by="sim", method="bootstrap", n_boot=400
    )
    covered = ((summary["lo"] <= 0.3) & (0.3 <= summary["hi"])).mean()
    assert covered < 0.85, covered


def test_one_repetition_has_no_interval():
    out = rates.curve_summary(_experiments(1, 1).query("sim < 3"), "slope", by=["sim"])
    assert out["lo"].isna().all() and out["hi"].isna().all() and (out["reps"] == 1).all()
