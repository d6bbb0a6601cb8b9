"""Chart builders: each accepts its tidy frame, renders to SVG, and names a missing column."""

import altair as alt
import numpy as np
import pandas as pd
import pytest
import vl_convert as vlc

from recursive_lib import plots
from recursive_lib.simulation import snapshots


def _svg(chart) -> str:
    plots.enable()
    svg = vlc.vegalite_to_svg(chart.to_dict())
    assert svg.startswith("<svg") and "NaN" not in svg
    return svg


def _summary():
    rows = [dict(estimator=e, metric=m, alpha=a, slope=min(0.5, a) + 0.01, lo=min(0.5, a) - 0.02,
                 hi=min(0.5, a) + 0.04, predicted=min(0.5, a))
            for e in ("ecdf", "kde") for m in ("w1", "mmd") for a in (0.2, 0.5, 1.0)]
    return pd.DataFrame(rows)


def test_snapshot_curves_density_and_cdf():
    frame = pd.concat([snapshots(estimator="kde", alpha=a, at=(1, 4), m1=20, grid_size=60) for a in (0.3, 1.0)])
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
    grid = pd.DataFrame([dict(metric=m, p=p, alpha=a, slope=min(p, a) + 0.003)
                         for m in ("w1", "mmd") for p in (0.1, 0.3) for a in (0.1, 0.2, 0.3)])
    svg = _svg(plots.phase_diagram(grid))
    assert "0.10" in svg and "0.30" in svg
    _svg(plots.phase_diagram(grid[grid.metric == "w1"], column=None))
    with pytest.raises(ValueError, match="'slope'"):
        plots.phase_diagram(grid.drop(columns="slope"))


def test_theory_panels_simulation_beside_several_theory_curves():
    n = np.array([1, 10, 100])
    sim = pd.concat([pd.DataFrame(dict(quantity=q, alpha=0.5, n=n, mean=1 / n, lo=0.8 / n, hi=1.2 / n))
                     for q in ("ise", "w1")])
    theory = pd.concat([pd.DataFrame(dict(quantity="w1", alpha=0.5, n=n, value=k / n, curve=c))
                        for k, c in ((1.0, "approximation"), (1.25, "bound"))])
    _svg(plots.theory_panels(sim, theory))


def test_error_curves_keep_their_colour_legend():
    # A legend=None on one layer used to drop the merged legend of every layer.
    s = pd.DataFrame(dict(alpha=[0.1, 0.1, 0.5, 0.5], n=[1, 2, 1, 2], mean=[1, .5, 1, .4],
                          lo=[.9, .4, .9, .3], hi=[1.1, .6, 1.1, .5]))
    assert ">alpha<" in _svg(plots.error_curves(s, "mean error"))
