"""Exact expected MMD curves for the configurations a chapter simulates, and their slopes over the
chapter's own fitting window: the finite-window prediction of every 1-D MMD slope.

:func:`exact_mmd` maps configurations (keyword dicts of :class:`~recursive_lib.simulation.Config`)
to :func:`recursive_lib.theory.expected_mmd2`; :func:`exact_mmd_slopes` fits the slope of
``sqrt(E MMD^2)`` against ``log M_n`` with the protocol of the simulated fits
(:func:`recursive_lib.rates.fit_slopes`, the tie rule of :func:`recursive_lib.rates.needs_log_correction`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

__all__ = ["exact_mmd", "exact_mmd_slopes"]


def exact_mmd(configs: Sequence[Mapping[str, Any]], by: Sequence[str]) -> pd.DataFrame:
    """Exact ``E MMD^2`` of every configuration at every iteration ``n = 1..T``.

    ``configs``: keyword dicts of :class:`~recursive_lib.simulation.Config` (ECDF or KDE, any
    regime, with or without ``bias``; not ``bias_correction``, which has no exact curve and gets
    its unbiased twin's curve instead, an approximation that ignores the weights' variance);
    ``by``: the fields that tell them apart (a bias field as ``bias_rate``, ``bias_scale``...,
    the names of the tidy results). Returns ``*by, n, M, mmd2, rms`` (``rms = sqrt(E MMD^2)``).
    """
    from recursive_lib.simulation import Config
    from recursive_lib.theory import expected_mmd2

    frames = []
    for fields in configs:
        config = Config.from_fields(**{k: v for k, v in fields.items() if k in Config.__dataclass_fields__})
        curve = expected_mmd2(
            config.estimator,
            config.alpha,
            config.m1,
            config.T,
            m_total=config.m_total,
            regime=config.regime,
            bandwidth=config.bandwidth if config.estimator == "kde" else None,
            bias=None if config.bias_correction else config.bias,
            mmd_width=config.mmd_width,
            grid_size=config.grid_size,
            truth=config.truth,
        )
        # The bias schedule's fields are named as in the tidy results (bias_rate, bias_scale, ...).
        flat = {**fields, **{f"bias_{k}": v for k, v in dict(fields.get("bias") or {}).items()}}
        frames.append(curve.assign(**{key: flat[key] for key in by}))
    out = pd.concat(frames, ignore_index=True)
    return out[[*by, "n", "M", "mmd2", "rms"]]


def exact_mmd_slopes(
    curves: pd.DataFrame, by: Sequence[str], burn_in: int, log_correction: str | bool = False
) -> pd.DataFrame:
    """Slope of ``sqrt(E MMD^2)`` against ``log M_n`` over ``n > burn_in``, one row per curve.

    The fit of :func:`recursive_lib.rates.fit_slopes` (OLS of the log on ``log M_n``, sign positive
    for a decay), applied to the exact curve as if it were one repetition: the finite-window
    counterpart of the asymptotic exponent. ``log_correction``: as in ``fit_slopes`` (a boolean
    column of ``curves`` applies it where true). Returns ``*by, exact``.
    """
    from recursive_lib.rates import fit_slopes

    frame = curves.assign(rep=0)
    fits = fit_slopes(frame, "rms", burn_in=burn_in, log_correction=log_correction, by=list(by))
    return fits[[*by, "slope"]].rename(columns={"slope": "exact"}).reset_index(drop=True)
