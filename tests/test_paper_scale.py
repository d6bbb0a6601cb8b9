"""The paper-scale benchmark's results reach the chapters: the projection sentence is
built from recursive_lib/book/paper_scale.json (package data, so an installed copy reads it too)
and names the device it was measured on; the benchmark reads the paper sizes from the chapters'
tables and writes where the chapters read."""

import importlib.util
import json
from pathlib import Path

import pytest
import tomllib
from conftest import ROOT

from recursive_lib.book import params, timing

ENTRY = dict(
    chapter="images",
    status="ok",
    measured_at="2026-11-28 11:00 UTC",
    device="cpu",
    device_name="x86_64",
    torch_threads=1,
    seconds_per_iteration=120.0,
    iterations=200,
    runs=15,
    projected_seconds=360000.0,
    peak_memory_mb=812.4,
    memory_measure="peak resident memory",
    stand_in="random images of MNIST's shape (28x28) in place of MNIST",
)


def _write(tmp_path, *entries):
    path = tmp_path / "paper_scale.json"
    path.write_text(json.dumps(dict(small=False, chapters=list(entries))))
    return path


def test_durations_read_as_words():
    assert timing.duration(42) == "42 s"
    assert timing.duration(210) == "3.5 min"
    assert timing.duration(7560) == "2.1 hours"
    assert timing.duration(3 * 86400) == "3.0 days"
    assert timing.duration(3 * 365.25 * 86400) == "3.0 years"


def test_stopwatch_names_the_device_without_importing_torch_for_numpy_runs():
    """A chapter that never imported torch ran on the CPU: describe says so, and does not import
    torch (2 s) to find out; after torch, it asks torch's placement."""
    import subprocess
    import sys

    code = (
        "import sys; from recursive_lib.book import timing; w = timing.Stopwatch();"
        "print(w.describe('smoke')); print('torch' in sys.modules);"
        "import torch; print(w.describe('book'));"
        "from recursive_lib._torch import placement; print(placement().device.type.upper())"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    first, imported, second, device = out.splitlines()
    assert first.endswith("with the smoke preset on this build's CPU") and imported == "False"
    assert second.endswith(f"with the book preset on this build's {device}")


def test_projection_names_the_device_and_says_no_gpu_was_at_hand(tmp_path):
    text = timing.paper_projection("images", _write(tmp_path, ENTRY))
    assert text.startswith("4.2 days one run after another")
    assert "15 runs of 200 iterations at 2.0 min per iteration" in text
    assert "on a CPU (x86_64)" in text and "peak memory 812 MB" in text
    assert "random images of MNIST's shape" in text
    assert "no GPU was at hand" in text
    loaded = dict(ENTRY, cpu_count=2, load_average_1min=5.25)
    assert "on its 2 cores at a load average of 5.2 as it began" in timing.paper_projection(
        "images", _write(tmp_path, loaded)
    )
    gpu = dict(
        ENTRY, device="cuda:0", device_name="NVIDIA A100", memory_measure="torch.cuda.max_memory_allocated"
    )
    gpu.pop("torch_threads")
    text = timing.paper_projection("images", _write(tmp_path, gpu))
    assert "on a CUDA:0 (NVIDIA A100)" in text and "no GPU" not in text
    quantile = dict(ENTRY, chapter="quantile", stand_in=None)
    text = timing.paper_projection("quantile", _write(tmp_path, quantile))
    assert "on a CPU" in text and "stand-in" not in text


def test_projection_says_why_there_is_none(tmp_path):
    assert timing.paper_projection("images", tmp_path / "missing.json").startswith("not measured yet")
    failed = dict(ENTRY, status="timed out after 1800 s")
    assert "timed out after 1800 s" in timing.paper_projection("images", _write(tmp_path, failed))
    assert "not in the benchmark's results" in timing.paper_projection("text", _write(tmp_path, ENTRY))


def test_committed_results_cover_the_three_neural_chapters():
    report = json.loads(timing.RESULTS.read_text())
    assert not report["small"]
    chapters = {c["chapter"]: c for c in report["chapters"]}
    assert set(chapters) == {"quantile", "images", "text"}
    for entry in chapters.values():
        assert entry["status"] == "ok" and entry["device"] and entry["projected_seconds"] > 0
        assert entry["peak_memory_mb"] > 0 and entry["seconds_per_iteration"] > 0


def _bench():
    spec = importlib.util.spec_from_file_location("bench", ROOT / "benchmarks" / "bench_paper_scale.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    return bench


def test_benchmark_writes_the_package_data_the_chapters_read(root):
    assert _bench().RESULTS == root / "recursive_lib" / "book" / "paper_scale.json"
    assert timing.RESULTS.parent == Path(timing.__file__).resolve().parent
    package_data = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    assert timing.RESULTS.name in package_data["recursive_lib.book"]


def test_benchmark_reads_the_paper_column_of_the_chapter_tables(root):
    bench = _bench()
    for chapter in bench.CHAPTERS:
        table = params.chapter_table(root / "chapters" / f"{chapter}.md")
        assert bench.paper(chapter) == {name: knob.values["paper"] for name, knob in table.items()}
    assert bench.paper("images")["network"] == "unet"


def test_the_network_knob(root):
    chapter = root / "chapters" / "images.md"
    assert params.for_chapter(chapter, "book").network == "mlp"
    assert params.for_chapter(chapter, "paper").network == "unet"
    with pytest.raises(ValueError, match="network must be one of 'mlp', 'unet'"):
        params.for_chapter(chapter, "smoke", network="cnn")
