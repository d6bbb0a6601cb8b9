"""Distances between a fitted distribution ``P_hat_n`` and the truth ``P``.

Grid metrics (the paper's): everything is evaluated on a fixed increasing grid ``g`` of ``G`` points.
Arrays may carry leading axes (e.g. repetitions): shapes ``(..., G)`` in, ``(...)`` out.

- :func:`w1_grid`: ``W1 = integral |F_hat - F| dx`` by the trapezoid rule on the grid.
- :func:`mmd_grid`: MMD with a Gaussian kernel, both distributions represented as masses on the
  grid points, ``MMD = sqrt((w_hat - w)^T K (w_hat - w))``, ``K_ij = exp(-(g_i - g_j)^2 / (2 width^2))``.
  Masses come from :func:`masses_from_pdf` (a density: ``pdf * quadrature weights``) or
  :func:`masses_from_cdf` (a discrete distribution such as an ECDF: its mass binned to the grid
  cells). Compare like with like: the truth's masses must be built the same way as the fit's,
  otherwise the half-cell shift between the two conventions puts a floor under the MMD
  (see :func:`grid_masses`).

Sample metric: :func:`w1_samples` wraps POT's ``ot.wasserstein_1d``.

Images: :func:`frechet_distance` between two samples in flattened pixel space (the paper's FD).

Text: :func:`perplexity` of per-token negative log-likelihoods, :func:`entropy` of predictive
distributions, :func:`distinct_n` of word n-grams.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from functools import lru_cache

import numpy as np
from threadpoolctl import threadpool_limits

from recursive_lib._validation import check_int, check_range

_WORD = re.compile(r"[a-z0-9]+")


def _check_grid(grid) -> np.ndarray:
    grid = np.asarray(grid, dtype=float)
    if grid.ndim != 1 or grid.size < 2 or np.any(np.diff(grid) <= 0):
        raise ValueError(
            f"grid must be a 1-D strictly increasing array of >= 2 points, got shape {grid.shape}"
        )
    return grid


def trapezoid_weights(grid) -> np.ndarray:
    """``(G,)`` trapezoid quadrature weights of the grid: ``integral f ~ weights @ f(grid)``."""
    grid = _check_grid(grid)
    dx = np.diff(grid)
    w = np.zeros_like(grid)
    w[:-1] += dx / 2
    w[1:] += dx / 2
    return w


def w1_grid(cdf_hat, cdf_true, grid) -> np.ndarray:
    """Wasserstein-1 distance ``integral |F_hat - F| dx`` on the grid (trapezoid rule).

    Parameters
    ----------
    cdf_hat
        Array of shape ``(..., G)``: ``F_hat`` of the fit at the grid points (leading axes, e.g.
        repetitions, are kept).
    cdf_true
        Array of shape ``(G,)`` or ``(..., G)``: ``F`` of the truth at the grid points.
    grid
        Array of shape ``(G,)``: the grid points, increasing.

    Returns
    -------
    numpy.ndarray
        Shape ``(...)``: the leading axes of the inputs.
    """
    return _w1(cdf_hat, cdf_true, trapezoid_weights(grid))


def _w1(cdf_hat, cdf_true, weights) -> np.ndarray:
    return np.abs(np.asarray(cdf_hat) - np.asarray(cdf_true)) @ weights


def masses_from_pdf(pdf, grid) -> np.ndarray:
    """``(..., G)`` masses on the grid points of a density: ``pdf(g_i) * trapezoid weight_i``."""
    return np.asarray(pdf, dtype=float) * trapezoid_weights(grid)


def masses_from_cdf(cdf) -> np.ndarray:
    """``(..., G)`` masses on the grid points of a distribution known by its cdf on the grid.

    The mass of the cell ``(g_{i-1}, g_i]`` goes to ``g_i``; the two unbounded cells go to the end
    points, so the masses sum to 1. For an ECDF this is exactly its point masses binned to the grid.
    """
    cdf = np.asarray(cdf, dtype=float)
    w = np.diff(cdf, axis=-1, prepend=0.0)
    w[..., -1] += 1.0 - cdf[..., -1]
    return w


def grid_masses(dist, grid, use_pdf: bool) -> np.ndarray:
    """Masses of ``dist`` (anything with ``cdf``, and ``pdf`` if ``use_pdf``) on the grid points.

    Use ``use_pdf=True`` for smooth fits (KDE) and ``False`` for discrete ones (ECDF), and the same
    choice for the truth, so that fit and truth are discretised the same way.
    """
    grid = _check_grid(grid)
    if use_pdf:
        return masses_from_pdf(dist.pdf(grid), grid)
    return masses_from_cdf(dist.cdf(grid))


@lru_cache(maxsize=16)
def _kernel_factor_cached(grid_bytes: bytes, width: float) -> np.ndarray:
    grid = np.frombuffer(grid_bytes, dtype=float)
    gram = np.exp(-((grid[:, None] - grid[None, :]) ** 2) / (2 * width**2))
    with threadpool_limits(1, user_api="blas"):
        # A few tens of ms on one thread; BLAS threads spinning against busy cores take seconds.
        eigval, eigvec = np.linalg.eigh(gram)
    # The Gaussian Gram matrix of a fine grid has a rapidly decaying spectrum; dropping eigenvalues
    # below 1e-13 of the largest changes MMD^2 by < 1e-13 * ||w_hat - w||^2 and makes it G/r times cheaper.
    keep = eigval > 1e-13 * eigval.max()
    factor = eigvec[:, keep] * np.sqrt(eigval[keep])
    factor.setflags(write=False)
    return factor


def kernel_factor(grid, width: float = 0.5) -> np.ndarray:
    """``(G, r)`` matrix ``L`` with ``L L^T = K`` (Gaussian Gram matrix of the grid, low rank ``r``)."""
    grid = _check_grid(grid)
    width = check_range("width", width, 0.0, np.inf, low_inclusive=False)
    return _kernel_factor_cached(np.ascontiguousarray(grid).tobytes(), width)


def mmd_grid(mass_hat, mass_true, grid, width: float = 0.5) -> np.ndarray:
    """MMD with Gaussian kernel of the given width, by grid quadrature.

    Parameters
    ----------
    mass_hat
        Array of shape ``(..., G)``: masses of the fit on the grid points (:func:`masses_from_pdf`
        or :func:`masses_from_cdf`).
    mass_true
        Array of shape ``(G,)`` or ``(..., G)``: masses of the truth, built the same way.
    grid
        Array of shape ``(G,)``: the grid points, increasing.
    width
        Gaussian kernel width, in the units of ``x`` (the paper's 0.5).

    Returns
    -------
    numpy.ndarray
        Shape ``(...)``: ``sqrt((w_hat - w)^T K (w_hat - w))``.
    """
    return _mmd(mass_hat, mass_true, kernel_factor(grid, width))


def _mmd(mass_hat, mass_true, factor) -> np.ndarray:
    diff = np.asarray(mass_hat, dtype=float) - np.asarray(mass_true, dtype=float)
    projected = diff @ factor
    return np.sqrt(np.einsum("...r,...r->...", projected, projected))


class GridMetrics:
    """:func:`w1_grid`, :func:`mmd_grid` and :func:`masses_from_pdf` on one grid, with the grid
    checked and its quadrature weights and kernel factor built once.

    For loops that measure thousands of fits on the same grid (the fast engine): there, checking
    the grid and rebuilding its weights on every call cost as much as the distances. The numbers
    are the functions' own, bit for bit.
    """

    def __init__(self, grid, width: float = 0.5):
        self.grid = _check_grid(grid)
        self.weights = trapezoid_weights(self.grid)
        self.factor = kernel_factor(self.grid, width)

    def w1(self, cdf_hat, cdf_true) -> np.ndarray:
        """:func:`w1_grid` on this grid."""
        return _w1(cdf_hat, cdf_true, self.weights)

    def mmd(self, mass_hat, mass_true) -> np.ndarray:
        """:func:`mmd_grid` on this grid, with this width."""
        return _mmd(mass_hat, mass_true, self.factor)

    def masses_from_pdf(self, pdf) -> np.ndarray:
        """:func:`masses_from_pdf` on this grid."""
        return np.asarray(pdf, dtype=float) * self.weights


def w1_samples(x, y, x_weights=None, y_weights=None) -> float:
    """Wasserstein-1 distance between two 1-D samples (optionally weighted), via ``ot.wasserstein_1d``."""
    import ot

    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    return float(ot.wasserstein_1d(x, y, x_weights, y_weights, p=1))


# --- Sample-based metrics in any dimension (truths without a cdf, e.g. two moons) --------------

#: Up to this many points per sample, W1 is solved exactly (``ot.emd2``).
EXACT_W1_MAX = 2000


def w1_points(x, y, n_projections: int = 200, seed: int = 0) -> float:
    """Wasserstein-1 distance between two point clouds ``(n, d)`` and ``(m, d)`` (uniform weights).

    Exact optimal transport (``ot.emd2``, Euclidean cost) when both samples have at most
    :data:`EXACT_W1_MAX` points; above, the sliced W1 (``ot.sliced_wasserstein_distance`` with
    ``p = 1``, ``n_projections`` random directions drawn from ``seed``), which is cheaper and
    smaller than W1 (an average over 1-D projections), so compare like with like.
    """
    import ot

    x = np.asarray(x, dtype=float).reshape(len(x), -1)
    y = np.asarray(y, dtype=float).reshape(len(y), -1)
    if w1_method(len(x), len(y)) == "exact W1":
        cost = ot.dist(x, y, metric="euclidean")
        return float(
            ot.emd2(np.full(len(x), 1 / len(x)), np.full(len(y), 1 / len(y)), cost, numItermax=1_000_000)
        )
    return float(ot.sliced_wasserstein_distance(x, y, n_projections=n_projections, p=1, seed=seed))


def mmd2_unbiased(x, y, width: float = 0.5) -> float:
    """Unbiased estimate of MMD^2 with the Gaussian kernel ``exp(-|a - b|^2 / (2 width^2))``.

    ``x`` ``(n, d)``, ``y`` ``(m, d)`` (1-D inputs are read as ``d = 1``); the diagonal terms are
    left out of the within-sample means, so the estimate can be slightly negative when ``P_hat = P``.
    """
    width = check_range("width", width, 0.0, np.inf, low_inclusive=False)
    x = np.asarray(x, dtype=float).reshape(len(x), -1)
    y = np.asarray(y, dtype=float).reshape(len(y), -1)

    def gram(a, b):
        sq = (a**2).sum(1)[:, None] + (b**2).sum(1)[None, :] - 2 * a @ b.T
        return np.exp(-np.maximum(sq, 0.0) / (2 * width**2))

    n, m = len(x), len(y)
    kxx, kyy = gram(x, x), gram(y, y)
    xx = (kxx.sum() - np.trace(kxx)) / (n * (n - 1))
    yy = (kyy.sum() - np.trace(kyy)) / (m * (m - 1))
    return float(xx + yy - 2 * gram(x, y).mean())


# --- Frechet distance (images: flattened pixel space, as in the paper) -------------------------


def frechet_distance(x, y) -> float:
    """Frechet distance between the Gaussians fitted to two samples ``(n, ...)`` and ``(m, ...)``.

    ``|mu_x - mu_y|^2 + tr(S_x + S_y - 2 (S_x^(1/2) S_y S_x^(1/2))^(1/2))`` with the sample means and
    covariances (``ddof = 1``) of the flattened rows: the squared W2 distance between
    ``N(mu_x, S_x)`` and ``N(mu_y, S_y)``. The matrix square roots are taken by symmetric eigen
    decompositions (negative rounding errors clipped to 0), which stays real and finite for
    singular covariances, where ``scipy.linalg.sqrtm`` of the non-symmetric ``S_x S_y`` may not.
    Units: squared units of the inputs (squared pixel values).
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    for name, a in (("x", x), ("y", y)):
        if a.ndim < 1 or len(a) < 2:
            raise ValueError(f"{name} must hold at least 2 samples (rows), got shape {a.shape}")
    x = x.reshape(len(x), -1)
    y = y.reshape(len(y), -1)
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"x and y must have the same number of features, got {x.shape[1]} and {y.shape[1]}")
    mean = x.mean(0) - y.mean(0)
    cov_x = np.atleast_2d(np.cov(x, rowvar=False))
    cov_y = np.atleast_2d(np.cov(y, rowvar=False))
    w, v = np.linalg.eigh(cov_x)
    root_x = (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T
    middle = root_x @ cov_y @ root_x
    cross = np.sqrt(np.clip(np.linalg.eigvalsh((middle + middle.T) / 2), 0.0, None)).sum()
    return float(mean @ mean + np.trace(cov_x) + np.trace(cov_y) - 2.0 * cross)


# --- Text: perplexity, entropy, distinct-n ---------------------------------------------------


def words(text: str) -> list[str]:
    """Word tokens of a text: runs of letters and digits (lower case; punctuation dropped)."""
    return _WORD.findall(text.lower())


def distinct_n(texts: str | Iterable[str], n: int) -> float:
    """Distinct-n: distinct word n-grams / word n-grams, pooled over ``texts`` (no n-gram crosses texts).

    ``NaN`` when the texts hold no n-gram. Depends on the sample size: compare at equal sizes.

    >>> distinct_n(["a b a b"], 1), distinct_n(["a b a b"], 2)
    (0.5, 0.6666666666666666)
    """
    n = check_int("n", n, 1)
    texts = [texts] if isinstance(texts, str) else list(texts)
    grams: Counter = Counter()
    for text in texts:
        w = words(text)
        grams.update(tuple(w[i : i + n]) for i in range(len(w) - n + 1))
    total = sum(grams.values())
    return len(grams) / total if total else float("nan")


def perplexity(nll) -> float:
    """``exp(mean nll)``: the perplexity of per-token negative log-likelihoods in nats."""
    nll = np.asarray(nll, dtype=float)
    if nll.size == 0 or not np.all(np.isfinite(nll)) or np.any(nll < 0):
        raise ValueError("nll must be a non-empty array of finite negative log-likelihoods >= 0")
    return float(np.exp(nll.mean()))


def entropy(probs, axis: int = -1) -> np.ndarray:
    """Entropy in nats of distributions along ``axis`` (``0 log 0 = 0``); uniform over V gives ``log V``."""
    probs = np.asarray(probs, dtype=float)
    if probs.size == 0 or np.any(probs < 0) or not np.allclose(probs.sum(axis=axis), 1.0, atol=1e-6):
        raise ValueError("probs must hold probability vectors: entries >= 0 summing to 1 along axis")
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(probs > 0, probs * np.log(probs), 0.0)
    return -terms.sum(axis=axis)


# --- Which sample W1, and its noise floor (multivariate chapter) --------------------------------


def w1_method(n_x: int, n_y: int) -> str:
    """The metric :func:`w1_points` computes for samples of ``n_x`` and ``n_y`` points:
    ``"exact W1"`` (both at most :data:`EXACT_W1_MAX`) or ``"sliced W1"`` (otherwise)."""
    n_x, n_y = check_int("n_x", n_x, 1), check_int("n_y", n_y, 1)
    return "exact W1" if n_x <= EXACT_W1_MAX and n_y <= EXACT_W1_MAX else "sliced W1"


def w1_noise_floor(
    sample, n: int, reps: int = 5, rng: np.random.Generator | None = None, n_projections: int = 50
) -> np.ndarray:
    """``(reps,)`` :func:`w1_points` between two independent samples of ``n`` points of one
    distribution: the value a perfect fit scores, the metric's noise floor at this sample size
    (of order ``n^(-1/2)``; the same metric, exact or sliced, as for two fits of ``n`` points).
    Not the bias floor of :func:`recursive_lib.theory.bias_floor`, which contamination sets.

    ``sample(n, rng) -> (n, d)`` draws from the distribution (a truth's ``sample``); ``rng`` a numpy
    generator (default seed 0); ``n_projections`` as the loops measure (50 directions).
    """
    n = check_int("n", n, 2)
    reps = check_int("reps", reps, 1)
    rng = np.random.default_rng(0) if rng is None else rng
    values = []
    for _ in range(reps):
        x, y = sample(n, rng), sample(n, rng)
        values.append(w1_points(x, y, n_projections=n_projections, seed=int(rng.integers(2**31))))
    return np.asarray(values)
