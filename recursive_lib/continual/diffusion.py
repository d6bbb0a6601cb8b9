"""A small denoising diffusion model (DDPM) that keeps training: the paper's image experiment.

Ho et al. (2020) with the cosine noise schedule of Nichol and Dhariwal (2021). An image ``x0`` in
``[-1, 1]`` is noised in ``K`` steps (``diffusion_steps``; the paper uses 400),
``x_k = sqrt(abar_k) x0 + sqrt(1 - abar_k) eps``, ``abar_k = f(k) / f(0)``,
``f(k) = cos^2(pi/2 (k/K + s) / (1 + s))``, ``s = 0.008``; a network ``eps_theta(x_k, k)`` learns to
predict the noise ``eps`` (mean squared error, Adam). Sampling is ancestral: start from
``x_K ~ N(0, I)`` and step back through the Gaussian posterior ``q(x_{k-1} | x_k, x0_hat)``, with the
predicted ``x0_hat`` clipped to ``[-1, 1]`` (the "clip_denoised" choice of the DDPM reference code).

The network (``network``). The paper uses a small U-Net on 28x28 MNIST: ``"unet"`` is
``diffusers.UNet2DModel`` (:class:`UNetDenoiser`; three resolution levels of ``width``,
``2 width``, ``2 width`` channels, one residual block per level, no attention; the optional
``[hf]`` extra). For the 8x8 digits that run on a CPU the default ``"mlp"``, a residual
multilayer perceptron on the flattened image (64 numbers) with a sinusoidal embedding of the step
(:class:`Denoiser`), is the cheaper choice: a 3x3 convolution sees most of an 8x8 image anyway,
and an MLP step costs a few milliseconds. It works for any image side (it flattens), MNIST
included, only less well than a U-Net there. Both take ``(B, pixels)`` and ``t`` in ``(0, 1]``,
so the training and sampling code is one.

Continual training, as in the paper's fresh regime (:func:`recursive_lib.loops.continual.run_fresh`):
:meth:`DDPM.partial_fit` trains ``epochs`` passes over the batch it is given, in mini-batches of
``batch_size``, and keeps the weights and the Adam state from one call to the next. The weights are
initialised at the first call, from its ``rng``, so that one seed determines every number.
"""

from __future__ import annotations

import copy
import math
from typing import cast

import numpy as np
import torch
from torch import nn

from recursive_lib._hf import require_diffusers
from recursive_lib._torch import placement, torch_generator, torch_threads
from recursive_lib._validation import check_choice, check_int, check_range

__all__ = ["DDPM", "Denoiser", "NETWORKS", "UNetDenoiser", "cosine_schedule"]

#: the denoising networks :class:`DDPM` offers
NETWORKS = ("mlp", "unet")


def cosine_schedule(steps: int, s: float = 0.008, max_beta: float = 0.999) -> np.ndarray:
    """``(steps,)`` noise levels ``beta_k`` of the cosine schedule (``abar_k = prod (1 - beta)``).

    ``beta_k = 1 - f(k + 1) / f(k)``, clipped at ``max_beta`` so that the last step stays finite.
    """
    steps = check_int("steps", steps, 1)
    k = np.arange(steps + 1, dtype=float)
    f = np.cos((k / steps + s) / (1 + s) * math.pi / 2) ** 2
    return np.clip(1.0 - f[1:] / f[:-1], 0.0, max_beta)


class _Block(nn.Module):
    """``h + W_out silu(W_in LayerNorm(h) + W_t emb)``."""

    def __init__(self, width: int):
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.inner = nn.Linear(width, width)
        self.time = nn.Linear(width, width)
        self.outer = nn.Linear(width, width)

    def forward(self, h, emb):
        return h + self.outer(nn.functional.silu(self.inner(self.norm(h)) + self.time(emb)))

    def step(self, h, term):
        """The block with its step term ``W_t emb`` given (``(B, width)``, or ``(1, width)`` for
        one step shared by every row)."""
        return h + self.outer(nn.functional.silu(self.inner(self.norm(h)) + term))


class Denoiser(nn.Module):
    """Residual MLP ``eps_theta(x, t)``: ``x`` ``(B, dim)``, ``t`` ``(B,)`` in ``(0, 1]`` -> ``(B, dim)``."""

    def __init__(self, dim: int, width: int, depth: int):
        super().__init__()
        half = max(width // 2, 1)
        self.register_buffer("frequencies", torch.exp(torch.linspace(0.0, math.log(1000.0), half)))
        self.embed = nn.Sequential(nn.Linear(2 * half, width), nn.SiLU(), nn.Linear(width, width))
        self.inp = nn.Linear(dim, width)
        self.blocks = nn.ModuleList(_Block(width) for _ in range(depth))
        self.out = nn.Sequential(nn.LayerNorm(width), nn.SiLU(), nn.Linear(width, dim))

    def forward(self, x, t):
        emb = self._embed(t)
        h = self.inp(x)
        for block in self.blocks:
            h = block(h, emb)
        return self.out(h)

    def _embed(self, t):
        angles = t[:, None] * self.frequencies[None, :]
        return self.embed(torch.cat([torch.sin(angles), torch.cos(angles)], dim=1))

    def step_terms(self, t) -> list:
        """What the network computes from the step alone: for ``t`` ``(B,)``, one ``(B, width)``
        term per block. Sampling takes them once for all ``K`` steps (they do not depend on ``x``)."""
        emb = self._embed(t)
        return [cast(_Block, block).time(emb) for block in self.blocks]

    def denoise(self, x, terms: list):
        """``eps_theta`` of ``x`` ``(B, dim)`` given the :meth:`step_terms` (rows ``(B, width)`` or
        one row ``(1, width)`` shared by all)."""
        h = self.inp(x)
        for block, term in zip(self.blocks, terms, strict=True):
            h = cast(_Block, block).step(h, term)
        return self.out(h)


class UNetDenoiser(nn.Module):
    """``diffusers.UNet2DModel`` as ``eps_theta(x, t)``: ``x`` ``(B, side * side)``, ``t`` ``(B,)`` in
    ``(0, 1]`` -> ``(B, side * side)``.

    One channel; three levels of ``width``, ``2 width``, ``2 width`` channels (``width`` a multiple
    of 8, the group-norm size), ``layers`` residual blocks per level, two down-samplings. The image
    is zero-padded to a multiple of 4 pixels (28 is one; 7 becomes 8) and the output cropped back.
    The step enters as ``1000 t``, the usual sinusoidal time embedding's scale.
    """

    def __init__(self, side: int, width: int, layers: int = 1):
        super().__init__()
        diffusers = require_diffusers()
        self.side, self.padded = side, -(-side // 4) * 4
        channels = (width, 2 * width, 2 * width)
        self.unet = diffusers.UNet2DModel(
            sample_size=self.padded,
            in_channels=1,
            out_channels=1,
            layers_per_block=layers,
            block_out_channels=channels,
            norm_num_groups=8,
            down_block_types=("DownBlock2D",) * 3,
            up_block_types=("UpBlock2D",) * 3,
        )

    def forward(self, x, t):
        B, pad = len(x), self.padded - self.side
        image = nn.functional.pad(x.reshape(B, 1, self.side, self.side), (0, pad, 0, pad))
        out = self.unet(image, 1000.0 * t).sample[:, :, : self.side, : self.side]
        return out.reshape(B, -1)


class DDPM:
    """Denoising diffusion model for images in ``[-1, 1]``, trained continually (module docstring).

    Parameters
    ----------
    diffusion_steps
        Number ``K`` of noise levels, for training and sampling (paper 400).
    network
        ``"mlp"`` (:class:`Denoiser`, the default) or ``"unet"`` (:class:`UNetDenoiser`, square
        images only; needs ``diffusers``).
    width
        Width of the residual MLP (hidden units per layer), or the U-Net's channels at full
        resolution (a multiple of 8).
    depth
        Number of residual blocks of the MLP, or of the U-Net per resolution level.
    epochs
        Passes over the batch at every :meth:`partial_fit` call (paper 100).
    batch_size
        Mini-batch size (paper 100).
    lr
        Adam learning rate (paper 2e-4).
    ema
        Decay of an exponential moving average of the weights used for sampling (0: sample
        with the trained weights themselves). Averaging smooths out the noise of the last
        optimizer steps, a standard DDPM device; the paper does not say whether it used one.
    sample_chunk
        Images denoised at once when sampling (bounds memory, not results).

    Attributes
    ----------
    shape_
        The image shape (set by the first :meth:`partial_fit`, as are the attributes below).
    net_
        The denoising network.
    optimizer_
        Its Adam optimizer.
    ema_net_
        The averaged network, or ``None`` when ``ema`` is 0.
    n_updates_
        Optimizer steps so far.
    """

    def __init__(
        self,
        diffusion_steps: int = 400,
        width: int = 256,
        depth: int = 3,
        epochs: int = 100,
        batch_size: int = 100,
        lr: float = 2e-4,
        ema: float = 0.0,
        sample_chunk: int = 1000,
        network: str = "mlp",
    ):
        self.diffusion_steps = check_int("diffusion_steps", diffusion_steps, 2)
        self.network = check_choice("network", network, NETWORKS)
        self.width = check_int("width", width, 2)
        self.depth = check_int("depth", depth, 0 if network == "mlp" else 1)
        if network == "unet" and width % 8:
            raise ValueError(
                f"width must be a multiple of 8 for network='unet' (its group norm has 8 groups), got {width}"
            )
        self.epochs = check_int("epochs", epochs, 1)
        self.batch_size = check_int("batch_size", batch_size, 1)
        self.lr = check_range("lr", lr, 0.0, 1.0, low_inclusive=False)
        self.ema = check_range("ema", ema, 0.0, 1.0, high_inclusive=False)
        self.sample_chunk = check_int("sample_chunk", sample_chunk, 1)
        betas = cosine_schedule(self.diffusion_steps)
        self._betas = betas
        self._abar = np.cumprod(1.0 - betas)

    # -- set-up ---------------------------------------------------------------------------------

    def _init(self, shape: tuple[int, ...], rng: np.random.Generator) -> None:
        self.shape_ = tuple(int(s) for s in shape)
        dim = int(np.prod(self.shape_))
        if self.network == "unet" and (len(self.shape_) != 2 or self.shape_[0] != self.shape_[1]):
            raise ValueError(
                f"network='unet' needs square images (B, side, side), got images of shape {self.shape_}"
            )
        place = placement()
        # Initial weights from rng, without touching torch's global generator.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(rng.integers(2**63 - 1)))
            net = (
                Denoiser(dim, self.width, self.depth)
                if self.network == "mlp"
                else UNetDenoiser(self.shape_[0], self.width, self.depth)
            )
            self.net_ = place.module(net)
        # foreach: one kernel call per operation over all the parameters instead of a Python loop
        # over them (the same arithmetic, the same numbers)
        self.optimizer_ = torch.optim.Adam(self.net_.parameters(), lr=self.lr, foreach=True)
        self.ema_net_ = copy.deepcopy(self.net_) if self.ema > 0 else None
        self.n_updates_ = 0

    def _schedule(self, dev, dtype):
        return (
            torch.tensor(self._abar, dtype=dtype, device=dev),
            torch.tensor(self._betas, dtype=dtype, device=dev),
        )

    # -- training -------------------------------------------------------------------------------

    def partial_fit(self, batch: np.ndarray, rng: np.random.Generator) -> float:
        """Train ``epochs`` more passes over ``batch`` ``(B, *shape)`` in ``[-1, 1]``; mean loss.

        The loss is the mean squared error of the predicted noise, averaged over the last epoch.
        """
        batch = np.asarray(batch, dtype=np.float32)
        if batch.ndim < 2 or len(batch) == 0:
            raise ValueError(f"batch must be an array (B, ...) of B >= 1 images, got shape {batch.shape}")
        if not hasattr(self, "net_"):
            self._init(batch.shape[1:], rng)
        elif tuple(batch.shape[1:]) != self.shape_:
            raise ValueError(
                f"batch must hold images of shape {self.shape_} (the shape the model was "
                f"first trained on), got {tuple(batch.shape[1:])}"
            )
        first = next(self.net_.parameters())
        dev = first.device
        gen = torch_generator(rng, dev)
        x = torch.tensor(batch.reshape(len(batch), -1), dtype=first.dtype, device=dev)
        abar, _ = self._schedule(dev, first.dtype)
        K = self.diffusion_steps
        self.net_.train()
        if self.ema_net_ is not None:
            averaged, current = list(self.ema_net_.parameters()), list(self.net_.parameters())
        with torch_threads():
            for _ in range(self.epochs):
                order = torch.randperm(len(x), generator=gen, device=dev)
                total, count = 0.0, 0
                for start in range(0, len(x), self.batch_size):
                    x0 = x[order[start : start + self.batch_size]]
                    k = torch.randint(0, K, (len(x0),), generator=gen, device=dev)
                    eps = torch.randn(x0.shape, generator=gen, dtype=x0.dtype, device=dev)
                    a = abar[k][:, None]
                    xk = a.sqrt() * x0 + (1 - a).sqrt() * eps
                    loss = torch.mean((self.net_(xk, (k.to(x0.dtype) + 1) / K) - eps) ** 2)
                    self.optimizer_.zero_grad(set_to_none=True)
                    loss.backward()
                    self.optimizer_.step()
                    if self.ema_net_ is not None:
                        with torch.no_grad():  # avg.lerp_(cur, 1 - ema) for every parameter at once
                            torch._foreach_lerp_(averaged, current, 1.0 - self.ema)
                    self.n_updates_ += 1
                    total += float(loss.detach()) * len(x0)
                    count += len(x0)
        return total / count

    # -- checkpoints ----------------------------------------------------------------------------

    def get_state(self) -> dict:
        """What training has changed, as data (tensors and numbers): the image shape, the network's,
        the averaged network's and Adam's state dicts, the step count; ``{}`` before training."""
        if not hasattr(self, "net_"):
            return {}
        return dict(
            shape=list(self.shape_),
            net=self.net_.state_dict(),
            ema_net=None if self.ema_net_ is None else self.ema_net_.state_dict(),
            optimizer=self.optimizer_.state_dict(),
            n_updates=self.n_updates_,
        )

    def set_state(self, state: dict) -> DDPM:
        """Take back what :meth:`get_state` returned (on a model built with the same arguments)."""
        if state:
            # the initial weights drawn here are overwritten at once: any generator does
            self._init(tuple(state["shape"]), np.random.default_rng(0))
            self.net_.load_state_dict(state["net"])
            if self.ema_net_ is not None:
                self.ema_net_.load_state_dict(state["ema_net"])
            self.optimizer_.load_state_dict(state["optimizer"])
            self.n_updates_ = int(state["n_updates"])
        return self

    # -- sampling -------------------------------------------------------------------------------

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``(n, *shape)`` images in ``[-1, 1]`` by ancestral sampling through all ``K`` steps."""
        n = check_int("n", n, 0)
        if not hasattr(self, "net_"):
            raise ValueError("the model must be trained (partial_fit) before it can sample")
        first = next(self.net_.parameters())
        dev, dtype = first.device, first.dtype
        gen = torch_generator(rng, dev)
        abar, betas = self._schedule(dev, dtype)
        abar_prev = torch.cat([torch.ones(1, dtype=dtype, device=dev), abar[:-1]])
        # Posterior q(x_{k-1} | x_k, x0): mean = c0 x0 + ck x_k, variance var.
        c0 = abar_prev.sqrt() * betas / (1 - abar)
        ck = (1 - betas).sqrt() * (1 - abar_prev) / (1 - abar)
        var = betas * (1 - abar_prev) / (1 - abar)
        # the per-step scalars, each computed once (elementwise, so the same values as step by step)
        noise_sd, signal_sd, step_sd = (1 - abar).sqrt(), abar.sqrt(), var.sqrt()
        K, dim = self.diffusion_steps, int(np.prod(self.shape_))
        net = self.net_ if self.ema_net_ is None else self.ema_net_
        net.eval()
        out = []
        with torch.inference_mode(), torch_threads():
            # The MLP's step terms depend on the step only: once for all K steps, not once per image
            # and step. (The U-Net takes the step as it is.)
            steps = torch.tensor([(k + 1) / K for k in range(K)], dtype=dtype, device=dev)
            terms = net.step_terms(steps) if isinstance(net, Denoiser) else None
            for start in range(0, n, self.sample_chunk):
                m = min(self.sample_chunk, n - start)
                x = torch.randn((m, dim), generator=gen, dtype=dtype, device=dev)
                for k in range(K - 1, -1, -1):
                    if terms is None:
                        eps = net(x, steps[k].expand(m))
                    else:
                        eps = net.denoise(x, [term[k : k + 1] for term in terms])
                    x0 = ((x - noise_sd[k] * eps) / signal_sd[k]).clamp(-1, 1)
                    x = c0[k] * x0 + ck[k] * x
                    if k > 0:
                        x = x + step_sd[k] * torch.randn((m, dim), generator=gen, dtype=dtype, device=dev)
                out.append(x.clamp(-1, 1).cpu().numpy())
        images = np.concatenate(out) if out else np.zeros((0, dim), dtype=np.float32)
        return images.reshape((n, *self.shape_))
