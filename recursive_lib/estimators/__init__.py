"""Estimators: maps from a finite (optionally weighted) sample to a distribution we can sample from.

Protocol (scikit-learn style): hyper-parameters in ``__init__`` only; ``fit(x, weights=None)``
returns ``self``; learned state ends in ``_``; ``sample(n, rng)``; ``cdf(grid)`` and, for smooth
fits, ``pdf(grid)``; ``mean_`` and ``var_`` of the fitted distribution.

To add a family (``"gmm"``, ``"flow"``, ``"quantile"``, ``"gaussian"``, ...), write one file with a
class following the protocol and register it in :data:`ESTIMATORS`.
"""

from __future__ import annotations

from recursive_lib._validation import check_choice
from recursive_lib.estimators.ecdf import ECDF
from recursive_lib.estimators.flow import Flow
from recursive_lib.estimators.gaussian import Gaussian
from recursive_lib.estimators.gmm import GMM
from recursive_lib.estimators.kde import GaussianKDE
from recursive_lib.estimators.quantile import QuantileSampler

#: Registry name -> estimator class.
ESTIMATORS = {
    "ecdf": ECDF,
    "kde": GaussianKDE,
    "quantile": QuantileSampler,
    "gmm": GMM,
    "flow": Flow,
    "gaussian": Gaussian,
}


def make_estimator(name: str, **params):
    """A fresh estimator of the registered family ``name`` with hyper-parameters ``params``."""
    check_choice("estimator", name, tuple(ESTIMATORS))
    return ESTIMATORS[name](**params)


def registry_name(estimator) -> str:
    """The registry name of ``estimator``'s family (``ValueError`` for an unregistered class)."""
    for name, cls in ESTIMATORS.items():
        if type(estimator) is cls:
            return name
    raise ValueError(
        f"estimator must be an instance of a registered family ({', '.join(ESTIMATORS)}), "
        f"got {type(estimator).__name__}"
    )


__all__ = [
    "ECDF",
    "ESTIMATORS",
    "Flow",
    "GMM",
    "Gaussian",
    "GaussianKDE",
    "QuantileSampler",
    "make_estimator",
    "registry_name",
]
