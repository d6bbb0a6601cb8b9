"""How fast the package and its command start: ``import recursive_lib`` and ``recursive-book --help``.

Each command runs in a fresh interpreter ``--repeats`` times; the median wall time is reported
beside that of a bare ``python -c pass``, and the heavy libraries the command loaded (none is the
target: pandas, scipy, scikit-learn, torch and altair load only when a command needs them).

    python benchmarks/bench_startup.py            # 15 runs each
    python benchmarks/bench_startup.py --small    # CI size: 3 runs each
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

HEAVY = ("numpy", "pandas", "scipy", "sklearn", "torch", "altair", "yaml")
COMMANDS = {
    "python -c pass": "pass",
    "import recursive_lib": "import recursive_lib",
    "recursive-book --help": "import recursive_lib.book.cli as c\ntry:\n    c.main(['--help'])\n"
    "except SystemExit:\n    pass",
}


def measure(code: str, repeats: int) -> tuple[float, list[str]]:
    probe = f"{code}\nimport sys\nprint(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    times, loaded = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
        times.append(time.perf_counter() - start)
        loaded = eval(out.stdout.strip().splitlines()[-1])  # our own probe's list of names
    return statistics.median(times), loaded


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="CI size: 3 runs per command")
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    repeats = 3 if args.small else args.repeats
    for label, code in COMMANDS.items():
        seconds, loaded = measure(code, repeats)
        print(
            f"[startup] {label:<24} median {seconds * 1000:6.0f} ms over {repeats} runs "
            f"(target: well under 1 s); heavy modules loaded: {', '.join(loaded) or 'none'}"
        )


if __name__ == "__main__":
    main()
