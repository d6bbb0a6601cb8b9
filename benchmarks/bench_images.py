"""Benchmark: what one iteration of the image experiment costs on this machine.

Times the three parts of an iteration of :func:`recursive_lib.experiments.images.run_images` at the book
preset's sizes (8x8 digits, 300 images per iteration): training the DDPM (``epochs`` passes in
mini-batches of 100), sampling the synthetic part of the batch, and one evaluation (sampling
``n_eval`` images, Frechet distance, classifier). Multiply by the iterations and runs of a preset to
budget it. Figures are indicative (shared cores); a GPU, when present, is used.

    python benchmarks/bench_images.py            # book sizes (about a minute)
    python benchmarks/bench_images.py --small    # CI size (seconds)
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from recursive_lib.continual.diffusion import DDPM
from recursive_lib.data.digits import load_images
from recursive_lib.experiments import images


def measure(m_total: int, epochs: int, diffusion_steps: int, width: int, n_eval: int, repeat: int) -> None:
    data = load_images("digits", 500)
    judge = images.digit_classifier("digits", 500)
    rng = np.random.default_rng(0)
    model = DDPM(diffusion_steps=diffusion_steps, width=width, epochs=epochs, lr=1e-3, ema=0.99)
    batch = data.train[:m_total]
    model.partial_fit(batch, rng)  # warm-up and initialisation
    timings = {"train": [], "sample": [], "evaluate": []}
    for _ in range(repeat):
        t0 = time.perf_counter()
        model.partial_fit(batch, rng)
        t1 = time.perf_counter()
        model.sample(m_total, rng)
        t2 = time.perf_counter()
        images.image_metrics(model.sample(n_eval, rng), data, judge)
        t3 = time.perf_counter()
        for key, value in zip(timings, (t1 - t0, t2 - t1, t3 - t2), strict=True):
            timings[key].append(value)
    per = {k: float(np.median(v)) for k, v in timings.items()}
    steps = epochs * -(-m_total // 100)
    print(
        f"[DDPM iteration] m_total={m_total} epochs={epochs} ({steps} optimizer steps) "
        f"diffusion_steps={diffusion_steps} width={width}: train {per['train']:.3f} s "
        f"({1e3 * per['train'] / steps:.2f} ms/step), sample {m_total} images {per['sample']:.3f} s, "
        f"evaluate on {n_eval} images {per['evaluate']:.3f} s (medians of {repeat})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="CI size (seconds)")
    args = parser.parse_args()
    if args.small:
        measure(m_total=100, epochs=2, diffusion_steps=20, width=32, n_eval=100, repeat=2)
        return
    measure(m_total=300, epochs=20, diffusion_steps=100, width=128, n_eval=500, repeat=5)
    measure(m_total=300, epochs=100, diffusion_steps=400, width=128, n_eval=500, repeat=2)


if __name__ == "__main__":
    main()
