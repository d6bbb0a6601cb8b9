"""Benchmark of the bias grid (chapter "bias"): the authors' BCRT experiment end to end.

Prints:
1. wall time of the full grid of the paper preset (ECDF and KDE x alpha in {0.25, 0.5, 0.75} x
   q in {0.25, 0.5, 0.75}, 100 repetitions, T = 3000, m1 = 50, the authors' designs) on 2
   processes, against the target of 5 minutes, with the peak resident memory;
2. the fitted slopes (W1 and MMD, burn-in 200) with 95 % Student-t intervals beside
   min(p, alpha, q) - and, with ``--with-correction``, the same grid with importance weights
   beside min(p, alpha).

    python benchmarks/bench_bias.py                      # paper scale (a few minutes on 2 cores)
    python benchmarks/bench_bias.py --with-correction    # twice that
    python benchmarks/bench_bias.py --small              # CI size (seconds)
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

import pandas as pd

from recursive_lib.book import params
from recursive_lib.experiments import bias

CHAPTER = Path(__file__).resolve().parents[1] / "chapters" / "bias.md"


def run(cfg, correction: bool, workers: int) -> pd.DataFrame:
    configs = bias.bias_configs(
        cfg.estimators,
        cfg.alphas,
        cfg.qs,
        cfg.p,
        cfg.m1,
        cfg.T,
        cfg.reps,
        cfg.seed,
        cfg.designs,
        correction=(correction,),
    )
    t0 = time.perf_counter()
    slopes, _ = bias.run_bias_grid(configs, cfg.burn_in, n_jobs=workers)
    wall = time.perf_counter() - t0
    rss_self = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    label = "corrected" if correction else "uncorrected"
    cpu = (
        slopes.drop_duplicates(["estimator", "alpha", "bias_rate"]).groupby("estimator")["cpu_seconds"].sum()
    )
    print(
        f"[grid, {label}] {len(configs)} configurations ({'/'.join(cfg.estimators)} x "
        f"{len(cfg.alphas)} alpha x {len(cfg.qs)} q), reps={cfg.reps}, T={cfg.T}, m1={cfg.m1}, "
        f"{workers} processes: wall {wall:.1f} s (target <= 300 s at paper scale); CPU time in "
        f"the workers {cpu.sum():.1f} s ({', '.join(f'{e} {v:.1f} s' for e, v in cpu.items())}), "
        f"i.e. {cpu.sum() / workers:.1f} s of wall time on {workers} otherwise idle cores; "
        f"peak RSS main {rss_self:.0f} MB"
    )
    table = bias.summarize_bias_slopes(slopes)
    table["interval"] = table.apply(lambda r: f"[{r.lo:.3f}, {r.hi:.3f}]", axis=1)
    columns = ["estimator", "metric", "alpha", "bias_rate", "predicted", "slope", "interval", "log_corrected"]
    print(table[columns].round(3).to_string(index=False))
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="CI size: seconds, not minutes")
    parser.add_argument(
        "--with-correction", action="store_true", help="also run the grid with importance weights"
    )
    parser.add_argument("--workers", type=int, default=2, help="worker processes (default 2)")
    args = parser.parse_args()
    cfg = params.for_chapter(CHAPTER, "smoke" if args.small else "paper")
    run(cfg, False, args.workers)
    if args.with_correction:
        run(cfg, True, args.workers)


if __name__ == "__main__":
    main()
