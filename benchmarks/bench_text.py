"""Benchmark: cost of one fresh-regime iteration of the character language model, and the
projected wall time of the text chapter's book preset.

One iteration = ``partial_fit`` on ``m_total`` blocks (``epochs`` passes) + sampling the
synthetic share; an evaluation = held-out scoring + ``n_generate`` generated blocks. The projection
multiplies by the preset's iteration and evaluation counts per run, the number of runs, and
divides by ``n_jobs`` (ideal parallelism: on a shared machine the real figure is higher).

    python benchmarks/bench_text.py            # book preset sizes (about a minute)
    python benchmarks/bench_text.py --small    # CI size (seconds)
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from recursive_lib.book import params
from recursive_lib.continual.char_lm import CharLM
from recursive_lib.data.corpus import load_corpus, to_blocks
from recursive_lib.experiments import text

CHAPTER = Path(__file__).resolve().parents[1] / "chapters" / "text.md"


def measure(cfg, repeats: int) -> None:
    corpus = load_corpus()
    pool = to_blocks(corpus.encode(corpus.train_text), cfg.block_len)
    heldout = to_blocks(corpus.encode(corpus.heldout_text), cfg.block_len)[: cfg.n_heldout]
    rng = np.random.default_rng(0)
    model = CharLM(corpus.V, block_len=cfg.block_len, hidden=cfg.hidden, epochs=cfg.epochs)
    model.partial_fit(pool[: cfg.m_total], rng)  # builds the network outside the timing
    t0 = time.perf_counter()
    for _ in range(repeats):
        model.partial_fit(pool[rng.choice(len(pool), cfg.m_total, replace=False)], rng)
    fit = (time.perf_counter() - t0) / repeats
    t0 = time.perf_counter()
    for _ in range(repeats):
        model.sample(cfg.m_total // 2, rng)
    sample = (time.perf_counter() - t0) / repeats
    t0 = time.perf_counter()
    text.evaluate_model(model, corpus, heldout, cfg.n_generate, rng)
    evaluate = time.perf_counter() - t0
    fits = cfg.warmup + cfg.T
    evaluations = cfg.T // cfg.eval_every + (cfg.T % cfg.eval_every != 0)
    per_run = fits * fit + cfg.T * sample + evaluations * evaluate
    runs = len(cfg.fresh_alphas) * cfg.reps
    print(
        f"[text, preset {cfg.preset}] per iteration: partial_fit {fit:.3f} s, sampling half a batch "
        f"{sample:.3f} s; per evaluation {evaluate:.3f} s; per run ({fits} fits, {evaluations} "
        f"evaluations) {per_run:.0f} s; {runs} runs on {cfg.n_jobs} process(es): about "
        f"{runs * per_run / cfg.n_jobs / 60:.1f} min (ideal parallelism, machine load included)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--small", action="store_true", help="CI size: the smoke preset")
    args = parser.parse_args()
    if args.small:
        measure(params.for_chapter(CHAPTER, "smoke"), repeats=2)
    else:
        measure(params.for_chapter(CHAPTER, "book"), repeats=10)


if __name__ == "__main__":
    main()
