# Sourced by the other scripts: install recursive_lib with the given extras into the active Python.
# torch goes first, pinned to the CPU build: a loose requirement would pull a multi-GB CUDA build.
extras="$1"
PY="${PYTHON:-python3}"
"$PY" -m pip install --quiet --disable-pip-version-check "torch==2.13.0"
"$PY" -m pip install --quiet --disable-pip-version-check -e ".[${extras}]"
