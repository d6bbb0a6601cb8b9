"""Sweeps on any backend: loky with a notebook's own function, and a Dask cluster (loopback only).

Results never depend on the backend or the number of workers; an interrupted sweep resumes from
the cache on a new client.
"""

import json
import os
import time

import pandas as pd
import pytest

from recursive_lib import sweep

SIM = dict(estimator=["ecdf", "kde"], alpha=[0.3, 1.0], m1=20, T=12, reps=3, seed=4, grid_size=60)


def _marking_run(folder, fail_at=None):
    """A run that leaves one file per computed configuration (in any process) and may fail."""
    from recursive_lib import simulate

    def run(estimator, alpha, **rest):
        if fail_at is not None and (estimator, alpha) == fail_at:
            raise RuntimeError(f"planned failure at {estimator}, {alpha}")
        result = simulate(estimator=estimator, alpha=alpha, **rest)
        open(os.path.join(folder, f"{estimator}-{alpha}"), "w").close()
        return result

    return run


@pytest.fixture(scope="module")
def cluster():
    distributed = pytest.importorskip("distributed")
    with (
        sweep.dask_config(),
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
        ) as local,
    ):
        yield local


def test_workers_started_in_dask_config_keep_glibc_adaptive(cluster):
    """Dask's default MALLOC_TRIM_THRESHOLD_ (a threefold slowdown of the runs) is not set on the
    workers of a cluster started inside sweep.dask_config(); the other defaults stay."""
    from distributed import Client

    with Client(cluster) as client:
        env = client.run(
            lambda: {k: os.environ.get(k) for k in ("MALLOC_TRIM_THRESHOLD_", "OMP_NUM_THREADS")}
        )
    assert len(env) == 2
    for worker_env in env.values():
        assert worker_env == {"MALLOC_TRIM_THRESHOLD_": None, "OMP_NUM_THREADS": "1"}


def test_dask_cluster_equals_serial_and_resumes_on_a_new_client(cluster, tmp_path):
    from distributed import Client

    from recursive_lib import simulate

    configs = sweep.grid(**SIM)
    serial = sweep.run_sweep(configs, run=simulate)
    marks = tmp_path / "marks"
    marks.mkdir()
    cache = tmp_path / "cache"
    with Client(cluster) as client:
        assert client.scheduler_info()["address"].startswith("tcp://127.0.0.1")
        with pytest.raises(RuntimeError, match="planned failure"):
            sweep.run_sweep(
                configs,
                run=_marking_run(str(marks), fail_at=("kde", 1.0)),
                cache_dir=cache,
                backend="dask",
                n_jobs=2,
            )
        # tasks already running when the failure arrived finish (and are cached): wait for them
        deadline = time.monotonic() + 60
        while any(client.processing().values()) and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.5)
    done_before = sorted(p.name for p in marks.iterdir())
    cached = sorted(
        "{estimator}-{alpha}".format(**sweep.read_meta(p)["config"]) for p in cache.glob("*.parquet")
    )
    assert "kde-1.0" not in done_before and cached == done_before
    with Client(cluster):
        resumed = sweep.run_sweep(
            configs, run=_marking_run(str(marks)), cache_dir=cache, backend="dask", n_jobs=2
        )
    computed_now = [p.name for p in marks.iterdir() if p.name not in done_before]
    assert "kde-1.0" in computed_now and len(computed_now) == len(configs) - len(done_before)
    pd.testing.assert_frame_equal(resumed, serial)


@pytest.mark.parametrize(("backend", "n_jobs"), [("loky", 2), ("threading", 2), ("loky", 1)])
def test_every_backend_gives_the_serial_result(backend, n_jobs):
    from recursive_lib import simulate

    configs = sweep.grid(**SIM)
    serial = sweep.run_sweep(configs, run=simulate)
    pd.testing.assert_frame_equal(
        sweep.run_sweep(configs, run=simulate, backend=backend, n_jobs=n_jobs), serial
    )


def test_a_notebook_function_runs_on_loky_workers(tmp_path):
    """What a reader who forks a chapter does: define the run in a cell, sweep with n_jobs=2."""
    nbformat = pytest.importorskip("nbformat")
    papermill = pytest.importorskip("papermill")
    cells = [
        "import pandas as pd\nfrom recursive_lib import sweep",
        "def my_run(seed, scale):\n"
        "    import numpy as np\n"
        "    return pd.DataFrame({'v': np.random.default_rng(seed).normal(size=3) * scale})",
        "configs = sweep.grid(seed=[0, 1, 2, 3], scale=2.0)\n"
        "parallel = sweep.run_sweep(configs, run=my_run, n_jobs=2)\n"
        "serial = sweep.run_sweep(configs, run=my_run)\n"
        "pd.testing.assert_frame_equal(parallel, serial)\n"
        "import json; print(json.dumps({'rows': len(parallel)}))",
    ]
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    source, out = tmp_path / "fork.ipynb", tmp_path / "fork-out.ipynb"
    nbformat.write(notebook, source)
    papermill.execute_notebook(
        str(source), str(out), kernel_name="python3", progress_bar=False, cwd=str(tmp_path)
    )
    printed = [
        o["text"]
        for c in nbformat.read(out, as_version=4).cells
        for o in c.get("outputs", [])
        if o.get("name") == "stdout"
    ]
    assert json.loads(printed[-1]) == {"rows": 12}
