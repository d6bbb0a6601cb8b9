#!/usr/bin/env bash
# Install what the book needs, execute every chapter with its default preset ("book", or the one
# given as first argument) and build the HTML book into _build/html.
#   bash scripts/build-book.sh            # default build, minutes per chapter
#   bash scripts/build-book.sh smoke      # seconds per chapter
set -euo pipefail
cd "$(dirname "$0")/.."
preset="${1:-book}"
source scripts/_install.sh book
PY="${PYTHON:-python3}"
"$PY" -m recursive_lib.book.cli build --preset "$preset" --jobs "${JOBS:-1}"
"$PY" -m recursive_lib.book.cli check-offline _build/html
echo "open _build/html/index.html"
