#!/usr/bin/env bash
# Install what the tests need (the hf extra too: the GPT-2 path and the U-Net run at toy size), then: unit tests; every chapter of _toc.yml through papermill with
# the smoke preset; the book built from those outputs (no second execution); the offline scan
# and the browser test of the built pages.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_install.sh book,test,hf
PY="${PYTHON:-python3}"
start=$SECONDS
"$PY" -m pytest -m "not book" -n 2 tests
"$PY" -m recursive_lib.book.cli execute --preset smoke --out _build/executed --jobs 2
"$PY" -m recursive_lib.book.cli build --executed _build/executed
"$PY" -m pytest -m book tests
echo "all checks passed in $((SECONDS - start)) s"
