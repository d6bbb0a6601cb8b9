"""The checkpoint of one long run: named after every argument of the run, removed when it completes.

A continually trained model (:func:`recursive_lib.loops.fresh.run_fresh`) writes its whole state
after every iteration, so an interrupted run resumes where it stopped. The file name is a hash of
*all* the run's arguments (and of the fingerprints of its inputs), so a run with other arguments
never resumes from it; once the run completes, its result lives in the sweep's cache and the
checkpoint is deleted. One helper for every experiment (images, text, GPT-2).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from recursive_lib._io import config_hash


@contextlib.contextmanager
def checkpoint(
    checkpoint_dir: str | os.PathLike | None, kind: str, arguments: Mapping[str, Any]
) -> Iterator[Path | None]:
    """Yield ``<checkpoint_dir>/<kind>-<hash of arguments>.ckpt`` (``None`` without a folder); the
    file is removed when the block completes, and kept when it raises (so the run can resume)."""
    if checkpoint_dir is None:
        yield None
        return
    if not isinstance(checkpoint_dir, (str, os.PathLike)):
        raise ValueError(f"checkpoint_dir must be a folder path or None, got {checkpoint_dir!r}")
    key = {k: (list(v) if isinstance(v, tuple) else v) for k, v in arguments.items() if k != "checkpoint_dir"}
    path = Path(checkpoint_dir) / f"{kind}-{config_hash(key)[:24]}.ckpt"
    yield path
    if path.exists():
        path.unlink()
