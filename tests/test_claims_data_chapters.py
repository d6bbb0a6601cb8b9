"""What the data chapters (images, text, multivariate) need from the library to state their claims:
exact counts of the distinct real items a fresh-regime run saw, and the sample metric's noise floor."""

import numpy as np
import pytest

from recursive_lib import metrics
from recursive_lib.loops.continual import RealStream, run_fresh

POOL = np.arange(40.0).reshape(-1, 1)  # item i has value i, so values identify items


class Mean:
    """A model that keeps every batch it trains on and samples negative numbers (never real)."""

    def __init__(self):
        self.batches = []

    def partial_fit(self, batch, rng):
        self.batches.append(batch.copy())
        return 0.0

    def sample(self, n, rng):
        return -1.0 - rng.random((n, 1))


def test_distinct_is_counted_from_the_items_handed_out_also_after_the_pool_wraps_around():
    rng = np.random.default_rng(0)
    stream = RealStream(POOL, rng)
    seen = set()
    for step, k in enumerate([7, 7, 7, 7, 7, 7, 13, 40, 3, 39]):
        taken = stream.take(k, rng)[:, 0]
        seen.update(taken.tolist())
        assert stream.distinct == len(seen), step
    assert stream.taken == 7 * 6 + 13 + 40 + 3 + 39
    assert stream.distinct == len(POOL)
    # every pass hands out each item once: 137 items are four passes begun
    assert stream.passes == int(np.ceil(stream.taken / len(POOL))) == 4


def test_distinct_follows_the_permutation_before_the_first_wrap():
    rng = np.random.default_rng(1)
    stream = RealStream(POOL, rng)
    for total in range(5, 40, 5):
        stream.take(5, rng)
        assert (stream.taken, stream.distinct, stream.passes) == (total, total, 1)
    stream.take(5, rng)
    stream.take(5, rng)
    assert (stream.taken, stream.distinct, stream.passes) == (45, 40, 2)


def test_counting_does_not_change_a_single_draw():
    """The counts are bookkeeping: the items handed out are those of the plain permutation logic."""
    a, b = np.random.default_rng(5), np.random.default_rng(5)
    stream = RealStream(POOL, a)
    order, position, items = b.permutation(len(POOL)), 0, []
    for k in [9] * 12:
        picked = order[position : position + k]
        position += len(picked)
        if len(picked) < k:
            rest = np.setdiff1d(np.arange(len(POOL)), picked)
            order = np.concatenate([b.permutation(rest), picked[b.permutation(len(picked))]])
            position = k - len(picked)
            picked = np.concatenate([picked, order[:position]])
        items.append(POOL[picked])
        np.testing.assert_array_equal(stream.take(k, a), items[-1])
    assert a.bit_generator.state == b.bit_generator.state


def test_run_fresh_rows_count_real_items_exactly(tmp_path):
    model = Mean()
    run = run_fresh(model, POOL, alpha=0.5, m_total=12, T=8, seed=2)
    rows = run.metrics
    real = [batch[batch[:, 0] >= 0, 0] for batch in model.batches]
    cumulative = np.cumsum([len(r) for r in real])
    distinct = [len(set(np.concatenate(real[: i + 1]).tolist())) for i in range(len(real))]
    assert rows["real_taken"].tolist() == cumulative.tolist() == rows["n_real"].cumsum().tolist()
    assert rows["real_distinct"].tolist() == distinct
    assert rows["real_distinct"].tolist() == np.minimum(cumulative, len(POOL)).tolist()
    assert rows["real_distinct"].iloc[-1] == len(POOL) and rows["real_passes"].iloc[-1] == 2
    assert rows["real_passes"].tolist() == [1, 1, 1, 1, 1, 2, 2, 2]


def test_counts_survive_a_resume(tmp_path):
    path = tmp_path / "run.ckpt"
    first = run_fresh(Mean(), POOL, alpha=0.75, m_total=8, T=6, seed=4, checkpoint=path).metrics
    # a second call with the finished checkpoint resumes at its end: the same rows
    again = run_fresh(Mean(), POOL, alpha=0.75, m_total=8, T=6, seed=4, checkpoint=path).metrics
    cols = ["real_taken", "real_distinct", "real_passes"]
    assert again[cols].equals(first[cols])
    straight = run_fresh(Mean(), POOL, alpha=0.75, m_total=8, T=6, seed=4).metrics
    assert straight[cols].equals(first[cols])


def test_w1_method_names_the_metric_w1_points_computes():
    n = metrics.EXACT_W1_MAX
    assert metrics.w1_method(n, n) == "exact W1"
    assert metrics.w1_method(n + 1, 10) == "sliced W1"
    assert metrics.w1_method(10, n + 1) == "sliced W1"
    with pytest.raises(ValueError, match="n_x"):
        metrics.w1_method(0, 5)


def test_w1_noise_floor_is_the_distance_between_samples_of_one_distribution():
    rng = np.random.default_rng(0)

    def draw(n, generator):
        return generator.normal(size=(n, 2))

    small = metrics.w1_noise_floor(draw, 100, reps=4, rng=rng)
    large = metrics.w1_noise_floor(draw, 1000, reps=4, rng=rng)
    assert small.shape == (4,) and (small > 0).all()
    # the floor shrinks with the sample size (about n^(-1/2), up to a log in the plane)
    assert large.mean() < 0.6 * small.mean()
    again = metrics.w1_noise_floor(draw, 100, reps=4, rng=np.random.default_rng(0))
    np.testing.assert_array_equal(again, small)
