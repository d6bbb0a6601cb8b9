"""The paper's own text setting, optional: GPT-2 (124M) fine-tuned recursively on WikiText.

For users with a network (GPT-2 and WikiText are downloaded once by Hugging Face) and, in
practice, a GPU. Nothing here runs in the tests or in the default build, and nothing else in
``recursive_lib`` imports this module's dependencies: ``transformers`` and ``datasets`` are
imported inside the functions, and a missing one raises an ``ImportError`` that says how to
install it::

    pip install transformers datasets

The loop, the metrics and the output columns are those of :mod:`recursive_lib.text`, so the text
chapter's cells work unchanged on the results:

    from recursive_lib import sweep
    from recursive_lib.hf_text import run_gpt2

    configs = sweep.grid(alpha=[0.0, 0.25, 0.5, 1.0], rep=range(3), seed=0, T=20, batch_size=64,
                         block_len=128, n_heldout=200, n_generate=200, snapshot_at=[[1, 10, 20]])
    results = sweep.run_sweep(configs, run=run_gpt2, cache_dir="gpt2-runs")

- :class:`GPT2LM`: GPT-2 with ``partial_fit(batch, rng)`` (AdamW, ``epochs`` passes over the batch
  of token blocks, one optimizer kept across iterations) and ``sample(n, rng)`` (ancestral
  sampling at temperature 1 from ``<|endoftext|>``, ``block_len`` new tokens, every random number
  from ``rng``), ``score(blocks)`` (mean negative log-likelihood and entropy per **token**).
- :func:`load_wikitext`: WikiText (default ``wikitext-2-raw-v1``) tokenised with GPT-2's
  tokenizer and cut into blocks; training pool from the train split, held-out blocks from the
  test split.
- :func:`run_gpt2`: one fresh-regime run, as :func:`recursive_lib.text.run_text`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from recursive_lib._validation import check_int, check_range

__all__ = ["require_hf", "GPT2LM", "TokenizerText", "load_wikitext", "real_distinct_wikitext",
           "run_gpt2"]

INSTALL_HINT = ("the GPT-2 / WikiText path needs the Hugging Face libraries, which recursive_lib "
                "does not install: pip install transformers datasets (a network is needed once to "
                "download GPT-2 and WikiText; a GPU is recommended)")


def require_hf():
    """``(transformers, datasets)``; raises ``ImportError`` with the install command if missing."""
    try:
        import datasets
        import transformers
    except ImportError as err:
        raise ImportError(f"{INSTALL_HINT} ({err})") from err
    return transformers, datasets


class TokenizerText:
    """GPT-2's tokenizer behind the ``decode`` that :func:`recursive_lib.text.evaluate_model` uses."""

    def __init__(self, name: str = "gpt2"):
        transformers, _ = require_hf()
        self.name = name
        self.tokenizer = transformers.AutoTokenizer.from_pretrained(name)

    def encode(self, text: str) -> np.ndarray:
        return np.asarray(self.tokenizer(text)["input_ids"], dtype=np.int64)

    def decode(self, tokens):
        tokens = np.asarray(tokens)
        if tokens.ndim == 2:
            return self.tokenizer.batch_decode(tokens.tolist())
        return self.tokenizer.decode(tokens.tolist())


def load_wikitext(tokenizer: TokenizerText, block_len: int = 128,
                  name: str = "wikitext-2-raw-v1") -> tuple[np.ndarray, np.ndarray]:
    """``(train_blocks, heldout_blocks)``, int arrays ``(N, block_len)`` of GPT-2 token ids.

    Train: WikiText's train split; held out: its test split (articles the model is not trained on).
    """
    _, datasets = require_hf()
    from recursive_lib.text import to_blocks

    data = datasets.load_dataset("wikitext", name)
    blocks = []
    for split in ("train", "test"):
        joined = "".join(data[split]["text"])
        blocks.append(to_blocks(tokenizer.encode(joined), block_len))
    return blocks[0], blocks[1]


def real_distinct_wikitext(tokenizer: TokenizerText, n_blocks: int, block_len: int = 128,
                           draws: int = 20, seed: int = 0, name: str = "wikitext-2-raw-v1") -> pd.DataFrame:
    """Distinct-1/2/3 of ``n_blocks`` real WikiText training blocks: ``n, mean, sd`` over ``draws``."""
    from recursive_lib.text import distinct_n

    train, _ = load_wikitext(tokenizer, block_len, name)
    n_blocks = check_int("n_blocks", n_blocks, 1)
    rng = np.random.default_rng(check_int("seed", seed, 0))
    samples = [tokenizer.decode(train[rng.choice(len(train), n_blocks, replace=False)])
               for _ in range(check_int("draws", draws, 1))]
    rows = []
    for n in (1, 2, 3):
        values = np.array([distinct_n(s, n) for s in samples])
        rows.append(dict(n=n, mean=float(values.mean()), sd=float(values.std(ddof=1)) if draws > 1 else 0.0))
    return pd.DataFrame(rows)


class GPT2LM:
    """GPT-2 fine-tuned continually, with the interface of :class:`~recursive_lib.estimators.language_model.CharLM`.

    Parameters
    ----------
    name : Hugging Face model name (``"gpt2"``: 124M parameters, the paper's).
    block_len : tokens per block.
    lr, weight_decay : AdamW; ``epochs``: passes over each batch; ``minibatch``: blocks per step.
    temperature : sampling temperature (1: the paper's).
    """

    def __init__(self, name: str = "gpt2", block_len: int = 128, lr: float = 5e-5,
                 weight_decay: float = 0.0, epochs: int = 1, minibatch: int = 8,
                 temperature: float = 1.0):
        self.name, self.block_len, self.lr, self.weight_decay = name, block_len, lr, weight_decay
        self.epochs, self.minibatch, self.temperature = epochs, minibatch, temperature

    def _load(self, rng):
        import torch

        from recursive_lib.estimators.quantile import device

        transformers, _ = require_hf()
        check_int("block_len", self.block_len, 2)
        check_int("epochs", self.epochs, 1)
        check_int("minibatch", self.minibatch, 1)
        check_range("lr", self.lr, 0.0, float("inf"), low_inclusive=False)
        self.net_ = transformers.AutoModelForCausalLM.from_pretrained(self.name).to(device())
        self.bos_ = int(self.net_.config.bos_token_id)
        self.vocab_size_ = int(self.net_.config.vocab_size)
        self.optimizer_ = torch.optim.AdamW(self.net_.parameters(), lr=self.lr,
                                            weight_decay=self.weight_decay)
        self.iterations_ = 0

    def _with_bos(self, blocks):
        import torch

        bos = torch.full((blocks.shape[0], 1), self.bos_, dtype=torch.long, device=blocks.device)
        return torch.cat([bos, blocks], dim=1)

    def partial_fit(self, batch, rng: np.random.Generator) -> float:
        """Fine-tune further on ``batch`` ``(B, block_len)`` token ids; mean loss (nats per token)."""
        import torch

        if not hasattr(self, "net_"):
            self._load(rng)
        batch = np.asarray(batch, dtype=np.int64)
        if batch.ndim != 2 or batch.shape[1] != self.block_len:
            raise ValueError(f"batch must be an int array (B, block_len={self.block_len}), got {batch.shape}")
        dev = next(self.net_.parameters()).device
        data = torch.as_tensor(batch, device=dev)
        self.net_.train()
        losses = []
        for _ in range(self.epochs):
            order = torch.as_tensor(rng.permutation(len(batch)), device=dev)
            for start in range(0, len(batch), self.minibatch):
                inputs = self._with_bos(data[order[start:start + self.minibatch]])
                labels = inputs.clone()
                labels[:, 0] = -100  # BOS is context, not a target
                loss = self.net_(input_ids=inputs, labels=labels).loss
                self.optimizer_.zero_grad(set_to_none=True)
                loss.backward()
                self.optimizer_.step()
                losses.append(loss.item())
        self.iterations_ += 1
        return float(np.mean(losses))

    def sample(self, n: int, rng: np.random.Generator, return_entropy: bool = False, chunk: int = 32):
        """``(n, block_len)`` token ids sampled from BOS; with ``return_entropy`` also the mean entropy."""
        import torch

        from recursive_lib.continued import torch_generator

        n = check_int("n", n, 0)
        if not hasattr(self, "net_"):
            raise ValueError("the model is not trained yet: call partial_fit(batch, rng) first")
        dev = next(self.net_.parameters()).device
        generator = torch_generator(rng, dev)
        out = np.empty((n, self.block_len), dtype=np.int64)
        entropies = []
        self.net_.eval()
        with torch.no_grad():
            for start in range(0, n, chunk):
                size = min(chunk, n - start)
                token = torch.full((size, 1), self.bos_, dtype=torch.long, device=dev)
                past = None
                for t in range(self.block_len):
                    result = self.net_(input_ids=token, past_key_values=past, use_cache=True)
                    past = result.past_key_values
                    logp = torch.log_softmax(result.logits[:, -1] / self.temperature, dim=-1)
                    probs = logp.exp()
                    entropies.append(-(probs * logp).sum(-1).mean().item())
                    token = torch.multinomial(probs, 1, generator=generator)
                    out[start:start + size, t] = token[:, 0].cpu().numpy()
        mean_entropy = float(np.mean(entropies)) if entropies else float("nan")
        return (out, mean_entropy) if return_entropy else out

    def score(self, blocks, chunk: int = 16) -> tuple[float, float]:
        """Mean negative log-likelihood and predictive entropy (nats per token) of ``blocks``."""
        import torch

        blocks = np.asarray(blocks, dtype=np.int64)
        dev = next(self.net_.parameters()).device
        nll = ent = 0.0
        self.net_.eval()
        with torch.no_grad():
            for start in range(0, len(blocks), chunk):
                targets = torch.as_tensor(blocks[start:start + chunk], device=dev)
                logits = self.net_(input_ids=self._with_bos(targets)).logits[:, :-1]
                logp = torch.log_softmax(logits.float(), dim=-1)
                nll -= logp.gather(-1, targets.unsqueeze(-1)).sum().item()
                ent -= (logp.exp() * logp).sum().item()
        return nll / blocks.size, ent / blocks.size


def run_gpt2(alpha: float, seed: int, rep: int = 0, T: int = 20, batch_size: int = 64,
             block_len: int = 128, epochs: int = 1, minibatch: int = 8, lr: float = 5e-5,
             n_heldout: int = 200, n_generate: int = 200, eval_every: int = 1,
             snapshot_at: Sequence[int] = (), n_snippets: int = 3, name: str = "gpt2",
             dataset: str = "wikitext-2-raw-v1", checkpoint_dir: str | None = None) -> pd.DataFrame:
    """One fresh-regime run of GPT-2 on WikiText; the columns of :func:`recursive_lib.text.run_text`.

    Perplexity and entropies are per GPT-2 token (not per character). No warm-up: GPT-2 is
    pre-trained already. Checkpoints hold the whole model and optimizer (about 1.5 GB for GPT-2).
    """
    from recursive_lib.continued import run_fresh
    from recursive_lib.sweep import config_hash
    from recursive_lib.text import TextEvaluator

    require_hf()
    check_range("alpha", alpha, 0.0, 1.0)
    rep = check_int("rep", rep, 0)
    tokenizer = TokenizerText(name)
    pool, heldout = load_wikitext(tokenizer, block_len, dataset)
    n_heldout = check_int("n_heldout", n_heldout, 1)
    heldout = heldout[np.random.default_rng(0).permutation(len(heldout))[:n_heldout]]
    seq = np.random.SeedSequence(check_int("seed", seed, 0)).spawn(rep + 1)[rep]
    model = GPT2LM(name, block_len=block_len, lr=lr, epochs=epochs, minibatch=minibatch)
    checkpoint = None
    if checkpoint_dir is not None:
        args = dict(alpha=alpha, seed=seed, rep=rep, T=T, batch_size=batch_size, block_len=block_len,
                    epochs=epochs, minibatch=minibatch, lr=lr, n_heldout=n_heldout,
                    n_generate=n_generate, eval_every=eval_every, snapshot_at=sorted(snapshot_at),
                    n_snippets=n_snippets, name=name, dataset=dataset)
        checkpoint = Path(checkpoint_dir) / f"gpt2-{config_hash(args)}.ckpt"
    evaluate = TextEvaluator(tokenizer, heldout, n_generate, snapshot_at, n_snippets)
    run = run_fresh(model, pool, alpha, batch_size, T, seed=seq, evaluate=evaluate,
                    eval_every=eval_every, checkpoint=checkpoint)
    if checkpoint is not None and checkpoint.exists():
        os.unlink(checkpoint)
    return run.metrics.assign(rep=rep)
