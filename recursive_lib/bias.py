"""Biased real data (the paper's BCRT extension) and its importance-weight correction.

The real points of iteration ``n`` come from ``P_n = (1 - b_n) P + b_n Q`` with the bias schedule

    b_n = b0 (n + n0)^(-q)      for n <= bias_until (every n if bias_until is None), else 0.

``q = 0`` is a bias that never fades; ``bias_until = N`` an early-only bias. ``Q`` is
``N(bias_mean, bias_sd^2)`` (the authors' scripts: ``N(3, 1)`` with ``b0 = 0.2`` for the KDE,
``N(2, 1)`` with ``b0 = 0.1`` for the ECDF, ``n0 = 5`` in both).

Correction. When the sampling design is known, a real point ``x`` of iteration ``n`` gets the
importance weight ``w_n(x) = dP / dP_n (x) = p(x) / ((1 - b_n) p(x) + b_n q(x))`` (mean 1 under
``P_n``, so a weighted real batch has the law of an unbiased one in expectation); synthetic points
keep weight 1, they come from the model. Estimators that accept ``fit(x, weights)`` (ECDF, KDE)
then fit the weighted pool.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from recursive_lib._validation import check_int, check_range
from recursive_lib.data import Mixture1D

__all__ = ["BiasSchedule", "Contaminated", "importance_weights", "make_schedule"]


@dataclass(frozen=True)
class BiasSchedule:
    """``b_n = scale (n + offset)^(-rate)`` for ``n <= until`` (all ``n`` if ``until`` is None), else 0.

    ``Q = N(mean, sd^2)``. Build it with :func:`make_schedule`, which validates.
    """

    rate: float
    scale: float
    offset: float
    mean: float
    sd: float
    until: int | None = None

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

    def stream(self, truth, n: int) -> "Contaminated":
        """The real-data distribution ``P_n`` of iteration ``n``."""
        return Contaminated(truth, self.q_dist, self.b(n))


def make_schedule(bias_rate=0.5, bias_scale=0.0, bias_offset=5.0, bias_mean=3.0, bias_sd=1.0,
                  bias_until=None) -> BiasSchedule | None:
    """Validated :class:`BiasSchedule`, or ``None`` when ``bias_scale = 0`` (no bias)."""
    scale = check_range("bias_scale", bias_scale, 0.0, 1.0, high_inclusive=False)
    rate = check_range("bias_rate", bias_rate, 0.0, math.inf)
    offset = check_range("bias_offset", bias_offset, -1.0, math.inf, low_inclusive=False)
    mean = check_range("bias_mean", bias_mean, -math.inf, math.inf)
    sd = check_range("bias_sd", bias_sd, 0.0, math.inf, low_inclusive=False)
    until = None if bias_until is None else check_int("bias_until", bias_until, 1)
    if scale == 0.0:
        return None
    if math.isinf(mean) or math.isinf(sd):
        raise ValueError(f"bias_mean and bias_sd must be finite, got {bias_mean!r}, {bias_sd!r}")
    if scale * (1.0 + offset) ** (-rate) >= 1.0:
        raise ValueError(f"bias_scale (1 + bias_offset)^(-bias_rate) must be < 1 (b_1 is a "
                         f"probability), got {scale * (1.0 + offset) ** (-rate):g}")
    return BiasSchedule(rate=rate, scale=scale, offset=offset, mean=mean, sd=sd, until=until)


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

    @property
    def mean(self) -> float:
        return (1 - self.b) * self.p_dist.mean + self.b * self.q_dist.mean

    @property
    def var(self) -> float:
        second = ((1 - self.b) * (self.p_dist.var + self.p_dist.mean**2)
                  + self.b * (self.q_dist.var + self.q_dist.mean**2))
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


# --------------------------------------------------------------------------- the chapter's grids
#: The authors' two BCRT scripts (shared PAPER.md): per estimator, the bias design and the grid.
#: The KDE bandwidth is ``h_n = h0 n^(-p)`` (``bandwidth_exponent = p``, set by :func:`bias_configs`).
PAPER_DESIGNS = {
    "ecdf": dict(bias_scale=0.1, bias_mean=2.0, bias_sd=1.0, bias_offset=5.0, grid_size=200),
    "kde": dict(bias_scale=0.2, bias_mean=3.0, bias_sd=1.0, bias_offset=5.0, grid_size=500, h0=2.0),
}
DESIGN_KEYS = ("bias_scale", "bias_mean", "bias_sd", "bias_offset", "grid_size", "h0")


def check_designs(name: str, designs) -> dict:
    """Validate ``{estimator: {bias_scale, bias_mean, bias_sd, bias_offset, grid_size[, h0]}}``."""
    if not isinstance(designs, dict) or not designs:
        raise ValueError(f"{name} must map estimator names to bias designs, got {designs!r}")
    out = {}
    for estimator, design in designs.items():
        if not isinstance(design, dict):
            raise ValueError(f"{name}[{estimator!r}] must be a dict, got {design!r}")
        unknown = set(design) - set(DESIGN_KEYS)
        if unknown:
            raise ValueError(f"{name}[{estimator!r}] has unknown keys {sorted(unknown)}; "
                             f"allowed: {list(DESIGN_KEYS)}")
        design = dict(design)
        try:
            make_schedule(0.0, design.get("bias_scale", 0.1), design.get("bias_offset", 5.0),
                          design.get("bias_mean", 3.0), design.get("bias_sd", 1.0))
        except ValueError as error:
            raise ValueError(f"{name}[{estimator!r}]: {error}") from None
        if design.get("bias_scale", 0.1) <= 0:
            raise ValueError(f"{name}[{estimator!r}]: bias_scale must be in (0, 1)")
        check_int(f"{name}[{estimator!r}].grid_size", design.get("grid_size", 500), 10)
        check_range(f"{name}[{estimator!r}].h0", design.get("h0", 1.0), 0.0, math.inf,
                    low_inclusive=False)
        out[estimator] = design
    return out


def bias_configs(estimators, alphas, qs, p, m1, T, reps, seed, designs, correction=(False,),
                 **extra) -> list[dict]:
    """``simulate`` keyword dicts for every (estimator, alpha, q, correction), for ``run_sweep``.

    ``designs[estimator]`` supplies ``bias_scale, bias_mean, bias_sd, bias_offset, grid_size``
    (and ``h0`` for the KDE, whose bandwidth exponent is ``p``: ``h_n = h0 n^(-p)``, as in the
    authors' KDE script). ``extra`` (e.g. ``bias_until``) is passed to every configuration.
    """
    configs = []
    for estimator in estimators:
        if estimator not in designs:
            raise ValueError(f"designs has no entry for estimator {estimator!r}; it covers "
                             f"{sorted(designs)}")
        design = dict(designs[estimator])
        if estimator == "kde":
            design["bandwidth_exponent"] = float(p)
        else:
            design.pop("h0", None)
        for alpha in alphas:
            for q in qs:
                for corrected in correction:
                    configs.append(dict(estimator=estimator, alpha=float(alpha), m1=int(m1),
                                        T=int(T), reps=int(reps), seed=int(seed), p=float(p),
                                        bias_rate=float(q), bias_correction=bool(corrected),
                                        **design, **extra))
    return configs


BY = ["estimator", "alpha", "bias_rate", "bias_correction"]


def _log_flags(frame):
    """Where the fit divides the error by ``log M_n``: ``alpha`` is the minimum and ties with the
    term it competes with in the recursion (``p``, or ``q`` when uncorrected); there the rate
    carries a ``log n`` factor."""
    corrected = frame["bias_correction"].astype(bool)
    q_eff = frame["bias_rate"].where(~corrected, np.inf)
    return ((np.isclose(frame["alpha"], frame["p"]) & (frame["alpha"] <= q_eff + 1e-9))
            | (np.isclose(frame["alpha"], q_eff) & (frame["alpha"] <= frame["p"] + 1e-9)))


def rep_slopes(results, burn_in: int, metrics=("w1", "mmd")):
    """Per-repetition slopes (:func:`recursive_lib.rates.fit_slopes`) of biased runs, every metric.

    Returns ``estimator, alpha, bias_rate, bias_correction, rep, slope, intercept, points,
    metric, p, log_corrected``.
    """
    import pandas as pd

    from recursive_lib.rates import fit_slopes

    frame = results.copy()
    frame["estimator"] = frame["estimator"].astype(str)
    frame["_log"] = _log_flags(frame)
    parts = []
    for metric in metrics:
        slopes = fit_slopes(frame, metric=metric, burn_in=burn_in, log_correction="_log", by=BY)
        slopes["metric"] = metric
        parts.append(slopes)
    keys = frame.groupby(BY, sort=True)[["p", "_log"]].first().reset_index()
    out = pd.concat(parts, ignore_index=True).merge(keys, on=BY)
    return out.rename(columns={"_log": "log_corrected"})


def summarize_bias_slopes(slopes, n_boot: int = 2000, seed: int = 0):
    """Mean slope, standard error and bootstrap interval per (estimator, metric, alpha, q, correction),
    beside the predicted exponent: ``min(p, alpha, q)`` uncorrected, ``min(p, alpha)`` corrected."""
    from recursive_lib.rates import summarize_slopes
    from recursive_lib.theory import predicted_exponent

    by = ["estimator", "metric", "alpha", "bias_rate", "bias_correction"]
    out = summarize_slopes(slopes, by=by, n_boot=n_boot, seed=seed)
    extra = slopes.groupby(by, sort=True)[["p", "log_corrected"]].first().reset_index()
    out = out.merge(extra, on=by)
    q = out["bias_rate"].where(~out["bias_correction"].astype(bool), np.inf)
    out["predicted"] = predicted_exponent(out["p"], out["alpha"], q)
    return out.drop(columns="p")


def simulate_thinned(burn_in: int = 0, curve_points: int = 60, **kwargs):
    """:func:`recursive_lib.simulate` of a biased configuration, reduced where it ran.

    Slopes of W1 and MMD are fitted on every iteration after ``burn_in`` (:func:`rep_slopes`), then
    only about ``curve_points`` log-spaced iterations are kept for the curves. Returns the rows of
    those iterations with the repetition's slopes in ``slope_w1``, ``slope_mmd`` and the flag
    ``log_corrected``, and the CPU time of the run in ``cpu_seconds`` (for benchmarks: under
    contention for the cores, CPU time rather than wall time says what the grid costs). A
    module-level function so that :func:`recursive_lib.sweep.run_sweep` can
    send it to worker processes; a paper-scale grid would not fit in memory unreduced.
    """
    from recursive_lib.plots import log_points
    from recursive_lib.simulate import simulate

    start = time.process_time()
    frame = simulate(**kwargs)
    if "bias_rate" not in frame:       # unbiased run: no bias columns
        frame["bias_rate"], frame["bias_correction"] = np.inf, False
    slopes = rep_slopes(frame, burn_in)
    wide = slopes.pivot(index="rep", columns="metric", values="slope").add_prefix("slope_")
    keep = frame[frame["n"].isin(log_points(int(frame["n"].max()), curve_points))].copy()
    keep["estimator"] = keep["estimator"].astype(str)
    keep["log_corrected"] = bool(slopes["log_corrected"].iloc[0])
    keep["cpu_seconds"] = time.process_time() - start
    return keep.join(wide, on="rep").reset_index(drop=True)


def run_bias_grid(configs, burn_in: int, cache_dir=None, n_jobs: int = 2, curve_points: int = 60):
    """Run biased configurations (:func:`simulate_thinned` through
    :func:`recursive_lib.sweep.run_sweep`, cached, ``n_jobs`` processes).

    Returns ``(slopes, curves)``: per-repetition slopes (columns ``estimator, alpha, bias_rate,
    bias_correction, bias_until, rep, metric, slope, p, log_corrected, cpu_seconds``, the last the
    CPU time of the whole configuration; ``bias_until`` 0 = no end)
    and mean error curves with 95 % bands at about ``curve_points`` log-spaced iterations
    (:func:`recursive_lib.plots.curve_summary` per metric, column ``metric``).
    """
    import pandas as pd

    from recursive_lib.plots import curve_summary
    from recursive_lib.sweep import run_sweep

    configs = [dict(c, burn_in=int(burn_in), curve_points=int(curve_points)) for c in configs]
    # Most expensive first (KDE, small alpha), so that the workers finish together.
    configs.sort(key=lambda c: (c["estimator"] != "kde", c["alpha"]))
    results = run_sweep(configs, run=simulate_thinned, cache_dir=cache_dir, n_jobs=n_jobs)
    results["estimator"] = results["estimator"].astype(str)
    if "bias_until" not in results:
        results["bias_until"] = None
    results["bias_until"] = results["bias_until"].fillna(0).astype(int)
    by = BY + ["bias_until"]
    per_rep = results.drop_duplicates(by + ["rep"])
    slopes = per_rep.melt(id_vars=by + ["rep", "p", "log_corrected", "cpu_seconds"],
                          value_vars=["slope_w1", "slope_mmd"], var_name="metric", value_name="slope")
    slopes["metric"] = slopes["metric"].str.removeprefix("slope_")
    curves = pd.concat([curve_summary(results, metric, by=by).assign(metric=metric)
                        for metric in ("w1", "mmd")], ignore_index=True)
    return slopes, curves


def floor_curve(design: dict, alpha: float, m1: int, T: int, bias_rate: float = 0.0,
                bias_until: int | None = None, truth=None):
    """Predicted bias floor ``W1(E P_hat_n, P) = beta_n W1(Q, P)``, ``n = 1..T``, as a DataFrame ``n, value``.

    ``beta_n``: :func:`recursive_lib.theory.bias_share` (the share of ``Q`` carried by the pool);
    with a bias that never fades (``bias_rate = 0``) it tends to ``b0``: the plateau
    ``b0 W1(Q, P)`` of the mixture ``(1 - b0) P + b0 Q``. Exact in expectation for the ECDF, a lower
    bound on ``E W1``; for the KDE up to the kernel's own bias. ``W1(Q, P)`` is computed on the
    evaluation grid ``truth.grid(design["grid_size"])``, as the simulated W1 is.
    """
    import pandas as pd

    from recursive_lib.data import PAPER_TRUTH
    from recursive_lib.loop import synthetic_count
    from recursive_lib.theory import bias_floor, bias_share

    truth = PAPER_TRUTH if truth is None else truth
    schedule = make_schedule(bias_rate, design["bias_scale"], design.get("bias_offset", 5.0),
                             design.get("bias_mean", 3.0), design.get("bias_sd", 1.0), bias_until)
    n = np.arange(1, int(T) + 1)
    share = bias_share(m1, synthetic_count(alpha, m1), schedule.b(n))
    # The simulation's own evaluation grid, so that the floor is the W1 the simulation measures.
    grid = truth.grid(int(design.get("grid_size", 500)))
    return pd.DataFrame({"n": n, "value": bias_floor(truth, schedule.q_dist, grid, share)})


def floor_curves(designs: dict, estimators, alphas, m1: int, T: int, bias_rate: float = 0.0,
                 bias_until: int | None = None, points: int = 60):
    """:func:`floor_curve` for every (estimator, alpha), at about ``points`` log-spaced iterations.

    Columns ``estimator, alpha, n, value``, ready as the ``theory`` layer of
    :func:`recursive_lib.plots.error_curves`.
    """
    import pandas as pd

    from recursive_lib.plots import log_points

    keep = log_points(int(T), points)
    parts = []
    for estimator in estimators:
        for alpha in alphas:
            curve = floor_curve(designs[estimator], alpha, m1, T, bias_rate, bias_until)
            parts.append(curve[curve["n"].isin(keep)].assign(estimator=estimator, alpha=alpha))
    return pd.concat(parts, ignore_index=True)[["estimator", "alpha", "n", "value"]]
