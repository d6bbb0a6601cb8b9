"""How long the exact curves take at the paper's horizon: ``theory.expected_mmd2`` (ECDF and KDE,
with and without the authors' bias schedule) and ``theory.kde_expected_ise``, ``T = 3000``.

The median of ``--repeats`` calls is printed per curve; the target is well under a second each.

    python benchmarks/bench_theory.py            # T = 3000, 7 calls each
    python benchmarks/bench_theory.py --small    # CI size: T = 300, 3 calls each
"""

from __future__ import annotations

import argparse
import statistics
import time

from recursive_lib import theory
from recursive_lib.data.contamination import BiasSchedule


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="T = 300, 3 calls each")
    parser.add_argument("--repeats", type=int, default=None)
    args = parser.parse_args()
    T = 300 if args.small else 3000
    repeats = args.repeats or (3 if args.small else 7)
    kde_bias = BiasSchedule(rate=0.5, scale=0.2, mean=3.0, sd=1.0, offset=5.0)
    ecdf_bias = BiasSchedule(rate=0.5, scale=0.1, mean=2.0, sd=1.0, offset=5.0)
    paper_h = [0.5 * n**-0.25 for n in range(1, T + 1)]  # Simulation 1: h_n = h0 n^(-p/2)
    bias_h = [2.0 * n**-0.5 for n in range(1, T + 1)]  # the authors' bias design: h_n = h0 n^(-p)
    curves = {
        "expected_mmd2 ecdf, alpha 0.5": lambda: theory.expected_mmd2("ecdf", 0.5, 50, T),
        "expected_mmd2 kde, alpha 0.5": lambda: theory.expected_mmd2("kde", 0.5, 50, T, bandwidth=paper_h),
        "expected_mmd2 ecdf, biased, alpha 0.25": lambda: theory.expected_mmd2(
            "ecdf", 0.25, 50, T, bias=ecdf_bias, grid_size=200
        ),
        "expected_mmd2 kde, biased, alpha 0.25": lambda: theory.expected_mmd2(
            "kde", 0.25, 50, T, bandwidth=bias_h, bias=kde_bias
        ),
        "kde_expected_ise, alpha 0.5, h_n = 2 n^-1/2": lambda: theory.kde_expected_ise(0.5, 50, T, bias_h),
    }
    print(f"T = {T}, median of {repeats} calls")
    for name, call in curves.items():
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            call()
            times.append(time.perf_counter() - start)
        print(f"  {name:45s} {statistics.median(times) * 1000:8.1f} ms")


if __name__ == "__main__":
    main()
