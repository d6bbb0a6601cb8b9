"""Seeded configurations whose tidy results must not change when code moves
(tests/test_regression.py compares them with the values in tests/regression/, within the
tolerances of tests/regression_values.py).

Each case is a function returning a DataFrame; :func:`kind` says whether its numbers come from
float64 NumPy paths or from torch in float32.
"""

from __future__ import annotations

from recursive_lib import simulate
from recursive_lib.data import MIXTURE_2D, MOONS, PAPER_TRUTH
from recursive_lib.experiments.bias import floor_curves
from recursive_lib.experiments.paths import ecdf_support, sample_trajectory
from recursive_lib.experiments.thinned import simulate_thinned
from recursive_lib.loops.regimes import size_name
from recursive_lib.simulation import snapshots

STATS = ["rep", "n", "M", "w1", "mmd", "mean", "var"]
KDE_BIAS = dict(scale=0.2, mean=3.0, sd=1.0, offset=5.0)
ECDF_BIAS = dict(scale=0.1, mean=2.0, sd=1.0, offset=5.0)


#: cases whose numbers pass through torch in float32 (trained networks)
FLOAT32_PREFIXES = ("quantile-", "flow-", "images-", "text-", "trajectory-quantile")

#: chapters whose glued numbers pass through torch in float32
FLOAT32_CHAPTERS = frozenset({"quantile", "multivariate", "images", "text"})


def kind(name: str) -> str:
    """The tolerance kind of a case (``float32`` for torch paths, else ``float64``)."""
    return "float32" if name.startswith(FLOAT32_PREFIXES) else "float64"


def chapter_kind(chapter: str) -> str:
    """The tolerance kind of a chapter's glued values."""
    return "float32" if chapter in FLOAT32_CHAPTERS else "float64"


def _sim(**kwargs):
    frame = simulate(seed=3, **kwargs)
    return frame[STATS + (["b_n"] if "b_n" in frame else [])]


def _cases():
    cases = {}
    for estimator in ("ecdf", "kde"):
        for engine in ("fast", "reference"):
            cases[f"{estimator}-{engine}-accumulate"] = lambda e=estimator, g=engine: _sim(
                estimator=e, engine=g, alpha=0.3, m1=20, T=15, reps=3, grid_size=100
            )
        for regime in ("fresh", "replace", "accumulate-initial"):
            cases[f"{estimator}-fast-{regime}"] = lambda e=estimator, r=regime: _sim(
                estimator=e, regime=r, alpha=0.5, **{size_name(r): 20}, T=15, reps=3, grid_size=100
            )
        bias = KDE_BIAS if estimator == "kde" else ECDF_BIAS
        for corrected in (False, True):
            cases[f"{estimator}-biased-corrected={corrected}"] = lambda e=estimator, b=bias, c=corrected: (
                _sim(
                    estimator=e,
                    alpha=0.5,
                    m1=20,
                    T=15,
                    reps=3,
                    grid_size=200,
                    bias=dict(b, rate=0.5),
                    bias_correction=c,
                )
            )
        cases[f"{estimator}-early-bias"] = lambda e=estimator, b=bias: _sim(
            estimator=e, alpha=0.5, m1=20, T=15, reps=3, grid_size=200, bias=dict(b, rate=0.0, until=5)
        )
    for regime in ("accumulate", "fresh", "replace", "accumulate-initial"):
        cases[f"gaussian-{regime}"] = lambda r=regime: _sim(
            estimator="gaussian", regime=r, alpha=0.5, **{size_name(r): 20}, T=10, reps=2, grid_size=100
        )
    quantile = dict(epochs=3, batch_size=64, n_eval=500, hidden=(16, 16))
    for engine in ("fast", "reference"):
        cases[f"quantile-{engine}"] = lambda g=engine: _sim(
            estimator="quantile",
            engine=g,
            alpha=0.5,
            m1=30,
            T=3,
            reps=2,
            grid_size=100,
            estimator_params=quantile,
        )
    cases["quantile-fresh"] = lambda: _sim(
        estimator="quantile",
        regime="fresh",
        alpha=0.5,
        m_total=30,
        T=3,
        reps=2,
        grid_size=100,
        estimator_params=quantile,
    )
    cases["gmm-2d"] = lambda: _sim(
        estimator="gmm",
        truth=MIXTURE_2D,
        alpha=0.5,
        m1=20,
        T=4,
        reps=2,
        metric_samples=200,
        estimator_params=dict(n_components=2),
    )
    flow = dict(steps=10)
    for engine in ("fast", "reference"):
        cases[f"flow-moons-{engine}"] = lambda g=engine: _sim(
            estimator="flow",
            truth=MOONS,
            engine=g,
            alpha=0.5,
            m1=20,
            T=2,
            reps=2,
            metric_samples=200,
            estimator_params=flow,
        )
    cases["snapshots-kde"] = lambda: snapshots(
        estimator="kde", alpha=0.3, at=(1, 5, 12), m1=20, reps=2, seed=3, grid_size=100
    )[["rep", "n", "x", "density", "cdf"]]
    cases["snapshots-ecdf"] = lambda: snapshots(
        estimator="ecdf", alpha=0.3, at=(1, 5, 12), m1=20, reps=2, seed=3, grid_size=100
    )[["rep", "n", "x", "cdf"]]
    cases["thinned-kde-biased"] = lambda: simulate_thinned(
        burn_in=5,
        curve_points=10,
        estimator="kde",
        alpha=0.25,
        m1=20,
        T=40,
        reps=3,
        seed=3,
        bias=dict(KDE_BIAS, rate=0.5),
        bandwidth_exponent=0.5,
        h0=2.0,
        grid_size=200,
    )[STATS + ["slope_w1", "slope_mmd", "log_corrected"]]
    cases["thinned-ecdf-tie"] = lambda: simulate_thinned(
        burn_in=5, curve_points=10, estimator="ecdf", alpha=0.5, m1=20, T=40, reps=3, seed=3, grid_size=100
    )[STATS + ["slope_w1", "slope_mmd", "log_corrected"]]
    cases["floor-curves"] = lambda: floor_curves(
        {"kde": dict(bias=KDE_BIAS, grid_size=200), "ecdf": dict(bias=ECDF_BIAS, grid_size=200)},
        ["ecdf", "kde"],
        [0.25, 0.75],
        20,
        60,
        bias_rate=0.25,
        points=12,
    )[["alpha", "n", "value"]]
    cases["trajectory-quantile"] = lambda: sample_trajectory(
        "quantile", 0.5, 30, [1, 3], PAPER_TRUTH, seed=3, n_show=50, estimator_params=quantile
    )[["n", "x", "y"]]
    cases["support-replace"] = lambda: ecdf_support("replace", 0.0, 20, 10, 3, PAPER_TRUTH, 3)[
        ["rep", "n", "distinct", "coverage"]
    ]
    cases["support-fresh"] = lambda: ecdf_support("fresh", 0.5, 20, 10, 3, PAPER_TRUTH, 3)[
        ["rep", "n", "distinct", "coverage"]
    ]
    cases["images-smoke"] = _images
    cases["text-smoke"] = _text
    return cases


def _images():
    from recursive_lib.experiments import images

    frame = images.run_images(
        alpha=0.5,
        rep=1,
        T=3,
        m_total=60,
        epochs=2,
        batch_size=30,
        lr=1e-3,
        diffusion_steps=10,
        width=16,
        ema=0.9,
        n_eval=50,
        n_test=100,
        seed=3,
    )
    return frame[["iteration", "n_real", "n_synthetic", "loss", "fd", "label_entropy", "confidence"]]


def _text():
    from recursive_lib.experiments import text

    frame = text.run_text(
        alpha=0.5,
        seed=3,
        rep=1,
        T=3,
        m_total=16,
        block_len=16,
        epochs=1,
        hidden=16,
        n_heldout=20,
        n_generate=20,
        warmup=1,
    )
    return frame[
        [
            "iteration",
            "n_real",
            "n_synthetic",
            "loss",
            "perplexity",
            "entropy_heldout",
            "entropy_generated",
            "distinct_1",
            "distinct_2",
            "distinct_3",
        ]
    ]


CASES = _cases()
