"""Bad input and faults, tried: every bad value stops ``recursive-book run`` before a kernel starts
(status 2, one line naming the knob), outputs never destroy a reader's file, and a killed or
interrupted run or sweep leaves no process, socket or connection file behind."""

import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from conftest import ROOT

from recursive_lib import simulation
from recursive_lib.book import cli, params

BOMB = "\n".join(
    [
        'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
        "b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]",
        "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]",
        "d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]",
        "e: [*d,*d,*d,*d,*d,*d,*d,*d,*d]",
    ]
)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["setting", "-p", "ALPHAS", "[0.3]"], "unknown parameter 'ALPHAS' (did you mean 'alphas'?)"),
        (["setting", "-p", "_x", "1"], "unknown parameter '_x'"),
        (["setting", "-p", "In", "1"], "unknown parameter 'In'"),
        (["setting", "-p", "preset", "nope"], "preset must be one of 'smoke', 'book', 'paper'"),
        (["setting", "-p", "alphas", "[[0.5]]"], "alphas must be a finite number in (0, 1]"),
        (["setting", "-p", "alphas", "[null]"], "alphas must be a finite number in (0, 1], got None"),
        (["setting", "-p", "alphas", "abc"], "(alphas accepts: list of float in (0, 1])"),
        (["setting", "-p", "alphas", "[.nan]"], "alphas must be a finite number"),
        (["setting", "-p", "T", ".inf"], "T must be an integer >= 1"),
        (["setting", "-p", "alphas", "[]"], "alphas must hold at least 1 item"),
        (["setting", "-p", "PRESETS", ""], "PRESETS is the chapter's preset table, not a knob"),
        (["rates", "-p", "tie_reps", "1"], "tie_reps must be an integer >= 2"),
        (["images", "-p", "snapshot_at", "[99]"], "snapshot_at must be in [1, T], T = 4, got 99"),
        (["setting", "-p", "T", "1000000000000"], "needs about"),
        (["rates", "-p", "tie_reps", BOMB], "-p tie_reps: YAML anchors and aliases"),
        (["rates", "-p", "tie_reps", "[" + "1, " * 6000 + "1]"], "-p tie_reps: the value is"),
        (["nope"], "chapter 'nope' not found"),
        (["setting", "--out", "chapters"], "is the book's source tree"),
        (["setting", "--out", "/proc/none/out"], "cannot be written"),
    ],
)
def test_bad_input_exits_2_before_a_kernel_starts_with_one_line(
    argv, message, monkeypatch, capsys, tmp_path, root
):
    monkeypatch.chdir(root)
    if "--out" not in argv:
        argv = [*argv, "--out", str(tmp_path / "out")]
    started = time.perf_counter()
    assert cli.main(["run", *argv[:1], "--preset", "smoke", *argv[1:]]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err, err
    assert time.perf_counter() - started < 5
    assert not (tmp_path / "out").exists() and not (root / "chapters" / "out").exists()


def test_the_alias_bomb_is_refused_in_well_under_a_second():
    started = time.perf_counter()
    with pytest.raises(ValueError, match="aliases"):
        cli.parse_parameters([["tie_reps", BOMB]])
    assert time.perf_counter() - started < 1


@pytest.mark.parametrize("name", cli.executable_chapters(ROOT))
def test_every_chapter_declares_what_each_knob_accepts_and_its_presets_satisfy_it(name, root):
    for knob in params.chapter_table(cli.chapter_source(root, name)).values():
        assert knob.accepts.text, f"{name}: {knob.name} declares no constraint"
    for preset in params.PRESET_NAMES:
        params.for_chapter(cli.chapter_source(root, name), preset)


def test_config_refuses_infinite_widths_and_rates_and_runs_that_cannot_fit():
    for field in ("mmd_width", "p", "h0", "bandwidth_exponent"):
        with pytest.raises(ValueError, match=field):
            simulation.Config(**{field: float("inf")})
    with pytest.raises(ValueError, match=r"needs about .* \(T = 1000000000 x reps = 100"):
        simulation.Config(T=10**9, reps=100)
    assert simulation.Config(T=2000, reps=100).memory_estimate < 2**30


def test_a_relative_cache_dir_resolves_against_the_callers_folder(monkeypatch, tmp_path, root):
    monkeypatch.chdir(tmp_path)
    _, overrides = cli.check_run(root, "rates", "smoke", {"cache_dir": "relcache"})
    assert overrides["cache_dir"] == str(tmp_path / "relcache")


def test_out_never_deletes_or_overwrites_a_readers_file(monkeypatch, capsys, tmp_path, root):
    monkeypatch.chdir(root)
    out = tmp_path / "out"
    (out / "intro_files").mkdir(parents=True)
    (out / "intro_files" / "notes.txt").write_text("mine")
    assert cli.main(["run", "intro", "--preset", "smoke", "--out", str(out)]) == 2
    assert "is not empty" in capsys.readouterr().err
    (out / "intro.ipynb").write_text("mine too")
    assert cli.main(["run", "intro", "--preset", "smoke", "--out", str(out), "--overwrite"]) == 2
    assert "intro.ipynb was not written by recursive-book" in capsys.readouterr().err
    (out / "intro.ipynb").unlink()
    assert cli.main(["run", "intro", "--preset", "smoke", "--out", str(out), "--overwrite"]) == 0
    assert cli.main(["run", "intro", "--preset", "smoke", "--out", str(out), "--overwrite"]) == 0
    assert (out / "intro_files" / "notes.txt").read_text() == "mine"
    assert "intro.ipynb" in cli.written_files(out)


def test_build_from_a_missing_folder_exits_2_and_creates_nothing(tmp_path, monkeypatch, capsys, root):
    monkeypatch.chdir(root)
    staged = root / "_build" / "staged"
    before = staged.exists()
    assert cli.main(["build", "--executed", str(tmp_path / "nonexistent")]) == 2
    assert "no such folder" in capsys.readouterr().err
    assert staged.exists() == before


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _wait(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return condition()


SWEEP = textwrap.dedent(
    """
    import time
    from recursive_lib import sweep

    def slow(i, seed):
        import pandas as pd
        from pathlib import Path
        Path(f"started-{i}").touch()  # the test kills the parent once both workers are busy
        time.sleep(600)
        return pd.DataFrame({"i": [i]})

    sweep.run_sweep([{"i": i, "seed": 0} for i in range(4)], slow, n_jobs=2, backend="loky")
    """
)


def test_the_workers_of_a_sweep_whose_parent_is_killed_exit_within_seconds(tmp_path):
    script = tmp_path / "sweep_then_die.py"
    script.write_text(SWEEP)
    parent = subprocess.Popen([sys.executable, str(script)], cwd=tmp_path)
    try:
        # loky's workers are the parent's children running Python (its resource tracker is one too);
        # wait until both workers run a task (on a loaded machine their start takes seconds)
        started = lambda: len(list(tmp_path.glob("started-*"))) >= 2  # noqa: E731
        assert _wait(started, 180), "the sweep never started its tasks"
        workers = _children(parent.pid)
    finally:
        parent.send_signal(signal.SIGKILL)
        parent.wait()
    assert _wait(lambda: not [w for w in workers if _alive(w)], 15), [w for w in workers if _alive(w)]


def _runtime_files() -> set[Path]:
    from jupyter_core.paths import jupyter_runtime_dir

    folder = Path(jupyter_runtime_dir())
    return set(folder.glob("kernel-*.json")) if folder.is_dir() else set()


def _socket_files() -> set[Path]:
    import tempfile

    return set(Path(tempfile.gettempdir()).glob("recursive-book-*"))


def _start_run(tmp_path: Path) -> tuple[subprocess.Popen, int]:
    run = subprocess.Popen(
        [sys.executable, "-m", "recursive_lib.book.cli", "run", "intro", "--preset", "book", "--out", "out"],
        cwd=tmp_path / "repo",
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )

    def kernel():
        for child in _children(run.pid):
            if "recursive_lib.book._kernel" in Path(f"/proc/{child}/cmdline").read_text(errors="replace"):
                return child
        return None

    assert _wait(lambda: kernel() is not None, 120), "no kernel started"
    time.sleep(3)  # the kernel is executing cells
    return run, kernel()


@pytest.fixture
def book_copy(tmp_path, root):
    repo = tmp_path / "repo"
    (repo / "chapters").mkdir(parents=True)
    for name in ("_toc.yml", "_config.yml", "chapters/intro.md"):
        (repo / name).write_bytes((root / name).read_bytes())
    # a last cell that keeps the kernel busy, so a signal always reaches a run in progress
    with (repo / "chapters" / "intro.md").open("a") as chapter:
        chapter.write("\n```{code-cell} ipython3\nimport time\n\ntime.sleep(120)\n```\n")
    for name in cli.toc_chapters(root):
        target = repo / "chapters" / f"{name}.md"
        if not target.exists():
            target.write_text("# page\n")
    return repo


@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM])
def test_a_killed_run_leaves_no_kernel_socket_or_connection_file(book_copy, tmp_path, how):
    runtime, sockets = _runtime_files(), _socket_files()
    run, kernel = _start_run(tmp_path)
    run.send_signal(how)
    run.communicate(timeout=60)
    assert _wait(lambda: not _alive(kernel), 15), "the kernel outlived its run"
    assert _runtime_files() <= runtime and _socket_files() <= sockets


def test_ctrl_c_prints_one_line_saying_what_was_kept_and_exits_130(book_copy, tmp_path):
    run, kernel = _start_run(tmp_path)
    run.send_signal(signal.SIGINT)
    _, err = run.communicate(timeout=60)
    assert run.returncode == 130, err
    assert err.strip().count("\n") == 0 and err.startswith("recursive-book: interrupted; kept "), err
    assert _wait(lambda: not _alive(kernel), 15)
