"""Contaminated real data (the paper's BCRT extension) and its importance-weight correction.

The real points of iteration ``n`` come from ``P_n = (1 - b_n) P + b_n Q`` with the bias schedule

    b_n = scale (n + offset)^(-rate)      for n <= until (every n if until is None), else 0.

``rate`` is the paper's ``q`` (0: a bias that never fades), ``scale`` its ``b0``, ``offset`` its
``n0``; ``until = N`` makes an early-only bias. ``Q = N(mean, sd^2)`` (the authors' scripts:
``N(3, 1)`` with ``b0 = 0.2`` for the KDE, ``N(2, 1)`` with ``b0 = 0.1`` for the ECDF, ``n0 = 5``).

Correction. When the sampling design is known, a real point ``x`` of iteration ``n`` gets the
importance weight ``w_n(x) = dP / dP_n (x) = p(x) / ((1 - b_n) p(x) + b_n q(x))`` (mean 1 under
``P_n``, so a weighted real batch has the law of an unbiased one in expectation); synthetic points
keep weight 1, they come from the model. Estimators that accept ``fit(x, weights)`` (ECDF, KDE,
Gaussian) then fit the weighted pool.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from recursive_lib._validation import check_int, check_range
from recursive_lib.data.truths import Mixture1D

__all__ = ["BiasSchedule", "Contaminated", "importance_weights", "as_schedule"]


@dataclass(frozen=True)
class BiasSchedule:
    """``b_n = scale (n + offset)^(-rate)`` for ``n <= until`` (all ``n`` if ``until`` is None), else 0;
    ``Q = N(mean, sd^2)``. Validated on construction.

    Parameters
    ----------
    rate
        The decay rate ``q >= 0`` (0: a bias that never fades)
    scale
        ``b0`` in (0, 1); with ``offset`` it must keep ``b_1 < 1``
    offset
        ``n0 > -1``
    mean, sd
        The contaminating ``Q = N(mean, sd^2)`` (finite, ``sd > 0``)
    until
        ``None``, or the last biased iteration (an early-only bias)
    """

    rate: float = 0.5
    scale: float = 0.1
    offset: float = 5.0
    mean: float = 3.0
    sd: float = 1.0
    until: int | None = None

    def __post_init__(self):
        checked = dict(
            rate=check_range("bias.rate", self.rate, 0.0, math.inf),
            scale=check_range("bias.scale", self.scale, 0.0, 1.0, low_inclusive=False, high_inclusive=False),
            offset=check_range("bias.offset", self.offset, -1.0, math.inf, low_inclusive=False),
            mean=check_range("bias.mean", self.mean, -math.inf, math.inf),
            sd=check_range("bias.sd", self.sd, 0.0, math.inf, low_inclusive=False),
            until=None if self.until is None else check_int("bias.until", self.until, 1),
        )
        if math.isinf(checked["mean"]) or math.isinf(checked["sd"]):
            raise ValueError(f"bias.mean and bias.sd must be finite, got {self.mean!r}, {self.sd!r}")
        for name, value in checked.items():
            object.__setattr__(self, name, value)
        first = self.scale * (1.0 + self.offset) ** (-self.rate)
        if first >= 1.0:
            raise ValueError(
                f"bias.scale (1 + bias.offset)^(-bias.rate) must be < 1 (b_1 is a probability), got {first:g}"
            )

    def as_dict(self) -> dict[str, Any]:
        """The fields as a plain dict (JSON-like: what a sweep configuration holds)."""
        return asdict(self)

    @property
    def q_dist(self) -> Mixture1D:
        """The contaminating distribution ``Q``."""
        return Mixture1D([1.0], [self.mean], [self.sd])

    def b(self, n) -> np.ndarray | float:
        """Bias ``b_n`` at iteration(s) ``n`` (1-based; array or scalar)."""
        n = np.asarray(n, dtype=float)
        out = self.scale * (n + self.offset) ** (-self.rate)
        if self.until is not None:
            out = np.where(n <= self.until, out, 0.0)
        return float(out) if out.ndim == 0 else out

    def stream(self, truth, n: int) -> Contaminated:
        """The real-data distribution ``P_n`` of iteration ``n``."""
        return Contaminated(truth, self.q_dist, float(self.b(n)))


def as_schedule(bias: BiasSchedule | Mapping[str, Any] | None) -> BiasSchedule | None:
    """``None`` (no bias), a :class:`BiasSchedule`, or a dict of its fields -> a schedule or ``None``."""
    if bias is None or isinstance(bias, BiasSchedule):
        return bias
    if isinstance(bias, Mapping):
        unknown = set(bias) - set(BiasSchedule.__dataclass_fields__)
        if unknown:
            raise ValueError(
                f"bias has unknown fields {sorted(unknown)}; allowed: "
                f"{list(BiasSchedule.__dataclass_fields__)}"
            )
        return BiasSchedule(**bias)
    raise ValueError(f"bias must be None, a BiasSchedule or a dict of its fields, got {bias!r}")


class Contaminated:
    """``(1 - b) P + b Q``: a truth (same protocol as :mod:`recursive_lib.data`) for one iteration."""

    def __init__(self, p_dist, q_dist, b: float):
        self.p_dist, self.q_dist, self.b = p_dist, q_dist, float(b)

    def __repr__(self) -> str:
        return f"Contaminated({self.p_dist!r}, {self.q_dist!r}, b={self.b!r})"

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``(n,)`` draws: ``Binomial(n, b)`` of them from ``Q``, the rest from ``P``."""
        k = int(rng.binomial(n, self.b)) if self.b > 0 else 0
        return np.concatenate([self.q_dist.sample(k, rng), self.p_dist.sample(n - k, rng)])

    def pdf(self, x):
        return (1 - self.b) * self.p_dist.pdf(x) + self.b * self.q_dist.pdf(x)

    def cdf(self, x):
        return (1 - self.b) * self.p_dist.cdf(x) + self.b * self.q_dist.cdf(x)

    def charfn(self, t):
        return (1 - self.b) * self.p_dist.charfn(t) + self.b * self.q_dist.charfn(t)

    @property
    def mean(self) -> float:
        return (1 - self.b) * self.p_dist.mean + self.b * self.q_dist.mean

    @property
    def var(self) -> float:
        second = (1 - self.b) * (self.p_dist.var + self.p_dist.mean**2) + self.b * (
            self.q_dist.var + self.q_dist.mean**2
        )
        return second - self.mean**2

    def grid(self, size: int = 500) -> np.ndarray:
        return self.p_dist.grid(size)


def importance_weights(x, p_dist, q_dist, b: float) -> np.ndarray:
    """``w(x) = p(x) / ((1 - b) p(x) + b q(x))`` = ``dP / dP_n``, shape of ``x``.

    Where both densities underflow (far tails) the weight is set to its limit along ``P``,
    ``1 / (1 - b)``; it never matters for a finite sample.
    """
    p = p_dist.pdf(x)
    mix = (1 - b) * p + b * q_dist.pdf(x)
    safe = mix > 0
    return np.where(safe, p / np.where(safe, mix, 1.0), 1.0 / (1.0 - b))
