"""Truth distributions ``P``.

A *truth* is any object with the five members below; :class:`Mixture1D` is the one the paper uses,
and any other class with the same members (a Student t, a biased stream ``P_n``, ...) works
everywhere a truth is accepted:

- ``sample(n, rng) -> (n,) array``: ``n`` i.i.d. draws, all randomness from the ``numpy`` Generator;
- ``pdf(x)``, ``cdf(x)``: density and distribution function, elementwise on an array of any shape;
- ``mean``, ``var``: properties, the first two moments;
- ``grid(size) -> (size,) array``: the evaluation grid used by the metrics.

Optional: ``charfn(t)``, the characteristic function (complex, shape of ``t``), which the exact
MMD curves of the KDE (:func:`recursive_lib.theory.expected_mmd2`) need.

For reproducible seeding (see :mod:`recursive_lib.simulation`), ``repr(truth)`` must be stable across
runs: it should state the parameters, not a memory address.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np
from scipy.special import ndtr

from recursive_lib._validation import check_int


@runtime_checkable
class Sampler(Protocol):
    """What every truth has, in any dimension: ``sample(n, rng)`` -> ``(n,)`` or ``(n, d)`` draws."""

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray: ...


@runtime_checkable
class Truth(Sampler, Protocol):
    """A one-dimensional truth ``P`` as described above: draws, density, distribution function and
    the evaluation grid (``mean`` and ``var`` too, not listed here so that plain attributes and
    properties both qualify)."""

    def pdf(self, x) -> np.ndarray: ...

    def cdf(self, x) -> np.ndarray: ...

    def grid(self, size: int = 500) -> np.ndarray: ...


class Mixture1D:
    """Gaussian mixture ``sum_k weights[k] N(means[k], sds[k]^2)`` on the real line.

    Parameters
    ----------
    weights, means, sds
        Sequences of length ``K``: mixing weights (positive, summing to 1), component means and
        standard deviations (> 0).
    """

    def __init__(self, weights, means, sds):
        self.weights = np.asarray(weights, dtype=float)
        self.means = np.asarray(means, dtype=float)
        self.sds = np.asarray(sds, dtype=float)
        k = self.weights.shape
        if self.weights.ndim != 1 or self.means.shape != k or self.sds.shape != k or k[0] == 0:
            raise ValueError(
                "weights, means and sds must be 1-D sequences of the same length >= 1, "
                f"got lengths {self.weights.size}, {self.means.size}, {self.sds.size}"
            )
        if np.any(self.weights <= 0) or abs(self.weights.sum() - 1.0) > 1e-9:
            raise ValueError(f"weights must be positive and sum to 1, got {self.weights.tolist()}")
        if np.any(self.sds <= 0) or not np.all(np.isfinite(self.means)):
            raise ValueError(
                f"sds must be > 0 and means finite, got sds={self.sds.tolist()}, means={self.means.tolist()}"
            )

    def __repr__(self) -> str:
        return (
            f"Mixture1D(weights={self.weights.tolist()}, means={self.means.tolist()}, "
            f"sds={self.sds.tolist()})"
        )

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

    def charfn(self, t) -> np.ndarray:
        """Characteristic function ``E exp(i t X) = sum_k w_k exp(i t mu_k - sd_k^2 t^2 / 2)``, complex, shape of ``t``."""
        t = np.asarray(t, dtype=float)[..., None]
        return (self.weights * np.exp(1j * t * self.means - 0.5 * (self.sds * t) ** 2)).sum(-1)

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


#: The truth ``0.35 N(-2, 0.8^2) + 0.65 N(1, 1.3^2)`` of every 1-D simulation in the paper.
PAPER_TRUTH = Mixture1D([0.35, 0.65], [-2.0, 1.0], [0.8, 1.3])


def cell_probabilities(truth, grid) -> np.ndarray:
    """``(G + 1,)`` masses under ``truth`` of the cells ``(-inf, g_0], (g_0, g_1], ..., (g_{G-1}, inf)``.

    A point ``x`` lies in cell ``np.searchsorted(grid, x, side="left")``.
    """
    cdf = truth.cdf(np.asarray(grid, dtype=float))
    probs = np.diff(np.concatenate(([0.0], cdf, [1.0])))
    return np.clip(probs, 0.0, None)


# --- Truths in more than one dimension -------------------------------------------------------
# A multivariate truth has ``dim >= 2``, ``sample(n, rng) -> (n, dim)``, and ``mean`` (first
# coordinate) and ``var`` (total variance, trace of the covariance), the moments the tidy results
# record for a multivariate fit. It has no cdf and no grid: metrics are sample-based
# (:func:`recursive_lib.metrics.w1_points`, :func:`recursive_lib.metrics.mmd2_unbiased`).


class MixtureND:
    """Gaussian mixture ``sum_k weights[k] N(means[k], diag(sds[k]^2))`` in ``d >= 2`` dimensions.

    Parameters
    ----------
    weights
        Shape ``(K,)``: positive mixing weights, summing to 1.
    means
        Shape ``(K, d)``: component means.
    sds
        Shape ``(K, d)``: positive component standard deviations (diagonal covariances).
    """

    def __init__(self, weights, means, sds):
        self.weights = np.asarray(weights, dtype=float)
        self.means = np.asarray(means, dtype=float)
        self.sds = np.asarray(sds, dtype=float)
        k = self.weights.size
        if (
            self.means.ndim != 2
            or self.means.shape[0] != k
            or self.sds.shape != self.means.shape
            or self.means.shape[1] < 2
        ):
            raise ValueError(
                f"means and sds must have shape (K, d) with K = len(weights) = {k} and "
                f"d >= 2, got {self.means.shape} and {self.sds.shape}"
            )
        if np.any(self.weights <= 0) or abs(self.weights.sum() - 1.0) > 1e-9 or np.any(self.sds <= 0):
            raise ValueError("weights must be positive and sum to 1, and sds must be > 0")

    def __repr__(self) -> str:
        return (
            f"MixtureND(weights={self.weights.tolist()}, means={self.means.tolist()}, "
            f"sds={self.sds.tolist()})"
        )

    @property
    def dim(self) -> int:
        return self.means.shape[1]

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``(n, d)`` i.i.d. draws."""
        n = check_int("n", n, 0)
        component = rng.choice(self.weights.size, size=n, p=self.weights)
        return rng.normal(self.means[component], self.sds[component])

    def pdf(self, x) -> np.ndarray:
        """Density at points ``x`` of shape ``(..., d)``."""
        z = (np.asarray(x, dtype=float)[..., None, :] - self.means) / self.sds
        dens = np.exp(-0.5 * (z**2).sum(-1)) / np.prod(self.sds * np.sqrt(2 * np.pi), axis=-1)
        return dens @ self.weights

    @property
    def mean(self) -> float:
        return float(self.weights @ self.means[:, 0])

    @property
    def var(self) -> float:
        mu = self.weights @ self.means
        return float(self.weights @ (self.sds**2 + self.means**2).sum(1) - mu @ mu)


class TwoMoons:
    """scikit-learn's two moons (``sklearn.datasets.make_moons``) as an i.i.d. distribution.

    ``make_moons`` places points at evenly spaced angles; a truth needs i.i.d. draws, so here the
    angle is uniform on ``[0, pi]`` and the moon is picked with probability 1/2: upper moon
    ``(cos t, sin t)``, lower moon ``(1 - cos t, 1/2 - sin t)``, plus ``N(0, noise^2 I)``.
    No closed-form density: metrics are sample-based only.
    """

    dim = 2

    def __init__(self, noise: float = 0.1):
        if not noise > 0:
            raise ValueError(f"noise must be > 0, got {noise!r}")
        self.noise = float(noise)

    def __repr__(self) -> str:
        return f"TwoMoons(noise={self.noise})"

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``(n, 2)`` i.i.d. draws."""
        n = check_int("n", n, 0)
        t = rng.uniform(0.0, np.pi, n)
        lower = rng.random(n) < 0.5
        x = np.where(lower, 1.0 - np.cos(t), np.cos(t))
        y = np.where(lower, 0.5 - np.sin(t), np.sin(t))
        return np.column_stack([x, y]) + self.noise * rng.standard_normal((n, 2))

    @property
    def mean(self) -> float:
        return 0.5

    @property
    def var(self) -> float:
        # Var(cos t) = 1/2 per moon plus the moon offset; Var(y) from E sin = 2/pi, E sin^2 = 1/2.
        var_x = 0.5 + 0.25
        ey = 0.5 * (2 / np.pi) + 0.5 * (0.5 - 2 / np.pi)
        ey2 = 0.5 * 0.5 + 0.5 * (0.25 - 2 / np.pi + 0.5)
        return float(var_x + ey2 - ey**2 + 2 * self.noise**2)


#: A 2-D two-component mixture in the spirit of the paper's 1-D truth.
MIXTURE_2D = MixtureND([0.35, 0.65], [[-2.0, -1.0], [1.0, 1.0]], [[0.8, 0.8], [1.3, 0.9]])
#: scikit-learn's two moons with noise 0.1.
MOONS = TwoMoons(0.1)


def dimension(truth) -> int:
    """``truth.dim`` for a multivariate truth, 1 for the 1-D protocol (which has no ``dim``)."""
    return int(getattr(truth, "dim", 1))
