"""Faults tried on the cache and the checkpoints: planted pickles, edited code, moved folders,
flipped bytes, dead writers, a folder that cannot take files, the umask. Nothing read runs code,
nothing stale or damaged is served, no work is lost."""

import errno
import json
import os
import pickle
import shutil
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recursive_lib import _io, sweep
from recursive_lib.experiments import _checkpoint, text
from recursive_lib.loops import continual
from recursive_lib.loops.continual import run_fresh

POOL = np.arange(40.0).reshape(-1, 1)


class Mean:
    """A tiny continual model: the running mean of what it trained on (attributes are its state)."""

    def __init__(self):
        self.total, self.count = 0.0, 0

    def partial_fit(self, batch, rng):
        self.total += float(batch.sum())
        self.count += batch.size
        return float(rng.random())

    def sample(self, n, rng):
        return rng.normal(self.total / self.count, 1.0, size=(n, 1))


def evaluate(model, rng):
    return {"mean": model.total / model.count, "draw": rng.random()}


class Planted:
    """What an attacker plants: unpickling it would create ``marker`` (a shell command could run)."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


# -- no pickle is ever executed -----------------------------------------------------------------


def test_a_planted_pickle_checkpoint_is_never_executed(tmp_path):
    marker, path = tmp_path / "pwned", tmp_path / "run.ckpt"
    straight = run_fresh(Mean(), POOL, 0.5, 8, 6, seed=1, evaluate=evaluate).metrics
    assert pickle.loads(pickle.dumps(Planted(tmp_path / "probe"))) is None  # the payload works
    (tmp_path / "probe").unlink()
    path.write_bytes(pickle.dumps(Planted(marker)))
    with pytest.warns(RuntimeWarning, match="unreadable state file"):
        run = run_fresh(Mean(), POOL, 0.5, 8, 6, seed=1, evaluate=evaluate, checkpoint=path).metrics
    assert not marker.exists()
    pd.testing.assert_frame_equal(run, straight)
    # the same payload inside an .npz archive (an object array is a pickle): refused too
    np.savez(path.with_suffix(".npz"), __header__=np.array([Planted(marker)], dtype=object))
    shutil.move(path.with_suffix(".npz"), path)
    with pytest.warns(RuntimeWarning, match="state file"):
        run_fresh(Mean(), POOL, 0.5, 8, 6, seed=1, checkpoint=path)
    assert not marker.exists()


def test_a_planted_pickle_in_the_cache_is_never_executed(tmp_path):
    marker = tmp_path / "pwned"
    config = dict(x=1.0, seed=0)
    path = sweep.cache_path(tmp_path / "cache", cheap_run, config)
    path.parent.mkdir()
    path.write_bytes(pickle.dumps(Planted(marker)))
    with pytest.warns(RuntimeWarning, match="damaged cache file"):
        out = sweep.run_sweep([config], cheap_run, cache_dir=tmp_path / "cache")
    assert not marker.exists() and out["value"].tolist() == cheap_run(**config)["value"].tolist()


def test_the_library_holds_no_pickle():
    package = Path(sweep.__file__).parent
    for source in package.rglob("*.py"):
        text_ = source.read_text()
        assert "import pickle" not in text_ and "pickle.load" not in text_, source
    assert not hasattr(_io, "read_pickle")


# -- keys: code version, inputs, no absolute path ------------------------------------------------

CALLS = []


def cheap_run(x, seed, checkpoint_dir=None):
    """A run with a float, an int, a string and a bytes column, counting its calls."""
    CALLS.append(x)
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "value": rng.normal(x, 1.0, 12),
            "n": np.arange(12),
            "label": [f"row {i}" for i in range(12)],
            "blob": [bytes([i]) * 5 for i in range(12)],
        }
    )


def interrupted_text_run(folder, monkeypatch, at=3):
    """Start a tiny run_text with a checkpoint in ``folder`` and crash it at the ``at``-th fit."""
    from recursive_lib.continual.char_lm import CharLM

    original, calls = CharLM.partial_fit, []

    def crash(self, batch, rng):
        calls.append(1)
        if len(calls) == at:
            raise KeyboardInterrupt
        return original(self, batch, rng)

    monkeypatch.setattr(CharLM, "partial_fit", crash)
    with pytest.raises(KeyboardInterrupt):
        text.run_text(alpha=0.5, seed=3, rep=1, warmup=1, checkpoint_dir=str(folder), **TEXT)
    monkeypatch.setattr(CharLM, "partial_fit", original)
    text.WarmUp.forget()  # what the crashed process kept in memory is gone with it
    [path] = Path(folder).glob("text-*.ckpt")
    return path


def counting_fits(monkeypatch):
    from recursive_lib.continual.char_lm import CharLM

    original, calls = CharLM.partial_fit, []

    def count(self, batch, rng):
        calls.append(1)
        return original(self, batch, rng)

    monkeypatch.setattr(CharLM, "partial_fit", count)
    return calls


TEXT = dict(T=3, m_total=16, block_len=24, epochs=1, hidden=16, embed=8, n_heldout=20, n_generate=12)


@pytest.fixture(autouse=True)
def no_kept_warm_ups():
    """These tests count the fits of a run: none of its warm-up may come from an earlier run."""
    text.WarmUp.forget()
    yield
    text.WarmUp.forget()


@pytest.fixture(scope="module")
def straight_text():
    return text.run_text(alpha=0.5, seed=3, rep=1, warmup=1, **TEXT)


def test_an_interrupted_text_run_with_warm_up_resumes_to_the_same_numbers(
    tmp_path, monkeypatch, straight_text
):
    interrupted_text_run(tmp_path, monkeypatch)  # warm-up and iteration 1 done, crash in 2
    calls = counting_fits(monkeypatch)
    resumed = text.run_text(alpha=0.5, seed=3, rep=1, warmup=1, checkpoint_dir=str(tmp_path), **TEXT)
    assert len(calls) == 2  # iterations 2 and 3 only: neither the warm-up nor iteration 1 again
    pd.testing.assert_frame_equal(resumed, straight_text)
    assert not list(tmp_path.glob("*.ckpt"))


def test_an_edit_of_the_library_makes_a_checkpoint_miss(tmp_path, monkeypatch, straight_text):
    old = interrupted_text_run(tmp_path, monkeypatch)
    monkeypatch.setattr(_checkpoint, "code_version", lambda: "edited-library")
    monkeypatch.setattr(continual, "code_version", lambda: "edited-library")
    calls = counting_fits(monkeypatch)
    again = text.run_text(alpha=0.5, seed=3, rep=1, warmup=1, checkpoint_dir=str(tmp_path), **TEXT)
    assert len(calls) == 1 + 3  # warm-up and every iteration: nothing taken from the old run
    pd.testing.assert_frame_equal(again, straight_text)
    assert old.exists()  # the old version's checkpoint is not this run's
    # the same file handed to run_fresh by path: its key says another code version, so it is refused
    with pytest.raises(ValueError, match="belongs to another run"):
        run_fresh(Mean(), POOL, 0.5, 8, 3, seed=1, checkpoint=old)


def test_a_moved_checkpoint_folder_still_resumes(tmp_path, monkeypatch, straight_text):
    interrupted_text_run(tmp_path / "before", monkeypatch)
    (tmp_path / "before").rename(tmp_path / "after")
    calls = counting_fits(monkeypatch)
    resumed = text.run_text(
        alpha=0.5, seed=3, rep=1, warmup=1, checkpoint_dir=str(tmp_path / "after"), **TEXT
    )
    assert len(calls) == 2
    pd.testing.assert_frame_equal(resumed, straight_text)


def test_a_moved_cache_folder_still_hits(tmp_path):
    def configs(folder):
        # as the chapters do: the checkpoint folder inside the cache folder, an absolute path
        return [dict(x=x, seed=1, checkpoint_dir=str(folder.resolve() / "checkpoints")) for x in (0.0, 1.0)]

    CALLS.clear()
    first = sweep.run_sweep(configs(tmp_path / "a"), cheap_run, cache_dir=tmp_path / "a")
    assert len(CALLS) == 2
    (tmp_path / "a").rename(tmp_path / "b")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again = sweep.run_sweep(configs(tmp_path / "b"), cheap_run, cache_dir=tmp_path / "b")
    assert len(CALLS) == 2  # nothing recomputed
    cols = ["value", "n", "label", "blob", "x"]
    pd.testing.assert_frame_equal(again[cols], first[cols])
    meta = sweep.read_meta(next((tmp_path / "b").glob("*.parquet")))
    assert "checkpoint_dir" not in meta["config"] and str(tmp_path) not in json.dumps(meta)


def test_another_input_fingerprint_names_another_checkpoint(tmp_path):
    with _checkpoint.checkpoint(tmp_path, "text", dict(alpha=0.5), inputs="corpus A") as a:
        pass
    with _checkpoint.checkpoint(tmp_path, "text", dict(alpha=0.5), inputs="corpus B") as b:
        pass
    with _checkpoint.checkpoint(
        tmp_path / "elsewhere", "text", dict(alpha=0.5, checkpoint_dir="x"), "corpus A"
    ) as c:
        pass
    assert a.path.name != b.path.name and a.path.name == c.path.name and a.key == c.key


# -- damage is detected ------------------------------------------------------------------------


def test_flipped_bytes_in_a_cached_result_are_never_served(tmp_path):
    config = dict(x=2.0, seed=5)
    truth = sweep.run_sweep([config], cheap_run, cache_dir=tmp_path)
    [path] = tmp_path.glob("*.parquet")
    original = path.read_bytes()
    outcomes = {"served intact": 0, "recomputed": 0}
    # every 9th byte, across data pages, page headers, statistics and footer (every byte: no
    # flip served other numbers; about a third of them changed nothing the reader sees)
    for position in range(0, len(original), 9):
        damaged = bytearray(original)
        damaged[position] ^= 0x5A
        path.write_bytes(bytes(damaged))
        CALLS.clear()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            out = sweep.run_sweep([config], cheap_run, cache_dir=tmp_path)
        pd.testing.assert_frame_equal(out, truth)  # whatever the flip, never other numbers
        if CALLS:
            assert any("recomputing" in str(w.message) for w in caught), position
            outcomes["recomputed"] += 1
        else:
            outcomes["served intact"] += 1
    assert outcomes["recomputed"] > outcomes["served intact"] > 0, outcomes


def test_flipped_bytes_in_a_checkpoint_restart_the_run(tmp_path):
    path = tmp_path / "run.ckpt"
    straight = run_fresh(Mean(), POOL, 0.5, 8, 6, seed=2, evaluate=evaluate).metrics
    with pytest.raises(KeyboardInterrupt):
        run_fresh(Mean(), POOL, 0.5, 8, 6, seed=2, evaluate=_crash_at(4), checkpoint=path)
    original = path.read_bytes()
    restarted = 0
    for position in range(0, len(original), 23):
        damaged = bytearray(original)
        damaged[position] ^= 0x5A
        path.write_bytes(bytes(damaged))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            out = run_fresh(Mean(), POOL, 0.5, 8, 6, seed=2, evaluate=evaluate, checkpoint=path).metrics
        # resumed (a flip in what the zip format does not read: dates, attributes; 276 of 3,370
        # bytes) or restarted,
        # the numbers are the uninterrupted run's
        pd.testing.assert_frame_equal(out, straight)
        restarted += any("starting the run again" in str(w.message) for w in caught)
    assert restarted > 0.8 * len(range(0, len(original), 23))


def _crash_at(k):
    calls = []

    def crash(model, rng):
        calls.append(1)
        if len(calls) == k:
            raise KeyboardInterrupt
        return evaluate(model, rng)

    return crash


# -- dead writers, full or read-only folders, the umask ----------------------------------------


def test_temporary_files_of_dead_writers_are_swept(tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    # a Parquet writer killed in the middle of its write
    writer = (
        "import os, sys; from recursive_lib._io import atomic_path\n"
        "with atomic_path(sys.argv[1]) as tmp:\n"
        "    open(tmp, 'wb').write(b'PAR1 half a file')\n"
        "    os._exit(9)\n"
    )
    subprocess.run([sys.executable, "-c", writer, str(cache / "result.parquet")], check=False)
    [dead] = cache.glob(".*.tmp")
    old = cache / ".other.somehost.1.abc.tmp"  # another machine's, two hours old
    old.write_bytes(b"x")
    os.utime(old, (time.time() - 7200,) * 2)
    with _io.atomic_path(cache / "live.parquet") as live:  # this process is writing it
        sweep.run_sweep([dict(x=0.0, seed=0)], cheap_run, cache_dir=cache)
        assert not dead.exists() and not old.exists() and live.exists()


class _FaultyOS:
    """``os`` whose ``write`` or ``open`` fails with ``code`` (a full disk, a read-only mount)."""

    def __init__(self, name, code):
        self.name, self.code = name, code

    def __getattr__(self, attribute):
        if attribute == self.name:

            def fail(*args, **kwargs):
                raise OSError(self.code, os.strerror(self.code))

            return fail
        return getattr(os, attribute)


@pytest.mark.parametrize("name, code", [("write", errno.ENOSPC), ("open", errno.EROFS)])
def test_a_full_or_read_only_cache_folder_is_refused_before_computing(tmp_path, monkeypatch, name, code):
    cached = dict(x=0.0, seed=0)
    sweep.run_sweep([cached], cheap_run, cache_dir=tmp_path)
    monkeypatch.setattr(_io, "os", _FaultyOS(name, code))
    CALLS.clear()
    # what is cached is still served from a folder that cannot take files
    assert len(sweep.run_sweep([cached], cheap_run, cache_dir=tmp_path)) == 12 and not CALLS
    with pytest.raises(OSError) as raised:
        sweep.run_sweep([cached, dict(x=1.0, seed=0)], cheap_run, cache_dir=tmp_path)
    message = str(raised.value)
    assert str(tmp_path) in message and os.strerror(code) in message and "\n" not in message
    assert not CALLS  # nothing computed, nothing lost
    with pytest.raises(OSError, match="checkpoint folder"):
        text.run_text(alpha=0.5, seed=3, checkpoint_dir=str(tmp_path / "ckpt"), **TEXT)


def test_a_cache_folder_under_a_file_is_refused_before_computing(tmp_path):
    (tmp_path / "file").write_text("")
    CALLS.clear()
    with pytest.raises(OSError, match="cache folder .*file/cache"):
        sweep.run_sweep([dict(x=0.0, seed=0)], cheap_run, cache_dir=tmp_path / "file" / "cache")
    assert not CALLS


def test_files_are_created_with_the_callers_umask(tmp_path):
    before = os.umask(0o002)
    try:
        sweep.run_sweep([dict(x=0.0, seed=0)], cheap_run, cache_dir=tmp_path)
        path = tmp_path / "run.ckpt"
        with pytest.raises(KeyboardInterrupt):
            run_fresh(Mean(), POOL, 0.5, 8, 6, seed=2, evaluate=_crash_at(3), checkpoint=path)
        os.umask(0o077)
        _io.write_state(tmp_path / "private.ckpt", {"a": 1}, {})
    finally:
        os.umask(before)
    [result] = tmp_path.glob("*.parquet")
    assert result.stat().st_mode & 0o777 == 0o664
    assert path.stat().st_mode & 0o777 == 0o664
    assert (tmp_path / "private.ckpt").stat().st_mode & 0o777 == 0o600


# -- the models' state round-trips exactly through the data-only format ----------------------------


def _round_trip(model, tmp_path):
    _io.write_state(tmp_path / "model.ckpt", {"model": model.get_state()}, {"k": 1})
    return _io.read_state(tmp_path / "model.ckpt", {"k": 1})["model"]


def _same_after_one_more_fit(make, batch, tmp_path):
    import torch

    trained = make()
    trained.partial_fit(batch, np.random.default_rng(0))
    restored = make().set_state(_round_trip(trained, tmp_path))
    losses = [m.partial_fit(batch, np.random.default_rng(1)) for m in (trained, restored)]
    assert losses[0] == losses[1]
    for a, b in zip(trained.net_.state_dict().values(), restored.net_.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    samples = [m.sample(3, np.random.default_rng(2)) for m in (trained, restored)]
    np.testing.assert_array_equal(*samples)
    return trained, restored


def test_ddpm_with_averaged_weights_round_trips_exactly(tmp_path):
    from recursive_lib.continual.diffusion import DDPM

    batch = np.random.default_rng(0).uniform(-1, 1, (20, 4, 4))
    trained, restored = _same_after_one_more_fit(
        lambda: DDPM(diffusion_steps=5, width=8, depth=1, epochs=2, batch_size=10, ema=0.9), batch, tmp_path
    )
    assert restored.n_updates_ == trained.n_updates_ == 8


def test_char_lm_round_trips_exactly(tmp_path):
    from recursive_lib.continual.char_lm import CharLM

    batch = np.random.default_rng(0).integers(0, 7, (12, 6))
    trained, restored = _same_after_one_more_fit(
        lambda: CharLM(7, block_len=6, embed=4, hidden=8, epochs=2, batch_size=4), batch, tmp_path
    )
    assert (restored.iterations_, restored.steps_) == (trained.iterations_, trained.steps_) == (2, 12)


def test_gpt2_round_trips_exactly(tmp_path):
    pytest.importorskip("transformers", reason="the [hf] extra is not installed")
    from transformers import GPT2Config

    from recursive_lib.continual.gpt2 import GPT2LM

    config = GPT2Config(vocab_size=50, n_positions=16, n_embd=16, n_layer=1, n_head=2, bos_token_id=0)
    batch = np.random.default_rng(0).integers(0, 50, (8, 6))
    trained, restored = _same_after_one_more_fit(
        lambda: GPT2LM(config, block_len=6, lr=1e-3, batch_size=4), batch, tmp_path
    )
    assert restored.iterations_ == trained.iterations_ == 2


def test_state_files_keep_types_and_refuse_what_they_cannot_hold(tmp_path):
    state = {
        "rows": [{"a": 1, "b": 0.1, "c": np.float32(0.5), "d": None, "e": "text", "f": float("nan")}],
        "snapshots": {3: (np.arange(4), np.array([True, False]))},
        "big": 2**100,
        "rng": np.random.default_rng(7).bit_generator.state,
    }
    back = _io.read_state(_write(tmp_path, state), {"run": 1})
    assert back["rows"][0]["c"].dtype == np.float32 and back["rows"][0]["b"] == 0.1
    assert np.isnan(back["rows"][0]["f"]) and back["big"] == 2**100
    assert isinstance(back["snapshots"][3], tuple) and back["snapshots"][3][1].dtype == bool
    assert continual._generator(back["rng"]).random() == np.random.default_rng(7).random()
    with pytest.raises(_io.StateKeyError):
        _io.read_state(tmp_path / "s.ckpt", {"run": 2})
    with pytest.raises(TypeError, match=r"state\['x'\]: a object"):
        _io.write_state(tmp_path / "t.ckpt", {"x": object()}, {})
    with pytest.raises(ValueError, match="random stream"):
        continual._generator({"bit_generator": "os.system"})


def _write(tmp_path, state):
    _io.write_state(tmp_path / "s.ckpt", state, {"run": 1})
    return tmp_path / "s.ckpt"
