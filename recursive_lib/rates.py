"""Empirical convergence rates: log-log slopes per repetition, intervals over repetitions, burn-in checks.

The paper's protocol (Section "Rates" of the simulations): for each repetition, drop the first
``burn_in`` iterations, regress ``log(error)`` on ``log(M_n)`` by ordinary least squares, and
average the slopes over repetitions. When the predicted exponent sits exactly at the boundary
``p = alpha`` the error carries an extra ``log M_n`` factor, so the error is divided by
``log M_n`` before fitting (:func:`needs_log_correction`).

Slopes are reported with the sign flipped, ``slope = -d log(error) / d log(M_n)``, so that a
decaying error has a positive slope comparable to the predicted exponent ``min(p, alpha)``.

Input frames are tidy: one row per (configuration, ``rep``, iteration ``n``), with ``M`` (the pool
size ``M_n``) and one column per metric, as returned by :func:`recursive_lib.simulation.simulate`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from recursive_lib._validation import check_choice, check_int, check_range

__all__ = [
    "fit_slopes",
    "summarize_slopes",
    "burn_in_sensitivity",
    "needs_log_correction",
    "TIE_RULES",
    "baseline_rate",
    "check_min_rule",
    "min_rule_gaps",
    "curve_summary",
    "last_difference",
    "log_points",
    "mean_interval",
    "miss_counts",
    "rep_mean_summary",
    "rep_slopes",
    "t_interval",
    "zones",
]

MIN_POINTS = 3  # two points always fit a line exactly; three is the least that tests anything


#: The tie rules :func:`needs_log_correction` knows: the book's, and the one of the authors' scripts.
TIE_RULES = ("book", "paper")


def needs_log_correction(p, alpha, q=None, tol: float = 1e-9, rule: str = "book"):
    """Whether the rate fit must divide the error by ``log M_n``: where ``alpha`` is the smallest
    rate and ties with the one it competes with in the recursion, ``p`` or (with a bias that decays
    at rate ``q``) ``q``; there the error carries an extra ``log n`` factor.

    ``p``: the estimator's baseline rate; ``alpha``: the real fraction; ``q``: the bias decay rate
    (``None`` or ``inf``: no bias, or a corrected one). Ties are ``|a - b| <= tol``. Broadcasts like
    numpy (arrays or Series); a plain ``bool`` for scalar inputs. The one source of the tie rule:
    every fit of the book uses it.

    ``rule``: ``"book"`` (the rule above, the default) or ``"paper"``, the rule of the authors'
    scripts, kept to compare with their numbers: divide wherever ``alpha = p``, whatever ``q``
    (also where the bias is the slowest clock, ``q < alpha = p``, and never at ``alpha = q < p``).
    """
    check_range("tol", tol, 0.0, np.inf)
    check_choice("rule", rule, TIE_RULES)
    p = np.asarray(p, dtype=float)
    alpha = np.asarray(alpha, dtype=float)
    q = np.full(np.broadcast(p, alpha).shape, np.inf) if q is None else np.asarray(q, dtype=float)
    if rule == "paper":
        close = np.broadcast_to(np.abs(alpha - p) <= tol, np.broadcast(p, alpha, q).shape).copy()
        return bool(close) if close.ndim == 0 else close
    ties_p = (np.abs(alpha - p) <= tol) & (alpha <= q + tol)
    ties_q = (np.abs(alpha - q) <= tol) & (alpha <= p + tol)
    close = ties_p | ties_q
    return bool(close) if close.ndim == 0 else close


def log_points(n_max: int, count: int = 60) -> np.ndarray:
    """About ``count`` iteration indices 1..n_max spaced evenly on a log axis (thinned curves)."""
    return np.unique(np.geomspace(1, n_max, count).round().astype(int))


def t_interval(values, confidence: float = 0.95) -> tuple[float, float, float, float, int]:
    """``(mean, se, lo, hi, n)``: the Student-t interval for the mean of ``values`` (NaNs dropped).

    With one value there is no interval: ``se``, ``lo`` and ``hi`` are NaN.
    """
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    n = int(values.size)
    if n == 0:
        raise ValueError("values must hold at least one finite number")
    mean = float(values.mean())
    se = float(values.std(ddof=1) / np.sqrt(n)) if n > 1 else float("nan")
    half = float(_t_half_width(se, n, confidence))
    return mean, se, mean - half, mean + half, n


def mean_interval(values, confidence: float = 0.95) -> dict[str, float]:
    """The mean of independent ``values`` (one per repetition) with its Student-t interval, as the
    keyword arguments of a sign check (:func:`recursive_lib.claims.sign`): ``estimate``, ``lo``,
    ``hi`` and ``df`` (the count of finite values minus one). With fewer than two finite values
    there is no interval (``lo``, ``hi`` NaN), and with none no mean either."""
    values = np.asarray(values, dtype=float).ravel()
    n = int(np.isfinite(values).sum())
    if n == 0:
        return dict(estimate=float("nan"), lo=float("nan"), hi=float("nan"), df=float("nan"))
    mean, _, lo, hi, n = t_interval(values, confidence)
    return dict(estimate=mean, lo=lo, hi=hi, df=float(n - 1) if n > 1 else float("nan"))


def rep_mean_summary(
    frame: pd.DataFrame, column: str, by: Sequence[str], confidence: float = 0.95
) -> pd.DataFrame:
    """Mean of ``column`` over each repetition's rows, then a Student-t interval over repetitions.

    The rows of one repetition (its iterations) share a history, so the unit is the repetition:
    ``column`` is averaged within each (``*by``, ``rep``), NaNs skipped, and those means get the
    interval of :func:`curve_summary`. Returns one row per group of ``by``: ``*by, mean, se, lo,
    hi, reps``.
    """
    by = _as_list(by)
    _require_columns(frame, "frame", [*by, "rep", column])
    per_rep = frame.groupby([*by, "rep"], dropna=False)[column].mean().reset_index()
    out = curve_summary(per_rep.assign(_unit=0), column, by=by, x="_unit", confidence=confidence)
    return out.drop(columns="_unit")


def zones(p, alpha, tol: float = 1e-9) -> np.ndarray:
    """Where each ``(p, alpha)`` pair sits relative to the tie ``alpha = p``: ``"tie"``; ``"next to
    the tie"`` when ``|alpha - p|`` is the smallest nonzero distance among the pairs given (the
    grid's nearest cells); ``"data-limited"`` (``alpha < p``) or ``"model-limited"`` otherwise.
    Arrays of one length; returns an array of those labels."""
    p, alpha = np.broadcast_arrays(np.asarray(p, dtype=float), np.asarray(alpha, dtype=float))
    gap = np.abs(alpha - p)
    off = gap[gap > tol]
    step = off.min() if off.size else np.inf
    return np.select(
        [gap <= tol, gap <= step + tol, alpha < p],
        ["tie", "next to the tie", "data-limited"],
        "model-limited",
    )


def miss_counts(summary: pd.DataFrame, predicted: str = "predicted", tol: float = 1e-9) -> dict[str, int]:
    """How many intervals ``[lo, hi]`` of ``summary`` miss the column ``predicted``, by side of the
    tie: ``data_limited`` (``alpha < p``), ``model_limited`` (``alpha > p``) and ``tie``."""
    _require_columns(summary, "summary", ["p", "alpha", "lo", "hi", predicted])
    miss = ~((summary["lo"] <= summary[predicted]) & (summary[predicted] <= summary["hi"]))
    below = summary["alpha"] < summary["p"] - tol
    above = summary["alpha"] > summary["p"] + tol
    return dict(
        data_limited=int((miss & below).sum()),
        model_limited=int((miss & above).sum()),
        tie=int((miss & ~below & ~above).sum()),
    )


def _t_half_width(se, reps, confidence: float):
    from scipy import stats

    confidence = check_range("confidence", confidence, 0.0, 1.0, low_inclusive=False, high_inclusive=False)
    reps = np.asarray(reps, dtype=float)
    with np.errstate(invalid="ignore"):
        q = stats.t.ppf(0.5 + confidence / 2, np.where(reps > 1, reps - 1, np.nan))
    return q * np.asarray(se, dtype=float)


def curve_summary(
    df: pd.DataFrame, metric: str, by: Sequence[str] = ("alpha",), x: str = "n", confidence: float = 0.95
) -> pd.DataFrame:
    """Mean of ``metric`` over repetitions at each ``x``, with a Student-t interval.

    Input: one row per (configuration, rep, x). Output columns: ``*by, x, mean, se, lo, hi, reps``
    (``lo = mean - t se``, ``t`` the ``(1 + confidence) / 2`` quantile with ``reps - 1`` degrees
    of freedom; NaN with a single repetition, where there is no interval).
    """
    if metric not in df.columns:
        raise ValueError(f"metric must be a column of the results, one of {list(df.columns)}; got {metric!r}")
    grouped = df.groupby([*by, x], dropna=False)[metric]
    out = grouped.agg(mean="mean", sd="std", reps="count").reset_index()
    out["se"] = out["sd"] / np.sqrt(out["reps"])
    half = _t_half_width(out["se"], out["reps"], confidence)
    out["lo"] = out["mean"] - half
    out["hi"] = out["mean"] + half
    return out.drop(columns="sd")


def _as_list(by: str | Sequence[str] | None) -> list[str]:
    if by is None:
        return []
    if isinstance(by, str):
        return [by]
    return list(by)


def _require_columns(df: pd.DataFrame, argument: str, columns: Iterable[str]) -> None:
    for column in columns:
        if column not in df.columns:
            raise ValueError(
                f"{argument} must name a column of the results, one of {list(df.columns)}; got {column!r}"
            )


def ols_by_group(frame: pd.DataFrame, keys: list[str], x: str, y: str) -> pd.DataFrame:
    """Closed-form OLS of ``y`` on ``x`` within each group of ``keys``, with groupby sums.

    Returns one row per group: ``*keys, coef, intercept, points`` where ``coef = d y / d x``.
    Centred sums (two passes) rather than raw moments, because ``log M_n`` ranges far from zero
    and ``k * Sxx - Sx**2`` would cancel.
    """
    work = frame[keys + [x, y]].copy()
    # dropna=False: a configuration column may hold None/NaN (e.g. no bias rate q) for a whole curve.
    grouped = work.groupby(keys, sort=True, dropna=False) if keys else None
    if grouped is not None:
        work["_xc"] = work[x] - grouped[x].transform("mean")
        work["_yc"] = work[y] - grouped[y].transform("mean")
    else:
        work["_xc"] = work[x] - work[x].mean()
        work["_yc"] = work[y] - work[y].mean()
    work["_sxx"] = work["_xc"] ** 2
    work["_sxy"] = work["_xc"] * work["_yc"]
    if grouped is not None:
        sums = grouped.agg(
            sxx=("_sxx", "sum"), sxy=("_sxy", "sum"), xbar=(x, "mean"), ybar=(y, "mean"), points=(x, "size")
        ).reset_index()
    else:
        sums = pd.DataFrame(
            {
                "sxx": [work["_sxx"].sum()],
                "sxy": [work["_sxy"].sum()],
                "xbar": [work[x].mean()],
                "ybar": [work[y].mean()],
                "points": [len(work)],
            }
        )
    with np.errstate(invalid="ignore", divide="ignore"):
        sums["coef"] = sums["sxy"] / sums["sxx"]
    sums["intercept"] = sums["ybar"] - sums["coef"] * sums["xbar"]
    return sums[keys + ["coef", "intercept", "points"]]


def fit_slopes(
    df: pd.DataFrame,
    metric: str = "w1",
    burn_in: int = 30,
    x: str = "M",
    log_correction: bool | str = False,
    by: str | Sequence[str] | None = None,
) -> pd.DataFrame:
    """Per-repetition log-log slope of ``metric`` against ``x`` after dropping a burn-in.

    Parameters
    ----------
    df
        Tidy results, one row per (configuration, ``rep``, ``n``); needs columns ``rep``, ``n``,
        ``x`` and ``metric`` (and every column in ``by``).
    metric
        Error column to fit (``"w1"``, ``"mmd"``, ...); must be positive in the fitted window.
    burn_in
        Iterations dropped at the start: rows with ``n <= burn_in`` are ignored.
    x
        Regressor column, ``"M"`` (pool size ``M_n``, the paper's choice) or ``"n"``.
    log_correction
        ``True`` divides the error by ``log(x)`` before fitting (use at ``p = alpha``,
        see :func:`needs_log_correction`); a column name applies it to the rows where that
        boolean column is true, so one call can fit a whole ``alpha`` sweep.
    by
        Configuration columns identifying one curve (e.g. ``["estimator", "alpha"]``).

    Returns
    -------
    pandas.DataFrame
        One row per (``*by``, ``rep``): ``slope = -d log(error) / d log(x)`` (positive
        for a decaying error, comparable to ``min(p, alpha)``), ``intercept`` (of ``log(error)``, or of
        ``log(error / log x)`` when corrected, at ``log x = 0``) and ``points`` (iterations fitted).
    """
    by = _as_list(by)
    _require_columns(df, "metric", [metric])
    _require_columns(df, "x", [x])
    _require_columns(df, "by", by)
    _require_columns(df, "df (tidy results)", ["rep", "n"])
    keys = by + ["rep"]
    window = _fit_window(df, keys, check_int("burn_in", burn_in, 0))
    log_x, log_err = _log_pairs(df, window, metric, x, log_correction)

    frame = window[keys].copy()
    frame["_lx"] = log_x
    frame["_ly"] = log_err
    fits = ols_by_group(frame, keys, "_lx", "_ly")
    fits["slope"] = -fits.pop("coef")
    return fits[keys + ["slope", "intercept", "points"]]


def _fit_window(df: pd.DataFrame, keys: list[str], burn_in: int) -> pd.DataFrame:
    """The rows of :func:`fit_slopes` after the burn-in, checked: one row per (``*keys``, ``n``)
    and at least ``MIN_POINTS`` iterations left in every repetition."""
    # A missing configuration column in `by` would silently pool different curves into one fit.
    if df.duplicated(keys + ["n"]).any():
        raise ValueError(
            "by must name every configuration column: rows are not unique per "
            f"({', '.join(keys + ['n'])}); pass e.g. by=['alpha'] or by=['estimator', 'alpha']"
        )
    window = df[df["n"] > burn_in]
    if window.empty:
        raise ValueError(
            f"burn_in={burn_in} drops every iteration (largest n is {df['n'].max()}); "
            f"it must leave at least {MIN_POINTS} iterations per repetition"
        )
    # Reindex on all groups so a repetition the burn-in empties entirely counts as zero points.
    counts = (
        window.groupby(keys, sort=True, dropna=False)
        .size()
        .reindex(df.groupby(keys, sort=True, dropna=False).size().index, fill_value=0)
    )
    if counts.min() < MIN_POINTS:
        raise ValueError(
            f"burn_in={burn_in} leaves only {int(counts.min())} iteration(s) in some "
            f"repetition; it must leave at least {MIN_POINTS}"
        )
    return window


def _log_pairs(
    df: pd.DataFrame, window: pd.DataFrame, metric: str, x: str, log_correction: bool | str
) -> tuple[np.ndarray, np.ndarray]:
    """``(log x, log error)`` of the window's rows, the error divided by ``log x`` where
    ``log_correction`` applies (as :func:`fit_slopes` documents)."""
    err = window[metric].to_numpy(dtype=float)
    xs = window[x].to_numpy(dtype=float)
    if not np.all(np.isfinite(err) & (err > 0)):
        raise ValueError(
            f"metric {metric!r} must be finite and > 0 after the burn-in to take logs; "
            f"found {int(np.sum(~(np.isfinite(err) & (err > 0))))} bad value(s)"
        )
    if isinstance(log_correction, str):
        _require_columns(df, "log_correction", [log_correction])
        correct = window[log_correction].to_numpy(dtype=bool)
    else:
        correct = np.full(len(window), bool(log_correction))
    if np.any(xs <= (1.0 if correct.any() else 0.0)):
        raise ValueError(f"x column {x!r} must be > 0 (> 1 with log_correction, so that log x > 0)")
    log_x = np.log(xs)
    return log_x, np.log(err) - np.where(correct, np.log(np.where(correct, log_x, 1.0)), 0.0)


def summarize_slopes(
    slopes: pd.DataFrame,
    by: str | Sequence[str] | None = None,
    confidence: float = 0.95,
    method: str = "t",
    n_boot: int = 2000,
    seed: int = 0,
) -> pd.DataFrame:
    """Mean slope over repetitions with its standard error and an interval.

    ``slopes``: output of :func:`fit_slopes` (column ``slope``, one row per repetition).
    ``method="t"`` (the book's): the Student-t interval, whose coverage holds for a handful of
    repetitions too (a test simulates it at 3, 5 and 20). ``method="bootstrap"``: the percentile
    bootstrap over repetitions (``n_boot`` resamples, a fresh generator seeded with ``seed`` per
    group), which covers less than its label below a few dozen repetitions.

    Returns one row per group of ``by``: ``*by, slope, se, lo, hi, reps`` (``se``, ``lo``, ``hi``
    NaN with a single repetition).
    """
    by = _as_list(by)
    _require_columns(slopes, "slopes", ["slope"])
    _require_columns(slopes, "by", by)
    check_choice("method", method, ("t", "bootstrap"))
    confidence = check_range("confidence", confidence, 0.0, 1.0, low_inclusive=False, high_inclusive=False)
    n_boot = check_int("n_boot", n_boot, 1)
    seed = check_int("seed", seed, 0)
    if len(slopes) == 0:
        raise ValueError("slopes must hold at least one repetition, got an empty frame")
    if method == "t":
        frame = slopes.assign(_g=0)
        out = curve_summary(frame, "slope", by=by, x="_g", confidence=confidence)
        out = out.rename(columns={"mean": "slope"}).drop(columns="_g")
        return out[by + ["slope", "se", "lo", "hi", "reps"]]
    tail = (1.0 - confidence) / 2.0
    rows = []
    groups = slopes.groupby(by, sort=True, dropna=False) if by else [((), slopes)]
    for key, group in groups:
        values = group["slope"].to_numpy(dtype=float)
        reps = len(values)
        mean = float(values.mean())
        se = float(values.std(ddof=1) / np.sqrt(reps)) if reps > 1 else float("nan")
        rng = np.random.default_rng(seed)
        boot = values[rng.integers(0, reps, size=(n_boot, reps))].mean(axis=1)
        lo, hi = np.quantile(boot, [tail, 1.0 - tail]) if reps > 1 else (np.nan, np.nan)
        key = key if isinstance(key, tuple) else (key,)
        rows.append(
            {
                **dict(zip(by, key, strict=True)),
                "slope": mean,
                "se": se,
                "lo": float(lo),
                "hi": float(hi),
                "reps": reps,
            }
        )
    return pd.DataFrame(rows, columns=by + ["slope", "se", "lo", "hi", "reps"])


def burn_in_sensitivity(
    df: pd.DataFrame,
    metric: str = "w1",
    burn_ins: Iterable[int] = (0, 10, 30, 100),
    x: str = "M",
    log_correction: bool | str = False,
    by: str | Sequence[str] | None = None,
    confidence: float = 0.95,
    n_boot: int = 2000,
    seed: int = 0,
) -> pd.DataFrame:
    """Summarised slopes (:func:`summarize_slopes`) for each burn-in in ``burn_ins``.

    Returns ``burn_in, *by, slope, se, lo, hi, reps``: one row per (burn-in, group). A slope that
    drifts with the burn-in means the fitted window has not reached the asymptotic regime.
    """
    burn_ins = list(burn_ins)
    if not burn_ins:
        raise ValueError("burn_ins must hold at least one burn-in, got none")
    parts = []
    for burn_in in burn_ins:
        slopes = fit_slopes(df, metric=metric, burn_in=burn_in, x=x, log_correction=log_correction, by=by)
        summary = summarize_slopes(slopes, by=by, confidence=confidence, n_boot=n_boot, seed=seed)
        summary.insert(0, "burn_in", int(burn_in))
        parts.append(summary)
    return pd.concat(parts, ignore_index=True)


def baseline_rate(
    df: pd.DataFrame,
    metric: str = "w1",
    burn_in: int = 30,
    x: str = "M",
    by: str | Sequence[str] | None = None,
    confidence: float = 0.95,
    n_boot: int = 2000,
    seed: int = 0,
) -> pd.DataFrame:
    """Measure an unknown baseline rate ``p_hat`` from runs at ``alpha = 1`` (no synthetic data).

    ``df``: tidy results with an ``alpha`` column; only the rows with ``alpha == 1`` are used (the
    plain estimator, whose rate is ``p`` by definition). Returns :func:`summarize_slopes` of those
    runs: one row per group of ``by`` with ``slope`` (= ``p_hat``), ``se``, ``lo``, ``hi``, ``reps``.
    """
    _require_columns(df, "df", ["alpha"])
    plain = df[np.isclose(df["alpha"].astype(float), 1.0)]
    if plain.empty:
        raise ValueError(
            "df must hold runs at alpha = 1 to measure the baseline rate; found alphas "
            f"{sorted(df['alpha'].unique().tolist())}"
        )
    by = _as_list(by)
    slopes = fit_slopes(plain, metric=metric, burn_in=burn_in, x=x, by=by or None)
    return summarize_slopes(slopes, by=by or None, confidence=confidence, n_boot=n_boot, seed=seed)


def check_min_rule(
    summary: pd.DataFrame, baseline: pd.Series | dict, alphas: Iterable[float] | None = None
) -> pd.DataFrame:
    """Compare fitted slopes with the prediction ``min(p_hat, alpha)`` over an ``alpha`` grid.

    Parameters
    ----------
    summary
        :func:`summarize_slopes` by ``alpha`` (columns ``alpha, slope, lo, hi``)
    baseline
        One row of :func:`baseline_rate` (``slope``, ``lo``, ``hi`` of ``p_hat``)
    alphas
        Grid of the predicted line; default the alphas of ``summary``

    Returns
    -------
    pandas.DataFrame
        One row per alpha: ``alpha, value`` (``min(p_hat, alpha)``), ``value_lo, value_hi``
        (the prediction at the ends of ``p_hat``'s interval), and, where ``summary`` has that alpha,
        ``slope, lo, hi`` and ``consistent``: the slope's interval meets the prediction's interval.
    """
    _require_columns(summary, "summary", ["alpha", "slope", "lo", "hi"])
    p_hat, p_lo, p_hi = (float(baseline[k]) for k in ("slope", "lo", "hi"))
    grid = np.asarray(
        sorted(set(summary["alpha"].astype(float))) if alphas is None else list(alphas), dtype=float
    )
    out = pd.DataFrame(
        {
            "alpha": grid,
            "value": np.minimum(p_hat, grid),
            "value_lo": np.minimum(p_lo, grid),
            "value_hi": np.minimum(p_hi, grid),
        }
    )
    fitted = summary[["alpha", "slope", "lo", "hi"]].astype({"alpha": float})
    out = out.merge(fitted, on="alpha", how="left")
    out["consistent"] = (out["lo"] <= out["value_hi"]) & (out["hi"] >= out["value_lo"])
    return out


def min_rule_gaps(
    summary: pd.DataFrame, baseline: pd.Series | dict, confidence: float = 0.95
) -> pd.DataFrame:
    """Gap between each contaminated slope and its prediction ``min(p_hat, alpha)``, with a
    Student-t interval.

    ``summary``: :func:`summarize_slopes` by ``alpha`` (columns ``alpha, slope, se, reps``);
    ``baseline``: one row of :func:`baseline_rate` (``slope``, ``se``). Where the prediction is
    ``p_hat`` (``alpha > p_hat``) its standard error adds to the slope's in quadrature (the runs
    at ``alpha = 1`` are independent of the others); the half-width is the Student-t quantile
    with ``reps - 1`` degrees of freedom times that standard error. Returns one row per
    ``alpha < 1``, a cell without a slope included (NaN: a check then says it has no interval):
    ``alpha, gap, se, lo, hi, reps`` with ``gap = slope - min(p_hat, alpha)`` (``lo``, ``hi`` NaN
    with a single repetition).
    """
    _require_columns(summary, "summary", ["alpha", "slope", "se", "reps"])
    p_hat, p_se = float(baseline["slope"]), float(baseline["se"])
    cells = summary[summary["alpha"].astype(float) < 1.0]
    alpha = cells["alpha"].astype(float).to_numpy()
    se = np.sqrt(cells["se"].to_numpy(dtype=float) ** 2 + np.where(alpha > p_hat, p_se, 0.0) ** 2)
    half = _t_half_width(se, cells["reps"].to_numpy(dtype=float), confidence)
    gap = cells["slope"].to_numpy(dtype=float) - np.minimum(p_hat, alpha)
    return pd.DataFrame(
        dict(alpha=alpha, gap=gap, se=se, lo=gap - half, hi=gap + half, reps=cells["reps"].to_numpy())
    )


def rep_slopes(
    results: pd.DataFrame,
    burn_in: int,
    by: Sequence[str],
    metrics: Sequence[str] = ("w1", "mmd"),
    tie_rule: str = "book",
) -> pd.DataFrame:
    """Per-repetition slopes of every metric, the error divided by ``log M_n`` where the rates tie
    (:func:`needs_log_correction` from the columns ``p``, ``alpha`` and, for biased runs,
    ``bias_rate`` and ``bias_correction``, with its ``rule=tie_rule``).

    Returns one row per (``*by``, ``rep``, metric): ``*by, rep, slope, intercept, points, metric,
    p, log_corrected``.
    """
    by = _as_list(by)
    frame = results.copy()
    q = None
    if "bias_rate" in frame:
        corrected = frame["bias_correction"].astype(bool)
        q = frame["bias_rate"].astype(float).where(~corrected, np.inf)
    frame["_log"] = needs_log_correction(frame["p"], frame["alpha"], q, rule=tie_rule)
    parts = []
    for metric in metrics:
        slopes = fit_slopes(frame, metric=metric, burn_in=burn_in, log_correction="_log", by=by)
        slopes["metric"] = metric
        parts.append(slopes)
    keys = frame.groupby(by, sort=True, dropna=False)[["p", "_log"]].first().reset_index()
    out = pd.concat(parts, ignore_index=True).merge(keys, on=by)
    return out.rename(columns={"_log": "log_corrected"})


def last_difference(
    first: pd.DataFrame, second: pd.DataFrame, by: Sequence[str], confidence: float = 0.95
) -> pd.DataFrame:
    """Difference of two mean curves at their last iteration, with a Welch t interval.

    ``first``, ``second``: curve summaries (:func:`recursive_lib.rates.curve_summary`, columns
    ``*by, n, mean, se, reps``) of independent runs (e.g. corrected and unbiased). Returns one row
    per group of ``by`` present in both: ``*by, n, first, second, estimate, lo, hi, df`` with
    ``estimate = first - second`` and ``df`` the Welch-Satterthwaite degrees of freedom of the
    interval (pass it on to :func:`recursive_lib.claims.sign`).
    """
    from scipy import stats

    by = list(by)
    confidence = check_range("confidence", confidence, 0.0, 1.0, low_inclusive=False, high_inclusive=False)
    ends = []
    for frame in (first, second):
        last = frame[frame["n"] == frame.groupby(by, dropna=False)["n"].transform("max")]
        ends.append(last[by + ["n", "mean", "se", "reps"]])
    both = ends[0].merge(ends[1], on=by + ["n"], suffixes=("_1", "_2"))
    v1, v2 = both["se_1"] ** 2, both["se_2"] ** 2
    df = (v1 + v2) ** 2 / (v1**2 / (both["reps_1"] - 1) + v2**2 / (both["reps_2"] - 1))
    half = stats.t.ppf(0.5 + confidence / 2, df) * np.sqrt(v1 + v2)
    out = both[by + ["n"]].copy()
    out["first"], out["second"] = both["mean_1"], both["mean_2"]
    out["estimate"] = both["mean_1"] - both["mean_2"]
    out["lo"], out["hi"] = out["estimate"] - half, out["estimate"] + half
    out["df"] = df
    return out.reset_index(drop=True)
