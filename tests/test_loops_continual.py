"""The fresh-regime driver for continually trained models: batches, real stream, checkpoints."""

import numpy as np
import pytest

from recursive_lib._torch import torch_generator
from recursive_lib.loops.continual import RealStream, run_fresh


class RunningGaussian:
    """A model that keeps learning: running mean and variance of every item it has trained on."""

    def __init__(self):
        self.n, self.mean, self.m2 = 0, 0.0, 0.0
        self.batches = []

    def partial_fit(self, batch, rng):
        self.batches.append(batch.copy())
        for x in batch[:, 0]:
            self.n += 1
            delta = x - self.mean
            self.mean += delta / self.n
            self.m2 += delta * (x - self.mean)
        return float(np.mean((batch[:, 0] - self.mean) ** 2))

    def sample(self, n, rng):
        # always negative, so that tests can tell synthetic items from the (nonnegative) real ones
        return -np.abs(rng.normal(self.mean, np.sqrt(self.m2 / max(self.n - 1, 1)), size=(n, 1))) - 1


POOL = np.arange(40.0).reshape(-1, 1)


def evaluate(model, rng):
    return {"mean": model.mean, "draw": float(rng.random())}


def test_batches_follow_the_fresh_regime():
    model = RunningGaussian()
    run = run_fresh(model, POOL, alpha=0.25, m_total=8, T=5, seed=1, evaluate=evaluate, snapshot_at=(1, 3))
    first, *later = model.batches
    assert (first >= 0).all() and len(first) == 8
    for batch in later:
        assert (batch[:2] >= 0).all() and (batch[2:] < 0).all()
    assert run.metrics["n_real"].tolist() == [8, 2, 2, 2, 2]
    assert run.metrics["n_synthetic"].tolist() == [0, 6, 6, 6, 6]
    batch, is_real = run.snapshots[3]
    assert is_real.tolist() == [True] * 2 + [False] * 6 and (batch[is_real] >= 0).all()
    assert run.model is model


def test_alpha_zero_is_all_synthetic_after_the_first_batch():
    model = RunningGaussian()
    run_fresh(model, POOL, alpha=0.0, m_total=5, T=3, seed=0)
    assert (model.batches[0] >= 0).all() and all((b < 0).all() for b in model.batches[1:])


def test_real_items_do_not_repeat_before_the_pool_is_used_up():
    rng = np.random.default_rng(0)
    stream = RealStream(POOL, rng)
    taken = np.concatenate([stream.take(7, rng) for _ in range(5)])[:, 0]  # 35 of 40
    assert len(set(taken)) == 35
    more = np.concatenate([stream.take(7, rng) for _ in range(40)])[:, 0]
    # every batch of 7 holds 7 distinct items, also across a reshuffle
    assert all(len(set(more[i : i + 7])) == 7 for i in range(0, len(more), 7))
    counts = np.bincount(np.concatenate([taken, more]).astype(int), minlength=40)
    assert counts.max() - counts.min() <= 1


def test_one_seed_determines_the_run_and_evaluation_does_not_change_training():
    a = run_fresh(RunningGaussian(), POOL, 0.5, 6, 6, seed=3, evaluate=evaluate).metrics
    b = run_fresh(RunningGaussian(), POOL, 0.5, 6, 6, seed=3, evaluate=evaluate).metrics
    c = run_fresh(RunningGaussian(), POOL, 0.5, 6, 6, seed=3).metrics
    d = run_fresh(RunningGaussian(), POOL, 0.5, 6, 6, seed=4).metrics
    assert a.equals(b)
    assert np.array_equal(a["loss"], c["loss"])
    assert not np.array_equal(a["loss"], d["loss"])
    assert a["mean"].notna().all() and "mean" not in c


def test_interrupted_run_resumes_with_identical_results(tmp_path):
    path = tmp_path / "run.pkl"
    full = run_fresh(RunningGaussian(), POOL, 0.5, 6, 8, seed=2, evaluate=evaluate, snapshot_at=(2, 7))

    calls = []

    def failing(model, rng):
        calls.append(1)
        if len(calls) == 5:
            raise KeyboardInterrupt
        return evaluate(model, rng)

    with pytest.raises(KeyboardInterrupt):
        run_fresh(
            RunningGaussian(), POOL, 0.5, 6, 8, seed=2, evaluate=failing, snapshot_at=(2, 7), checkpoint=path
        )
    assert path.exists()
    resumed = run_fresh(
        RunningGaussian(), POOL, 0.5, 6, 8, seed=2, evaluate=evaluate, snapshot_at=(2, 7), checkpoint=path
    )
    assert resumed.metrics.equals(full.metrics)
    assert all(np.array_equal(resumed.snapshots[k][0], full.snapshots[k][0]) for k in (2, 7))
    with pytest.raises(ValueError, match="checkpoint"):
        run_fresh(RunningGaussian(), POOL, 0.75, 6, 8, seed=2, checkpoint=path)


def test_evaluation_cadence():
    run = run_fresh(RunningGaussian(), POOL, 1.0, 4, 7, seed=0, evaluate=evaluate, eval_every=3)
    assert run.metrics["mean"].notna().tolist() == [True, False, True, False, False, True, True]


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(alpha=1.5), "alpha"),
        (dict(m_total=0), "m_total"),
        (dict(m_total=41), "m_total"),
        (dict(T=0), "T"),
        (dict(eval_every=0), "eval_every"),
        (dict(snapshot_at=(9,)), "snapshot_at"),
        (dict(seed=-1), "seed"),
    ],
)
def test_bad_arguments_name_the_parameter(kwargs, name):
    args = dict(alpha=0.5, m_total=4, T=3, seed=0) | kwargs
    with pytest.raises(ValueError, match=name):
        run_fresh(RunningGaussian(), POOL, **args)


def test_torch_generator_is_seeded_from_the_numpy_stream():
    torch = pytest.importorskip("torch")
    a = torch.randn(3, generator=torch_generator(np.random.default_rng(5)))
    b = torch.randn(3, generator=torch_generator(np.random.default_rng(5)))
    c = torch.randn(3, generator=torch_generator(np.random.default_rng(6)))
    assert torch.equal(a, b) and not torch.equal(a, c)
