"""The text experiment: corpus and split, text metrics, the character language model,
fresh-regime runs and the optional GPT-2 path (never needs transformers here)."""

import math
import pickle
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from recursive_lib import metrics
from recursive_lib.book import params
from recursive_lib.continual.char_lm import CharLM
from recursive_lib.data import corpus as corpus_module
from recursive_lib.experiments import text

TINY = dict(
    T=3,
    m_total=16,
    block_len=24,
    epochs=1,
    hidden=16,
    embed=8,
    n_heldout=20,
    n_generate=12,
    snapshot_at=[1, 3],
    n_snippets=2,
)


@pytest.fixture(scope="module")
def corpus():
    return corpus_module.load_corpus()


@pytest.fixture(scope="module")
def pool(corpus):
    return corpus_module.to_blocks(corpus.encode(corpus.train_text), 32)


# -- corpus --------------------------------------------------------------------------------------


def test_corpus_is_offline_english_split_by_topic_deterministically(corpus):
    assert len(corpus.train_text) > 200_000 and len(corpus.heldout_text) > 20_000
    assert not set(corpus.train_topics) & set(corpus.heldout_topics)
    assert len(corpus.heldout_topics) >= 5
    # the same split on a fresh load (the cache cleared), and in name order every tenth topic
    corpus_module.load_corpus.cache_clear()
    again = corpus_module.load_corpus()
    assert again == corpus and again.fingerprint == corpus.fingerprint
    assert set("abcdefghijklmnopqrstuvwxyz \n") <= set(corpus.vocab)
    assert not set("ABCDEFGHIJKLMNOPQRSTUVWXYZ") & set(corpus.vocab)  # lower-cased
    # held-out paragraphs are (almost all) absent from the training text
    paragraphs = corpus.heldout_text.split("\n")
    seen = sum(p in corpus.train_text for p in paragraphs)
    assert seen <= 0.05 * len(paragraphs)


def test_cleaning_keeps_prose_and_drops_code_grammar_and_headings():
    raw = (
        'The "pass" statement\n********************\n\n'
        '   pass_stmt ::= "pass"\n\n'
        '"pass" is a null operation \u2014 when it is executed,\nnothing happens. It is useful.\n\n'
        "   def f(arg): pass    # a function that does nothing (yet)\n"
    )
    cleaned = corpus_module.clean_topic(raw)
    assert cleaned == '"pass" is a null operation - when it is executed, nothing happens. it is useful.'
    with pytest.raises(ValueError, match="raw must be a string"):
        corpus_module.clean_topic(3)


def test_encode_decode_round_trip_and_blocks(corpus):
    sample = corpus.heldout_text[:500]
    assert corpus.decode(corpus.encode(sample)) == sample
    blocks = corpus_module.to_blocks(np.arange(10), 3)
    assert blocks.shape == (3, 3) and blocks[-1].tolist() == [6, 7, 8]
    with pytest.raises(ValueError, match="not in the vocabulary"):
        corpus.encode("Capital")
    with pytest.raises(ValueError, match="block_len must be an integer >= 2"):
        corpus_module.to_blocks(np.arange(10), 1)
    with pytest.raises(ValueError, match="block_len must be at most"):
        corpus_module.to_blocks(np.arange(10), 11)


# -- metrics -------------------------------------------------------------------------------------


def test_distinct_n_on_hand_computed_examples():
    assert metrics.distinct_n(["a b a b"], 1) == 2 / 4
    assert metrics.distinct_n(["a b a b"], 2) == 2 / 3  # "a b", "b a", "a b"
    assert metrics.distinct_n("a b a b", 3) == 2 / 2
    assert metrics.distinct_n(["a b", "b a"], 2) == 1.0  # no n-gram across two texts
    assert metrics.distinct_n(["The cat, the cat."], 1) == 2 / 4  # words: lower case, no punctuation
    assert math.isnan(metrics.distinct_n(["one"], 2))
    with pytest.raises(ValueError, match="n must be an integer >= 1"):
        metrics.distinct_n(["a"], 0)


def test_perplexity_and_entropy_of_a_uniform_model():
    V = 68
    assert metrics.perplexity(np.full(100, math.log(V))) == pytest.approx(V)
    assert metrics.entropy(np.full(V, 1 / V)) == pytest.approx(math.log(V))
    assert metrics.entropy(np.eye(3)).tolist() == [0.0, 0.0, 0.0]
    with pytest.raises(ValueError, match="nll must be"):
        metrics.perplexity([])
    with pytest.raises(ValueError, match="probs must hold probability vectors"):
        metrics.entropy([0.5, 0.6])


def test_a_model_with_zero_logits_scores_perplexity_V(corpus, pool):
    import torch

    model = CharLM(corpus.V, block_len=32, hidden=8, embed=4)
    model.partial_fit(pool[:8], np.random.default_rng(0))
    with torch.no_grad():
        model.net_.head.weight.zero_()
        model.net_.head.bias.zero_()
    nll, ent = model.score(pool[100:120])
    assert math.exp(nll) == pytest.approx(corpus.V, rel=1e-5)
    assert ent == pytest.approx(math.log(corpus.V), rel=1e-5)


def test_real_distinct_reference_depends_on_sample_size(corpus):
    small = text.real_distinct(corpus, 20, 64, draws=5).set_index("n")["mean"]
    large = text.real_distinct(corpus, 300, 64, draws=5).set_index("n")["mean"]
    assert (small > large).all() and ((large > 0) & (large <= 1)).all()
    assert large[1] < large[2] < large[3]
    with pytest.raises(ValueError, match="source must be one of"):
        text.real_distinct(corpus, 20, 64, source="wiki")


# -- the language model ----------------------------------------------------------------------------


def test_the_model_learns_held_out_perplexity_falls(corpus, pool):
    heldout = corpus_module.to_blocks(corpus.encode(corpus.heldout_text), 32)[:200]
    rng = np.random.default_rng(0)
    model = CharLM(corpus.V, block_len=32, hidden=64, epochs=1, batch_size=16, lr=1e-2)
    model.partial_fit(pool[rng.choice(len(pool), 32, replace=False)], rng)
    before = math.exp(model.score(heldout)[0])
    for _ in range(25):
        model.partial_fit(pool[rng.choice(len(pool), 64, replace=False)], rng)
    after = math.exp(model.score(heldout)[0])
    # a unigram model of English characters has perplexity about 20; the untrained one about V
    assert before > 25 and after < 0.6 * before and after < 15, (before, after)


def test_samples_have_the_block_shape_and_the_vocabulary(corpus, pool):
    model = CharLM(corpus.V, block_len=32, hidden=16, embed=8)
    model.partial_fit(pool[:16], np.random.default_rng(1))
    blocks, ent = model.sample(7, np.random.default_rng(2), return_entropy=True)
    assert blocks.shape == (7, 32) and blocks.dtype == np.int64
    assert blocks.min() >= 0 and blocks.max() < corpus.V
    assert 0 < ent <= math.log(corpus.V) + 1e-6
    assert model.sample(0, np.random.default_rng(2)).shape == (0, 32)


def test_training_and_sampling_are_reproducible_and_survive_pickling(corpus, pool):
    def fitted(seed):
        model = CharLM(corpus.V, block_len=32, hidden=16, embed=8)
        loss = model.partial_fit(pool[:32], np.random.default_rng(seed))
        return model, loss

    (a, la), (b, lb) = fitted(5), fitted(5)
    assert la == lb
    np.testing.assert_array_equal(
        a.sample(5, np.random.default_rng(9)), b.sample(5, np.random.default_rng(9))
    )
    c, lc = fitted(6)
    assert lc != la
    copy = pickle.loads(pickle.dumps(a))
    assert copy.partial_fit(pool[32:64], np.random.default_rng(3)) == a.partial_fit(
        pool[32:64], np.random.default_rng(3)
    )


def test_bad_inputs_raise_errors_that_name_the_parameter(corpus, pool):
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="vocab_size must be an integer >= 2"):
        CharLM(1, block_len=32).partial_fit(pool[:4], rng)
    with pytest.raises(ValueError, match="epochs must be an integer >= 1"):
        CharLM(corpus.V, block_len=32, epochs=0).partial_fit(pool[:4], rng)
    with pytest.raises(ValueError, match=r"batch must be an int array of shape \(n >= 1, block_len=16\)"):
        CharLM(corpus.V, block_len=16).partial_fit(pool[:4], rng)
    with pytest.raises(ValueError, match=r"batch must hold token ids in \[0, 67\]"):
        CharLM(68, block_len=32).partial_fit(pool[:4] + 100, rng)
    with pytest.raises(ValueError, match="not trained yet"):
        CharLM(corpus.V).sample(3, rng)
    with pytest.raises(ValueError, match=r"alpha must be in \[0, 1\]"):
        text.run_text(alpha=1.5, seed=0, **TINY)
    with pytest.raises(ValueError, match="snapshot_at must hold evaluated iterations"):
        text.run_text(alpha=0.5, seed=0, **{**TINY, "snapshot_at": [5]})
    with pytest.raises(ValueError, match="n_heldout must be at most"):
        text.run_text(alpha=0.5, seed=0, **{**TINY, "n_heldout": 10**6})


# -- runs ------------------------------------------------------------------------------------------


def test_run_text_is_tidy_reproducible_and_keeps_snippets(tmp_path):
    a = text.run_text(alpha=0.5, seed=3, rep=1, warmup=1, checkpoint_dir=str(tmp_path), **TINY)
    b = text.run_text(alpha=0.5, seed=3, rep=1, warmup=1, **TINY)
    pd.testing.assert_frame_equal(a, b)
    assert list(tmp_path.iterdir()) == []  # the checkpoint is removed once the run completes
    assert a.iteration.tolist() == [1, 2, 3] and (a.rep == 1).all()
    assert a.n_real.tolist() == [16, 8, 8] and a.n_synthetic.tolist() == [0, 8, 8]
    for metric in text.METRICS:
        assert a[metric].notna().all()
    assert a.sample_0.notna().tolist() == [True, False, True]
    assert isinstance(a.sample_1.iloc[0], str) and len(a.sample_1.iloc[0]) == TINY["block_len"]
    other = text.run_text(alpha=0.5, seed=3, rep=0, warmup=1, **TINY)
    assert not np.allclose(other.perplexity, a.perplexity)


def test_a_shared_warm_up_gives_the_run_a_fresh_warm_up_gives(monkeypatch):
    """The runs of one repetition share their warm-up across real fractions (WarmUp keeps it in
    the process): a run that takes it back is the run that trains it itself, and it trains none."""
    text.WarmUp.forget()
    text.run_text(alpha=0.25, seed=3, rep=1, warmup=2, **TINY)  # trains the warm-up, keeps it
    fits = []
    original = CharLM.partial_fit
    monkeypatch.setattr(
        CharLM, "partial_fit", lambda self, *a, **k: fits.append(1) or original(self, *a, **k)
    )
    shared = text.run_text(alpha=0.75, seed=3, rep=1, warmup=2, **TINY)
    shared_fits = len(fits)
    text.WarmUp.forget()
    fits.clear()
    fresh = text.run_text(alpha=0.75, seed=3, rep=1, warmup=2, **TINY)
    assert len(fits) == shared_fits + 2  # the two warm-up calls, trained only without the store
    pd.testing.assert_frame_equal(shared, fresh)
    text.WarmUp.forget()


def _fake_runs():
    rows = []
    for alpha, rate in ((0.0, -0.1), (1.0, 0.2)):
        for rep in range(4):
            for n in range(1, 21):
                ppl = 10 * n ** (-rate) * (1 + 0.01 * rep)
                rows.append(
                    dict(
                        iteration=n,
                        alpha=alpha,
                        rep=rep,
                        perplexity=ppl,
                        **{m: 0.5 for m in text.METRICS if m != "perplexity"},
                    )
                )
    return pd.DataFrame(rows)


def test_trend_and_final_levels_recover_a_known_power_law():
    runs = _fake_runs()
    slopes = text.slopes_by_alpha(runs, burn_in=2).set_index("alpha")
    assert slopes.loc[0.0, "slope"] == pytest.approx(-0.1) and slopes.loc[1.0, "slope"] == pytest.approx(0.2)
    levels = text.final_levels(runs, metrics=["perplexity"], last=1).set_index("alpha")
    per_rep = 10 * 20**0.1 * (1 + 0.01 * np.arange(4))  # each repetition's last level
    se = per_rep.std(ddof=1) / 2
    half = stats.t.ppf(0.975, 3) * se  # Student-t, 3 degrees of freedom
    row = levels.loc[0.0]
    assert row["mean"] == pytest.approx(per_rep.mean()) and row["se"] == pytest.approx(se)
    assert (row["lo"], row["hi"]) == pytest.approx((per_rep.mean() - half, per_rep.mean() + half))
    assert row["reps"] == 4
    # with last=2 a repetition's level is the mean of its last two evaluations
    two = text.final_levels(runs, metrics=["perplexity"], last=2).set_index("alpha")
    expected = (10 * np.array([19.0, 20.0]) ** 0.1).mean() * (1 + 0.01 * np.arange(4)).mean()
    assert two.loc[0.0, "mean"] == pytest.approx(expected)
    with pytest.raises(ValueError, match="results must be run_text output"):
        text.final_levels(runs.drop(columns="rep"))


def test_rep_levels_are_the_repetitions_behind_final_levels():
    runs = _fake_runs()
    per_rep = text.rep_levels(runs, metrics=["perplexity"], last=2)
    assert list(per_rep.columns) == ["alpha", "rep", "perplexity"] and len(per_rep) == 8
    expected = (10 * np.array([19.0, 20.0]) ** 0.1).mean() * (1 + 0.01 * np.arange(4))
    assert per_rep[per_rep.alpha == 0.0].perplexity.to_numpy() == pytest.approx(expected)
    levels = text.final_levels(runs, metrics=["perplexity"], last=2).set_index("alpha")
    assert levels.loc[0.0, "mean"] == pytest.approx(expected.mean())


def test_presets_allow_alpha_zero_and_check_the_text_knobs(root):
    chapter = root / "chapters" / "text.md"
    cfg = params.for_chapter(chapter, "smoke")
    assert 0.0 in cfg.fresh_alphas and 1.0 in cfg.fresh_alphas
    book = params.for_chapter(chapter, "book")
    assert 0.0 in book.fresh_alphas and 1.0 in book.fresh_alphas
    with pytest.raises(ValueError, match="block_len must be an integer >= 2"):
        params.for_chapter(chapter, "smoke", block_len=1)
    with pytest.raises(ValueError, match=r"fresh_alphas must be in \[0, 1\]"):
        params.for_chapter(chapter, "smoke", fresh_alphas=(0.0, 1.5))


# -- the optional GPT-2 path ---------------------------------------------------------------------


def test_the_gpt2_path_says_how_to_install_what_is_missing(monkeypatch):
    from recursive_lib._hf import require_hf
    from recursive_lib.continual.gpt2 import GPT2LM
    from recursive_lib.experiments.gpt2 import run_gpt2

    monkeypatch.setitem(sys.modules, "transformers", None)  # import transformers -> ImportError
    with pytest.raises(ImportError, match="pip install transformers datasets"):
        require_hf()
    with pytest.raises(ImportError, match="pip install transformers datasets"):
        run_gpt2(alpha=0.5, seed=0)
    with pytest.raises(ImportError, match="pip install transformers datasets"):
        GPT2LM().partial_fit(np.zeros((2, 128), dtype=int), np.random.default_rng(0))


@pytest.mark.slow
def test_importing_the_library_never_imports_hugging_face():
    code = (
        "import sys, recursive_lib, recursive_lib.experiments.text, recursive_lib.experiments.gpt2, "
        "recursive_lib.continual.gpt2, recursive_lib.data.wikitext, recursive_lib.continual.char_lm; "
        "print(any(m in sys.modules for m in ('transformers', 'datasets')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_cached_text_runs_are_keyed_by_the_corpus(corpus):
    from recursive_lib import sweep

    assert text.run_text.fingerprint(heldout_every=10, alpha=0.5) == corpus.fingerprint
    config = dict(TINY, alpha=0.5, seed=0)
    meta = sweep._meta(text.run_text, config)
    assert meta["inputs"] == corpus.fingerprint
