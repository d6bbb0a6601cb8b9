"""The configuration of one continually trained run: the fields every experiment shares.

:class:`RunConfig` is a frozen, validated dataclass holding what the image, text and GPT-2 runs
have in common (the real share ``alpha``, the seeding, the loop's sizes, the training step, the
evaluation cadence, the checkpoint folder); each experiment subclasses it with its own fields and
defaults (:class:`~recursive_lib.experiments.images.ImagesConfig`,
:class:`~recursive_lib.experiments.text.TextConfig`,
:class:`~recursive_lib.experiments.gpt2.GPT2Config`), as :class:`recursive_lib.simulation.Config`
does for the simulated runs. A run takes the object or its fields as keywords (a sweep grid's
dicts), both the same run::

    run_text(TextConfig(alpha=0.5, T=10))
    run_text(alpha=0.5, T=10)

Seeding, the same in every experiment: ``seed`` (default 0) and ``rep`` give
``SeedSequence(seed, spawn_key=(rep,))`` (:func:`recursive_lib._rng.seed_sequence`), the same for
every ``alpha`` (common random numbers: iteration 1 is identical across alphas).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from recursive_lib._io import CHECKPOINT_ARGUMENT
from recursive_lib._validation import check_fields, check_int, check_range

__all__ = ["RunConfig", "as_config"]

C = TypeVar("C", bound="RunConfig")


@dataclass(frozen=True)
class RunConfig:
    """What every continually trained run shares (module docstring); subclasses add the rest.

    Parameters
    ----------
    alpha
        Real share of every batch after the first, in [0, 1] (0: the model trains on itself only).
    seed, rep
        Integers >= 0: the run's random numbers come from ``SeedSequence(seed, spawn_key=(rep,))``.
    T, m_total
        Iterations and items per iteration (>= 1).
    epochs, batch_size, lr
        Passes over each iteration's batch, items per optimizer step (>= 1), learning rate (> 0).
    eval_every
        Evaluate every this many iterations (and at 1 and ``T``), >= 1.
    snapshot_at
        Iterations in ``[1, T]`` whose training batch (images) or generated text (text) is kept;
        stored sorted, without repeats.
    checkpoint_dir
        Folder for the run's checkpoint (:mod:`recursive_lib.experiments._checkpoint`), so that
        an interrupted run resumes; removed when the run completes. ``None``: none. Where, not
        what: it does not name the checkpoint nor a sweep's cached result.
    """

    alpha: float
    seed: int = 0
    rep: int = 0
    T: int = 20
    m_total: int = 64
    epochs: int = 1
    batch_size: int = 16
    lr: float = 1e-3
    eval_every: int = 1
    snapshot_at: Sequence[int] = ()
    checkpoint_dir: str | None = None

    def __post_init__(self):
        self._set(
            alpha=check_range("alpha", self.alpha, 0.0, 1.0),
            seed=check_int("seed", self.seed, 0),
            rep=check_int("rep", self.rep, 0),
            T=check_int("T", self.T, 1),
            m_total=check_int("m_total", self.m_total, 1),
            epochs=check_int("epochs", self.epochs, 1),
            batch_size=check_int("batch_size", self.batch_size, 1),
            lr=check_range("lr", self.lr, 0.0, math.inf, low_inclusive=False, high_inclusive=False),
            eval_every=check_int("eval_every", self.eval_every, 1),
            snapshot_at=tuple(sorted({check_int("snapshot_at", s, 1) for s in self.snapshot_at})),
        )
        self._check_snapshot_at()
        if self.checkpoint_dir is not None and not isinstance(self.checkpoint_dir, str):
            self._set(checkpoint_dir=str(self.checkpoint_dir))

    def _check_snapshot_at(self) -> None:
        """``snapshot_at`` within ``[1, T]`` (a subclass may ask for more)."""
        if self.snapshot_at and self.snapshot_at[-1] > self.T:
            raise ValueError(
                f"snapshot_at must hold iterations in [1, T={self.T}], got {self.snapshot_at[-1]}"
            )

    def _set(self, **values) -> None:
        for name, value in values.items():
            object.__setattr__(self, name, value)

    def fields(self) -> dict[str, Any]:
        """The fields as a dict (values as they are; no deep copy of model or tokenizer objects)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    def key_fields(self) -> dict[str, Any]:
        """The fields that name the run's checkpoint: all of them but ``checkpoint_dir``."""
        return {k: v for k, v in self.fields().items() if k != CHECKPOINT_ARGUMENT}

    @classmethod
    def from_fields(cls: type[C], **fields) -> C:
        """``cls(**fields)``, with an unknown name reported as a ``ValueError`` that lists the fields
        and suggests the closest one."""
        check_fields(cls.__name__, fields, [f.name for f in dataclasses.fields(cls)])
        if "alpha" not in fields:
            raise ValueError(f"{cls.__name__} needs alpha, the real share in [0, 1]")
        return cls(**fields)

    def replace(self: C, **changes) -> C:
        """A copy with ``changes`` applied (validated again)."""
        return type(self).from_fields(**{**self.fields(), **changes})


def as_config(cls: type[C], config: C | None, fields: dict[str, Any]) -> C:
    """``config`` (an instance of ``cls``) with ``fields`` replaced, or ``cls`` built from ``fields``."""
    if config is None:
        return cls.from_fields(**fields)
    if not isinstance(config, cls):
        raise ValueError(
            f"config must be a {cls.__name__} (or pass its fields as keywords), got {type(config).__name__}"
        )
    return config.replace(**fields) if fields else config
