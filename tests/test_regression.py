"""Same numbers, within stated tolerances: seeded results and every glued value of every chapter
must not change when code moves, and must come out the same on another machine.

The recorded values are numbers (tests/regression/), compared within the tolerance of their kind
(tests/regression_values.py: rtol 1e-9 for float64 NumPy paths, 1e-4 for torch float32 paths),
never as bits. A change that is meant to change numbers records new values in the same commit
(scripts/record_regression.py) and says so.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from conftest import ROOT
from regression_cases import CASES, chapter_kind, kind
from regression_values import RTOL, compare_frame, compare_glue, compare_values, frame_record, glue_record

VALUES = ROOT / "tests" / "regression"
RECORDED = json.loads((VALUES / "cases.json").read_text())
GLUE = {path.stem: json.loads(path.read_text()) for path in sorted((VALUES / "glue").glob("*.json"))}


def test_every_case_has_recorded_values_of_its_kind():
    assert sorted(CASES) == sorted(RECORDED)
    assert {name: RECORDED[name]["kind"] for name in CASES} == {name: kind(name) for name in CASES}


@pytest.mark.parametrize("name", sorted(CASES))
def test_seeded_results_are_unchanged(name):
    problems = compare_frame(CASES[name](), RECORDED[name])
    assert not problems, f"{name}: {problems}; if intended, run scripts/record_regression.py --cases {name}"


@pytest.mark.book
@pytest.mark.parametrize("chapter", sorted(GLUE))
def test_glued_values_at_smoke_are_unchanged(chapter, executed_dir):
    notebook = executed_dir / f"{chapter}.ipynb"
    assert notebook.is_file(), f"{notebook} missing: execute the chapters with --preset smoke"
    problems = compare_glue(glue_record(notebook, chapter_kind(chapter)), GLUE[chapter])
    assert not problems, f"{chapter}: glued values changed: {problems}"


# ---------------------------------------------------------------- the comparison itself


@pytest.fixture
def recorded_frame():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {"n": np.arange(1, 41), "w1": rng.uniform(0.01, 1.0, 40), "mean": rng.normal(0, 1e-3, 40)}
    )
    return frame, frame_record(frame, "float64")


def test_a_float64_value_moved_by_1e_minus_6_relative_fails(recorded_frame):
    frame, record = recorded_frame
    moved = frame.copy()
    moved.loc[17, "w1"] *= 1 + 1e-6
    assert compare_frame(frame, record) == []
    (problem,) = compare_frame(moved, record)
    assert problem.startswith("w1: 1 of 40 values beyond rtol 1e-09, first at 17")


def test_last_bit_differences_pass_and_nan_stays_nan(recorded_frame):
    frame, _ = recorded_frame
    frame.loc[3, "w1"] = np.nan
    record = frame_record(frame, "float64")
    noisy = frame.copy()
    noisy["w1"] = np.nextafter(noisy["w1"].to_numpy(), 2.0)
    noisy["mean"] = noisy["mean"] + 1e-15
    assert compare_frame(noisy, record) == []
    noisy.loc[3, "w1"] = 0.5
    assert compare_frame(noisy, record) != []


def test_float32_paths_get_the_looser_tolerance_and_no_more(recorded_frame):
    frame, _ = recorded_frame
    record = frame_record(frame, "float32")
    for factor, passes in ((1 + 5e-5, True), (1 + 1e-3, False)):
        moved = frame.copy()
        moved["w1"] *= factor
        assert (compare_frame(moved, record) == []) is passes


def test_counts_and_labels_compare_exactly(recorded_frame):
    frame, record = recorded_frame
    shifted = frame.copy()
    shifted["n"] += 1
    assert compare_frame(shifted, record) != []


def test_sentences_compare_words_exactly_and_printed_numbers_to_their_last_digit():
    rtol = RTOL["float64"]
    sentence = {"text": "The slope is 0.171 [0.150, 0.192] over 36 cells (p = 4.26e-12)."}
    assert (
        compare_values(
            {"text": "The slope is 0.172 [0.150, 0.192] over 36 cells (p = 4.27e-12)."}, sentence, rtol
        )
        == []
    )
    assert compare_values(
        {"text": "The slope is 0.174 [0.150, 0.192] over 36 cells (p = 4.26e-12)."}, sentence, rtol
    )
    assert compare_values(
        {"text": "The slope is 0.171 [0.150, 0.192] over 37 cells (p = 4.26e-12)."}, sentence, rtol
    )
    (problem,) = compare_values(
        {"text": "The slopes are 0.171 [0.150, 0.192] over 36 cells (p = 4.26e-12)."}, sentence, rtol
    )
    assert problem.startswith("words or structure changed")


def test_nested_records_compare_numbers_at_the_scale_of_their_key():
    record = {"json": {"claims": [{"verdict": "holds", "numbers": {"p_value": 0.3, "max_dev": 1e-14}}]}}
    close = {
        "json": {
            "claims": [{"verdict": "holds", "numbers": {"p_value": 0.3 * (1 + 1e-12), "max_dev": 2e-14}}]
        }
    }
    assert compare_values(close, record, RTOL["float64"]) == [
        ".json.claims[].numbers.max_dev: 1 of 1 numbers beyond rtol 1e-09, first at 0: 2e-14, recorded 1e-14"
    ]
    verdict = {"json": {"claims": [{"verdict": "fails", "numbers": {"p_value": 0.3, "max_dev": 1e-14}}]}}
    assert compare_values(verdict, record, RTOL["float64"])[0].startswith("words or structure changed")


def test_recorded_glue_holds_no_svg_and_no_run_time():
    for chapter, record in GLUE.items():
        text = json.dumps(record)
        assert "<svg" not in text, chapter
        assert not any(name.endswith("-run-time") for name in record["values"]), chapter


# ---------------------------------------------------------------- another machine


def _other_kernels_environment() -> dict[str, str]:
    """This machine made to compute like another one: numpy's dispatched SIMD kernels off (only
    the baseline instruction set remains) and torch on its default, non-vectorised kernels."""
    from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__

    env = dict(os.environ)
    env["NPY_DISABLE_CPU_FEATURES"] = " ".join(f for f in __cpu_dispatch__ if __cpu_features__.get(f))
    env["ATEN_CPU_CAPABILITY"] = "default"
    return env


@pytest.mark.slow
def test_seeded_results_hold_under_another_kernel_selection(tmp_path, root):
    """The recorded values hold off the kernels they were recorded with (the cross-machine check
    that a bit-exact digest failed): every case, in a fresh process with numpy's SIMD dispatch and
    torch's vectorised kernels switched off."""
    script = (
        "import json, sys\n"
        f"sys.path.insert(0, {str(root / 'tests')!r})\n"
        "import numpy, torch\n"
        "from numpy._core._multiarray_umath import __cpu_features__ as f\n"
        "from regression_cases import CASES\n"
        "from regression_values import compare_frame\n"
        f"recorded = json.loads(open({str(VALUES / 'cases.json')!r}).read())\n"
        "problems = {n: p for n, c in sorted(CASES.items()) if (p := compare_frame(c(), recorded[n]))}\n"
        "print(json.dumps({'capability': torch.backends.cpu.get_cpu_capability(),\n"
        "                  'simd_on': [k for k in ('X86_V3', 'X86_V4', 'AVX2', 'AVX512F') if f.get(k)],\n"
        "                  'problems': problems}))\n"
    )
    env = _other_kernels_environment()
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, cwd=tmp_path, timeout=1200
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["capability"] == "DEFAULT"
    if env["NPY_DISABLE_CPU_FEATURES"]:
        assert not set(report["simd_on"]) & set(env["NPY_DISABLE_CPU_FEATURES"].split())
    assert report["problems"] == {}, report["problems"]
