"""Chart builders: each accepts its tidy frame, renders to SVG, and names a missing column."""

import json
import re
import warnings
import xml.etree.ElementTree as ET

import altair as alt
import numpy as np
import pandas as pd
import pytest
import vl_convert as vlc

from recursive_lib import plots
from recursive_lib.book import charts
from recursive_lib.simulation import snapshots


def _svg(chart) -> str:
    charts.enable()
    svg = vlc.vegalite_to_svg(chart.to_dict())
    assert svg.startswith("<svg") and "NaN" not in svg
    return svg


def _summary():
    rows = [
        dict(
            estimator=e,
            metric=m,
            alpha=a,
            slope=min(0.5, a) + 0.01,
            lo=min(0.5, a) - 0.02,
            hi=min(0.5, a) + 0.04,
            predicted=min(0.5, a),
        )
        for e in ("ecdf", "kde")
        for m in ("w1", "mmd")
        for a in (0.2, 0.5, 1.0)
    ]
    return pd.DataFrame(rows)


def test_snapshot_curves_density_and_cdf():
    frame = pd.concat(
        [snapshots(estimator="kde", alpha=a, at=(1, 4), m1=20, grid_size=60) for a in (0.3, 1.0)]
    )
    assert isinstance(plots.snapshot_curves(frame), alt.FacetChart)
    _svg(plots.snapshot_curves(frame))
    _svg(plots.snapshot_curves(frame.assign(err=frame.cdf - frame.truth_cdf), y="err", truth=None))
    with pytest.raises(ValueError, match="'nope'"):
        plots.snapshot_curves(frame, y="nope")


def test_slope_panels_one_panel_per_estimator_and_metric():
    svg = _svg(plots.slope_panels(_summary()))
    assert "ecdf" in svg and "mmd" in svg
    with pytest.raises(ValueError, match="predicted"):
        plots.slope_panels(_summary().drop(columns="predicted"))


def test_phase_diagram_prints_every_cell():
    grid = pd.DataFrame(
        [
            dict(metric=m, p=p, alpha=a, slope=min(p, a) + 0.003)
            for m in ("w1", "mmd")
            for p in (0.1, 0.3)
            for a in (0.1, 0.2, 0.3)
        ]
    )
    svg = _svg(plots.phase_diagram(grid))
    assert "0.10" in svg and "0.30" in svg
    _svg(plots.phase_diagram(grid[grid.metric == "w1"], column=None))
    with pytest.raises(ValueError, match="'slope'"):
        plots.phase_diagram(grid.drop(columns="slope"))


def test_theory_panels_simulation_beside_several_theory_curves():
    n = np.array([1, 10, 100])
    sim = pd.concat(
        [
            pd.DataFrame(dict(quantity=q, alpha=0.5, n=n, mean=1 / n, lo=0.8 / n, hi=1.2 / n))
            for q in ("ise", "w1")
        ]
    )
    theory = pd.concat(
        [
            pd.DataFrame(dict(quantity="w1", alpha=0.5, n=n, value=k / n, curve=c))
            for k, c in ((1.0, "approximation"), (1.25, "bound"))
        ]
    )
    _svg(plots.theory_panels(sim, theory))


def test_error_curves_keep_their_colour_legend():
    # A legend=None on one layer used to drop the merged legend of every layer.
    s = pd.DataFrame(
        dict(
            alpha=[0.1, 0.1, 0.5, 0.5],
            n=[1, 2, 1, 2],
            mean=[1, 0.5, 1, 0.4],
            lo=[0.9, 0.4, 0.9, 0.3],
            hi=[1.1, 0.6, 1.1, 0.5],
        )
    )
    assert ">alpha<" in _svg(plots.error_curves(s, "mean error"))


# --- hover, zoom and colours (the book renderer: tests/test_charts.py) -------------------------------------------------


def _curves(alphas=(0.0, 0.1, 0.2, 0.3, 0.5, 0.7, 1.0), ns=(1, 2, 4, 8, 16)):
    return pd.DataFrame(
        [
            dict(
                alpha=a, n=n, mean=1 / n ** min(a, 0.5), lo=0.8 / n ** min(a, 0.5), hi=1.2 / n ** min(a, 0.5)
            )
            for a in alphas
            for n in ns
        ]
    )


def _bundle(chart) -> dict:
    charts.enable()
    bundle = chart._repr_mimebundle_()
    return bundle[0] if isinstance(bundle, tuple) else bundle


def _tooltip_fields(spec) -> set[str]:
    found = set()
    if isinstance(spec, dict):
        for key, value in spec.items():
            if key == "tooltip":
                for item in value if isinstance(value, list) else [value]:
                    found.add(item["field"])
            else:
                found |= _tooltip_fields(value)
    elif isinstance(spec, list):
        for value in spec:
            found |= _tooltip_fields(value)
    return found


def test_curve_charts_have_tooltips_hover_and_zoom():
    spec = plots.error_curves(_curves(), "mean error").to_dict()
    assert _tooltip_fields(spec) == {"alpha", "n", "mean", "interval"}
    # the interval is one line, "lo to hi", computed where the tooltips are ("none" without one)
    assert "format(datum.lo" in json.dumps(spec) and "'none'" in json.dumps(spec)
    params = spec.get("params", []) + [p for layer in spec["layer"] for p in layer.get("params", [])]
    kinds = {(p["select"]["type"], p.get("bind")) for p in params}
    assert ("point", None) in kinds and ("interval", "scales") in kinds
    assert {"alpha", "slope", "interval"} <= _tooltip_fields(
        plots.slopes_against_alpha(
            pd.DataFrame(dict(alpha=[0.2, 1.0], slope=[0.2, 0.5], lo=[0.1, 0.4], hi=[0.3, 0.6])),
            pd.DataFrame(dict(alpha=[0.2, 1.0], value=[0.2, 0.5])),
        ).to_dict()
    )
    assert {"estimator", "metric", "alpha", "slope", "predicted"} <= _tooltip_fields(
        plots.slope_panels(_summary()).to_dict()
    )


def test_side_by_side_charts_keep_their_own_selections_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        chart = alt.hconcat(plots.error_curves(_curves(), "e"), plots.error_curves(_curves(), "e"))
        spec = _bundle(chart)
    names = re.findall(r'"name":"((?:hover|zoom)_\d+)"', spec["text/html"])
    assert len(set(names)) == 4, names


# Colours: each colour a chart draws a line, point, rule or legend symbol with (blended with the
# white page at its opacity) must reach MIN_CONTRAST against white. Bands (mark-area) are
# translucent on purpose and the invisible hover points (opacity 0) are not drawn.
_CHECKED = ("mark-line", "mark-symbol", "mark-rule", "mark-rect")


def _rgb(value: str):
    value = value.strip()
    if m := re.fullmatch(r"rgb\((\d+),\s*(\d+),\s*(\d+)\)", value):
        return tuple(int(v) for v in m.groups())
    if m := re.fullmatch(r"#([0-9a-fA-F]{6}|[0-9a-fA-F]{3})", value):
        h = m.group(1) if len(m.group(1)) == 6 else "".join(c * 2 for c in m.group(1))
        return tuple(int(h[i : i + 2], 16) for i in (0, 2, 4))
    return None


def contrast_with_white(rgb, opacity: float = 1.0) -> float:
    """WCAG 2 contrast ratio of a colour, blended onto white at ``opacity``, against white."""
    channels = [(c * opacity + 255 * (1 - opacity)) / 255 for c in rgb]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    luminance = 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]
    return 1.05 / (luminance + 0.05)


def drawn_colours(svg: str, kinds=_CHECKED) -> list[tuple[tuple[int, int, int], float]]:
    """(colour, opacity) of every stroke and fill of the ``kinds`` of marks and legend symbols."""
    out = []
    for group in ET.fromstring(svg).iter("{http://www.w3.org/2000/svg}g"):
        cls = group.get("class", "")
        if not (("role-mark" in cls and cls.split()[0] in kinds) or "role-legend-symbol" in cls):
            continue
        for item in group:
            if item.tag.endswith("}g"):
                continue
            opacity = float(item.get("opacity", 1))
            for attr in ("stroke", "fill"):
                rgb = _rgb(item.get(attr, ""))
                alpha = opacity * float(item.get(f"{attr}-opacity", 1))
                if rgb is not None and alpha > 0:
                    out.append((rgb, alpha))
    return out


def _colour_charts():
    s = _curves()
    shots = pd.DataFrame(
        [
            dict(
                alpha=a, n=n, x=x, density=np.exp(-x * x / 2) / (1 + n / 10), truth_density=np.exp(-x * x / 2)
            )
            for a in (0.2, 1.0)
            for n in (1, 2, 4, 8, 16, 32, 64)
            for x in np.linspace(-2, 2, 9)
        ]
    )
    rates = pd.DataFrame(
        [
            dict(
                estimator="kde",
                metric=m,
                alpha=a,
                bias_rate=q,
                slope=min(a, q),
                lo=min(a, q) - 0.05,
                hi=min(a, q) + 0.05,
                predicted=min(a, q),
                floor=q,
            )
            for m in ("w1", "mmd")
            for a in (0.0, 0.2, 0.5, 0.8, 1.0)
            for q in (0.25, 0.5, 1.0)
        ]
    )
    n = np.array([1, 10, 100])
    sim = pd.concat(
        [
            pd.DataFrame(dict(quantity="w1", alpha=a, n=n, mean=1 / n, lo=0.8 / n, hi=1.2 / n))
            for a in (0.0, 0.5, 1.0)
        ]
    )
    theory = sim.rename(columns={"mean": "value"})[["quantity", "alpha", "n", "value"]].assign(curve="bound")
    return {
        "error_curves": plots.error_curves(s, "e", theory=s.rename(columns={"mean": "value"})),
        "metric_curves": plots.metric_curves(s, "m", reference=0.5),
        "faceted_curves": plots.faceted_curves(s.assign(estimator="kde", regime="r"), "e"),
        "snapshot_curves": plots.snapshot_curves(shots),
        "densities": plots.densities(
            shots,
            shots[["x", "truth_density"]].rename(columns={"truth_density": "density"}).drop_duplicates(),
        ),
        "slopes_against_rate": plots.slopes_against_rate(rates),
        "slopes_with_horizon": plots.slopes_with_horizon(rates, {"floor": "bias floor"}),
        "slopes_against_alpha": plots.slopes_against_alpha(
            rates.assign(run=rates.metric), rates[["alpha"]].assign(value=0.5), color="run"
        ),
        "slope_panels": plots.slope_panels(_summary()),
        "theory_panels": plots.theory_panels(sim, theory),
        "sample_scatter": plots.sample_scatter(
            shots.rename(columns={"density": "y"})[["x", "y", "n"]], truth_line=shots[["x"]].assign(y=0.5)
        ),
    }


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(_colour_charts()))
def test_every_drawn_colour_is_legible_on_white(name):
    svg = vlc.vegalite_to_svg(_colour_charts()[name].to_dict())
    colours = drawn_colours(svg)
    assert colours, name
    weak = sorted(
        {
            (c, round(o, 2), round(contrast_with_white(c, o), 2))
            for c, o in colours
            if contrast_with_white(c, o) < plots.MIN_CONTRAST
        }
    )
    assert not weak, f"{name}: colours below contrast {plots.MIN_CONTRAST}: {weak}"


def test_the_contrast_check_rejects_the_full_viridis_range():
    # The scheme the charts used before: its yellow end is barely visible on white.
    chart = (
        alt.Chart(_curves())
        .mark_line()
        .encode(alt.X("n:Q"), alt.Y("mean:Q"), alt.Color("alpha:O", scale=alt.Scale(scheme="viridis")))
    )
    colours = drawn_colours(vlc.vegalite_to_svg(chart.to_dict()))
    assert min(contrast_with_white(c, o) for c, o in colours) < 2.0
    assert contrast_with_white((255, 255, 255)) == pytest.approx(1.0)
    assert contrast_with_white((0, 0, 0)) == pytest.approx(21.0)
