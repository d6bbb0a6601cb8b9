"""Where random numbers come from: one integer seed, spawned by a key, one stream per repetition.

Every run of the package derives its streams here, so that results depend on the seed and on what
is run, never on the order of execution, the backend or the number of workers:

- :func:`seed_sequence` ``(seed, *key)``: ``SeedSequence(seed, spawn_key=key)``. The simulations use
  the key ``(configuration hash, rep)``, the continually trained models ``(rep,)`` (the same as
  ``SeedSequence(seed).spawn(rep + 1)[rep]``), pictures and side studies a fixed small key.
- :func:`stable_hash64`: a configuration's canonical text -> the 64-bit integer that enters a key.
- :func:`as_generator`: scikit-learn's ``random_state`` convention for numpy Generators.
"""

from __future__ import annotations

import hashlib

import numpy as np


def seed_sequence(seed: int, *key: int) -> np.random.SeedSequence:
    """``SeedSequence(seed, spawn_key=key)``: the stream of ``key`` under ``seed``."""
    return np.random.SeedSequence(seed, spawn_key=tuple(int(k) for k in key))


def generator(seed: int, *key: int) -> np.random.Generator:
    """``numpy`` Generator of :func:`seed_sequence` ``(seed, *key)``."""
    return np.random.default_rng(seed_sequence(seed, *key))


def stable_hash64(text: str) -> int:
    """The first 8 bytes (little-endian) of the SHA-256 of ``text``: stable across runs and machines."""
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")


def as_generator(random_state) -> np.random.Generator:
    """``random_state`` as a Generator: a Generator is used as is (the caller's stream advances);
    ``None`` or an int seeds a new one."""
    if isinstance(random_state, np.random.Generator):
        return random_state
    return np.random.default_rng(random_state)
