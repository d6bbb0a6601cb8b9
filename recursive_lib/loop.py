"""The readable reference loop: contaminated recursive training, one repetition at a time.

This is the paper's protocol written out as plainly as possible (PAPER.md, "One iteration"). The fast
engine (:mod:`recursive_lib.engine`) computes the same statistics for many repetitions at once; a test
proves the two agree.

Iteration ``n = 1, ..., T`` of the *accumulate* regime:

1. draw ``m1`` fresh real points from the truth ``P``;
2. fit the estimator on all real and synthetic points gathered so far,
   ``M_n = n m1 + (n - 1) m2`` points;
3. measure the fit against ``P``: W1, MMD, and the fit's mean and variance;
4. draw ``m2`` synthetic points from the fit and add them to the pool.

Other regimes (``fresh``, ``replace``, ``accumulate-initial``) differ only in what the training set of
step 2 is; each is one entry of ``_TRAINING_SETS``. Neural models (estimators with scikit-learn's
``warm_start``: the quantile sampler, the flow) keep training across iterations under ``fresh``, as
the paper's image and text models do, and restart from scratch in every other regime.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
from sklearn.base import clone

from recursive_lib._validation import check_choice, check_int, check_range
from recursive_lib.bias import importance_weights
from recursive_lib.data import dimension
from recursive_lib.metrics import grid_masses, mmd2_unbiased, mmd_grid, w1_grid, w1_points

REGIMES = ("accumulate", "fresh", "replace", "accumulate-initial")
MMD_SAMPLES = 500    # multivariate truths: the sample MMD uses at most this many points per side


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
_TRAINING_SETS: dict[str, Callable[[list, list], np.ndarray]] = {
    "accumulate": _accumulate, "fresh": _fresh, "replace": _replace,
    "accumulate-initial": _accumulate_initial}


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


def make_measure(estimator, truth, grid, mmd_width: float, rng: np.random.Generator,
                 metric_samples: int = 2000) -> Callable[[object], tuple[float, float]]:
    """``model -> (W1, MMD)`` to the truth, chosen from the truth's dimension.

    1-D truths (with ``cdf``): exact grid metrics, fit and truth put on the grid the same way
    (densities for fits with ``pdf``, cell masses otherwise). Multivariate truths (``dim >= 2``,
    no closed-form cdf, e.g. two moons): ``metric_samples`` draws of the fit against one reference
    sample of the truth drawn here (from ``rng``), W1 by :func:`recursive_lib.metrics.w1_points`
    (exact up to 2000 points, sliced with 50 directions above) and MMD as ``sqrt(max(MMD^2, 0))``
    of :func:`recursive_lib.metrics.mmd2_unbiased` on the first :data:`MMD_SAMPLES` points. These
    carry a sampling floor of order ``metric_samples^(-1/2)``: rates are read above it.
    """
    if dimension(truth) > 1:
        reference = truth.sample(check_int("metric_samples", metric_samples, 10), rng)
        k = min(metric_samples, MMD_SAMPLES)    # the MMD is quadratic in the sample size

        def sample_metrics(model):
            fake = model.sample(metric_samples, rng)
            w1 = w1_points(fake, reference, n_projections=50, seed=int(rng.integers(2**31)))
            return w1, float(np.sqrt(max(mmd2_unbiased(fake[:k], reference[:k], mmd_width), 0.0)))

        return sample_metrics
    use_pdf = hasattr(estimator, "pdf")
    cdf_true = truth.cdf(grid)
    masses_true = grid_masses(truth, grid, use_pdf)

    def grid_metrics(model):
        return (float(w1_grid(model.cdf(grid), cdf_true, grid)),
                float(mmd_grid(grid_masses(model, grid, use_pdf), masses_true, grid, mmd_width)))

    return grid_metrics


def run_reference(estimator, alpha: float, m1: int, T: int, truth, grid, rng: np.random.Generator,
                  bandwidth: Callable[[int], float] | None = None, regime: str = "accumulate",
                  mmd_width: float = 0.5, bias=None,
                  bias_correction: bool = False,
                  metric_samples: int = 2000) -> dict[str, np.ndarray]:
    """Run one repetition of the recursive training loop.

    Parameters
    ----------
    estimator : estimator instance (e.g. ``ECDF()``, ``GaussianKDE()``), cloned afresh every iteration
    alpha : real fraction ``alpha`` in (0, 1]; ``m2 = round((1 - alpha) m1 / alpha)``
    m1 : fresh real points per iteration
    T : number of iterations
    truth : the true distribution ``P`` (see :mod:`recursive_lib.data` for the protocol)
    grid : (G,) evaluation grid of the metrics
    rng : the only source of randomness
    bandwidth : ``n -> h_n``, set as the estimator's ``bandwidth`` at iteration ``n`` (KDE), or ``None``
    regime : ``"accumulate"`` (the paper's CRT), ``"fresh"``, ``"replace"`` or
        ``"accumulate-initial"`` (see :func:`batch_sizes`; ``alpha`` may be 0 for fresh and replace)
    mmd_width : Gaussian kernel width of the MMD
    bias : ``None`` (real data from ``P``) or a :class:`recursive_lib.bias.BiasSchedule`: the real
        batch of iteration ``n`` comes from ``P_n = (1 - b_n) P + b_n Q``
    bias_correction : fit with importance weights ``dP / dP_n`` on the real points (synthetic
        points weigh 1); needs an estimator whose ``fit`` accepts ``weights``

    metric_samples : multivariate truths only: model and truth samples behind the sample-based
        W1 and MMD (see :func:`make_measure`)

    Returns
    -------
    dict of ``(T,)`` arrays: ``n``, ``M`` (``M_n``), ``w1``, ``mmd``, ``mean``, ``var`` (the last two
    of the fit ``P_hat_n``).
    """
    alpha = check_alpha(regime, alpha)
    m1 = check_int("m1", m1, 1)
    T = check_int("T", T, 1)
    first, later, m2 = batch_sizes(regime, alpha, m1)
    grid = np.asarray(grid, dtype=float)

    measure = make_measure(estimator, truth, grid, mmd_width, rng, metric_samples)
    # Neural models (those with scikit-learn's warm_start) keep training across iterations in the
    # fresh regime, as the paper's image and text models do; everywhere else each fit starts afresh.
    continual = regime == "fresh" and "warm_start" in estimator.get_params()

    real, synthetic = [], []
    weighted = bool(bias_correction) and bias is not None
    real_weights = []    # importance weights of the real batches (bias correction only)
    out = {key: np.empty(T) for key in ("n", "M", "w1", "mmd", "mean", "var")}
    for i, n in enumerate(range(1, T + 1)):
        stream = truth if bias is None else bias.stream(truth, n)
        real.append(stream.sample(first if i == 0 else later, rng))   # 1. fresh real data
        train = _TRAINING_SETS[regime](real, synthetic)
        if not (continual and i):
            model = clone(estimator)
            if continual:
                model.set_params(warm_start=True)
        if "random_state" in model.get_params():
            model.set_params(random_state=rng)   # the repetition's stream itself, not a copy
        if bandwidth is not None:
            model.set_params(bandwidth=bandwidth(n))
        if weighted:
            real_weights.append(importance_weights(real[-1], truth, bias.q_dist, stream.b))
            ones = [np.ones(batch.size) for batch in synthetic]
            model.fit(train, weights=_TRAINING_SETS[regime](real_weights, ones))
        else:
            model.fit(train)                                     # 2. fit on the pool
        out["n"][i], out["M"][i] = n, len(train)                 # 3. measure
        out["w1"][i], out["mmd"][i] = measure(model)
        out["mean"][i], out["var"][i] = model.mean_, model.var_
        synthetic.append(model.sample(m2, rng))                  # 4. synthetic data for later fits
    out["n"] = out["n"].astype(int)
    out["M"] = out["M"].astype(int)
    return out
