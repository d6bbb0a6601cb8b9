"""Torch in one place: the device, the number of threads, and generators seeded from numpy.

Torch is imported inside the functions, so importing this module costs nothing. Every model of the
package (quantile sampler, flow, DDPM, character GRU, GPT-2) takes its device from :func:`device`,
runs its arithmetic inside :func:`torch_threads` and draws its random numbers from a
:func:`torch_generator` seeded from the repetition's numpy Generator: one seed determines every
number on the CPU. On CUDA (used when present, never required) kernels may be non-deterministic.
"""

from __future__ import annotations

import contextlib
import os
from typing import Any

#: torch intra-op threads while training or sampling (environment RECURSIVE_TORCH_THREADS, default 1):
#: the networks are small, so splitting one matrix product over threads costs more in
#: synchronisation than it saves, and much more when other processes share the cores.
TORCH_THREADS = int(os.environ.get("RECURSIVE_TORCH_THREADS", "1"))


def device():
    """``torch.device``: CUDA when present, else CPU (environment ``RECURSIVE_DEVICE`` overrides)."""
    import torch

    forced = os.environ.get("RECURSIVE_DEVICE")
    if forced:
        return torch.device(forced)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


@contextlib.contextmanager
def torch_threads(n: int | None = None):
    """Run the block with ``n`` torch threads (default :data:`TORCH_THREADS`), then restore."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n or TORCH_THREADS)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def torch_generator(rng, device: Any = "cpu"):
    """A ``torch.Generator`` on ``device`` seeded from the numpy Generator ``rng`` (one draw of it)."""
    import torch

    generator = torch.Generator(device=device)
    generator.manual_seed(int(rng.integers(2**63 - 1)))
    return generator


def shuffled_batches(n: int, batch_size: int, rng, device: Any = "cpu"):
    """One epoch's mini-batches: index tensors of ``batch_size`` (the last smaller) cut from one
    permutation of ``range(n)`` drawn from the numpy Generator ``rng``."""
    import torch

    order = torch.as_tensor(rng.permutation(n), device=device)
    for start in range(0, n, batch_size):
        yield order[start:start + batch_size]
