"""Files: canonical keys for configurations, and atomic writes (a reader never sees half a file)."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import pickle
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

PACKAGE = Path(__file__).resolve().parent


@functools.lru_cache(maxsize=1)
def code_version() -> str:
    """First 16 hex digits of a SHA-256 over every ``.py`` file of ``recursive_lib`` (path and bytes):
    any edit of the library gives another version (cache keys, executed chapters)."""
    digest = hashlib.sha256()
    for path in sorted(PACKAGE.rglob("*.py")):
        digest.update(str(path.relative_to(PACKAGE)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _json_default(value: Any) -> Any:
    # numpy scalars and arrays appear in configs built from np.linspace and friends.
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    if isinstance(value, Path):
        return str(value)
    raise TypeError(
        f"configuration values must be JSON-like (numbers, strings, lists, dicts); "
        f"got {type(value).__name__}: {value!r}"
    )


def canonical_json(config: Mapping[str, Any]) -> str:
    """Canonical JSON text of ``config``: sorted keys, no whitespace, floats as ``repr`` (round-trip exact).

    ``1`` and ``1.0`` stay distinct (they may select different code paths); tuples become lists.
    """
    if not isinstance(config, Mapping):
        raise ValueError(f"a configuration must be a dict of keyword arguments, got {type(config).__name__}")
    return json.dumps(config, sort_keys=True, separators=(",", ":"), default=_json_default, allow_nan=True)


def config_hash(config: Mapping[str, Any]) -> str:
    """SHA-256 hex digest of :func:`canonical_json` (independent of key order, stable across runs)."""
    return hashlib.sha256(canonical_json(config).encode("utf-8")).hexdigest()


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike):
    """Yield a temporary path beside ``path``; when the block completes, the file written there
    replaces ``path`` in one rename (readers see the old file or the complete new one); when it
    raises, the temporary file is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Same folder, so os.replace is a rename on one file system: a reader (or a resumed run)
    # sees either no file or the complete one, never a partial file.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".tmp")
    os.close(fd)
    try:
        yield Path(tmp)
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def write_atomic(path: str | os.PathLike, payload: Any) -> None:
    """Pickle ``payload`` to ``path`` atomically (:func:`atomic_path`)."""
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        pickle.dump(payload, handle, protocol=pickle.HIGHEST_PROTOCOL)


def read_pickle(path: str | os.PathLike) -> Any:
    """The object :func:`write_atomic` stored at ``path`` (files this package wrote, never others)."""
    with open(path, "rb") as handle:
        return pickle.load(handle)
