"""Real English text for the language-model experiment: the corpus, its characters, its blocks.

The paper retrains GPT-2 on WikiText; neither can be fetched here. The offline default is the
English reference documentation that every CPython ships in the standard library,
``pydoc_data.topics.topics`` (79 topics, about 0.46 MB of raw text in Python 3.11): the text
``help("with")`` prints. The text differs slightly between Python versions, so results are
reproducible for one Python version (the corpus fingerprint is :attr:`Corpus.fingerprint`).

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
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from recursive_lib._validation import check_int

__all__ = ["Corpus", "MIN_WORDS", "clean_topic", "load_corpus", "to_blocks"]

#: A paragraph shorter than this many words is a heading, a label or a fragment, and is dropped.
MIN_WORDS = 8
_PROSE = set("abcdefghijklmnopqrstuvwxyz0123456789 .,;:'\"()-?!")
_ASCII = {
    "\u2018": "'",
    "\u2019": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u2026": "...",
    "\u2014": "-",
    "\u2013": "-",
    "\u00df": "ss",
    "\u00b0": " degrees",
}
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
        """First 12 hex digits of the SHA-256 of both texts (it changes with the Python version)."""
        digest = hashlib.sha256((self.train_text + "\0" + self.heldout_text).encode()).hexdigest()
        return digest[:12]

    def encode(self, text: str) -> np.ndarray:
        """``(len(text),)`` int64 token ids; raises ``ValueError`` for a symbol outside the vocabulary."""
        try:
            return np.fromiter((self._index[c] for c in text), dtype=np.int64, count=len(text))
        except KeyError as err:
            raise ValueError(
                f"text holds the symbol {err.args[0]!r}, which is not in the vocabulary of {self.V} symbols"
            ) from None

    def decode(self, tokens) -> str | list[str]:
        """Text of a 1-D token array; a list of texts (one per row) for a 2-D array."""
        tokens = np.asarray(tokens)
        if tokens.ndim == 2:
            return [self._text(row) for row in tokens]
        return self._text(tokens)

    def _text(self, tokens: np.ndarray) -> str:
        if tokens.ndim != 1 or (tokens.size and (tokens.min() < 0 or tokens.max() >= self.V)):
            raise ValueError(
                f"tokens must be a 1-D or 2-D array of ids in [0, {self.V - 1}], got shape {tokens.shape}"
            )
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
    train_paragraphs = [
        p for p in _unique(p for n in train for p in cleaned[n].split("\n")) if p not in unseen
    ]
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
