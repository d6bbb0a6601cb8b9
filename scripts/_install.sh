# Sourced by the other scripts: install recursive_lib with the given extras into the active Python.
# torch goes first, pinned to the CPU build: a loose requirement would pull a multi-GB CUDA build.
extras="$1"
PY="${PYTHON:-python3}"
pip_install() {
  # pip's notes about unreachable mirror folders are noise; its exit status still counts
  "$PY" -m pip install --quiet --disable-pip-version-check "$@" 2>&1 | { grep -v "^WARNING: Location" || true; }
}
pip_install "torch==2.13.0"
pip_install -e ".[${extras}]"
