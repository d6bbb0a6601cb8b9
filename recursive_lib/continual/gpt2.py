"""GPT-2 fine-tuned continually (optional: the paper's own text model; network once, GPU advised).

:class:`GPT2LM` has the interface of :class:`~recursive_lib.continual.char_lm.CharLM`:
``partial_fit(batch, rng)`` (AdamW, ``epochs`` passes over the batch of token blocks, one optimizer
kept across iterations), ``sample(n, rng)`` (ancestral sampling at temperature 1 from
``<|endoftext|>``, ``block_len`` new tokens, every random number from ``rng``) and ``score(blocks)``
(mean negative log-likelihood and entropy per **token**). ``transformers`` is imported on demand.
"""

from __future__ import annotations

import numpy as np

from recursive_lib._hf import require_hf
from recursive_lib._torch import device, shuffled_batches, torch_generator
from recursive_lib._validation import check_int, check_range

__all__ = ["GPT2LM"]


class GPT2LM:
    """GPT-2 fine-tuned continually, with the interface of :class:`~recursive_lib.continual.char_lm.CharLM`.

    Parameters
    ----------
    name
        Hugging Face model name (``"gpt2"``: 124M parameters, the paper's).
    block_len
        Tokens per block.
    lr, weight_decay
        AdamW; ``epochs``: passes over each batch; ``batch_size``: blocks per step.
    temperature
        Sampling temperature (1: the paper's).
    """

    def __init__(self, name: str = "gpt2", block_len: int = 128, lr: float = 5e-5,
                 weight_decay: float = 0.0, epochs: int = 1, batch_size: int = 8,
                 temperature: float = 1.0):
        self.name, self.block_len, self.lr, self.weight_decay = name, block_len, lr, weight_decay
        self.epochs, self.batch_size, self.temperature = epochs, batch_size, temperature

    def _load(self, rng):
        import torch

        transformers, _ = require_hf()
        check_int("block_len", self.block_len, 2)
        check_int("epochs", self.epochs, 1)
        check_int("batch_size", self.batch_size, 1)
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
            for index in shuffled_batches(len(batch), self.batch_size, rng, dev):
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
