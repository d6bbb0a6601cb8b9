"""Benchmark of the fast engine (recursive_lib.loops.fast) against the reference loop (recursive_lib.loops.reference).

Prints:
1. speed-up of the fast engine over the reference loop, KDE, alpha = 0.5, m1 = 50, 1 repetition;
2. the paper preset (ECDF and KDE, alpha = 0.1 ... 1.0, 100 repetitions, T = 2000, m1 = 50,
   grid 500) end to end on 2 processes: wall time and peak resident memory;
3. time per iteration at T and 2 T (it should be flat in n);
4. the binning error of the KDE engine against the exact KDE of the same points, next to the
   Monte Carlo standard error of the mean W1 at T.

    python benchmarks/bench_engine.py            # paper scale (about 2-3 minutes on 2 cores)
    python benchmarks/bench_engine.py --small    # CI size (seconds)
"""

from __future__ import annotations

import argparse
import resource
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pandas as pd

from recursive_lib.data import PAPER_TRUTH
from recursive_lib.estimators import GaussianKDE, make_estimator
from recursive_lib.loops.fast import _KdeBins, run_fast
from recursive_lib.loops.reference import run_reference
from recursive_lib.metrics import masses_from_pdf, mmd_grid, w1_grid
from recursive_lib.simulation import simulate

ALPHAS = tuple(round(0.1 * k, 1) for k in range(1, 11))


def speedup(T: int) -> None:
    grid = PAPER_TRUTH.grid(500)
    h = lambda n: 0.5 * n**-0.25  # noqa: E731
    t0 = time.perf_counter()
    run_reference(GaussianKDE(), 0.5, 50, T, PAPER_TRUTH, grid, np.random.default_rng(0), bandwidth=h)
    t_ref = time.perf_counter() - t0
    t0 = time.perf_counter()
    run_fast(GaussianKDE(), 0.5, 50, T, PAPER_TRUTH, grid, [np.random.default_rng(0)], bandwidth=h)
    t_fast = time.perf_counter() - t0
    print(
        f"[speed-up] KDE alpha=0.5 m1=50 T={T} 1 rep: reference {t_ref:.2f} s, "
        f"fast {t_fast:.3f} s, speed-up {t_ref / t_fast:.0f}x (target >= 100x at T=100; the "
        f"reference costs O(T^2), so smaller T gives less)"
    )


def _one(kwargs):
    t0 = time.perf_counter()
    frame = simulate(**kwargs)
    return frame, time.perf_counter() - t0


def preset(T: int, reps: int, alphas, workers: int = 2) -> pd.DataFrame:
    configs = [
        dict(estimator=e, alpha=a, m1=50, T=T, reps=reps, seed=0, grid_size=500)
        for e in ("ecdf", "kde")
        for a in alphas
    ]
    # Longest first, so the two workers finish together.
    configs.sort(key=lambda c: (c["estimator"] != "kde", c["alpha"]))
    t0 = time.perf_counter()
    with ProcessPoolExecutor(workers) as pool:
        results = list(pool.map(_one, configs))
    frame = pd.concat([f for f, _ in results], ignore_index=True)
    wall = time.perf_counter() - t0
    rss_self = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rss_child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(
        f"[preset] {len(configs)} configurations (ECDF, KDE x alpha {alphas[0]}..{alphas[-1]}), "
        f"reps={reps}, T={T}, m1=50, grid 500, {workers} processes: wall {wall:.1f} s "
        f"(target <= 180 s at paper scale)"
    )
    for c, (_, sec) in zip(configs, results, strict=True):
        print(f"    {c['estimator']:4s} alpha={c['alpha']:.1f}: {sec:6.1f} s")
    print(
        f"[memory] peak RSS: main process {rss_self:.0f} MB (holds the concatenated result, "
        f"{frame.memory_usage(deep=True).sum() / 2**20:.0f} MB), largest worker {rss_child:.0f} MB "
        f"(target <= 2048 MB)"
    )
    return frame


def flat_in_n(T: int, reps: int) -> None:
    grid = PAPER_TRUTH.grid(500)
    h = lambda n: 0.5 * n**-0.25  # noqa: E731
    for est in ("ecdf", "kde"):
        line = []
        for t in (T, 2 * T):
            rngs = [np.random.default_rng(r) for r in range(reps)]
            t0 = time.perf_counter()
            run_fast(
                make_estimator(est),
                0.5,
                50,
                t,
                PAPER_TRUTH,
                grid,
                rngs,
                bandwidth=h if est == "kde" else None,
                bins_per_cell=4 if est == "kde" else None,
            )
            sec = time.perf_counter() - t0
            line.append(f"T={t}: {sec:.2f} s = {1e3 * sec / t:.2f} ms/iteration")
        print(
            f"[T vs 2T] {est} alpha=0.5 reps={reps} (KDE with r=4 bins per grid cell for both): "
            + "; ".join(line)
        )


def binning_error(T: int, frame: pd.DataFrame | None) -> None:
    """W1 and MMD between the exact KDE of M points and the engine's binned KDE of the same points."""
    grid = PAPER_TRUTH.grid(500)
    rng = np.random.default_rng(1)
    h_T = 0.5 * T**-0.25
    for alpha in (1.0, 0.5):
        M = int(T * 50 / alpha)
        x = PAPER_TRUTH.sample(M, rng)
        exact = GaussianKDE(h_T).fit(x)  # mean_ and var_ only; cdf and pdf in chunks below
        cdf_exact = np.zeros(grid.size)
        pdf_exact = np.zeros(grid.size)
        for chunk in np.array_split(np.arange(M), max(1, M // 5000)):
            part = GaussianKDE(h_T).fit(x[chunk])
            cdf_exact += part.cdf(grid) * chunk.size / M
            pdf_exact += part.pdf(grid) * chunk.size / M
        bins = _KdeBins(PAPER_TRUTH, grid, 0.5, 0.5, h_T)
        pool = np.bincount(
            np.clip(np.floor((x - bins.lo) / bins.d).astype(int), 0, bins.B - 1), minlength=bins.B
        )[None, :].astype(float)
        w1_bin, mmd_bin, mean_bin, var_bin = bins.measure(pool, M, h_T)
        w1_exact = w1_grid(cdf_exact, PAPER_TRUTH.cdf(grid), grid)
        mmd_exact = mmd_grid(masses_from_pdf(pdf_exact, grid), bins.masses_true, grid)
        d_w1 = abs(w1_bin[0] - w1_exact)
        d_mmd = abs(mmd_bin[0] - mmd_exact)
        msg = (
            f"[binning] KDE h_T={h_T:.4f}, bin width d={bins.d:.4f} (r={bins.r}), M={M}: "
            f"W1 exact {w1_exact:.5f} vs binned {w1_bin[0]:.5f} (|diff| {d_w1:.1e}); "
            f"MMD exact {mmd_exact:.5f} vs binned {mmd_bin[0]:.5f} (|diff| {d_mmd:.1e}); "
            f"mean diff {abs(mean_bin[0] - exact.mean_):.1e}, "
            f"var diff {abs(var_bin[0] - exact.var_):.1e}"
        )
        if frame is not None:
            last = frame[(frame.estimator == "kde") & (frame.alpha == alpha) & (frame.n == frame.n.max())]
            if len(last) > 1:
                se_w1 = last.w1.std(ddof=1) / np.sqrt(len(last))
                se_mmd = last.mmd.std(ddof=1) / np.sqrt(len(last))
                msg += (
                    f"; Monte Carlo SE of mean W1 at n=T: {se_w1:.1e}, of mean MMD: {se_mmd:.1e} "
                    f"(binning/SE: {d_w1 / se_w1:.2f}, {d_mmd / se_mmd:.2f})"
                )
        print(msg)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="CI size: seconds, not minutes")
    args = parser.parse_args()
    if args.small:
        speedup(T=30)
        frame = preset(T=100, reps=10, alphas=(0.2, 0.5, 1.0))
        flat_in_n(T=100, reps=10)
        binning_error(T=100, frame=frame)
    else:
        speedup(T=100)
        frame = preset(T=2000, reps=100, alphas=ALPHAS)
        flat_in_n(T=1000, reps=100)
        binning_error(T=2000, frame=frame)


if __name__ == "__main__":
    main()
