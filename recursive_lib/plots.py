"""Altair chart builders. Each takes a tidy DataFrame and returns a chart; none computes results.

Charts render as static SVG (through ``vl-convert``) so that the built book needs no JavaScript
from a content-delivery network: call :func:`enable` once per notebook.
"""

from __future__ import annotations

from typing import Sequence

import altair as alt
import numpy as np
import pandas as pd

WIDTH, HEIGHT = 420, 280


def enable() -> None:
    """Render charts as inline SVG (offline) and lift Altair's 5000-row guard for tidy inputs."""
    alt.renderers.enable("svg")
    alt.data_transformers.disable_max_rows()


def curve_summary(df: pd.DataFrame, metric: str, by: Sequence[str] = ("alpha",), x: str = "n",
                  z: float = 1.96) -> pd.DataFrame:
    """Mean of ``metric`` over repetitions at each ``x``, with a normal ``z`` interval.

    Input: one row per (configuration, rep, x). Output columns: ``*by, x, mean, se, lo, hi, reps``.
    """
    if metric not in df.columns:
        raise ValueError(f"metric must be a column of the results, one of {list(df.columns)}; got {metric!r}")
    grouped = df.groupby([*by, x])[metric]
    out = grouped.agg(mean="mean", sd="std", reps="count").reset_index()
    out["se"] = (out["sd"] / np.sqrt(out["reps"])).fillna(0.0)
    out["lo"] = out["mean"] - z * out["se"]
    out["hi"] = out["mean"] + z * out["se"]
    return out.drop(columns="sd")


def log_points(n_max: int, count: int = 60) -> np.ndarray:
    """About ``count`` iteration indices 1..n_max spaced evenly on a log axis (for thin plots)."""
    return np.unique(np.geomspace(1, n_max, count).round().astype(int))


def error_curves(summary: pd.DataFrame, y_title: str, color: str = "alpha", x: str = "n",
                 x_title: str = "iteration n", theory: pd.DataFrame | None = None,
                 title: str = "") -> alt.LayerChart:
    """Mean error against ``x`` on log-log axes, one line per ``color`` value, with its interval band.

    ``theory`` (optional): columns ``x, color, value``; drawn dashed beside the simulation.
    """
    positive = summary[summary["mean"] > 0].copy()
    positive["lo"] = positive["lo"].clip(lower=positive["mean"] * 1e-3)
    xs = alt.X(f"{x}:Q", scale=alt.Scale(type="log", nice=False), title=x_title)
    col = alt.Color(f"{color}:O", scale=alt.Scale(scheme="viridis"), title=color)
    base = alt.Chart(positive)
    band = base.mark_area(opacity=0.2).encode(xs, alt.Y("lo:Q", scale=alt.Scale(type="log")),
                                              alt.Y2("hi:Q"), col.legend(None))
    line = base.mark_line().encode(xs, alt.Y("mean:Q", scale=alt.Scale(type="log"), title=y_title), col)
    layers = [band, line]
    if theory is not None:
        layers.append(alt.Chart(theory).mark_line(strokeDash=[5, 3], color="black", opacity=0.8)
                      .encode(xs, alt.Y("value:Q", scale=alt.Scale(type="log")),
                              detail=f"{color}:O"))
    return alt.layer(*layers).properties(width=WIDTH, height=HEIGHT, title=title)


def slopes_against_alpha(summary: pd.DataFrame, predicted: pd.DataFrame, color: str | None = None,
                         y_title: str = "fitted rate (slope)", title: str = "") -> alt.LayerChart:
    """Fitted slope with its interval against alpha, and the predicted exponent as a line.

    ``summary``: columns ``alpha, slope, lo, hi`` (+ ``color``); ``predicted``: ``alpha, value``.
    """
    x = alt.X("alpha:Q", title="real fraction alpha", scale=alt.Scale(domain=[0, 1.05]))
    enc = {"color": alt.Color(f"{color}:N")} if color else {}
    points = alt.Chart(summary).mark_point(filled=True, size=50).encode(
        x, alt.Y("slope:Q", title=y_title), **enc)
    bars = alt.Chart(summary).mark_rule().encode(x, alt.Y("lo:Q"), alt.Y2("hi:Q"), **enc)
    line = alt.Chart(predicted).mark_line(color="black", strokeDash=[5, 3]).encode(x, alt.Y("value:Q"))
    return alt.layer(line, bars, points).properties(width=WIDTH, height=HEIGHT, title=title)


def densities(frame: pd.DataFrame, truth: pd.DataFrame, facet: str = "alpha",
              color: str = "n", title: str = "") -> alt.FacetChart:
    """Fitted densities (columns ``x, density, n, facet``) against the truth (``x, density``)."""
    truth_line = alt.Chart(truth).mark_line(color="black", strokeDash=[4, 2]).encode(
        alt.X("x:Q"), alt.Y("density:Q"))
    fits = alt.Chart().mark_line(opacity=0.85).encode(
        alt.X("x:Q", title="x"), alt.Y("density:Q", title="density"),
        alt.Color(f"{color}:O", scale=alt.Scale(scheme="plasma"), title=color))
    return (alt.layer(fits, truth_line, data=frame).properties(width=220, height=160)
            .facet(facet=f"{facet}:O", columns=3, title=title))
