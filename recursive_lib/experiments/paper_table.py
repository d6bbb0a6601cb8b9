"""The paper's table, rerun: this build's biased runs at the authors' settings beside the numbers
the paper reports (:func:`recursive_lib.data.paper.bcrt_slopes`).

The runs themselves are the bias chapter's (:func:`recursive_lib.experiments.bias.bias_configs` with
the designs ``"paper"``, :func:`~recursive_lib.experiments.bias.run_bias_grid` and
:func:`~recursive_lib.experiments.bias.summarize_bias_slopes`), fitted with the authors' tie rule
(``tie_rule="paper"``: the error divided by ``log M_n`` wherever ``alpha = p``). This module adds
the comparison: :func:`compare_with_paper` sets each reported number beside this build's mean
slope and gives the difference an interval that counts the sampling error of both means.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from recursive_lib._validation import check_int, check_range
from recursive_lib.data.paper import BCRT_SETTINGS

__all__ = ["KEYS", "compare_with_paper"]

#: the columns that name one cell of the paper's table
KEYS = ["estimator", "metric", "alpha", "bias_rate"]


def compare_with_paper(
    summary: pd.DataFrame,
    reported: pd.DataFrame,
    paper_reps: int = int(BCRT_SETTINGS["reps"]),
    decimals: int = 3,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """This build's mean slopes beside the paper's, with an interval for their difference.

    ``summary``: one row per cell, columns ``estimator, metric, alpha, bias_rate, slope, se,
    reps`` (as :func:`~recursive_lib.experiments.bias.summarize_bias_slopes` returns; other
    columns are kept); ``reported``: the paper's numbers, columns ``estimator, metric, alpha,
    bias_rate, slope`` (:func:`recursive_lib.data.paper.bcrt_slopes`). A cell of ``summary``
    the paper does not report gets NaN.

    The paper's number is itself a mean over ``paper_reps`` repetitions, rounded to ``decimals``
    decimals. Its standard error is not reported; it is estimated from this build's spread of the
    per-repetition slopes, ``sd / sqrt(paper_reps)`` with ``sd = se * sqrt(reps)`` (the same
    protocol, so the same spread if the two runs agree), and the rounding adds a uniform error of
    half a unit in the last decimal (standard deviation ``0.5 10^-decimals / sqrt(3)``). The
    difference ``gap = slope - paper`` then has the standard error
    ``sqrt(se^2 + sd^2 / paper_reps + rounding^2)`` and a Student-t interval with ``reps - 1``
    degrees of freedom (fewer than the Welch-Satterthwaite count, so a little wider).

    Returns ``summary``'s rows with ``paper``, ``paper_se`` (the estimated standard error of the
    paper's mean, ``sd / sqrt(paper_reps)``), ``gap``, ``gap_se``, ``gap_lo`` and ``gap_hi``.
    """
    from scipy import stats

    paper_reps = check_int("paper_reps", paper_reps, 2)
    decimals = check_int("decimals", decimals, 0)
    confidence = check_range("confidence", confidence, 0.0, 1.0, low_inclusive=False, high_inclusive=False)
    for name, frame, needed in (
        ("summary", summary, KEYS + ["slope", "se", "reps"]),
        ("reported", reported, KEYS + ["slope"]),
    ):
        missing = [c for c in needed if c not in frame.columns]
        if missing:
            raise ValueError(f"{name} needs the columns {missing}; it has {list(frame.columns)}")
    if reported.duplicated(KEYS).any():
        raise ValueError(f"reported must hold one number per cell ({', '.join(KEYS)})")

    def keyed(frame):  # floats as keys: 0.25 typed by hand and 0.25 from a grid must meet
        return frame.assign(
            _alpha=frame["alpha"].astype(float).round(9), _q=frame["bias_rate"].astype(float).round(9)
        )

    paper = keyed(reported)[["estimator", "metric", "_alpha", "_q", "slope"]].rename(
        columns={"slope": "paper"}
    )
    out = keyed(summary).merge(paper, on=["estimator", "metric", "_alpha", "_q"], how="left")
    out = out.drop(columns=["_alpha", "_q"])
    reps = out["reps"].to_numpy(dtype=float)
    se = out["se"].to_numpy(dtype=float)
    sd = se * np.sqrt(reps)
    rounding = 0.5 * 10.0 ** (-decimals) / np.sqrt(3.0)
    out["paper_se"] = np.where(out["paper"].notna(), sd / np.sqrt(paper_reps), np.nan)
    out["gap"] = out["slope"] - out["paper"]
    out["gap_se"] = np.sqrt(se**2 + out["paper_se"] ** 2 + rounding**2)
    with np.errstate(invalid="ignore"):
        t = stats.t.ppf(0.5 + confidence / 2, np.where(reps > 1, reps - 1, np.nan))
    out["gap_lo"] = out["gap"] - t * out["gap_se"]
    out["gap_hi"] = out["gap"] + t * out["gap_se"]
    return out
