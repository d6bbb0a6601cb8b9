"""Normalizing flow: a neural spline flow from ``zuko`` (``zuko.flows.NSF``), fitted by maximum likelihood.

Trained from scratch at every iteration with Adam on the negative log-likelihood. The data are
standardised first (the flow learns the standardised distribution; samples are mapped back), which
keeps the spline's default domain [-5, 5] adequate for any truth.

Ensembles. :class:`FlowEnsemble` holds ``R`` independent flows, one per repetition, with their
parameters stacked by ``torch.func.stack_module_state`` and evaluated with ``torch.func.vmap``: one
Adam step updates every repetition (the parameters of different repetitions never mix, so these
are ``R`` independent Adam runs). :class:`Flow` is the same code with ``R = 1``.

Randomness. Each flow's initial weights come from ``torch.manual_seed`` with a seed drawn from its
repetition's Generator (inside ``torch.random.fork_rng``, so the global torch stream is left
untouched); mini-batch shuffles use the Generator itself, and sampling a torch Generator seeded
from it. So one seed determines every number, and repetition ``r`` of an ensemble sees exactly the
numbers a lone flow with the same Generator sees.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Sequence

import numpy as np
from sklearn.base import BaseEstimator

from recursive_lib._rng import as_generator
from recursive_lib._torch import placement, torch_generator, torch_threads
from recursive_lib._validation import check_int, check_range
from recursive_lib.estimators._input import as_points


@functools.cache
def _flow_call_class():
    """The module class whose ``forward`` does the flow's work (what ``functional_call`` needs);
    one class for all (``stack_module_state`` stacks modules of one class), torch imported lazily."""
    import torch

    class FlowCall(torch.nn.Module):
        def __init__(self, flow):
            super().__init__()
            self.flow = flow

        def forward(self, x, inverse: bool = False):
            # ``flow()`` builds the distribution; its transform reads the (swapped-in) parameters.
            dist = self.flow()
            return dist.transform.inv(x) if inverse else dist.log_prob(x)

    return FlowCall


class FlowEnsemble:
    """``R`` neural spline flows on ``d`` features trained together (module docstring).

    ``fit(x, rngs)`` with ``x`` of shape ``(R, M, d)``: flow ``r`` learns ``x[r]`` (standardised
    per repetition) in ``steps`` Adam steps on mini-batches of ``batch_size`` points, walked
    through reshuffled passes over the data. ``fit(x, rngs, warm=True)`` on a fitted ensemble
    keeps training the same flows (same standardisation, a new Adam). ``sample(n, rngs)``:
    ``(R, n, d)``. The hyper-parameters and their defaults are :class:`Flow`'s
    (:meth:`Flow.make_ensemble`).
    """

    # set by fit: the feature count and the per-repetition standardisation, (R, 1, d) each
    dim_: int
    loc_: np.ndarray
    scale_: np.ndarray

    def __init__(self, transforms: int, hidden, bins: int, steps: int, batch_size: int, lr: float):
        self.transforms = check_int("transforms", transforms, 1)
        self.hidden = tuple(int(check_int("hidden", h, 1)) for h in hidden)
        self.bins = check_int("bins", bins, 1)
        self.steps = check_int("steps", steps, 1)
        self.batch_size = check_int("batch_size", batch_size, 1)
        self.lr = check_range("lr", lr, 0.0, np.inf, low_inclusive=False)

    def fit(self, x: np.ndarray, rngs: Sequence[np.random.Generator], warm: bool = False) -> FlowEnsemble:
        import torch
        import zuko
        from torch.func import stack_module_state

        x = np.asarray(x, dtype=float)
        if x.ndim != 3 or x.shape[0] != len(rngs) or x.shape[1] == 0 or not np.all(np.isfinite(x)):
            raise ValueError(
                f"x must be a finite array of shape (R, M, d) with R = len(rngs) = "
                f"{len(rngs)} and M >= 1, got {x.shape}"
            )
        R, M, d = x.shape
        warm = warm and hasattr(self, "params_")
        if warm and (d != self.dim_ or R != len(self.loc_)):
            raise ValueError(
                f"warm fit needs data shaped (R={len(self.loc_)}, M, d={self.dim_}), got {x.shape}"
            )
        place = placement()
        with torch.random.fork_rng(devices=[]), torch_threads():
            if not warm:
                self.dim_ = d
                self.loc_, self.scale_ = x.mean(1, keepdims=True), x.std(1, keepdims=True) + 1e-12
                flows = []
                for seed in [int(rng.integers(2**63)) for rng in rngs]:
                    torch.manual_seed(seed)
                    flows.append(
                        place.module(
                            _flow_call_class()(
                                zuko.flows.NSF(
                                    features=d,
                                    transforms=self.transforms,
                                    hidden_features=self.hidden,
                                    bins=self.bins,
                                )
                            )
                        )
                    )
                self.params_, self.buffers_ = stack_module_state(flows)
                self._module = copy.deepcopy(flows[0]).to("meta")  # structure only, no weights
            for value in self.params_.values():
                value.requires_grad_(True)
            data = place.tensor((x - self.loc_) / self.scale_)
            passes = -(-self.steps * self.batch_size // M)
            order = place.tensor(
                np.stack([np.concatenate([rng.permutation(M) for _ in range(passes)]) for rng in rngs]),
                integer=True,
            )
            # foreach: the same arithmetic as the per-parameter loop, one call per operation
            opt = torch.optim.Adam(list(self.params_.values()), lr=self.lr, foreach=True)
            b = self.batch_size
            for step in range(self.steps):
                idx = order[:, step * b : (step + 1) * b]
                batch = torch.gather(data, 1, idx.unsqueeze(-1).expand(-1, -1, d))
                # mean over the batch, summed over repetitions: each flow sees its own gradient
                loss = -self._call(batch).mean(dim=1).sum()
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
        for value in self.params_.values():
            value.requires_grad_(False)
        return self

    def _call(self, x, inverse: bool = False):
        from torch.func import functional_call, vmap

        def one(params, buffers, xr):
            return functional_call(self._module, (params, buffers), (xr,), {"inverse": inverse})

        return vmap(one)(self.params_, self.buffers_, x)

    def sample(self, n: int, rngs: Sequence[np.random.Generator]) -> np.ndarray:
        """``(R, n, d)`` draws: standard normal noise from each repetition's stream, pushed through its flow."""
        import torch

        n = check_int("n", n, 0)
        first = self.params_[next(iter(self.params_))]
        with torch.no_grad(), torch_threads():
            # noise drawn on the CPU, then moved: the same numbers on every device
            z = torch.stack(
                [
                    torch.randn((n, self.dim_), generator=torch_generator(rng), dtype=first.dtype)
                    for rng in rngs
                ]
            ).to(first.device)
            out = self._call(z, inverse=True).cpu().numpy().astype(float)
        return out * self.scale_ + self.loc_


class Flow(BaseEstimator):
    """Neural spline flow ``zuko.flows.NSF(features=d, transforms, hidden_features)``: one
    :class:`FlowEnsemble` member.

    Parameters
    ----------
    transforms
        Number of spline autoregressive transforms
    hidden
        Hidden widths of each transform's conditioner network
    bins
        Spline bins
    steps, batch_size, lr
        Adam on the negative log-likelihood, ``steps`` mini-batches of
        ``batch_size`` points walked through reshuffled passes over the data (a fixed number of
        steps rather than epochs, so small early pools are still fitted)
    n_eval
        Samples drawn after training for ``cdf`` (1-D), ``mean_`` and ``var_``
    warm_start
        If true, ``fit`` keeps training the flow of the previous ``fit`` (as
        scikit-learn's ``warm_start``), as the ``fresh`` regime does with neural models
    random_state
        ``None``, int or ``numpy`` Generator

    Attributes
    ----------
    ensemble_
        The trained :class:`FlowEnsemble` (``R = 1``), set by ``fit`` as are the others.
    dim_
        Dimension ``d`` of the training points.
    eval_
        ``(n_eval, d)`` samples of the fitted flow.
    mean_
        Mean of ``eval_`` (1-D), or of its first coordinate.
    var_
        Variance of ``eval_`` (1-D), or its total variance (as for
        :class:`~recursive_lib.estimators.gmm.GMM`).
    """

    def __init__(
        self,
        transforms: int = 3,
        hidden=(32, 32),
        bins: int = 8,
        steps: int = 300,
        batch_size: int = 256,
        lr: float = 3e-3,
        n_eval: int = 5_000,
        warm_start: bool = False,
        random_state=None,
    ):
        self.transforms = transforms
        self.hidden = hidden
        self.bins = bins
        self.steps = steps
        self.batch_size = batch_size
        self.lr = lr
        self.n_eval = n_eval
        self.warm_start = warm_start
        self.random_state = random_state

    def fit(self, x, weights=None):
        """Fit on ``x`` of shape ``(M,)`` or ``(M, d)``; importance ``weights`` are not supported."""
        if weights is not None:
            raise ValueError("weights are not supported by the flow estimator (pass weights=None)")
        x = as_points(x)
        n_eval = check_int("n_eval", self.n_eval, 1)
        rng = as_generator(self.random_state)
        if not (self.warm_start and hasattr(self, "ensemble_")):
            self.ensemble_ = self.make_ensemble()
        self.ensemble_.fit(x[None], [rng], warm=bool(self.warm_start))
        self.dim_ = x.shape[1]
        self.eval_ = self.ensemble_.sample(n_eval, [rng])[0]
        if self.dim_ == 1:
            self._sorted_ = np.sort(self.eval_[:, 0])
        return self

    def make_ensemble(self) -> FlowEnsemble:
        """An untrained :class:`FlowEnsemble` with this flow's hyper-parameters (any ``R``)."""
        return FlowEnsemble(self.transforms, self.hidden, self.bins, self.steps, self.batch_size, self.lr)

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``(n,)`` draws in 1-D, ``(n, d)`` otherwise; torch is seeded from ``rng``."""
        out = self.ensemble_.sample(n, [rng])[0]
        return out[:, 0] if self.dim_ == 1 else out

    def cdf(self, grid) -> np.ndarray:
        """Empirical cdf of the ``n_eval`` evaluation samples (1-D fits only)."""
        if self.dim_ != 1:
            raise ValueError("cdf exists for 1-D fits only")
        return (
            np.searchsorted(self._sorted_, np.asarray(grid, dtype=float), side="right") / self._sorted_.size
        )

    @property
    def mean_(self) -> float:
        return float(self.eval_[:, 0].mean())

    @property
    def var_(self) -> float:
        return float(self.eval_.var(0).sum())
