"""How a fitted model is measured against the truth, the same way in every loop."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from recursive_lib._validation import check_int
from recursive_lib.data.truths import dimension
from recursive_lib.metrics import grid_masses, mmd2_unbiased, mmd_grid, w1_grid, w1_points

#: For multivariate truths, the sample MMD uses at most this many points per side.
MMD_SAMPLES = 500


def make_measure(
    estimator, truth, grid, mmd_width: float, rng: np.random.Generator, metric_samples: int = 2000
) -> Callable[[object], tuple[float, float]]:
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
        k = min(metric_samples, MMD_SAMPLES)  # the MMD is quadratic in the sample size

        def sample_metrics(model):
            fake = model.sample(metric_samples, rng)
            w1 = w1_points(fake, reference, n_projections=50, seed=int(rng.integers(2**31)))
            return w1, float(np.sqrt(max(mmd2_unbiased(fake[:k], reference[:k], mmd_width), 0.0)))

        return sample_metrics
    use_pdf = hasattr(estimator, "pdf")
    cdf_true = truth.cdf(grid)
    masses_true = grid_masses(truth, grid, use_pdf)

    def grid_metrics(model):
        return (
            float(w1_grid(model.cdf(grid), cdf_true, grid)),
            float(mmd_grid(grid_masses(model, grid, use_pdf), masses_true, grid, mmd_width)),
        )

    return grid_metrics
