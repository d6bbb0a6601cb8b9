"""The paper's own text setting, optional: GPT-2 (124M) fine-tuned recursively on WikiText.

For users with a network (GPT-2 and WikiText are downloaded once by Hugging Face) and, in
practice, a GPU. The loop, the metrics and the output columns are those of
:mod:`recursive_lib.experiments.text`, so the text chapter's cells work unchanged on the results::

    from recursive_lib import sweep
    from recursive_lib.experiments.gpt2 import run_gpt2

    configs = sweep.grid(alpha=[0.0, 0.25, 0.5, 1.0], rep=range(3), seed=0, T=20, m_total=64,
                         block_len=128, n_heldout=200, n_generate=200, snapshot_at=[[1, 10, 20]])
    results = sweep.run_sweep(configs, run=run_gpt2, cache_dir="gpt2-runs")

``network``, ``tokenizer`` and ``dataset`` are names by default; objects (a ``transformers``
config or network, a tokenizer, a ``datasets.DatasetDict``) take the same path without a download:
the tests run a two-layer GPT-2 on a tokenizer trained in-process this way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from recursive_lib._hf import require_hf
from recursive_lib._rng import seed_sequence
from recursive_lib._validation import check_int
from recursive_lib.continual.gpt2 import GPT2LM
from recursive_lib.data.wikitext import TokenizerText, load_wikitext
from recursive_lib.experiments._checkpoint import checkpoint
from recursive_lib.experiments.config import as_config
from recursive_lib.experiments.text import LanguageConfig, TextEvaluator, heldout_sample
from recursive_lib.loops.continual import run_fresh
from recursive_lib.metrics import distinct_n

__all__ = ["GPT2Config", "real_distinct_wikitext", "run_gpt2"]


def real_distinct_wikitext(
    tokenizer: TokenizerText,
    n_blocks: int,
    block_len: int = 128,
    draws: int = 20,
    seed: int = 0,
    dataset="wikitext-2-raw-v1",
) -> pd.DataFrame:
    """Distinct-1/2/3 of ``n_blocks`` real WikiText training blocks: ``n, mean, sd`` over ``draws``
    (the reference for generated text of that size; ``dataset`` as in :func:`~recursive_lib.data.wikitext.load_wikitext`)."""
    train, _ = load_wikitext(tokenizer, block_len, dataset)
    n_blocks = check_int("n_blocks", n_blocks, 1)
    if n_blocks > len(train):
        raise ValueError(f"n_blocks must be at most the {len(train)} training blocks, got {n_blocks}")
    draws = check_int("draws", draws, 1)
    rng = np.random.default_rng(check_int("seed", seed, 0))
    samples = [tokenizer.decode(train[rng.choice(len(train), n_blocks, replace=False)]) for _ in range(draws)]
    rows = []
    for n in (1, 2, 3):
        values = np.array([distinct_n(s, n) for s in samples])
        rows.append(dict(n=n, mean=float(values.mean()), sd=float(values.std(ddof=1)) if draws > 1 else 0.0))
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class GPT2Config(LanguageConfig):
    """One validated configuration of :func:`run_gpt2` (shared fields:
    :class:`~recursive_lib.experiments.config.RunConfig`).

    ``block_len`` tokens per block (>= 2); ``n_heldout``, ``n_generate``, ``n_snippets`` as in
    :class:`~recursive_lib.experiments.text.TextConfig`. ``network``: see
    :class:`~recursive_lib.continual.gpt2.GPT2LM`; ``tokenizer``: see
    :class:`~recursive_lib.data.wikitext.TokenizerText` (``None``: the tokenizer of ``network``,
    which must then be a name); ``dataset``: see :func:`~recursive_lib.data.wikitext.load_wikitext`.
    A checkpoint needs all three given by name.
    """

    m_total: int = 64
    block_len: int = 128
    epochs: int = 1
    batch_size: int = 8
    lr: float = 5e-5
    n_generate: int = 200
    network: Any = "gpt2"
    tokenizer: Any = None
    dataset: Any = "wikitext-2-raw-v1"

    def __post_init__(self):
        super().__post_init__()
        if self.tokenizer is None and not isinstance(self.network, str):
            raise ValueError("tokenizer must be given when network is not a model name")
        named = all(isinstance(v, str) for v in (self.network, self.tokenizer or self.network, self.dataset))
        if self.checkpoint_dir is not None and not named:
            raise ValueError(
                "checkpoint_dir needs network, tokenizer and dataset given by name (objects "
                "cannot name a checkpoint); pass checkpoint_dir=None"
            )


def run_gpt2(config: GPT2Config | None = None, /, **fields) -> pd.DataFrame:
    """One fresh-regime run of GPT-2 on WikiText; the columns of
    :func:`recursive_lib.experiments.text.run_text` (``m_total`` blocks per iteration).

    ``config`` (a :class:`GPT2Config`) or its fields as keywords (both: the keywords replace
    fields of ``config``), as :func:`~recursive_lib.experiments.text.run_text`. Perplexity and
    entropies are per token (not per character). No warm-up: GPT-2 is pre-trained already.
    Checkpoints hold the whole model and optimizer (about 1.5 GB for GPT-2).
    """
    config = as_config(GPT2Config, config, fields)
    require_hf()
    tokenizer = TokenizerText(config.network if config.tokenizer is None else config.tokenizer)
    pool, heldout = load_wikitext(tokenizer, config.block_len, config.dataset)
    heldout = heldout_sample(heldout, config.n_heldout, f"{config.block_len} tokens")
    lm = GPT2LM(
        config.network,
        block_len=config.block_len,
        lr=config.lr,
        epochs=config.epochs,
        batch_size=config.batch_size,
    )
    evaluate = TextEvaluator(tokenizer, heldout, config.n_generate, config.snapshot_at, config.n_snippets)
    arguments = config.key_fields()
    with checkpoint(config.checkpoint_dir, "gpt2", arguments, _fingerprint(**arguments)) as saved:
        run = run_fresh(
            lm,
            pool,
            config.alpha,
            config.m_total,
            config.T,
            seed=seed_sequence(config.seed, config.rep),
            evaluate=evaluate,
            eval_every=config.eval_every,
            checkpoint=None if saved is None else saved.path,
            checkpoint_key=None if saved is None else saved.key,
        )
    return run.metrics.assign(rep=config.rep)


def _fingerprint(network="gpt2", tokenizer=None, dataset="wikitext-2-raw-v1", **_) -> str:
    def name(value):
        return value if isinstance(value, str) else f"<{type(value).__name__} object>"

    return f"{name(network)}/{name(tokenizer if tokenizer is not None else network)}/{name(dataset)}"


#: a cached run_gpt2 result depends on the network, the tokenizer and the data set it downloaded
run_gpt2.fingerprint = _fingerprint  # type: ignore[attr-defined]  # read by sweep.input_fingerprint
