"""Record the regression digests (tests/test_digests.py). Run only when a change of numbers is
intended, and say so in the commit.

    python scripts/record_digests.py                 # seeded library results -> tests/digests/results.json
    python scripts/record_digests.py --glue DIR      # glued values of the executed smoke chapters in DIR
                                                     #   -> tests/digests/glue_smoke.json
"""

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from regression_cases import glue_values  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--glue", type=Path, help="folder of chapters executed with --preset smoke")
    args = parser.parse_args()
    if args.glue:
        out = {nb.stem: glue_values(nb) for nb in sorted(args.glue.glob("*.ipynb"))}
        path = ROOT / "tests" / "digests" / "glue_smoke.json"
        count = sum(len(v) for v in out.values())
    else:
        from regression_cases import CASES, digest

        out = {}
        for name, case in CASES.items():
            started = time.perf_counter()
            out[name] = digest(case())
            print(f"{name}: {out[name][:16]} ({time.perf_counter() - started:.1f} s)", flush=True)
        path = ROOT / "tests" / "digests" / "results.json"
        count = len(out)
    path.write_text(json.dumps(out, indent=1, sort_keys=True) + "\n")
    print(f"wrote {count} digests to {path}")


if __name__ == "__main__":
    main()
