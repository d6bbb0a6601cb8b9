#!/usr/bin/env bash
# Edit and run the chapters in JupyterLab: install the book and lab extras into the active Python
# (a virtual environment: python3 -m venv .venv && . .venv/bin/activate), make jupytext's notebook
# view the default for Markdown files in this environment's JupyterLab, and start it here.
# Double-clicking chapters/<name>.md then opens it as a notebook; saving writes the .md back
# (no .ipynb is written: jupytext.toml pairs nothing). Other Markdown files (README.md) open as
# notebooks of text cells too: right-click, Open With, Editor for the plain text.
#   bash scripts/lab.sh                  # extra arguments go to jupyter lab, e.g. --no-browser
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_install.sh book,lab
PY="${PYTHON:-python3}"
# JupyterLab reads <sys.prefix>/share/jupyter/lab/settings/overrides.json as this environment's
# defaults; the repository's settings are merged into the file, other settings in it are kept.
"$PY" - scripts/lab-overrides.json <<'PYTHON'
import json, sys
from pathlib import Path

ours = json.loads(Path(sys.argv[1]).read_text())
target = Path(sys.prefix) / "share" / "jupyter" / "lab" / "settings" / "overrides.json"
settings = json.loads(target.read_text()) if target.is_file() else {}
for plugin, values in ours.items():
    current = settings.setdefault(plugin, {})
    for key, value in values.items():
        if isinstance(value, dict) and isinstance(current.get(key), dict):
            current[key].update(value)
        else:
            current[key] = value
target.parent.mkdir(parents=True, exist_ok=True)
target.write_text(json.dumps(settings, indent=2) + "\n")
print(f"JupyterLab opens Markdown files as notebooks (jupytext): {target}")
PYTHON
exec "$PY" -m jupyterlab "$@"
