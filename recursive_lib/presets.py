"""Named parameter sets for every chapter: ``smoke`` (CI, seconds), ``book`` (the default build,
minutes on a laptop), ``paper`` (the authors' scale, from their scripts; see shared PAPER.md).

A chapter's ``parameters`` cell holds ``preset`` and one variable per knob, ``None`` meaning
"the preset's value"; ``resolve`` fills the gaps and validates everything at once::

    cfg = presets.resolve("setting", preset, alphas=alphas, m1=m1, T=T, reps=reps, seed=seed)
    cfg.alphas, cfg.T, cfg.as_dict()

To add a chapter, add an entry to ``PRESETS`` (all three presets, same keys) and, for a new
kind of knob, a check to ``CHECKS``.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, Callable

from recursive_lib._validation import check_choice, check_int, check_range

PRESET_NAMES = ("smoke", "book", "paper")
PAPER_ALPHAS = tuple(round(0.1 * k, 1) for k in range(1, 11))


def _check_alphas(name: str, values: Any) -> tuple[float, ...]:
    if isinstance(values, (int, float)):
        values = [values]
    values = tuple(float(v) for v in values)
    if not values:
        raise ValueError(f"{name} must hold at least one real fraction in (0, 1], got none")
    for v in values:
        check_range(name, v, 0.0, 1.0, low_inclusive=False)
    return values


def _positive_int(minimum: int) -> Callable[[str, Any], int]:
    def check(name: str, value: Any) -> int:
        check_int(name, value, minimum)
        return int(value)

    return check


def _positive_float(name: str, value: Any) -> float:
    check_range(name, value, 0.0, float("inf"), low_inclusive=False)
    return float(value)


def _estimator(name: str, value: Any) -> str:
    from recursive_lib.estimators import ESTIMATORS

    check_choice(name, value, tuple(ESTIMATORS))
    return value


def _estimators(name: str, values: Any) -> tuple[str, ...]:
    values = (values,) if isinstance(values, str) else tuple(values)
    return tuple(_estimator(name, v) for v in values)


def _nonnegative_floats(name: str, values: Any) -> tuple[float, ...]:
    values = (values,) if isinstance(values, (int, float)) else tuple(values)
    if not values:
        raise ValueError(f"{name} must hold at least one rate >= 0, got none")
    return tuple(check_range(name, v, 0.0, float("inf")) for v in values)


def _designs(name: str, value: Any) -> dict:
    from recursive_lib.bias import check_designs

    return check_designs(name, value)


def _optional_path(name: str, value: Any) -> Any:
    if value is not None and not isinstance(value, str):
        raise ValueError(f"{name} must be a folder path (a string) or None, got {value!r}")
    return value


def _iterations(name: str, values: Any) -> tuple[int, ...]:
    values = (values,) if isinstance(values, int) else tuple(values)
    if not values:
        raise ValueError(f"{name} must hold at least one iteration (an integer >= 1), got none")
    return tuple(sorted({int(check_int(name, v, 1)) for v in values}))


def _fresh_alphas(name: str, values: Any) -> tuple[float, ...]:
    values = (values,) if isinstance(values, (int, float)) else tuple(values)
    if not values:
        raise ValueError(f"{name} must hold at least one real fraction in [0, 1], got none")
    return tuple(check_range(name, v, 0.0, 1.0) for v in values)


def _positive_floats(name: str, values: Any) -> tuple[float, ...]:
    values = (values,) if isinstance(values, (int, float)) else tuple(values)
    if not values:
        raise ValueError(f"{name} must hold at least one rate > 0, got none")
    return tuple(float(check_range(name, v, 0.0, float("inf"), low_inclusive=False)) for v in values)


CHECKS: dict[str, Callable[[str, Any], Any]] = {
    "alphas": _check_alphas,
    "m1": _positive_int(1),
    "T": _positive_int(1),
    "reps": _positive_int(1),
    "seed": _positive_int(0),
    "p": _positive_float,
    "h0": _positive_float,
    "estimator": _estimator,
    "estimators": _estimators,
    "burn_in": _positive_int(0),
    "qs": lambda name, v: _nonnegative_floats(name, v),
    "designs": lambda name, v: _designs(name, v),
    "early_until": _positive_int(1),
    "cache_dir": lambda name, v: _optional_path(name, v),
    "snapshot_at": lambda name, v: _iterations(name, v),
    "grid_size": _positive_int(10),
    "phase_ps": lambda name, v: _positive_floats(name, v),
    "phase_alphas": _check_alphas,
    "phase_T": _positive_int(1),
    "phase_reps": _positive_int(1),
    "theory_alphas": _check_alphas,
    "theory_reps": _positive_int(1),
    "n_jobs": _positive_int(1),
    "m_total": _positive_int(2),
    "epochs": _positive_int(1),
    "batch_size": _positive_int(1),
    "n_eval": _positive_int(100),
    "n_components": _positive_int(1),
    "flow_steps": _positive_int(1),
    "flow_T": _positive_int(1),
    "flow_reps": _positive_int(1),
    "flow_alphas": _check_alphas,
    "metric_samples": _positive_int(100),
    "truth": lambda name, v: check_choice(name, v, ("mixture2d", "moons")),
    # Images (recursive_lib.images): alpha = 0 is allowed in the fresh regime (pure self-training).
    "fresh_alphas": lambda name, v: _fresh_alphas(name, v),
    "dataset": lambda name, v: check_choice(name, v, ("digits", "mnist")),
    "side": _positive_int(1),
    "lr": _positive_float,
    "diffusion_steps": _positive_int(2),
    "width": _positive_int(2),
    "ema": lambda name, v: check_range(name, v, 0.0, 1.0, high_inclusive=False),
    "n_test": _positive_int(10),
    "eval_every": _positive_int(1),
    # Text (recursive_lib.text): the character language model.
    "warmup": _positive_int(0),
    "block_len": _positive_int(2),
    "hidden": _positive_int(1),
    "n_heldout": _positive_int(1),
    "n_generate": _positive_int(10),
}

# The authors' BCRT scripts (KDE: Q = N(3, 1), b0 = 0.2, h_n = 2 n^(-p), grid 500;
# ECDF: Q = N(2, 1), b0 = 0.1, grid 200; both n0 = 5). A copy of recursive_lib.bias.PAPER_DESIGNS.
_PAPER_BIAS_DESIGNS = {
    "ecdf": dict(bias_scale=0.1, bias_mean=2.0, bias_sd=1.0, bias_offset=5.0, grid_size=200),
    "kde": dict(bias_scale=0.2, bias_mean=3.0, bias_sd=1.0, bias_offset=5.0, grid_size=500, h0=2.0),
}

PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    # The neural quantile sampler (the paper's Sim 2); m1 = round(alpha m_total) real points of
    # m_total new points per iteration. book: a smaller batch, so that the optimizer takes as many
    # steps per epoch on a small pool as the paper's batch 4096 does on its large one.
    "quantile": {
        "smoke": dict(alphas=(0.5, 1.0), m_total=60, T=6, reps=2, epochs=5, batch_size=64,
                      n_eval=2_000, burn_in=1, seed=0),
        "book": dict(alphas=(0.25, 0.5, 1.0), m_total=200, T=20, reps=6, epochs=25, batch_size=128,
                     n_eval=20_000, burn_in=5, seed=0),
        "paper": dict(alphas=PAPER_ALPHAS, m_total=500, T=150, reps=100, epochs=25, batch_size=4096,
                      n_eval=200_000, burn_in=20, seed=0),
    },
    # Beyond one dimension: a Gaussian mixture (scikit-learn) on a 2-D mixture, a flow (zuko) on moons.
    "multivariate": {
        "smoke": dict(truth="mixture2d", alphas=(0.5, 1.0), m1=20, T=6, reps=2, n_components=2,
                      metric_samples=300, burn_in=1, flow_alphas=(1.0,), flow_T=2, flow_reps=1,
                      flow_steps=20, seed=0),
        "book": dict(truth="mixture2d", alphas=(0.25, 0.5, 1.0), m1=20, T=25, reps=6, n_components=2,
                     metric_samples=3_000, burn_in=5, flow_alphas=(0.5, 1.0), flow_T=6, flow_reps=2,
                     flow_steps=100, seed=0),
        "paper": dict(truth="mixture2d", alphas=PAPER_ALPHAS, m1=50, T=300, reps=100, n_components=2,
                      metric_samples=20_000, burn_in=30, flow_alphas=(0.25, 0.5, 1.0), flow_T=50,
                      flow_reps=20, flow_steps=300, seed=0),
    },
    # Images: a DDPM trained continually in the fresh regime on 8x8 digits (recursive_lib.images);
    # m_total images per iteration, batch_size the mini-batch. paper: the authors' MNIST run.
    "images": {
        "smoke": dict(dataset="digits", side=8, fresh_alphas=(0.0, 1.0), m_total=100, T=4, reps=1,
                      epochs=2, batch_size=100, lr=1e-3, diffusion_steps=20, width=32, ema=0.9,
                      n_eval=100, n_test=200, eval_every=1, snapshot_at=(2, 4), burn_in=0, seed=0,
                      n_jobs=1, cache_dir=None),
        "book": dict(dataset="digits", side=8, fresh_alphas=(0.0, 0.25, 0.5, 0.75, 1.0), m_total=300,
                     T=40, reps=3, epochs=20, batch_size=100, lr=1e-3, diffusion_steps=100, width=128,
                     ema=0.99, n_eval=500, n_test=500, eval_every=4, snapshot_at=(2, 10, 40),
                     burn_in=8, seed=0, n_jobs=2, cache_dir=None),
        "paper": dict(dataset="mnist", side=28, fresh_alphas=(0.0, 0.25, 0.5, 0.75, 1.0), m_total=300,
                      T=200, reps=3, epochs=100, batch_size=100, lr=2e-4, diffusion_steps=400,
                      width=512, ema=0.0, n_eval=2_000, n_test=2_000, eval_every=1,
                      snapshot_at=(2, 10, 50, 200), burn_in=20, seed=0, n_jobs=2, cache_dir=None),
    },
    # Text: a character-level GRU on the standard library's English documentation, fresh regime
    # (recursive_lib.text). The paper: GPT-2 (124M) on WikiText; "paper" is the closest offline
    # analogue at a bigger scale (longer blocks, wider model, more iterations and repetitions).
    "text": {
        "smoke": dict(fresh_alphas=(0.0, 1.0), reps=1, T=4, warmup=2, batch_size=32, block_len=32,
                      epochs=1, hidden=32, n_heldout=50, n_generate=50, eval_every=1,
                      snapshot_at=(2, 4), burn_in=0, seed=0, cache_dir=None, n_jobs=1),
        "book": dict(fresh_alphas=(0.0, 0.25, 0.5, 1.0), reps=4, T=80, warmup=30, batch_size=64,
                     block_len=64, epochs=2, hidden=128, n_heldout=400, n_generate=400,
                     eval_every=5, snapshot_at=(5, 40, 80), burn_in=10, seed=0, cache_dir=None,
                     n_jobs=2),
        "paper": dict(fresh_alphas=(0.0, 0.25, 0.5, 0.75, 1.0), reps=10, T=300, warmup=200,
                      batch_size=128, block_len=128, epochs=2, hidden=256, n_heldout=240,
                      n_generate=240, eval_every=10, snapshot_at=(10, 100, 300), burn_in=30,
                      seed=0, cache_dir=None, n_jobs=2),
    },
    "setting": {
        "smoke": dict(estimator="ecdf", alphas=(0.2, 0.5, 1.0), m1=20, T=12, reps=4, seed=0),
        "book": dict(estimator="ecdf", alphas=(0.1, 0.3, 0.5, 1.0), m1=50, T=200, reps=20, seed=0),
        "paper": dict(estimator="ecdf", alphas=PAPER_ALPHAS, m1=50, T=2000, reps=100, seed=0),
    },
    # The heuristic error recursion of the introduction (no simulation).
    "intro": {
        "smoke": dict(alphas=(0.1, 0.3, 0.5, 0.8, 1.0), p=0.5, T=1_000),
        "book": dict(alphas=(0.1, 0.3, 0.5, 0.8, 1.0), p=0.5, T=100_000),
        "paper": dict(alphas=PAPER_ALPHAS, p=0.5, T=1_000_000),
    },
    # Collapse or convergence: every regime, every estimator (recursive_lib.loop.batch_sizes).
    "regimes": {
        "smoke": dict(estimators=("ecdf", "kde", "gaussian"), alphas=(0.5, 1.0), m1=20, T=20,
                      reps=4, seed=0, cache_dir=None),
        "book": dict(estimators=("ecdf", "kde", "gaussian"), alphas=(0.1, 0.25, 0.5, 0.75, 1.0),
                     m1=50, T=200, reps=12, seed=0, cache_dir=None),
        "paper": dict(estimators=("ecdf", "kde", "gaussian"), alphas=PAPER_ALPHAS, m1=50, T=2000,
                      reps=100, seed=0, cache_dir=None),
    },
    # Biased real data (BCRT): the authors' two scripts, per estimator (recursive_lib.bias).
    "bias": {
        "smoke": dict(estimators=("ecdf", "kde"), alphas=(0.25, 0.5, 0.75), qs=(0.25, 0.5, 0.75),
                      p=0.5, m1=50, T=60, reps=4, seed=0, burn_in=10, early_until=10,
                      designs=_PAPER_BIAS_DESIGNS, cache_dir=None),
        "book": dict(estimators=("ecdf", "kde"), alphas=(0.25, 0.5, 0.75), qs=(0.25, 0.5, 0.75),
                     p=0.5, m1=50, T=1000, reps=40, seed=0, burn_in=100, early_until=50,
                     designs=_PAPER_BIAS_DESIGNS, cache_dir=None),
        "paper": dict(estimators=("ecdf", "kde"), alphas=(0.25, 0.5, 0.75), qs=(0.25, 0.5, 0.75),
                      p=0.5, m1=50, T=3000, reps=100, seed=0, burn_in=200, early_until=100,
                      designs=_PAPER_BIAS_DESIGNS, cache_dir=None),
    },
    # Theorem 1: fitted densities over iterations and error curves (fast engine, unbiased CRT).
    "convergence": {
        "smoke": dict(estimators=("ecdf", "kde"), alphas=(0.2, 0.5, 1.0), snapshot_at=(1, 5, 20),
                      p=0.5, h0=0.5, m1=50, T=20, reps=4, seed=0, grid_size=200, cache_dir=None,
                      n_jobs=1),
        "book": dict(estimators=("ecdf", "kde"), alphas=(0.1, 0.3, 0.5, 1.0),
                     snapshot_at=(1, 10, 100, 2000), p=0.5, h0=0.5, m1=50, T=2000, reps=30, seed=0,
                     grid_size=500, cache_dir=None, n_jobs=2),
        "paper": dict(estimators=("ecdf", "kde"), alphas=PAPER_ALPHAS,
                      snapshot_at=(1, 10, 100, 1000, 2000), p=0.5, h0=0.5, m1=50, T=2000,
                      reps=100, seed=0, grid_size=500, cache_dir=None, n_jobs=2),
    },
    # Theorem 2: fitted rates against alpha, the (p, alpha) phase diagram (KDE), exact ECDF theory.
    "rates": {
        "smoke": dict(estimators=("ecdf", "kde"), alphas=(0.2, 0.5, 1.0), p=0.5, h0=0.5, m1=50,
                      T=40, reps=4, seed=0, burn_in=10, grid_size=200, phase_ps=(0.25, 0.5),
                      phase_alphas=(0.25, 1.0), phase_T=40, phase_reps=3,
                      theory_alphas=(0.2, 1.0), theory_reps=4, cache_dir=None, n_jobs=1),
        "book": dict(estimators=("ecdf", "kde"), alphas=PAPER_ALPHAS, p=0.5, h0=0.5, m1=50,
                     T=2000, reps=20, seed=0, burn_in=30, grid_size=500,
                     phase_ps=(0.1, 0.2, 0.3, 0.4, 0.5), phase_alphas=PAPER_ALPHAS, phase_T=1000,
                     phase_reps=8, theory_alphas=(0.1, 0.3, 0.5, 1.0), theory_reps=100,
                     cache_dir=None, n_jobs=2),
        "paper": dict(estimators=("ecdf", "kde"), alphas=PAPER_ALPHAS, p=0.5, h0=0.5, m1=50,
                      T=2000, reps=100, seed=0, burn_in=30, grid_size=500,
                      phase_ps=(0.1, 0.2, 0.3, 0.4, 0.5), phase_alphas=PAPER_ALPHAS, phase_T=2000,
                      phase_reps=30, theory_alphas=(0.1, 0.3, 0.5, 1.0), theory_reps=200,
                      cache_dir=None, n_jobs=2),
    },
}


class Params(SimpleNamespace):
    """Resolved chapter parameters: attribute access, plus ``as_dict()`` for tables and glue."""

    def as_dict(self) -> dict[str, Any]:
        return dict(vars(self))


def resolve(chapter: str, preset: str, **overrides: Any) -> Params:
    """The preset's parameters for ``chapter`` with every non-``None`` override applied, validated.

    Raises ``ValueError`` naming the parameter and its allowed range for any bad value, an
    unknown chapter, preset or knob.
    """
    check_choice("chapter", chapter, tuple(PRESETS))
    check_choice("preset", preset, PRESET_NAMES)
    params = dict(PRESETS[chapter][preset])
    for name, value in overrides.items():
        if name not in params:
            raise ValueError(f"unknown parameter {name!r} for chapter {chapter!r}; "
                             f"its parameters are {sorted(params)}")
        if value is not None:
            params[name] = value
    for name, value in params.items():
        check = CHECKS.get(name)
        if check is not None:
            params[name] = check(name, value)
    return Params(preset=preset, **params)
