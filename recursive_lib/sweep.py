"""Grids of configurations, run once each, cached on disk, resumable, optionally in parallel.

A configuration is a plain dict of keyword arguments for ``run`` (e.g.
:func:`recursive_lib.simulation.simulate` or an experiment's run), seed included, so that its result depends on the dict
alone. Each result is stored as ``<cache_dir>/<config_hash(config)>.pkl``, written atomically
(temporary file in the same folder, then ``os.replace``): an interrupted sweep leaves only
complete files and resumes where it stopped.

A cache folder belongs to one ``run`` function and one version of the code: the file name
depends on the configuration only. Delete the folder (or add e.g. a ``version`` key to every
configuration) when the code that produces the results changes.

Pickle rather than parquet: pyarrow is not a dependency, and pickle keeps dtypes exactly.
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
import pickle
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

import numpy as np
import pandas as pd

from recursive_lib._io import canonical_json, config_hash, write_atomic
from recursive_lib._progress import progress_bar

__all__ = ["run_sweep", "grid", "cache_path"]

SUFFIX = ".pkl"


def cache_path(cache_dir: str | os.PathLike, config: Mapping[str, Any]) -> Path:
    """Where the result of ``config`` is (or will be) stored under ``cache_dir``."""
    return Path(cache_dir) / f"{config_hash(config)}{SUFFIX}"


def grid(**axes: Any) -> list[dict[str, Any]]:
    """Cartesian product of the axes, in the given order (last axis varies fastest).

    Each value is a sequence of options (list, tuple, range, 1-D array); a string or a scalar is one
    option. To fix a tuple-valued parameter, wrap it: ``hidden=[(64, 64, 64)]``.

    >>> grid(estimator=["ecdf", "kde"], alpha=[0.1, 0.5], m1=50)[:2]
    [{'estimator': 'ecdf', 'alpha': 0.1, 'm1': 50}, {'estimator': 'ecdf', 'alpha': 0.5, 'm1': 50}]
    """
    names, options = [], []
    for name, values in axes.items():
        if isinstance(values, (str, bytes)) or not isinstance(values, Iterable) \
                or isinstance(values, Mapping):
            values = [values]
        values = [v.item() if isinstance(v, np.generic) else v for v in values]
        if not values:
            raise ValueError(f"grid axis {name!r} must hold at least one value, got none")
        names.append(name)
        options.append(values)
    return [dict(zip(names, combo)) for combo in itertools.product(*options)]


def _load(path: Path, canonical: str) -> pd.DataFrame | None:
    """The cached result, or ``None`` if absent, unreadable, or stored for another configuration."""
    try:
        with open(path, "rb") as handle:
            payload = pickle.load(handle)
    except FileNotFoundError:
        return None
    except (EOFError, pickle.UnpicklingError, AttributeError, ImportError, ValueError):
        # Damaged, or written by an incompatible pandas: recompute and overwrite rather than fail.
        return None
    if not isinstance(payload, dict) or payload.get("config") != canonical:
        return None
    return payload["result"]


def _compute(run: Callable[..., pd.DataFrame], config: dict[str, Any],
             cache_dir: Path | None) -> pd.DataFrame:
    result = run(**config)
    if not isinstance(result, pd.DataFrame):
        raise TypeError(f"run must return a pandas DataFrame, got {type(result).__name__} "
                        f"for configuration {config!r}")
    if cache_dir is not None:
        write_atomic(cache_dir / f"{config_hash(config)}{SUFFIX}",
                      {"config": canonical_json(config), "result": result})
    return result


def _with_config_columns(result: pd.DataFrame, config: Mapping[str, Any]) -> pd.DataFrame:
    # Runs that do not echo their configuration still give a tidy frame; scalar keys only.
    missing = {k: v for k, v in config.items()
               if k not in result.columns and (v is None or np.isscalar(v))}
    return result.assign(**missing) if missing else result


def _pool_context() -> multiprocessing.context.BaseContext:
    # Not "fork": forking a process that holds torch or BLAS threads can deadlock.
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")


def run_sweep(configs: Iterable[Mapping[str, Any]], run: Callable[..., pd.DataFrame],
              cache_dir: str | os.PathLike | None = None, n_jobs: int = 1,
              progress: bool = False) -> pd.DataFrame:
    """Run ``run(**config)`` for every configuration and concatenate the results in ``configs`` order.

    Parameters
    ----------
    configs : dicts of keyword arguments (JSON-like values), each including its own ``seed`` so
        that its result does not depend on order or backend. Duplicates run once.
    run : function returning a DataFrame (required), e.g. :func:`recursive_lib.simulation.simulate`. With
        ``n_jobs > 1`` it must be importable by name (a module-level function, no lambda), and a
        script calling ``run_sweep`` must guard it with ``if __name__ == "__main__":`` (workers
        are started with "forkserver" or "spawn", which re-import the main module; notebooks
        need nothing).
    cache_dir : folder for the results (created if needed); ``None`` disables caching. Cached
        configurations are loaded, not rerun.
    n_jobs : worker processes (``-1``: one per core). Results are identical to ``n_jobs=1``.
    progress : show a tqdm bar (always silent when the environment variable ``CI`` is set).

    Returns
    -------
    The concatenated results (index reset). Configuration keys the result lacks are added as
    columns (scalar values only).
    """
    configs = [dict(c) if isinstance(c, Mapping) else c for c in configs]
    for i, config in enumerate(configs):
        if not isinstance(config, dict):
            raise ValueError(f"configs must be dicts of keyword arguments; item {i} is "
                             f"{type(config).__name__}")
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, (int, np.integer)) \
            or not (n_jobs >= 1 or n_jobs == -1):
        raise ValueError(f"n_jobs must be an integer >= 1, or -1 for one per core; got {n_jobs!r}")
    n_jobs = (os.cpu_count() or 1) if n_jobs == -1 else int(n_jobs)
    if not callable(run):
        raise ValueError(f"run must be callable, got {type(run).__name__}")
    cache = None
    if cache_dir is not None:
        cache = Path(cache_dir)
        cache.mkdir(parents=True, exist_ok=True)
    if not configs:
        return pd.DataFrame()

    keys = [config_hash(c) for c in configs]
    unique = dict(zip(keys, configs))  # first occurrence of each configuration
    results: dict[str, pd.DataFrame] = {}
    if cache is not None:
        for key, config in unique.items():
            found = _load(cache / f"{key}{SUFFIX}", canonical_json(config))
            if found is not None:
                results[key] = found
    todo = [key for key in unique if key not in results]


    with progress_bar(total=len(unique), initial=len(results), desc="sweep", unit="config",
                      enabled=progress) as bar:
        if n_jobs == 1 or len(todo) <= 1:
            for key in todo:
                results[key] = _compute(run, unique[key], cache)
                bar.update()
        else:
            try:
                pickle.dumps(run)
            except Exception as error:  # lambdas and closures cannot reach a worker process
                raise ValueError("run must be a module-level function importable by name to use "
                                 f"n_jobs > 1; {run!r} cannot be pickled ({error})") from error
            with ProcessPoolExecutor(max_workers=min(n_jobs, len(todo)),
                                     mp_context=_pool_context()) as pool:
                futures = {pool.submit(_compute, run, unique[key], cache): key for key in todo}
                pending = set(futures)
                while pending:
                    # FIRST_COMPLETED, not FIRST_EXCEPTION: the latter waits for every job unless one
                    # fails, so the bar would not move until the end.
                    done, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for future in done:
                        if future.exception() is not None:
                            # Let running configurations finish (and be cached), drop the queue.
                            for other in pending:
                                other.cancel()
                            raise future.exception()
                        results[futures[future]] = future.result()
                        bar.update()

    frames = [_with_config_columns(results[key], config) for key, config in zip(keys, configs)]
    return pd.concat(frames, ignore_index=True)
