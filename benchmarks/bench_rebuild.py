"""An unchanged rebuild: ``recursive-book build`` when every executed chapter is up to date.

The first build executes the chapters; the second finds each executed notebook carrying the
fingerprint of its source, preset, parameters and library code, executes nothing and only builds
the HTML (target: the whole book in under a minute).

    python benchmarks/bench_rebuild.py            # the book at the smoke preset, in a copy
    python benchmarks/bench_rebuild.py --small    # CI size: one tiny chapter
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TINY = """---
kernelspec:
  display_name: Python 3
  language: python
  name: python3
---

# A tiny chapter

```{code-cell} ipython3
:tags: [parameters]

preset = "book"
PRESETS = \"\"\"
| knob | smoke | book | paper | accepts | meaning |
|---|---|---|---|---|---|
| `x` | 1 | 2 | 3 | int | a number |
\"\"\"
```

```{code-cell} ipython3
from recursive_lib.book import params
cfg = params.resolve(PRESETS, preset, globals())
print(cfg.x)
```
"""


def book_copy(target: Path, small: bool) -> Path:
    if small:
        (target / "chapters").mkdir(parents=True)
        (target / "chapters" / "tiny.md").write_text(TINY)
        (target / "_toc.yml").write_text("format: jb-book\nroot: chapters/tiny\n")
        shutil.copy2(ROOT / "_config.yml", target / "_config.yml")
        shutil.copy2(ROOT / "references.bib", target / "references.bib")
        return target
    for name in ("_config.yml", "_toc.yml", "references.bib"):
        shutil.copy2(ROOT / name, target / name)
    shutil.copytree(
        ROOT / "chapters", target / "chapters", ignore=shutil.ignore_patterns("*.ipynb", "__pycache__")
    )
    return target


def build(book: Path) -> float:
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "recursive_lib.book.cli", "build", "--preset", "smoke", "--jobs", "2"],
        cwd=book,
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="CI size: one tiny chapter")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        book = book_copy(Path(tmp) / "book", args.small)
        first = build(book)
        again = build(book)
    label = "a one-chapter book" if args.small else "the book (smoke preset)"
    print(
        f"[rebuild] {label}: first build (executes) {first:.1f} s; unchanged rebuild "
        f"{again:.1f} s (target: under 60 s for the whole book)"
    )


if __name__ == "__main__":
    main()
