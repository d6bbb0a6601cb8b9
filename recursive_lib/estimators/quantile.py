"""Neural quantile sampler (the paper's Sim 2): an MLP ``u ~ U(0, 1) -> x`` trained with a W1 loss.

The network ``G`` maps a uniform draw to a sample. Training minimises, per mini-batch of ``B``
data points, the Wasserstein-1 distance between the batch and ``B`` model samples, which in one
dimension is the mean absolute difference of the two sorted samples:
``loss = mean_i |sort(G(u))_i - sort(x_batch)_i|``. Trained from scratch at every iteration.

Ensembles. :func:`train_ensemble` trains ``R`` independent networks at once, one per repetition,
with stacked weight tensors of shape ``(R, fan_in, fan_out)`` and ``torch.bmm``: one optimizer step
updates every repetition (the parameters of different repetitions never mix, so this is ``R``
independent AdamW runs). :class:`QuantileSampler` is the same code with ``R = 1``.

Randomness. Every random number (initial weights, shuffles, the uniforms ``u``) is drawn from the
repetition's own ``numpy`` Generator and copied to torch, so one seed determines every number, and
repetition ``r`` of an ensemble sees exactly the numbers a lone network with the same Generator
sees: batched and sequential training differ only by floating-point rounding.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np
from sklearn.base import BaseEstimator

from recursive_lib._rng import as_generator
from recursive_lib._torch import placement, torch_threads
from recursive_lib._validation import check_int, check_range


def init_params(rngs: Sequence[np.random.Generator], hidden=(64, 64, 64), place=None) -> list:
    """Stacked weights ``[W1, b1, ..., WL, bL]``, ``W`` of shape ``(R, fan_in, fan_out)``, ``b`` ``(R, 1, fan_out)``.

    Uniform ``(-1/sqrt(fan_in), 1/sqrt(fan_in))`` like ``torch.nn.Linear``, drawn from each
    repetition's Generator in the order W1, b1, W2, ... On ``place`` (default
    :func:`recursive_lib._torch.placement`).
    """

    sizes = [1, *hidden, 1]
    per_rep = []
    for rng in rngs:
        tensors = []
        for fan_in, fan_out in itertools.pairwise(sizes):
            bound = 1.0 / math.sqrt(fan_in)
            tensors.append(rng.uniform(-bound, bound, (fan_in, fan_out)))
            tensors.append(rng.uniform(-bound, bound, (1, fan_out)))
        per_rep.append(tensors)
    place = place or placement()
    return [
        place.tensor(np.stack([rep[k] for rep in per_rep])).requires_grad_(True)
        for k in range(len(per_rep[0]))
    ]


def forward(params: list, u, negative_slope: float = 0.02):
    """``G(u)``: ``u`` of shape ``(R, B)`` -> samples ``(R, B)``."""
    import torch

    h = u.unsqueeze(-1)
    last = len(params) // 2 - 1
    for k in range(0, len(params), 2):
        h = torch.baddbmm(params[k + 1], h, params[k])
        if k // 2 < last:
            h = torch.nn.functional.leaky_relu(h, negative_slope)
    return h.squeeze(-1)


def train_ensemble(
    x: np.ndarray,
    rngs: Sequence[np.random.Generator],
    hidden=(64, 64, 64),
    negative_slope: float = 0.02,
    lr: float = 5e-4,
    weight_decay: float = 1e-3,
    epochs: int = 25,
    batch_size: int = 4096,
    init: list | None = None,
) -> list:
    """Train ``R`` quantile networks, network ``r`` on ``x[r]``; ``x`` of shape ``(R, M)``.

    Per epoch each repetition shuffles its data (its Generator) and walks it in batches of
    ``batch_size`` (the last batch smaller); per batch it draws ``B`` uniforms. Training starts
    from ``init`` (stacked parameters of an earlier call: the networks keep training) or, if
    ``None``, from fresh weights. Returns the trained stacked parameters (see :func:`init_params`).
    """
    with torch_threads():
        return _train(
            np.asarray(x, dtype=float),
            rngs,
            hidden,
            negative_slope,
            lr,
            weight_decay,
            epochs,
            batch_size,
            init,
        )


def _train(x, rngs, hidden, negative_slope, lr, weight_decay, epochs, batch_size, init=None):
    import torch

    R, M = x.shape
    place = placement()
    params = (
        init_params(rngs, hidden, place)
        if init is None
        else [place.tensor(p).requires_grad_(True) for p in init]
    )
    # foreach: the same arithmetic as the per-parameter loop, one call per operation
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay, foreach=True)
    data = place.tensor(x)
    for _ in range(epochs):
        order = place.tensor(np.stack([rng.permutation(M) for rng in rngs]), integer=True)
        shuffled = torch.gather(data, 1, order)
        for start in range(0, M, batch_size):
            batch = shuffled[:, start : start + batch_size]
            u = place.tensor(np.stack([rng.random(batch.shape[1]) for rng in rngs]))
            fake = torch.sort(forward(params, u, negative_slope), dim=1).values
            real = torch.sort(batch, dim=1).values
            # mean over the batch, summed over repetitions: each network sees its own gradient
            loss = (fake - real).abs().mean(dim=1).sum()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return [p.detach() for p in params]


def sample_ensemble(
    params: list,
    n: int,
    rngs: Sequence[np.random.Generator],
    negative_slope: float = 0.02,
    chunk: int = 50_000,
) -> np.ndarray:
    """``(R, n)`` samples, ``n`` from each network, uniforms from each repetition's Generator."""
    import torch

    u = np.stack([rng.random(n) for rng in rngs])
    out = np.empty_like(u)
    with torch.no_grad(), torch_threads():
        for start in range(0, n, chunk):
            part = torch.as_tensor(
                u[:, start : start + chunk], dtype=params[0].dtype, device=params[0].device
            )
            out[:, start : start + chunk] = forward(params, part, negative_slope).cpu().numpy()
    return out


class QuantileSampler(BaseEstimator):
    """The paper's neural quantile sampler, one network (``R = 1`` of :func:`train_ensemble`).

    Parameters
    ----------
    hidden
        Widths of the hidden layers (paper: (64, 64, 64))
    negative_slope
        LeakyReLU slope (paper: 0.02)
    lr, weight_decay
        AdamW (paper: 5e-4, 1e-3)
    epochs, batch_size
        Passes over the training set and mini-batch size (paper: 25, 4096)
    n_eval
        Model samples drawn after training to evaluate ``cdf``, ``mean_``, ``var_`` (paper: 200 000)
    warm_start
        If true, ``fit`` continues from the weights of the previous ``fit`` (as
        scikit-learn's ``warm_start``): the network keeps training, as in the ``fresh`` regime
    random_state
        ``None``, an int, or a ``numpy`` Generator (used as is, so the caller's stream
        advances; the loops pass each repetition's Generator)

    Attributes
    ----------
    params_
        Stacked torch tensors of the network (set by ``fit``, as are the others).
    eval_
        Sorted ``(n_eval,)`` model samples.
    mean_
        Mean of ``eval_``.
    var_
        Variance of ``eval_``.
    """

    def __init__(
        self,
        hidden=(64, 64, 64),
        negative_slope: float = 0.02,
        lr: float = 5e-4,
        weight_decay: float = 1e-3,
        epochs: int = 25,
        batch_size: int = 4096,
        n_eval: int = 200_000,
        warm_start: bool = False,
        random_state=None,
    ):
        self.hidden = hidden
        self.negative_slope = negative_slope
        self.lr = lr
        self.weight_decay = weight_decay
        self.epochs = epochs
        self.batch_size = batch_size
        self.n_eval = n_eval
        self.warm_start = warm_start
        self.random_state = random_state

    def fit(self, x, weights=None):
        """Train on ``x`` of shape ``(M,)``, from scratch unless ``warm_start``; importance
        ``weights`` are not supported."""
        if weights is not None:
            raise ValueError("weights are not supported by the quantile sampler (pass weights=None)")
        x = np.asarray(x, dtype=float)
        if x.ndim != 1 or x.size == 0 or not np.all(np.isfinite(x)):
            raise ValueError(f"x must be a non-empty finite 1-D array, got shape {x.shape}")
        check_int("epochs", self.epochs, 1)
        check_int("batch_size", self.batch_size, 1)
        check_int("n_eval", self.n_eval, 1)
        check_range("lr", self.lr, 0.0, math.inf, low_inclusive=False)
        rng = as_generator(self.random_state)
        init = self.params_ if self.warm_start and hasattr(self, "params_") else None
        self.params_ = train_ensemble(
            x[None],
            [rng],
            self.hidden,
            self.negative_slope,
            self.lr,
            self.weight_decay,
            self.epochs,
            self.batch_size,
            init,
        )
        self.eval_ = np.sort(sample_ensemble(self.params_, self.n_eval, [rng], self.negative_slope)[0])
        return self

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``(n,)`` draws ``G(u)``, ``u ~ U(0, 1)`` from ``rng``."""
        n = check_int("n", n, 0)
        return sample_ensemble(self.params_, n, [rng], self.negative_slope)[0]

    def cdf(self, grid) -> np.ndarray:
        """Empirical cdf of the ``n_eval`` evaluation samples at ``grid`` (same shape)."""
        return np.searchsorted(self.eval_, np.asarray(grid, dtype=float), side="right") / self.eval_.size

    @property
    def mean_(self) -> float:
        return float(self.eval_.mean())

    @property
    def var_(self) -> float:
        return float(self.eval_.var())
