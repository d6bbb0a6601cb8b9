"""The paper's table beside this build's (``chapters/paper.md``): the authors' numbers as package
data, the authors' tie rule for the fits, and the interval of the difference between the two."""

import subprocess
import sys
import zipfile

import numpy as np
import pandas as pd
import pytest
import tomllib

from recursive_lib import rates
from recursive_lib.data import paper
from recursive_lib.experiments import bias, paper_table
from recursive_lib.experiments.thinned import simulate_thinned
from recursive_lib.simulation import simulate

GRID = (0.25, 0.5, 0.75)


# ---------------------------------------------------------------- the paper's numbers, as data


def test_the_paper_reports_one_w1_and_one_mmd_slope_per_estimator_and_cell():
    table = paper.bcrt_slopes()
    assert list(table.columns) == ["estimator", "metric", "alpha", "bias_rate", "slope"]
    assert len(table) == 36
    cells = table.groupby(["estimator", "metric"])[["alpha", "bias_rate"]].apply(
        lambda g: sorted(zip(g["alpha"], g["bias_rate"], strict=True))
    )
    expected = [(a, q) for a in GRID for q in GRID]
    assert all(c == expected for c in cells), cells
    assert table["slope"].between(0.1, 0.6).all()


def test_a_few_numbers_read_as_the_authors_notebook_has_them():
    w1 = paper.bcrt_slopes("w1").set_index(["estimator", "alpha", "bias_rate"])["slope"]
    assert len(w1) == 18
    assert w1[("ecdf", 0.25, 0.25)] == 0.178
    assert w1[("ecdf", 0.75, 0.25)] == 0.203  # the notebook lists this row fourth
    assert w1[("kde", 0.5, 0.25)] == 0.311
    assert w1[("kde", 0.75, 0.75)] == 0.576
    assert (
        paper.bcrt_slopes("mmd").set_index(["estimator", "alpha", "bias_rate"])["slope"][("ecdf", 0.5, 0.5)]
        == 0.501
    )


def test_the_loader_names_the_metric_it_refuses():
    with pytest.raises(ValueError, match="metric"):
        paper.bcrt_slopes("tv")


def test_the_settings_are_those_of_the_authors_scripts():
    assert paper.BCRT_SETTINGS == dict(p=0.5, m1=50, T=3000, reps=100, burn_in=200)


def test_the_csv_is_package_data(root):
    package_data = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    assert paper.FILE in package_data["recursive_lib.data"]


@pytest.mark.slow
def test_a_wheel_ships_the_csv_and_the_loader_reads_it_from_there(tmp_path):
    from test_install import _build_wheel

    wheel = _build_wheel(tmp_path / "wheel")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        assert f"recursive_lib/data/{paper.FILE}" in names
        archive.extractall(tmp_path / "site")
    code = (
        "from recursive_lib.data.paper import bcrt_slopes; import recursive_lib; "
        "print(recursive_lib.__file__, len(bcrt_slopes()))"
    )
    out = subprocess.run(
        [sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {str(tmp_path / 'site')!r}); {code}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert out[0].startswith(str(tmp_path / "site")) and out[1] == "36", out


# ---------------------------------------------------------------- the authors' tie rule


def test_the_authors_divide_wherever_alpha_equals_p_whatever_q():
    alphas, qs = np.meshgrid(GRID, GRID, indexing="ij")
    theirs = rates.needs_log_correction(0.5, alphas.ravel(), qs.ravel(), rule="paper")
    assert theirs.tolist() == [False] * 3 + [True] * 3 + [False] * 3
    ours = rates.needs_log_correction(0.5, alphas.ravel(), qs.ravel())
    # where the two rules part: the bias is the slowest clock at alpha = p (they divide, the book
    # does not), and alpha = q < p (the book divides, they do not)
    differ = {(a, q) for a, q, x, y in zip(alphas.ravel(), qs.ravel(), theirs, ours, strict=True) if x != y}
    assert differ == {(0.5, 0.25), (0.25, 0.25)}
    assert rates.needs_log_correction(0.5, 0.5, rule="paper") is True
    assert rates.needs_log_correction(0.5, 0.4, 0.4, rule="paper") is False


def test_an_unknown_tie_rule_is_refused_by_name():
    with pytest.raises(ValueError, match="rule"):
        rates.needs_log_correction(0.5, 0.5, rule="authors")


@pytest.mark.parametrize("alpha, q", [(0.5, 0.25), (0.25, 0.25), (0.75, 0.5)])
def test_a_thinned_run_fits_exactly_as_the_authors_scripts_do(alpha, q):
    """The slope of ``simulate_thinned(tie_rule="paper")`` is the authors' fit done by hand:
    OLS of log(W1), divided by log M_n where alpha = p, on log M_n over the iterations after the
    burn-in (their ``M[drop_first:]``), sign flipped."""
    config = bias.bias_configs(["ecdf"], [alpha], [q], 0.5, 20, 60, 3, 4, bias.PAPER_DESIGNS)[0]
    thinned = simulate_thinned(burn_in=10, curve_points=5, tie_rule="paper", **config)
    frame = simulate(**config)
    for rep, run in frame.groupby("rep"):
        kept = run[run["n"] > 10]
        error = kept["w1"] / (np.log(kept["M"]) if alpha == 0.5 else 1.0)
        by_hand = -np.polyfit(np.log(kept["M"]), np.log(error), 1)[0]
        assert thinned[thinned["rep"] == rep]["slope_w1"].iloc[0] == pytest.approx(by_hand, rel=1e-9)
    assert bool(thinned["log_corrected"].iloc[0]) is (alpha == 0.5)


def test_the_default_rule_leaves_the_runs_of_the_other_chapters_unchanged():
    config = bias.bias_configs(["ecdf"], [0.25], [0.25], 0.5, 20, 40, 2, 4, bias.PAPER_DESIGNS)[0]
    plain = simulate_thinned(burn_in=5, curve_points=5, **config)
    book = simulate_thinned(burn_in=5, curve_points=5, tie_rule="book", **config)
    pd.testing.assert_frame_equal(plain.drop(columns="cpu_seconds"), book.drop(columns="cpu_seconds"))
    assert bool(plain["log_corrected"].iloc[0]) is True  # the book's rule: alpha = q < p


def test_the_grid_and_its_prediction_take_the_rule():
    configs = bias.bias_configs(["ecdf"], [0.5], [0.25], 0.5, 20, 40, 2, 0, bias.PAPER_DESIGNS)
    slopes, _ = bias.run_bias_grid(configs, 5, n_jobs=1, tie_rule="paper")
    assert slopes["log_corrected"].all()
    slopes, _ = bias.run_bias_grid(configs, 5, n_jobs=1)
    assert not slopes["log_corrected"].any()
    args = (bias.PAPER_DESIGNS, ["ecdf"], [0.5], [0.25], 0.5, 20, 40, 5)
    theirs = bias.horizon_slopes(*args, tie_rule="paper").set_index("metric")
    ours = bias.horizon_slopes(*args).set_index("metric")
    # dividing by log M_n raises a slope by about 1 / log M_n
    gap = theirs.loc["w1", "exact"] - ours.loc["w1", "exact"]
    assert 0.5 / np.log(20 * 2 * 40) < gap < 2 / np.log(20 * 2 * 5)


# ---------------------------------------------------------------- the difference and its interval


def _summary(slope, se, reps, alpha=(0.25, 0.5)):
    return pd.DataFrame(
        dict(estimator="ecdf", metric="w1", alpha=list(alpha), bias_rate=0.5, slope=slope, se=se, reps=reps)
    )


def test_the_gap_interval_counts_both_means_and_the_rounding():
    reported = pd.DataFrame(dict(estimator="ecdf", metric="w1", alpha=[0.25], bias_rate=0.5, slope=[0.236]))
    out = paper_table.compare_with_paper(_summary([0.240, 0.3], [0.002, 0.002], [25, 25]), reported)
    first = out.iloc[0]
    sd = 0.002 * 5
    expected_se = np.sqrt(0.002**2 + sd**2 / 100 + (0.0005 / np.sqrt(3)) ** 2)
    assert first["paper"] == 0.236 and first["gap"] == pytest.approx(0.004)
    assert first["gap_se"] == pytest.approx(expected_se)
    assert first["paper_se"] == pytest.approx(sd / 10)
    from scipy import stats

    half = stats.t.ppf(0.975, 24) * expected_se
    assert (first["gap_lo"], first["gap_hi"]) == pytest.approx((0.004 - half, 0.004 + half))
    # a cell the paper does not report stays, without a number
    assert np.isnan(out.iloc[1]["paper"]) and np.isnan(out.iloc[1]["gap_lo"])


def test_grid_floats_meet_the_paper_s_numbers():
    reported = paper.bcrt_slopes("w1")
    summary = _summary([0.2, 0.3], [0.01, 0.01], [4, 4]).assign(alpha=[0.1 + 0.15, 1.5 / 3])
    out = paper_table.compare_with_paper(summary, reported)
    assert out["paper"].tolist() == [0.236, 0.463]


def test_the_gap_interval_covers_when_both_runs_share_the_truth():
    """Two independent means of the same slope distribution (ours over 20 repetitions, the
    'paper' over 100, rounded): the 95 % interval of the difference covers 0 about 95 % of the time
    (2000 trials, one cell each)."""
    rng = np.random.default_rng(1)
    trials = 2000
    ours = rng.normal(0.3, 0.04, (trials, 20))
    theirs = rng.normal(0.3, 0.04, (trials, 100)).mean(axis=1).round(3)
    cells = np.arange(trials) / trials  # one cell per trial
    summary = _summary(ours.mean(axis=1), ours.std(axis=1, ddof=1) / np.sqrt(20), 20, alpha=cells)
    reported = pd.DataFrame(dict(estimator="ecdf", metric="w1", alpha=cells, bias_rate=0.5, slope=theirs))
    out = paper_table.compare_with_paper(summary, reported)
    covered = ((out["gap_lo"] <= 0) & (0 <= out["gap_hi"])).mean()
    assert 0.93 < covered < 0.975, covered


def test_the_comparison_names_a_missing_column():
    with pytest.raises(ValueError, match="summary needs the columns"):
        paper_table.compare_with_paper(
            _summary([0.2, 0.3], [0.01, 0.01], [4, 4]).drop(columns="se"), paper.bcrt_slopes()
        )


# ---------------------------------------------------------------- the chapter


def test_the_book_preset_is_the_authors_setting_and_paper_is_book(root):
    from recursive_lib.book import params

    source = root / "chapters" / "paper.md"
    book = params.for_chapter(source, "book")
    settings = paper.BCRT_SETTINGS
    assert (book.p, book.m1, book.T, book.reps, book.burn_in) == tuple(
        settings[k] for k in ("p", "m1", "T", "reps", "burn_in")
    )
    assert book.alphas == book.qs == GRID
    assert book.designs == bias.check_designs("designs", "paper")
    assert book.tie_rule == "paper" and book.metric == "w1"
    knobs = params.for_chapter(source, "paper").as_dict()
    assert {k: v for k, v in knobs.items() if k != "preset"} == {
        k: v for k, v in book.as_dict().items() if k != "preset"
    }
    smoke = params.for_chapter(source, "smoke")
    assert smoke.T * smoke.reps <= 300


def test_the_chapter_words_one_claim_per_estimator_and_one_against_the_window(root):
    from recursive_lib.book import findings

    text = (root / "chapters" / "paper.md").read_text()
    assert set(findings.claim_blocks(text, "paper")) == {"paper-ecdf", "paper-kde", "paper-window-ecdf"}
    assert 'found.coverage(f"paper-{e}"' in text and 'found.coverage("paper-window-ecdf"' in text


@pytest.mark.slow
def test_the_chapter_runs_at_smoke_and_records_its_claims(root, tmp_path):
    from recursive_lib.book.findings import read_findings

    subprocess.run(
        [
            sys.executable,
            "-m",
            "recursive_lib.book.cli",
            "run",
            "paper",
            "--preset",
            "smoke",
            "--out",
            str(tmp_path),
        ],
        cwd=root,
        check=True,
        capture_output=True,
    )
    record = read_findings(tmp_path / "paper.ipynb")
    assert record["preset"] == "smoke"
    assert [c["name"] for c in record["claims"]] == ["paper-ecdf", "paper-kde", "paper-window-ecdf"]
