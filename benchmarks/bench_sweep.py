"""The cost of each sweep backend: the bias grid run serially, on loky and on a Dask LocalCluster.

Every backend must give exactly the serial result (checked). The overhead of a backend is its wall
time times its workers over the serial wall time, minus one: the share of the cores it spends on
anything but the configurations (target: within 10 % for configurations of a second or more).

    python benchmarks/bench_sweep.py            # 18 configurations of 1-3 s each (about 2 min)
    python benchmarks/bench_sweep.py --small    # CI size: seconds
"""

from __future__ import annotations

import argparse
import time

import pandas as pd

from recursive_lib import sweep
from recursive_lib.experiments.bias import PAPER_DESIGNS, bias_configs
from recursive_lib.experiments.thinned import simulate_thinned


def timed(configs, **kwargs) -> tuple[pd.DataFrame, float]:
    start = time.perf_counter()
    out = sweep.run_sweep(configs, run=simulate_thinned, **kwargs)
    return out, time.perf_counter() - start


def same(out: pd.DataFrame, serial: pd.DataFrame) -> None:
    """Identical results; cpu_seconds is each run's own measurement of its time, not a result."""
    pd.testing.assert_frame_equal(out.drop(columns="cpu_seconds"), serial.drop(columns="cpu_seconds"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="CI size: seconds")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    T, reps = (40, 4) if args.small else (1000, 40)
    configs = [
        dict(c, burn_in=10, curve_points=30)
        for c in bias_configs(
            ["ecdf", "kde"], [0.25, 0.5, 0.75], [0.25, 0.5, 0.75], 0.5, 50, T, reps, 0, PAPER_DESIGNS
        )
    ]
    serial, base = timed(configs)
    print(
        f"[sweep] {len(configs)} configurations (bias grid, T={T}, reps={reps}): serial "
        f"{base:.1f} s, {base / len(configs):.2f} s per configuration"
    )
    runs = [("loky", {})]
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        Client = None
    for backend, extra in runs:
        out, wall = timed(configs, backend=backend, n_jobs=args.workers, **extra)
        same(out, serial)
        print(
            f"[sweep] {backend:<6} {args.workers} workers: {wall:.1f} s, overhead "
            f"{wall * args.workers / base - 1:+.0%} of the serial time (target within 10 %); "
            "results identical to serial"
        )
    if Client is not None:
        with (
            sweep.dask_config(),
            LocalCluster(
                n_workers=args.workers,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=None,
            ) as cluster,
            Client(cluster),
        ):
            out, wall = timed(configs, backend="dask", n_jobs=args.workers)
            same(out, serial)
            print(
                f"[sweep] dask   {args.workers} workers (LocalCluster, loopback): {wall:.1f} s, "
                f"overhead {wall * args.workers / base - 1:+.0%} of the serial time (target "
                "within 10 %); results identical to serial"
            )


if __name__ == "__main__":
    main()
