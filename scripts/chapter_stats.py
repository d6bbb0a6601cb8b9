"""How much of each chapter's code is hidden check cells, and how much of it glues by hand.

    python scripts/chapter_stats.py [chapter ...]

Per chapter: code lines, lines in hidden check cells (a cell with a claim check, ``found.<check>(``,
whose input the book hides or removes), their share, the ``glue(`` calls written by hand and the
cells that do nothing but glue. The book's targets: hidden check cells at most 20 % of the code
lines, no glue-only cell (tests/test_chapters.py holds them).
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from recursive_lib.book import cli  # noqa: E402

CHECK = re.compile(r"\bfound\.(coverage|sign|ordering|trend|exact)\(")
HIDDEN = {"hide-input", "remove-input", "remove-cell"}


def _code_lines(source: str) -> int:
    return sum(1 for line in source.splitlines() if line.strip() and not line.strip().startswith("#"))


def _glue_only(source: str) -> bool:
    """A cell whose every statement is a ``glue(...)`` call."""
    try:
        body = ast.parse(source).body
    except SyntaxError:
        return False
    return bool(body) and all(
        isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Call)
        and getattr(node.value.func, "id", None) == "glue"
        for node in body
    )


def stats(source: Path) -> dict[str, float]:
    import jupytext

    notebook = jupytext.read(source, fmt="md:myst")
    total = hidden = glues = glue_only = 0
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        lines = _code_lines(cell.source)
        total += lines
        tags = set(cell.metadata.get("tags", []))
        if CHECK.search(cell.source) and tags & HIDDEN:
            hidden += lines
        glues += len(re.findall(r"(?<![\w.])glue\(", cell.source))
        glue_only += _glue_only(cell.source)
    return dict(
        code=total,
        hidden_checks=hidden,
        share=hidden / total if total else 0.0,
        glue=glues,
        glue_only=glue_only,
    )


def main(argv: list[str]) -> int:
    names = argv or cli.executable_chapters(ROOT)
    rows = {name: stats(cli.chapter_source(ROOT, name)) for name in names}
    print(
        f"{'chapter':14} {'code':>5} {'hidden checks':>14} {'share':>6} {'glue()':>7} {'glue-only cells':>16}"
    )
    for name, row in rows.items():
        print(
            f"{name:14} {row['code']:5d} {row['hidden_checks']:14d} {row['share']:6.0%} {row['glue']:7d} "
            f"{row['glue_only']:16d}"
        )
    code = sum(r["code"] for r in rows.values())
    hidden = sum(r["hidden_checks"] for r in rows.values())
    print(
        f"{'all':14} {code:5d} {hidden:14d} {hidden / code:6.0%} {sum(r['glue'] for r in rows.values()):7d} "
        f"{sum(r['glue_only'] for r in rows.values()):16d}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
