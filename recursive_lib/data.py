"""Truth distributions ``P``.

A *truth* is any object with the five members below; :class:`Mixture1D` is the one the paper uses,
and any other class with the same members (a Student t, a biased stream ``P_n``, ...) works
everywhere a truth is accepted:

- ``sample(n, rng) -> (n,) array``: ``n`` i.i.d. draws, all randomness from the ``numpy`` Generator;
- ``pdf(x)``, ``cdf(x)``: density and distribution function, elementwise on an array of any shape;
- ``mean``, ``var``: properties, the first two moments;
- ``grid(size) -> (size,) array``: the evaluation grid used by the metrics.

For reproducible seeding (see :func:`recursive_lib.simulate`), ``repr(truth)`` must be stable across
runs: it should state the parameters, not a memory address.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr

from recursive_lib._validation import check_int


class Mixture1D:
    """Gaussian mixture ``sum_k weights[k] N(means[k], sds[k]^2)`` on the real line.

    Parameters
    ----------
    weights, means, sds : sequences of length K
        Mixing weights (positive, summing to 1), component means and standard deviations (> 0).
    """

    def __init__(self, weights, means, sds):
        self.weights = np.asarray(weights, dtype=float)
        self.means = np.asarray(means, dtype=float)
        self.sds = np.asarray(sds, dtype=float)
        k = self.weights.shape
        if self.weights.ndim != 1 or self.means.shape != k or self.sds.shape != k or k[0] == 0:
            raise ValueError("weights, means and sds must be 1-D sequences of the same length >= 1, "
                             f"got lengths {self.weights.size}, {self.means.size}, {self.sds.size}")
        if np.any(self.weights <= 0) or abs(self.weights.sum() - 1.0) > 1e-9:
            raise ValueError(f"weights must be positive and sum to 1, got {self.weights.tolist()}")
        if np.any(self.sds <= 0) or not np.all(np.isfinite(self.means)):
            raise ValueError(f"sds must be > 0 and means finite, got sds={self.sds.tolist()}, "
                             f"means={self.means.tolist()}")

    def __repr__(self) -> str:
        return (f"Mixture1D(weights={self.weights.tolist()}, means={self.means.tolist()}, "
                f"sds={self.sds.tolist()})")

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``(n,)`` i.i.d. draws from ``P``."""
        n = check_int("n", n, 0)
        component = rng.choice(self.weights.size, size=n, p=self.weights)
        return rng.normal(self.means[component], self.sds[component])

    def pdf(self, x) -> np.ndarray:
        """Density of ``P`` at ``x`` (any shape)."""
        z = (np.asarray(x, dtype=float)[..., None] - self.means) / self.sds
        return (self.weights * np.exp(-0.5 * z**2) / (self.sds * np.sqrt(2 * np.pi))).sum(-1)

    def cdf(self, x) -> np.ndarray:
        """Distribution function ``F`` of ``P`` at ``x`` (any shape)."""
        z = (np.asarray(x, dtype=float)[..., None] - self.means) / self.sds
        return (self.weights * ndtr(z)).sum(-1)

    @property
    def mean(self) -> float:
        return float(self.weights @ self.means)

    @property
    def var(self) -> float:
        return float(self.weights @ (self.sds**2 + self.means**2) - self.mean**2)

    def grid(self, size: int = 500) -> np.ndarray:
        """``(size,)`` evenly spaced points from ``min(mu - 6 sd)`` to ``max(mu + 6 sd)`` (paper's grid)."""
        size = check_int("size", size, 2)
        return np.linspace((self.means - 6 * self.sds).min(), (self.means + 6 * self.sds).max(), size)


#: The truth of every 1-D simulation in the paper: ``0.35 N(-2, 0.8^2) + 0.65 N(1, 1.3^2)``.
PAPER_TRUTH = Mixture1D([0.35, 0.65], [-2.0, 1.0], [0.8, 1.3])


def cell_probabilities(truth, grid) -> np.ndarray:
    """``(G + 1,)`` masses under ``truth`` of the cells ``(-inf, g_0], (g_0, g_1], ..., (g_{G-1}, inf)``.

    A point ``x`` lies in cell ``np.searchsorted(grid, x, side="left")``.
    """
    cdf = truth.cdf(np.asarray(grid, dtype=float))
    probs = np.diff(np.concatenate(([0.0], cdf, [1.0])))
    return np.clip(probs, 0.0, None)
