"""The readable reference loop: contaminated recursive training, one repetition at a time.

This is the paper's protocol (one iteration of contaminated recursive training, spelled out below
and in the book's chapter ``chapters/setting.md``) written out as plainly as possible. The fast
engine (:mod:`recursive_lib.loops.fast`) computes the same statistics for many repetitions at once; a test
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

from collections.abc import Callable

import numpy as np
from sklearn.base import clone

from recursive_lib._validation import check_int
from recursive_lib.data.contamination import importance_weights
from recursive_lib.loops.measure import make_measure
from recursive_lib.loops.regimes import TRAINING_SETS, batch_sizes, check_alpha


def run_reference(
    estimator,
    alpha: float,
    m1: int | None,
    T: int,
    truth,
    grid,
    rng: np.random.Generator,
    bandwidth: Callable[[int], float] | None = None,
    regime: str = "accumulate",
    mmd_width: float = 0.5,
    bias=None,
    bias_correction: bool = False,
    metric_samples: int = 2000,
    *,
    m_total: int | None = None,
) -> dict[str, np.ndarray]:
    """Run one repetition of the recursive training loop.

    One function on purpose: it is the protocol written out to be read from top to bottom (the
    setting chapter prints its source), each step where it happens.

    Parameters
    ----------
    estimator
        Estimator instance (e.g. ``ECDF()``, ``GaussianKDE()``), cloned afresh every iteration
    alpha
        Real fraction ``alpha`` in (0, 1]; ``m2 = round((1 - alpha) m1 / alpha)``
    m1
        Fresh real points per iteration (accumulating regimes; ``None`` for fresh and replace)
    T
        Number of iterations
    truth
        The true distribution ``P`` (see :mod:`recursive_lib.data` for the protocol)
    grid
        (G,) evaluation grid of the metrics
    rng
        The only source of randomness
    bandwidth
        ``n -> h_n``, set as the estimator's ``bandwidth`` at iteration ``n`` (KDE), or ``None``
    regime
        ``"accumulate"`` (the paper's CRT), ``"fresh"``, ``"replace"`` or
        ``"accumulate-initial"`` (see :func:`~recursive_lib.loops.regimes.batch_sizes`; ``alpha``
        may be 0 for fresh and replace)
    mmd_width
        Gaussian kernel width of the MMD
    bias
        ``None`` (real data from ``P``) or a :class:`recursive_lib.data.contamination.BiasSchedule`: the real
        batch of iteration ``n`` comes from ``P_n = (1 - b_n) P + b_n Q``
    bias_correction
        Fit with importance weights ``dP / dP_n`` on the real points (synthetic
        points weigh 1); needs an estimator whose ``fit`` accepts ``weights``
    metric_samples
        Multivariate truths only: model and truth samples behind the sample-based
        W1 and MMD (see :func:`~recursive_lib.loops.measure.make_measure`)
    m_total
        Points in each batch of the fresh and replace regimes (``None`` for the others)

    Returns
    -------
    dict
        ``(T,)`` arrays: ``n``, ``M`` (``M_n``), ``w1``, ``mmd``, ``mean``, ``var`` (the last two
        of the fit ``P_hat_n``).
    """
    alpha = check_alpha(regime, alpha)
    T = check_int("T", T, 1)
    first, later, m2 = batch_sizes(regime, alpha, m1, m_total=m_total)
    grid = np.asarray(grid, dtype=float)

    measure = make_measure(estimator, truth, grid, mmd_width, rng, metric_samples)
    # Neural models (those with scikit-learn's warm_start) keep training across iterations in the
    # fresh regime, as the paper's image and text models do; everywhere else each fit starts afresh.
    continual = regime == "fresh" and "warm_start" in estimator.get_params()

    real: list[np.ndarray] = []
    synthetic: list[np.ndarray] = []
    weighted = bool(bias_correction) and bias is not None
    real_weights = []  # importance weights of the real batches (bias correction only)
    out = {key: np.empty(T) for key in ("n", "M", "w1", "mmd", "mean", "var")}
    for i, n in enumerate(range(1, T + 1)):
        stream = truth if bias is None else bias.stream(truth, n)
        real.append(stream.sample(first if i == 0 else later, rng))  # 1. fresh real data
        train = TRAINING_SETS[regime](real, synthetic)
        if not (continual and i):
            model = clone(estimator)
            if continual:
                model.set_params(warm_start=True)
        if "random_state" in model.get_params():
            model.set_params(random_state=rng)  # the repetition's stream itself, not a copy
        if bandwidth is not None:
            model.set_params(bandwidth=bandwidth(n))
        if weighted:
            real_weights.append(importance_weights(real[-1], truth, bias.q_dist, stream.b))
            ones = [np.ones(batch.size) for batch in synthetic]
            model.fit(train, weights=TRAINING_SETS[regime](real_weights, ones))
        else:
            model.fit(train)  # 2. fit on the pool
        out["n"][i], out["M"][i] = n, len(train)  # 3. measure
        out["w1"][i], out["mmd"][i] = measure(model)
        out["mean"][i], out["var"][i] = model.mean_, model.var_
        synthetic.append(model.sample(m2, rng))  # 4. synthetic data for later fits
    out["n"] = out["n"].astype(int)
    out["M"] = out["M"].astype(int)
    return out
