"""recursive_lib: the executable companion to *Can Generative AI Survive Data Contamination?*
(Wang, Niu, Li; arXiv:2602.16065).

Data flow, one way, each layer importing only those below it (the contract in ``pyproject.toml``,
checked by the tests)::

    book         the CLI, the chapters' parameters, the charts' renderer, the offline check, Sphinx
    plots        Altair charts from tidy frames; computes nothing
    experiments  what chapters call: thinned runs, the bias grid, images, text, sample paths
    simulation   Config and simulate() -> tidy DataFrame       sweep   grids, cache, parallel runs
    theory       predicted exponents, exact recursions, floors
    rates        slope fits, tie correction, intervals, curve summaries
    loops        regimes; the reference loop; the fast ECDF/KDE engine; neural ensembles; fresh regime
    estimators   fit / sample: ecdf kde gaussian gmm flow quantile
    continual    partial_fit / sample: diffusion, character GRU, GPT-2
    metrics      W1, MMD, Frechet distance, perplexity, distinct-n
    data         truths, contamination, digits, text corpus, WikiText
    _rng _torch _io _hf _validation _progress

``import recursive_lib`` loads none of numpy's heavy neighbours: ``simulate`` and ``Config`` are
imported on first use.
"""

from __future__ import annotations

__version__ = "0.2.0"  # the one source of the version (pyproject.toml reads it)
__all__ = ["Config", "simulate"]


def __getattr__(name: str):
    if name in __all__:
        from recursive_lib import simulation

        return getattr(simulation, name)
    raise AttributeError(f"module 'recursive_lib' has no attribute {name!r}")
