"""Files: canonical keys for configurations, atomic writes (a reader never sees half a file), and
data-only state files (nothing read back can run code: no pickle anywhere)."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import secrets
import socket
import time
from collections.abc import Iterator, Mapping
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


#: the argument by which a run is told where to keep its checkpoint: where, not what, so no key
#: (cache or checkpoint) includes it, and a moved or renamed folder keeps its files
CHECKPOINT_ARGUMENT = "checkpoint_dir"


#: temporary files of :func:`atomic_path` end with this; :func:`sweep_stale_temporaries` removes
#: those left behind by a writer that died
TMP_SUFFIX = ".tmp"

#: a temporary file this old (seconds) is stale whoever wrote it: no write of this package takes an hour
STALE_AFTER = 3600.0


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; when the block completes, the file written there
    replaces ``path`` in one rename (readers see the old file or the complete new one); when it
    raises, the temporary file is removed.

    The file is created with the caller's umask (mode ``0o666 & ~umask``, like ``open``), so a
    folder shared with a group stays readable by it. Its name records the host and process that
    write it: ``.<stem>.<host>.<pid>.<random>.tmp``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Same folder, so os.replace is a rename on one file system: a reader (or a resumed run)
    # sees either no file or the complete one, never a partial file.
    tmp = _temporary(path)
    os.close(os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
    try:
        yield tmp
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


_HOST = socket.gethostname().replace(".", "-") or "host"


def _temporary(path: Path) -> Path:
    """A new name beside ``path`` that records this host and process (:func:`sweep_stale_temporaries`)."""
    return path.parent / f".{path.stem}.{_HOST}.{os.getpid()}.{secrets.token_hex(6)}{TMP_SUFFIX}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def sweep_stale_temporaries(folder: str | os.PathLike, older_than: float = STALE_AFTER) -> list[Path]:
    """Remove the temporary files of :func:`atomic_path` in ``folder`` whose writer is gone: older
    than ``older_than`` seconds, or written on this host by a process that no longer exists.
    Returns the files removed (a file another process removes first is skipped)."""
    removed = []
    now = time.time()
    for tmp in Path(folder).glob(f".*{TMP_SUFFIX}"):
        parts = tmp.name[: -len(TMP_SUFFIX)].split(".")
        try:
            host, pid = parts[-3], int(parts[-2])
        except (IndexError, ValueError):
            host, pid = None, None
        try:
            age = now - tmp.stat().st_mtime
            if age > older_than or (host == _HOST and pid is not None and not _pid_alive(pid)):
                tmp.unlink()
                removed.append(tmp)
        except FileNotFoundError:
            continue
    return removed


#: bytes :func:`check_writable` writes and syncs to prove a folder can take a file
PROBE_BYTES = 1 << 20


def check_writable(folder: str | os.PathLike, what: str = "cache folder") -> Path:
    """Create ``folder`` if needed and prove it can take a file (write ``PROBE_BYTES``, sync, remove);
    raise ``OSError`` with one line naming the folder when it is read-only, full or not a folder."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = _temporary(folder / "write-probe")
        fd = os.open(probe, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666)
        try:
            os.write(fd, b"\0" * PROBE_BYTES)
            os.fsync(fd)
        finally:
            os.close(fd)
            probe.unlink()
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise OSError(
            error.errno, f"{what} {folder} cannot take new files ({reason}): nothing was computed"
        ) from None
    return folder


# -- data-only state files ---------------------------------------------------------------------

#: the format name a state file carries (bump it when the layout changes)
STATE_FORMAT = "recursive_lib-state-1"
_HEADER, _HEADER_DIGEST = "__header__", "__header_sha256__"


class StateFileError(ValueError):
    """A file that is not a complete state file of this package (foreign, damaged or truncated)."""


class StateKeyError(ValueError):
    """A valid state file written for another key (another run, code version or input)."""


def _encode(value: Any, arrays: dict[str, np.ndarray], where: str) -> Any:
    """``value`` as JSON, its arrays and tensors moved to ``arrays`` (names ``a0``, ``a1``...)."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, float)) and type(value) in (int, float):
        return value
    if isinstance(value, (np.ndarray, np.generic)):
        if value.dtype.hasobject:
            raise TypeError(f"{where}: an array of Python objects cannot be stored in a state file")
        name = f"a{len(arrays)}"
        arrays[name] = np.asarray(value)
        return {"$": "array" if isinstance(value, np.ndarray) else "scalar", "name": name}
    if type(value).__module__.startswith("torch") and hasattr(value, "detach"):
        name = f"a{len(arrays)}"
        arrays[name] = value.detach().cpu().numpy().copy()
        return {"$": "tensor", "name": name}
    if isinstance(value, list):
        return [_encode(v, arrays, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, tuple):
        return {"$": "tuple", "items": [_encode(v, arrays, f"{where}[{i}]") for i, v in enumerate(value)]}
    if isinstance(value, Mapping):
        return {
            "$": "dict",
            "items": [
                [_encode(k, arrays, f"{where} key"), _encode(v, arrays, f"{where}[{k!r}]")]
                for k, v in value.items()
            ],
        }
    raise TypeError(
        f"{where}: a {type(value).__name__} cannot be stored in a state file (numbers, strings, "
        "lists, tuples, dicts, numpy arrays and torch tensors can)"
    )


def _decode(value: Any, arrays: Mapping[str, np.ndarray]) -> Any:
    if isinstance(value, list):
        return [_decode(v, arrays) for v in value]
    if not isinstance(value, dict):
        return value
    kind = value.get("$")
    if kind == "tuple":
        return tuple(_decode(v, arrays) for v in value["items"])
    if kind == "dict":
        return {_decode(k, arrays): _decode(v, arrays) for k, v in value["items"]}
    if kind == "array":
        return arrays[value["name"]]
    if kind == "scalar":
        return arrays[value["name"]][()]
    if kind == "tensor":
        import torch

        return torch.from_numpy(arrays[value["name"]])
    raise StateFileError(f"unknown entry {kind!r}")


def _arrays_digest(arrays: Mapping[str, np.ndarray]) -> str:
    digest = hashlib.sha256()
    for name in sorted(arrays):
        array = np.ascontiguousarray(arrays[name])
        digest.update(f"{name}:{array.dtype.str}:{array.shape};".encode())
        # the bytes themselves, without a copy (an empty array adds nothing)
        digest.update(array.view(np.uint8).reshape(-1).data if array.size else b"")
    return digest.hexdigest()


def write_state(path: str | os.PathLike, state: Mapping[str, Any], key: Mapping[str, Any]) -> None:
    """Write ``state`` to ``path`` atomically as data only: an ``.npz`` archive (NumPy's zip of
    ``.npy`` arrays) whose arrays are the numpy arrays and torch tensors of ``state``, and whose
    member ``__header__`` is JSON text holding everything else (numbers, strings, lists, dicts),
    ``key`` and a SHA-256 of the arrays; ``__header_sha256__`` is the SHA-256 of that text.
    :func:`read_state` loads it without unpickling anything."""
    arrays: dict[str, np.ndarray] = {}
    body = _encode(dict(state), arrays, "state")
    header = json.dumps(
        {
            "format": STATE_FORMAT,
            "key": json.loads(canonical_json(key)),
            "arrays": _arrays_digest(arrays),
            "state": body,
        },
        allow_nan=True,
    ).encode()
    members = {
        **arrays,
        _HEADER: np.frombuffer(header, dtype=np.uint8),
        _HEADER_DIGEST: np.frombuffer(hashlib.sha256(header).hexdigest().encode(), dtype=np.uint8),
    }
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        np.savez(handle, allow_pickle=False, **members)


def read_state(path: str | os.PathLike, key: Mapping[str, Any]) -> dict[str, Any]:
    """The state :func:`write_state` stored at ``path`` for ``key``.

    Raises :class:`StateFileError` when the file is not a complete state file (a pickle, another
    format, a damaged or truncated file: nothing in it is executed) and :class:`StateKeyError` when it
    was written for another key.
    """
    try:
        with np.load(path, allow_pickle=False) as archive:
            if not hasattr(archive, "files") or _HEADER not in archive.files:
                raise StateFileError("not a state file of this package")
            members = {name: archive[name] for name in archive.files}
        header = members.pop(_HEADER).tobytes()
        if members.pop(_HEADER_DIGEST, np.zeros(0, np.uint8)).tobytes().decode() != (
            hashlib.sha256(header).hexdigest()
        ):
            raise StateFileError("its header does not match its checksum")
        document = json.loads(header)
        if not isinstance(document, dict) or document.get("format") != STATE_FORMAT:
            raise StateFileError(f"not a {STATE_FORMAT} file")
        if document.get("arrays") != _arrays_digest(members):
            raise StateFileError("its arrays do not match their checksum")
    except StateFileError as error:
        raise StateFileError(f"{path}: {error}") from None
    except Exception as error:  # anything unreadable: a zip, npy or JSON error
        raise StateFileError(f"{path}: unreadable state file ({type(error).__name__}: {error})") from None
    if document["key"] != json.loads(canonical_json(key)):
        raise StateKeyError(
            f"{path} was written for {document['key']}, not for {json.loads(canonical_json(key))}"
        )
    return _decode(document["state"], members)
