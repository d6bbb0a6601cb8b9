"""Samples of the fitted models along one run, for pictures (not for statistics).

:func:`sample_trajectory` runs the steps of the accumulate loop (:func:`recursive_lib.loop.run_reference`)
for one repetition, seeded from ``seed`` alone, and keeps ``n_show`` samples of the fit at chosen
iterations, as a tidy frame for :func:`recursive_lib.plots.sample_scatter`.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np
import pandas as pd

from recursive_lib.data import dimension
from recursive_lib.estimators import make_estimator
from recursive_lib.loop import synthetic_count


def sample_trajectory(estimator: str, alpha: float, m1: int, iterations: Iterable[int], truth,
                      seed: int = 0, n_show: int = 500,
                      estimator_params: dict | None = None) -> pd.DataFrame:
    """``n_show`` samples of the fit at each iteration in ``iterations`` (one repetition, seeded).

    Returns columns ``n, x, y`` (``d = 2``: the two coordinates; ``d = 1``: ``x`` the sample and
    ``y`` its plotting position ``u = rank / (n_show + 1)``, so that ``(u, x)`` traces the fitted
    quantile function), plus ``alpha``. Iteration ``0`` holds ``n_show`` draws of the truth.
    """
    keep = sorted(set(int(n) for n in iterations))
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(7,)))
    m2 = synthetic_count(alpha, m1)
    real, synthetic, frames = [], [], [_tidy(truth.sample(n_show, rng), 0, truth)]
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
