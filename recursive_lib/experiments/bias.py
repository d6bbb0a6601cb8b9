"""The bias chapter's experiments: the authors' two BCRT designs, the (alpha, q) grid, its slopes
and the predicted floors.

A *design* is what an estimator's biased runs share: the contaminating distribution and bias size
(``bias``: the fields of a :class:`~recursive_lib.data.contamination.BiasSchedule` except the
rate and the end), the evaluation grid, and for the KDE the first bandwidth ``h0`` (its exponent is
``p``: ``h_n = h0 n^(-p)``, as in the authors' KDE script). :data:`PAPER_DESIGNS` holds the
authors' two scripts, as the paper describes its bias simulations (the chapter
``chapters/bias.md`` runs them): KDE ``Q = N(3, 1)``, ``b0 = 0.2``, ``h0 = 2``, grid 500;
ECDF ``Q = N(2, 1)``, ``b0 = 0.1``, grid 200; both ``n0 = 5``.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from recursive_lib._validation import check_int, check_range
from recursive_lib.data.contamination import BiasSchedule
from recursive_lib.experiments.thinned import run_thinned
from recursive_lib.rates import log_points, summarize_slopes
from recursive_lib.theory import ecdf_bias_w1, floor_curve, predicted_exponent

__all__ = [
    "BY",
    "PAPER_DESIGNS",
    "bias_configs",
    "check_designs",
    "floor_curves",
    "plateau_levels",
    "run_bias_grid",
    "summarize_bias_slopes",
]

#: The authors' BCRT scripts, per estimator.
PAPER_DESIGNS = {
    "ecdf": dict(bias=dict(scale=0.1, mean=2.0, sd=1.0, offset=5.0), grid_size=200),
    "kde": dict(bias=dict(scale=0.2, mean=3.0, sd=1.0, offset=5.0), grid_size=500, h0=2.0),
}
DESIGN_KEYS = ("bias", "grid_size", "h0")
#: the columns that tell the configurations of a bias grid apart
BY = ["estimator", "alpha", "bias_rate", "bias_correction", "bias_until"]


def check_designs(name: str, designs: Any) -> dict:
    """``"paper"`` (:data:`PAPER_DESIGNS`) or ``{estimator: {bias: {scale, mean, sd, offset},
    grid_size[, h0]}}``, validated; returns a fresh dict of designs."""
    if designs == "paper":
        return copy.deepcopy(PAPER_DESIGNS)
    if not isinstance(designs, Mapping) or not designs:
        raise ValueError(f"{name} must be 'paper' or map estimator names to bias designs, got {designs!r}")
    out = {}
    for estimator, design in designs.items():
        where = f"{name}[{estimator!r}]"
        if not isinstance(design, Mapping):
            raise ValueError(f"{where} must be a dict, got {design!r}")
        unknown = set(design) - set(DESIGN_KEYS)
        if unknown:
            raise ValueError(f"{where} has unknown keys {sorted(unknown)}; allowed: {list(DESIGN_KEYS)}")
        bias = dict(design.get("bias", {}))
        if {"rate", "until"} & set(bias):
            raise ValueError(
                f"{where}.bias sets the rate and the end per configuration; leave out 'rate' and 'until'"
            )
        try:
            BiasSchedule(rate=0.0, **bias)
        except (TypeError, ValueError) as error:
            raise ValueError(f"{where}: {error}") from None
        design = dict(design, bias=bias)
        check_int(f"{where}.grid_size", design.get("grid_size", 500), 10)
        check_range(f"{where}.h0", design.get("h0", 1.0), 0.0, np.inf, low_inclusive=False)
        out[estimator] = design
    return out


def bias_configs(
    estimators: Sequence[str],
    alphas,
    qs,
    p: float,
    m1: int,
    T: int,
    reps: int,
    seed: int,
    designs: Mapping,
    correction=(False,),
    until: int | None = None,
) -> list[dict]:
    """Configurations (keyword dicts of :class:`~recursive_lib.simulation.Config`) for every
    (estimator, alpha, q, correction), for :func:`run_bias_grid`; ``until``: the last biased
    iteration (an early-only bias), ``None``: no end."""
    configs = []
    for estimator in estimators:
        if estimator not in designs:
            raise ValueError(f"designs has no entry for estimator {estimator!r}; it covers {sorted(designs)}")
        design = dict(designs[estimator])
        bias = dict(design.pop("bias"))
        if estimator == "kde":
            design["bandwidth_exponent"] = float(p)
        else:
            design.pop("h0", None)
        for alpha in alphas:
            for q in qs:
                for corrected in correction:
                    configs.append(
                        dict(
                            estimator=estimator,
                            alpha=float(alpha),
                            m1=int(m1),
                            T=int(T),
                            reps=int(reps),
                            seed=int(seed),
                            p=float(p),
                            bias=dict(bias, rate=float(q), until=until),
                            bias_correction=bool(corrected),
                            **design,
                        )
                    )
    return configs


def run_bias_grid(
    configs, burn_in: int, cache_dir=None, n_jobs: int = 2, curve_points: int = 60, tie_rule: str = "book"
):
    """Run biased configurations (:func:`recursive_lib.experiments.thinned.run_thinned`; ``tie_rule``:
    where the slopes divide the error by ``log M_n``, the book's rule or the authors' ``"paper"``).

    Returns ``(slopes, curves)``: per-repetition slopes (columns ``estimator, alpha, bias_rate,
    bias_correction, bias_until, rep, metric, slope, p, log_corrected, cpu_seconds``, the last the
    CPU time of the whole configuration; ``bias_until`` the last biased iteration, ``<NA>``
    for a bias that never ends) and mean error curves with
    95 % bands at about ``curve_points`` log-spaced iterations (column ``metric``).
    """
    _, slopes, curves = run_thinned(
        configs,
        by=BY,
        burn_in=burn_in,
        cache_dir=cache_dir,
        n_jobs=n_jobs,
        curve_points=curve_points,
        tie_rule=tie_rule,
    )
    return slopes, curves


def summarize_bias_slopes(slopes: pd.DataFrame, n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Mean slope, standard error and Student-t interval per (estimator, metric, alpha, q, correction),
    beside the predicted exponent: ``min(p, alpha, q)`` uncorrected, ``min(p, alpha)`` corrected."""
    by = ["estimator", "metric", "alpha", "bias_rate", "bias_correction"]
    out = summarize_slopes(slopes, by=by, n_boot=n_boot, seed=seed)
    extra = slopes.groupby(by, sort=True)[["p", "log_corrected"]].first().reset_index()
    out = out.merge(extra, on=by)
    q = out["bias_rate"].where(~out["bias_correction"].astype(bool), np.inf)
    out["predicted"] = predicted_exponent(out["p"], out["alpha"], q)
    return out.drop(columns="p")


def floor_curves(
    designs: Mapping,
    estimators,
    alphas,
    m1: int,
    T: int,
    bias_rate: float = 0.0,
    until: int | None = None,
    points: int = 60,
) -> pd.DataFrame:
    """:func:`recursive_lib.theory.floor_curve` for every (estimator, alpha) of a design, at about
    ``points`` log-spaced iterations. Columns ``estimator, alpha, n, value``, ready as the
    ``theory`` layer of :func:`recursive_lib.plots.error_curves`."""
    keep = log_points(int(T), points)
    parts = []
    for estimator in estimators:
        design = designs[estimator]
        schedule = BiasSchedule(rate=bias_rate, until=until, **design["bias"])
        for alpha in alphas:
            curve = floor_curve(schedule, alpha, m1, T, grid_size=int(design.get("grid_size", 500)))
            parts.append(curve[curve["n"].isin(keep)].assign(estimator=estimator, alpha=alpha))
    return pd.concat(parts, ignore_index=True)[["estimator", "alpha", "n", "value"]]


def plateau_levels(designs: Mapping, estimators, alphas, m1: int, T: int) -> pd.DataFrame:
    """What the theory says of the error at the last iteration ``T`` under a constant bias
    (``q = 0``), per (estimator, alpha): ``floor``, the plateau ``b_0 W1(Q, P)``
    (:func:`~recursive_lib.theory.floor_curve`, a lower bound on the expected W1 by Jensen's
    inequality), and ``expected``, the whole expected W1 where the theory predicts it: the ECDF's
    :func:`~recursive_lib.theory.ecdf_bias_w1` (exact moments, Gaussian shape), NaN for the KDE.
    Columns ``estimator, alpha, floor, expected``."""
    rows = []
    for estimator in estimators:
        design = designs[estimator]
        schedule = BiasSchedule(rate=0.0, **design["bias"])
        grid_size = int(design.get("grid_size", 500))
        for alpha in alphas:
            floor = float(floor_curve(schedule, alpha, m1, T, grid_size=grid_size)["value"].iloc[-1])
            expected = np.nan
            if estimator == "ecdf":
                expected = float(ecdf_bias_w1(schedule, alpha, m1, T, grid_size)["value"].iloc[-1])
            rows.append(dict(estimator=estimator, alpha=float(alpha), floor=floor, expected=expected))
    return pd.DataFrame(rows, columns=["estimator", "alpha", "floor", "expected"])


def horizon_slopes(
    designs: Mapping,
    estimators,
    alphas,
    qs,
    p: float,
    m1: int,
    T: int,
    burn_in: int,
    correction=(False,),
    tie_rule: str = "book",
) -> pd.DataFrame:
    """What the theory predicts the fit of :func:`run_bias_grid` finds over its own window.

    The predicted curves are deterministic, so their slope over ``burn_in < n <= T`` (the
    simulation's window, fitted with the same protocol: OLS of the log error on ``log M_n``, the
    error divided by ``log M_n`` where :func:`~recursive_lib.rates.needs_log_correction` says so,
    with its ``rule=tie_rule``) is the finite-horizon counterpart of the asymptotic exponent. Two
    predictions:

    - ``floor``: the slope of the bias floor ``beta_n d(Q, P)`` (:func:`~recursive_lib.theory.floor_curve`;
      the same for W1 and MMD, both linear in the mixture). Only the bias part of the error:
      the estimator's own error adds to it. NaN for corrected runs (no floor in expectation).
    - ``exact``: for W1, the slope of the ECDF's whole expected W1 (:func:`~recursive_lib.theory.ecdf_bias_w1`;
      for corrected runs the unbiased :func:`~recursive_lib.theory.ecdf_w1_gaussian`, which ignores
      the weights' extra variance), NaN for the KDE; for the MMD, the slope of ``sqrt(E MMD^2)``
      (:func:`~recursive_lib.theory.expected_mmd2`, exact for both estimators; for corrected runs
      the unbiased curve, an approximation that ignores the weights' extra variance).

    Returns one row per (estimator, metric, alpha, q, correction): ``estimator, metric, alpha,
    bias_rate, bias_correction, floor, exact`` (slopes with the book's sign: positive = decaying).
    """
    from recursive_lib.loops.regimes import synthetic_count
    from recursive_lib.rates import needs_log_correction
    from recursive_lib.theory import pool_sizes

    rows = []
    for estimator in estimators:
        design = designs[estimator]
        grid_size = int(design.get("grid_size", 500))
        for alpha in alphas:
            M = pool_sizes(int(m1), synthetic_count(alpha, m1), int(T))
            curves = dict(estimator=estimator, design=design, alpha=alpha, p=p, m1=m1, T=T)
            unbiased_mmd = _mmd_rms(schedule=None, **curves) if True in correction else None
            for q in qs:
                schedule = BiasSchedule(rate=float(q), **design["bias"])
                floor = floor_curve(schedule, alpha, m1, T, grid_size=grid_size)["value"].to_numpy()
                biased_mmd = _mmd_rms(schedule=schedule, **curves) if False in correction else None
                for corrected in correction:
                    tie = needs_log_correction(p, alpha, None if corrected else q, rule=tie_rule)
                    w1 = None
                    if estimator == "ecdf":
                        w1 = _ecdf_w1_curve(schedule, alpha, m1, T, grid_size, corrected)
                    mmd = unbiased_mmd if corrected else biased_mmd
                    exact = {
                        "w1": np.nan if w1 is None else _window_slope(w1, M, tie, burn_in),
                        "mmd": _window_slope(mmd, M, tie, burn_in),
                    }
                    floor_slope = np.nan if corrected else _window_slope(floor, M, tie, burn_in)
                    key = dict(alpha=float(alpha), bias_rate=float(q), bias_correction=bool(corrected))
                    rows += [
                        dict(
                            estimator=estimator, metric=metric, **key, floor=floor_slope, exact=exact[metric]
                        )
                        for metric in ("w1", "mmd")
                    ]
    return pd.DataFrame(rows)


def _window_slope(values, M, tie, burn_in: int) -> float:
    """The slope :func:`~recursive_lib.rates.fit_slopes` fits to one deterministic curve over
    ``n > burn_in`` (divided by ``log M_n`` when ``tie``)."""
    from recursive_lib.rates import fit_slopes

    frame = pd.DataFrame({"rep": 0, "n": np.arange(1, len(values) + 1), "M": M, "y": values})
    return float(fit_slopes(frame, "y", burn_in=burn_in, log_correction=bool(tie))["slope"].iloc[0])


def _mmd_rms(estimator, design, alpha, schedule, p, m1, T) -> np.ndarray:
    """``(T,)`` ``sqrt(E MMD^2)`` of one configuration of :func:`bias_configs` (exact)."""
    from recursive_lib.simulation import Config
    from recursive_lib.theory import expected_mmd2

    # bias_configs passes the design's h0 (else Config's default) and the exponent p.
    bandwidth = float(design.get("h0", Config.h0)) * np.arange(1, int(T) + 1) ** (-float(p))
    curve = expected_mmd2(
        estimator,
        alpha,
        int(m1),
        int(T),
        bandwidth=bandwidth if estimator == "kde" else None,
        bias=schedule,
        grid_size=int(design.get("grid_size", 500)),
    )
    return curve["rms"].to_numpy()


def _ecdf_w1_curve(schedule, alpha, m1, T, grid_size, corrected) -> np.ndarray:
    """``(T,)`` expected W1 of the ECDF: under the bias (:func:`~recursive_lib.theory.ecdf_bias_w1`),
    or unbiased when ``corrected`` (:func:`~recursive_lib.theory.ecdf_w1_gaussian`)."""
    from recursive_lib.data import PAPER_TRUTH
    from recursive_lib.loops.regimes import synthetic_count
    from recursive_lib.theory import ecdf_bias_w1, ecdf_w1_gaussian

    if corrected:
        grid = PAPER_TRUTH.grid(grid_size)
        return ecdf_w1_gaussian(PAPER_TRUTH, grid, m1, synthetic_count(alpha, m1), T)
    return ecdf_bias_w1(schedule, alpha, m1, T, grid_size)["value"].to_numpy()


__all__ += ["horizon_slopes"]
