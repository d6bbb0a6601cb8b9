"""The paper's own numbers, as data: what the authors report, to set beside what this build measures.

:func:`bcrt_slopes` reads ``paper_bcrt_slopes.csv`` (package data, installed with the library):
the mean fitted rates of the paper's biased simulations (BCRT), 18 Wasserstein-1 and 18 MMD
numbers, as the authors hard-coded them in the notebook that draws the paper's figure
(``simulations/BCRT/sim1-BCRT-remake_figures.ipynb`` of their repository
``hong-niu/generative-recursive-training``). The file's header says where each number comes from.
:data:`BCRT_SETTINGS` holds the settings those numbers were run at.
"""

from __future__ import annotations

from importlib import resources

import pandas as pd

from recursive_lib._validation import check_choice

__all__ = ["BCRT_SETTINGS", "bcrt_slopes"]

#: The settings of the paper's BCRT table, the same in both of the authors' scripts. Baseline
#: rate ``p``, fresh real points per iteration ``m1``, iterations ``T``, repetitions ``reps`` and
#: the iterations dropped before the fit ``burn_in`` (the authors' ``drop_first``).
BCRT_SETTINGS = dict(p=0.5, m1=50, T=3000, reps=100, burn_in=200)

FILE = "paper_bcrt_slopes.csv"
COLUMNS = ["estimator", "metric", "alpha", "bias_rate", "slope"]


def bcrt_slopes(metric: str | None = None) -> pd.DataFrame:
    """The paper's mean fitted slopes of the biased runs.

    One row per (estimator, metric, alpha, q): columns ``estimator`` (``"ecdf"``, ``"kde"``),
    ``metric`` (``"w1"``, ``"mmd"``), ``alpha`` (the fraction of real data), ``bias_rate`` (``q``)
    and ``slope`` (with the book's sign: positive for a decaying error; three decimals, as
    reported). ``metric``: keep only ``"w1"`` or ``"mmd"``; ``None`` keeps both.
    """
    if metric is not None:
        check_choice("metric", metric, ("w1", "mmd"))
    with resources.files("recursive_lib.data").joinpath(FILE).open("r", encoding="utf-8") as handle:
        table = pd.read_csv(handle, comment="#")
    table = table[COLUMNS].astype({"alpha": float, "bias_rate": float, "slope": float})
    if metric is not None:
        table = table[table["metric"] == metric]
    return table.sort_values(["metric", "estimator", "alpha", "bias_rate"]).reset_index(drop=True)
