"""Empirical distribution: fit = the (weighted) sample itself, sample = resampling (bootstrap)."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator

from recursive_lib._validation import check_int


def _check_fit_input(x, weights):
    x = np.asarray(x, dtype=float)
    if x.ndim != 1 or x.size == 0:
        raise ValueError(f"x must be a non-empty 1-D array, got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError("x must be finite")
    if weights is None:
        return x, np.full(x.size, 1.0 / x.size)
    weights = np.asarray(weights, dtype=float)
    if weights.shape != x.shape:
        raise ValueError(f"weights must have the shape of x {x.shape}, got {weights.shape}")
    if np.any(weights < 0) or not np.all(np.isfinite(weights)) or weights.sum() <= 0:
        raise ValueError("weights must be finite, >= 0 and not all zero")
    return x, weights / weights.sum()


def resample(points: np.ndarray, cum_weights: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``(n,)`` training points drawn with replacement; ``cum_weights`` is the cumulative sum of their weights."""
    n = check_int("n", n, 0)
    idx = np.searchsorted(cum_weights, rng.random(n) * cum_weights[-1], side="right")
    return points[np.minimum(idx, points.size - 1)]


class ECDF(BaseEstimator):
    """Empirical distribution of the training points; no hyper-parameters.

    Attributes (after ``fit``)
    ----------
    points_ : (M,) sorted training points
    weights_ : (M,) their probabilities (``1/M`` each unless importance weights were given)
    """

    def fit(self, x, weights=None):
        """Fit on ``x`` of shape ``(M,)``, optionally with non-negative importance ``weights`` ``(M,)``."""
        x, w = _check_fit_input(x, weights)
        order = np.argsort(x, kind="stable")
        self.points_ = x[order]
        self.weights_ = w[order]
        self._cum_ = np.cumsum(self.weights_)
        return self

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``(n,)`` draws: training points resampled with replacement, with probabilities ``weights_``."""
        return resample(self.points_, self._cum_, n, rng)

    def cdf(self, grid) -> np.ndarray:
        """``F_hat(g)``: the mass of training points ``<= g``, same shape as ``grid``."""
        idx = np.searchsorted(self.points_, np.asarray(grid, dtype=float), side="right")
        cum = np.concatenate(([0.0], self._cum_))
        return np.minimum(cum[idx], 1.0)

    @property
    def mean_(self) -> float:
        return float(self.weights_ @ self.points_)

    @property
    def var_(self) -> float:
        return float(self.weights_ @ (self.points_ - self.mean_) ** 2)
