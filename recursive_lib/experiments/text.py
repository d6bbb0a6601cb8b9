"""The language-model experiment: a character GRU trained continually on English prose.

One run (:func:`run_text`) trains a :class:`~recursive_lib.continual.char_lm.CharLM` in the fresh
regime with :func:`recursive_lib.loops.continual.run_fresh` on the corpus of
:mod:`recursive_lib.data.corpus` and returns a tidy DataFrame, so that a grid of ``(alpha, rep)``
runs in parallel with :func:`recursive_lib.sweep.run_sweep`. The metrics are those of
:mod:`recursive_lib.metrics`: perplexity **per character** (``exp`` of the mean negative
log-likelihood in nats), predictive entropy (nats), and distinct-n of generated text, which is only
comparable at one sample size: :func:`real_distinct` computes the real-text reference at the size
used for generated text.
"""

from __future__ import annotations

import copy
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

import numpy as np
import pandas as pd

from recursive_lib._rng import seed_sequence
from recursive_lib._torch import placement
from recursive_lib._validation import check_choice, check_int
from recursive_lib.data.corpus import Corpus, load_corpus, to_blocks
from recursive_lib.experiments._checkpoint import checkpoint
from recursive_lib.experiments.config import RunConfig, as_config
from recursive_lib.loops.continual import run_fresh
from recursive_lib.metrics import distinct_n
from recursive_lib.rates import fit_slopes, summarize_slopes

__all__ = [
    "Decoder",
    "LanguageConfig",
    "METRICS",
    "TextConfig",
    "TextEvaluator",
    "evaluate_model",
    "evaluated",
    "final_levels",
    "real_distinct",
    "run_text",
    "slopes_by_alpha",
]


def real_distinct(
    corpus: Corpus,
    n_blocks: int,
    block_len: int,
    ns: Sequence[int] = (1, 2, 3),
    draws: int = 20,
    seed: int = 0,
    source: str = "train",
) -> pd.DataFrame:
    """Distinct-n of real text at the size used for generated text: the reference for distinct-n.

    ``draws`` random samples of ``n_blocks`` blocks of ``block_len`` characters from the training
    text (``source="train"``, the text the model learns, 71 topics in Python 3.11) or the held-out text
    (``"heldout"``, 8 topics, so fewer distinct words). Returns one row per ``n``: ``n, mean, sd``
    over the draws.
    """
    n_blocks = check_int("n_blocks", n_blocks, 1)
    draws = check_int("draws", draws, 1)
    check_choice("source", source, ("train", "heldout"))
    text = corpus.train_text if source == "train" else corpus.heldout_text
    blocks = to_blocks(corpus.encode(text), block_len)
    if n_blocks > len(blocks):
        raise ValueError(f"n_blocks must be at most the {len(blocks)} {source} blocks, got {n_blocks}")
    rng = np.random.default_rng(check_int("seed", seed, 0))
    rows = []
    samples = [corpus.decode(blocks[rng.choice(len(blocks), n_blocks, replace=False)]) for _ in range(draws)]
    for n in ns:
        values = np.array([distinct_n(s, n) for s in samples])
        rows.append(
            dict(n=int(n), mean=float(values.mean()), sd=float(values.std(ddof=1)) if draws > 1 else 0.0)
        )
    return pd.DataFrame(rows)


# -- runs ------------------------------------------------------------------------------------------


class Decoder(Protocol):
    """What the text metrics need of a vocabulary: ``decode(tokens (n, L)) -> list of n texts``."""

    def decode(self, tokens: np.ndarray) -> Any: ...


def evaluate_model(
    model,
    corpus: Decoder,
    heldout_blocks: np.ndarray,
    n_generate: int,
    rng: np.random.Generator,
    n_snippets: int = 0,
) -> dict:
    """The chapter's metrics of one trained model (a ``CharLM``, or ``continual.gpt2.GPT2LM``).

    ``corpus`` is anything with ``decode(tokens (n, L)) -> list of n texts`` (a
    :class:`~recursive_lib.data.corpus.Corpus`, or a
    :class:`~recursive_lib.data.wikitext.TokenizerText`).

    ``perplexity`` (per character) and ``entropy_heldout`` (nats) on ``heldout_blocks``;
    ``entropy_generated`` (nats, along the model's own samples) and ``distinct_1..3`` of
    ``n_generate`` generated blocks; with ``n_snippets > 0`` also the first generated blocks as
    text, ``sample_0 .. sample_{n_snippets-1}``.
    """
    nll, ent = model.score(heldout_blocks)
    tokens, gen_entropy = model.sample(n_generate, rng, return_entropy=True)
    texts = corpus.decode(tokens)
    out: dict[str, float | str] = dict(
        perplexity=float(np.exp(nll)), entropy_heldout=float(ent), entropy_generated=float(gen_entropy)
    )
    out.update({f"distinct_{n}": distinct_n(texts, n) for n in (1, 2, 3)})
    out.update({f"sample_{i}": texts[i] for i in range(min(n_snippets, len(texts)))})
    return out


class TextEvaluator:
    """``evaluate(model, rng)`` for :func:`~recursive_lib.loops.continual.run_fresh` (picklable, no closure).

    Keeps ``n_snippets`` generated texts at the iterations in ``snapshot_at`` (the model's
    ``iterations_`` minus the ``offset`` warm-up calls; the checkpoint restores the model, so a
    resumed run keeps the same columns).
    """

    def __init__(
        self,
        corpus: Decoder,
        heldout_blocks: np.ndarray,
        n_generate: int,
        snapshot_at: Sequence[int] = (),
        n_snippets: int = 3,
        offset: int = 0,
    ):
        self.corpus, self.heldout_blocks, self.n_generate = corpus, heldout_blocks, n_generate
        self.snapshot_at, self.n_snippets = frozenset(int(s) for s in snapshot_at), n_snippets
        self.offset = offset  # partial_fit calls before iteration 1 (the warm-up)

    def __call__(self, model, rng: np.random.Generator) -> dict:
        keep = self.n_snippets if model.iterations_ - self.offset in self.snapshot_at else 0
        return evaluate_model(model, self.corpus, self.heldout_blocks, self.n_generate, rng, keep)


@dataclass(frozen=True)
class LanguageConfig(RunConfig):
    """What a language-model run adds to :class:`~recursive_lib.experiments.config.RunConfig`,
    validated once for :class:`TextConfig` and :class:`~recursive_lib.experiments.gpt2.GPT2Config`:
    ``block_len`` (>= 2) per block, ``n_heldout`` (>= 1) held-out blocks scored, ``n_generate``
    (>= 1) generated blocks measured and ``n_snippets`` (in ``[0, n_generate]``) kept as text at
    the iterations of ``snapshot_at``."""

    block_len: int = 64
    n_heldout: int = 200
    n_generate: int = 100
    n_snippets: int = 3

    def _check_snapshot_at(self) -> None:
        check_snippets(self)

    def __post_init__(self):
        self._set(
            block_len=check_int("block_len", self.block_len, 2),
            n_heldout=check_int("n_heldout", self.n_heldout, 1),
            n_generate=check_int("n_generate", self.n_generate, 1),
            n_snippets=check_int("n_snippets", self.n_snippets, 0),
        )
        super().__post_init__()  # after these: it checks snapshot_at against them


@dataclass(frozen=True)
class TextConfig(LanguageConfig):
    """One validated configuration of :func:`run_text` (shared fields:
    :class:`~recursive_lib.experiments.config.RunConfig`).

    Parameters
    ----------
    T, m_total, block_len
        Iterations; blocks per iteration; characters per block (>= 2).
    epochs, batch_size, hidden, embed, lr
        Training per iteration and the model (see
        :class:`~recursive_lib.continual.char_lm.CharLM`, which validates them; ``batch_size``:
        blocks per optimizer step).
    n_heldout
        Held-out blocks scored for perplexity and entropy (>= 1; the first ``n_heldout`` of a
        fixed shuffle of the held-out blocks, the same for every run).
    n_generate
        Generated blocks behind entropy_generated and distinct-n (>= 1; distinct-n depends on it).
    warmup
        ``partial_fit`` calls (>= 0) on ``m_total`` real blocks before the recursive loop starts:
        a pre-trained model, as GPT-2 is before the paper fine-tunes it recursively (0: the loop
        starts from random weights). Alphas with the same ``rep`` share the warm-up.
    snapshot_at, n_snippets
        Evaluated iterations (multiples of ``eval_every``, 1 or ``T``) at which ``n_snippets``
        (in ``[0, n_generate]``) generated blocks are kept as text (columns ``sample_0`` ...).
    heldout_every
        The held-out split of :func:`recursive_lib.data.corpus.load_corpus`.
    """

    m_total: int = 64
    epochs: int = 2
    batch_size: int = 16
    hidden: int = 128
    embed: int = 32
    lr: float = 3e-3
    warmup: int = 0
    heldout_every: int = 10

    def __post_init__(self):
        self._set(warmup=check_int("warmup", self.warmup, 0))
        super().__post_init__()


def check_snippets(config) -> None:
    """``n_snippets <= n_generate``, and ``snapshot_at`` only at evaluated iterations."""
    if config.n_snippets > config.n_generate:
        raise ValueError(
            f"n_snippets must be at most n_generate={config.n_generate}, got {config.n_snippets}"
        )
    bad = [
        s
        for s in config.snapshot_at
        if s > config.T or not (s % config.eval_every == 0 or s in (1, config.T))
    ]
    if bad:
        raise ValueError(
            f"snapshot_at must hold evaluated iterations in [1, T={config.T}] (multiples of "
            f"eval_every={config.eval_every}, or T), got {bad}"
        )


def heldout_sample(heldout: np.ndarray, n_heldout: int, unit: str) -> np.ndarray:
    """The first ``n_heldout`` of a fixed shuffle of the held-out ``blocks`` (the same in every run)."""
    if n_heldout > len(heldout):
        raise ValueError(
            f"n_heldout must be at most the {len(heldout)} held-out blocks of {unit}, got {n_heldout}"
        )
    return heldout[np.random.default_rng(0).permutation(len(heldout))[:n_heldout]]


def run_text(config: TextConfig | None = None, /, **fields) -> pd.DataFrame:
    """One fresh-regime run of the character model on the pydoc corpus, as a tidy DataFrame.

    ``config`` (a :class:`TextConfig`) or its fields as keywords (both: the keywords replace
    fields of ``config``): ``run_text(alpha=0.5, T=20)``, as a sweep grid passes them. The run's
    random numbers come from ``SeedSequence(seed, spawn_key=(rep,))``
    (:mod:`recursive_lib.experiments.config`): the warm-up and the loop each get one child of it.

    Returns
    -------
    pandas.DataFrame
        One row per iteration: ``iteration, alpha, n_real, n_synthetic, loss`` (training loss, nats per
        character), ``real_taken, real_distinct, real_passes`` (real blocks of the loop so far, repeats
        included; the distinct ones among them, at most the pool size; passes through the pool begun:
        :class:`~recursive_lib.loops.continual.RealStream`; the warm-up's blocks are not counted), the
        metrics of :func:`evaluate_model` (NaN where not evaluated), ``rep``.
    """
    config = as_config(TextConfig, config, fields)
    from recursive_lib.continual.char_lm import CharLM  # torch, only when a run starts

    corpus = load_corpus(config.heldout_every)
    pool = to_blocks(corpus.encode(corpus.train_text), config.block_len)
    heldout = to_blocks(corpus.encode(corpus.heldout_text), config.block_len)
    heldout = heldout_sample(heldout, config.n_heldout, f"{config.block_len} characters")
    warm_seq, loop_seq = seed_sequence(config.seed, config.rep).spawn(2)
    model = CharLM(
        corpus.V,
        block_len=config.block_len,
        epochs=config.epochs,
        batch_size=config.batch_size,
        hidden=config.hidden,
        embed=config.embed,
        lr=config.lr,
    )
    evaluate = TextEvaluator(
        corpus, heldout, config.n_generate, config.snapshot_at, config.n_snippets, offset=config.warmup
    )
    with checkpoint(config.checkpoint_dir, "text", config.key_fields(), corpus.fingerprint) as saved:
        run = run_fresh(
            model,
            pool,
            config.alpha,
            config.m_total,
            config.T,
            seed=loop_seq,
            evaluate=evaluate,
            eval_every=config.eval_every,
            prepare=(
                WarmUp(pool, config.m_total, config.warmup, warm_seq, _warm_up_key(config, corpus))
                if config.warmup
                else None
            ),
            checkpoint=None if saved is None else saved.path,
            checkpoint_key=None if saved is None else saved.key,
        )
    return run.metrics.assign(rep=config.rep)


class WarmUp:
    """``prepare(model)`` for :func:`~recursive_lib.loops.continual.run_fresh`: ``calls`` ``partial_fit``
    calls on ``m_total`` real blocks drawn from ``pool`` (``(N, block_len)``) with the stream ``seq``.

    With a ``key`` (hashable; equal keys must mean equal warm-ups: the model's arguments, the pool,
    ``m_total``, ``calls`` and the seed), the warmed-up state (``model.get_state()``) is kept in the
    process (the last :attr:`kept`), and a later warm-up with the same key takes it back
    (``model.set_state``) instead of training again: the runs of one repetition share their warm-up
    across real fractions, so a sweep over ``alpha`` trains it once per process, not once per run.
    A restored state continues as the trained one does (the checkpoint tests check it).
    :meth:`forget` empties the store.
    """

    #: warmed-up states a process keeps (a few small networks)
    kept: ClassVar[int] = 8
    _states: ClassVar[OrderedDict[Hashable, dict]] = OrderedDict()

    def __init__(
        self, pool: np.ndarray, m_total: int, calls: int, seq: np.random.SeedSequence, key: Hashable = None
    ):
        self.pool, self.m_total, self.calls, self.seq, self.key = pool, m_total, calls, seq, key

    def __call__(self, model) -> None:
        states = WarmUp._states
        if self.key is not None and self.key in states:
            states.move_to_end(self.key)
            model.set_state(copy.deepcopy(states[self.key]))
            return
        rng = np.random.default_rng(self.seq)
        for _ in range(self.calls):
            model.partial_fit(self.pool[rng.choice(len(self.pool), self.m_total, replace=False)], rng)
        if self.key is not None and self.kept > 0:
            states[self.key] = copy.deepcopy(model.get_state())
            while len(states) > self.kept:
                states.popitem(last=False)

    @staticmethod
    def forget() -> None:
        """Drop the warmed-up states kept so far (the next warm-up of every key trains)."""
        WarmUp._states.clear()


#: the :class:`TextConfig` fields that do not touch the warm-up (it is the same for every value)
_NOT_WARM_UP = ("alpha", "T", "eval_every", "snapshot_at", "n_heldout", "n_generate", "n_snippets")


def _warm_up_key(config: TextConfig, corpus: Corpus) -> tuple:
    """What determines a run's warm-up: every field but those of :data:`_NOT_WARM_UP` (and where
    checkpoints go), the corpus, and the device and precision the model trains in."""
    place = placement()
    fields = {k: v for k, v in config.key_fields().items() if k not in _NOT_WARM_UP}
    return (corpus.fingerprint, str(place.device), str(place.dtype), *sorted(fields.items()))


def _corpus_fingerprint(heldout_every: int = 10, **_) -> str:
    return load_corpus(heldout_every).fingerprint


#: what a cached run_text result depends on besides its arguments: the corpus (it changes with
#: the Python version that ships it)
run_text.fingerprint = _corpus_fingerprint  # type: ignore[attr-defined]  # read by sweep.input_fingerprint


# -- summaries of a sweep --------------------------------------------------------------------------

#: The metric columns of a run, in the order the chapter reports them.
METRICS = ("perplexity", "entropy_heldout", "entropy_generated", "distinct_1", "distinct_2", "distinct_3")


def evaluated(results: pd.DataFrame) -> pd.DataFrame:
    """The evaluated rows of :func:`run_text` results (those with a perplexity), ``n = iteration``."""
    for column in ("iteration", "alpha", "rep", "perplexity"):
        if column not in results.columns:
            raise ValueError(
                f"results must be run_text output with column {column!r}; got columns {list(results.columns)}"
            )
    return results.dropna(subset=["perplexity"]).assign(n=lambda d: d["iteration"])


def rep_levels(results: pd.DataFrame, metrics: Sequence[str] = METRICS, last: int = 1) -> pd.DataFrame:
    """Each repetition's level of every metric at the end of its run: its mean over its last
    ``last`` evaluations. Returns one row per (alpha, rep): ``alpha, rep, *metrics``."""
    last = check_int("last", last, 1)
    rows = evaluated(results)
    tail = rows[rows.groupby(["alpha", "rep"])["n"].rank(ascending=False) <= last]
    return tail.groupby(["alpha", "rep"], as_index=False)[list(metrics)].mean()


def final_levels(
    results: pd.DataFrame,
    metrics: Sequence[str] = METRICS,
    last: int = 1,
    confidence: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """Each metric at the end of the runs, per alpha, with a Student-t interval over repetitions.

    A repetition's level is its mean over its last ``last`` evaluations. Returns one row per
    (metric, alpha): ``metric, alpha, mean, se, lo, hi, reps`` (``se``, ``lo``, ``hi`` NaN with a
    single repetition: no interval).
    """
    per_rep = rep_levels(results, metrics, last)
    parts = []
    for metric in metrics:
        level = per_rep[["alpha", "rep", metric]]
        # summarize_slopes is the book's Student-t interval over repetitions; here of a level
        summary = summarize_slopes(
            level.rename(columns={metric: "slope"}), by="alpha", confidence=confidence, seed=seed
        )
        parts.append(summary.rename(columns={"slope": "mean"}).assign(metric=metric))
    out = pd.concat(parts, ignore_index=True)
    return out[["metric", "alpha", "mean", "se", "lo", "hi", "reps"]]


def slopes_by_alpha(
    results: pd.DataFrame,
    metric: str = "perplexity",
    burn_in: int = 0,
    confidence: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """Log-log slope of ``metric`` against the iteration, per alpha, Student-t interval over
    repetitions (:func:`recursive_lib.rates.summarize_slopes`).

    The book's convention (:func:`recursive_lib.rates.fit_slopes`): ``slope = -d log(metric) /
    d log(n)``, positive when the metric falls. Returns ``alpha, slope, se, lo, hi, reps``
    (``se``, ``lo``, ``hi`` NaN with a single repetition).
    """
    slopes = fit_slopes(evaluated(results), metric=metric, burn_in=burn_in, x="n", by="alpha")
    return summarize_slopes(slopes, by="alpha", confidence=confidence, seed=seed)
