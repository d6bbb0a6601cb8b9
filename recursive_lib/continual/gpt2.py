"""GPT-2 fine-tuned continually (optional: the paper's own text model; network once, GPU advised).

:class:`GPT2LM` has the interface of :class:`~recursive_lib.continual.char_lm.CharLM`:
``partial_fit(batch, rng)`` (AdamW, ``epochs`` passes over the batch of token blocks, one optimizer
kept across iterations), ``sample(n, rng)`` (ancestral sampling at temperature 1 from
``<|endoftext|>``, ``block_len`` new tokens, every random number from ``rng``) and ``score(blocks)``
(mean negative log-likelihood and entropy per **token**). ``transformers`` is imported on demand.

The network is the pre-trained ``"gpt2"`` by default (downloaded once); a ``transformers`` config
(``GPT2Config(n_layer=2, n_embd=32, ...)``: random initial weights drawn from the run's ``rng``, no
download) or a network object goes through the same code: the tests run a tiny GPT-2 this way, the
benchmark the 124M architecture without its weights.
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np

from recursive_lib._hf import require_hf
from recursive_lib._torch import placement, seeded, shuffled_batches, torch_generator, torch_threads
from recursive_lib._validation import check_int, check_range

__all__ = ["GPT2LM"]


class GPT2LM:
    """GPT-2 fine-tuned continually, with the interface of :class:`~recursive_lib.continual.char_lm.CharLM`.

    Parameters
    ----------
    network
        What the network ``net_`` is built from: a Hugging Face model name or folder (``"gpt2"``:
        124M parameters, the paper's), a ``transformers`` config (a new network with random weights
        from the first ``partial_fit``'s ``rng``), or a causal language model object (trained in
        place).
    block_len
        Tokens per block.
    lr, weight_decay
        AdamW; ``epochs``: passes over each batch; ``batch_size``: blocks per step.
    temperature
        Sampling temperature (1: the paper's).

    Attributes
    ----------
    net_
        The network, after the first ``partial_fit``.
    optimizer_
        Its AdamW optimizer.
    bos_
        The token every block starts from.
    vocab_size_
        Size of the tokenizer's vocabulary.
    iterations_
        Number of ``partial_fit`` calls.
    """

    def __init__(
        self,
        network="gpt2",
        block_len: int = 128,
        lr: float = 5e-5,
        weight_decay: float = 0.0,
        epochs: int = 1,
        batch_size: int = 8,
        temperature: float = 1.0,
    ):
        self.network, self.block_len, self.lr, self.weight_decay = network, block_len, lr, weight_decay
        self.epochs, self.batch_size, self.temperature = epochs, batch_size, temperature

    def _build(self, transformers, rng):
        import torch

        if isinstance(self.network, str):
            return transformers.AutoModelForCausalLM.from_pretrained(self.network)
        if isinstance(self.network, transformers.PretrainedConfig):
            with seeded(rng):  # initial weights from rng only
                return transformers.AutoModelForCausalLM.from_config(self.network)
        if isinstance(self.network, torch.nn.Module):
            return self.network
        raise ValueError(
            f"network must be a model name, a transformers config or a torch module, "
            f"got {type(self.network).__name__}"
        )

    def _load(self, rng):
        import torch

        transformers, _ = require_hf()
        check_int("block_len", self.block_len, 2)
        check_int("epochs", self.epochs, 1)
        check_int("batch_size", self.batch_size, 1)
        check_range("lr", self.lr, 0.0, float("inf"), low_inclusive=False)
        check_range("weight_decay", self.weight_decay, 0.0, float("inf"))
        check_range("temperature", self.temperature, 0.0, float("inf"), low_inclusive=False)
        net = self._build(transformers, rng)
        bos = getattr(net.config, "bos_token_id", None)
        if bos is None:
            raise ValueError(
                "network must have a config with bos_token_id (the token every block starts from)"
            )
        self.net_ = placement().module(net)
        self.bos_ = int(bos)
        # the key-value cache's keyword: "cache" in transformers 5, "past_key_values" before
        self._cache_name = (
            "cache" if "cache" in inspect.signature(self.net_.forward).parameters else "past_key_values"
        )
        self.vocab_size_ = int(self.net_.config.vocab_size)
        self.optimizer_ = torch.optim.AdamW(
            self.net_.parameters(), lr=self.lr, weight_decay=self.weight_decay
        )
        self.iterations_ = 0

    def get_state(self) -> dict:
        """What fine-tuning has changed, as data: the network's and AdamW's state dicts and the
        number of ``partial_fit`` calls; ``{}`` before training."""
        if not hasattr(self, "net_"):
            return {}
        return dict(
            net=self.net_.state_dict(), optimizer=self.optimizer_.state_dict(), iterations=self.iterations_
        )

    def set_state(self, state: dict) -> GPT2LM:
        """Take back what :meth:`get_state` returned (on a model built with the same arguments)."""
        if state:
            self._load(np.random.default_rng(0))  # initial weights overwritten at once
            self.net_.load_state_dict(state["net"])
            self.optimizer_.load_state_dict(state["optimizer"])
            self.iterations_ = int(state["iterations"])
        return self

    def _with_bos(self, blocks):
        import torch

        bos = torch.full((blocks.shape[0], 1), self.bos_, dtype=torch.long, device=blocks.device)
        return torch.cat([bos, blocks], dim=1)

    def _check_blocks(self, name, blocks) -> np.ndarray:
        blocks = np.asarray(blocks)
        if (
            blocks.ndim != 2
            or blocks.shape[0] == 0
            or blocks.shape[1] != self.block_len
            or not np.issubdtype(blocks.dtype, np.integer)
        ):
            raise ValueError(
                f"{name} must be an int array (n >= 1, block_len={self.block_len}), "
                f"got {blocks.dtype} {blocks.shape}"
            )
        if hasattr(self, "vocab_size_") and (blocks.min() < 0 or blocks.max() >= self.vocab_size_):
            raise ValueError(
                f"{name} must hold token ids in [0, {self.vocab_size_ - 1}], got "
                f"values in [{blocks.min()}, {blocks.max()}]"
            )
        return blocks.astype(np.int64, copy=False)

    def partial_fit(self, batch, rng: np.random.Generator) -> float:
        """Fine-tune further on ``batch`` ``(B, block_len)`` token ids; mean loss (nats per token)."""
        if not hasattr(self, "net_"):
            self._load(rng)
        batch = self._check_blocks("batch", batch)
        place = placement()
        data = place.tensor(batch, integer=True).to(next(self.net_.parameters()).device)
        self.net_.train()
        losses = []
        with torch_threads(), seeded(rng):  # GPT-2's dropout draws from torch's generators
            for _ in range(self.epochs):
                for index in shuffled_batches(len(batch), self.batch_size, rng, data.device):
                    inputs = self._with_bos(data[index])
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

        n = check_int("n", n, 0)
        if not hasattr(self, "net_"):
            raise ValueError("the model is not trained yet: call partial_fit(batch, rng) first")
        dev = next(self.net_.parameters()).device
        generator = torch_generator(rng, dev)
        out = np.empty((n, self.block_len), dtype=np.int64)
        entropies = []
        self.net_.eval()
        with torch.no_grad(), torch_threads():
            for start in range(0, n, chunk):
                size = min(chunk, n - start)
                token = torch.full((size, 1), self.bos_, dtype=torch.long, device=dev)
                past: dict[str, Any] = {}
                for t in range(self.block_len):
                    result = self.net_(input_ids=token, use_cache=True, **past)
                    past = {self._cache_name: getattr(result, self._cache_name)}
                    logp = torch.log_softmax(result.logits[:, -1].float() / self.temperature, dim=-1)
                    probs = logp.exp()
                    entropies.append(-(probs * logp).sum(-1).mean().item())
                    token = torch.multinomial(probs, 1, generator=generator)
                    out[start : start + size, t] = token[:, 0].cpu().numpy()
        mean_entropy = float(np.mean(entropies)) if entropies else float("nan")
        return (out, mean_entropy) if return_entropy else out

    def score(self, blocks, chunk: int = 16) -> tuple[float, float]:
        """Mean negative log-likelihood and predictive entropy (nats per token) of ``blocks``."""
        import torch

        if not hasattr(self, "net_"):
            raise ValueError("the model is not trained yet: call partial_fit(batch, rng) first")
        blocks = self._check_blocks("blocks", blocks)
        dev = next(self.net_.parameters()).device
        nll = ent = 0.0
        self.net_.eval()
        with torch.no_grad(), torch_threads():
            for start in range(0, len(blocks), chunk):
                targets = torch.as_tensor(blocks[start : start + chunk], device=dev)
                logits = self.net_(input_ids=self._with_bos(targets)).logits[:, :-1]
                logp = torch.log_softmax(logits.float(), dim=-1)
                nll -= logp.gather(-1, targets.unsqueeze(-1)).sum().item()
                ent -= (logp.exp() * logp).sum().item()
        return nll / blocks.size, ent / blocks.size
