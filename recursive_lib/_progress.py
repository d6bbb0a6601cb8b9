"""Progress bars for long runs: plain-text tqdm (no ipywidgets needed in notebooks), silent in CI."""

from __future__ import annotations

import os


def in_ci() -> bool:
    """True when the environment variable ``CI`` says so (1, true, yes)."""
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def progress_bar(iterable=None, *, enabled: bool, **kwargs):
    """A ``tqdm`` bar over ``iterable`` (or with ``total=``), shown only if ``enabled`` and not in CI."""
    from tqdm import tqdm

    return tqdm(iterable, disable=not enabled or in_ci(), **kwargs)
