"""WikiText tokenised with GPT-2's tokenizer: the paper's text data (optional; network once).

``transformers`` and ``datasets`` are imported on demand (:func:`recursive_lib._hf.require_hf`).
"""

from __future__ import annotations

import numpy as np

from recursive_lib._hf import require_hf
from recursive_lib.data.corpus import to_blocks

__all__ = ["TokenizerText", "load_wikitext"]


class TokenizerText:
    """GPT-2's tokenizer behind the ``decode`` that :func:`recursive_lib.experiments.text.evaluate_model` uses."""

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

    data = datasets.load_dataset("wikitext", name)
    blocks = []
    for split in ("train", "test"):
        joined = "".join(data[split]["text"])
        blocks.append(to_blocks(tokenizer.encode(joined), block_len))
    return blocks[0], blocks[1]
