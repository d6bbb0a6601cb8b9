"""The readable reference loop: contaminated recursive training, one repetition at a time.

This is the paper's protocol written out as plainly as possible (PAPER.md, "One iteration"). The fast
engine (:mod:`recursive_lib.engine`) computes the same statistics for many repetitions at once; a test
proves the two agree.

Iteration ``n = 1, ..., T`` of the *accumulate* regime:

1. draw ``m1`` fresh real points from the truth ``P``;
2. fit the estimator on all real and synthetic points gathered so far,
   ``M_n = n m1 + (n - 1) m2`` points;
3. measure the fit against ``P``: W1, MMD, and the fit's mean and variance;
4. draw ``m2`` synthetic points from the fit and add them to the pool.

Other regimes (``fresh``, ``replace``, ``accumulate-initial``) differ only in what the training set of
step 2 is; each is one entry of ``_TRAINING_SETS``.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
from sklearn.base import clone

from recursive_lib._validation import check_choice, check_int, check_range
from recursive_lib.metrics import grid_masses, mmd_grid, w1_grid

REGIMES = ("accumulate",)


def synthetic_count(alpha: float, m1: int) -> int:
    """``m2 = round((1 - alpha) m1 / alpha)``: synthetic points per iteration for real fraction ``alpha``."""
    return int(round((1.0 - alpha) * m1 / alpha))


def _accumulate(real: list, synthetic: list) -> np.ndarray:
    # Everything ever gathered: every real batch and every synthetic batch.
    return np.concatenate(real + synthetic)


# regime -> function(real batches so far, synthetic batches so far) -> training set of this iteration
_TRAINING_SETS: dict[str, Callable[[list, list], np.ndarray]] = {"accumulate": _accumulate}


def run_reference(estimator, alpha: float, m1: int, T: int, truth, grid, rng: np.random.Generator,
                  bandwidth: Callable[[int], float] | None = None, regime: str = "accumulate",
                  mmd_width: float = 0.5) -> dict[str, np.ndarray]:
    """Run one repetition of the recursive training loop.

    Parameters
    ----------
    estimator : estimator instance (e.g. ``ECDF()``, ``GaussianKDE()``), cloned afresh every iteration
    alpha : real fraction ``alpha`` in (0, 1]; ``m2 = round((1 - alpha) m1 / alpha)``
    m1 : fresh real points per iteration
    T : number of iterations
    truth : the true distribution ``P`` (see :mod:`recursive_lib.data` for the protocol)
    grid : (G,) evaluation grid of the metrics
    rng : the only source of randomness
    bandwidth : ``n -> h_n``, set as the estimator's ``bandwidth`` at iteration ``n`` (KDE), or ``None``
    regime : ``"accumulate"`` (the paper's CRT)
    mmd_width : Gaussian kernel width of the MMD

    Returns
    -------
    dict of ``(T,)`` arrays: ``n``, ``M`` (``M_n``), ``w1``, ``mmd``, ``mean``, ``var`` (the last two
    of the fit ``P_hat_n``).
    """
    alpha = check_range("alpha", alpha, 0.0, 1.0, low_inclusive=False)
    m1 = check_int("m1", m1, 1)
    T = check_int("T", T, 1)
    check_choice("regime", regime, REGIMES)
    m2 = synthetic_count(alpha, m1)
    grid = np.asarray(grid, dtype=float)

    # Fit and truth are put on the grid the same way: densities for smooth fits, cell masses otherwise.
    use_pdf = hasattr(estimator, "pdf")
    cdf_true = truth.cdf(grid)
    masses_true = grid_masses(truth, grid, use_pdf)

    real, synthetic = [], []
    out = {key: np.empty(T) for key in ("n", "M", "w1", "mmd", "mean", "var")}
    for i, n in enumerate(range(1, T + 1)):
        real.append(truth.sample(m1, rng))                       # 1. fresh real data
        train = _TRAINING_SETS[regime](real, synthetic)
        model = clone(estimator)
        if bandwidth is not None:
            model.set_params(bandwidth=bandwidth(n))
        model.fit(train)                                         # 2. fit on the pool
        out["n"][i], out["M"][i] = n, train.size                 # 3. measure
        out["w1"][i] = w1_grid(model.cdf(grid), cdf_true, grid)
        out["mmd"][i] = mmd_grid(grid_masses(model, grid, use_pdf), masses_true, grid, mmd_width)
        out["mean"][i], out["var"][i] = model.mean_, model.var_
        synthetic.append(model.sample(m2, rng))                  # 4. synthetic data for later fits
    out["n"] = out["n"].astype(int)
    out["M"] = out["M"].astype(int)
    return out
