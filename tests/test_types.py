"""Types: mypy (default settings, configured in pyproject.toml ``[tool.mypy]``) finds no error in
recursive_lib, and no module is exempt."""

import subprocess
import sys

import pytest


@pytest.mark.slow
def test_mypy_finds_no_type_error_in_the_library(root, tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--cache-dir", str(tmp_path / "mypy-cache")],
        cwd=root,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
    assert "Success: no issues found" in result.stdout


def test_no_module_is_exempt_from_the_type_check(root):
    import tomllib

    config = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["mypy"]
    assert not [o for o in config.get("overrides", []) if o.get("ignore_errors")]


def test_a_truth_is_typed_by_its_protocol():
    from recursive_lib.data.truths import PAPER_TRUTH, Truth
    from recursive_lib.simulation import Config

    assert isinstance(PAPER_TRUTH, Truth)
    assert Config.__annotations__["truth"] == "Truth | None"
