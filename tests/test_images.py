"""Images: the digit loader (digits and the MNIST path through a fixture), the Frechet distance,
the DDPM (learns, reproducible, checked parameters), one fresh-regime run and the sample grid."""

import numpy as np
import pandas as pd
import pytest
from sklearn.utils import Bunch

from recursive_lib import plots
from recursive_lib.book import params
from recursive_lib.continual.diffusion import DDPM, cosine_schedule
from recursive_lib.data.digits import load_images
from recursive_lib.experiments import images
from recursive_lib.metrics import frechet_distance

# --- data -------------------------------------------------------------------------------------


def test_digits_pool_and_balanced_held_out_set():
    data = load_images("digits", n_test=200, seed=3)
    assert data.train.shape == (1797 - 200, 8, 8) and data.test.shape == (200, 8, 8)
    assert data.train.dtype == np.float32
    for a in (data.train, data.test):
        assert a.min() == -1.0 and a.max() == 1.0
    assert np.all(np.bincount(data.test_labels, minlength=10) == 20)
    # disjoint: no held-out image is in the pool (digits has a few exact duplicates, so compare sets of rows)
    pool = {row.tobytes() for row in data.train.reshape(len(data.train), -1)}
    assert sum(row.tobytes() in pool for row in data.test.reshape(200, -1)) <= 2
    assert not data.train.flags.writeable


def test_downsampled_digits_are_averages():
    full = load_images("digits", n_test=100, seed=0)
    small = load_images("digits", n_test=100, side=4, seed=0)
    assert small.train.shape[1:] == (4, 4)
    np.testing.assert_allclose(small.train[:, 0, 0], full.train[:, :2, :2].mean(axis=(1, 2)), atol=1e-6)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        (dict(dataset="cifar"), "dataset"),
        (dict(n_test=55), "n_test"),
        (dict(n_test=5000), "n_test"),
        (dict(side=3), "side"),
        (dict(seed=-1), "seed"),
    ],
)
def test_loader_rejects_bad_parameters(kwargs, name):
    with pytest.raises(ValueError, match=name):
        load_images(**kwargs)


def _fake_mnist(rows_per_digit=14):
    """An openml-shaped stand-in for mnist_784: 784 pixel columns in 0..255, string targets,
    training rows first and the last seventh as the test rows."""
    rng = np.random.default_rng(0)
    labels = np.tile(np.arange(10), rows_per_digit)
    data = rng.integers(0, 256, (len(labels), 784)).astype(float)
    data[:, 0] = 255.0 * labels / 9  # a pixel that records the label, to check the split
    return Bunch(data=data, target=labels.astype(str), feature_names=[f"pixel{i + 1}" for i in range(784)])


def test_mnist_path_reads_fetch_openml_without_network(monkeypatch, tmp_path):
    calls = []

    def fake_fetch(name, **kwargs):
        calls.append((name, kwargs))
        return _fake_mnist()

    monkeypatch.setattr("sklearn.datasets.fetch_openml", fake_fetch)
    data = load_images("mnist", n_test=10, side=14, seed=0, data_home=str(tmp_path))
    assert calls[0][0] == "mnist_784" and calls[0][1]["data_home"] == str(tmp_path)
    assert data.name == "mnist" and data.side == 14
    assert data.train.shape == (120, 14, 14) and data.test.shape == (10, 14, 14)
    assert data.train.min() >= -1 and data.train.max() <= 1
    assert sorted(data.test_labels) == list(range(10))
    full = load_images("mnist", n_test=20, seed=0, data_home=str(tmp_path))
    # the label pixel survives scaling: -1 + 2 label / 9, and the held-out rows come from the last 20
    np.testing.assert_allclose(full.test[:, 0, 0], -1 + 2 * full.test_labels / 9, atol=1e-6)
    assert full.train.shape == (120, 28, 28)


# --- Frechet distance -------------------------------------------------------------------------


def test_frechet_distance_closed_forms():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4000, 5))
    assert frechet_distance(x, x) == pytest.approx(0.0, abs=1e-9)
    shift = np.array([1.0, -2.0, 0.5, 0.0, 3.0])
    assert frechet_distance(x, x + shift) == pytest.approx(shift @ shift, rel=1e-9)
    # scaling: N(m, C) vs N(s m, s^2 C) is (1 - s)^2 (|m|^2 + tr C), exactly, with the sample m and C
    s = 3.0
    m, trace = x.mean(0), np.trace(np.cov(x, rowvar=False))
    assert frechet_distance(x, s * x) == pytest.approx((1 - s) ** 2 * (m @ m + trace), rel=1e-9)
    # and for independent samples it estimates the population value d (1 - s)^2 = 20
    y = s * rng.normal(size=(4000, 5))
    assert frechet_distance(x, y) == pytest.approx(5 * (1 - s) ** 2, rel=0.05)


def test_frechet_distance_of_singular_covariances_and_images():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(20, 3, 3))  # fewer samples than it takes for a full-rank covariance in 9-D
    value = frechet_distance(x, x[::-1] + 0.0)
    assert np.isfinite(value) and abs(value) < 1e-8
    # two different sets whose covariances are singular in 9-D (both live in one 2-D plane):
    # the distance equals the full-rank Frechet distance of their coordinates in that plane,
    # computed independently with scipy's matrix square root
    from scipy.linalg import sqrtm

    basis = np.linalg.qr(rng.normal(size=(9, 2)))[0]  # orthonormal (9, 2)
    a = rng.normal(size=(500, 2)) @ np.diag([1.0, 0.3])
    b = rng.normal(size=(400, 2)) @ np.array([[2.0, 0.5], [0.0, 0.7]]) + [0.4, -1.0]
    in_plane = frechet_distance(a, b)
    ca, cb = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = sqrtm(ca)
    direct = (a.mean(0) - b.mean(0)) @ (a.mean(0) - b.mean(0)) + np.trace(
        ca + cb - 2 * np.real(sqrtm(root @ cb @ root))
    )
    assert in_plane == pytest.approx(direct, rel=1e-8)
    assert frechet_distance(
        (a @ basis.T).reshape(-1, 3, 3), (b @ basis.T).reshape(-1, 3, 3)
    ) == pytest.approx(direct, rel=1e-7)
    with pytest.raises(ValueError, match="features"):
        frechet_distance(rng.normal(size=(10, 3)), rng.normal(size=(10, 4)))
    with pytest.raises(ValueError, match="x must hold at least 2"):
        frechet_distance(rng.normal(size=(1, 3)), rng.normal(size=(10, 3)))


# --- the DDPM -------------------------------------------------------------------------------


def test_cosine_schedule():
    betas = cosine_schedule(400)
    abar = np.cumprod(1 - betas)
    assert betas.shape == (400,) and np.all(np.diff(abar) < 0)
    assert abar[0] > 0.999 and abar[-1] < 1e-4


def _two_blobs(n, rng):
    """A simple distribution of 4x4 images: two prototypes plus small noise."""
    protos = np.stack([np.where(np.arange(16) % 2, 0.8, -0.8), np.linspace(-0.8, 0.8, 16)])
    return (
        (protos[rng.integers(0, 2, n)] + 0.05 * rng.normal(size=(n, 16))).reshape(n, 4, 4).astype(np.float32)
    )


def test_ddpm_learns_shapes_and_reproducibility():
    rng = np.random.default_rng(0)
    data, held_out = _two_blobs(400, rng), _two_blobs(400, rng)
    model = DDPM(diffusion_steps=50, width=64, depth=2, epochs=1, batch_size=100, lr=2e-3)
    model.partial_fit(data, np.random.default_rng(1))  # one epoch: nearly untrained
    before = frechet_distance(model.sample(400, np.random.default_rng(2)), held_out)
    for _ in range(4):
        model.epochs = 15
        loss = model.partial_fit(data, np.random.default_rng(3))
    samples = model.sample(400, np.random.default_rng(2))
    after = frechet_distance(samples, held_out)
    floor = frechet_distance(_two_blobs(400, rng), held_out)
    assert samples.shape == (400, 4, 4) and samples.min() >= -1 and samples.max() <= 1
    assert np.isfinite(loss) and model.n_updates_ == 4 + 4 * 60
    assert after < before / 4, (before, after, floor)

    twins = [DDPM(diffusion_steps=20, width=16, depth=1, epochs=2) for _ in range(2)]
    out = []
    for m in twins:
        loss = m.partial_fit(data[:50], np.random.default_rng(7))
        out.append((loss, m.sample(5, np.random.default_rng(8))))
    assert out[0][0] == out[1][0]
    np.testing.assert_array_equal(out[0][1], out[1][1])
    assert model.sample(0, rng).shape == (0, 4, 4)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        (dict(diffusion_steps=1), "diffusion_steps"),
        (dict(width=0), "width"),
        (dict(epochs=0), "epochs"),
        (dict(batch_size=0), "batch_size"),
        (dict(lr=0.0), "lr"),
        (dict(lr=2.0), "lr"),
        (dict(depth=-1), "depth"),
    ],
)
def test_ddpm_rejects_bad_parameters(kwargs, name):
    with pytest.raises(ValueError, match=name):
        DDPM(**kwargs)


def test_ddpm_rejects_bad_use():
    model = DDPM(diffusion_steps=5, width=8, depth=1, epochs=1)
    with pytest.raises(ValueError, match="trained"):
        model.sample(3, np.random.default_rng(0))
    model.partial_fit(np.zeros((4, 2, 2), np.float32), np.random.default_rng(0))
    with pytest.raises(ValueError, match="shape"):
        model.partial_fit(np.zeros((4, 3, 3), np.float32), np.random.default_rng(0))
    with pytest.raises(ValueError, match="n must be"):
        model.sample(-1, np.random.default_rng(0))


# --- one run, the reference values, the grid -------------------------------------------------

SMALL = dict(
    T=3,
    m_total=60,
    epochs=1,
    batch_size=30,
    diffusion_steps=10,
    width=16,
    depth=1,
    n_eval=100,
    n_test=100,
    snapshot_at=[2],
)


def test_run_images_frame_resume_and_reference(tmp_path):
    first = images.run_images(alpha=0.5, rep=0, checkpoint_dir=str(tmp_path), **SMALL)
    assert list(first["iteration"]) == [1, 2, 3] and list(first["M"]) == [60, 120, 180]
    assert list(first["n_real"]) == [60, 30, 30]
    assert first[["fd", "label_entropy", "confidence"]].notna().all().all()
    assert (first["label_entropy"] <= np.log(10) + 1e-12).all()
    batch, is_real = images.decode_snapshot(first["snapshot"].iloc[1])
    assert batch.shape == (60, 8, 8) and is_real.sum() == 30
    assert not list(tmp_path.glob("*.ckpt"))  # a completed run leaves no checkpoint behind
    again = images.run_images(alpha=0.5, rep=0, checkpoint_dir=str(tmp_path), **SMALL)
    fresh = images.run_images(alpha=0.5, rep=0, **SMALL)
    cols = ["loss", "fd", "label_entropy"]
    pd.testing.assert_frame_equal(again[cols], first[cols])
    pd.testing.assert_frame_equal(fresh[cols], first[cols])
    other = images.run_images(alpha=0.5, rep=1, **SMALL)
    assert not np.allclose(other["fd"], first["fd"])

    metrics, pixels = images.split_snapshots(first, per_grid=10)
    assert "snapshot" not in metrics and len(pixels) == 10 * 64
    assert set(pixels["source"]) <= {"real", "synthetic"}
    chart = plots.sample_grid(pixels)
    assert chart.to_dict()["facet"]["row"]["field"] == "alpha"

    ref = images.real_reference(n_test=100, n_eval=100, reps=3)
    assert len(ref) == 3 and (ref["fd"] > 0).all()
    # the classifier recognises real held-out digits, so real samples are diverse and confident
    assert (ref["label_entropy"] > 2.2).all() and (ref["confidence"] > 0.7).all()


def test_interrupted_run_resumes_to_the_same_numbers(tmp_path, monkeypatch):
    original = DDPM.partial_fit
    calls = []

    def crash_on_third(self, batch, rng):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return original(self, batch, rng)

    monkeypatch.setattr(DDPM, "partial_fit", crash_on_third)
    with pytest.raises(KeyboardInterrupt):
        images.run_images(alpha=0.25, rep=2, checkpoint_dir=str(tmp_path), **SMALL)
    monkeypatch.setattr(DDPM, "partial_fit", original)
    resumed = images.run_images(alpha=0.25, rep=2, checkpoint_dir=str(tmp_path), **SMALL)
    straight = images.run_images(alpha=0.25, rep=2, **SMALL)
    cols = ["loss", "fd", "label_entropy", "confidence"]
    pd.testing.assert_frame_equal(resumed[cols], straight[cols])


def test_images_presets_allow_alpha_zero_and_check_the_new_knobs(root):
    chapter = root / "chapters" / "images.md"
    cfg = params.for_chapter(chapter, "smoke", fresh_alphas=[0, 0.5, 1])
    assert cfg.fresh_alphas == (0.0, 0.5, 1.0)
    paper = params.for_chapter(chapter, "paper")
    assert (
        paper.dataset,
        paper.m_total,
        paper.T,
        paper.epochs,
        paper.lr,
        paper.batch_size,
        paper.diffusion_steps,
        paper.n_test,
    ) == ("mnist", 300, 200, 100, 2e-4, 100, 400, 2000)
    for knob, value in [
        ("fresh_alphas", [0.5, 1.5]),
        ("dataset", "cifar"),
        ("lr", 0.0),
        ("diffusion_steps", 1),
        ("ema", 1.0),
        ("n_test", 5),
        ("side", 0),
    ]:
        with pytest.raises(ValueError, match=knob):
            params.for_chapter(chapter, "smoke", **{knob: value})


def test_image_runs_are_cached_as_parquet_and_keyed_by_the_image_set(tmp_path, monkeypatch):
    from recursive_lib import sweep

    configs = [dict(SMALL, alpha=0.5, rep=0)]
    first = sweep.run_sweep(configs, run=images.run_images, cache_dir=tmp_path)
    [path] = tmp_path.glob("*.parquet")
    meta = sweep.read_meta(path)
    assert meta["inputs"] == load_images("digits", SMALL["n_test"]).fingerprint
    again = sweep.run_sweep(configs, run=images.run_images, cache_dir=tmp_path)
    pd.testing.assert_frame_equal(again, first)
    batch, is_real = images.decode_snapshot(again["snapshot"].dropna().iloc[0])
    assert batch.shape == (60, 8, 8) and is_real.dtype == bool
    # another image set (here: a changed fingerprint) is another key: not served from the cache
    monkeypatch.setattr(images.run_images, "fingerprint", lambda **c: "other images")
    assert sweep.cache_path(tmp_path, images.run_images, configs[0]) != path


def test_slopes_by_alpha_recovers_a_known_power_law_and_reports_missing_alphas():
    rows = [
        dict(alpha=a, rep=r, n=n, fd=(2.0 if a else 3.0) * n ** -(0.5 if a else 0.1) * (1 + 0.01 * r))
        for a in (0.0, 1.0)
        for r in range(3)
        for n in range(1, 11)
    ]
    metrics = pd.DataFrame(rows)
    metrics.loc[metrics["n"] % 2 == 0, "fd"] = np.nan  # iterations without an evaluation
    slopes = images.slopes_by_alpha(metrics, "fd", burn_in=2).set_index("alpha")
    assert slopes.loc[0.0, "slope"] == pytest.approx(0.1) and slopes.loc[1.0, "slope"] == pytest.approx(0.5)
    assert (slopes["reps"] == 3).all()
    picked = images.slopes_by_alpha(metrics, "fd", alphas=[0.5, 0.0])
    assert list(picked["alpha"]) == [0.5, 0.0] and picked["slope"].isna().tolist() == [True, False]
