"""The ``fresh`` regime for models that keep training: the paper's image and text experiments.

This module is the loop (:func:`run_fresh`, which trains any :class:`ContinualModel`); the package
:mod:`recursive_lib.continual` holds the models it trains (the DDPM, the character GRU, GPT-2),
which know nothing of the loop.

The simulations of the rate theorems refit an estimator from scratch at every iteration
(:mod:`recursive_lib.loops.reference`). The paper's DDPM and GPT-2 runs do not: one network keeps training,
and every iteration hands it a new batch of ``m_total`` items, a share ``alpha`` of them fresh
real data and the rest sampled from the network as it is now (the paper's image and text
experiments; chapters ``chapters/images.md`` and ``chapters/text.md``):

1. iteration 1: ``m_total`` real items;
2. iteration ``n >= 2``: ``round(alpha m_total)`` fresh real items and
   ``m_total - round(alpha m_total)`` items sampled from the current model;
3. the model trains further on the batch (``model.partial_fit``);
4. it is evaluated (``evaluate(model, rng)``) at iteration 1, every ``eval_every`` iterations and
   at ``T``.

Real items come from a finite training pool (8x8 digits, a text corpus): they are taken in the order
of a random permutation of the pool, reshuffled when it runs out, so that no real item repeats
before every other one has been used. After that they do repeat: the rows count the real items
taken, the distinct ones among them and the passes through the pool, so that a chapter can say
how much *new* real data a run saw.

A model is any object with ``partial_fit(batch, rng) -> float`` (mean training loss) and
``sample(n, rng) -> ndarray`` (``n`` items shaped like the pool's rows). It draws every random number
from ``rng`` (torch ops through :func:`recursive_lib._torch.torch_generator`), so that one seed determines the run and a
run resumed from its checkpoint is identical to one that never stopped (a test checks it).

Checkpoints hold data only (``recursive_lib._io.write_state``: arrays, tensors and JSON, never a
pickle): the model's ``get_state()`` (a dict of arrays, tensors, numbers; the torch models return
their weights' and optimizer's state dicts) or, for a model without one, its attributes; the random
streams' states; the real stream's position; the rows and snapshots so far. On resume a new model
built with the same arguments takes that state back (``set_state(state)``, or its attributes).
The file is checked against a key before anything in it is used: the run's arguments, the seed,
the code version, a hash of the real pool, and ``checkpoint_key`` (what the caller adds: an
experiment's arguments and input fingerprints).
"""

from __future__ import annotations

import hashlib
import os
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from recursive_lib._io import StateFileError, code_version, read_state, write_state
from recursive_lib._progress import progress_bar
from recursive_lib._validation import check_int, check_range

__all__ = ["ContinualModel", "FreshRun", "RealStream", "run_fresh"]


class ContinualModel(Protocol):
    """What :func:`run_fresh` needs of a model."""

    def partial_fit(self, batch: np.ndarray, rng: np.random.Generator) -> float:
        """Train further on ``batch`` (``(m_total, ...)``); return the mean training loss."""

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` generated items, shaped ``(n, ...)`` like the rows of the real pool."""

    # Optional, for checkpoints: get_state() -> dict of arrays, tensors and numbers, and
    # set_state(state) -> self on a new model built with the same arguments. Without them a
    # checkpoint stores the model's attributes (which must then be such data).


class RealStream:
    """Real items in the order of a random permutation of ``pool``, reshuffled when exhausted.

    It counts what it hands out: ``taken`` (real items so far, repeats included), ``distinct``
    (distinct pool items among them, read from a mask of the items used, not from a formula) and
    ``passes`` (permutations of the pool begun: 1 until the pool is used up, then 2, ...). Once
    ``taken`` exceeds the pool size, real items repeat: "fresh" real data is then reused data.
    """

    def __init__(self, pool: np.ndarray, rng: np.random.Generator):
        self.pool = pool
        self._order = rng.permutation(len(pool))
        self._next = 0
        self._seen = np.zeros(len(pool), dtype=bool)
        self.taken = 0
        self.passes = 1

    @property
    def distinct(self) -> int:
        """Distinct pool items handed out so far."""
        return int(self._seen.sum())

    def take(self, k: int, rng: np.random.Generator) -> np.ndarray:
        """The next ``k`` items (``k`` at most the pool size, so no item repeats within a batch)."""
        if k > len(self.pool):
            raise ValueError(
                f"a batch asks for {k} real items but the pool holds {len(self.pool)}; "
                "m_total must be at most the pool size"
            )
        picked = self._order[self._next : self._next + k]
        self._next += len(picked)
        if len(picked) < k:
            # A new permutation of the items this batch has not used yet, then the rest.
            rest = np.setdiff1d(np.arange(len(self.pool)), picked)
            self._order = np.concatenate([rng.permutation(rest), picked[rng.permutation(len(picked))]])
            self._next = k - len(picked)
            picked = np.concatenate([picked, self._order[: self._next]])
            self.passes += 1
        self._seen[picked] = True
        self.taken += len(picked)
        return self.pool[picked]

    def position(self) -> dict:
        """Where the stream stands (data only, for a checkpoint)."""
        return dict(order=self._order, next=self._next, seen=self._seen, taken=self.taken, passes=self.passes)

    def restore(self, position: Mapping[str, Any]) -> None:
        """Go back to a :meth:`position`."""
        self._order, self._next, self._seen = position["order"], position["next"], position["seen"]
        self.taken, self.passes = position["taken"], position["passes"]


@dataclass
class FreshRun:
    """The result of :func:`run_fresh`.

    ``metrics``: one row per iteration: ``iteration``, ``alpha``, ``n_real``, ``n_synthetic``,
    ``loss``, ``real_taken`` (real items trained on so far, repeats included), ``real_distinct``
    (distinct real items among them, at most the pool size), ``real_passes`` (passes through the
    pool begun, see :class:`RealStream`) and the columns ``evaluate`` returns (NaN where not
    evaluated).
    ``snapshots``: ``{iteration: (batch, is_real)}``, the training batch of that iteration and a
    boolean mask of its real items.
    ``model``: the trained model (the object passed in; after a resume, holding the checkpoint's state).
    """

    metrics: pd.DataFrame
    snapshots: dict[int, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    model: Any = None


def _check(alpha, m_total, T, eval_every, snapshot_at, n_pool) -> tuple[int, ...]:
    check_range("alpha", alpha, 0.0, 1.0)
    check_int("m_total", m_total, 1)
    check_int("T", T, 1)
    check_int("eval_every", eval_every, 1)
    if m_total > n_pool:
        raise ValueError(f"m_total must be at most the real pool size {n_pool}, got {m_total}")
    snapshot_at = tuple(sorted({int(check_int("snapshot_at", s, 1)) for s in snapshot_at}))
    if snapshot_at and snapshot_at[-1] > T:
        raise ValueError(f"snapshot_at must hold iterations in [1, T={T}], got {snapshot_at[-1]}")
    return snapshot_at


def run_fresh(
    model: ContinualModel,
    real_pool: np.ndarray,
    alpha: float,
    m_total: int,
    T: int,
    *,
    seed: int | np.random.SeedSequence,
    evaluate: Callable[[Any, np.random.Generator], dict[str, float]] | None = None,
    eval_every: int = 1,
    snapshot_at=(),
    prepare: Callable[[Any], Any] | None = None,
    checkpoint: str | os.PathLike | None = None,
    checkpoint_key: Mapping[str, Any] | None = None,
    progress: bool = False,
) -> FreshRun:
    """Fresh-regime recursive training of one continually trained ``model`` (module docstring).

    Long only by its parameters: it checks them, starts (``_start``: a resume or a warm-up)
    and loops (``_iteration``).

    Parameters
    ----------
    model
        See :class:`ContinualModel`; trained in place.
    real_pool
        ``(N, ...)`` real training items.
    alpha
        Real share of every batch after the first, in [0, 1] (0: all synthetic).
    m_total
        Items per iteration, at most ``N`` (the paper's images: 300).
    T
        Iterations.
    seed
        An integer or a ``SeedSequence``; determines every random number of the run.
    evaluate
        ``evaluate(model, rng) -> {metric: value}``, called at iteration 1 (the point every
        real fraction shares), every ``eval_every`` iterations and at ``T``, with its own random
        stream (so the evaluation cadence does not change training).
    snapshot_at
        Iterations whose training batch is kept.
    prepare
        ``prepare(model)``, called once before iteration 1 when the run starts (not when it
        resumes from a checkpoint, whose model state includes it): a warm-up, say.
    checkpoint
        A file. After every iteration the whole state (model, random streams, rows so far)
        is written there atomically, as data only (module docstring); a call with the same
        arguments and an existing checkpoint resumes from it. A checkpoint of another run raises
        ``ValueError``; a file that is not a complete checkpoint (damaged, foreign) is ignored
        with a warning and overwritten. Delete the file to start again.
    checkpoint_key
        What else names the run (JSON-like), stored in the checkpoint and checked on resume:
        the arguments ``model`` was built from and the fingerprints of the inputs.
    progress
        A tqdm bar over iterations (silent when ``CI`` is set).
    """
    real_pool = np.asarray(real_pool)
    snapshot_at = _check(alpha, m_total, T, eval_every, snapshot_at, len(real_pool))
    seq = (
        seed
        if isinstance(seed, np.random.SeedSequence)
        else np.random.SeedSequence(check_int("seed", seed, 0))
    )
    key: dict[str, Any] = {}  # what a checkpoint must match (only with a checkpoint)
    if checkpoint is not None:
        run = dict(alpha=float(alpha), m_total=int(m_total), T=int(T), eval_every=int(eval_every))
        key = _checkpoint_key(run, seq, real_pool, checkpoint_key)
    state = _start(model, real_pool, seq, checkpoint, key, prepare)
    with progress_bar(
        total=T, initial=state.done, desc=f"fresh alpha={alpha}", unit="iteration", enabled=progress
    ) as bar:
        for n in range(state.done + 1, T + 1):
            due = evaluate is not None and (n % eval_every == 0 or n in (1, T))
            batch = _iteration(model, state, n, alpha, m_total, evaluate if due else None)
            if n in snapshot_at:
                state.snapshots[n] = batch
            if checkpoint is not None:
                write_state(checkpoint, state.to_data(model), key)
            bar.update()
    return FreshRun(pd.DataFrame(state.rows), dict(state.snapshots), model)


@dataclass
class _RunState:
    """Everything a run carries from one iteration to the next (and a checkpoint stores)."""

    train_rng: np.random.Generator
    eval_rng: np.random.Generator
    stream: RealStream
    rows: list[dict] = field(default_factory=list)
    snapshots: dict[int, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    done: int = 0  # iterations completed

    def to_data(self, model) -> dict:
        """The checkpoint's content: data only (module docstring)."""
        return dict(
            model=_model_state(model),
            train_rng=self.train_rng.bit_generator.state,
            eval_rng=self.eval_rng.bit_generator.state,
            stream=self.stream.position(),
            rows=self.rows,
            snapshots=self.snapshots,
            done=self.done,
        )


def _start(model, real_pool, seq, checkpoint, key, prepare) -> _RunState:
    """The state at the start: resumed from ``checkpoint`` when it holds this run, else new (and
    then warmed up by ``prepare``)."""
    train_seq, eval_seq = seq.spawn(2)
    train_rng, eval_rng = np.random.default_rng(train_seq), np.random.default_rng(eval_seq)
    state = _RunState(train_rng, eval_rng, RealStream(real_pool, train_rng))
    saved = None if checkpoint is None else _resume(checkpoint, key)
    if saved is not None:
        _set_model_state(model, saved["model"])
        state.train_rng, state.eval_rng = _generator(saved["train_rng"]), _generator(saved["eval_rng"])
        state.stream.restore(saved["stream"])
        state.rows, state.snapshots, state.done = saved["rows"], saved["snapshots"], saved["done"]
    if state.done == 0 and prepare is not None:
        prepare(model)
    return state


def _checkpoint_key(run: dict, seq: np.random.SeedSequence, real_pool: np.ndarray, caller) -> dict:
    """What a checkpoint must match to be resumed: the run's arguments, the seed, the pool's
    shape and hash, the code version and what the caller adds (module docstring)."""
    return dict(
        run,
        entropy=seq.entropy,
        spawn_key=seq.spawn_key,
        pool_shape=real_pool.shape,
        code_version=code_version(),
        pool=_array_hash(real_pool),
        caller=None if caller is None else dict(caller),
    )


def _iteration(
    model, state: _RunState, n: int, alpha: float, m_total: int, evaluate
) -> tuple[np.ndarray, np.ndarray]:
    """Iteration ``n``: build the batch, train on it, append its row (evaluated when ``evaluate``
    is not ``None``). Returns the batch and the mask of its real items."""
    n_real = m_total if n == 1 else int(round(alpha * m_total))
    batch = _batch(model, state, n_real, m_total)
    row = dict(
        iteration=n,
        alpha=float(alpha),
        n_real=n_real,
        n_synthetic=m_total - n_real,
        loss=float(model.partial_fit(batch, state.train_rng)),
        real_taken=state.stream.taken,
        real_distinct=state.stream.distinct,
        real_passes=state.stream.passes,
    )
    if evaluate is not None:
        row.update(evaluate(model, state.eval_rng))
    state.rows.append(row)
    state.done = n
    return batch, np.arange(m_total) < n_real


def _batch(model, state: _RunState, n_real: int, m_total: int) -> np.ndarray:
    """One iteration's training batch: ``n_real`` real items, then ``m_total - n_real`` samples
    of the model as it is now."""
    real = state.stream.take(n_real, state.train_rng)
    if n_real == m_total:
        return real
    synthetic = np.asarray(model.sample(m_total - n_real, state.train_rng))
    return np.concatenate([real, synthetic.astype(real.dtype, copy=False)])


def _array_hash(array: np.ndarray) -> str:
    array = np.ascontiguousarray(array)
    digest = hashlib.sha256(f"{array.dtype.str}:{array.shape};".encode())
    # the bytes themselves, without a copy (an empty array adds nothing)
    digest.update(array.view(np.uint8).reshape(-1).data if array.size else b"")
    return digest.hexdigest()


def _model_state(model) -> dict:
    return model.get_state() if hasattr(model, "get_state") else dict(vars(model))


def _set_model_state(model, state: dict) -> None:
    if hasattr(model, "set_state"):
        model.set_state(state)
    else:
        vars(model).update(state)


#: the numpy bit generators a checkpoint may name (nothing else is looked up by name)
BIT_GENERATORS = ("PCG64", "PCG64DXSM", "Philox", "SFC64", "MT19937")


def _generator(state: dict) -> np.random.Generator:
    """A numpy Generator in the state ``bit_generator.state`` returned."""
    name = state.get("bit_generator") if isinstance(state, dict) else None
    if name not in BIT_GENERATORS:
        raise ValueError(f"a checkpoint's random stream must be one of {BIT_GENERATORS}, got {name!r}")
    bit_generator = getattr(np.random, name)()
    bit_generator.state = state
    return np.random.Generator(bit_generator)


def _resume(path, key: dict) -> dict | None:
    if not Path(path).exists():
        return None
    try:
        return read_state(path, key)
    except StateFileError as error:
        warnings.warn(
            f"{error}; starting the run again (the file will be overwritten)", RuntimeWarning, stacklevel=3
        )
        return None
    except ValueError as error:  # a valid checkpoint of another run
        raise ValueError(
            f"checkpoint {path} belongs to another run ({error}); delete it or pass another checkpoint path"
        ) from None
