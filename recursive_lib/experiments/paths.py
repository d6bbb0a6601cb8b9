"""Samples of the fitted models along one run, for pictures, and the ECDF's shrinking support.

:func:`sample_trajectory` runs the steps of the accumulate loop (:func:`recursive_lib.loops.reference.run_reference`)
for one repetition, seeded from ``seed`` alone, and keeps ``n_show`` samples of the fit at chosen
iterations, as a tidy frame for :func:`recursive_lib.plots.sample_scatter`.
:func:`ecdf_support` follows the distinct training points of the ECDF under the fixed-size regimes.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from recursive_lib._rng import generator
from recursive_lib._validation import check_choice, check_int
from recursive_lib.data.truths import dimension
from recursive_lib.estimators import make_estimator
from recursive_lib.loops.regimes import REGIMES, batch_sizes, check_alpha, synthetic_count


def sample_trajectory(
    estimator: str,
    alpha: float,
    m1: int,
    iterations: Iterable[int],
    truth,
    seed: int = 0,
    n_show: int = 500,
    estimator_params: dict | None = None,
) -> pd.DataFrame:
    """``n_show`` samples of the fit at each iteration in ``iterations`` (one repetition, seeded).

    Returns columns ``n, x, y`` (``d = 2``: the two coordinates; ``d = 1``: ``x`` the sample and
    ``y`` its plotting position ``u = rank / (n_show + 1)``, so that ``(u, x)`` traces the fitted
    quantile function), plus ``alpha``. Iteration ``0`` holds ``n_show`` draws of the truth.
    """
    keep = sorted(set(int(n) for n in iterations))
    rng = generator(seed, 7)
    m2 = synthetic_count(alpha, m1)
    real: list[np.ndarray] = []
    synthetic: list[np.ndarray] = []
    frames = [_tidy(truth.sample(n_show, rng), 0, truth)]
    for n in range(1, max(keep) + 1):
        real.append(truth.sample(m1, rng))
        model = make_estimator(estimator, **(estimator_params or {}))
        model.set_params(random_state=rng)
        model.fit(np.concatenate(real + synthetic))
        if n in keep:
            frames.append(_tidy(model.sample(n_show, rng), n, truth))
        synthetic.append(model.sample(m2, rng))
    return pd.concat(frames, ignore_index=True).assign(alpha=alpha)


def _tidy(points: np.ndarray, n: int, truth) -> pd.DataFrame:
    if dimension(truth) > 1:
        return pd.DataFrame({"n": n, "x": points[:, 0], "y": points[:, 1]})
    x = np.sort(points)
    return pd.DataFrame({"n": n, "x": x, "y": np.arange(1, x.size + 1) / (x.size + 1)})


def ecdf_support(
    regime: str, alpha: float, m_total: int, T: int, reps: int, truth, seed: int = 0
) -> pd.DataFrame:
    """How much of the truth the ECDF's training set still covers, iteration by iteration.

    A synthetic ECDF draw is a copy of a training point, so only real points ever bring new
    support. Under ``replace`` (and, less, ``fresh``) copies crowd out the originals: the number of
    distinct training points falls and the tails go first. Simulated point by point for the two
    regimes whose training set is one batch of ``m_total`` points
    (:func:`recursive_lib.loops.regimes.batch_sizes`); under ``accumulate`` the support is every
    real point so far (``n m1``), under ``accumulate-initial`` the first batch (``m1``), exactly,
    with no simulation needed.

    Returns one row per ``(rep, n)``: ``distinct`` (distinct training points of fit ``n``) and
    ``coverage``, the truth's mass between the smallest and largest of them, plus ``regime`` and
    ``alpha``.
    """
    check_choice("regime", regime, ("fresh", "replace"))
    alpha = check_alpha(regime, alpha)
    m_total = check_int("m_total", m_total, 1)
    T, reps = check_int("T", T, 1), check_int("reps", reps, 1)
    k = batch_sizes(regime, alpha, m_total=m_total)[1]
    rng = generator(check_int("seed", seed, 0), REGIMES.index(regime), int(round(alpha * 1e6)))
    batch = truth.sample(reps * m_total, rng).reshape(reps, m_total)
    distinct, coverage = np.empty((reps, T)), np.empty((reps, T))
    for n in range(T):
        if n:
            copies = np.take_along_axis(batch, rng.integers(0, m_total, (reps, m_total - k)), axis=1)
            batch = np.concatenate([truth.sample(reps * k, rng).reshape(reps, k), copies], axis=1)
        ordered = np.sort(batch, axis=1)
        distinct[:, n] = 1 + (np.diff(ordered, axis=1) > 0).sum(axis=1)
        coverage[:, n] = truth.cdf(ordered[:, -1]) - truth.cdf(ordered[:, 0])
    return pd.DataFrame(
        {
            "rep": np.repeat(np.arange(reps), T),
            "n": np.tile(np.arange(1, T + 1), reps),
            "distinct": distinct.ravel(),
            "coverage": coverage.ravel(),
            "regime": regime,
            "alpha": alpha,
        }
    )
