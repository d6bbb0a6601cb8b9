"""Gaussian kernel density estimator: fit = the (weighted) sample, sample = pick a point, add N(0, h^2)."""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr
from sklearn.base import BaseEstimator

from recursive_lib._validation import check_range
from recursive_lib.estimators._input import check_fit_input, resample


class GaussianKDE(BaseEstimator):
    """Gaussian KDE ``P_hat = sum_i w_i N(x_i, h^2)``.

    Parameters
    ----------
    bandwidth
        Kernel standard deviation ``h`` (> 0; the paper's ``h_n = h0 n^(-p/2)`` is chosen by the loop).

    Attributes
    ----------
    points_
        ``(M,)`` training points (set by ``fit``, as are the others).
    weights_
        ``(M,)`` their probabilities.
    bandwidth_
        The validated ``bandwidth`` ``h``.
    """

    def __init__(self, bandwidth: float = 0.5):
        self.bandwidth = bandwidth

    def fit(self, x, weights=None):
        """Fit on ``x`` of shape ``(M,)``, optionally with non-negative importance ``weights`` ``(M,)``."""
        self.bandwidth_ = check_range("bandwidth", self.bandwidth, 0.0, np.inf, low_inclusive=False)
        self.points_, self.weights_ = check_fit_input(x, weights)
        self._cum_ = np.cumsum(self.weights_)
        return self

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``(n,)`` draws: a training point picked with probability ``weights_``, plus ``N(0, h^2)``."""
        centre = resample(self.points_, self._cum_, n, rng)
        return centre + self.bandwidth_ * rng.standard_normal(centre.size)

    def _standardised(self, grid):
        grid = np.asarray(grid, dtype=float)
        return (grid[..., None] - self.points_) / self.bandwidth_

    def pdf(self, grid) -> np.ndarray:
        """Density ``f_hat(g)``, same shape as ``grid``."""
        z = self._standardised(grid)
        return np.exp(-0.5 * z**2) @ self.weights_ / (self.bandwidth_ * np.sqrt(2 * np.pi))

    def cdf(self, grid) -> np.ndarray:
        """Distribution function ``F_hat(g)``, same shape as ``grid``."""
        return ndtr(self._standardised(grid)) @ self.weights_

    @property
    def mean_(self) -> float:
        return float(self.weights_ @ self.points_)

    @property
    def var_(self) -> float:
        """Variance of the fitted distribution, the weighted sample variance plus ``h^2``."""
        return float(self.weights_ @ (self.points_ - self.mean_) ** 2 + self.bandwidth_**2)
