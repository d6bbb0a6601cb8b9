"""One configuration of contaminated recursive training -> a tidy DataFrame.

:class:`Config` holds every knob of one simulated configuration, validated once, each defined
once; :func:`simulate` runs it on the engine that fits it and returns one row per (repetition,
iteration). Two forms, the same run::

    simulate(Config(estimator="ecdf", alpha=0.3, T=500))
    simulate(estimator="ecdf", alpha=0.3, T=500)           # keywords, e.g. from a sweep grid

Biased real data is one optional :class:`~recursive_lib.data.contamination.BiasSchedule`
(``bias=BiasSchedule(rate=0.5, scale=0.2, mean=3.0)``, or the same fields as a dict), and
``bias_correction`` fits with importance weights.

Seeding. One integer ``seed`` determines every number. Repetition ``rep`` gets the Generator of
``SeedSequence(seed, spawn_key=(key, rep))`` (:func:`recursive_lib._rng.seed_sequence`), where
``key`` is a 64-bit hash of the configuration's canonical text (:meth:`Config.key`): every field
that changes the simulated process (estimator, alpha, m1 or m_total, regime, bandwidth for the KDE,
grid_size, engine, truth, the bias schedule, estimator_params, metric_samples for multivariate
truths), floats written with 12 significant digits; not ``T``, ``reps``, ``seed``, nor
``mmd_width`` (so changing the MMD width measures the same runs). The bias enters the key only
when there is one (so every unbiased configuration keeps its stream), and ``bias_correction``
never does (a corrected run and its uncorrected twin see the same real data). Every engine uses
one Generator per repetition, so results are identical on rerun and do not depend on which other
configurations run beside them or on a parallel backend; repetition ``rep`` is the same whatever
``reps`` is, and a run with ``T`` iterations is a prefix of a run with more (both up to
floating-point rounding in the fast engine).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from recursive_lib._progress import progress_bar
from recursive_lib._rng import seed_sequence, stable_hash64
from recursive_lib._validation import check_choice, check_fields, check_int, check_memory, check_range
from recursive_lib.data.contamination import BiasSchedule, as_schedule
from recursive_lib.data.truths import PAPER_TRUTH, Truth, dimension
from recursive_lib.estimators import ESTIMATORS, make_estimator
from recursive_lib.loops.ensemble import BATCHED_ESTIMATORS, run_batched
from recursive_lib.loops.fast import ENGINE_ESTIMATORS, run_fast
from recursive_lib.loops.reference import run_reference
from recursive_lib.loops.regimes import (
    REGIMES,
    batch_sizes,
    check_alpha,
    check_size,
    size_name,
    training_sizes,
)
from recursive_lib.metrics import trapezoid_weights

__all__ = ["Config", "simulate", "snapshots", "snapshot_errors", "memory_estimate"]

ENGINES = ("fast", "reference")
DEFAULT_SIZE = 50  # m1, or m_total in the fresh and replace regimes, when neither is given
MULTIVARIATE_ESTIMATORS = ("gmm", "flow")  # families that fit points in d >= 2 dimensions
BANDWIDTH_ESTIMATORS = ("kde",)  # estimators that use h_n = h0 n^(-bandwidth_exponent)
STAT_COLUMNS = ("rep", "n", "M", "w1", "mmd", "mean", "var")
STAT_KEYS = ("w1", "mmd", "mean", "var")  # what every engine returns, (reps, T) each
#: bias columns of the tidy results of a biased run (the schedule's fields, flattened)
BIAS_COLUMNS = (
    "bias_rate",
    "bias_scale",
    "bias_offset",
    "bias_mean",
    "bias_sd",
    "bias_until",
    "bias_correction",
)


def memory_estimate(
    T: int,
    reps: int,
    grid_size: int = 500,
    m1: int = 50,
    alpha: float = 0.5,
    metric_samples: int = 2000,
    *,
    m_total: int | None = None,
) -> float:
    """Bytes :func:`simulate` takes at its peak, estimated: about 260 per (repetition,
    iteration) (the statistics and the tidy frame, measured 205-210), 1 KB per (repetition, grid point) (the
    pools and fitted curves) and the random numbers drawn a block of iterations at a time. An
    upper estimate at the sizes that matter, computed from the sizes alone (``m_total``, when
    given, stands for ``m1``: the random numbers of a fresh or replace batch are no more)."""
    if m_total is not None:
        m1 = m_total
    m2 = (1.0 - alpha) * m1 / alpha if alpha > 0 else 0.0
    return float(
        reps * T * 260 + reps * grid_size * 1024 + reps * 32 * (m1 + m2) * 24 + reps * metric_samples * 16
    )


@dataclass(frozen=True)
class Config:
    """One validated configuration of :func:`simulate`.

    Parameters
    ----------
    estimator
        Registry name (:data:`recursive_lib.estimators.ESTIMATORS`): ``"ecdf"``, ``"kde"``,
        ``"gaussian"``, ``"quantile"``, ``"gmm"``, ``"flow"``
    alpha
        Real fraction :math:`\\alpha = m_1 / (m_1 + m_2)`: in (0, 1] for the accumulating regimes
        (``m2 = round((1 - alpha) m1 / alpha)`` synthetic points per iteration), in [0, 1] for
        ``fresh`` and ``replace`` (:func:`recursive_lib.loops.regimes.batch_sizes`)
    m1
        Fresh real points per iteration, :math:`m_1` (integer >= 1), in the accumulating regimes
        (``accumulate-initial``: the first batch); ``None`` (default 50 where it applies)
    m_total
        Points in each batch of the ``fresh`` and ``replace`` regimes (integer >= 1), real and
        synthetic together; ``None`` (default 50 where it applies). Each regime takes one of
        ``m1`` and ``m_total``: giving the other is an error
        (:func:`recursive_lib.loops.regimes.check_size`)
    T
        Iterations :math:`n = 1, \\dots, T` (>= 1)
    reps
        Repetitions (>= 1)
    seed
        Integer >= 0 (module docstring)
    regime
        ``"accumulate"`` (the paper's CRT), ``"fresh"``, ``"replace"`` or ``"accumulate-initial"``
    p
        Baseline rate :math:`p` of the estimator (> 0); sets the default bandwidth exponent ``p / 2``
    h0, bandwidth_exponent
        KDE bandwidth ``h_n = h0 n^(-bandwidth_exponent)`` (h0 > 0, exponent
        >= 0; ``None``: ``p / 2``)
    grid_size
        Points of the evaluation grid ``truth.grid(grid_size)`` (>= 10)
    mmd_width
        Gaussian kernel width of the MMD (> 0)
    truth
        The true distribution :math:`P` (``None``: the paper's mixture; protocol in
        :mod:`recursive_lib.data.truths`)
    engine
        ``"fast"`` (vectorised over repetitions where an engine exists for the estimator and
        regime) or ``"reference"`` (the readable loop); :attr:`runs_on` says which runs
    bias
        ``None`` (real data from ``P``), or a :class:`~recursive_lib.data.contamination.BiasSchedule`
        (or a dict of its fields): the real points of iteration ``n`` come from
        ``P_n = (1 - b_n) P + b_n Q``
    bias_correction
        Weight real points by ``dP / dP_n`` (the sampling design is assumed known)
    estimator_params
        Hyper-parameters of the estimator (e.g. ``{"epochs": 10}`` for
        ``"quantile"``), stored as sorted pairs; empty: its defaults
    metric_samples
        Multivariate truths: samples behind the W1 and MMD
        (:func:`recursive_lib.loops.measure.make_measure`)
    """

    estimator: str = "kde"
    alpha: float = 0.5
    m1: int | None = None
    m_total: int | None = None
    T: int = 2000
    reps: int = 100
    seed: int = 0
    regime: str = "accumulate"
    p: float = 0.5
    h0: float = 0.5
    bandwidth_exponent: float | None = None
    grid_size: int = 500
    mmd_width: float = 0.5
    truth: Truth | None = None
    engine: str = "fast"
    bias: BiasSchedule | None = None
    bias_correction: bool = False
    estimator_params: Any = ()
    metric_samples: int = 2000

    def __post_init__(self):
        check_choice("estimator", self.estimator, tuple(ESTIMATORS))
        check_choice("engine", self.engine, ENGINES)
        check_choice("regime", self.regime, REGIMES)
        truth = PAPER_TRUTH if self.truth is None else self.truth
        needed = (
            ("sample", "pdf", "cdf", "mean", "var", "grid")
            if dimension(truth) == 1
            else ("sample", "mean", "var")
        )
        for member in needed:
            if not hasattr(truth, member):
                raise ValueError(f"truth must have {', '.join(needed)}; it lacks {member}")
        if dimension(truth) > 1:
            check_choice("estimator (multivariate truth)", self.estimator, MULTIVARIATE_ESTIMATORS)
        if not isinstance(self.bias_correction, (bool, np.bool_)):
            raise ValueError(f"bias_correction must be True or False, got {self.bias_correction!r}")
        exponent = self.bandwidth_exponent
        sizes = {"m1": self.m1, "m_total": self.m_total}
        if self.m1 is None and self.m_total is None:
            sizes[size_name(self.regime)] = DEFAULT_SIZE
        size = check_size(self.regime, **sizes)
        sizes = {name: size if value is not None else None for name, value in sizes.items()}
        checked = dict(
            alpha=check_alpha(self.regime, self.alpha),  # fresh and replace accept alpha = 0
            **sizes,
            T=check_int("T", self.T, 1),
            reps=check_int("reps", self.reps, 1),
            seed=check_int("seed", self.seed, 0),
            p=check_range("p", self.p, 0.0, math.inf, low_inclusive=False, high_inclusive=False),
            h0=check_range("h0", self.h0, 0.0, math.inf, low_inclusive=False, high_inclusive=False),
            bandwidth_exponent=None
            if exponent is None
            else check_range("bandwidth_exponent", exponent, 0.0, math.inf, high_inclusive=False),
            grid_size=check_int("grid_size", self.grid_size, 10),
            mmd_width=check_range(
                "mmd_width", self.mmd_width, 0.0, math.inf, low_inclusive=False, high_inclusive=False
            ),
            truth=truth,
            bias=as_schedule(self.bias),
            bias_correction=bool(self.bias_correction),
            estimator_params=_estimator_params(self.estimator, self.estimator_params),
            metric_samples=check_int("metric_samples", self.metric_samples, 10),
        )
        for name, value in checked.items():
            object.__setattr__(self, name, value)
        check_memory(
            "this configuration",
            self.memory_estimate,
            f"T = {self.T} x reps = {self.reps}, grid_size = {self.grid_size}, "
            f"{size_name(self.regime)} = {self.size}, alpha = {self.alpha:g}",
        )

    @property
    def size(self) -> int:
        """The size the regime takes, ``m1`` or (fresh and replace) ``m_total``."""
        size = self.m1 if self.m_total is None else self.m_total
        if size is None:  # never after __post_init__, which sets the regime's size
            raise ValueError("a Config without m1 or m_total")
        return size

    @property
    def sizes(self) -> dict[str, int | None]:
        """``{"m1": ..., "m_total": ...}`` (the one the regime does not take is ``None``): the
        keywords of the loops and of :func:`recursive_lib.loops.regimes.batch_sizes`."""
        return {"m1": self.m1, "m_total": self.m_total}

    @property
    def memory_estimate(self) -> float:
        """Bytes its run takes at its peak, estimated from its sizes (:func:`memory_estimate`)."""
        return memory_estimate(self.T, self.reps, self.grid_size, self.size, self.alpha, self.metric_samples)

    @classmethod
    def from_fields(cls, **fields) -> Config:
        """``Config(**fields)``, with an unknown name reported as a ``ValueError`` that lists the
        fields and suggests the closest one."""
        check_fields("configuration", fields, [f.name for f in dataclasses.fields(cls)])
        return cls(**fields)

    def replace(self, **changes) -> Config:
        """A copy with ``changes`` applied (validated again)."""
        return Config.from_fields(
            **{**{f.name: getattr(self, f.name) for f in dataclasses.fields(self)}, **changes}
        )

    @property
    def m2(self) -> int:
        """Synthetic points drawn after each fit (:func:`recursive_lib.loops.regimes.batch_sizes`)."""
        return batch_sizes(self.regime, self.alpha, **self.sizes)[2]

    @property
    def exponent(self) -> float:
        """The bandwidth exponent in use, ``bandwidth_exponent`` or ``p / 2`` when it is ``None``."""
        return self.p / 2 if self.bandwidth_exponent is None else self.bandwidth_exponent

    def bandwidth(self, n: int) -> float:
        """``h_n = h0 n^(-exponent)``."""
        return self.h0 * n ** (-self.exponent)

    @property
    def runs_on(self) -> str:
        """The engine that runs, ``"fast"`` where one exists for the estimator, regime and bias
        (ECDF and KDE in every regime; the neural ensembles in the unbiased accumulate regime),
        ``"reference"`` otherwise."""
        if self.engine == "reference":
            return "reference"
        if self.estimator in ENGINE_ESTIMATORS:
            return "fast" if dimension(self.truth) == 1 else "reference"
        if self.estimator in BATCHED_ESTIMATORS and self.regime == "accumulate" and self.bias is None:
            return "fast"
        return "reference"

    def key(self) -> int:
        """Stable 64-bit hash of the fields that change the simulated process (module docstring)."""
        items = [
            ("estimator", self.estimator),
            ("alpha", self.alpha),
            # The size, m1 or m_total, under the label "m1" it had before the two were told apart,
            # so that every configuration keeps its stream.
            ("m1", self.size),
            ("regime", self.regime),
        ]
        if self.estimator in BANDWIDTH_ESTIMATORS:
            items += [("p", self.p), ("h0", self.h0), ("bandwidth_exponent", self.exponent)]
        items += [("grid_size", self.grid_size), ("engine", self.runs_on), ("truth", self.truth)]
        if self.bias is not None:
            items += list(self._bias_columns().items())[:-1]  # never bias_correction
        if self.estimator_params:
            items.append(("estimator_params", self.estimator_params))
        if dimension(self.truth) > 1:
            items.append(("metric_samples", self.metric_samples))
        return stable_hash64(";".join(f"{name}={_canonical(value)}" for name, value in items))

    def rngs(self) -> list[np.random.Generator]:
        """One Generator per repetition, from ``SeedSequence(seed, spawn_key=(key, rep))``."""
        key = self.key()
        return [np.random.default_rng(seed_sequence(self.seed, key, rep)) for rep in range(self.reps)]

    def columns(self) -> dict[str, Any]:
        """The configuration columns of the tidy results (bias columns only for a biased run)."""
        out = {
            "estimator": self.estimator,
            "alpha": self.alpha,
            size_name(self.regime): self.size,
            "m2": self.m2,
            "regime": self.regime,
            "p": self.p,
            "h0": self.h0,
            "bandwidth_exponent": self.exponent,
            "seed": self.seed,
            "engine": self.runs_on,
        }
        if self.bias is not None:
            out.update(self._bias_columns())
        return out

    def _bias_columns(self) -> dict[str, Any]:
        b = self.bias
        if b is None:
            return {}
        return dict(
            zip(
                BIAS_COLUMNS,
                (b.rate, b.scale, b.offset, b.mean, b.sd, b.until, self.bias_correction),
                strict=True,
            )
        )


def _truth(config: Config) -> Truth:
    """The truth of ``config`` (``None`` stands for the paper's mixture)."""
    return PAPER_TRUTH if config.truth is None else config.truth


def _canonical(value) -> str:
    if isinstance(value, float):
        return format(value, ".12g")  # 0.1 * 3 and 0.3 give the same stream
    text = repr(value)
    if " at 0x" in text:
        raise ValueError(
            f"truth must have a stable repr stating its parameters (used for seeding), got {text}"
        )
    return text


def _estimator_params(estimator: str, params) -> tuple:
    params = dict(params or {})
    allowed = set(make_estimator(estimator).get_params()) - {"random_state"}
    unknown = set(params) - allowed
    if unknown:
        raise ValueError(
            f"estimator_params for {estimator!r} must be among {sorted(allowed)}; got {sorted(params)}"
        )
    return tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in params.items()))


def _as_config(config: Config | None, fields: dict) -> Config:
    if config is None:
        return Config.from_fields(**fields)
    if not isinstance(config, Config):
        raise ValueError(f"config must be a Config (or pass keyword fields), got {type(config).__name__}")
    return config.replace(**fields) if fields else config


def simulate(config: Config | None = None, /, *, progress: bool = False, **fields) -> pd.DataFrame:
    """Simulate contaminated recursive training and return one row per (repetition, iteration).

    ``config`` (a :class:`Config`) or its fields as keywords (both: the keywords replace fields of
    ``config``); ``progress`` shows a tqdm bar over repetitions or iterations (silent in CI).

    Estimators and engines: ``"ecdf"``, ``"kde"`` run on the fast engine
    (:mod:`recursive_lib.loops.fast`); ``"quantile"`` and ``"flow"`` on the batched ensemble
    (:mod:`recursive_lib.loops.ensemble`, every repetition trained at once) in the unbiased
    accumulate regime; everything else on the reference loop
    (:mod:`recursive_lib.loops.reference`), as does ``engine="reference"`` (the ``engine``
    column says which ran).

    Returns
    -------
    pandas.DataFrame
        ``reps * T`` rows and columns ``rep, n, M, w1, mmd, mean, var`` (``M`` is the training-set
        size :math:`M_n`; ``w1`` and ``mmd`` are :math:`d(\\hat P_n, P)` for the Wasserstein-1
        distance and the MMD; ``mean``, ``var`` are those of the fitted distribution
        :math:`\\hat P_n`) followed by the configuration:
        ``estimator, alpha, m1, m2, regime, p, h0, bandwidth_exponent, seed, engine`` (``m_total``
        in place of ``m1`` in the fresh and replace regimes); a biased run
        adds ``b_n`` and ``bias_rate, bias_scale, bias_offset, bias_mean, bias_sd, bias_until,
        bias_correction``.
    """
    config = _as_config(config, fields)
    truth = _truth(config)
    grid = truth.grid(config.grid_size) if dimension(truth) == 1 else None
    stats = _run_engine(config, grid, progress)
    return _tidy(config, stats)


def _run_engine(config: Config, grid, progress: bool) -> dict[str, np.ndarray]:
    """The statistics ``STAT_KEYS`` of every repetition, ``(reps, T)`` each, from the engine
    ``config.runs_on`` names."""
    estimator = make_estimator(config.estimator, **dict(config.estimator_params))
    shared: dict[str, Any] = dict(
        alpha=config.alpha,
        m1=config.m1,
        T=config.T,
        truth=_truth(config),
        grid=grid,
        mmd_width=config.mmd_width,
    )
    bandwidth = config.bandwidth if config.estimator in BANDWIDTH_ESTIMATORS else None
    # the batched ensemble runs the accumulate regime only: m_total is for the other two loops
    loop: dict[str, Any] = dict(
        bandwidth=bandwidth,
        regime=config.regime,
        bias=config.bias,
        bias_correction=config.bias_correction,
        m_total=config.m_total,
    )
    rngs = config.rngs()
    engine = config.runs_on
    if engine == "fast" and config.estimator in BATCHED_ESTIMATORS:
        return run_batched(
            estimator, rngs=rngs, progress=progress, metric_samples=config.metric_samples, **shared
        )
    if engine == "fast":
        res = run_fast(estimator, rngs=rngs, **shared, **loop)
        return {key: res[key] for key in STAT_KEYS}
    runs = [
        run_reference(estimator, rng=rng, metric_samples=config.metric_samples, **shared, **loop)
        for rng in progress_bar(rngs, desc=config.estimator, unit="rep", enabled=progress)
    ]
    return {key: np.stack([run[key] for run in runs]) for key in STAT_KEYS}


def _tidy(config: Config, stats: dict[str, np.ndarray]) -> pd.DataFrame:
    """One row per (repetition, iteration): the statistics and the configuration's columns."""
    n = np.arange(1, config.T + 1)
    frame = pd.DataFrame(
        {
            "rep": np.repeat(np.arange(config.reps, dtype=np.int32), config.T),
            "n": np.tile(n.astype(np.int32), config.reps),
            "M": np.tile(
                training_sizes(config.regime, config.alpha, config.m1, config.T, m_total=config.m_total),
                config.reps,
            ).astype(np.int64),
            **{key: value.ravel() for key, value in stats.items()},
        }
    )
    if config.bias is not None:
        # Only biased runs carry these columns, so unbiased results keep their shape.
        frame["b_n"] = np.tile(config.bias.b(n), config.reps)
    for name, value in config.columns().items():
        frame[name] = pd.Categorical([value] * len(frame)) if isinstance(value, str) else value
    return frame


def snapshots(config: Config | None = None, /, *, at=(1, 10, 100), **fields) -> pd.DataFrame:
    """The fitted distributions themselves at chosen iterations: a tidy frame for density plots.

    ``config`` or keyword fields as in :func:`simulate` (``"ecdf"`` or ``"kde"``, accumulate
    regime, unbiased; ``T`` is set to ``max(at)``). Runs the fast engine for ``max(at)``
    iterations and keeps the fit of iterations ``at`` (integers in ``1..``). Repetition ``rep``
    is the same run as repetition ``rep`` of :func:`simulate` with the same configuration (same
    seeding), so its W1 at ``n`` is the ``w1`` that :func:`simulate` reports (for the KDE when
    ``T = max(at)`` there: the engine's bin width follows the last bandwidth ``h_T``).

    Returns
    -------
    pandas.DataFrame
        ``reps * len(at) * grid_size`` rows: ``rep, n, x`` (grid point), ``density``
        (fitted density at ``x``; NaN for the ECDF, which has none), ``cdf`` (fitted distribution
        function at ``x``), ``truth_density``, ``truth_cdf``, then ``estimator, alpha``.
    """
    at = sorted({check_int("at", n, 1) for n in np.atleast_1d(at).tolist()})
    if not at:
        raise ValueError("at must hold at least one iteration (an integer >= 1), got none")
    fields.setdefault("reps", 1)
    config = _as_config(config, dict(fields, T=max(at)))
    check_choice("estimator", config.estimator, ENGINE_ESTIMATORS)
    if config.regime != "accumulate" or config.bias is not None:
        raise ValueError(
            "snapshots runs the unbiased accumulate regime: regime must be 'accumulate' and bias None"
        )
    truth = _truth(config)
    grid = truth.grid(config.grid_size)
    bandwidth = config.bandwidth if config.estimator in BANDWIDTH_ESTIMATORS else None
    res = run_fast(
        make_estimator(config.estimator),
        config.alpha,
        config.m1,
        config.T,
        truth,
        grid,
        config.rngs(),
        bandwidth=bandwidth,
        snapshots=at,
    )
    R, S, G = res["cdf"].shape
    return pd.DataFrame(
        {
            "rep": np.repeat(np.arange(R), S * G),
            "n": np.tile(np.repeat(res["snapshot_n"], G), R),
            "x": np.tile(grid, R * S),
            "density": res["density"].ravel(),
            "cdf": res["cdf"].ravel(),
            "truth_density": np.tile(truth.pdf(grid), R * S),
            "truth_cdf": np.tile(truth.cdf(grid), R * S),
            "estimator": config.estimator,
            "alpha": config.alpha,
        }
    )


def snapshot_errors(frame: pd.DataFrame) -> pd.DataFrame:
    """Per (``estimator, alpha, rep, n``) errors of :func:`snapshots` rows on their grid (trapezoid rule).

    ``w1 = integral |F_hat - F| dx`` (as :func:`simulate` measures it) and the integrated squared
    error ``ise = integral (F_hat - F)^2 dx``, whose expectation for the ECDF is exact in
    :func:`recursive_lib.theory.ecdf_expected_ise`.
    """
    keys = ["estimator", "alpha", "rep", "n"]
    parts = []
    for (estimator, alpha), block in frame.groupby(["estimator", "alpha"], sort=True, observed=True):
        grid = np.unique(block["x"].to_numpy())  # one snapshots() call: one common grid
        block = block.sort_values(["rep", "n", "x"])
        diff = (block["cdf"] - block["truth_cdf"]).to_numpy().reshape(-1, grid.size)
        weights = trapezoid_weights(grid)
        rows = block[["rep", "n"]].iloc[:: grid.size]
        parts.append(
            pd.DataFrame(
                {
                    "estimator": estimator,
                    "alpha": alpha,
                    "rep": rows["rep"].to_numpy(),
                    "n": rows["n"].to_numpy(),
                    "w1": np.abs(diff) @ weights,
                    "ise": diff**2 @ weights,
                }
            )
        )
    return pd.concat(parts, ignore_index=True)[keys + ["w1", "ise"]]
