"""The accumulate loop for the neural estimators, every repetition at once.

Same protocol as :func:`recursive_lib.loops.reference.run_reference`, but at each iteration the ``R`` networks
(one per repetition) are trained together as one ensemble: stacked weights, one optimizer step for
all (:func:`recursive_lib.estimators.quantile.train_ensemble` for the quantile sampler,
:class:`recursive_lib.estimators.flow.FlowEnsemble` for the normalizing flow). Every repetition draws
its random numbers from its own Generator in the same order as the reference loop with a lone
:class:`~recursive_lib.estimators.quantile.QuantileSampler` or
:class:`~recursive_lib.estimators.flow.Flow`, so the two agree up to floating-point rounding (a test
checks it).

Metrics are the reference loop's (:func:`recursive_lib.loops.measure.make_measure`): on a 1-D truth the grid
metrics, the fit's cdf being the empirical cdf of ``n_eval`` model samples; on a multivariate truth
the sample W1 and MMD of ``metric_samples`` model draws against a reference sample of the truth.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from threadpoolctl import threadpool_limits

from recursive_lib._progress import progress_bar
from recursive_lib._validation import check_choice, check_int
from recursive_lib.data.truths import dimension
from recursive_lib.estimators import registry_name
from recursive_lib.estimators.quantile import sample_ensemble, train_ensemble
from recursive_lib.loops.measure import make_measure
from recursive_lib.loops.regimes import synthetic_count

#: estimators :func:`run_batched` trains as one ensemble over repetitions
BATCHED_ESTIMATORS = ("quantile", "flow")


class _QuantileMembers:
    """The quantile sampler's ensemble: ``fit(pool (R, M), rngs)``, ``sample(n, rngs) -> (R, n)``,
    with the hyper-parameters of ``spec``, a :class:`~recursive_lib.estimators.quantile.QuantileSampler`."""

    def __init__(self, spec):
        self.spec = spec

    def fit(self, pool, rngs):
        s = self.spec
        self.params = train_ensemble(
            pool, rngs, s.hidden, s.negative_slope, s.lr, s.weight_decay, s.epochs, s.batch_size
        )
        return self

    def sample(self, n, rngs):
        return sample_ensemble(self.params, n, rngs, self.spec.negative_slope)


class _FlowMembers:
    """The flow ensemble of ``spec``'s hyper-parameters (a :class:`~recursive_lib.estimators.flow.Flow`)
    on pools ``(R, M)`` (1-D) or ``(R, M, d)``; samples shaped alike."""

    def __init__(self, spec):
        self.ensemble = spec.make_ensemble()

    def fit(self, pool, rngs):
        self.flat = pool.ndim == 2
        self.ensemble.fit(pool[..., None] if self.flat else pool, rngs)
        return self

    def sample(self, n, rngs):
        out = self.ensemble.sample(n, rngs)
        return out[..., 0] if self.flat else out


_MEMBERS: dict[str, type[_QuantileMembers] | type[_FlowMembers]] = {
    "quantile": _QuantileMembers,
    "flow": _FlowMembers,
}


class _Fitted:
    """Repetition ``r`` of a fitted ensemble as the reference loop's measure sees a model: the cdf
    of its evaluation samples (1-D), or its draws for the sample metrics, drawn beforehand for all
    repetitions at once from their own streams (d >= 2)."""

    def __init__(self, evals: np.ndarray, drawn: np.ndarray | None = None):
        self.sorted = np.sort(evals) if evals.ndim == 1 else None
        self.drawn = drawn

    def cdf(self, grid):
        return np.searchsorted(self.sorted, grid, side="right") / self.sorted.size

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        if self.drawn is None or len(self.drawn) != n:
            raise RuntimeError("the ensemble drew its metric samples beforehand; n must match")
        return self.drawn


def run_batched(
    estimator,
    alpha: float,
    m1: int,
    T: int,
    truth,
    grid,
    rngs: Sequence[np.random.Generator],
    mmd_width: float = 0.5,
    progress: bool = False,
    metric_samples: int = 2000,
) -> dict[str, np.ndarray]:
    """Accumulate-regime recursive training of a neural estimator, ``R = len(rngs)`` repetitions at once.

    Parameters as :func:`recursive_lib.loops.reference.run_reference`: ``estimator`` is an
    instance of a family in :data:`BATCHED_ESTIMATORS` (a
    :class:`~recursive_lib.estimators.quantile.QuantileSampler` or
    :class:`~recursive_lib.estimators.flow.Flow`), a template whose hyper-parameters every member
    of the ensemble takes, ``n_eval`` included: the model samples behind ``cdf``, ``mean``, ``var``;
    ``progress`` shows a tqdm bar over iterations (silent when the environment variable ``CI`` is set).

    Returns a dict of ``(R, T)`` arrays ``w1``, ``mmd``, ``mean``, ``var``.
    """
    spec = estimator  # the lone estimator, a template: its hyper-parameters, one source
    estimator = check_choice("estimator", registry_name(spec), BATCHED_ESTIMATORS)
    n_eval = check_int("n_eval", spec.n_eval, 1)
    R, m2 = len(rngs), synthetic_count(alpha, m1)
    d = dimension(truth)
    grid = None if grid is None else np.asarray(grid, dtype=float)
    # One measure per repetition, built (and its truth reference drawn) as the reference loop does.
    measures = [make_measure(None, truth, grid, mmd_width, rng, metric_samples) for rng in rngs]
    out = {key: np.empty((R, T)) for key in ("w1", "mmd", "mean", "var")}
    shape = (R, 0) if d == 1 else (R, 0, d)
    pool = np.empty(shape)
    with threadpool_limits(1, user_api="blas"):
        # The numpy products (metrics, statistics) are small: BLAS threads only cost time, and spin
        # against busy cores. Torch has its own threads (recursive_lib._torch).
        for i in progress_bar(range(T), desc=f"{estimator} ensemble", unit="iteration", enabled=progress):
            real = np.stack([truth.sample(m1, rng) for rng in rngs])  # 1. fresh real data
            pool = np.concatenate([pool[:, : i * m1], real, pool[:, i * m1 :]], axis=1)
            ensemble = _MEMBERS[estimator](spec).fit(pool, rngs)  # 2. fit on the pool
            evals = ensemble.sample(n_eval, rngs)
            drawn = None if d == 1 else ensemble.sample(metric_samples, rngs)
            for r in range(R):  # 3. measure
                fitted = _Fitted(evals[r], None if drawn is None else drawn[r])
                out["w1"][r, i], out["mmd"][r, i] = measures[r](fitted)
            first = evals if d == 1 else evals[..., 0]
            out["mean"][:, i] = first.mean(1)
            out["var"][:, i] = evals.var(1) if d == 1 else evals.var(1).sum(-1)
            synthetic = ensemble.sample(m2, rngs)  # 4. synthetic data
            pool = np.concatenate([pool, synthetic], axis=1)
    return out
