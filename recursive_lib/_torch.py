"""Torch in one place: the device, the number of threads, and generators seeded from numpy.

Torch is imported inside the functions, so importing this module costs nothing. Every model of the
package (quantile sampler, flow, DDPM, character GRU, GPT-2) takes its device and floating-point
type from :func:`placement`,
runs its arithmetic inside :func:`torch_threads` and draws its random numbers from a
:func:`torch_generator` seeded from the repetition's numpy Generator: one seed determines every
number on the CPU. On CUDA (used when present, never required; README, "Determinism on a GPU")
some kernels are non-deterministic.
"""

from __future__ import annotations

import contextlib
import os
from typing import Any, NamedTuple

#: torch intra-op threads while training or sampling (environment RECURSIVE_TORCH_THREADS, default 1):
#: the networks are small, so splitting one matrix product over threads costs more in
#: synchronisation than it saves, and much more when other processes share the cores.
TORCH_THREADS = int(os.environ.get("RECURSIVE_TORCH_THREADS", "1"))


#: floating-point type of every model and float tensor of the package, on every device: float32
#: (no mixed precision, no TF32 matmuls, so a CUDA run computes in the precision a CPU run does)
DTYPE = "float32"


class Placement(NamedTuple):
    """Where and in what precision the package computes: ``device`` (``torch.device``) and
    ``dtype`` (``torch.dtype`` of floating tensors). Every model and tensor goes through it."""

    device: Any
    dtype: Any

    def module(self, module):
        """``module`` moved to the device, its floating parameters and buffers cast to ``dtype``."""
        return module.to(device=self.device, dtype=self.dtype)

    def tensor(self, values, integer: bool = False):
        """A new tensor (a copy) of ``values`` (array-like or tensor) on the device, of ``dtype``
        or, with ``integer``, int64."""
        import numpy as np
        import torch

        dtype = torch.long if integer else self.dtype
        if isinstance(values, torch.Tensor):
            return values.detach().to(device=self.device, dtype=dtype, copy=True)
        return torch.tensor(np.asarray(values), dtype=dtype, device=self.device)


def placement() -> Placement:
    """The :class:`Placement` of every computation: CUDA when present, else CPU, in float32.

    The environment variable ``RECURSIVE_DEVICE`` overrides the device (``cpu``, ``cuda``,
    ``cuda:1``, ``mps``...). The same code runs on every device: no branch depends on which one.
    """
    import torch

    forced = os.environ.get("RECURSIVE_DEVICE", "").strip()
    if forced:
        try:
            dev = torch.device(forced)
        except RuntimeError as err:
            raise ValueError(
                f"RECURSIVE_DEVICE must name a torch device (cpu, cuda, cuda:0, mps), got {forced!r}"
            ) from err
    else:
        dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if dev.type == "cuda":
        # cuBLAS's TF32 path would change results by about 1e-3 relative: keep float32 arithmetic
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    return Placement(dev, getattr(torch, DTYPE))


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


@contextlib.contextmanager
def seeded(rng):
    """Run the block with torch's global generators (the CPU's and every CUDA device's) seeded from
    one draw of the numpy Generator ``rng``, then restore them: for what draws from them
    (dropout, a network's initial weights), so that one seed determines every number."""
    import torch

    with torch.random.fork_rng(devices=list(range(torch.cuda.device_count()))):
        torch.manual_seed(int(rng.integers(2**63 - 1)))
        yield


def shuffled_batches(n: int, batch_size: int, rng, device: Any = "cpu"):
    """One epoch's mini-batches: index tensors of ``batch_size`` (the last smaller) cut from one
    permutation of ``range(n)`` drawn from the numpy Generator ``rng``."""
    import torch

    order = torch.as_tensor(rng.permutation(n), device=device)
    for start in range(0, n, batch_size):
        yield order[start : start + batch_size]
