"""Handwritten digits for the image experiment, pixels scaled to ``[-1, 1]``.

:func:`load_images` returns a training pool and a held-out, class-balanced evaluation set.
``dataset="digits"``: scikit-learn's 8x8 digits (1797 images, ships with scikit-learn, the offline
default). ``dataset="mnist"``: MNIST through ``sklearn.datasets.fetch_openml("mnist_784")`` (needs a
network once, then the ``data_home`` cache), optionally average-pooled to a smaller side.
"""

from __future__ import annotations

import functools
import hashlib
import os
from dataclasses import dataclass

import numpy as np

from recursive_lib._validation import check_choice, check_int

__all__ = ["DATASETS", "ImageData", "N_CLASSES", "load_images"]

#: The image sets :func:`load_images` knows.
DATASETS = ("digits", "mnist")
NATIVE_SIDE = {"digits": 8, "mnist": 28}
MAX_PIXEL = {"digits": 16.0, "mnist": 255.0}
#: Classes (digits) in both image sets.
N_CLASSES = 10
MNIST_TEST_ROWS = 10_000  # openml's mnist_784 lists the 60000 training images, then the 10000 test images


@dataclass(frozen=True)
class ImageData:
    """A training pool and a held-out evaluation set, pixels in ``[-1, 1]``.

    ``train``: ``(N, side, side)`` float32; ``train_labels``: ``(N,)`` int digits;
    ``test``: ``(n_test, side, side)`` with exactly ``n_test / 10`` images of each digit;
    ``test_labels``: ``(n_test,)``.
    """

    name: str
    side: int
    train: np.ndarray
    train_labels: np.ndarray
    test: np.ndarray
    test_labels: np.ndarray

    @property
    def fingerprint(self) -> str:
        """First 12 hex digits of the SHA-256 of every array, which changes when the data set does
        (another scikit-learn or MNIST copy), so cached results of the old data are not served."""
        digest = hashlib.sha256(f"{self.name}:{self.side}".encode())
        for array in (self.train, self.train_labels, self.test, self.test_labels):
            digest.update(np.ascontiguousarray(array).tobytes())
        return digest.hexdigest()[:12]


def _raw(dataset: str, data_home) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Images ``(N, s, s)`` in ``[0, 1]``, integer labels, and a mask of rows eligible for the test set."""
    if dataset == "digits":
        from sklearn.datasets import load_digits

        bunch = load_digits()
        images = bunch.images / MAX_PIXEL["digits"]
        labels = bunch.target.astype(int)
        eligible = np.ones(len(labels), dtype=bool)
    else:
        from sklearn import datasets

        bunch = datasets.fetch_openml("mnist_784", version=1, as_frame=False, data_home=data_home)
        pixels = np.asarray(bunch.data, dtype=np.float32)
        side = NATIVE_SIDE["mnist"]
        if pixels.ndim != 2 or pixels.shape[1] != side * side:
            raise ValueError(f"mnist_784 must hold rows of {side * side} pixels, got {pixels.shape}")
        images = pixels.reshape(-1, side, side) / MAX_PIXEL["mnist"]
        labels = np.asarray(bunch.target).astype(int)
        # The official test images (the last 10000 rows); a smaller copy (a test fixture) keeps
        # the same proportion, its last seventh.
        n_test_rows = MNIST_TEST_ROWS if len(labels) >= 7 * MNIST_TEST_ROWS else len(labels) // 7
        eligible = np.arange(len(labels)) >= len(labels) - n_test_rows
    return images.astype(np.float32), labels, eligible


def _pool(images: np.ndarray, side: int) -> np.ndarray:
    """Average-pool ``(N, s, s)`` images to ``(N, side, side)``; ``side`` divides ``s``."""
    factor = images.shape[1] // side
    if factor == 1:
        return images
    n = len(images)
    return images.reshape(n, side, factor, side, factor).mean(axis=(2, 4))


def load_images(
    dataset: str = "digits",
    n_test: int = 500,
    side: int | None = None,
    seed: int = 0,
    data_home: str | None = None,
) -> ImageData:
    """Training pool and class-balanced held-out set of ``dataset``, pixels scaled to ``[-1, 1]``.

    Parameters
    ----------
    dataset
        ``"digits"`` (scikit-learn's 8x8 digits, offline) or ``"mnist"`` (``fetch_openml``).
    n_test
        Held-out images, a multiple of 10 (``n_test / 10`` per digit), drawn with ``seed``;
        for MNIST from the official test images. The other images form the training pool
        (for MNIST: the 60000 official training images).
    side
        Image side after average pooling; must divide the native side (8 or 28). ``None``:
        native.
    seed
        Seed of the held-out draw.
    data_home
        ``fetch_openml`` cache folder (MNIST only); ``None``: scikit-learn's default.

    Notes
    -----
    The result is cached per argument tuple; its arrays are read-only.
    """
    check_choice("dataset", dataset, DATASETS)
    check_int("n_test", n_test, N_CLASSES)
    if n_test % N_CLASSES:
        raise ValueError(f"n_test must be a multiple of {N_CLASSES} (a class-balanced set), got {n_test}")
    native = NATIVE_SIDE[dataset]
    side = native if side is None else check_int("side", side, 1)
    if native % side:
        divisors = [d for d in range(1, native + 1) if native % d == 0]
        raise ValueError(
            f"side must divide the native side {native} of {dataset}, one of {divisors}; got {side}"
        )
    check_int("seed", seed, 0)
    if data_home is not None and not isinstance(data_home, (str, os.PathLike)):
        raise ValueError(f"data_home must be a folder path or None, got {data_home!r}")

    return _load(dataset, n_test, side, seed, None if data_home is None else str(data_home))


@functools.lru_cache(maxsize=4)
def _load(dataset: str, n_test: int, side: int, seed: int, data_home: str | None) -> ImageData:
    images, labels, eligible = _raw(dataset, data_home)
    rng = np.random.default_rng(seed)
    per_class = n_test // N_CLASSES
    picked: list[np.ndarray] = []
    for digit in range(N_CLASSES):
        candidates = np.flatnonzero(eligible & (labels == digit))
        if len(candidates) < per_class:
            raise ValueError(
                f"n_test must be at most {N_CLASSES} x {len(candidates)} for {dataset} "
                f"(digit {digit} has {len(candidates)} eligible images), got {n_test}"
            )
        picked.append(rng.choice(candidates, per_class, replace=False))
    test_idx = np.sort(np.concatenate(picked))
    in_test = np.zeros(len(labels), dtype=bool)
    in_test[test_idx] = True
    # MNIST: the pool is the official training split; digits: every image not held out.
    train_mask = ~in_test & (~eligible if dataset == "mnist" else True)
    scaled = 2.0 * _pool(images, side) - 1.0
    arrays = [scaled[train_mask], labels[train_mask], scaled[test_idx], labels[test_idx]]
    for a in arrays:
        a.setflags(write=False)
    return ImageData(dataset, side, *arrays)
