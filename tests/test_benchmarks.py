"""Benchmarks are scripts that print figures; here each runs at its small size to prove it works.

Speed targets are reported by the scripts, never asserted in timed unit tests.
"""

import subprocess
import sys

import pytest
from conftest import ROOT

SCRIPTS = sorted((ROOT / "benchmarks").glob("bench_*.py"))


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.stem for s in SCRIPTS])
def test_benchmark_runs_at_small_size(script, root):
    result = subprocess.run(
        [sys.executable, str(script), "--small"], capture_output=True, text=True, cwd=root, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip(), "a benchmark must print its figures"


def test_there_are_benchmarks():
    assert SCRIPTS, "benchmarks/ holds no bench_*.py script"
