"""Benchmark: what the `paper` preset of each neural chapter costs on this machine's device.

For the quantile sampler (chapters/quantile.md), the image DDPM (chapters/images.md) and the
paper's own text model, GPT-2 (chapters/text.md, its GPT-2 section), it runs a few iterations, or
the timed parts of one, at the sizes of the chapter's `paper` column (read from the chapter's
PRESETS table by ``recursive_lib.book.params``, so the figures cannot drift from the table), and
prints, as JSON: the device, seconds per iteration, peak memory (``torch.cuda.max_memory_allocated``
on CUDA, the process's peak resident memory on a CPU) and the projected time of the whole preset.

Each chapter runs in its own process, under a time limit (``--time-limit`` seconds). One command on
a single-GPU machine measures everything:

    python benchmarks/bench_paper_scale.py                     # paper sizes; writes recursive_lib/book/paper_scale.json
    python benchmarks/bench_paper_scale.py --small             # CI size (a minute), writes nothing by default
    RECURSIVE_DEVICE=cpu python benchmarks/bench_paper_scale.py --chapters images

Offline stand-ins (said in the output): the images preset trains on MNIST, which needs a network,
so the benchmark uses random images of MNIST's shape (the time does not depend on the pixels);
the text setting needs GPT-2's weights, so it uses a randomly initialised GPT-2 of the real 124M
configuration and random token ids (the same arithmetic). How each projection is made:

- quantile: ``k`` whole iterations of ``simulate`` (every repetition at once, as the chapter runs
  them), and one optimizer step of every repetition at the full mini-batch, timed apart. A paper
  iteration's optimizer steps grow with the pool (``epochs * ceil(M_n / batch)``), its evaluation
  does not: the evaluation's time is the measured iteration less its steps, and the projection adds,
  over the run, that evaluation and each iteration's steps (a step on a mini-batch smaller than
  ``batch_size`` counted in proportion to its size). ``low`` and ``high`` bound it: every
  iteration as long as the measured ones, or all of their time scaled like the optimizer steps.
- images and text: the parts of one iteration are timed separately (optimizer steps; sampling,
  per image and denoising step or per generated block; the evaluation) and added up with the
  counts of the preset (the synthetic share of a batch is its mean over the preset's real
  fractions): one paper iteration takes minutes on a CPU, longer than a time limit allows.

Projections are serial: the chapters' ``n_jobs`` workers divide them, given as many devices or cores.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
# package data (pyproject.toml), read by recursive_lib.book.timing: an installed copy quotes it too
RESULTS = ROOT / "recursive_lib" / "book" / "paper_scale.json"
CHAPTERS = ("quantile", "images", "text")


def paper(chapter: str) -> dict:
    """The ``paper`` column of a chapter's PRESETS table."""
    from recursive_lib.book import params

    return {
        name: knob.values["paper"]
        for name, knob in params.chapter_table(ROOT / "chapters" / f"{chapter}.md").items()
    }


def _device_info() -> dict:
    import torch

    from recursive_lib._torch import TORCH_THREADS, placement

    place = placement()
    info = dict(
        device=str(place.device),
        dtype=str(place.dtype).replace("torch.", ""),
        torch=torch.__version__,
        python=platform.python_version(),
        cpu_count=os.cpu_count(),
        # other work on the machine slows a CPU measurement down: its load when this one began
        load_average_1min=os.getloadavg()[0],
    )
    if place.device.type == "cuda":
        info["device_name"] = torch.cuda.get_device_name(place.device)
    else:
        info["device_name"] = platform.processor() or platform.machine()
        info["torch_threads"] = TORCH_THREADS
    return info


def _peak_memory_mb() -> tuple[float, str]:
    import torch

    from recursive_lib._torch import placement

    dev = placement().device
    if dev.type == "cuda":
        return torch.cuda.max_memory_allocated(dev) / 2**20, "torch.cuda.max_memory_allocated"
    # Linux reports ru_maxrss in KiB (macOS in bytes)
    scale = 1 if sys.platform == "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale / 2**20, "peak resident memory"


def _sync():
    import torch

    from recursive_lib._torch import placement

    if placement().device.type == "cuda":
        torch.cuda.synchronize()


def _timed(fn, budget: float, at_least: int = 1, at_most: int = 50) -> float:
    """Median seconds of ``fn()`` over as many calls as ``budget`` seconds allow (after one warm-up)."""
    fn()
    _sync()
    times = []
    start = time.perf_counter()
    while len(times) < at_least or (time.perf_counter() - start < budget and len(times) < at_most):
        t0 = time.perf_counter()
        fn()
        _sync()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


# -- the chapters ----------------------------------------------------------------------------------


def bench_quantile(cfg: dict, small: bool, budget: float) -> dict:
    from recursive_lib.estimators.quantile import train_ensemble
    from recursive_lib.simulation import simulate

    if small:
        cfg = dict(cfg, reps=2, m_total=60, n_eval=2000, batch_size=64, epochs=2)
    k = 2
    alpha = float(cfg["alphas"][0])
    net = dict(epochs=cfg["epochs"], batch_size=cfg["batch_size"], n_eval=cfg["n_eval"])
    run = dict(
        estimator="quantile",
        alpha=alpha,
        m1=round(alpha * cfg["m_total"]),
        reps=cfg["reps"],
        seed=0,
        estimator_params=net,
    )
    # imports and first-call costs out of the timing, at a tiny size
    simulate(T=1, **dict(run, reps=2, estimator_params=dict(net, n_eval=1000, epochs=1)))
    _sync()
    t0 = time.perf_counter()
    simulate(T=k, **run)
    _sync()
    per_iteration = (time.perf_counter() - t0) / k

    def steps(n):
        return cfg["epochs"] * math.ceil(n * cfg["m_total"] / cfg["batch_size"])

    def step_cost(n):
        """optimizer steps of iteration n, in full-batch steps (a smaller batch costs in proportion)"""
        return steps(n) * min(1.0, n * cfg["m_total"] / cfg["batch_size"])

    rngs = [np.random.default_rng(r) for r in range(cfg["reps"])]
    full = np.random.default_rng(0).normal(size=(cfg["reps"], cfg["batch_size"]))
    step = _timed(lambda: train_ensemble(full, rngs, epochs=1, batch_size=cfg["batch_size"]), budget / 3)
    T = cfg["T"]
    evaluation = max(per_iteration - step * np.mean([step_cost(n) for n in range(1, k + 1)]), 0.0)
    runs = len(cfg["alphas"])  # one simulate call per real fraction trains every repetition
    projected = runs * sum(evaluation + step * step_cost(n) for n in range(1, T + 1))
    return dict(
        configuration=dict(
            alpha=alpha,
            reps=cfg["reps"],
            m_total=cfg["m_total"],
            epochs=cfg["epochs"],
            batch_size=cfg["batch_size"],
            n_eval=cfg["n_eval"],
        ),
        measured=(
            f"{k} whole iterations of simulate (all {cfg['reps']} repetitions at once) "
            f"{per_iteration:.3g} s each; one full-batch optimizer step of every "
            f"repetition {step:.3g} s; the evaluation {evaluation:.3g} s per iteration"
        ),
        seconds_per_iteration=per_iteration,
        iterations=T,
        runs=runs,
        projected_seconds=projected,
        stand_in=None,
    )


def bench_images(cfg: dict, small: bool, budget: float) -> dict:
    from recursive_lib._torch import torch_threads
    from recursive_lib.continual.diffusion import DDPM
    from recursive_lib.metrics import frechet_distance

    if small:
        cfg = dict(cfg, side=8, width=8, diffusion_steps=10, n_eval=20, m_total=20, batch_size=10)
    network = cfg.get("network", "mlp")
    side, m_total, K = cfg["side"], cfg["m_total"], cfg["diffusion_steps"]
    rng = np.random.default_rng(0)
    images = np.tanh(rng.normal(size=(m_total, side, side))).astype(np.float32)
    model = DDPM(
        diffusion_steps=K,
        width=cfg["width"],
        epochs=1,
        batch_size=cfg["batch_size"],
        lr=cfg["lr"],
        ema=cfg["ema"],
        network=network,
    )
    steps_per_epoch = math.ceil(m_total / cfg["batch_size"])
    epoch = _timed(lambda: model.partial_fit(images, rng), budget / 3)
    # a denoising step is one pass of the network over the images sampled together (DDPM's
    # sample_chunk at most); the step's own arithmetic is negligible beside it
    import torch

    chunk = min(cfg["n_eval"], model.sample_chunk)
    noisy = torch.randn((chunk, side * side), generator=torch.Generator().manual_seed(0)).to(
        next(model.net_.parameters()).device
    )
    levels = torch.full((chunk,), 0.5, device=noisy.device)

    def denoise():
        with torch.no_grad(), torch_threads():
            model.net_.eval()
            model.net_(noisy, levels)

    sample = _timed(denoise, budget / 3) / chunk
    fake, real = (
        rng.uniform(-1, 1, (cfg["n_eval"], side * side)),
        rng.uniform(-1, 1, (cfg["n_test"], side * side)),
    )
    metric = _timed(lambda: frechet_distance(fake, real), budget / 6, at_most=3)
    synthetic = m_total * (1 - np.mean(cfg["fresh_alphas"]))
    train = epoch * cfg["epochs"]
    generate = sample * K * synthetic
    evaluate = (sample * K * cfg["n_eval"] + metric) / cfg["eval_every"]
    per_iteration = train + generate + evaluate
    runs = len(cfg["fresh_alphas"]) * cfg["reps"]
    return dict(
        configuration=dict(
            network=network,
            side=side,
            width=cfg["width"],
            m_total=m_total,
            epochs=cfg["epochs"],
            batch_size=cfg["batch_size"],
            diffusion_steps=K,
            n_eval=cfg["n_eval"],
        ),
        measured=(
            f"parts of an iteration: an epoch ({steps_per_epoch} optimizer steps) "
            f"{epoch:.3g} s, one image through one denoising step {sample:.3g} s "
            f"(in a batch of {chunk}), "
            f"the Frechet distance {metric:.3g} s"
        ),
        parts_seconds=dict(train=train, generate=generate, evaluate=evaluate),
        seconds_per_iteration=per_iteration,
        iterations=cfg["T"],
        runs=runs,
        projected_seconds=per_iteration * cfg["T"] * runs,
        stand_in=(
            f"random images of MNIST's shape ({side}x{side}) in place of MNIST (which "
            "needs a network; the time does not depend on the pixels)"
        ),
    )


def bench_text(cfg: dict, small: bool, budget: float) -> dict:
    from transformers import GPT2Config

    from recursive_lib.continual.gpt2 import GPT2LM

    if small:
        cfg = dict(cfg, block_len=16, m_total=8, n_heldout=8, n_generate=8)
        config = GPT2Config(
            vocab_size=500, n_positions=64, n_embd=32, n_layer=2, n_head=2, bos_token_id=0, eos_token_id=0
        )
        label = "a two-layer GPT-2 of width 32 (CI size)"
    else:
        config = GPT2Config()  # the 124M architecture of "gpt2": 12 layers, width 768, 50257 tokens
        label = "GPT-2 124M architecture, random weights (GPT2Config())"
    L, m_total = cfg["block_len"], cfg["m_total"]
    batch_size = 8  # GPT2LM's default, as run_gpt2 passes it
    rng = np.random.default_rng(0)
    blocks = rng.integers(0, config.vocab_size, size=(max(m_total, batch_size), L))
    model = GPT2LM(config, block_len=L, epochs=1, batch_size=batch_size)
    model.partial_fit(blocks[:batch_size], rng)  # builds the model
    step = _timed(lambda: model.partial_fit(blocks[:batch_size], rng), budget / 3)
    chunk = 2 if small else 8
    generate_block = _timed(lambda: model.sample(chunk, rng, chunk=chunk), budget / 3) / chunk
    score_block = _timed(lambda: model.score(blocks[:16], chunk=16), budget / 6) / 16
    synthetic = m_total * (1 - np.mean(cfg["fresh_alphas"]))
    train = step * cfg["epochs"] * math.ceil(m_total / batch_size)
    generate = generate_block * synthetic
    evaluate = (score_block * cfg["n_heldout"] + generate_block * cfg["n_generate"]) / cfg["eval_every"]
    per_iteration = train + generate + evaluate
    runs = len(cfg["fresh_alphas"]) * cfg["reps"]
    return dict(
        configuration=dict(
            model=label,
            block_len=L,
            m_total=m_total,
            epochs=cfg["epochs"],
            batch_size=batch_size,
            n_heldout=cfg["n_heldout"],
            n_generate=cfg["n_generate"],
        ),
        measured=(
            f"parts of an iteration: an optimizer step on {batch_size} blocks "
            f"{step:.3g} s, generating a block {generate_block:.3g} s, scoring a "
            f"block {score_block:.3g} s"
        ),
        parts_seconds=dict(train=train, generate=generate, evaluate=evaluate),
        seconds_per_iteration=per_iteration,
        iterations=cfg["T"],
        runs=runs,
        projected_seconds=per_iteration * cfg["T"] * runs,
        stand_in=(
            "a randomly initialised GPT-2 of the same configuration and random token "
            "ids in place of GPT-2's weights (which need a network; the arithmetic "
            "and so the time are the same)"
        ),
    )


BENCHES = dict(quantile=bench_quantile, images=bench_images, text=bench_text)


def measure(chapter: str, small: bool, budget: float) -> dict:
    cfg = paper(chapter)
    out = dict(
        chapter=chapter,
        preset="paper" + (" (CI size)" if small else ""),
        measured_at=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        **_device_info(),
    )
    with _torch_threads():
        out.update(BENCHES[chapter](cfg, small, budget))
    out["peak_memory_mb"], out["memory_measure"] = _peak_memory_mb()
    out["status"] = "ok"
    return out


def _torch_threads():
    from recursive_lib._torch import torch_threads

    return torch_threads()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="CI size (about a minute)")
    parser.add_argument("--chapters", nargs="+", default=list(CHAPTERS), choices=CHAPTERS)
    parser.add_argument(
        "--time-limit",
        type=float,
        default=None,
        help="seconds per chapter (default 1800, 240 with --small); a chapter over it is "
        "reported as timed out",
    )
    parser.add_argument(
        "--out",
        default=None,
        help=f"JSON file to write (default {RESULTS.relative_to(ROOT)}; with --small none)",
    )
    parser.add_argument("--one", help=argparse.SUPPRESS)  # the child process: one chapter
    args = parser.parse_args()
    limit = args.time_limit or (240.0 if args.small else 1800.0)
    if args.one:
        # seconds each timed part may repeat for (a median of several calls when they are quick)
        print(json.dumps(measure(args.one, args.small, budget=2.0 if args.small else limit / 6)))
        return
    results = []
    for chapter in args.chapters:
        command = [sys.executable, __file__, "--one", chapter, "--time-limit", str(limit)]
        command += ["--small"] if args.small else []
        started = time.perf_counter()
        try:
            done = subprocess.run(
                command,
                capture_output=True,
                text=True,
                timeout=limit,
                cwd=ROOT,
                env=dict(os.environ, PYTHONWARNINGS="ignore"),
            )
            if done.returncode == 0:
                entry = json.loads(done.stdout.strip().splitlines()[-1])
            else:
                entry = dict(chapter=chapter, status="failed", error=done.stderr[-2000:])
        except subprocess.TimeoutExpired:
            entry = dict(chapter=chapter, status=f"timed out after {limit:g} s")
        entry["wall_seconds"] = time.perf_counter() - started
        results.append(entry)
        print(json.dumps(entry, indent=1), flush=True)
    out = args.out or (None if args.small else str(RESULTS))
    if out and Path(out).exists():  # a subset of the chapters: keep the others' entries
        kept = json.loads(Path(out).read_text())
        if kept.get("small") == args.small:
            done = {r["chapter"] for r in results}
            results = [
                dict(c, measured_at=c.get("measured_at") or kept.get("measured_at"))
                for c in kept["chapters"]
                if c["chapter"] not in done
            ] + results
            results.sort(key=lambda r: CHAPTERS.index(r["chapter"]))
    report = dict(benchmark="benchmarks/bench_paper_scale.py", small=args.small, chapters=results)
    if out:
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        Path(out).write_text(json.dumps(report, indent=1) + "\n")
        print(f"wrote {out}")
    if any(r["status"] != "ok" for r in results):
        sys.exit(1)


if __name__ == "__main__":
    main()
