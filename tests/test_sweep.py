"""Sweeps: stable hashes, cache hits, atomic writes, resuming after a failure, parallel = serial."""

import numpy as np
import pandas as pd
import pytest

from recursive_lib import _io, sweep

CALLS: list[dict] = []  # configurations the fake run saw (serial runs only)
FAIL_AT: set = set()  # values of x for which the fake run raises


def fake_run(x: float, seed: int, reps: int = 3) -> pd.DataFrame:
    """A cheap stand-in for ``simulate``: a seeded tidy frame depending only on its arguments."""
    CALLS.append({"x": x, "seed": seed, "reps": reps})
    if x in FAIL_AT:
        raise RuntimeError(f"planned failure at x={x}")
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {"rep": np.arange(reps), "value": x + rng.standard_normal(reps), "x": x, "seed": seed}
    )


def bare_run(seed: int, label: str) -> pd.DataFrame:
    return pd.DataFrame({"value": [float(seed)]})


@pytest.fixture(autouse=True)
def clean_state():
    CALLS.clear()
    FAIL_AT.clear()
    yield
    CALLS.clear()
    FAIL_AT.clear()


def cached(folder):
    return sorted(p.name for p in folder.iterdir() if p.suffix == ".parquet")


def test_grid_is_cartesian_in_order():
    configs = sweep.grid(estimator=["ecdf", "kde"], alpha=[0.1, 0.5], m1=50)
    assert configs == [
        {"estimator": "ecdf", "alpha": 0.1, "m1": 50},
        {"estimator": "ecdf", "alpha": 0.5, "m1": 50},
        {"estimator": "kde", "alpha": 0.1, "m1": 50},
        {"estimator": "kde", "alpha": 0.5, "m1": 50},
    ]
    assert sweep.grid(hidden=[(64, 64)], seed=range(2)) == [
        {"hidden": (64, 64), "seed": 0},
        {"hidden": (64, 64), "seed": 1},
    ]
    assert type(sweep.grid(alpha=np.array([0.5]))[0]["alpha"]) is float
    with pytest.raises(ValueError, match="grid axis 'alpha' must hold at least one value"):
        sweep.grid(alpha=[])


def test_hash_is_stable_and_independent_of_key_order():
    a = {"estimator": "ecdf", "alpha": 0.1, "m1": 50, "seed": 0}
    b = {"seed": 0, "m1": 50, "alpha": 0.1, "estimator": "ecdf"}
    assert _io.config_hash(a) == _io.config_hash(b)
    assert len(_io.config_hash(a)) == 64
    # Fixed text: the hash must not change between runs, machines or Python versions.
    assert _io.canonical_json(a) == '{"alpha":0.1,"estimator":"ecdf","m1":50,"seed":0}'
    assert _io.config_hash({**a, "alpha": np.float64(0.1), "m1": np.int64(50)}) == _io.config_hash(a)
    assert _io.config_hash({**a, "alpha": float("0.10000000000000000555")}) == _io.config_hash(a)
    assert _io.config_hash({**a, "alpha": 0.1 + 2e-17}) != _io.config_hash(a)  # next float up
    assert _io.config_hash({**a, "hidden": (64, 64)}) == _io.config_hash({**a, "hidden": [64, 64]})
    with pytest.raises(TypeError, match="configuration values must be JSON-like"):
        _io.config_hash({"f": object()})


def test_results_concatenate_in_config_order(tmp_path):
    configs = sweep.grid(x=[2.0, 1.0], seed=[5, 6])
    out = sweep.run_sweep(configs, run=fake_run)
    assert out[["x", "seed"]].drop_duplicates().values.tolist() == [[2.0, 5], [2.0, 6], [1.0, 5], [1.0, 6]]
    assert len(out) == 12 and out.index.tolist() == list(range(12))


def test_cache_hit_does_not_call_run_again(tmp_path):
    configs = sweep.grid(x=[0.0, 1.0], seed=[0, 1])
    first = sweep.run_sweep(configs, run=fake_run, cache_dir=tmp_path / "cache")
    assert len(CALLS) == 4
    assert len(cached(tmp_path / "cache")) == 4
    assert sweep.cache_path(tmp_path / "cache", fake_run, configs[0]).is_file()
    # the file is plain Parquet: the result and, in its metadata, what produced it
    stored = sweep.read_meta(sweep.cache_path(tmp_path / "cache", fake_run, configs[0]))
    assert stored["config"] == configs[0] and stored["code_version"] == sweep.code_version()
    assert stored["run"].startswith("test_sweep.fake_run#")
    second = sweep.run_sweep(configs, run=fake_run, cache_dir=tmp_path / "cache")
    assert len(CALLS) == 4
    pd.testing.assert_frame_equal(first, second)


def test_duplicate_configs_run_once():
    out = sweep.run_sweep([{"x": 1.0, "seed": 0}, {"seed": 0, "x": 1.0}], run=fake_run)
    assert len(CALLS) == 1
    assert len(out) == 6


def test_atomic_write_leaves_no_partial_file(tmp_path, monkeypatch):
    import pyarrow.parquet as pq

    def write_then_crash(table, where, **kwargs):
        with open(where, "wb") as handle:
            handle.write(b"PAR1 half a file")
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(pq, "write_table", write_then_crash)
    with pytest.raises(OSError, match="disk full"):
        sweep.run_sweep([{"x": 1.0, "seed": 0}], run=fake_run, cache_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []  # neither the result nor the temporary file
    monkeypatch.undo()
    out = sweep.run_sweep([{"x": 1.0, "seed": 0}], run=fake_run, cache_dir=tmp_path)
    assert len(out) == 3 and len(cached(tmp_path)) == 1


def test_resumes_after_failure_part_way(tmp_path):
    configs = sweep.grid(x=[0.0, 1.0, 2.0, 3.0], seed=7)
    FAIL_AT.add(2.0)
    with pytest.raises(RuntimeError, match="planned failure at x=2.0"):
        sweep.run_sweep(configs, run=fake_run, cache_dir=tmp_path)
    assert [c["x"] for c in CALLS] == [0.0, 1.0, 2.0]
    assert len(cached(tmp_path)) == 2  # everything computed before the failure is kept
    FAIL_AT.clear()
    CALLS.clear()
    resumed = sweep.run_sweep(configs, run=fake_run, cache_dir=tmp_path)
    assert [c["x"] for c in CALLS] == [2.0, 3.0]
    pd.testing.assert_frame_equal(resumed, sweep.run_sweep(configs, run=fake_run))


def test_damaged_cache_file_is_recomputed_with_a_warning(tmp_path):
    config = {"x": 1.0, "seed": 0}
    sweep.cache_path(tmp_path, fake_run, config).write_bytes(b"PAR1 truncated")
    with pytest.warns(RuntimeWarning, match="damaged cache file"):
        out = sweep.run_sweep([config], run=fake_run, cache_dir=tmp_path)
    assert len(CALLS) == 1 and len(out) == 3
    sweep.run_sweep([config], run=fake_run, cache_dir=tmp_path)
    assert len(CALLS) == 1  # overwritten with a good file


def test_a_file_written_for_something_else_is_recomputed(tmp_path):
    config = {"x": 1.0, "seed": 0}
    path = sweep.cache_path(tmp_path, fake_run, config)
    sweep.write_parquet_atomic(path, pd.DataFrame({"value": [99.0]}), {"config": {"other": 1}})
    with pytest.warns(RuntimeWarning, match="belongs to another configuration"):
        out = sweep.run_sweep([config], run=fake_run, cache_dir=tmp_path)
    assert len(CALLS) == 1 and len(out) == 3


def test_the_key_changes_with_the_code_the_run_and_its_inputs(monkeypatch):
    config = {"x": 1.0, "seed": 0}
    key = sweep.result_key(fake_run, config)
    assert key != sweep.result_key(bare_run, config)
    monkeypatch.setattr(fake_run, "fingerprint", lambda **c: "corpus-v2", raising=False)
    assert sweep.result_key(fake_run, config) != key
    monkeypatch.undo()
    monkeypatch.setattr(sweep, "code_version", lambda: "another-version")
    assert sweep.result_key(fake_run, config) != key


@pytest.mark.slow
def test_editing_a_library_file_misses_the_cache(tmp_path, root):
    """In a copy of the package: the same sweep is cached, then a library file changes, then the
    cache misses (checked in fresh interpreters, as a user's next session would)."""
    import shutil
    import subprocess
    import sys

    shutil.copytree(
        root / "recursive_lib", tmp_path / "recursive_lib", ignore=shutil.ignore_patterns("__pycache__")
    )
    script = (
        "import sys, pandas as pd\n"
        "from recursive_lib import sweep\n"
        "from recursive_lib.rates import log_points\n"
        "calls = []\n"
        "def run(seed):\n"
        "    calls.append(seed)\n"
        "    return pd.DataFrame({'v': log_points(10 + seed, 3).astype(float)})\n"
        "sweep.run_sweep([{'seed': 1}], run=run, cache_dir=sys.argv[1])\n"
        "print(len(calls))\n"
    )

    def calls():
        out = subprocess.run(
            [sys.executable, "-c", script, str(tmp_path / "cache")],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            check=True,
        )
        return int(out.stdout.split()[-1])

    assert calls() == 1 and calls() == 0  # computed, then served from the cache
    theory = tmp_path / "recursive_lib" / "theory.py"
    theory.write_text(theory.read_text() + "\n# an edit\n")
    assert calls() == 1  # the code changed: computed again


@pytest.mark.slow
def test_parallel_matches_serial(tmp_path):
    configs = sweep.grid(x=[0.0, 1.0, 2.0], seed=[0, 1], reps=4)
    serial = sweep.run_sweep(configs, run=fake_run)
    parallel = sweep.run_sweep(configs, run=fake_run, n_jobs=2, cache_dir=tmp_path)
    pd.testing.assert_frame_equal(serial, parallel)
    assert len(cached(tmp_path)) == 6
    pd.testing.assert_frame_equal(
        serial, sweep.run_sweep(configs, run=fake_run, n_jobs=2, cache_dir=tmp_path)
    )


@pytest.mark.slow
def test_parallel_failure_keeps_finished_results(tmp_path):
    configs = sweep.grid(x=[0.0, 1.0], seed=0) + [{"x": 1.0, "seed": 0, "reps": "bad"}]
    with pytest.raises(TypeError):
        sweep.run_sweep(configs, run=fake_run, n_jobs=2, cache_dir=tmp_path)
    assert len(cached(tmp_path)) >= 1
    assert not [p for p in tmp_path.iterdir() if p.suffix == ".tmp"]


def test_missing_config_columns_are_added():
    out = sweep.run_sweep(sweep.grid(seed=[1, 2], label="a"), run=bare_run)
    assert out.to_dict("list") == {"value": [1.0, 2.0], "seed": [1, 2], "label": ["a", "a"]}


def test_progress_bar_silent_in_ci(monkeypatch, capsys):
    monkeypatch.setenv("CI", "true")
    sweep.run_sweep([{"x": 1.0, "seed": 0}], run=fake_run, progress=True)
    assert capsys.readouterr().err == ""
    monkeypatch.delenv("CI")
    sweep.run_sweep([{"x": 2.0, "seed": 0}], run=fake_run, progress=True)
    assert "sweep" in capsys.readouterr().err


def test_empty_sweep():
    assert sweep.run_sweep([], run=fake_run).empty


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(n_jobs=0), "n_jobs must be an integer >= 1, or -1"),
        (dict(n_jobs=1.5), "n_jobs must be an integer >= 1, or -1"),
        (dict(run=3), "run must be callable"),
        (dict(backend=""), "backend must be the name of a joblib backend"),
    ],
)
def test_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        sweep.run_sweep([{"x": 1.0, "seed": 0}], **{"run": fake_run, **kwargs})


def test_parallel_runs_lambdas_and_closures():
    offset = 10.0
    out = sweep.run_sweep(
        sweep.grid(seed=[0, 1, 2]), run=lambda seed: pd.DataFrame({"v": [seed + offset]}), n_jobs=2
    )
    assert out["v"].tolist() == [10.0, 11.0, 12.0]


def test_bad_config_and_bad_result():
    with pytest.raises(ValueError, match="configs must be dicts"):
        sweep.run_sweep([("x", 1.0)], run=fake_run)
    with pytest.raises(TypeError, match="run must return a pandas DataFrame"):
        sweep.run_sweep([{"seed": 0}], run=lambda seed: [seed])


def test_run_is_required():
    with pytest.raises(TypeError, match="run"):
        sweep.run_sweep([{"seed": 0}])
