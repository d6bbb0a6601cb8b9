"""One Gaussian fitted by maximum likelihood: the textbook model of collapse (Shumailov et al. 2024)."""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr
from sklearn.base import BaseEstimator

from recursive_lib._validation import check_int
from recursive_lib.estimators._input import check_fit_input


class Gaussian(BaseEstimator):
    """``N(mu, sigma^2)`` with the (weighted) maximum-likelihood ``mu`` and ``sigma^2``.

    The variance is the MLE (divisor ``M``, not ``M - 1``): refitting ``M`` of its own samples
    shrinks it in expectation by ``(M - 1) / M`` per generation, the collapse of the replace
    regime (:func:`recursive_lib.theory.gaussian_replace_variance`). No hyper-parameters.

    Attributes
    ----------
    mean_
        The fitted ``mu`` (set by ``fit``, as are the others).
    var_
        The fitted ``sigma^2``.
    sd_
        ``sqrt(var_)``.
    """

    def fit(self, x, weights=None):
        """Fit on ``x`` of shape ``(M,)``, optionally with non-negative importance ``weights`` ``(M,)``."""
        x, w = check_fit_input(x, weights)
        self.mean_ = float(w @ x)
        self.var_ = float(w @ (x - self.mean_) ** 2)
        # A sample of identical points has variance 0: keep a tiny floor so cdf and pdf stay defined.
        self.sd_ = max(float(np.sqrt(self.var_)), 1e-12)
        return self

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``(n,)`` draws from ``N(mean_, var_)``."""
        n = check_int("n", n, 0)
        return self.mean_ + self.sd_ * rng.standard_normal(n)

    def pdf(self, grid) -> np.ndarray:
        """Density at ``grid`` (any shape)."""
        z = (np.asarray(grid, dtype=float) - self.mean_) / self.sd_
        return np.exp(-0.5 * z**2) / (self.sd_ * np.sqrt(2 * np.pi))

    def cdf(self, grid) -> np.ndarray:
        """Distribution function at ``grid`` (any shape)."""
        return ndtr((np.asarray(grid, dtype=float) - self.mean_) / self.sd_)
