"""Long simulations reduced where they run: slopes fitted on every iteration, curves kept thin.

A paper-scale sweep (100 repetitions x 2000 iterations per configuration) would not fit in memory
unreduced. :func:`simulate_thinned` runs one configuration (:func:`recursive_lib.simulation.simulate`),
fits each repetition's slopes on all its iterations after the burn-in
(:func:`recursive_lib.rates.rep_slopes`), then keeps about ``curve_points`` log-spaced iterations
for the curves. :func:`run_thinned` runs a list of configurations through
:func:`recursive_lib.sweep.run_sweep` (cached, in parallel) and returns the per-repetition slopes
(:func:`per_rep_slopes`) and the mean curves with their bands. The rate, convergence, regime and
bias chapters all go through it.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from recursive_lib._validation import check_choice
from recursive_lib.rates import TIE_RULES, curve_summary, log_points, rep_slopes
from recursive_lib.simulation import simulate
from recursive_lib.sweep import run_sweep

__all__ = ["per_rep_slopes", "run_thinned", "simulate_thinned"]

SLOPE_COLUMNS = ("slope_w1", "slope_mmd")


def simulate_thinned(
    burn_in: int = 0, curve_points: int = 60, tie_rule: str = "book", **config
) -> pd.DataFrame:
    """:func:`~recursive_lib.simulation.simulate` of one configuration, reduced where it ran.

    Slopes of W1 and MMD are fitted on every iteration after ``burn_in``, then only about
    ``curve_points`` log-spaced iterations are kept. Returns the rows of those iterations with the
    repetition's slopes in ``slope_w1``, ``slope_mmd``, the flag ``log_corrected`` (the error was
    divided by ``log M_n``: :func:`recursive_lib.rates.needs_log_correction` with its
    ``rule=tie_rule``, the book's or the authors' ``"paper"``), and the CPU time
    of the run in ``cpu_seconds`` (under contention for the cores, CPU time rather than wall time
    says what a grid costs). ``bias_until`` is the last biased iteration, missing (``<NA>``, a
    nullable integer column) for a bias that never ends, as ``BiasSchedule.until = None``.
    Unbiased runs get ``bias_rate = inf`` (the limit q -> infinity: no bias),
    ``bias_correction = False`` and a missing ``bias_until``, so that biased and unbiased rows
    stack. A module-level function, so that :func:`recursive_lib.sweep.run_sweep` can send it to
    worker processes.
    """
    start = time.process_time()
    frame = simulate(**config)
    if "bias_rate" not in frame:  # unbiased run: no bias columns
        frame["bias_rate"], frame["bias_correction"], frame["bias_until"] = np.inf, False, None
    frame["bias_until"] = frame["bias_until"].astype("Int64")  # <NA>: the bias never ends
    slopes = rep_slopes(frame, burn_in, by=["alpha"], tie_rule=tie_rule)
    wide = slopes.pivot(index="rep", columns="metric", values="slope").add_prefix("slope_")
    keep = frame[frame["n"].isin(log_points(int(frame["n"].max()), curve_points))].copy()
    keep["estimator"] = keep["estimator"].astype(str)
    keep["log_corrected"] = bool(slopes["log_corrected"].iloc[0])
    keep["cpu_seconds"] = time.process_time() - start
    return keep.join(wide, on="rep").reset_index(drop=True)


def per_rep_slopes(runs: pd.DataFrame, by: Sequence[str]) -> pd.DataFrame:
    """One row per (``*by``, ``rep``, metric) from the slope columns of :func:`simulate_thinned`
    rows: ``*by, rep, metric, slope`` plus ``p``, ``log_corrected`` and ``cpu_seconds`` where present."""
    by = list(by)
    extra = [c for c in ("p", "log_corrected", "cpu_seconds") if c in runs and c not in by]
    wide = runs.drop_duplicates(by + ["rep"])
    long = wide.melt(
        id_vars=by + ["rep"] + extra, value_vars=list(SLOPE_COLUMNS), var_name="metric", value_name="slope"
    )
    return long.assign(metric=long["metric"].str.removeprefix("slope_"))


def run_thinned(
    configs: Sequence[Mapping[str, Any]],
    by: Sequence[str],
    burn_in: int,
    cache_dir=None,
    n_jobs: int = 1,
    curve_points: int = 60,
    metrics: Sequence[str] = ("w1", "mmd"),
    tie_rule: str = "book",
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Run configurations (keyword dicts of :class:`~recursive_lib.simulation.Config`) through
    :func:`simulate_thinned`, cached in ``cache_dir``, on ``n_jobs`` processes.

    ``by``: the columns that tell the configurations apart (e.g. ``["estimator", "alpha"]``);
    ``tie_rule``: where the slopes divide the error by ``log M_n``
    (:func:`recursive_lib.rates.needs_log_correction`, ``rule``).
    Returns ``(runs, slopes, curves)``: the thinned rows; per-repetition slopes
    (:func:`per_rep_slopes`); and the mean curve of every metric with its 95 % Student-t band at the
    kept iterations (:func:`recursive_lib.rates.curve_summary`, column ``metric``).
    """
    check_choice("tie_rule", tie_rule, TIE_RULES)
    # The default rule stays out of the configuration, so that the book's runs keep their columns.
    rule = {} if tie_rule == "book" else {"tie_rule": tie_rule}
    configs = [dict(c, burn_in=int(burn_in), curve_points=int(curve_points), **rule) for c in configs]
    # Most expensive first (KDE, small alpha), so that the workers finish together.
    configs.sort(key=lambda c: (c.get("estimator", "kde") != "kde", c.get("alpha", 0.5)))
    runs = run_sweep(configs, run=simulate_thinned, cache_dir=cache_dir, n_jobs=n_jobs)
    for column in ("estimator", "regime"):
        if column in runs:
            runs[column] = runs[column].astype(str)
    slopes = per_rep_slopes(runs, by)
    curves = pd.concat(
        [curve_summary(runs, metric, by=list(by)).assign(metric=metric) for metric in metrics],
        ignore_index=True,
    )
    return runs, slopes, curves
