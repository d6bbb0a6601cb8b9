"""``simulate``: one configuration of contaminated recursive training -> a tidy DataFrame.

Seeding. One integer ``seed`` determines every number. Each repetition ``rep`` gets its own
Generator from ``numpy.random.SeedSequence(seed, spawn_key=(config_key, rep))``, where
``config_key`` is a SHA-256 hash of the configuration's canonical text: every field that changes the
simulated process (estimator, alpha, m1, regime, bandwidth for the KDE, grid_size, truth, engine),
floats written with 12 significant digits; not ``T``, ``reps``, ``seed``, nor ``mmd_width`` (so
changing the MMD width measures the same runs). Both engines use one Generator per repetition, so results are identical on rerun and do
not depend on which other configurations run beside them or on a parallel backend; repetition
``rep`` is the same whatever ``reps`` is, and a run with ``T`` iterations is a prefix of a run with
more (both up to floating-point rounding in the fast engine).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, fields

import numpy as np
import pandas as pd

from recursive_lib._validation import check_choice, check_int, check_range
from recursive_lib.data import PAPER_TRUTH
from recursive_lib.engine import ENGINE_ESTIMATORS, run_fast
from recursive_lib.estimators import ESTIMATORS, make_estimator
from recursive_lib.loop import REGIMES, run_reference, synthetic_count

ENGINES = ("fast", "reference")
BANDWIDTH_ESTIMATORS = ("kde",)   # estimators that use h_n = h0 n^(-bandwidth_exponent)
STAT_COLUMNS = ("rep", "n", "M", "w1", "mmd", "mean", "var")


@dataclass(frozen=True)
class Config:
    """One validated configuration of :func:`simulate` (later issues add fields, e.g. bias)."""

    estimator: str
    alpha: float
    m1: int
    T: int
    reps: int
    seed: int
    regime: str
    p: float
    h0: float
    bandwidth_exponent: float
    grid_size: int
    mmd_width: float
    engine: str
    truth: object

    @property
    def m2(self) -> int:
        return synthetic_count(self.alpha, self.m1)

    def bandwidth(self, n: int) -> float:
        """``h_n = h0 n^(-bandwidth_exponent)``."""
        return self.h0 * n ** (-self.bandwidth_exponent)

    def key(self) -> int:
        """Stable 64-bit hash of the fields that change the simulated process (see module doc)."""
        excluded = {"T", "reps", "seed", "mmd_width"}
        if self.estimator not in BANDWIDTH_ESTIMATORS:
            excluded |= {"p", "h0", "bandwidth_exponent"}
        items = [(f.name, getattr(self, f.name)) for f in fields(self) if f.name not in excluded]
        text = ";".join(f"{name}={_canonical(value)}" for name, value in items)
        return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")

    def rngs(self) -> list[np.random.Generator]:
        """One Generator per repetition, from ``SeedSequence(seed, spawn_key=(key, rep))``."""
        key = self.key()
        return [np.random.default_rng(np.random.SeedSequence(self.seed, spawn_key=(key, rep)))
                for rep in range(self.reps)]


def _canonical(value) -> str:
    if isinstance(value, float):
        return format(value, ".12g")      # 0.1 * 3 and 0.3 give the same stream
    text = repr(value)
    if " at 0x" in text:
        raise ValueError(f"truth must have a stable repr stating its parameters (used for seeding), "
                         f"got {text}")
    return text


def make_config(estimator="kde", alpha=0.5, m1=50, T=2000, reps=100, seed=0, regime="accumulate",
                p=0.5, h0=0.5, bandwidth_exponent=None, grid_size=500, mmd_width=0.5, truth=None,
                engine="fast") -> Config:
    """Validate the arguments of :func:`simulate` and return the :class:`Config`."""
    check_choice("estimator", estimator, tuple(ESTIMATORS))
    check_choice("engine", engine, ENGINES)
    if engine == "fast":
        check_choice("estimator (engine='fast')", estimator, ENGINE_ESTIMATORS)
    check_choice("regime", regime, REGIMES)
    alpha = check_range("alpha", alpha, 0.0, 1.0, low_inclusive=False)
    p = check_range("p", p, 0.0, math.inf, low_inclusive=False)
    h0 = check_range("h0", h0, 0.0, math.inf, low_inclusive=False)
    if bandwidth_exponent is None:
        bandwidth_exponent = p / 2
    bandwidth_exponent = check_range("bandwidth_exponent", bandwidth_exponent, 0.0, math.inf)
    mmd_width = check_range("mmd_width", mmd_width, 0.0, math.inf, low_inclusive=False)
    truth = PAPER_TRUTH if truth is None else truth
    for member in ("sample", "pdf", "cdf", "mean", "var", "grid"):
        if not hasattr(truth, member):
            raise ValueError(f"truth must have sample, pdf, cdf, mean, var and grid; it lacks {member}")
    return Config(estimator=estimator, alpha=alpha, m1=check_int("m1", m1, 1), T=check_int("T", T, 1),
                  reps=check_int("reps", reps, 1), seed=check_int("seed", seed, 0), regime=regime,
                  p=p, h0=h0, bandwidth_exponent=bandwidth_exponent,
                  grid_size=check_int("grid_size", grid_size, 10), mmd_width=mmd_width,
                  engine=engine, truth=truth)


def simulate(estimator: str = "kde", alpha: float = 0.5, m1: int = 50, T: int = 2000,
             reps: int = 100, seed: int = 0, regime: str = "accumulate", p: float = 0.5,
             h0: float = 0.5, bandwidth_exponent: float | None = None, grid_size: int = 500,
             mmd_width: float = 0.5, truth=None, engine: str = "fast") -> pd.DataFrame:
    """Simulate contaminated recursive training and return one row per (repetition, iteration).

    Parameters
    ----------
    estimator : registry name, ``"ecdf"`` or ``"kde"``
    alpha : real fraction ``alpha`` in (0, 1]; ``m2 = round((1 - alpha) m1 / alpha)`` synthetic points
        are added per iteration
    m1 : fresh real points per iteration (integer >= 1)
    T : iterations (>= 1);  reps : repetitions (>= 1);  seed : integer >= 0 (see module doc)
    regime : ``"accumulate"`` (the paper's CRT)
    p : baseline rate of the estimator (> 0), sets the default bandwidth exponent ``p / 2``
    h0, bandwidth_exponent : KDE bandwidth ``h_n = h0 n^(-bandwidth_exponent)`` (h0 > 0, exponent >= 0)
    grid_size : points of the evaluation grid ``truth.grid(grid_size)`` (>= 10)
    mmd_width : Gaussian kernel width of the MMD (> 0)
    truth : the true distribution ``P`` (default the paper's mixture; protocol in :mod:`recursive_lib.data`)
    engine : ``"fast"`` (:mod:`recursive_lib.engine`, vectorised over repetitions) or ``"reference"``
        (:mod:`recursive_lib.loop`, one repetition at a time)

    Returns
    -------
    DataFrame with ``reps * T`` rows and columns ``rep, n, M, w1, mmd, mean, var`` (``M`` is
    ``M_n``; ``mean``, ``var`` are those of the fitted distribution) followed by the configuration:
    ``estimator, alpha, m1, m2, regime, p, h0, bandwidth_exponent, seed, engine``.
    """
    cfg = make_config(estimator, alpha, m1, T, reps, seed, regime, p, h0, bandwidth_exponent,
                      grid_size, mmd_width, truth, engine)
    grid = cfg.truth.grid(cfg.grid_size)
    bandwidth = cfg.bandwidth if cfg.estimator in BANDWIDTH_ESTIMATORS else None
    rngs = cfg.rngs()
    if cfg.engine == "fast":
        res = run_fast(cfg.estimator, cfg.alpha, cfg.m1, cfg.T, cfg.truth, grid, rngs,
                       bandwidth=bandwidth, regime=cfg.regime, mmd_width=cfg.mmd_width)
        stats = {key: res[key] for key in ("w1", "mmd", "mean", "var")}
    else:
        runs = [run_reference(make_estimator(cfg.estimator), cfg.alpha, cfg.m1, cfg.T, cfg.truth,
                              grid, rng, bandwidth=bandwidth, regime=cfg.regime,
                              mmd_width=cfg.mmd_width) for rng in rngs]
        stats = {key: np.stack([run[key] for run in runs]) for key in ("w1", "mmd", "mean", "var")}
    n = np.arange(1, cfg.T + 1)
    frame = pd.DataFrame({
        "rep": np.repeat(np.arange(cfg.reps, dtype=np.int32), cfg.T),
        "n": np.tile(n.astype(np.int32), cfg.reps),
        "M": np.tile(n * cfg.m1 + (n - 1) * cfg.m2, cfg.reps).astype(np.int64),
        **{key: value.ravel() for key, value in stats.items()},
    })
    config_columns = {"estimator": cfg.estimator, "alpha": cfg.alpha, "m1": cfg.m1, "m2": cfg.m2,
                      "regime": cfg.regime, "p": cfg.p, "h0": cfg.h0,
                      "bandwidth_exponent": cfg.bandwidth_exponent, "seed": cfg.seed,
                      "engine": cfg.engine}
    for name, value in config_columns.items():
        frame[name] = pd.Categorical([value] * len(frame)) if isinstance(value, str) else value
    return frame
