"""Data: the truths ``P``, contaminated real data ``P_n``, and the real image and text sets.

- :mod:`~recursive_lib.data.truths`: the paper's 1-D mixture and the 2-D truths (sample / pdf / cdf);
- :mod:`~recursive_lib.data.contamination`: the bias schedule, ``P_n``, importance weights;
- :mod:`~recursive_lib.data.digits`: 8x8 digits (offline) or MNIST, pixels in ``[-1, 1]``;
- :mod:`~recursive_lib.data.corpus`: English prose from the standard library, as characters;
- :mod:`~recursive_lib.data.wikitext`: WikiText with GPT-2's tokenizer (optional, network).

The truths and the contamination are re-exported here; the data sets load on demand.
"""

from recursive_lib.data.contamination import BiasSchedule, Contaminated, as_schedule, importance_weights
from recursive_lib.data.truths import (
    MIXTURE_2D,
    MOONS,
    PAPER_TRUTH,
    Mixture1D,
    MixtureND,
    TwoMoons,
    cell_probabilities,
    dimension,
)

__all__ = [
    "BiasSchedule",
    "Contaminated",
    "MIXTURE_2D",
    "MOONS",
    "Mixture1D",
    "MixtureND",
    "PAPER_TRUTH",
    "TwoMoons",
    "as_schedule",
    "cell_probabilities",
    "dimension",
    "importance_weights",
]
