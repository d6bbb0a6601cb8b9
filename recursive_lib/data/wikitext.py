"""WikiText tokenised with GPT-2's tokenizer: the paper's text data (optional; network once).

``transformers`` and ``datasets`` are imported on demand (:func:`recursive_lib._hf.require_hf`).
The tokenizer and the data set are loaded by name by default (``"gpt2"``, ``"wikitext-2-raw-v1"``);
objects of the same shape go through the same code (the tests pass a tokenizer trained on local
text and a small ``datasets.DatasetDict``).
"""

from __future__ import annotations

import numpy as np

from recursive_lib._hf import require_hf
from recursive_lib.data.corpus import to_blocks

__all__ = ["TokenizerText", "load_wikitext"]


class TokenizerText:
    """A Hugging Face tokenizer behind the ``encode`` / ``decode`` of
    :func:`recursive_lib.experiments.text.evaluate_model`.

    ``tokenizer``: a name or folder for ``AutoTokenizer.from_pretrained`` (``"gpt2"``, downloaded
    once), or a tokenizer object (a ``transformers.PreTrainedTokenizerFast``).
    """

    def __init__(self, tokenizer="gpt2"):
        transformers, _ = require_hf()
        if isinstance(tokenizer, str):
            self.name = tokenizer
            self.tokenizer = transformers.AutoTokenizer.from_pretrained(tokenizer)
        elif callable(tokenizer) and hasattr(tokenizer, "batch_decode"):
            self.name = getattr(tokenizer, "name_or_path", "") or type(tokenizer).__name__
            self.tokenizer = tokenizer
        else:
            raise ValueError(
                f"tokenizer must be a tokenizer name or a transformers tokenizer, "
                f"got {type(tokenizer).__name__}"
            )

    def encode(self, text: str) -> np.ndarray:
        """Token ids ``(N,)`` of ``text`` (no special tokens added)."""
        return np.asarray(self.tokenizer(text, add_special_tokens=False)["input_ids"], dtype=np.int64)

    def decode(self, tokens):
        """Text of ``(L,)`` token ids, or a list of texts of ``(n, L)``."""
        tokens = np.asarray(tokens)
        if tokens.ndim == 2:
            return self.tokenizer.batch_decode(tokens.tolist())
        return self.tokenizer.decode(tokens.tolist())


def load_wikitext(
    tokenizer: TokenizerText, block_len: int = 128, dataset="wikitext-2-raw-v1"
) -> tuple[np.ndarray, np.ndarray]:
    """``(train_blocks, heldout_blocks)``, int arrays ``(N, block_len)`` of token ids.

    Train: WikiText's train split; held out: its test split (articles the model is not trained on).
    ``dataset``: a WikiText configuration name (``datasets.load_dataset("wikitext", dataset)``), or an
    object of its shape: splits ``"train"`` and ``"test"``, each with a ``"text"`` column of lines.
    """
    _, datasets = require_hf()
    data = datasets.load_dataset("wikitext", dataset) if isinstance(dataset, str) else dataset
    splits = []
    for split in ("train", "test"):
        try:
            splits.append(data[split]["text"])
        except (KeyError, TypeError) as err:
            raise ValueError(
                f"dataset must have the splits 'train' and 'test', each with a 'text' "
                f"column (WikiText's shape); reading {split!r} failed: {err!r}"
            ) from None
    train, test = (to_blocks(tokenizer.encode("".join(lines)), block_len) for lines in splits)
    return train, test
