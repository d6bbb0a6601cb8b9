"""Normalizing flow: a neural spline flow from ``zuko`` (``zuko.flows.NSF``), fitted by maximum likelihood.

Trained from scratch at every iteration with Adam on the negative log-likelihood. The data are
standardised first (the flow learns the standardised distribution; samples are mapped back), which
keeps the spline's default domain [-5, 5] adequate for any truth. Torch's random numbers (weight
initialisation, sampling) come from ``torch.manual_seed`` with a seed drawn from the
estimator's ``random_state`` Generator, inside ``torch.random.fork_rng`` so the global torch stream
is left untouched; mini-batch shuffles use the Generator itself. One seed determines every number.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator

from recursive_lib._validation import check_int
from recursive_lib.estimators.gmm import as_points
from recursive_lib.estimators.quantile import _generator, device, torch_threads


class Flow(BaseEstimator):
    """Neural spline flow ``zuko.flows.NSF(features=d, transforms, hidden_features)``.

    Parameters
    ----------
    transforms : number of spline coupling (autoregressive) transforms
    hidden : hidden widths of each transform's conditioner network
    bins : spline bins
    steps, batch_size, lr : Adam on the negative log-likelihood, ``steps`` mini-batches of
        ``batch_size`` points walked through reshuffled passes over the data (a fixed number of
        steps rather than epochs, so small early pools are still fitted)
    n_eval : samples drawn after training for ``cdf`` (1-D), ``mean_`` and ``var_``
    random_state : ``None``, int or ``numpy`` Generator

    Attributes (after ``fit``): ``flow_`` (the zuko flow), ``loc_``, ``scale_`` (standardisation),
    ``dim_``, ``eval_`` (``(n_eval, d)`` samples), ``mean_``, ``var_`` (as :class:`GMM`).
    """

    def __init__(self, transforms: int = 3, hidden=(32, 32), bins: int = 8, steps: int = 300,
                 batch_size: int = 256, lr: float = 3e-3, n_eval: int = 5_000, random_state=None):
        self.transforms = transforms
        self.hidden = hidden
        self.bins = bins
        self.steps = steps
        self.batch_size = batch_size
        self.lr = lr
        self.n_eval = n_eval
        self.random_state = random_state

    def fit(self, x, weights=None):
        """Fit on ``x`` of shape ``(M,)`` or ``(M, d)``; importance ``weights`` are not supported."""
        if weights is not None:
            raise ValueError("weights are not supported by the flow estimator (pass weights=None)")
        import torch
        import zuko

        x = as_points(x)
        steps = check_int("steps", self.steps, 1)
        batch = check_int("batch_size", self.batch_size, 1)
        rng = _generator(self.random_state)
        self.dim_ = x.shape[1]
        self.loc_, self.scale_ = x.mean(0), x.std(0) + 1e-12
        dev = device()
        data = torch.tensor((x - self.loc_) / self.scale_, dtype=torch.float32, device=dev)
        self._seed_ = int(rng.integers(2**63))
        with torch.random.fork_rng(devices=[]), torch_threads():
            torch.manual_seed(self._seed_)
            self.flow_ = zuko.flows.NSF(features=self.dim_, transforms=check_int("transforms", self.transforms, 1),
                                        hidden_features=tuple(self.hidden), bins=self.bins).to(dev)
            opt = torch.optim.Adam(self.flow_.parameters(), lr=self.lr)
            passes = -(-steps * batch // len(data))
            order = torch.tensor(np.concatenate([rng.permutation(len(data)) for _ in range(passes)]),
                                 device=dev)
            for step in range(steps):
                loss = -self.flow_().log_prob(data[order[step * batch:(step + 1) * batch]]).mean()
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
        self.eval_ = self._draw(check_int("n_eval", self.n_eval, 1), rng)
        if self.dim_ == 1:
            self._sorted_ = np.sort(self.eval_[:, 0])
        return self

    def _draw(self, n: int, rng: np.random.Generator) -> np.ndarray:
        import torch

        with torch.random.fork_rng(devices=[]), torch.no_grad(), torch_threads():
            torch.manual_seed(int(rng.integers(2**63)))
            z = self.flow_().sample((n,)).cpu().numpy().astype(float)
        return z * self.scale_ + self.loc_

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``(n,)`` draws in 1-D, ``(n, d)`` otherwise; torch is seeded from ``rng``."""
        out = self._draw(check_int("n", n, 0), rng)
        return out[:, 0] if self.dim_ == 1 else out

    def cdf(self, grid) -> np.ndarray:
        """Empirical cdf of the ``n_eval`` evaluation samples (1-D fits only)."""
        if self.dim_ != 1:
            raise ValueError("cdf exists for 1-D fits only")
        return np.searchsorted(self._sorted_, np.asarray(grid, dtype=float), side="right") / self._sorted_.size

    @property
    def mean_(self) -> float:
        return float(self.eval_[:, 0].mean())

    @property
    def var_(self) -> float:
        return float(self.eval_.var(0).sum())
