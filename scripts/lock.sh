#!/usr/bin/env bash
# Remake the lock, requirements/constraints.txt, from pyproject.toml (every extra) with pip-tools,
# torch held at the version of requirements/torch.txt (left out of the lock itself: it is
# installed first, from PyTorch's CPU index). Run it when a dependency changes in pyproject.toml;
# `bash scripts/lock.sh --upgrade` moves every pin to the newest release allowed.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
tools="${LOCK_TOOLS_VENV:-.venv-lock}"
[ -x "$tools/bin/pip-compile" ] || { "$PY" -m venv "$tools" && "$tools/bin/pip" install --quiet "pip-tools>=7.4"; }
"$tools/bin/pip-compile" --quiet --all-extras --strip-extras --no-emit-index-url --no-emit-find-links \
  --no-emit-trusted-host --unsafe-package torch -c requirements/torch.txt \
  --output-file requirements/constraints.txt "$@" pyproject.toml
echo "wrote requirements/constraints.txt"
