"""``simulate``: one configuration of contaminated recursive training -> a tidy DataFrame.

Seeding. One integer ``seed`` determines every number. Each repetition ``rep`` gets its own
Generator from ``numpy.random.SeedSequence(seed, spawn_key=(config_key, rep))``, where
``config_key`` is a SHA-256 hash of the configuration's canonical text: every field that changes the
simulated process (estimator, alpha, m1, regime, bandwidth for the KDE, grid_size, truth, engine),
floats written with 12 significant digits; not ``T``, ``reps``, ``seed``, nor ``mmd_width`` (so
changing the MMD width measures the same runs). The bias fields enter the key only when
``bias_scale > 0`` (so every unbiased configuration keeps the stream it had before the bias
extension existed), and ``bias_correction`` never does (a corrected run and its uncorrected twin
see the same real data). Both engines use one Generator per repetition, so results are identical on rerun and do
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
from recursive_lib.bias import make_schedule
from recursive_lib.data import PAPER_TRUTH
from recursive_lib.data import dimension
from recursive_lib.engine import ENGINE_ESTIMATORS, run_fast
from recursive_lib._progress import progress_bar
from recursive_lib.engine_neural import BATCHED_ESTIMATORS, run_batched
from recursive_lib.estimators import ESTIMATORS, make_estimator
from recursive_lib.loop import REGIMES, batch_sizes, check_alpha, run_reference, training_sizes

ENGINES = ("fast", "reference")
MULTIVARIATE_ESTIMATORS = ("gmm", "flow")   # families that fit points in d >= 2 dimensions
BANDWIDTH_ESTIMATORS = ("kde",)   # estimators that use h_n = h0 n^(-bandwidth_exponent)
STAT_COLUMNS = ("rep", "n", "M", "w1", "mmd", "mean", "var")
BIAS_FIELDS = ("bias_rate", "bias_scale", "bias_offset", "bias_mean", "bias_sd", "bias_until",
               "bias_correction")


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
    # Biased real data (recursive_lib.bias); bias_scale = 0: no bias, and the other bias fields
    # (and bias_correction) are ignored and kept out of the seeding key.
    bias_rate: float = 0.5
    bias_scale: float = 0.0
    bias_offset: float = 5.0
    bias_mean: float = 3.0
    bias_sd: float = 1.0
    bias_until: int | None = None
    bias_correction: bool = False
    # Estimator hyper-parameters as sorted (name, value) pairs (e.g. the quantile sampler's epochs);
    # empty: the estimator's defaults. metric_samples: multivariate truths only (sample metrics).
    estimator_params: tuple = ()
    metric_samples: int = 2000

    @property
    def m2(self) -> int:
        """Synthetic points drawn after each fit (:func:`recursive_lib.loop.batch_sizes`)."""
        return batch_sizes(self.regime, self.alpha, self.m1)[2]

    def schedule(self):
        """The :class:`recursive_lib.bias.BiasSchedule` of the real data, or ``None`` (no bias)."""
        if self.bias_scale == 0:
            return None
        return make_schedule(self.bias_rate, self.bias_scale, self.bias_offset, self.bias_mean,
                             self.bias_sd, self.bias_until)

    def bandwidth(self, n: int) -> float:
        """``h_n = h0 n^(-bandwidth_exponent)``."""
        return self.h0 * n ** (-self.bandwidth_exponent)

    def key(self) -> int:
        """Stable 64-bit hash of the fields that change the simulated process (see module doc)."""
        # bias_correction changes weights, not draws: corrected and uncorrected runs share their
        # random numbers, so the two are compared on the same real data (paired).
        excluded = {"T", "reps", "seed", "mmd_width", "bias_correction"}
        if self.estimator not in BANDWIDTH_ESTIMATORS:
            excluded |= {"p", "h0", "bandwidth_exponent"}
        if self.bias_scale == 0:
            excluded |= set(BIAS_FIELDS)     # unbiased configurations keep their streams
        if not self.estimator_params:
            excluded.add("estimator_params")
        if dimension(self.truth) == 1:
            excluded.add("metric_samples")
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
                engine="fast", bias_rate=0.5, bias_scale=0.0, bias_offset=5.0, bias_mean=3.0,
                bias_sd=1.0, bias_until=None, bias_correction=False, estimator_params=None,
                metric_samples=2000) -> Config:
    """Validate the arguments of :func:`simulate` and return the :class:`Config`."""
    check_choice("estimator", estimator, tuple(ESTIMATORS))
    check_choice("engine", engine, ENGINES)
    if engine == "fast" and estimator not in ENGINE_ESTIMATORS + BATCHED_ESTIMATORS:
        engine = "reference"    # no fast engine for this family (gmm, gaussian): the reference loop
    if engine == "fast" and estimator in BATCHED_ESTIMATORS and (regime != "accumulate" or bias_scale):
        engine = "reference"    # the batched ensemble runs the unbiased accumulate regime only
    check_choice("regime", regime, REGIMES)
    alpha = check_alpha(regime, alpha)      # fresh and replace accept alpha = 0
    p = check_range("p", p, 0.0, math.inf, low_inclusive=False)
    h0 = check_range("h0", h0, 0.0, math.inf, low_inclusive=False)
    if bandwidth_exponent is None:
        bandwidth_exponent = p / 2
    bandwidth_exponent = check_range("bandwidth_exponent", bandwidth_exponent, 0.0, math.inf)
    mmd_width = check_range("mmd_width", mmd_width, 0.0, math.inf, low_inclusive=False)
    truth = PAPER_TRUTH if truth is None else truth
    if dimension(truth) > 1:
        check_choice("estimator (multivariate truth)", estimator, MULTIVARIATE_ESTIMATORS)
        if estimator not in BATCHED_ESTIMATORS:
            engine = "reference"
    needed = ("sample", "pdf", "cdf", "mean", "var", "grid") if dimension(truth) == 1 else \
        ("sample", "mean", "var")
    for member in needed:
        if not hasattr(truth, member):
            raise ValueError(f"truth must have sample, pdf, cdf, mean, var and grid; it lacks {member}")
    return Config(estimator=estimator, alpha=alpha, m1=check_int("m1", m1, 1), T=check_int("T", T, 1),
                  reps=check_int("reps", reps, 1), seed=check_int("seed", seed, 0), regime=regime,
                  p=p, h0=h0, bandwidth_exponent=bandwidth_exponent,
                  grid_size=check_int("grid_size", grid_size, 10), mmd_width=mmd_width,
                  engine=engine, truth=truth, **_bias_fields(bias_rate, bias_scale, bias_offset,
                                                             bias_mean, bias_sd, bias_until,
                                                             bias_correction),
                  estimator_params=_estimator_params(estimator, estimator_params),
                  metric_samples=check_int("metric_samples", metric_samples, 10))


def _estimator_params(estimator: str, params) -> tuple:
    params = dict(params or {})
    unknown = set(params) - set(make_estimator(estimator).get_params())
    if unknown or "random_state" in params:
        raise ValueError(f"estimator_params for {estimator!r} must be among "
                         f"{sorted(set(make_estimator(estimator).get_params()) - {'random_state'})}; "
                         f"got {sorted(params)}")
    return tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in params.items()))


def _bias_fields(bias_rate, bias_scale, bias_offset, bias_mean, bias_sd, bias_until,
                 bias_correction) -> dict:
    schedule = make_schedule(bias_rate, bias_scale, bias_offset, bias_mean, bias_sd, bias_until)
    if not isinstance(bias_correction, (bool, np.bool_)):
        raise ValueError(f"bias_correction must be True or False, got {bias_correction!r}")
    if schedule is None:
        return dict(bias_scale=0.0)
    return dict(bias_rate=schedule.rate, bias_scale=schedule.scale, bias_offset=schedule.offset,
                bias_mean=schedule.mean, bias_sd=schedule.sd, bias_until=schedule.until,
                bias_correction=bool(bias_correction))


def simulate(estimator: str = "kde", alpha: float = 0.5, m1: int = 50, T: int = 2000,
             reps: int = 100, seed: int = 0, regime: str = "accumulate", p: float = 0.5,
             h0: float = 0.5, bandwidth_exponent: float | None = None, grid_size: int = 500,
             mmd_width: float = 0.5, truth=None, engine: str = "fast", bias_rate: float = 0.5,
             bias_scale: float = 0.0, bias_offset: float = 5.0, bias_mean: float = 3.0,
             bias_sd: float = 1.0, bias_until: int | None = None,
             bias_correction: bool = False, estimator_params: dict | None = None,
             metric_samples: int = 2000, progress: bool = False) -> pd.DataFrame:
    """Simulate contaminated recursive training and return one row per (repetition, iteration).

    Parameters
    ----------
    estimator : registry name (:data:`recursive_lib.estimators.ESTIMATORS`), e.g. ``"ecdf"``, ``"kde"``,
        ``"quantile"``, ``"gmm"``, ``"flow"``
    alpha : real fraction ``alpha`` in (0, 1]; ``m2 = round((1 - alpha) m1 / alpha)`` synthetic points
        are added per iteration
    m1 : fresh real points per iteration (integer >= 1)
    T : iterations (>= 1);  reps : repetitions (>= 1);  seed : integer >= 0 (see module doc)
    regime : ``"accumulate"`` (the paper's CRT), ``"fresh"``, ``"replace"`` or ``"accumulate-initial"``
        (:func:`recursive_lib.loop.batch_sizes`; ``alpha`` may be 0 for fresh and replace)
    p : baseline rate of the estimator (> 0), sets the default bandwidth exponent ``p / 2``
    h0, bandwidth_exponent : KDE bandwidth ``h_n = h0 n^(-bandwidth_exponent)`` (h0 > 0, exponent >= 0)
    grid_size : points of the evaluation grid ``truth.grid(grid_size)`` (>= 10)
    mmd_width : Gaussian kernel width of the MMD (> 0)
    truth : the true distribution ``P`` (default the paper's mixture; protocol in :mod:`recursive_lib.data`)
    engine : ``"fast"`` (:mod:`recursive_lib.engine`, vectorised over repetitions) or ``"reference"``
        (:mod:`recursive_lib.loop`, one repetition at a time)
    bias_rate, bias_scale, bias_offset : biased real data (the paper's BCRT): the real points of
        iteration ``n`` come from ``P_n = (1 - b_n) P + b_n Q``, ``b_n = bias_scale (n + bias_offset)^(-bias_rate)``
        (``q = bias_rate >= 0``; ``0`` is a bias that never fades; ``bias_scale`` in [0, 1), 0 = no
        bias, the default; ``bias_offset > -1``)
    bias_mean, bias_sd : ``Q = N(bias_mean, bias_sd^2)``
    bias_until : ``None``, or the last biased iteration (an early-only bias: ``b_n = 0`` after it)
    bias_correction : weight real points by ``dP / dP_n`` (:mod:`recursive_lib.bias`); the sampling
        design is assumed known
    estimator_params : hyper-parameters of the estimator (e.g. ``{"epochs": 10}`` for
        ``"quantile"``, ``{"n_components": 3}`` for ``"gmm"``); ``None``: its defaults
    metric_samples : multivariate truths: samples behind the W1 and MMD (:func:`recursive_lib.loop.make_measure`)
    progress : tqdm bar over repetitions or iterations (silent when the environment variable ``CI`` is set)

    Estimators and engines: ``"ecdf"``, ``"kde"`` run on the fast engine; ``"quantile"`` on the
    batched ensemble (:mod:`recursive_lib.engine_neural`, every repetition trained at once) with
    ``engine="fast"``, one repetition at a time with ``"reference"``; so does ``"flow"``, in any
    dimension; ``"gmm"`` and ``"gaussian"`` always use the reference loop, and so does every
    non-accumulate or biased run of a neural estimator (the ``engine`` column says which ran).

    Returns
    -------
    DataFrame with ``reps * T`` rows and columns ``rep, n, M, w1, mmd, mean, var`` (``M`` is
    ``M_n``; ``mean``, ``var`` are those of the fitted distribution) followed by the configuration:
    ``estimator, alpha, m1, m2, regime, p, h0, bandwidth_exponent, seed, engine``.
    """
    cfg = make_config(estimator, alpha, m1, T, reps, seed, regime, p, h0, bandwidth_exponent,
                      grid_size, mmd_width, truth, engine, bias_rate, bias_scale, bias_offset,
                      bias_mean, bias_sd, bias_until, bias_correction, estimator_params,
                      metric_samples)
    bias = cfg.schedule()
    grid = cfg.truth.grid(cfg.grid_size) if dimension(cfg.truth) == 1 else None
    params = dict(cfg.estimator_params)
    bandwidth = cfg.bandwidth if cfg.estimator in BANDWIDTH_ESTIMATORS else None
    rngs = cfg.rngs()
    if (cfg.engine == "fast" and cfg.estimator in BATCHED_ESTIMATORS and bias is None
            and cfg.regime == "accumulate"):     # other regimes: the reference loop below
        stats = run_batched(cfg.alpha, cfg.m1, cfg.T, cfg.truth, grid, rngs, mmd_width=cfg.mmd_width,
                            progress=progress, estimator=cfg.estimator,
                            metric_samples=cfg.metric_samples, **params)
    elif cfg.engine == "fast":
        res = run_fast(cfg.estimator, cfg.alpha, cfg.m1, cfg.T, cfg.truth, grid, rngs,
                       bandwidth=bandwidth, regime=cfg.regime, mmd_width=cfg.mmd_width,
                       bias=bias, bias_correction=cfg.bias_correction)
        stats = {key: res[key] for key in ("w1", "mmd", "mean", "var")}
    else:
        rngs = progress_bar(rngs, desc=cfg.estimator, unit="rep", enabled=progress)
        runs = [run_reference(make_estimator(cfg.estimator, **params), cfg.alpha, cfg.m1, cfg.T, cfg.truth,
                              grid, rng, bandwidth=bandwidth, regime=cfg.regime,
                              mmd_width=cfg.mmd_width, bias=bias,
                              bias_correction=cfg.bias_correction,
                              metric_samples=cfg.metric_samples) for rng in rngs]
        stats = {key: np.stack([run[key] for run in runs]) for key in ("w1", "mmd", "mean", "var")}
    n = np.arange(1, cfg.T + 1)
    frame = pd.DataFrame({
        "rep": np.repeat(np.arange(cfg.reps, dtype=np.int32), cfg.T),
        "n": np.tile(n.astype(np.int32), cfg.reps),
        "M": np.tile(training_sizes(cfg.regime, cfg.alpha, cfg.m1, cfg.T), cfg.reps).astype(np.int64),
        **{key: value.ravel() for key, value in stats.items()},
    })
    config_columns = {"estimator": cfg.estimator, "alpha": cfg.alpha, "m1": cfg.m1, "m2": cfg.m2,
                      "regime": cfg.regime, "p": cfg.p, "h0": cfg.h0,
                      "bandwidth_exponent": cfg.bandwidth_exponent, "seed": cfg.seed,
                      "engine": cfg.engine}
    if bias is not None:
        # Only biased runs carry these columns, so unbiased results keep their shape.
        frame["b_n"] = np.tile(bias.b(n), cfg.reps)
        config_columns.update({name: getattr(cfg, name) for name in BIAS_FIELDS})
    for name, value in config_columns.items():
        frame[name] = pd.Categorical([value] * len(frame)) if isinstance(value, str) else value
    return frame


def snapshots(estimator: str = "kde", alpha: float = 0.5, at=(1, 10, 100), m1: int = 50,
              reps: int = 1, seed: int = 0, p: float = 0.5, h0: float = 0.5,
              bandwidth_exponent: float | None = None, grid_size: int = 500,
              truth=None) -> pd.DataFrame:
    """The fitted distributions themselves at chosen iterations: a tidy frame for density plots.

    Runs the fast engine (``"ecdf"`` or ``"kde"``, accumulate regime, unbiased) for ``max(at)``
    iterations and keeps the fit of iterations ``at`` (integers in ``1..``). Repetition ``rep``
    is the same run as repetition ``rep`` of :func:`simulate` with the same arguments (same
    seeding), so its W1 at ``n`` is the ``w1`` that :func:`simulate` reports (for the KDE when
    ``T = max(at)`` there: the engine's bin width follows the last bandwidth ``h_T``).

    Returns
    -------
    DataFrame with ``reps * len(at) * grid_size`` rows: ``rep, n, x`` (grid point), ``density``
    (fitted density at ``x``; NaN for the ECDF, which has none), ``cdf`` (fitted distribution
    function at ``x``), ``truth_density``, ``truth_cdf``, then ``estimator, alpha``.
    """
    at = sorted({check_int("at", n, 1) for n in np.atleast_1d(at).tolist()})
    if not at:
        raise ValueError("at must hold at least one iteration (an integer >= 1), got none")
    check_choice("estimator", estimator, ENGINE_ESTIMATORS)
    cfg = make_config(estimator, alpha, m1, max(at), reps, seed, "accumulate", p, h0,
                      bandwidth_exponent, grid_size, truth=truth)
    grid = cfg.truth.grid(cfg.grid_size)
    bandwidth = cfg.bandwidth if cfg.estimator in BANDWIDTH_ESTIMATORS else None
    res = run_fast(cfg.estimator, cfg.alpha, cfg.m1, cfg.T, cfg.truth, grid, cfg.rngs(),
                   bandwidth=bandwidth, snapshots=at)
    R, S, G = res["cdf"].shape
    return pd.DataFrame({
        "rep": np.repeat(np.arange(R), S * G), "n": np.tile(np.repeat(res["snapshot_n"], G), R),
        "x": np.tile(grid, R * S), "density": res["density"].ravel(), "cdf": res["cdf"].ravel(),
        "truth_density": np.tile(cfg.truth.pdf(grid), R * S),
        "truth_cdf": np.tile(cfg.truth.cdf(grid), R * S),
        "estimator": cfg.estimator, "alpha": cfg.alpha})


def snapshot_errors(frame: pd.DataFrame) -> pd.DataFrame:
    """Per (``estimator, alpha, rep, n``) errors of :func:`snapshots` rows on their grid (trapezoid rule).

    ``w1 = integral |F_hat - F| dx`` (as :func:`simulate` measures it) and the integrated squared
    error ``ise = integral (F_hat - F)^2 dx``, whose expectation for the ECDF is exact in
    :func:`recursive_lib.theory.ecdf_expected_ise`.
    """
    from recursive_lib.metrics import trapezoid_weights

    keys = ["estimator", "alpha", "rep", "n"]
    parts = []
    for (estimator, alpha), block in frame.groupby(["estimator", "alpha"], sort=True, observed=True):
        grid = np.unique(block["x"].to_numpy())          # one snapshots() call: one common grid
        block = block.sort_values(["rep", "n", "x"])
        diff = (block["cdf"] - block["truth_cdf"]).to_numpy().reshape(-1, grid.size)
        weights = trapezoid_weights(grid)
        rows = block[["rep", "n"]].iloc[::grid.size]
        parts.append(pd.DataFrame({"estimator": estimator, "alpha": alpha,
                                   "rep": rows["rep"].to_numpy(), "n": rows["n"].to_numpy(),
                                   "w1": np.abs(diff) @ weights, "ise": diff**2 @ weights}))
    return pd.concat(parts, ignore_index=True)[keys + ["w1", "ise"]]
