"""Empirical distribution: fit = the (weighted) sample itself, sample = resampling (bootstrap)."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator

from recursive_lib.estimators._input import check_fit_input, resample


class ECDF(BaseEstimator):
    """Empirical distribution of the training points; no hyper-parameters.

    Attributes
    ----------
    points_
        ``(M,)`` sorted training points (set by ``fit``, as are the others).
    weights_
        ``(M,)`` their probabilities (``1/M`` each unless importance weights were given).
    """

    def fit(self, x, weights=None):
        """Fit on ``x`` of shape ``(M,)``, optionally with non-negative importance ``weights`` ``(M,)``."""
        x, w = check_fit_input(x, weights)
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
