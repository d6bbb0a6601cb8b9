"""The regimes of recursive training: what each model is trained on, and how much of it is real.

One place for the protocol's arithmetic, used by every loop (reference, fast, ensemble), by the
theory and by the charts: ``m2`` from ``alpha`` (:func:`synthetic_count`), the batch sizes of each
regime (:func:`batch_sizes`), the training-set sizes ``M_n`` (:func:`training_sizes`), and the
training set itself as a function of the batches gathered so far (``TRAINING_SETS``).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from recursive_lib._validation import check_choice, check_range

REGIMES = ("accumulate", "fresh", "replace", "accumulate-initial")


def synthetic_count(alpha: float, m1: int) -> int:
    """``m2 = round((1 - alpha) m1 / alpha)``: synthetic points per iteration for real fraction ``alpha``."""
    return int(round((1.0 - alpha) * m1 / alpha))


def _accumulate(real: list, synthetic: list) -> np.ndarray:
    # Everything ever gathered: every real batch and every synthetic batch.
    return np.concatenate(real + synthetic)


def _fresh(real: list, synthetic: list) -> np.ndarray:
    # A new batch: this iteration's real points and the previous model's samples.
    return np.concatenate(real[-1:] + synthetic[-1:])


def _replace(real: list, synthetic: list) -> np.ndarray:
    # Only the previous model's samples (the first model: the initial real batch).
    return synthetic[-1] if synthetic else real[0]


def _accumulate_initial(real: list, synthetic: list) -> np.ndarray:
    # The initial real batch and every synthetic batch, no new real data.
    return np.concatenate(real[:1] + synthetic)


# regime -> function(real batches so far, synthetic batches so far) -> training set of this iteration
TRAINING_SETS: dict[str, Callable[[list, list], np.ndarray]] = {
    "accumulate": _accumulate,
    "fresh": _fresh,
    "replace": _replace,
    "accumulate-initial": _accumulate_initial,
}


def check_alpha(regime: str, alpha) -> float:
    """Validate ``alpha`` for ``regime``: (0, 1] when it sets ``m2 = round((1 - alpha) m1 / alpha)``
    (accumulate, accumulate-initial), [0, 1] for ``fresh`` (the real share of a batch of ``m1``),
    ignored but in [0, 1] for ``replace``."""
    check_choice("regime", regime, REGIMES)
    if regime in ("fresh", "replace"):
        return check_range(f"alpha (regime {regime!r})", alpha, 0.0, 1.0)
    return check_range("alpha", alpha, 0.0, 1.0, low_inclusive=False)


def batch_sizes(regime: str, alpha: float, m1: int) -> tuple[int, int, int]:
    """``(real points at n = 1, real points at each n >= 2, synthetic points drawn after each fit)``.

    - ``accumulate`` (CRT): ``(m1, m1, m2)``, ``m2 = round((1 - alpha) m1 / alpha)``; all kept.
    - ``fresh``: ``(m1, k, m1 - k)``, ``k = round(alpha m1)``: each model trains on a new batch of
      ``m1`` points, ``k`` real and the rest from the previous model (the first batch all real).
    - ``replace``: ``(m1, 0, m1)``: each model trains on ``m1`` samples of the previous one only.
    - ``accumulate-initial``: ``(m1, 0, m2)``: one initial real set, then ``m2`` synthetic points
      per iteration, all kept.
    """
    alpha = check_alpha(regime, alpha)
    if regime == "accumulate":
        return m1, m1, synthetic_count(alpha, m1)
    if regime == "fresh":
        k = int(round(alpha * m1))
        return m1, k, m1 - k
    if regime == "replace":
        return m1, 0, m1
    return m1, 0, synthetic_count(alpha, m1)


def training_sizes(regime: str, alpha: float, m1: int, T: int) -> np.ndarray:
    """``(T,)`` int array: the training-set size ``M_n`` of iteration ``n = 1..T`` in ``regime``."""
    first, later, synth = batch_sizes(regime, alpha, m1)
    n = np.arange(1, T + 1, dtype=np.int64)
    if regime in ("fresh", "replace"):
        return np.full(T, m1, dtype=np.int64)
    return first + (n - 1) * (later + synth)
