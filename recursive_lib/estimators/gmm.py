"""Gaussian mixture (scikit-learn's ``GaussianMixture``), in one or more dimensions.

Fit: expectation-maximisation with ``n_components`` components (a fixed knob, default 2: the
truths of the book are two-component mixtures in 1-D and 2-D; with ``n_components="bic"`` the
number is chosen in 1 ... ``max_components`` by the Bayesian information criterion, refitted at
every iteration). Sampling draws from the fitted mixture with the caller's Generator. The EM
initialisation is seeded from the estimator's ``random_state`` Generator, so one seed determines
every number.
"""

from __future__ import annotations

import functools

import numpy as np
from scipy.special import ndtr
from sklearn.base import BaseEstimator
from sklearn.mixture import GaussianMixture
from threadpoolctl import ThreadpoolController

from recursive_lib._rng import as_generator
from recursive_lib._validation import check_int
from recursive_lib.estimators._input import as_points


@functools.cache
def _controller() -> ThreadpoolController:
    """The BLAS and OpenMP thread pools of the process, found once (``threadpool_limits`` looks
    them up at every call, milliseconds each)."""
    return ThreadpoolController()


class GMM(BaseEstimator):
    """Gaussian mixture ``sum_k w_k N(mu_k, Sigma_k)`` fitted by EM (full covariances).

    Parameters
    ----------
    n_components
        Integer >= 1, or ``"bic"`` (choose 1 ... ``max_components`` by BIC)
    max_components
        Upper end of the BIC search
    random_state
        ``None``, int or ``numpy`` Generator (the EM initialisation's seed is drawn from it)

    Attributes
    ----------
    model_
        The fitted scikit-learn ``GaussianMixture`` (set by ``fit``, as are the others).
    dim_
        Dimension ``d`` of the training points.
    mean_
        1-D: the mean; ``d > 1``: the mean of the first coordinate.
    var_
        1-D: the variance; ``d > 1``: the total variance ``trace(Sigma)``.
    """

    def __init__(self, n_components=2, max_components: int = 5, random_state=None):
        self.n_components = n_components
        self.max_components = max_components
        self.random_state = random_state

    def fit(self, x, weights=None):
        """Fit on ``x`` of shape ``(M,)`` or ``(M, d)``; importance ``weights`` are not supported."""
        if weights is not None:
            raise ValueError("weights are not supported by the GMM estimator (pass weights=None)")
        x = as_points(x)
        rng = as_generator(self.random_state)
        if self.n_components == "bic":
            ks = range(1, check_int("max_components", self.max_components, 1) + 1)
        else:
            ks = [check_int("n_components", self.n_components, 1)]
        with _controller().limit(limits=1):
            # The problems are small: BLAS and OpenMP (k-means) threads only cost time here, and
            # spinning against busy cores (parallel workers, other chapters) they cost seconds.
            fits = [
                GaussianMixture(k, covariance_type="full", random_state=int(rng.integers(2**31))).fit(x)
                for k in ks
                if k <= x.shape[0]
            ]
            # one candidate (a fixed n_components) needs no criterion
            self.model_ = fits[0] if len(fits) == 1 else min(fits, key=lambda m: m.bic(x))
        self.dim_ = x.shape[1]
        return self

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``(n,)`` draws in 1-D, ``(n, d)`` otherwise, all randomness from ``rng``."""
        n = check_int("n", n, 0)
        m = self.model_
        comp = rng.choice(m.weights_.size, size=n, p=m.weights_ / m.weights_.sum())
        z = rng.standard_normal((n, self.dim_))
        chol = np.linalg.cholesky(m.covariances_)
        out = m.means_[comp] + np.einsum("nij,nj->ni", chol[comp], z)
        return out[:, 0] if self.dim_ == 1 else out

    def _sd_1d(self):
        return np.sqrt(self.model_.covariances_[:, 0, 0])

    def pdf(self, grid) -> np.ndarray:
        """Density at ``grid``: 1-D, any shape; d > 1, points of shape ``(G, d)``."""
        if self.dim_ == 1:
            g = np.asarray(grid, dtype=float)
            z = (g[..., None] - self.model_.means_[:, 0]) / self._sd_1d()
            return (self.model_.weights_ * np.exp(-0.5 * z**2) / (self._sd_1d() * np.sqrt(2 * np.pi))).sum(-1)
        return np.exp(self.model_.score_samples(np.asarray(grid, dtype=float)))

    def cdf(self, grid) -> np.ndarray:
        """Distribution function at ``grid`` (1-D fits only)."""
        if self.dim_ != 1:
            raise ValueError("cdf exists for 1-D fits only")
        z = (np.asarray(grid, dtype=float)[..., None] - self.model_.means_[:, 0]) / self._sd_1d()
        return (self.model_.weights_ * ndtr(z)).sum(-1)

    @property
    def mean_(self) -> float:
        return float(self.model_.weights_ @ self.model_.means_[:, 0])

    @property
    def var_(self) -> float:
        m = self.model_
        mu = m.weights_ @ m.means_
        second = np.einsum("k,kii->", m.weights_, m.covariances_) + m.weights_ @ (m.means_**2).sum(1)
        return float(second - mu @ mu)
