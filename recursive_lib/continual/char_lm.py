"""A small character-level language model, trained from scratch and continually (the paper's text model).

The paper fine-tunes GPT-2 recursively; offline on a CPU we train a one-layer GRU on characters
instead (:class:`CharLM`). It follows the continual-model protocol of
:func:`recursive_lib.loops.continual.run_fresh`:

- ``partial_fit(batch, rng)``: ``batch`` is an int array ``(B, block_len)`` of token blocks; the
  model trains further on it for ``epochs`` passes in shuffled mini-batches of ``batch_size`` blocks
  (one Adam optimizer kept across calls, so training continues from iteration to iteration) and
  returns the mean training loss (nats per character).
- ``sample(n, rng)``: ``n`` new blocks ``(n, block_len)``, by ancestral sampling at temperature 1
  from a begin-of-block symbol: the model's own generations, no real prompt.
- ``score(blocks)``: mean negative log-likelihood (nats per character) and mean predictive entropy
  (nats) of held-out blocks.

Every block is modelled on its own, ``p(x_1..x_L) = prod_t p(x_t | BOS, x_1..x_{t-1})``, the same way
in training, scoring and sampling. Every random number (initial weights, shuffles, samples) comes
from the ``rng`` passed in (torch ops through :func:`recursive_lib._torch.torch_generator`), so
one seed determines a run, and a model resumed from its state (``get_state`` / ``set_state``:
tensors and numbers, no pickle) continues exactly. CUDA is used when present.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from recursive_lib._torch import placement, shuffled_batches, torch_generator, torch_threads
from recursive_lib._validation import check_int, check_range

__all__ = ["CharLM", "GRUNet"]


class GRUNet(nn.Module):
    """Embedding (``V + 1`` symbols: BOS is id ``V``) -> GRU -> logits over the ``V`` symbols."""

    def __init__(self, vocab_size: int, embed: int, hidden: int, layers: int):
        super().__init__()
        self.embed = nn.Embedding(vocab_size + 1, embed)
        self.gru = nn.GRU(embed, hidden, num_layers=layers, batch_first=True)
        self.head = nn.Linear(hidden, vocab_size)

    def forward(self, tokens, state=None):
        """``tokens`` ``(B, L)`` -> logits ``(B, L, V)`` and the GRU state."""
        out, state = self.gru(self.embed(tokens), state)
        return self.head(out), state


class CharLM:
    """Character-level GRU language model with ``partial_fit`` / ``sample`` (module docstring).

    Parameters
    ----------
    vocab_size
        Number of symbols ``V`` (tokens are ids ``0 .. V-1``).
    block_len
        Characters per block ``L`` (items of the real pool are ``(L,)`` rows).
    embed, hidden, layers
        Embedding width, GRU width and depth.
    lr
        Adam learning rate.
    grad_clip
        Maximum gradient norm per step.
    epochs
        Passes over each ``partial_fit`` batch.
    batch_size
        Blocks per optimizer step.
    temperature
        Sampling temperature (1: the model's distribution, the paper's setting).

    Attributes
    ----------
    net_
        The torch module (set by the first ``partial_fit``, as are the others).
    optimizer_
        Its optimizer.
    iterations_
        Number of ``partial_fit`` calls.
    steps_
        Optimizer steps so far.
    """

    def __init__(
        self,
        vocab_size: int,
        block_len: int = 64,
        embed: int = 32,
        hidden: int = 128,
        layers: int = 1,
        lr: float = 3e-3,
        grad_clip: float = 1.0,
        epochs: int = 2,
        batch_size: int = 16,
        temperature: float = 1.0,
    ):
        self.vocab_size = vocab_size
        self.block_len = block_len
        self.embed = embed
        self.hidden = hidden
        self.layers = layers
        self.lr = lr
        self.grad_clip = grad_clip
        self.epochs = epochs
        self.batch_size = batch_size
        self.temperature = temperature

    # -- validation ----------------------------------------------------------------------------

    def _check_params(self) -> None:
        check_int("vocab_size", self.vocab_size, 2)
        check_int("block_len", self.block_len, 2)
        check_int("embed", self.embed, 1)
        check_int("hidden", self.hidden, 1)
        check_int("layers", self.layers, 1)
        check_range("lr", self.lr, 0.0, math.inf, low_inclusive=False)
        check_range("grad_clip", self.grad_clip, 0.0, math.inf, low_inclusive=False)
        check_int("epochs", self.epochs, 1)
        check_int("batch_size", self.batch_size, 1)
        check_range("temperature", self.temperature, 0.0, math.inf, low_inclusive=False)

    def _check_blocks(self, name: str, blocks) -> np.ndarray:
        blocks = np.asarray(blocks)
        if blocks.ndim != 2 or blocks.shape[0] == 0 or blocks.shape[1] != self.block_len:
            raise ValueError(
                f"{name} must be an int array of shape (n >= 1, block_len={self.block_len}), "
                f"got shape {blocks.shape}"
            )
        if not np.issubdtype(blocks.dtype, np.integer):
            raise ValueError(f"{name} must hold integer token ids, got dtype {blocks.dtype}")
        if blocks.min() < 0 or blocks.max() >= self.vocab_size:
            raise ValueError(
                f"{name} must hold token ids in [0, {self.vocab_size - 1}], got values in "
                f"[{blocks.min()}, {blocks.max()}]"
            )
        return blocks.astype(np.int64, copy=False)

    def _check_fitted(self) -> None:
        if not hasattr(self, "net_"):
            raise ValueError("the model is not trained yet: call partial_fit(batch, rng) first")

    def _build(self, rng: np.random.Generator) -> None:
        """A new network (initial weights from ``rng``) and optimizer."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(rng.integers(2**63 - 1)))
            self.net_ = placement().module(GRUNet(self.vocab_size, self.embed, self.hidden, self.layers))
        # foreach: the same arithmetic as the default per-parameter loop, in one call per operation
        self.optimizer_ = torch.optim.Adam(self.net_.parameters(), lr=self.lr, foreach=True)
        self.iterations_, self.steps_ = 0, 0

    # -- checkpoints ---------------------------------------------------------------------------

    def get_state(self) -> dict:
        """What training has changed, as data: the network's and Adam's state dicts and the
        counters; ``{}`` before training."""
        if not hasattr(self, "net_"):
            return {}
        return dict(
            net=self.net_.state_dict(),
            optimizer=self.optimizer_.state_dict(),
            iterations=self.iterations_,
            steps=self.steps_,
        )

    def set_state(self, state: dict) -> CharLM:
        """Take back what :meth:`get_state` returned (on a model built with the same arguments)."""
        if state:
            self._check_params()
            self._build(np.random.default_rng(0))  # weights overwritten at once
            self.net_.load_state_dict(state["net"])
            self.optimizer_.load_state_dict(state["optimizer"])
            self.iterations_, self.steps_ = int(state["iterations"]), int(state["steps"])
        return self

    # -- the protocol --------------------------------------------------------------------------

    def _inputs(self, targets):
        """BOS followed by the block without its last symbol: predicts every symbol of the block."""
        bos = torch.full((targets.shape[0], 1), self.vocab_size, dtype=torch.long, device=targets.device)
        return torch.cat([bos, targets[:, :-1]], dim=1)

    def partial_fit(self, batch, rng: np.random.Generator) -> float:
        """Train further on ``batch`` ``(B, block_len)``; return the mean loss (nats per character)."""
        if not hasattr(self, "net_"):
            self._check_params()
        batch = self._check_blocks("batch", batch)
        place = placement()
        dev = place.device
        with torch_threads():
            if not hasattr(self, "net_"):
                self._build(rng)
            data = place.tensor(batch, integer=True)
            self.net_.train()
            losses = []
            for _ in range(self.epochs):
                for index in shuffled_batches(len(batch), self.batch_size, rng, dev):
                    targets = data[index]
                    logits, _ = self.net_(self._inputs(targets))
                    loss = torch.nn.functional.cross_entropy(
                        logits.reshape(-1, self.vocab_size), targets.reshape(-1)
                    )
                    self.optimizer_.zero_grad(set_to_none=True)
                    loss.backward()
                    torch.nn.utils.clip_grad_norm_(self.net_.parameters(), self.grad_clip)
                    self.optimizer_.step()
                    losses.append(loss.item())
                    self.steps_ += 1
        self.iterations_ += 1
        return float(np.mean(losses))

    def sample(self, n: int, rng: np.random.Generator, return_entropy: bool = False):
        """``(n, block_len)`` int64 blocks generated from BOS at ``temperature``.

        With ``return_entropy``, also the mean entropy (nats) of the sampling distributions along
        the generated blocks.
        """
        n = check_int("n", n, 0)
        self._check_fitted()
        dev = next(self.net_.parameters()).device
        out = np.empty((n, self.block_len), dtype=np.int64)
        if n == 0:
            return (out, float("nan")) if return_entropy else out
        generator = torch_generator(rng, dev)
        entropies = []
        self.net_.eval()
        with torch.no_grad(), torch_threads():
            token = torch.full((n, 1), self.vocab_size, dtype=torch.long, device=dev)
            state = None
            for t in range(self.block_len):
                logits, state = self.net_(token, state)
                logp = torch.log_softmax(logits[:, 0] / self.temperature, dim=-1)
                probs = logp.exp()
                entropies.append(-(probs * logp).sum(-1).mean().item())
                token = torch.multinomial(probs, 1, generator=generator)
                out[:, t] = token[:, 0].cpu().numpy()
        return (out, float(np.mean(entropies))) if return_entropy else out

    def score(self, blocks, chunk: int = 256) -> tuple[float, float]:
        """Mean negative log-likelihood (nats per character) and mean predictive entropy (nats).

        Both averaged over every position of every block of ``blocks`` ``(n, block_len)``;
        ``exp`` of the first is the per-character perplexity.
        """
        self._check_fitted()
        blocks = self._check_blocks("blocks", blocks)
        dev = next(self.net_.parameters()).device
        nll = ent = 0.0
        self.net_.eval()
        with torch.no_grad(), torch_threads():
            for start in range(0, len(blocks), chunk):
                targets = torch.as_tensor(blocks[start : start + chunk], device=dev)
                logits, _ = self.net_(self._inputs(targets))
                logp = torch.log_softmax(logits, dim=-1)
                nll -= logp.gather(-1, targets.unsqueeze(-1)).sum().item()
                ent -= (logp.exp() * logp).sum().item()
        count = blocks.size
        return nll / count, ent / count
