"""Altair chart builders. Each takes a tidy DataFrame and returns a chart; none computes results.

The charts are plain Altair objects. How the book renders them (static SVG plus the Vega-Lite
spec, drawn live in the built book) is :mod:`recursive_lib.book.charts`: a chapter calls
``charts.enable()`` once.
"""

from __future__ import annotations

import itertools
from typing import Any, Literal

import altair as alt
import numpy as np
import pandas as pd

#: Size of a single-view chart, which with its axes and legend fills the book's text column.
WIDTH, HEIGHT = 540, 300
#: Width of the book's text column (the theme's figure width in a window 1280 px wide). The
#: book's renderer narrows wider charts to it (:func:`recursive_lib.book.charts.fit_to_column`)
#: and the page scales any rest down by CSS.
COLUMN = 690

#: Required contrast of every mark colour against the white page (WCAG 2.1, non-text contrast).
MIN_CONTRAST = 3.0
#: Sequential schemes, each sampled over the part of its range whose colours keep MIN_CONTRAST
#: against white (the full ranges end in near-white yellow): viridis for alpha, plasma for n.
COOL = alt.SchemeParams(name="viridis", extent=[0.0, 0.6])
WARM = alt.SchemeParams(name="plasma", extent=[0.0, 0.7])
#: Categorical colours, each with contrast >= MIN_CONTRAST against white.
CATEGORICAL = ["#1f77b4", "#d62728", "#2b8a2b", "#9467bd", "#8c564b", "#b35806", "#0f7b8a", "#666666"]
#: Interval rules are drawn only where both ends are numbers (a single repetition has none); a
#: NaN end would be drawn as an invalid SVG line by the live chart.
_FINITE_INTERVAL = "isFinite(datum.lo) && isFinite(datum.hi)"
#: Fill of the interval bands (drawn translucent under their line).
BAND_OPACITY = 0.2


_TYPES: dict[str, Literal["quantitative", "nominal", "ordinal", "temporal"]] = {
    "Q": "quantitative",
    "N": "nominal",
    "O": "ordinal",
    "T": "temporal",
}


def _tooltip(*fields: str | tuple[str, str]) -> list[alt.Tooltip]:
    """Tooltips for ``field:type`` names or ``(field:type, title)`` pairs; quantities to 4 digits.

    Every field gets an explicit format: for an unformatted field, the tooltip that Vega-Lite
    (6.4) gives the Voronoi cells of a ``nearest`` selection reads ``datum[field]`` instead of
    ``datum.datum[field]`` and shows "undefined". ``formatType="number"`` with an empty format
    makes it read the right datum and print the value as it is (also for text).
    """
    out = []
    for field in fields:
        field, title = field if isinstance(field, tuple) else (field, field.rsplit(":", 1)[0])
        fmt: dict[str, Any] = (
            {"format": ".4~g"} if field.endswith(":Q") else {"format": "", "formatType": "number"}
        )
        name, kind = field.rsplit(":", 1)
        # by field and type, not shorthand: a column named "min(p, α, q)" is not an aggregate
        out.append(alt.Tooltip(field=name, type=_TYPES[kind], title=title, **fmt))
    return out


#: The interval of a point as one tooltip line, "lo to hi" ("none" without one, e.g. from a single
#: repetition); computed by :func:`_with_interval` on the layer that carries the tooltips.
_INTERVAL = ("interval:N", "interval")
_INTERVAL_TEXT = (
    "isFinite(datum.lo) && isFinite(datum.hi) ? "
    "format(datum.lo, '.4~g') + ' to ' + format(datum.hi, '.4~g') : 'none'"
)


def _with_interval(chart: alt.Chart) -> alt.Chart:
    return chart.transform_calculate(interval=_INTERVAL_TEXT)


def _curve_tooltip(color: str, x: str, y_title: str) -> list[alt.Tooltip]:
    return _tooltip(f"{color}:O", f"{x}:Q", ("mean:Q", y_title or "mean"), _INTERVAL)


_PARAMS = itertools.count(1)


def _hover(color: str) -> alt.Parameter:
    """The ``color`` value of the point nearest the pointer (empty: every line drawn in full).

    Named uniquely, so that side-by-side charts keep one selection each (Altair merges unnamed
    selections of identical configuration, with a warning).
    """
    return alt.selection_point(
        fields=[color], on="pointerover", clear="pointerout", nearest=True, name=f"hover_{next(_PARAMS)}"
    )


def _zoom() -> alt.Parameter:
    """Pan and zoom on both axes (drag, scroll); double-click resets."""
    return alt.selection_interval(bind="scales", name=f"zoom_{next(_PARAMS)}")


def _dim(hover: alt.Parameter, full: float):
    """Opacity ``full`` for the hovered line (and for all while none is), a sixth of it otherwise."""
    return alt.when(hover).then(alt.value(full)).otherwise(alt.value(round(full / 6, 3)))


def _hover_points(base: alt.Chart, xs, ys, tooltip, *params) -> alt.Chart:
    """Invisible points that carry the tooltips and the hover (and zoom) selections of a line chart."""
    return (
        _with_interval(base)
        .mark_circle(size=70, opacity=0)
        .encode(xs, ys, tooltip=tooltip)
        .add_params(*params)
    )


def error_curves(
    summary: pd.DataFrame,
    y_title: str,
    color: str = "alpha",
    x: str = "n",
    x_title: str = "iteration n",
    theory: pd.DataFrame | None = None,
    title: str = "",
) -> alt.LayerChart | alt.FacetChart:
    """Mean error against ``x`` on log-log axes, one line per ``color`` value, with its interval band.

    ``theory`` (optional): columns ``x, color, value``; drawn dashed beside the simulation.
    """
    positive = summary[summary["mean"] > 0].copy()
    positive["lo"] = positive["lo"].clip(lower=positive["mean"] * 1e-3)
    xs = alt.X(f"{x}:Q", scale=alt.Scale(type="log", nice=False), title=x_title)
    ys = alt.Y("mean:Q", scale=alt.Scale(type="log"), title=y_title)
    col = alt.Color(
        f"{color}:O", scale=alt.Scale(scheme=COOL), title=color, legend=alt.Legend(symbolOpacity=1)
    )
    hover, zoom = _hover(color), _zoom()
    base = alt.Chart(positive)
    # No legend=None on the band: Vega-Lite merges the layers' legends, and a None drops them all.
    band = base.mark_area().encode(
        xs, alt.Y("lo:Q", scale=alt.Scale(type="log")), alt.Y2("hi:Q"), col, opacity=_dim(hover, BAND_OPACITY)
    )
    line = base.mark_line().encode(xs, ys, col, opacity=_dim(hover, 1.0))
    layers = [band, line, _hover_points(base, xs, ys, _curve_tooltip(color, x, y_title), hover, zoom)]
    if theory is not None:
        layers.append(
            alt.Chart(theory)
            .mark_line(strokeDash=[5, 3], color="black", opacity=0.8)
            .encode(xs, alt.Y("value:Q", scale=alt.Scale(type="log")), detail=f"{color}:O")
        )
    return alt.layer(*layers).properties(width=WIDTH, height=HEIGHT, title=title)


def slopes_against_alpha(
    summary: pd.DataFrame,
    predicted: pd.DataFrame,
    color: str | None = None,
    y_title: str = "fitted rate (slope)",
    title: str = "",
) -> alt.LayerChart | alt.FacetChart:
    """Fitted slope with its interval against alpha, and the predicted exponent as a line.

    ``summary``: columns ``alpha, slope, lo, hi`` (+ ``color``); ``predicted``: ``alpha, value``.
    """
    x = alt.X("alpha:Q", title="real fraction alpha", scale=alt.Scale(domain=[0, 1.05]))
    enc = {"color": alt.Color(f"{color}:N", scale=alt.Scale(range=CATEGORICAL))} if color else {}
    tips = _tooltip(*([f"{color}:N"] if color else []), "alpha:Q", "slope:Q", _INTERVAL)
    points = (
        _with_interval(alt.Chart(summary))
        .mark_point(filled=True, size=50, opacity=1)
        .encode(x, alt.Y("slope:Q", title=y_title), tooltip=tips, **enc)
    )
    bars = (
        alt.Chart(summary)
        .transform_filter(_FINITE_INTERVAL)
        .mark_rule()
        .encode(x, alt.Y("lo:Q"), alt.Y2("hi:Q"), **enc)
    )
    line = alt.Chart(predicted).mark_line(color="black", strokeDash=[5, 3]).encode(x, alt.Y("value:Q"))
    return alt.layer(line, bars, points).properties(width=WIDTH, height=HEIGHT, title=title)


def densities(
    frame: pd.DataFrame, truth: pd.DataFrame, facet: str = "alpha", color: str = "n", title: str = ""
) -> alt.FacetChart:
    """Fitted densities (columns ``x, density, n, facet``) against the truth (``x, density``)."""
    truth_line = (
        alt.Chart(truth).mark_line(color="black", strokeDash=[4, 2]).encode(alt.X("x:Q"), alt.Y("density:Q"))
    )
    fits = (
        alt.Chart()
        .mark_line()
        .encode(
            alt.X("x:Q", title="x"),
            alt.Y("density:Q", title="density"),
            alt.Color(f"{color}:O", scale=alt.Scale(scheme=WARM), title=color),
        )
    )
    return (
        alt.layer(fits, truth_line, data=frame)
        .properties(width=_panel_width(3), height=170)
        .facet(facet=f"{facet}:O", columns=3, title=title)
    )


def _rate_layers(base, xs, col, tooltip):
    """The prediction (dashed), the intervals (rules) and the fitted slopes (points) of a rate chart."""
    predicted = base.mark_line(strokeDash=[5, 3]).encode(xs, alt.Y("predicted:Q"), col)
    bars = base.transform_filter(_FINITE_INTERVAL).mark_rule().encode(xs, alt.Y("lo:Q"), alt.Y2("hi:Q"), col)
    points = (
        _with_interval(base)
        .mark_point(filled=True, size=45, opacity=1)
        .encode(xs, alt.Y("slope:Q", title="fitted rate (slope)"), col, tooltip=tooltip)
    )
    return predicted, bars, points


def _rate_tooltip(x: str, color: str, row: str, column: str) -> list[alt.Tooltip]:
    return _tooltip(f"{row}:N", f"{column}:N", f"{color}:O", f"{x}:Q", "slope:Q", _INTERVAL, "predicted:Q")


def _panel_width(columns: int) -> int:
    """Width of one of ``columns`` panels side by side so that the chart fills the text column."""
    return int((COLUMN - 150) / max(columns, 1) - 12)


def slopes_against_rate(
    summary: pd.DataFrame,
    x: str = "bias_rate",
    color: str = "alpha",
    row: str = "estimator",
    column: str = "metric",
    x_title: str = "bias decay rate q",
    title: str = "",
) -> alt.FacetChart:
    """Fitted slopes with intervals against ``x``, one colour per ``color``, the prediction dashed.

    ``summary``: columns ``x, color, row, column, slope, lo, hi, predicted`` (e.g. from
    :func:`recursive_lib.experiments.bias.summarize_bias_slopes`); the dashed line of each colour is ``predicted``.
    """
    xs = alt.X(f"{x}:Q", title=x_title, scale=alt.Scale(domain=[0, summary[x].max() * 1.1]))
    col = alt.Color(
        f"{color}:O", scale=alt.Scale(scheme=COOL), title=color, legend=alt.Legend(symbolOpacity=1)
    )
    base = alt.Chart()
    predicted, bars, points = _rate_layers(base, xs, col, _rate_tooltip(x, color, row, column))
    width = _panel_width(summary[column].nunique())
    return (
        alt.layer(predicted, bars, points, data=summary)
        .properties(width=width, height=180)
        .facet(row=alt.Row(f"{row}:N"), column=alt.Column(f"{column}:N"), title=title)
    )


def slopes_with_horizon(
    summary: pd.DataFrame,
    horizon: dict[str, str],
    x: str = "bias_rate",
    color: str = "alpha",
    row: str = "estimator",
    column: str = "metric",
    x_title: str = "bias decay rate q",
    dodge: float = 0.03,
    title: str = "",
) -> alt.FacetChart:
    """:func:`slopes_against_rate` plus finite-horizon predictions as open markers.

    ``summary``: columns ``x, color, row, column, slope, lo, hi, predicted`` and every key of
    ``horizon``, a mapping column -> legend label (e.g. ``{"floor": "bias floor"}``); each such
    column is drawn as open markers of one shape, in the colour of its ``color`` value, where it is
    not NaN. The dashed lines are ``predicted`` (the asymptotic exponent), as in
    :func:`slopes_against_rate`. Each ``color`` value is shifted by ``dodge`` (in the units of
    ``x``) from the previous one, so that the markers of one ``x`` do not overlap.
    """
    for name in [x, color, row, column, "slope", "lo", "hi", "predicted", *horizon]:
        if name not in summary.columns:
            raise ValueError(f"summary needs column {name!r}; it has {list(summary.columns)}")
    labels: list[Any] = list(horizon.values())  # altair's transform_fold takes list[str | FieldName]
    data = summary.rename(columns=dict(horizon))
    rank = data[color].rank(method="dense") - 1
    data["_x"] = data[x] + (rank - rank.max() / 2) * dodge
    xs = alt.X("_x:Q", title=x_title, scale=alt.Scale(domain=[0, data["_x"].max() * 1.1]))
    col = alt.Color(
        f"{color}:O", scale=alt.Scale(scheme=COOL), title=color, legend=alt.Legend(symbolOpacity=1)
    )
    base = alt.Chart()
    predicted, bars, points = _rate_layers(base, xs, col, _rate_tooltip(x, color, row, column))
    finite = (
        base.transform_fold(labels, as_=["finite horizon", "_value"])
        .transform_filter("isValid(datum._value) && isFinite(datum._value)")
        .mark_point(filled=False, size=90, strokeWidth=1.5, opacity=1)
        .encode(
            xs,
            alt.Y("_value:Q"),
            col,
            alt.Shape(
                "finite horizon:N",
                scale=alt.Scale(domain=labels, range=["diamond", "square", "triangle"][: len(labels)]),
                legend=alt.Legend(symbolStrokeColor="#555555", symbolOpacity=1),
            ),
        )
    )
    width = _panel_width(data[column].nunique())
    return (
        alt.layer(predicted, bars, points, finite, data=data)
        .properties(width=width, height=180)
        .facet(row=alt.Row(f"{row}:N"), column=alt.Column(f"{column}:N"), title=title)
    )


def snapshot_curves(
    frame: pd.DataFrame,
    y: str = "density",
    truth: str | None = "truth_density",
    facet: str = "alpha",
    color: str = "n",
    y_title: str | None = None,
    columns: int = 4,
    title: str = "",
) -> alt.FacetChart:
    """Fitted curves at a few iterations against the truth, one panel per ``facet`` value.

    ``frame``: one row per (``facet``, ``color``, ``x``), e.g. :func:`recursive_lib.simulation.snapshots`
    of one repetition; ``y`` is the fitted value (``density``, ``cdf`` or an error column), drawn
    one line per ``color``; ``truth`` (optional) a column drawn as a black dashed line.
    """
    for column in [y, facet, color, "x"] + ([truth] if truth else []):
        if column not in frame.columns:
            raise ValueError(
                f"y, truth, facet and color must be columns of frame, one of "
                f"{list(frame.columns)}; got {column!r}"
            )
    keep = [facet, color, "x", y] + ([truth] if truth else [])
    data = frame[keep].dropna(subset=[y])
    xs = alt.X("x:Q", title="x")
    fits = (
        alt.Chart()
        .mark_line(strokeWidth=1.4)
        .encode(
            xs,
            alt.Y(f"{y}:Q", title=y_title or y),
            alt.Color(f"{color}:O", scale=alt.Scale(scheme=WARM, reverse=True), title=color),
        )
    )
    layers = [fits]
    if truth:
        layers.append(alt.Chart().mark_line(color="black", strokeDash=[4, 2]).encode(xs, alt.Y(f"{truth}:Q")))
    width = _panel_width(min(columns, data[facet].nunique()))
    return (
        alt.layer(*layers, data=data)
        .properties(width=width, height=150)
        .facet(facet=alt.Facet(f"{facet}:O", title=facet), columns=columns, title=title)
    )


def slope_panels(
    summary: pd.DataFrame, row: str = "estimator", column: str = "metric", title: str = ""
) -> alt.FacetChart:
    """Fitted slopes with intervals against alpha, one panel per (``row``, ``column``).

    ``summary``: columns ``alpha, slope, lo, hi, predicted`` (+ ``row``, ``column``), e.g.
    :func:`recursive_lib.rates.summarize_slopes` with the predicted exponent added; the prediction
    is drawn as a dashed line, the fitted slopes as points with their interval.
    """
    for name in ["alpha", "slope", "lo", "hi", "predicted", row, column]:
        if name not in summary.columns:
            raise ValueError(f"summary needs column {name!r}; it has {list(summary.columns)}")
    x = alt.X("alpha:Q", title="real fraction alpha", scale=alt.Scale(domain=[0, 1.05]))
    base = alt.Chart()
    line = base.mark_line(color="black", strokeDash=[5, 3]).encode(x, alt.Y("predicted:Q"))
    bars = (
        base.transform_filter(_FINITE_INTERVAL)
        .mark_rule(color="#1f77b4")
        .encode(x, alt.Y("lo:Q"), alt.Y2("hi:Q"))
    )
    points = (
        _with_interval(base)
        .mark_point(filled=True, size=40, color="#1f77b4", opacity=1)
        .encode(
            x,
            alt.Y("slope:Q", title="fitted rate (slope)"),
            tooltip=_tooltip(f"{row}:N", f"{column}:N", "alpha:Q", "slope:Q", _INTERVAL, "predicted:Q"),
        )
    )
    width = _panel_width(summary[column].nunique())
    return (
        alt.layer(line, bars, points, data=summary)
        .properties(width=width, height=170)
        .facet(row=alt.Row(f"{row}:N"), column=alt.Column(f"{column}:N"), title=title)
    )


def phase_diagram(
    summary: pd.DataFrame,
    x: str = "alpha",
    y: str = "p",
    value: str = "slope",
    column: str | None = "metric",
    title: str = "",
) -> alt.Chart | alt.LayerChart | alt.FacetChart:
    """Heatmap of a fitted ``value`` over a (``x``, ``y``) grid, the value printed in each cell.

    ``summary``: one row per (``column``, ``y``, ``x``). Cells where ``x = y`` (the two rates tie,
    e.g. ``alpha = p``) are outlined in red: left of them ``x`` is the smaller rate, right ``y``.
    """
    for name in [x, y, value] + ([column] if column else []):
        if name not in summary.columns:
            raise ValueError(f"summary needs column {name!r}; it has {list(summary.columns)}")
    data = summary.copy()
    data["_label"] = data[value].map(lambda v: f"{v:.2f}")
    xs = alt.X(f"{x}:O", title=x)
    ys = alt.Y(f"{y}:O", title=y, sort="descending")
    low, high = float(np.nanmin(data[value])), float(np.nanmax(data[value]))
    if low < 0:  # signed values (e.g. deviations): a diverging scale centred on zero
        reach = max(-low, high)
        scale = alt.Scale(scheme="redblue", domain=[-reach, reach], domainMid=0, reverse=True)
        dark = f"abs(datum['{value}']) > {reach / 2}"
    else:
        scale = alt.Scale(scheme="viridis", domain=[0, high or 1.0])
        dark = f"datum['{value}'] < {high / 2}"
    cells = (
        alt.Chart()
        .mark_rect()
        .encode(
            xs,
            ys,
            alt.Color(f"{value}:Q", scale=scale, title=value),
            tooltip=_tooltip(*([f"{column}:N"] if column else []), f"{x}:Q", f"{y}:Q", f"{value}:Q"),
        )
    )
    text = (
        alt.Chart()
        .mark_text(fontSize=9)
        .encode(
            xs, ys, alt.Text("_label:N"), color=alt.condition(dark, alt.value("white"), alt.value("black"))
        )
    )
    data["_tie"] = np.isclose(data[x].astype(float), data[y].astype(float))
    tie = (
        alt.Chart()
        .transform_filter("datum._tie")
        .mark_rect(filled=False, stroke="red", strokeWidth=1.5)
        .encode(xs, ys)
    )
    chart = alt.layer(cells, text, tie, data=data).properties(
        width=28 * data[x].nunique(), height=28 * data[y].nunique()
    )
    if column:
        return chart.facet(column=alt.Column(f"{column}:N"), title=title)
    return chart.properties(title=title)


def theory_panels(
    simulated: pd.DataFrame,
    theory: pd.DataFrame,
    panel: str = "quantity",
    color: str = "alpha",
    x: str = "n",
    x_title: str = "iteration n",
    title: str = "",
) -> alt.FacetChart:
    """Simulated means with bands against theory curves, log-log, one panel per ``panel`` value.

    ``simulated``: ``panel, color, x, mean, lo, hi``; ``theory``: ``panel, color, x, value, curve``
    (``curve`` names the theory line, e.g. ``"exact"``, ``"approximation"``, ``"bound"``; each gets
    its own dash pattern). Panels have independent y scales.
    """
    sim = simulated.assign(curve="simulated", value=simulated["mean"])
    sim["lo"] = sim["lo"].clip(lower=sim["mean"] * 1e-3)
    data = pd.concat([sim, theory], ignore_index=True)
    xs = alt.X(f"{x}:Q", scale=alt.Scale(type="log", nice=False), title=x_title)
    col = alt.Color(
        f"{color}:O", scale=alt.Scale(scheme=COOL), title=color, legend=alt.Legend(symbolOpacity=1)
    )
    curves = list(dict.fromkeys(["simulated", *theory["curve"].unique()]))
    dashes = [[1, 0], [6, 3], [2, 2], [8, 2, 2, 2]][: len(curves)]
    hover = _hover(color)
    ys = alt.Y("value:Q", scale=alt.Scale(type="log"), title=None)
    band = (
        alt.Chart()
        .transform_filter("datum.curve == 'simulated'")
        .mark_area()
        .encode(
            xs,
            alt.Y("lo:Q", scale=alt.Scale(type="log")),
            alt.Y2("hi:Q"),
            col,
            opacity=_dim(hover, BAND_OPACITY),
        )
    )
    lines = (
        alt.Chart()
        .mark_line()
        .encode(
            xs,
            ys,
            col,
            alt.StrokeDash("curve:N", scale=alt.Scale(domain=curves, range=dashes), title="curve"),
            detail="curve:N",
            opacity=_dim(hover, 1.0),
        )
    )
    tips = _tooltip(f"{panel}:N", "curve:N", f"{color}:O", f"{x}:Q", "value:Q", _INTERVAL)
    points = _hover_points(alt.Chart(), xs, ys, tips, hover)
    width = _panel_width(data[panel].nunique())
    return (
        alt.layer(band, lines, points, data=data)
        .properties(width=width, height=230)
        .facet(column=alt.Column(f"{panel}:N", title=None), title=title)
        .resolve_scale(y="independent")
    )


def sample_scatter(
    frame: pd.DataFrame,
    x_title: str = "x",
    y_title: str = "y",
    facet: str = "n",
    truth_line: pd.DataFrame | None = None,
    title: str = "",
) -> alt.FacetChart:
    """Samples (columns ``x, y, facet``) as small points, one panel per ``facet`` value.

    ``truth_line`` (optional, columns ``x, y``) is drawn dashed in every panel, e.g. the true
    quantile function beside samples plotted as ``(x, u)``.
    """
    points = (
        alt.Chart()
        .mark_circle(size=6, opacity=0.6, color="#08306b")
        .encode(alt.X("x:Q", title=x_title), alt.Y("y:Q", title=y_title))
    )
    layers = [points]
    if truth_line is not None:
        layers.append(
            alt.Chart(truth_line)
            .mark_line(color="black", strokeDash=[4, 2])
            .encode(alt.X("x:Q"), alt.Y("y:Q"))
        )
    width = _panel_width(min(4, frame[facet].nunique()))
    return (
        alt.layer(*layers, data=frame)
        .properties(width=width, height=150)
        .facet(
            facet=alt.Facet(f"{facet}:O", title=f"iteration {facet} (0: the truth)"), columns=4, title=title
        )
    )


def faceted_curves(
    summary: pd.DataFrame,
    y_title: str,
    row: str = "estimator",
    column: str = "regime",
    color: str = "alpha",
    x: str = "n",
    title: str = "",
) -> alt.FacetChart:
    """Mean error (``mean``, band ``lo``-``hi``) against ``x`` on log-log axes, one panel per
    (``row``, ``column``), one line per ``color``; all panels share their axes."""
    data = summary[summary["mean"] > 0].copy()
    data["lo"] = data["lo"].clip(lower=data["mean"] * 1e-3)
    xs = alt.X(f"{x}:Q", scale=alt.Scale(type="log", nice=False), title="iteration n")
    col = alt.Color(
        f"{color}:O", scale=alt.Scale(scheme=COOL), title=color, legend=alt.Legend(symbolOpacity=1)
    )
    ys = alt.Y("mean:Q", scale=alt.Scale(type="log"), title=y_title)
    hover = _hover(color)
    band = (
        alt.Chart()
        .mark_area()
        .encode(
            xs,
            alt.Y("lo:Q", scale=alt.Scale(type="log")),
            alt.Y2("hi:Q"),
            col,
            opacity=_dim(hover, BAND_OPACITY),
        )
    )
    line = alt.Chart().mark_line().encode(xs, ys, col, opacity=_dim(hover, 1.0))
    tips = [*_tooltip(f"{row}:N", f"{column}:N"), *_curve_tooltip(color, x, y_title)]
    points = _hover_points(alt.Chart(), xs, ys, tips, hover)
    width = _panel_width(data[column].nunique())
    return (
        alt.layer(band, line, points, data=data)
        .properties(width=width, height=150)
        .facet(row=alt.Row(f"{row}:N"), column=alt.Column(f"{column}:N"), title=title)
    )


def sample_grid(
    pixels: pd.DataFrame,
    row: str = "alpha",
    column: str = "iteration",
    per_line: int = 10,
    cell: float | None = None,
    title: str = "",
):
    """Altair grid of digit images, one panel per (``row``, ``column``), synthetic ones framed in red.

    ``pixels``: the tidy frame of :func:`recursive_lib.experiments.images.split_snapshots` (one
    repetition). Images are laid out ``per_line`` to a line inside a panel; ``cell`` is the size of
    a pixel in screen points (by default at most 3, less when the panels of a row would not fit the
    text column).
    """
    for name in (row, column, "image", "row", "col", "value", "source"):
        if name not in pixels.columns:
            raise ValueError(
                f"row and column must be columns of pixels, one of {list(pixels.columns)}; got {name!r}"
            )
    step = int(pixels["row"].max()) + 2  # an image's side and one pixel of gap
    data = _pixel_layout(pixels, row, column, per_line)
    lines = int(np.ceil((pixels["image"].max() + 1) / per_line))
    if cell is None:
        cell = min(3.0, (COLUMN - 120) / (pixels[column].nunique() * (per_line * step + 6)))
    width, height = per_line * step * cell, lines * step * cell
    xs = alt.X("x:Q", axis=None, scale=alt.Scale(domain=[-1, per_line * step], nice=False))
    ys = alt.Y("y:Q", axis=None, scale=alt.Scale(domain=[-1, lines * step], nice=False, reverse=True))
    pixel_layer = (
        alt.Chart()
        .transform_filter(alt.datum.kind == "pixel")
        .mark_rect()
        .encode(
            xs,
            ys,
            alt.X2("x2:Q"),
            alt.Y2("y2:Q"),
            alt.Color("value:Q", scale=alt.Scale(scheme="greys", domain=[-1, 1]), legend=None),
        )
    )
    return (
        alt.layer(pixel_layer, _frame_layer(xs, ys), data=data)
        .properties(width=width, height=height)
        .facet(row=alt.Row(f"{row}:O"), column=alt.Column(f"{column}:O"), title=title)
        .configure_view(stroke=None)
    )


def _frame_layer(xs, ys) -> alt.Chart:
    """The frames of :func:`sample_grid`: grey around a real image, red around a synthetic one."""
    return (
        alt.Chart()
        .transform_filter(alt.datum.kind == "frame")
        .mark_rect(fillOpacity=0, strokeWidth=1.2)
        .encode(
            xs,
            ys,
            alt.X2("x2:Q"),
            alt.Y2("y2:Q"),
            alt.Stroke(
                "source:N",
                scale=alt.Scale(domain=["real", "synthetic"], range=["#8c8c8c", "#d62728"]),
                title="in the batch",
                legend=alt.Legend(symbolFillColor="white", symbolType="square"),
            ),
        )
    )


def _pixel_layout(pixels: pd.DataFrame, row: str, column: str, per_line: int) -> pd.DataFrame:
    """Where :func:`sample_grid` draws: one rectangle ``x, x2, y, y2`` per pixel (``kind`` "pixel")
    and one frame per image (``kind`` "frame"), images ``per_line`` to a line, one pixel apart."""
    side = int(pixels["row"].max()) + 1
    step = side + 1
    frame = pixels.copy()
    frame["x"] = (frame["image"] % per_line) * step + frame["col"]
    frame["y"] = (frame["image"] // per_line) * step + frame["row"]
    frame["x2"], frame["y2"] = frame["x"] + 1, frame["y"] + 1
    frame["kind"] = "pixel"
    boxes = frame.groupby([row, column, "image"], as_index=False).agg(source=("source", "first"))
    boxes["x"] = (boxes["image"] % per_line) * step - 0.3
    boxes["y"] = (boxes["image"] // per_line) * step - 0.3
    boxes["x2"], boxes["y2"] = boxes["x"] + side + 0.6, boxes["y"] + side + 0.6
    boxes["kind"] = "frame"
    return pd.concat([frame, boxes], ignore_index=True)


def metric_curves(
    summary: pd.DataFrame, y_title: str, reference: float | None = None, log_y: bool = False, title: str = ""
):
    """Mean metric against iteration, one line per alpha with its interval band, linear y axis by
    default (entropies, confidences); ``reference`` (optional) a dashed horizontal line, e.g. the
    value of real images. ``summary``: :func:`recursive_lib.rates.curve_summary` by alpha.
    """
    scale = alt.Scale(type="log") if log_y else alt.Scale(zero=False)
    xs = alt.X("n:Q", title="iteration n")
    col = alt.Color(
        "alpha:O", scale=alt.Scale(scheme=COOL), title="alpha", legend=alt.Legend(symbolOpacity=1)
    )
    ys = alt.Y("mean:Q", scale=scale, title=y_title)
    hover, zoom = _hover("alpha"), _zoom()
    base = alt.Chart(summary)
    layers = [
        base.mark_area().encode(
            xs, alt.Y("lo:Q", scale=scale), alt.Y2("hi:Q"), col, opacity=_dim(hover, BAND_OPACITY)
        ),
        base.mark_line(point=True).encode(xs, ys, col, opacity=_dim(hover, 1.0)),
        _hover_points(base, xs, ys, _curve_tooltip("alpha", "n", y_title), hover, zoom),
    ]
    if reference is not None:
        layers.append(
            alt.Chart(pd.DataFrame({"value": [float(reference)]}))
            .mark_rule(strokeDash=[5, 3], color="black")
            .encode(alt.Y("value:Q"))
        )
    return alt.layer(*layers).properties(width=WIDTH, height=HEIGHT, title=title)


def beside_reported(
    table: pd.DataFrame,
    references: dict[str, str],
    reported: str = "paper",
    reported_label: str = "the paper reports",
    column: str = "estimator",
    title: str = "",
) -> alt.FacetChart:
    """This build's mean slopes with their intervals beside numbers reported elsewhere, one row per
    cell ``(alpha, q)``, one panel per ``column`` value.

    ``table``: columns ``alpha, bias_rate, column, slope, lo, hi``, the ``reported`` column and
    every key of ``references`` (a mapping column -> legend label, e.g. ``{"predicted":
    "min(p, α, q)"}``). Filled points with rules: this build's means and intervals; open diamonds:
    ``reported``; the ``references``, where not NaN, as ticks (the first) and open squares (the
    second).
    """
    needed = ["alpha", "bias_rate", column, "slope", "lo", "hi", reported, *references]
    for name in needed:
        if name not in table.columns:
            raise ValueError(f"table needs column {name!r}; it has {list(table.columns)}")
    data = table[needed].copy()
    data["cell"] = [f"α = {a:g}, q = {q:g}" for a, q in zip(data["alpha"], data["bias_rate"], strict=True)]
    order = data.sort_values(["alpha", "bias_rate"])["cell"].unique().tolist()
    data = data.rename(columns={reported: reported_label, **references})
    labels: list[Any] = [reported_label, *references.values()]
    ys = alt.Y("cell:N", sort=order, title=None)
    xs = alt.X("slope:Q", title="fitted rate (slope)", scale=alt.Scale(zero=False))
    base = alt.Chart()
    bars = (
        base.transform_filter(_FINITE_INTERVAL)
        .mark_rule(color=CATEGORICAL[0])
        .encode(alt.X("lo:Q"), alt.X2("hi:Q"), ys)
    )
    tooltip = _tooltip(
        f"{column}:N", "alpha:Q", "bias_rate:Q", "slope:Q", _INTERVAL, *[f"{x}:Q" for x in labels]
    )
    points = (
        _with_interval(base)
        .mark_point(filled=True, size=45, opacity=1, color=CATEGORICAL[0])
        .encode(xs, ys, tooltip=tooltip)
    )
    shapes = ["diamond", "cross", "square"][: len(labels)]
    others = (
        base.transform_fold(labels, as_=["reference", "_value"])
        .transform_filter("isValid(datum._value) && isFinite(datum._value)")
        .mark_point(filled=False, size=90, strokeWidth=1.5, opacity=1)
        .encode(
            alt.X("_value:Q"),
            ys,
            alt.Shape("reference:N", scale=alt.Scale(domain=labels, range=shapes), title=None),
            alt.Color(
                "reference:N",
                scale=alt.Scale(domain=labels, range=CATEGORICAL[1 : 1 + len(labels)]),
                title=None,
            ),
        )
    )
    width = _panel_width(data[column].nunique())
    return (
        alt.layer(bars, points, others, data=data)
        .properties(width=width, height=22 * len(order))
        .facet(column=alt.Column(f"{column}:N", title=None), title=title)
    )


def differences_within(
    table: pd.DataFrame,
    delta: float,
    column: str = "estimator",
    x_title: str = "this build − the paper",
    title: str = "",
) -> alt.FacetChart:
    """Differences with their intervals against a tolerance band ``± delta`` around zero, one row per
    cell ``(alpha, q)``, one panel per ``column`` value: what an equivalence check
    (:func:`recursive_lib.claims.coverage` against 0) decides on.

    ``table``: columns ``alpha, bias_rate, column, gap, gap_lo, gap_hi`` (e.g. from
    :func:`recursive_lib.experiments.paper_table.compare_with_paper`).
    """
    needed = ["alpha", "bias_rate", column, "gap", "gap_lo", "gap_hi"]
    for name in needed:
        if name not in table.columns:
            raise ValueError(f"table needs column {name!r}; it has {list(table.columns)}")
    data = table[needed].rename(columns={"gap_lo": "lo", "gap_hi": "hi"})
    data["cell"] = [f"α = {a:g}, q = {q:g}" for a, q in zip(data["alpha"], data["bias_rate"], strict=True)]
    order = data.sort_values(["alpha", "bias_rate"])["cell"].unique().tolist()
    ys = alt.Y("cell:N", sort=order, title=None)
    base = alt.Chart()
    band = (  # one rectangle per panel, not one per row (their opacities would add up)
        base.transform_aggregate(_rows="count()", groupby=[column])
        .transform_calculate(_lo=f"{-float(delta)}", _hi=f"{float(delta)}")
        .mark_rect(color="#999999", opacity=BAND_OPACITY)
        .encode(alt.X("_lo:Q"), alt.X2("_hi:Q"))
    )
    zero = (
        base.transform_calculate(_zero="0")
        .mark_rule(color="black", strokeDash=[5, 3])
        .encode(alt.X("_zero:Q"))
    )
    bars = (
        base.transform_filter(_FINITE_INTERVAL)
        .mark_rule(color=CATEGORICAL[0])
        .encode(alt.X("lo:Q"), alt.X2("hi:Q"), ys)
    )
    tooltip = _tooltip(f"{column}:N", "alpha:Q", "bias_rate:Q", "gap:Q", _INTERVAL)
    points = (
        _with_interval(base)
        .transform_filter("isValid(datum.gap) && isFinite(datum.gap)")
        .mark_point(filled=True, size=45, opacity=1, color=CATEGORICAL[0])
        .encode(alt.X("gap:Q", title=x_title), ys, tooltip=tooltip)
    )
    width = _panel_width(data[column].nunique())
    return (
        alt.layer(band, zero, bars, points, data=data)
        .properties(width=width, height=22 * len(order))
        .facet(column=alt.Column(f"{column}:N", title=None), title=title)
    )
