"""The GPT-2 path end to end, offline: a two-layer GPT-2 built from a config (random
weights, nothing downloaded), a byte-level BPE tokenizer trained here on local text, and a stand-in
for WikiText of its shape (a ``datasets.DatasetDict`` of lines). The code is the one that loads
``"gpt2"`` and WikiText by name; only the objects differ."""

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("transformers", reason="the [hf] extra is not installed")
pytest.importorskip("datasets", reason="the [hf] extra is not installed")

from test_text import TINY as CHAR_TINY  # the character model's tiny run, for its columns

from recursive_lib import rates
from recursive_lib.continual.gpt2 import GPT2LM
from recursive_lib.data.corpus import load_corpus
from recursive_lib.data.wikitext import TokenizerText, load_wikitext
from recursive_lib.experiments import text
from recursive_lib.experiments.gpt2 import real_distinct_wikitext, run_gpt2

BLOCK = 16
TINY = dict(
    T=3,
    m_total=8,
    block_len=BLOCK,
    epochs=1,
    batch_size=4,
    lr=1e-3,
    n_heldout=6,
    n_generate=6,
    snapshot_at=[1, 3],
    n_snippets=2,
)


@pytest.fixture(scope="module")
def corpus():
    return load_corpus()


@pytest.fixture(scope="module")
def tokenizer(corpus):
    """A byte-level BPE of a few hundred tokens trained on the pydoc prose, as a transformers tokenizer."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=300,
        special_tokens=["<|endoftext|>"],
        show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    bpe.train_from_iterator([corpus.train_text[:40_000]], trainer)
    return PreTrainedTokenizerFast(tokenizer_object=bpe, bos_token="<|endoftext|>", eos_token="<|endoftext|>")


@pytest.fixture(scope="module")
def wikitext(corpus):
    """WikiText's shape: splits train and test, a "text" column of lines ending in a newline."""
    from datasets import Dataset, DatasetDict

    def lines(body):
        return [line + "\n" for line in body.split("\n")]

    return DatasetDict(
        train=Dataset.from_dict({"text": lines(corpus.train_text[:12_000])}),
        test=Dataset.from_dict({"text": lines(corpus.heldout_text[:3_000])}),
    )


def tiny_config(tokenizer):
    from transformers import GPT2Config

    return GPT2Config(
        vocab_size=len(tokenizer),
        n_positions=64,
        n_embd=32,
        n_layer=2,
        n_head=2,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )


def test_load_wikitext_cuts_both_splits_into_token_blocks(tokenizer, wikitext, corpus):
    words = TokenizerText(tokenizer)
    train, heldout = load_wikitext(words, BLOCK, wikitext)
    assert train.shape[1] == heldout.shape[1] == BLOCK and train.dtype == np.int64
    joined = "".join(wikitext["train"]["text"])
    assert len(train) == len(words.encode(joined)) // BLOCK
    # the blocks are the text: decoding them gives back its beginning
    assert joined.startswith(words.decode(train[:3].ravel()))
    assert words.decode(heldout[0]) in "".join(wikitext["test"]["text"])
    assert train.max() < len(tokenizer)
    with pytest.raises(ValueError, match="dataset must have the splits 'train' and 'test'"):
        load_wikitext(words, BLOCK, {"train": {"text": ["a b c"]}})
    with pytest.raises(ValueError, match="tokenizer must be a tokenizer name"):
        TokenizerText(42)


def test_gpt2_learns_samples_and_scores(tokenizer, wikitext):
    words = TokenizerText(tokenizer)
    train, heldout = load_wikitext(words, BLOCK, wikitext)
    rng = np.random.default_rng(0)
    model = GPT2LM(tiny_config(tokenizer), block_len=BLOCK, lr=3e-3, epochs=1, batch_size=8)
    with pytest.raises(ValueError, match="not trained yet"):
        model.sample(2, rng)
    before = None
    for i in range(12):
        loss = model.partial_fit(train[rng.choice(len(train), 32, replace=False)], rng)
        if i == 0:
            before = model.score(heldout)[0]
    after, entropy = model.score(heldout)
    # a uniform guess scores log V; training on the same prose must beat both it and the start
    assert after < before - 0.5 and after < np.log(len(tokenizer)) - 0.5
    assert 0 < entropy < np.log(len(tokenizer))
    assert np.isfinite(loss) and model.iterations_ == 12
    tokens, gen_entropy = model.sample(5, rng, return_entropy=True)
    assert tokens.shape == (5, BLOCK) and tokens.min() >= 0 and tokens.max() < len(tokenizer)
    assert 0 < gen_entropy < np.log(len(tokenizer))
    assert all(isinstance(t, str) for t in words.decode(tokens))
    with pytest.raises(ValueError, match="batch must be an int array"):
        model.partial_fit(train[:, :4], rng)
    with pytest.raises(ValueError, match="must hold token ids in"):
        model.partial_fit(np.full((2, BLOCK), len(tokenizer)), rng)
    with pytest.raises(ValueError, match="network must be a model name"):
        GPT2LM(3.5, block_len=BLOCK).partial_fit(train[:2], rng)


def test_gpt2_runs_are_reproducible_from_the_seed(tokenizer, wikitext):
    def run():
        return run_gpt2(
            alpha=0.5,
            seed=3,
            rep=1,
            network=tiny_config(tokenizer),
            tokenizer=tokenizer,
            dataset=wikitext,
            **TINY,
        )

    first, second = run(), run()
    pd.testing.assert_frame_equal(first, second)


def test_run_gpt2_has_run_text_columns_and_the_chapter_summaries_work(tokenizer, wikitext, corpus):
    runs = [
        run_gpt2(
            alpha=a,
            seed=0,
            rep=r,
            network=tiny_config(tokenizer),
            tokenizer=tokenizer,
            dataset=wikitext,
            **TINY,
        )
        for a in (0.0, 1.0)
        for r in (0, 1)
    ]
    results = pd.concat(runs, ignore_index=True)
    chars = text.run_text(alpha=0.5, seed=0, **CHAR_TINY)
    assert list(results.columns) == list(chars.columns)
    assert len(results) == 4 * TINY["T"]
    first = results[results["iteration"] == 1]
    # common random numbers: iteration 1 is the same run at every alpha of a repetition
    assert first.groupby("rep")["perplexity"].nunique().eq(1).all()
    assert results["sample_0"].notna().sum() == 4 * len(TINY["snapshot_at"])
    # the text chapter's summaries, on GPT-2 results
    runs_evaluated = text.evaluated(results)
    levels = text.final_levels(
        results.assign(log_loss=np.log(results.perplexity)), metrics=[*text.METRICS, "log_loss"], last=2
    )
    assert set(levels["metric"]) == {*text.METRICS, "log_loss"} and (levels["reps"] == 2).all()
    assert levels[["mean", "lo", "hi"]].notna().all().all()
    slopes = text.slopes_by_alpha(results, "perplexity")
    assert list(slopes["alpha"]) == [0.0, 1.0] and slopes["slope"].notna().all()
    summary = rates.curve_summary(runs_evaluated, "perplexity", x="iteration")
    assert len(summary) == 2 * TINY["T"]
    reference = real_distinct_wikitext(
        TokenizerText(tokenizer), n_blocks=6, block_len=BLOCK, draws=3, dataset=wikitext
    )
    assert list(reference["n"]) == [1, 2, 3] and reference["mean"].between(0, 1).all()


def test_run_gpt2_rejects_bad_arguments(tokenizer, wikitext, tmp_path):
    config = tiny_config(tokenizer)
    with pytest.raises(ValueError, match="tokenizer must be given"):
        run_gpt2(alpha=0.5, seed=0, network=config, dataset=wikitext, **TINY)
    with pytest.raises(ValueError, match="checkpoint_dir needs network, tokenizer and dataset"):
        run_gpt2(
            alpha=0.5,
            seed=0,
            network=config,
            tokenizer=tokenizer,
            dataset=wikitext,
            checkpoint_dir=str(tmp_path),
            **TINY,
        )
    with pytest.raises(ValueError, match="n_heldout must be at most"):
        run_gpt2(
            alpha=0.5,
            seed=0,
            network=config,
            tokenizer=tokenizer,
            dataset=wikitext,
            **dict(TINY, n_heldout=10_000),
        )
    with pytest.raises(ValueError, match=r"alpha must be in \[0, 1\]"):
        run_gpt2(alpha=1.5, seed=0, network=config, tokenizer=tokenizer, dataset=wikitext, **TINY)
    assert run_gpt2.fingerprint(network="gpt2") == "gpt2/gpt2/wikitext-2-raw-v1"
