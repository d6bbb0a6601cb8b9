"""snapshots(): the fitted distributions at chosen iterations, and their errors."""

import numpy as np
import pytest

from recursive_lib import theory
from recursive_lib.data import PAPER_TRUTH
from recursive_lib.loops.regimes import synthetic_count
from recursive_lib.simulation import simulate, snapshot_errors, snapshots


@pytest.mark.parametrize("estimator", ["ecdf", "kde"])
def test_snapshots_are_the_runs_of_simulate(estimator):
    kwargs = dict(alpha=0.3, m1=20, reps=3, seed=4, grid_size=80)
    frame = snapshots(estimator=estimator, at=(12, 1, 5), **kwargs)
    assert list(frame.columns) == [
        "rep",
        "n",
        "x",
        "density",
        "cdf",
        "truth_density",
        "truth_cdf",
        "estimator",
        "alpha",
    ]
    assert len(frame) == 3 * 3 * 80 and sorted(frame.n.unique()) == [1, 5, 12]
    errors = snapshot_errors(frame)
    runs = simulate(estimator=estimator, T=12, **kwargs)
    runs = runs[runs.n.isin([1, 5, 12])].sort_values(["rep", "n"])
    np.testing.assert_allclose(errors.sort_values(["rep", "n"]).w1.to_numpy(), runs.w1.to_numpy(), rtol=1e-9)
    assert (errors.ise > 0).all() and (errors.ise < errors.w1).all()


def test_kde_snapshot_is_a_density_and_ecdf_has_none():
    kde = snapshots(estimator="kde", alpha=0.5, at=[3], m1=30, reps=2, seed=0, grid_size=400)
    for _, part in kde.groupby("rep"):
        assert np.trapezoid(part.density, part.x) == pytest.approx(1.0, abs=1e-3)
        assert np.all(np.diff(part.cdf.to_numpy()) >= -1e-12)
    ecdf = snapshots(estimator="ecdf", alpha=0.5, at=[3], m1=30, reps=1, seed=0, grid_size=50)
    assert ecdf.density.isna().all() and ecdf.cdf.between(0, 1).all()


def test_ecdf_mean_ise_matches_the_exact_recursion():
    m1, alpha, reps = 20, 0.3, 600
    frame = snapshots(
        estimator="ecdf", alpha=alpha, at=(1, 4, 16, 40), m1=m1, reps=reps, seed=1, grid_size=200
    )
    errors = snapshot_errors(frame)
    stats = errors.groupby("n").ise.agg(["mean", "std"])
    exact = theory.ecdf_expected_ise(PAPER_TRUTH, PAPER_TRUTH.grid(200), m1, synthetic_count(alpha, m1), 40)[
        stats.index - 1
    ]
    z = (stats["mean"] - exact) / (stats["std"] / np.sqrt(reps))
    assert np.all(np.abs(z) < 4), z


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(at=[]), "at"),
        (dict(at=[0, 3]), "at"),
        (dict(estimator="gmm"), "estimator"),
        (dict(alpha=0.0), "alpha"),
    ],
)
def test_bad_arguments_name_the_parameter(kwargs, message):
    with pytest.raises(ValueError, match=message):
        snapshots(**{"estimator": "ecdf", "at": (1, 2), **kwargs})
