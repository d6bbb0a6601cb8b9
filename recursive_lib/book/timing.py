"""How long a chapter takes: its own run, timed in the notebook, and the projection of its
``paper`` preset measured by ``benchmarks/bench_paper_scale.py``.

The benchmark writes ``paper_scale.json`` beside this module, with the device it ran on; the file
ships with the package (package data), so an installed copy quotes the same measurement as the
book. A chapter reads it here and glues the sentence, so no time in the book is typed by hand. Run
on a GPU, the benchmark replaces the figures with that GPU's.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

__all__ = ["RESULTS", "Stopwatch", "duration", "paper_projection"]

#: the benchmark's output, committed with the book and installed with the package
RESULTS = Path(__file__).resolve().with_name("paper_scale.json")


def duration(seconds: float) -> str:
    """``seconds`` in words a reader takes in: "42 s", "3.5 min", "2.1 hours", "3.4 days"."""
    seconds = float(seconds)
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.1f} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.1f} hours"
    if seconds < 2 * 365 * 86400:
        return f"{seconds / 86400:.1f} days"
    return f"{seconds / (365.25 * 86400):.1f} years"


class Stopwatch:
    """Wall time since creation: ``Stopwatch().seconds``; ``describe(preset)`` for the prose."""

    def __init__(self):
        self.start = time.perf_counter()

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.start

    def describe(self, preset: str) -> str:
        # A run that never imported torch ran on the CPU: say so without importing it (2 s).
        device = "CPU"
        if "torch" in sys.modules:
            from recursive_lib._torch import placement

            device = placement().device.type.upper()
        return f"{duration(self.seconds)} with the {preset} preset on this build's {device}"


def paper_projection(chapter: str, results: str | Path = RESULTS) -> str:
    """One sentence: the projected time of ``chapter``'s ``paper`` preset, the device it was
    measured on and how, from the benchmark's JSON (or why there is none)."""
    path = Path(results)
    if not path.exists():
        return "not measured yet: python benchmarks/bench_paper_scale.py measures it on the machine at hand"
    report = json.loads(path.read_text())
    entry = next((c for c in report["chapters"] if c["chapter"] == chapter), None)
    if entry is None or entry.get("status") != "ok":
        status = "not in the benchmark's results" if entry is None else entry["status"]
        return f"not measured ({status}; python benchmarks/bench_paper_scale.py measures it)"
    on_cpu = entry["device"].split(":")[0] == "cpu"
    where = f"a {entry['device'].upper()}" + (
        f" ({entry['device_name']})" if entry.get("device_name") else ""
    )
    if "torch_threads" in entry:
        where += f" with {entry['torch_threads']} torch thread(s) per run"
    if "load_average_1min" in entry and on_cpu:
        where += (
            f", other work on its {entry['cpu_count']} cores at a load average of "
            f"{entry['load_average_1min']:.1f} as it began"
        )
    total = duration(entry["projected_seconds"])
    serial = (
        f"{entry['runs']} runs of {entry['iterations']} iterations at "
        f"{duration(entry['seconds_per_iteration'])} per iteration"
    )
    memory = f"peak memory {entry['peak_memory_mb']:.0f} MB ({entry['memory_measure']})"
    stand_in = f"; stand-in: {entry['stand_in']}" if entry.get("stand_in") else ""
    gpu = (
        "" if not on_cpu else "; no GPU was at hand, and running the benchmark on one replaces these figures"
    )
    when = entry.get("measured_at") or report.get("measured_at")
    return (
        f"{total} one run after another ({serial}; {memory}), measured by "
        f"benchmarks/bench_paper_scale.py on {when} on {where}{stand_in}{gpu}"
    )
