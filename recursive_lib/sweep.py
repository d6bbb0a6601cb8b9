"""Grids of configurations, run once each on any joblib backend, cached so that the cache cannot lie.

A configuration is a plain dict of keyword arguments for ``run`` (e.g.
:func:`recursive_lib.simulation.simulate` or an experiment's run), seed included, so that its result
depends on the dict, the code and the inputs alone, never on the order of execution, the backend or
the number of workers.

Backends. ``n_jobs=1`` runs in this process. Otherwise joblib runs the configurations: ``"loky"``
(the default: worker processes; functions defined in a notebook or script work, joblib sends them
with cloudpickle), ``"threading"``, or ``"dask"``, which sends them to the Dask distributed
cluster of the current ``dask.distributed.Client`` (a ``LocalCluster``, or dask-jobqueue's
``SLURMCluster`` across machines: README, "Beyond one machine"). Results come back in ``configs``
order whatever the backend. Start a Dask cluster inside :func:`dask_config`: Dask's default worker
environment makes these runs several times slower (see :func:`dask_config`).

The cache. Each result is one Parquet file ``<cache_dir>/<key>.parquet``, written atomically
(temporary file in the same folder, then ``os.replace``), so an interrupted sweep leaves only
complete files and resumes where it stopped, on this machine or on another client of a shared
folder. The key hashes the configuration, the identity of ``run`` (its qualified name and, for
functions outside the library, their source), the **version of the library's code**
(:func:`recursive_lib._io.code_version`, a hash of every source file of ``recursive_lib``) and the fingerprints of the
run's inputs (``run.fingerprint(**config)``, e.g. the text corpus or the image set): change any of
them and the cached file is not found. A configuration's ``checkpoint_dir`` (where a long run keeps
its checkpoint) says where, not what: it is passed to the run but left out of the key, so the key
holds no absolute path and a moved or renamed cache folder keeps serving its files. The file's
metadata (key ``recursive_lib``) holds all of that as JSON, with a SHA-256 of the table's
contents, and is checked again on reading; the file also carries Parquet page checksums, verified
on reading; the results read back with pandas, DuckDB or polars. Nothing is unpickled: a damaged
or foreign file is recomputed, with a warning.

Files are created with the caller's umask (a group-shared folder stays readable by the group).
Before computing anything the sweep checks that the folder can take a new file (``OSError`` naming
it if it is read-only or full) and removes temporary files left by writers that died
(``recursive_lib._io.sweep_stale_temporaries``).
"""

from __future__ import annotations

import hashlib
import inspect
import itertools
import json
import marshal
import os
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from recursive_lib._io import (
    CHECKPOINT_ARGUMENT,
    atomic_path,
    canonical_json,
    check_writable,
    code_version,
    sweep_stale_temporaries,
)
from recursive_lib._progress import progress_bar

__all__ = ["cache_path", "code_version", "dask_config", "grid", "result_key", "run_sweep"]

#: Dask's worker-environment setting that :func:`dask_config` removes
DASK_TRIM_SETTING = "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_"


def dask_config():
    """Dask settings for the clusters that run sweeps; start the cluster inside them.

    Dask's nanny starts every worker with ``MALLOC_TRIM_THRESHOLD_=65536`` (its setting
    ``distributed.nanny.pre-spawn-environ``). Any such glibc setting turns off glibc's adaptive
    ``mmap`` threshold, so every array above 128 KiB is mapped and unmapped afresh: a bias
    configuration runs several times slower in a worker than in this process
    (``benchmarks/bench_sweep.py`` measures it). This context leaves the variable unset; numbers are unchanged.
    Workers started elsewhere (dask-jobqueue) read their own Dask configuration: set the same key to
    ``null`` there (README, "Beyond one machine").

    Example: ``with sweep.dask_config(), LocalCluster(n_workers=2) as cluster, Client(cluster): ...``
    """
    import dask

    return dask.config.set({DASK_TRIM_SETTING: None})


SUFFIX = ".parquet"
META_KEY = b"recursive_lib"


def run_identity(run: Callable) -> str:
    """What names ``run`` in a cache key: its module and qualified name, and the hash of its source
    when it lives outside the library (a function defined in a notebook or a fork)."""
    module = getattr(run, "__module__", None) or "?"
    name = f"{module}.{getattr(run, '__qualname__', type(run).__qualname__)}"
    if module.split(".")[0] == "recursive_lib":
        return name
    try:
        text = inspect.getsource(run).encode()
    except (OSError, TypeError):  # no source file (python -c): the compiled code itself
        code = getattr(run, "__code__", None)
        text = marshal.dumps(code) if code is not None else type(run).__qualname__.encode()
    return f"{name}#{hashlib.sha256(text).hexdigest()[:16]}"


def input_fingerprint(run: Callable, config: Mapping[str, Any]) -> str | None:
    """``run.fingerprint(**config)`` when the run declares the data it reads, else ``None``."""
    fingerprint = getattr(run, "fingerprint", None)
    return None if fingerprint is None else str(fingerprint(**config))


def _meta(run: Callable, config: Mapping[str, Any]) -> dict[str, Any]:
    # where a run keeps its checkpoint is not what it computes: no path in a key
    config = {k: v for k, v in config.items() if k != CHECKPOINT_ARGUMENT}
    return {
        "config": json.loads(canonical_json(config)),
        "run": run_identity(run),
        "code_version": code_version(),
        "inputs": input_fingerprint(run, config),
    }


def _key(meta: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical_json(meta).encode()).hexdigest()


def result_key(run: Callable, config: Mapping[str, Any]) -> str:
    """SHA-256 hex digest of the configuration (without ``checkpoint_dir``), the run, the code
    version and the input fingerprints."""
    return _key(_meta(run, config))


def cache_path(cache_dir: str | os.PathLike, run: Callable, config: Mapping[str, Any]) -> Path:
    """Where the result of ``run(**config)`` is (or will be) stored under ``cache_dir``."""
    return Path(cache_dir) / f"{result_key(run, config)}{SUFFIX}"


def grid(**axes: Any) -> list[dict[str, Any]]:
    """Cartesian product of the axes, in the given order (last axis varies fastest).

    Each value is a sequence of options (list, tuple, range, 1-D array); a string or a scalar is one
    option. To fix a tuple-valued parameter, wrap it: ``hidden=[(64, 64, 64)]``.

    >>> grid(estimator=["ecdf", "kde"], alpha=[0.1, 0.5], m1=50)[:2]
    [{'estimator': 'ecdf', 'alpha': 0.1, 'm1': 50}, {'estimator': 'ecdf', 'alpha': 0.5, 'm1': 50}]
    """
    names, options = [], []
    for name, values in axes.items():
        if (
            isinstance(values, (str, bytes))
            or not isinstance(values, Iterable)
            or isinstance(values, Mapping)
        ):
            values = [values]
        values = [v.item() if isinstance(v, np.generic) else v for v in values]
        if not values:
            raise ValueError(f"grid axis {name!r} must hold at least one value, got none")
        names.append(name)
        options.append(values)
    return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*options)]


#: the metadata entry holding the SHA-256 of a cached table's contents (:func:`content_digest`)
CONTENT = "content_sha256"


def _value_bytes(value: Any) -> bytes:
    """A type-tagged byte encoding of one cell of an object column (exact: no repr of arrays)."""
    if value is None or (isinstance(value, float) and value != value):
        return b"n"
    if isinstance(value, bytes):
        return b"b%d:" % len(value) + value
    if isinstance(value, str):
        data = value.encode("utf-8", "surrogatepass")
        return b"s%d:" % len(data) + data
    if isinstance(value, np.ndarray) and not value.dtype.hasobject:
        array = np.ascontiguousarray(value)
        return f"a{array.dtype.str}{array.shape}:".encode() + array.view(np.uint8).tobytes()
    if isinstance(value, (list, tuple, np.ndarray)):
        parts = [_value_bytes(v) for v in value]
        return b"l%d:" % len(parts) + b"".join(b"%d:" % len(p) + p for p in parts)
    if isinstance(value, Mapping):
        return b"d" + _value_bytes([[k, v] for k, v in value.items()])
    return b"r" + repr(value).encode()


def content_digest(frame: pd.DataFrame) -> str:
    """SHA-256 of ``frame``'s column names, types and values (the bits of numeric columns; a
    type-tagged encoding of each cell of the others)."""
    digest = hashlib.sha256(f"{len(frame)} rows;".encode())
    for name in frame.columns:
        column = frame[name]
        digest.update(f"{name!r}:{column.dtype};".encode())
        if isinstance(column.dtype, np.dtype) and column.dtype.kind in "biufcmM":
            values = np.ascontiguousarray(column.to_numpy())
            digest.update(values.view(np.uint8).tobytes())
        else:
            for value in column.to_numpy(dtype=object):
                part = _value_bytes(value)
                digest.update(b"%d:" % len(part) + part)
    return digest.hexdigest()


def write_parquet_atomic(path: Path, frame: pd.DataFrame, meta: Mapping[str, Any]) -> None:
    """``frame`` as Parquet at ``path``, atomically, with page checksums and ``meta`` (JSON) in the
    file's metadata, plus the :func:`content_digest` of the frame as it reads back."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(frame, preserve_index=False)
    stored = {**meta, CONTENT: content_digest(table.to_pandas())}
    table = table.replace_schema_metadata(
        {**(table.schema.metadata or {}), META_KEY: json.dumps(stored).encode()}
    )
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, write_page_checksum=True)


def read_meta(path: str | os.PathLike) -> dict[str, Any] | None:
    """The ``recursive_lib`` metadata of a cached result (configuration, run, code version, inputs,
    and the SHA-256 of its contents)."""
    import pyarrow.parquet as pq

    metadata = pq.read_schema(path).metadata or {}
    return json.loads(metadata[META_KEY]) if META_KEY in metadata else None


def read_result(path: str | os.PathLike) -> pd.DataFrame:
    """A cached result, checked: its page checksums and the SHA-256 of its contents must match
    (``ValueError`` otherwise; ``OSError`` or pyarrow's errors for an unreadable file)."""
    import pyarrow.parquet as pq

    table = pq.read_table(path, page_checksum_verification=True)
    stored = json.loads((table.schema.metadata or {}).get(META_KEY, b"{}"))
    frame = table.to_pandas()
    if stored.get(CONTENT) != content_digest(frame):
        raise ValueError("its contents do not match the SHA-256 stored with them")
    return frame


def _load(path: Path, meta: Mapping[str, Any]) -> pd.DataFrame | None:
    """The cached result, or ``None`` if absent, damaged, or written for something else."""
    if not path.is_file():
        return None
    try:
        stored = read_meta(path)
        if stored is not None:
            stored = {k: v for k, v in stored.items() if k != CONTENT}
        if stored != json.loads(json.dumps(meta)):
            warnings.warn(
                f"cache file {path} belongs to another configuration or code version; recomputing it",
                RuntimeWarning,
                stacklevel=3,
            )
            return None
        return read_result(path)
    except Exception as error:  # any unreadable file: recompute rather than fail
        warnings.warn(
            f"damaged cache file {path} ({type(error).__name__}: {error}); recomputing it",
            RuntimeWarning,
            stacklevel=3,
        )
        return None


def _compute(
    run: Callable[..., pd.DataFrame],
    config: dict[str, Any],
    meta: Mapping[str, Any],
    path: Path | None,
) -> pd.DataFrame:
    result = run(**config)
    if not isinstance(result, pd.DataFrame):
        raise TypeError(
            f"run must return a pandas DataFrame, got {type(result).__name__} for configuration {config!r}"
        )
    if path is not None:
        write_parquet_atomic(path, result, meta)
    return result


def _with_config_columns(result: pd.DataFrame, config: Mapping[str, Any]) -> pd.DataFrame:
    # Runs that do not echo their configuration still give a tidy frame; scalar keys only.
    missing = {k: v for k, v in config.items() if k not in result.columns and (v is None or np.isscalar(v))}
    return result.assign(**missing) if missing else result


def run_sweep(
    configs: Iterable[Mapping[str, Any]],
    run: Callable[..., pd.DataFrame],
    cache_dir: str | os.PathLike | None = None,
    n_jobs: int = 1,
    backend: str = "loky",
    progress: bool = False,
) -> pd.DataFrame:
    """Run ``run(**config)`` for every configuration and concatenate the results in ``configs`` order.

    Parameters
    ----------
    configs
        Dicts of keyword arguments (JSON-like values), each including its own ``seed`` so
        that its result does not depend on order or backend. Duplicates run once.
    run
        Function returning a DataFrame (required), e.g. :func:`recursive_lib.simulation.simulate`;
        any function, a notebook's own included (joblib sends it to the workers with cloudpickle).
    cache_dir
        Folder for the results (created if needed; shared by all workers of a cluster);
        ``None`` disables caching. Cached configurations are loaded, not rerun; if any remain to
        compute, the folder must take new files (``OSError`` naming it before anything runs).
    n_jobs
        Workers (``-1``: one per core). Results are identical to ``n_jobs=1``.
    backend
        A joblib backend, ``"loky"`` (processes, the default), ``"threading"``, or
        ``"dask"`` (the cluster of the current ``dask.distributed.Client``).
    progress
        A tqdm bar over configurations as they finish (silent when ``CI`` is set).

    Returns
    -------
    pandas.DataFrame
        The concatenated results (index reset). Configuration keys the result lacks are added as
        columns (scalar values only).
    """
    configs = _check_sweep(configs, run, n_jobs, backend)
    cache = None if cache_dir is None else Path(cache_dir)
    if not configs:
        return pd.DataFrame()

    metas = [_meta(run, c) for c in configs]
    keys = [_key(m) for m in metas]
    # key -> (configuration, metadata, cache file or None); the first of duplicates
    unique = {
        key: (config, meta, None if cache is None else cache / f"{key}{SUFFIX}")
        for key, config, meta in zip(keys, configs, metas, strict=True)
    }
    results = _load_cached(unique)
    todo = [key for key in unique if key not in results]
    if cache is not None and todo:
        # before any work: a folder that cannot take the results would lose it all
        check_writable(cache, "cache folder")
        sweep_stale_temporaries(cache)

    _compute_missing(run, unique, todo, results, n_jobs, backend, progress)
    frames = [_with_config_columns(results[key], config) for key, config in zip(keys, configs, strict=True)]
    return pd.concat(frames, ignore_index=True)


def _load_cached(unique: Mapping[str, tuple]) -> dict[str, pd.DataFrame]:
    """The results of ``unique`` (key -> configuration, metadata, cache file) found in the cache."""
    results: dict[str, pd.DataFrame] = {}
    for key, (_, meta, path) in unique.items():
        found = None if path is None else _load(path, meta)
        if found is not None:
            results[key] = found
    return results


def _check_sweep(configs, run, n_jobs, backend) -> list[dict]:
    """The arguments of :func:`run_sweep`, checked; the configurations as a list of dicts."""
    configs = [dict(c) if isinstance(c, Mapping) else c for c in configs]
    for i, config in enumerate(configs):
        if not isinstance(config, dict):
            raise ValueError(
                f"configs must be dicts of keyword arguments; item {i} is {type(config).__name__}"
            )
    if (
        isinstance(n_jobs, bool)
        or not isinstance(n_jobs, (int, np.integer))
        or not (n_jobs >= 1 or n_jobs == -1)
    ):
        raise ValueError(f"n_jobs must be an integer >= 1, or -1 for one per core; got {n_jobs!r}")
    if not isinstance(backend, str) or not backend:
        raise ValueError(
            f"backend must be the name of a joblib backend, e.g. 'loky' or 'dask'; got {backend!r}"
        )
    if not callable(run):
        raise ValueError(f"run must be callable, got {type(run).__name__}")
    return configs


def _compute_missing(run, unique, todo, results, n_jobs, backend, progress) -> None:
    """Compute the configurations ``todo`` (keys of ``unique``) into ``results``, in this process
    or on ``n_jobs`` workers of ``backend``."""
    with progress_bar(
        total=len(unique), initial=len(results), desc="sweep", unit="config", enabled=progress
    ) as bar:
        if (n_jobs == 1 and backend != "dask") or not todo:
            for key in todo:
                results[key] = _compute(run, *unique[key])
                bar.update()
        else:
            from joblib import Parallel, delayed, parallel_config

            with parallel_config(backend=backend, n_jobs=n_jobs):
                # As each configuration finishes (its file is already in the cache), whatever
                # the order; a failure stops the sweep, and what finished stays cached.
                parent = os.getpid()
                stream = Parallel(return_as="generator_unordered")(
                    delayed(_keyed)(key, run, *unique[key], parent=parent) for key in todo
                )
                for key, result in stream:
                    results[key] = result
                    bar.update()


def _keyed(
    key: str, run: Callable, config: dict, meta: Mapping, path: Path | None, parent: int | None = None
):
    if parent is not None:
        _watch_parent(parent)
    return key, _compute(run, config, meta, path)


_WATCHED: list[int] = []


def _watch_parent(parent: int) -> None:
    """In a worker process the sweep's process started itself (loky), exit within a second of that
    process dying: a killed sweep leaves no worker behind (loky's own idle timeout does not end a
    worker whose parent is gone). Nothing happens in the sweep's own process (threads) nor in a
    worker another process started (a Dask nanny's)."""
    if os.getpid() == parent or os.getppid() != parent or _WATCHED:
        return
    _WATCHED.append(parent)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="watch-sweep-parent", daemon=True).start()
