"""The checkpoint of one long run: named after every argument of the run, removed when it completes.

A continually trained model (:func:`recursive_lib.loops.continual.run_fresh`) writes its whole state
after every iteration, as data only (arrays, tensors and JSON: ``recursive_lib._io.write_state``),
so an interrupted run resumes where it stopped. The key is *all* the run's arguments but the
checkpoint folder, the version of the library's code and the fingerprints of its inputs: the file
name is its hash (relative to the folder, so a moved folder still resumes), and the file holds it
and is checked against it before anything in it is used. A run with other arguments, another
library or other data never resumes from it; once the run completes, its result lives in the
sweep's cache and the checkpoint is deleted. One helper for every experiment (images, text, GPT-2).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, NamedTuple

from recursive_lib._io import (
    CHECKPOINT_ARGUMENT,
    check_writable,
    code_version,
    config_hash,
    sweep_stale_temporaries,
)


class Checkpoint(NamedTuple):
    """Where a run's checkpoint goes (``path``) and what names the run (``key``, JSON-like)."""

    path: Path
    key: dict[str, Any]


@contextlib.contextmanager
def checkpoint(
    checkpoint_dir: str | os.PathLike | None,
    kind: str,
    arguments: Mapping[str, Any],
    inputs: str | None = None,
) -> Iterator[Checkpoint | None]:
    """Yield the :class:`Checkpoint` ``<checkpoint_dir>/<kind>-<hash of key>.ckpt`` (``None`` without
    a folder); the file is removed when the block completes, and kept when it raises (so the run
    can resume). ``inputs``: the fingerprint of the data the run reads. The folder is checked for
    room before the run starts (``OSError`` naming it), and temporary files that dead writers left
    there are removed."""
    if checkpoint_dir is None:
        yield None
        return
    if not isinstance(checkpoint_dir, (str, os.PathLike)):
        raise ValueError(f"checkpoint_dir must be a folder path or None, got {checkpoint_dir!r}")
    key = dict(
        kind=kind,
        arguments={
            k: (list(v) if isinstance(v, tuple) else v)
            for k, v in arguments.items()
            if k != CHECKPOINT_ARGUMENT
        },
        code_version=code_version(),
        inputs=inputs,
    )
    folder = check_writable(checkpoint_dir, "checkpoint folder")
    sweep_stale_temporaries(folder)
    path = folder / f"{kind}-{config_hash(key)[:24]}.ckpt"
    yield Checkpoint(path, key)
    if path.exists():
        path.unlink()
