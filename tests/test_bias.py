"""Biased real data (BCRT): schedule, streams, seeding, the correction, both engines, the theory."""

import numpy as np
import pandas as pd
import pytest
from scipy.integrate import quad

from recursive_lib import rates, theory
from recursive_lib.book import params
from recursive_lib.data import PAPER_TRUTH, Mixture1D
from recursive_lib.data.contamination import BiasSchedule, Contaminated, importance_weights
from recursive_lib.experiments import bias
from recursive_lib.loops.fast import _EcdfCells, _KdeBins, _RealBatches, pick_weighted
from recursive_lib.simulation import Config, simulate

Q = Mixture1D([1.0], [3.0], [1.0])


def test_schedule_values():
    s = BiasSchedule(rate=0.5, scale=0.2, offset=5, mean=3, sd=1)
    np.testing.assert_allclose(s.b([1, 4, 95]), 0.2 * np.array([6, 9, 100]) ** -0.5)
    constant = BiasSchedule(rate=0.0, scale=0.1)
    np.testing.assert_allclose(constant.b(np.arange(1, 50)), 0.1)
    early = BiasSchedule(rate=0.0, scale=0.1, until=3)
    np.testing.assert_allclose(early.b([1, 3, 4, 100]), [0.1, 0.1, 0.0, 0.0])
    assert BiasSchedule(**s.as_dict()) == s


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(bias=dict(scale=1.0)), r"bias.scale must be in \(0, 1\)"),
        (dict(bias=dict(scale=0.0)), r"bias.scale must be in \(0, 1\)"),
        (dict(bias=dict(scale=0.1, rate=-1)), r"bias.rate must be in \[0, inf\]"),
        (dict(bias=dict(scale=0.1, sd=0)), r"bias.sd must be in \(0, inf\]"),
        (dict(bias=dict(scale=0.1, offset=-1)), r"bias.offset must be in \(-1, inf\]"),
        (dict(bias=dict(scale=0.1, until=0)), "bias.until must be an integer >= 1"),
        (dict(bias=dict(scale=0.9, rate=1.0, offset=-0.99)), "b_1 is a probability"),
        (dict(bias=dict(scale=0.1, q=0.5)), r"bias has unknown fields \['q'\]"),
        (dict(bias=0.1), "bias must be None, a BiasSchedule or a dict"),
        (dict(bias=dict(scale=0.1), bias_correction="yes"), "bias_correction must be True or False"),
        (dict(bias_rate=0.5), "unknown configuration field 'bias_rate'"),
    ],
)
def test_invalid_bias_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        simulate(estimator="ecdf", T=2, reps=1, grid_size=20, **kwargs)


@pytest.mark.parametrize("engine", ["fast", "reference"])
@pytest.mark.parametrize("estimator", ["ecdf", "kde"])
def test_unbiased_configurations_are_unchanged(estimator, engine):
    """No bias: bias_correction changes nothing (no weights to apply), same columns, same stream."""
    kw = dict(estimator=estimator, alpha=0.5, m1=10, T=5, reps=2, seed=3, grid_size=40, engine=engine)
    plain = simulate(**kw)
    other = simulate(bias=None, bias_correction=True, **kw)
    pd.testing.assert_frame_equal(plain, other)
    assert "b_n" not in plain.columns and "bias_rate" not in plain.columns


def test_biased_runs_carry_their_configuration():
    df = simulate(
        estimator="ecdf",
        alpha=0.5,
        m1=10,
        T=4,
        reps=2,
        grid_size=40,
        bias=BiasSchedule(scale=0.2, rate=0.5, offset=5),
    )
    np.testing.assert_allclose(df[df.rep == 0].b_n, 0.2 * (np.arange(1, 5) + 5.0) ** -0.5)
    assert (df.bias_rate == 0.5).all() and (~df.bias_correction).all()


class _Recorded(Mixture1D):
    """The paper's truth, recording every batch drawn from it (same repr: same seeding key)."""

    def __init__(self):
        super().__init__(PAPER_TRUTH.weights, PAPER_TRUTH.means, PAPER_TRUTH.sds)
        self.draws = []

    def sample(self, n, rng):
        out = super().sample(n, rng)
        self.draws.append(out)
        return out


@pytest.mark.parametrize("estimator", ["ecdf", "kde"])
def test_a_corrected_run_sees_the_real_data_of_its_uncorrected_twin(estimator):
    """Checked directly: the same seeding key, and the same real points drawn from P and Q."""
    bias = dict(scale=0.3, rate=0.25, mean=3.0)
    kw = dict(
        estimator=estimator,
        alpha=0.5,
        m1=15,
        T=6,
        reps=2,
        seed=4,
        grid_size=60,
        engine="reference",
        bias=bias,
    )
    truths = {}
    for corrected in (False, True):
        truth = truths[corrected] = _Recorded()
        config = Config(truth=truth, bias_correction=corrected, **kw)
        assert config.key() == Config(truth=PAPER_TRUTH, bias_correction=not corrected, **kw).key()
        simulate(config)
    assert len(truths[False].draws) == len(truths[True].draws) > 0
    for a, b in zip(truths[False].draws, truths[True].draws, strict=True):
        np.testing.assert_array_equal(a, b)
    # the weights change what is fitted, not what is drawn
    plain = simulate(Config(bias_correction=False, **kw))
    fixed = simulate(Config(bias_correction=True, **kw))
    assert not np.allclose(plain["mean"], fixed["mean"])


def test_contaminated_stream_and_weights():
    rng = np.random.default_rng(0)
    stream = Contaminated(PAPER_TRUTH, Q, 0.2)
    x = stream.sample(200_000, rng)
    assert abs(x.mean() - stream.mean) < 4 * np.sqrt(stream.var / x.size)
    # E_{P_n}[w] = 1 and E_{P_n}[w f] = E_P[f]
    w = importance_weights(x, PAPER_TRUTH, Q, 0.2)
    assert abs(w.mean() - 1) < 4 * w.std() / np.sqrt(x.size)
    assert abs((w * x).mean() - PAPER_TRUTH.mean) < 4 * (w * x).std() / np.sqrt(x.size)
    exact = quad(lambda t: importance_weights(t, PAPER_TRUTH, Q, 0.2) * stream.pdf(t), -20, 20, limit=200)[0]
    assert exact == pytest.approx(1.0, abs=1e-8)


@pytest.mark.parametrize("model_kind", ["ecdf", "kde"])
def test_fast_real_batches_under_bias(model_kind):
    """Counts are Multinomial(m1, P_n cells); corrected masses have expectation m1 P(cells)."""
    grid = PAPER_TRUTH.grid(40)
    model = (
        _EcdfCells(PAPER_TRUTH, grid, 0.5)
        if model_kind == "ecdf"
        else _KdeBins(PAPER_TRUTH, grid, 0.5, h_max=0.5, h_min=0.5)
    )
    schedule = BiasSchedule(rate=0.0, scale=0.3, mean=3.0)
    k = 400_000
    u = np.random.default_rng(5).random((1, k))

    def batch(correction):  # the batch added to an empty pool
        pool = np.zeros((1, model.probs(PAPER_TRUTH).size))
        _RealBatches(model, PAPER_TRUTH, schedule, correction).add(pool, 1, u)
        return pool[0]

    counts = batch(False)
    probs = 0.7 * model.probs(PAPER_TRUTH) + 0.3 * model.probs(Q)
    assert np.all(np.abs(counts - k * probs) <= 5 * np.sqrt(k * probs) + 1e-9)
    mass = batch(True)
    p_probs = model.probs(PAPER_TRUTH)
    weight = np.where(probs > 0, p_probs / np.where(probs > 0, probs, 1), 0)
    assert np.all(np.abs(mass - k * p_probs) <= 5 * weight * np.sqrt(k * probs) + 1e-9)


def test_pick_weighted_follows_the_masses():
    pool = np.array([[0.0, 2.5, 0.5, 1.0], [1.0, 0.0, 0.0, 3.0]])
    k = 400_000
    cells = pick_weighted(pool, np.random.default_rng(1).random((2, k)))
    for row in range(2):
        freq = np.bincount(cells[row], minlength=4) / k
        target = pool[row] / pool[row].sum()
        assert np.all(np.abs(freq - target) <= 5 * np.sqrt(target * (1 - target) / k) + 1e-12)


def _last_mean(engine, correction, reps, T=15):
    df = simulate(
        estimator="ecdf",
        alpha=0.5,
        m1=40,
        T=T,
        reps=reps,
        seed=4,
        grid_size=200,
        engine=engine,
        bias=dict(rate=0.0, scale=0.2, mean=3.0),
        bias_correction=correction,
    )
    last = df[df.n == T]["mean"]
    return last.mean(), last.std(ddof=1) / np.sqrt(reps)


@pytest.mark.slow
@pytest.mark.parametrize("engine, reps", [("fast", 400), ("reference", 150)])
def test_constant_bias_shifts_the_mean_and_the_correction_removes_it(engine, reps):
    """E[mean of fit] = (1 - b0) mu_P + b0 mu_Q without weights, mu_P with them (4 standard errors).

    The weighted fit is a ratio (normalised by the total weight), unbiased up to O(1 / M_n), far
    below the tolerance here.
    """
    biased, se = _last_mean(engine, False, reps)
    target = 0.8 * PAPER_TRUTH.mean + 0.2 * 3.0
    assert abs(biased - target) < 4 * se + 0.01  # 0.01: the fast engine's cell-mean approximation
    fixed, se = _last_mean(engine, True, reps)
    assert abs(fixed - PAPER_TRUTH.mean) < 4 * se + 0.01
    assert abs(biased - fixed) > 10 * se


@pytest.mark.slow
def test_bias_share_matches_the_ecdf_mean():
    """theory.bias_share: E[mean of ECDF fit] = (1 - beta_n) mu_P + beta_n mu_Q, exactly."""
    T, reps = 25, 300
    schedule = BiasSchedule(rate=0.0, scale=0.3, mean=3.0, until=5)
    df = simulate(
        estimator="ecdf",
        alpha=0.25,
        m1=20,
        T=T,
        reps=reps,
        seed=2,
        grid_size=100,
        engine="reference",
        bias=schedule,
    )
    beta = theory.bias_share(20, 60, schedule.b(np.arange(1, T + 1)))
    g = df.groupby("n")["mean"]
    expected = (1 - beta) * PAPER_TRUTH.mean + beta * 3.0
    for n in (1, 5, 10, 25):
        assert abs(g.mean()[n] - expected[n - 1]) < 4 * g.std()[n] / np.sqrt(reps)
    # after the bias stops the share decays like n^-alpha
    long = theory.bias_share(20, 60, schedule.b(np.arange(1, 100_001)))
    tail = np.log(long[[9_999, 99_999]])
    assert -(tail[1] - tail[0]) / np.log(10) == pytest.approx(0.25, abs=0.01)


def test_bias_floor_is_the_mixture_plateau():
    grid = np.linspace(-30, 30, 20_001)
    floor = theory.bias_floor(PAPER_TRUTH, Q, grid, 0.2)
    exact = 0.2 * quad(lambda t: abs(Q.cdf(t) - PAPER_TRUTH.cdf(t)), -30, 30, limit=400)[0]
    assert floor == pytest.approx(exact, rel=1e-6)


def test_constant_bias_plateau_is_reached():
    """With q = 0 the mean W1 settles above the plateau b0 W1(Q, P) and close to it."""
    design = bias.PAPER_DESIGNS["ecdf"]
    schedule = BiasSchedule(rate=0.0, **design["bias"])
    df = simulate(
        estimator="ecdf",
        alpha=1.0,
        m1=200,
        T=300,
        reps=20,
        seed=1,
        grid_size=design["grid_size"],
        bias=schedule,
    )
    plateau = theory.floor_curve(schedule, 1.0, 200, 300, grid_size=design["grid_size"]).value.iloc[-1]
    last = df[df.n == 300].w1
    final, se = last.mean(), last.std(ddof=1) / np.sqrt(len(last))
    # E W1 >= plateau (Jensen), but only to second order: far from the crossings of F_Q and F the
    # fluctuations of W1 around the plateau are mean-zero, so the sample mean may dip below it.
    assert plateau - 4 * se < final < plateau * 1.15


@pytest.mark.slow
@pytest.mark.parametrize(
    "estimator, correction, reps", [("ecdf", False, 200), ("ecdf", True, 200), ("kde", True, 40)]
)
@pytest.mark.slow
def test_engines_agree_under_bias(estimator, correction, reps):
    """Fast engine (cell-mean weights) vs reference loop (pointwise weights): mean W1, MMD, mean
    and var agree within 4 combined standard errors at several n (fast engine: 4x repetitions)."""
    kw = dict(
        estimator=estimator,
        alpha=0.5,
        m1=30,
        T=20,
        seed=9,
        grid_size=100,
        bias=dict(rate=0.25, scale=0.2, mean=3.0),
        bias_correction=correction,
    )
    if estimator == "kde":
        kw.update(h0=2.0, bandwidth_exponent=0.5)
    stats = ["w1", "mmd", "mean", "var"]
    fast = simulate(reps=4 * reps, engine="fast", **kw).groupby("n")[stats]
    ref = simulate(reps=reps, engine="reference", **kw).groupby("n")[stats]
    diff = (fast.mean() - ref.mean()).loc[[1, 5, 20]]
    tol = 4 * np.sqrt(fast.std() ** 2 / (4 * reps) + ref.std() ** 2 / reps).loc[[1, 5, 20]]
    assert (diff.abs() <= tol).all().all(), f"\n{diff.abs()}\n{tol}"


@pytest.mark.slow
@pytest.mark.parametrize("estimator", ["ecdf", "kde"])
def test_correction_restores_the_unbiased_rate(estimator):
    """alpha = 0.75, q = 0.25 on the authors' designs: uncorrected slope near q, corrected near
    min(p, alpha) = 0.5, for the ECDF and for the KDE (h_n = 2 n^(-1/2)).

    Tolerance: the mean slope must lie within 4 standard errors (over repetitions) plus a finite-
    horizon allowance of 0.05 of its prediction, and the two must differ by more than 0.1.
    """
    configs = bias.bias_configs(
        [estimator], [0.75], [0.25], 0.5, 50, 800, 60, 0, bias.PAPER_DESIGNS, correction=(False, True)
    )
    frames = [simulate(**c) for c in configs]
    slopes = rates.rep_slopes(
        pd.concat(frames, ignore_index=True),
        burn_in=100,
        by=["estimator", "alpha", "bias_rate", "bias_correction"],
        metrics=("w1",),
    )
    table = bias.summarize_bias_slopes(slopes, n_boot=200).set_index("bias_correction")
    for corrected in (False, True):
        row = table.loc[corrected]
        assert abs(row.slope - row.predicted) < 4 * row.se + 0.05, table
    assert table.loc[True, "slope"] - table.loc[False, "slope"] > 0.1


def test_paper_preset_matches_the_authors_scripts(root):
    paper = params.for_chapter(root / "chapters" / "bias.md", "paper")
    assert (paper.T, paper.reps, paper.burn_in, paper.m1, paper.p) == (3000, 100, 200, 50, 0.5)
    assert paper.alphas == paper.qs == (0.25, 0.5, 0.75)
    assert paper.designs["kde"] == dict(
        bias=dict(scale=0.2, mean=3.0, sd=1.0, offset=5.0), grid_size=500, h0=2.0
    )
    assert paper.designs["ecdf"] == dict(bias=dict(scale=0.1, mean=2.0, sd=1.0, offset=5.0), grid_size=200)
    configs = bias.bias_configs(
        paper.estimators,
        paper.alphas,
        paper.qs,
        paper.p,
        paper.m1,
        paper.T,
        paper.reps,
        paper.seed,
        paper.designs,
    )
    assert len(configs) == 18
    kde = [c for c in configs if c["estimator"] == "kde"][0]
    assert kde["bandwidth_exponent"] == 0.5 and kde["h0"] == 2.0  # h_n = 2 n^(-p)
    with pytest.raises(ValueError, match="designs"):
        params.for_chapter(root / "chapters" / "bias.md", "smoke", designs={"ecdf": {"bias": {"scale": 1.5}}})
