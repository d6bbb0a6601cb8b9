"""Input checks and resampling shared by the estimators."""

from __future__ import annotations

import numpy as np

from recursive_lib._validation import check_int


def check_fit_input(x, weights):
    """``(x, probabilities)``: a finite non-empty 1-D sample and its normalised weights (uniform if None)."""
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


def as_points(x) -> np.ndarray:
    """``(M,)`` or ``(M, d)`` input -> ``(M, d)`` float array, checked finite and non-empty."""
    x = np.asarray(x, dtype=float)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2 or x.shape[0] == 0 or not np.all(np.isfinite(x)):
        raise ValueError(f"x must be a non-empty finite array of shape (M,) or (M, d), got {x.shape}")
    return x
