"""Record the regression values that tests/test_regression.py compares against. Run only when a
change of numbers is intended, and say so in the commit.

    python scripts/record_regression.py                 # seeded results -> tests/regression/cases.json
    python scripts/record_regression.py --cases A B     # only these cases (the others keep their values)
    python scripts/record_regression.py --glue DIR      # glued values of the chapters executed with
                                                        #   --preset smoke in DIR -> tests/regression/glue/

Values are numbers at full precision (JSON), compared later within the tolerances stated in
tests/regression_values.py, never as bits.
"""

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from regression_values import frame_record, glue_record  # noqa: E402

VALUES = ROOT / "tests" / "regression"


def _write(path: Path, value) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value, indent=None, sort_keys=True, separators=(",", ":")) + "\n")


def record_glue(folder: Path) -> None:
    from regression_cases import chapter_kind

    notebooks = sorted(folder.glob("*.ipynb"))
    if not notebooks:
        raise SystemExit(f"no executed notebooks in {folder}")
    for notebook in notebooks:
        record = glue_record(notebook, chapter_kind(notebook.stem))
        if record["values"]:
            _write(VALUES / "glue" / f"{notebook.stem}.json", record)
            print(f"{notebook.stem}: {len(record['values'])} glued values")


def record_cases(names: list[str] | None) -> None:
    from regression_cases import CASES, kind

    path = VALUES / "cases.json"
    out = json.loads(path.read_text()) if names and path.exists() else {}
    for name in names or sorted(CASES):
        started = time.perf_counter()
        out[name] = frame_record(CASES[name](), kind(name))
        print(f"{name}: {out[name]['rows']} rows ({time.perf_counter() - started:.1f} s)", flush=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(_one_column_a_line(out))
    print(f"wrote {len(out)} cases to {path}")


def _one_column_a_line(cases: dict) -> str:
    """JSON with one line per column of each case: compact, and a diff names the column."""
    dump = lambda value: json.dumps(value, allow_nan=False)  # noqa: E731
    lines = ["{"]
    for i, name in enumerate(sorted(cases)):
        case = cases[name]
        lines.append(f' {dump(name)}: {{"kind": {dump(case["kind"])}, "rows": {case["rows"]}, "columns": {{')
        columns = list(case["columns"].items())
        lines += [
            f"  {dump(c)}: {dump(v)}{',' if j < len(columns) - 1 else ''}" for j, (c, v) in enumerate(columns)
        ]
        lines.append(" }}" + ("," if i < len(cases) - 1 else ""))
    return "\n".join(lines + ["}"]) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--glue", type=Path, help="folder of chapters executed with --preset smoke")
    parser.add_argument("--cases", nargs="+", help="record only these seeded cases")
    args = parser.parse_args()
    if args.glue:
        record_glue(args.glue)
    else:
        record_cases(args.cases)


if __name__ == "__main__":
    main()
