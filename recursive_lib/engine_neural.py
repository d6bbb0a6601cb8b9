"""The accumulate loop for the neural quantile sampler, every repetition at once.

Same protocol as :func:`recursive_lib.loop.run_reference` with a
:class:`recursive_lib.estimators.QuantileSampler`, but at each iteration the ``R`` networks (one per
repetition) are trained together as one ensemble (:func:`recursive_lib.estimators.quantile.train_ensemble`:
stacked weights, one optimizer step for all). Every repetition draws its random numbers from its own
Generator in the same order as the reference loop, so the two agree up to floating-point rounding
(a test checks it). Metrics are the 1-D grid metrics of the reference loop, the fit's cdf being the
empirical cdf of ``n_eval`` model samples.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from recursive_lib.estimators.quantile import sample_ensemble, train_ensemble
from recursive_lib.loop import synthetic_count
from recursive_lib.metrics import grid_masses, masses_from_cdf, mmd_grid, w1_grid
from recursive_lib._progress import progress_bar

#: estimators :func:`run_batched` trains as one ensemble over repetitions
BATCHED_ESTIMATORS = ("quantile",)


def run_batched(alpha: float, m1: int, T: int, truth, grid, rngs: Sequence[np.random.Generator],
                mmd_width: float = 0.5, progress: bool = False, hidden=(64, 64, 64),
                negative_slope: float = 0.02, lr: float = 5e-4, weight_decay: float = 1e-3,
                epochs: int = 25, batch_size: int = 4096, n_eval: int = 200_000) -> dict[str, np.ndarray]:
    """Accumulate-regime recursive training of the quantile sampler, ``R = len(rngs)`` repetitions at once.

    Parameters as :func:`recursive_lib.loop.run_reference` plus the sampler's hyper-parameters
    (:class:`recursive_lib.estimators.QuantileSampler`); ``progress`` shows a tqdm bar over
    iterations (silent when the environment variable ``CI`` is set).

    Returns a dict of ``(R, T)`` arrays ``w1``, ``mmd``, ``mean``, ``var``.
    """

    R, m2 = len(rngs), synthetic_count(alpha, m1)
    grid = np.asarray(grid, dtype=float)
    cdf_true = truth.cdf(grid)
    masses_true = grid_masses(truth, grid, use_pdf=False)
    out = {key: np.empty((R, T)) for key in ("w1", "mmd", "mean", "var")}
    pool = np.empty((R, 0))
    for i in progress_bar(range(T), desc="quantile sampler", unit="iteration", enabled=progress):
        real = np.stack([truth.sample(m1, rng) for rng in rngs])            # 1. fresh real data
        pool = np.concatenate([pool[:, : i * m1], real, pool[:, i * m1:]], axis=1)
        params = train_ensemble(pool, rngs, hidden, negative_slope, lr, weight_decay, epochs,
                                batch_size)                                  # 2. fit on the pool
        evals = np.sort(sample_ensemble(params, n_eval, rngs, negative_slope), axis=1)
        cdf = np.stack([np.searchsorted(e, grid, side="right") for e in evals]) / n_eval
        out["w1"][:, i] = w1_grid(cdf, cdf_true, grid)                       # 3. measure
        out["mmd"][:, i] = mmd_grid(masses_from_cdf(cdf), masses_true, grid, mmd_width)
        out["mean"][:, i], out["var"][:, i] = evals.mean(1), evals.var(1)
        synthetic = sample_ensemble(params, m2, rngs, negative_slope)        # 4. synthetic data
        pool = np.concatenate([pool, synthetic], axis=1)
    return out
