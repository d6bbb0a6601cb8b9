"""Real English text for the language-model experiment: corpus, tokens, held-out split, metrics, runs.

The paper retrains GPT-2 on WikiText; neither can be fetched here. The offline default is the
English reference documentation that every CPython ships in the standard library,
``pydoc_data.topics.topics`` (79 topics, about 0.46 MB of raw text in Python 3.11): the text
``help("with")`` prints. The text differs slightly between Python versions, so results are
reproducible for one Python version (the corpus fingerprint is :attr:`Corpus.fingerprint`).

Pipeline (one way: corpus -> blocks -> recursive training -> tidy metrics):

- :func:`clean_topic`: light cleaning. Paragraphs are split at blank lines; headings, their
  underlines, code examples and grammar rules are dropped (a paragraph is kept when it reads as
  prose: at least ``MIN_WORDS`` words, no grammar ``::=`` or prompt ``>>>``, laid out as prose
  rather than as nested or aligned code, and at least 90% of its characters letters, spaces or
  common punctuation); line breaks inside a paragraph become spaces;
  typographic quotes become ASCII; everything is lower-cased; characters outside printable ASCII are
  dropped. Paragraphs are joined by a newline.
- :func:`load_corpus`: the split is **by topic**, not by character: topics sorted by name, every
  ``heldout_every``-th one (starting at index ``heldout_every // 2``) is held out, so held-out text
  is documentation the model has never seen, not a neighbour of a training sentence. Topics
  overlap (``specialnames`` contains ``customization`` and ``attribute-access`` whole), so
  paragraphs are de-duplicated and every held-out paragraph is removed from the training text.
- Tokens are characters (:class:`Corpus` ``encode`` / ``decode``, vocabulary ``V`` symbols); the
  real pool is the training text cut into non-overlapping blocks of ``block_len`` characters,
  an int array ``(N, block_len)`` (:func:`to_blocks`).

Metrics (:func:`distinct_n`, :func:`perplexity`, :func:`entropy`): perplexity is **per character**,
``exp`` of the mean negative log-likelihood in nats; predictive entropy is the mean entropy (nats)
of the model's next-character distribution; distinct-n is the number of distinct word n-grams over
the number of word n-grams, pooled over a sample of blocks (words are runs of letters and digits;
n-grams never cross a block boundary). Distinct-n grows as the sample shrinks, so it is only
comparable at one sample size: :func:`real_distinct` computes the real-text reference at the size
used for generated text.

Runs: :func:`run_text` trains one :class:`~recursive_lib.estimators.language_model.CharLM` in the
fresh regime with :func:`recursive_lib.continued.run_fresh` and returns a tidy DataFrame, so that a
grid of ``(alpha, rep)`` runs in parallel with :func:`recursive_lib.sweep.run_sweep`.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from recursive_lib._validation import check_choice, check_int, check_range

__all__ = ["Corpus", "clean_topic", "load_corpus", "to_blocks", "words", "distinct_n",
           "perplexity", "entropy", "real_distinct", "run_text", "evaluate_model", "TextEvaluator",
           "METRICS", "evaluated", "final_levels", "trend"]

#: A paragraph shorter than this (in words) is a heading, a label or a fragment: dropped.
MIN_WORDS = 8
_PROSE = set("abcdefghijklmnopqrstuvwxyz0123456789 .,;:'\"()-?!")
_ASCII = {"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2026": "...",
          "\u2014": "-", "\u2013": "-", "\u00df": "ss", "\u00b0": " degrees"}
_WORD = re.compile(r"[a-z0-9]+")
_INNER_SPACES = re.compile(r"(?<![.:?!)\"'\u2019\u201d])  +\S")


def _is_prose_layout(paragraph: str) -> bool:
    """Laid out as prose: the lines after the first share one indentation (code nests), and no
    run of spaces inside a line except after the end of a sentence (code aligns its comments)."""
    lines = [line for line in paragraph.split("\n") if line.strip()]
    if not lines:
        return False
    indents = {len(line) - len(line.lstrip(" ")) for line in lines[1:]}
    if len(indents) > 1 or (indents and min(indents) < len(lines[0]) - len(lines[0].lstrip(" "))):
        return False
    return not any(_INNER_SPACES.search(line.strip()) for line in lines)


def clean_topic(raw: str) -> str:
    """The prose paragraphs of one documentation topic, cleaned (module docstring); may be empty."""
    if not isinstance(raw, str):
        raise ValueError(f"raw must be a string of documentation text, got {type(raw).__name__}")
    for fancy, plain in _ASCII.items():
        raw = raw.replace(fancy, plain)
    kept = []
    for paragraph in re.split(r"\n\s*\n", raw):
        if "::=" in paragraph or ">>>" in paragraph or not _is_prose_layout(paragraph):
            continue
        text = " ".join(paragraph.split()).lower()
        text = "".join(c for c in text if " " <= c <= "~")
        if len(text.split()) < MIN_WORDS:
            continue
        if sum(c in _PROSE for c in text) < 0.9 * len(text):
            continue
        kept.append(text)
    return "\n".join(kept)


@dataclass(frozen=True)
class Corpus:
    """The cleaned corpus, split by topic.

    ``train_text`` / ``heldout_text``: the topics' cleaned texts joined by a newline;
    ``train_topics`` / ``heldout_topics``: topic names; ``vocab``: the sorted symbols of the whole
    corpus (``V = len(vocab)``; token ``i`` is ``vocab[i]``).
    """

    train_text: str
    heldout_text: str
    train_topics: tuple[str, ...]
    heldout_topics: tuple[str, ...]
    vocab: str
    _index: dict = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self):
        self._index.update({c: i for i, c in enumerate(self.vocab)})

    @property
    def V(self) -> int:
        return len(self.vocab)

    @property
    def fingerprint(self) -> str:
        """First 12 hex digits of the SHA-256 of both texts: changes with the Python version."""
        digest = hashlib.sha256((self.train_text + "\0" + self.heldout_text).encode()).hexdigest()
        return digest[:12]

    def encode(self, text: str) -> np.ndarray:
        """``(len(text),)`` int64 token ids; raises ``ValueError`` for a symbol outside the vocabulary."""
        try:
            return np.fromiter((self._index[c] for c in text), dtype=np.int64, count=len(text))
        except KeyError as err:
            raise ValueError(f"text holds the symbol {err.args[0]!r}, which is not in the "
                             f"vocabulary of {self.V} symbols") from None

    def decode(self, tokens) -> str | list[str]:
        """Text of a 1-D token array; a list of texts (one per row) for a 2-D array."""
        tokens = np.asarray(tokens)
        if tokens.ndim == 2:
            return [self.decode(row) for row in tokens]
        if tokens.ndim != 1 or (tokens.size and (tokens.min() < 0 or tokens.max() >= self.V)):
            raise ValueError(f"tokens must be a 1-D or 2-D array of ids in [0, {self.V - 1}], "
                             f"got shape {tokens.shape}")
        return "".join(self.vocab[i] for i in tokens)


@lru_cache(maxsize=8)
def load_corpus(heldout_every: int = 10) -> Corpus:
    """The pydoc_data corpus (offline, standard library), every ``heldout_every``-th topic held out.

    Deterministic: topics in name order, held-out indices ``heldout_every // 2 + k heldout_every``.
    """
    check_int("heldout_every", heldout_every, 2)
    from pydoc_data.topics import topics

    names = sorted(topics)
    cleaned = {name: clean_topic(topics[name]) for name in names}
    names = [name for name in names if cleaned[name]]
    held = {name for i, name in enumerate(names) if i % heldout_every == heldout_every // 2}
    train = tuple(n for n in names if n not in held)
    heldout = tuple(n for n in names if n in held)
    # Topics overlap (``specialnames`` contains ``customization`` whole): keep every paragraph
    # once, and none of the held-out ones in the training text.
    heldout_paragraphs = _unique(p for n in heldout for p in cleaned[n].split("\n"))
    unseen = set(heldout_paragraphs)
    train_paragraphs = [p for p in _unique(p for n in train for p in cleaned[n].split("\n"))
                        if p not in unseen]
    train_text = "\n".join(train_paragraphs)
    heldout_text = "\n".join(heldout_paragraphs)
    vocab = "".join(sorted(set(train_text) | set(heldout_text)))
    return Corpus(train_text, heldout_text, train, heldout, vocab)


def _unique(paragraphs: Iterable[str]) -> list[str]:
    """Paragraphs in order, each kept at its first occurrence."""
    return list(dict.fromkeys(paragraphs))


def to_blocks(tokens, block_len: int) -> np.ndarray:
    """Non-overlapping blocks ``(len(tokens) // block_len, block_len)`` of a 1-D token array (tail dropped)."""
    block_len = check_int("block_len", block_len, 2)
    tokens = np.asarray(tokens)
    if tokens.ndim != 1:
        raise ValueError(f"tokens must be a 1-D array, got shape {tokens.shape}")
    n = len(tokens) // block_len
    if n == 0:
        raise ValueError(f"block_len must be at most the number of tokens {len(tokens)}, got {block_len}")
    return tokens[: n * block_len].reshape(n, block_len)


# -- metrics -------------------------------------------------------------------------------------

def words(text: str) -> list[str]:
    """Word tokens of a text: runs of letters and digits (lower case; punctuation dropped)."""
    return _WORD.findall(text.lower())


def distinct_n(texts: str | Iterable[str], n: int) -> float:
    """Distinct-n: distinct word n-grams / word n-grams, pooled over ``texts`` (no n-gram crosses texts).

    ``NaN`` when the texts hold no n-gram. Depends on the sample size: compare at equal sizes.

    >>> distinct_n(["a b a b"], 1), distinct_n(["a b a b"], 2)
    (0.5, 0.6666666666666666)
    """
    n = check_int("n", n, 1)
    texts = [texts] if isinstance(texts, str) else list(texts)
    grams: Counter = Counter()
    for text in texts:
        w = words(text)
        grams.update(tuple(w[i:i + n]) for i in range(len(w) - n + 1))
    total = sum(grams.values())
    return len(grams) / total if total else float("nan")


def perplexity(nll) -> float:
    """``exp(mean nll)``: the perplexity of per-token negative log-likelihoods in nats."""
    nll = np.asarray(nll, dtype=float)
    if nll.size == 0 or not np.all(np.isfinite(nll)) or np.any(nll < 0):
        raise ValueError("nll must be a non-empty array of finite negative log-likelihoods >= 0")
    return float(np.exp(nll.mean()))


def entropy(probs, axis: int = -1) -> np.ndarray:
    """Entropy in nats of distributions along ``axis`` (``0 log 0 = 0``); uniform over V gives ``log V``."""
    probs = np.asarray(probs, dtype=float)
    if probs.size == 0 or np.any(probs < 0) or not np.allclose(probs.sum(axis=axis), 1.0, atol=1e-6):
        raise ValueError("probs must hold probability vectors: entries >= 0 summing to 1 along axis")
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(probs > 0, probs * np.log(probs), 0.0)
    return -terms.sum(axis=axis)


def real_distinct(corpus: Corpus, n_blocks: int, block_len: int, ns: Sequence[int] = (1, 2, 3),
                  draws: int = 20, seed: int = 0, source: str = "train") -> pd.DataFrame:
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
    samples = [corpus.decode(blocks[rng.choice(len(blocks), n_blocks, replace=False)])
               for _ in range(draws)]
    for n in ns:
        values = np.array([distinct_n(s, n) for s in samples])
        rows.append(dict(n=int(n), mean=float(values.mean()), sd=float(values.std(ddof=1)) if draws > 1 else 0.0))
    return pd.DataFrame(rows)


# -- runs ------------------------------------------------------------------------------------------

def evaluate_model(model, corpus: Corpus, heldout_blocks: np.ndarray, n_generate: int,
                   rng: np.random.Generator, n_snippets: int = 0) -> dict:
    """The chapter's metrics of one trained model (a ``CharLM``, or ``hf_text.GPT2LM``).

    ``corpus`` is anything with ``decode(tokens (n, L)) -> list of n texts`` (a :class:`Corpus`,
    or ``hf_text.TokenizerText``).

    ``perplexity`` (per character) and ``entropy_heldout`` (nats) on ``heldout_blocks``;
    ``entropy_generated`` (nats, along the model's own samples) and ``distinct_1..3`` of
    ``n_generate`` generated blocks; with ``n_snippets > 0`` also the first generated blocks as
    text, ``sample_0 .. sample_{n_snippets-1}``.
    """
    nll, ent = model.score(heldout_blocks)
    tokens, gen_entropy = model.sample(n_generate, rng, return_entropy=True)
    texts = corpus.decode(tokens)
    out = dict(perplexity=float(np.exp(nll)), entropy_heldout=float(ent),
               entropy_generated=float(gen_entropy))
    out.update({f"distinct_{n}": distinct_n(texts, n) for n in (1, 2, 3)})
    out.update({f"sample_{i}": texts[i] for i in range(min(n_snippets, len(texts)))})
    return out


class TextEvaluator:
    """``evaluate(model, rng)`` for :func:`~recursive_lib.continued.run_fresh` (picklable, no closure).

    Keeps ``n_snippets`` generated texts at the iterations in ``snapshot_at`` (the model's
    ``iterations_`` minus the ``offset`` warm-up calls; the checkpoint restores the model, so a
    resumed run keeps the same columns).
    """

    def __init__(self, corpus: Corpus, heldout_blocks: np.ndarray, n_generate: int,
                 snapshot_at: Sequence[int] = (), n_snippets: int = 3, offset: int = 0):
        self.corpus, self.heldout_blocks, self.n_generate = corpus, heldout_blocks, n_generate
        self.snapshot_at, self.n_snippets = frozenset(int(s) for s in snapshot_at), n_snippets
        self.offset = offset  # partial_fit calls before iteration 1 (the warm-up)

    def __call__(self, model, rng: np.random.Generator) -> dict:
        keep = self.n_snippets if model.iterations_ - self.offset in self.snapshot_at else 0
        return evaluate_model(model, self.corpus, self.heldout_blocks, self.n_generate, rng, keep)


def run_text(alpha: float, seed: int, rep: int = 0, T: int = 20, batch_size: int = 64,
             block_len: int = 64, epochs: int = 2, minibatch: int = 16, hidden: int = 128,
             embed: int = 32, lr: float = 3e-3, n_heldout: int = 200, n_generate: int = 100,
             warmup: int = 0, eval_every: int = 1, snapshot_at: Sequence[int] = (),
             n_snippets: int = 3, heldout_every: int = 10,
             checkpoint_dir: str | None = None) -> pd.DataFrame:
    """One fresh-regime run of the character model on the pydoc corpus, as a tidy DataFrame.

    Parameters
    ----------
    alpha : real share of every batch after the first, in [0, 1] (0: all synthetic).
    seed, rep : the run's random numbers come from ``SeedSequence(seed).spawn(rep + 1)[rep]``, so
        repetitions are independent, each reproducible on its own, and alphas with the same
        ``rep`` share their first iteration (paired comparisons).
    T, batch_size, block_len : iterations; blocks per iteration; characters per block.
    epochs, minibatch, hidden, embed, lr : training per iteration and the model (see
        :class:`~recursive_lib.estimators.language_model.CharLM`).
    n_heldout : held-out blocks scored for perplexity and entropy (the first ``n_heldout`` of a
        fixed shuffle of the held-out blocks, the same for every run).
    n_generate : generated blocks behind entropy_generated and distinct-n (distinct-n depends on it).
    warmup : ``partial_fit`` calls on ``batch_size`` real blocks before the recursive loop starts:
        a pre-trained model, as GPT-2 is before the paper fine-tunes it recursively (0: the loop
        starts from random weights). Alphas with the same ``rep`` share the warm-up.
    eval_every : evaluate every ``eval_every`` iterations (and at 1 and ``T``).
    snapshot_at, n_snippets : evaluated iterations at which ``n_snippets`` generated blocks are kept
        as text (columns ``sample_0`` ...).
    heldout_every : the held-out split of :func:`load_corpus`.
    checkpoint_dir : folder for run_fresh's checkpoint (``<hash of the arguments>.ckpt``) so that
        an interrupted run resumes; removed when the run completes. ``None``: no checkpoint.

    Returns
    -------
    One row per iteration: ``iteration, alpha, n_real, n_synthetic, loss`` (training loss, nats per
    character), the metrics of :func:`evaluate_model` (NaN where not evaluated), ``rep``.
    """
    from recursive_lib.continued import run_fresh
    from recursive_lib.estimators.language_model import CharLM
    from recursive_lib.sweep import config_hash

    check_range("alpha", alpha, 0.0, 1.0)
    rep = check_int("rep", rep, 0)
    block_len = check_int("block_len", block_len, 2)
    n_heldout = check_int("n_heldout", n_heldout, 1)
    n_generate = check_int("n_generate", n_generate, 1)
    n_snippets = check_int("n_snippets", n_snippets, 0)
    eval_every = check_int("eval_every", eval_every, 1)
    warmup = check_int("warmup", warmup, 0)
    snapshot_at = tuple(sorted({check_int("snapshot_at", s, 1) for s in snapshot_at}))
    if n_snippets > n_generate:
        raise ValueError(f"n_snippets must be at most n_generate={n_generate}, got {n_snippets}")
    bad = [s for s in snapshot_at if s > T or not (s % eval_every == 0 or s in (1, T))]
    if bad:
        raise ValueError(f"snapshot_at must hold evaluated iterations in [1, T={T}] (multiples of "
                         f"eval_every={eval_every}, or T), got {bad}")
    corpus = load_corpus(heldout_every)
    pool = to_blocks(corpus.encode(corpus.train_text), block_len)
    heldout = to_blocks(corpus.encode(corpus.heldout_text), block_len)
    if n_heldout > len(heldout):
        raise ValueError(f"n_heldout must be at most the {len(heldout)} held-out blocks of "
                         f"{block_len} characters, got {n_heldout}")
    heldout = heldout[np.random.default_rng(0).permutation(len(heldout))[:n_heldout]]
    seq = np.random.SeedSequence(check_int("seed", seed, 0)).spawn(rep + 1)[rep]
    warm_seq, loop_seq = seq.spawn(2)
    model = CharLM(corpus.V, block_len=block_len, epochs=epochs, minibatch=minibatch,
                   hidden=hidden, embed=embed, lr=lr)

    checkpoint = None
    if checkpoint_dir is not None:
        args = dict(alpha=alpha, seed=seed, rep=rep, T=T, batch_size=batch_size, block_len=block_len,
                    epochs=epochs, minibatch=minibatch, hidden=hidden, embed=embed, lr=lr,
                    n_heldout=n_heldout, n_generate=n_generate, warmup=warmup, eval_every=eval_every,
                    snapshot_at=snapshot_at, n_snippets=n_snippets, corpus=corpus.fingerprint)
        checkpoint = Path(checkpoint_dir) / f"{config_hash(args)}.ckpt"
    if warmup and not (checkpoint is not None and checkpoint.exists()):
        warm_rng = np.random.default_rng(warm_seq)
        for _ in range(warmup):
            model.partial_fit(pool[warm_rng.choice(len(pool), batch_size, replace=False)], warm_rng)
    evaluate = TextEvaluator(corpus, heldout, n_generate, snapshot_at, n_snippets, offset=warmup)
    run = run_fresh(model, pool, alpha, batch_size, T, seed=loop_seq, evaluate=evaluate,
                    eval_every=eval_every, checkpoint=checkpoint)
    if checkpoint is not None and checkpoint.exists():
        os.unlink(checkpoint)
    return run.metrics.assign(rep=rep)


# -- summaries of a sweep --------------------------------------------------------------------------

METRICS = ("perplexity", "entropy_heldout", "entropy_generated", "distinct_1", "distinct_2", "distinct_3")


def evaluated(results: pd.DataFrame) -> pd.DataFrame:
    """The evaluated rows of :func:`run_text` results (those with a perplexity), ``n = iteration``."""
    for column in ("iteration", "alpha", "rep", "perplexity"):
        if column not in results.columns:
            raise ValueError(f"results must be run_text output with column {column!r}; "
                             f"got columns {list(results.columns)}")
    return results.dropna(subset=["perplexity"]).assign(n=lambda d: d["iteration"])


def final_levels(results: pd.DataFrame, metrics: Sequence[str] = METRICS, last: int = 1,
                 confidence: float = 0.95, seed: int = 0) -> pd.DataFrame:
    """Each metric at the end of the runs, per alpha, with a bootstrap interval over repetitions.

    A repetition's level is its mean over its last ``last`` evaluations. Returns one row per
    (metric, alpha): ``metric, alpha, mean, se, lo, hi, reps``.
    """
    from recursive_lib.rates import summarize_slopes

    last = check_int("last", last, 1)
    rows = evaluated(results)
    tail = rows[rows.groupby(["alpha", "rep"])["n"].rank(ascending=False) <= last]
    parts = []
    for metric in metrics:
        level = tail.groupby(["alpha", "rep"], as_index=False)[metric].mean()
        # summarize_slopes is the book's bootstrap over repetitions; here of a level, not a slope
        summary = summarize_slopes(level.rename(columns={metric: "slope"}), by="alpha",
                                   confidence=confidence, seed=seed)
        parts.append(summary.rename(columns={"slope": "mean"}).assign(metric=metric))
    out = pd.concat(parts, ignore_index=True)
    return out[["metric", "alpha", "mean", "se", "lo", "hi", "reps"]]


def trend(results: pd.DataFrame, metric: str = "perplexity", burn_in: int = 0,
          confidence: float = 0.95, seed: int = 0) -> pd.DataFrame:
    """Log-log slope of ``metric`` against the iteration, per alpha, bootstrap over repetitions.

    The book's convention (:func:`recursive_lib.rates.fit_slopes`): ``slope = -d log(metric) /
    d log(n)``, positive when the metric falls. Returns ``alpha, slope, se, lo, hi, reps``.
    """
    from recursive_lib.rates import fit_slopes, summarize_slopes

    slopes = fit_slopes(evaluated(results), metric=metric, burn_in=burn_in, x="n", by="alpha")
    return summarize_slopes(slopes, by="alpha", confidence=confidence, seed=seed)
