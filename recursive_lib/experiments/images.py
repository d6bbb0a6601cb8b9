"""The image experiment: a DDPM trained continually on handwritten digits, its metrics and pictures.

Metrics of a generated sample (:func:`image_metrics`): the Frechet distance in flattened pixel
space to the held-out set (:func:`recursive_lib.metrics.frechet_distance`, the paper's metric),
and two diversity measures from a digit classifier trained on the real pool
(:class:`DigitClassifier`): the entropy of the predicted label histogram (at most ``log 10``; a
model that only draws a few digit classes scores low) and the classifier's mean confidence.

One run (:func:`run_images`): a :class:`~recursive_lib.continual.diffusion.DDPM` trained in the
fresh regime by :func:`recursive_lib.loops.continual.run_fresh` on the data of
:mod:`recursive_lib.data.digits`, a module-level function returning a tidy frame so that
:func:`recursive_lib.sweep.run_sweep` can run many in parallel and cache them.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import pandas as pd

from recursive_lib._rng import seed_sequence
from recursive_lib._validation import check_int, check_range
from recursive_lib.data.digits import ImageData, load_images
from recursive_lib.experiments._checkpoint import checkpoint
from recursive_lib.experiments.config import RunConfig, as_config
from recursive_lib.loops.continual import run_fresh
from recursive_lib.metrics import frechet_distance
from recursive_lib.rates import fit_slopes, summarize_slopes

__all__ = [
    "DigitClassifier",
    "ImagesConfig",
    "decode_snapshot",
    "digit_classifier",
    "encode_snapshot",
    "image_metrics",
    "real_reference",
    "run_images",
    "slopes_by_alpha",
    "split_snapshots",
]


class DigitClassifier:
    """Multinomial logistic regression on flattened pixels, the judge of generated digits.

    ``fit(images, labels)`` returns ``self``; :meth:`diversity` scores a generated sample.
    """

    def __init__(self, C: float = 1.0, max_iter: int = 500):
        self.C = check_range("C", C, 0.0, np.inf, low_inclusive=False)
        self.max_iter = check_int("max_iter", max_iter, 1)

    def fit(self, images, labels) -> DigitClassifier:
        from sklearn.linear_model import LogisticRegression

        images = np.asarray(images, dtype=float)
        # Newton-CG: a few iterations on this small, well-conditioned problem, 10x faster than lbfgs.
        self.model_ = LogisticRegression(C=self.C, max_iter=self.max_iter, solver="newton-cg")
        self.model_.fit(images.reshape(len(images), -1), np.asarray(labels))
        return self

    def accuracy(self, images, labels) -> float:
        """Share of ``images`` classified as their ``labels``."""
        images = np.asarray(images, dtype=float)
        return float(self.model_.score(images.reshape(len(images), -1), np.asarray(labels)))

    def diversity(self, images) -> dict[str, float]:
        """``label_entropy``: entropy (nats) of the predicted label histogram, at most ``log 10``;
        ``confidence``: mean largest class probability (low for digit-like blurs)."""
        images = np.asarray(images, dtype=float)
        proba = self.model_.predict_proba(images.reshape(len(images), -1))
        counts = np.bincount(proba.argmax(1), minlength=proba.shape[1])
        share = counts[counts > 0] / len(images)
        return dict(
            label_entropy=float(-(share * np.log(share)).sum()), confidence=float(proba.max(1).mean())
        )


def _one_thread():
    """BLAS on one thread: these matrices are small, and on shared cores extra BLAS threads spin and
    make a small fit many times slower."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(1)


def digit_classifier(
    dataset: str = "digits", n_test: int = 500, side: int | None = None, data_seed: int = 0
) -> DigitClassifier:
    """The :class:`DigitClassifier` fitted on the pool of
    :func:`~recursive_lib.data.digits.load_images` (cached per process)."""
    return _fit_classifier(dataset, n_test, side, data_seed)


@functools.lru_cache(maxsize=4)
def _fit_classifier(dataset: str, n_test: int, side: int | None, data_seed: int) -> DigitClassifier:
    data = load_images(dataset, n_test, side, data_seed)
    with _one_thread():
        return DigitClassifier().fit(data.train, data.train_labels)


def image_metrics(samples: np.ndarray, data: ImageData, classifier: DigitClassifier) -> dict[str, float]:
    """``fd`` (Frechet distance of ``samples`` to ``data.test``), ``label_entropy``, ``confidence``."""
    return dict(fd=frechet_distance(samples, data.test), **classifier.diversity(samples))


def real_reference(
    dataset: str = "digits",
    n_test: int = 500,
    side: int | None = None,
    n_eval: int = 500,
    reps: int = 20,
    seed: int = 0,
    data_seed: int = 0,
) -> pd.DataFrame:
    """Metrics of ``reps`` real training-pool subsamples of ``n_eval`` images (no model at all).

    Their Frechet distance to the held-out set is the noise floor of the metric at this sample
    size: a perfect generator scores about as much. One row per draw: ``rep, fd, label_entropy,
    confidence``.
    """
    check_int("reps", reps, 1)
    data = load_images(dataset, n_test, side, data_seed)
    n_eval = check_int("n_eval", n_eval, 2)
    if n_eval > len(data.train):
        raise ValueError(f"n_eval must be at most the pool size {len(data.train)}, got {n_eval}")
    classifier = digit_classifier(dataset, n_test, side, data_seed)
    rng = np.random.default_rng(check_int("seed", seed, 0))
    with _one_thread():
        draws = [rng.choice(len(data.train), n_eval, replace=False) for _ in range(reps)]
        rows = [
            dict(rep=r, **image_metrics(data.train[draw], data, classifier)) for r, draw in enumerate(draws)
        ]
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class ImagesConfig(RunConfig):
    """One validated configuration of :func:`run_images` (shared fields:
    :class:`~recursive_lib.experiments.config.RunConfig`).

    Parameters
    ----------
    T, m_total
        Iterations and images per iteration (the paper: 200 and 300).
    epochs, batch_size, lr, diffusion_steps, width, depth, ema, network
        The :class:`~recursive_lib.continual.diffusion.DDPM` (``batch_size``: images per optimizer
        step; ``network``: ``"mlp"`` or ``"unet"``), which validates them.
    n_eval
        Generated images behind each evaluation (>= 2, at most the pool size).
    n_test
        Held-out images (multiple of 10).
    snapshot_at
        Iterations whose training batch is kept (column ``snapshot``).
    dataset, side, data_seed
        :func:`recursive_lib.data.digits.load_images`.
    """

    m_total: int = 300
    epochs: int = 20
    batch_size: int = 100
    lr: float = 2e-4
    diffusion_steps: int = 100
    width: int = 128
    depth: int = 3
    ema: float = 0.0
    network: str = "mlp"
    n_eval: int = 500
    n_test: int = 500
    dataset: str = "digits"
    side: int | None = None
    data_seed: int = 0

    def __post_init__(self):
        super().__post_init__()
        self._set(
            n_eval=check_int("n_eval", self.n_eval, 2),
            n_test=check_int("n_test", self.n_test, 1),
            data_seed=check_int("data_seed", self.data_seed, 0),
            side=None if self.side is None else check_int("side", self.side, 1),
        )


def run_images(config: ImagesConfig | None = None, /, **fields) -> pd.DataFrame:
    """One fresh-regime run of the DDPM on digits; a tidy frame, one row per iteration.

    ``config`` (an :class:`ImagesConfig`) or its fields as keywords (both: the keywords replace
    fields of ``config``): ``run_images(alpha=0.5, T=20)``, as a sweep grid passes them. The run's
    random numbers come from ``SeedSequence(seed, spawn_key=(rep,))``, the same for every ``alpha``
    (:mod:`recursive_lib.experiments.config`).

    Returns
    -------
    pandas.DataFrame
        Columns ``iteration`` (also as ``n``), ``alpha``, ``rep``, ``M`` (images trained on so far,
        ``n m_total``), ``n_real``, ``n_synthetic``, ``loss``, ``real_taken`` (real images trained on
        so far, repeats included), ``real_distinct`` (distinct real images among them: the pool is
        reshuffled and reused once used up, so this stops at the pool size), ``real_passes`` (passes
        through the pool begun; :class:`~recursive_lib.loops.continual.RealStream`), ``fd``,
        ``label_entropy``, ``confidence`` (NaN where not evaluated) and ``snapshot``: the training
        batch and its mask of real items at the snapshot iterations, as the bytes of an ``.npz``
        archive (:func:`decode_snapshot`; plain bytes keep the frame storable as Parquet), ``None``
        elsewhere.
    """
    cfg = as_config(ImagesConfig, config, fields)
    from recursive_lib.continual.diffusion import DDPM  # torch, only when a run starts

    data = load_images(cfg.dataset, cfg.n_test, cfg.side, cfg.data_seed)
    classifier = digit_classifier(cfg.dataset, cfg.n_test, cfg.side, cfg.data_seed)
    model = DDPM(
        diffusion_steps=cfg.diffusion_steps,
        width=cfg.width,
        depth=cfg.depth,
        epochs=cfg.epochs,
        batch_size=cfg.batch_size,
        lr=cfg.lr,
        ema=cfg.ema,
        network=cfg.network,
    )

    def evaluate(fitted, rng):
        return image_metrics(fitted.sample(cfg.n_eval, rng), data, classifier)

    with _one_thread(), checkpoint(cfg.checkpoint_dir, "images", cfg.key_fields(), data.fingerprint) as saved:
        run = run_fresh(
            model,
            data.train,
            cfg.alpha,
            cfg.m_total,
            cfg.T,
            seed=seed_sequence(cfg.seed, cfg.rep),
            evaluate=evaluate,
            eval_every=cfg.eval_every,
            snapshot_at=cfg.snapshot_at,
            checkpoint=None if saved is None else saved.path,
            checkpoint_key=None if saved is None else saved.key,
        )
    return _tidy(run, cfg)


def _tidy(run, cfg: ImagesConfig) -> pd.DataFrame:
    frame = run.metrics.copy()
    for column in ("fd", "label_entropy", "confidence"):
        if column not in frame:
            frame[column] = np.nan
    frame.insert(1, "n", frame["iteration"])
    frame.insert(2, "rep", cfg.rep)
    frame.insert(3, "M", frame["iteration"] * cfg.m_total)
    frame["snapshot"] = [
        encode_snapshot(*run.snapshots[int(i)]) if int(i) in run.snapshots else None
        for i in frame["iteration"]
    ]
    return frame


def _data_fingerprint(
    dataset: str = "digits", n_test: int = 500, side: int | None = None, data_seed: int = 0, **_
) -> str:
    return load_images(dataset, n_test, side, data_seed).fingerprint


#: what a cached run_images result depends on besides its arguments: the image set itself
run_images.fingerprint = _data_fingerprint


def encode_snapshot(batch: np.ndarray, is_real: np.ndarray) -> bytes:
    """A training batch and its real-item mask as the bytes of an ``.npz`` archive."""
    import io

    buffer = io.BytesIO()
    np.savez(buffer, batch=np.asarray(batch), is_real=np.asarray(is_real, dtype=bool))
    return buffer.getvalue()


def decode_snapshot(data: bytes) -> tuple[np.ndarray, np.ndarray]:
    """``(batch, is_real)`` back from :func:`encode_snapshot` (numeric arrays only, no pickle)."""
    import io

    with np.load(io.BytesIO(data), allow_pickle=False) as archive:
        return archive["batch"], archive["is_real"]


def split_snapshots(
    results: pd.DataFrame, per_grid: int = 20, seed: int = 0, by=("alpha", "rep")
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split :func:`run_images` results into metrics and tidy pixels of the kept training batches.

    From each snapshot ``per_grid`` images are picked at random (``seed``), keeping the real /
    synthetic mix of the batch. Pixels: one row per (``*by``, ``iteration``, ``image``, ``row``,
    ``col``) with ``value`` in ``[-1, 1]`` and ``source`` (``"real"`` or ``"synthetic"``).
    """
    check_int("per_grid", per_grid, 1)
    by = list(by)
    metrics = results.drop(columns="snapshot")
    parts = []
    for _, row in results[results["snapshot"].notna()].iterrows():
        batch, is_real = decode_snapshot(row["snapshot"])
        rng = np.random.default_rng(seed)
        pick = np.sort(rng.choice(len(batch), min(per_grid, len(batch)), replace=False))
        side = batch.shape[1]
        img, r, c = np.meshgrid(np.arange(len(pick)), np.arange(side), np.arange(side), indexing="ij")
        part = pd.DataFrame(
            dict(
                image=img.ravel(),
                row=r.ravel(),
                col=c.ravel(),
                value=batch[pick].ravel().astype(float),
                source=np.where(is_real[pick][img.ravel()], "real", "synthetic"),
            )
        )
        for key in by:
            part.insert(0, key, row[key])
        part.insert(len(by), "iteration", int(row["iteration"]))
        parts.append(part)
    pixels = (
        pd.concat(parts, ignore_index=True)
        if parts
        else pd.DataFrame(columns=by + ["iteration", "image", "row", "col", "value", "source"])
    )
    return metrics, pixels


def slopes_by_alpha(
    metrics: pd.DataFrame,
    metric: str = "fd",
    burn_in: int = 0,
    alphas=None,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Log-log slope of ``metric`` against the iteration ``n``, per real fraction, with a
    Student-t interval over repetitions (:func:`recursive_lib.rates.summarize_slopes`), as
    :func:`recursive_lib.experiments.text.slopes_by_alpha` for the language model.

    ``metrics``: :func:`run_images` rows (columns ``alpha``, ``rep``, ``n`` and ``metric``); rows
    without the metric (iterations not evaluated) are dropped. The book's convention: ``slope =
    -d log(metric) / d log(n)``, positive when the metric falls. ``alphas``: the real fractions to
    report, in that order (one without runs gets a row of NaN); default all. Returns ``alpha,
    slope, se, lo, hi, reps`` (``se``, ``lo``, ``hi`` NaN with a single repetition).
    """
    rows = metrics.dropna(subset=[metric])
    out = summarize_slopes(
        fit_slopes(rows, metric=metric, burn_in=burn_in, x="n", by="alpha"), by="alpha", confidence=confidence
    )
    if alphas is not None:
        out = out.astype({"alpha": float}).set_index("alpha").reindex([float(a) for a in alphas])
        out = out.rename_axis("alpha").reset_index()
    return out
