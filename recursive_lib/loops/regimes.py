"""The regimes of recursive training: what each model is trained on, and how much of it is real.

One place for the protocol's arithmetic, used by every loop (reference, fast, ensemble), by the
theory and by the charts: ``m2`` from ``alpha`` (:func:`synthetic_count`), the batch sizes of each
regime (:func:`batch_sizes`), the training-set sizes ``M_n`` (:func:`training_sizes`), and the
training set itself as a function of the batches gathered so far (``TRAINING_SETS``).

Two size parameters, one per kind of regime (:func:`check_size` takes exactly the one that
applies): ``m1``, the real points per iteration of the accumulating regimes (``accumulate``;
``accumulate-initial``, where only the first batch is real), and ``m_total``, the whole batch each
model of ``fresh`` and ``replace`` trains on (real and synthetic together), as in the continual
runs (:mod:`recursive_lib.loops.continual`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from recursive_lib._validation import check_choice, check_int, check_range

REGIMES = ("accumulate", "fresh", "replace", "accumulate-initial")
#: regimes in which every model trains on one batch of ``m_total`` points (the others take ``m1``)
BATCH_REGIMES = ("fresh", "replace")


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
    (accumulate, accumulate-initial), [0, 1] for ``fresh`` (the real share of a batch of
    ``m_total``), ignored but in [0, 1] for ``replace``."""
    check_choice("regime", regime, REGIMES)
    if regime in BATCH_REGIMES:
        return check_range(f"alpha (regime {regime!r})", alpha, 0.0, 1.0)
    return check_range("alpha", alpha, 0.0, 1.0, low_inclusive=False)


def size_name(regime: str) -> str:
    """The size parameter ``regime`` takes: ``"m_total"`` (fresh, replace) or ``"m1"`` (the others)."""
    check_choice("regime", regime, REGIMES)
    return "m_total" if regime in BATCH_REGIMES else "m1"


def check_size(regime: str, m1: int | None = None, m_total: int | None = None) -> int:
    """The size parameter of ``regime``, validated (an integer >= 1): ``m1`` for the accumulating
    regimes, ``m_total`` for ``fresh`` and ``replace``; giving the other one (not ``None``) is an
    error that names both."""
    name = size_name(regime)
    given, other = (m_total, m1) if name == "m_total" else (m1, m_total)
    if other is not None:
        wrong = "m1" if name == "m_total" else "m_total"
        raise ValueError(
            f"regime {regime!r} takes {name} ({_SIZE_MEANING[name]}), not {wrong} "
            f"({_SIZE_MEANING[wrong]}); got {wrong} = {other!r}"
        )
    if given is None:
        raise ValueError(f"regime {regime!r} needs {name} ({_SIZE_MEANING[name]}), an integer >= 1")
    return check_int(name, given, 1)


_SIZE_MEANING = {
    "m1": "real points per iteration of the accumulating regimes",
    "m_total": "points in each batch of the fresh and replace regimes",
}


def batch_sizes(
    regime: str, alpha: float, m1: int | None = None, *, m_total: int | None = None
) -> tuple[int, int, int]:
    """``(real points at n = 1, real points at each n >= 2, synthetic points drawn after each fit)``.

    - ``accumulate`` (CRT): ``(m1, m1, m2)``, ``m2 = round((1 - alpha) m1 / alpha)``; all kept.
    - ``fresh``: ``(m_total, k, m_total - k)``, ``k = round(alpha m_total)``: each model trains on
      a new batch of ``m_total`` points, ``k`` real and the rest from the previous model (the first
      batch all real).
    - ``replace``: ``(m_total, 0, m_total)``: each model trains on ``m_total`` samples of the
      previous one only.
    - ``accumulate-initial``: ``(m1, 0, m2)``: one initial real set, then ``m2`` synthetic points
      per iteration, all kept.

    ``m1`` or ``m_total``: the one the regime takes (:func:`check_size`).
    """
    alpha = check_alpha(regime, alpha)
    size = check_size(regime, m1, m_total)
    if regime == "accumulate":
        return size, size, synthetic_count(alpha, size)
    if regime == "fresh":
        k = int(round(alpha * size))
        return size, k, size - k
    if regime == "replace":
        return size, 0, size
    return size, 0, synthetic_count(alpha, size)


def training_sizes(
    regime: str, alpha: float, m1: int | None, T: int, *, m_total: int | None = None
) -> np.ndarray:
    """``(T,)`` int array: the training-set size ``M_n`` of iteration ``n = 1..T`` in ``regime``
    (``m1``, or ``None`` and ``m_total``, as :func:`batch_sizes`)."""
    first, later, synth = batch_sizes(regime, alpha, m1, m_total=m_total)
    n = np.arange(1, T + 1, dtype=np.int64)
    if regime in BATCH_REGIMES:
        return np.full(T, first, dtype=np.int64)
    return first + (n - 1) * (later + synth)
