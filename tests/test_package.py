"""The package's shape: layers as a contract, a light start, the public entry points."""

import subprocess
import sys

import pytest

HEAVY = ("pandas", "scipy", "sklearn", "torch", "altair")


def test_every_import_points_down_the_layers(root):
    """import-linter's layers contract in pyproject.toml, imports inside functions included."""
    lint = subprocess.run(
        [sys.executable, "-c", "from importlinter.cli import lint_imports_command; lint_imports_command()"],
        cwd=root,
        capture_output=True,
        text=True,
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr
    assert "1 kept, 0 broken" in lint.stdout


@pytest.mark.parametrize(
    "code",
    [
        "import recursive_lib",
        "import recursive_lib.book.cli as cli; cli.main(['--help'])",
    ],
)
def test_a_light_start_loads_no_heavy_library(code):
    probe = (
        f"import sys\ntry:\n    {code}\nexcept SystemExit:\n    pass\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout


def test_simulate_and_config_load_on_first_use():
    from recursive_lib import Config, simulate
    from recursive_lib.simulation import simulate as direct

    assert simulate is direct and Config().estimator == "kde"
    with pytest.raises(AttributeError, match="no attribute 'simulat'"):
        import recursive_lib

        recursive_lib.simulat  # noqa: B018
