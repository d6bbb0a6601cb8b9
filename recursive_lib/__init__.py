"""recursive_lib: the executable companion to *Can Generative AI Survive Data Contamination?*
(Wang, Niu, Li; arXiv:2602.16065).

Data flow, one way: truth (``data``) -> mixing loop (``loop`` / ``engine``, driven by
``simulate``) -> tidy results -> rate fits (``rates``) and theory (``theory``) -> charts (``plots``).
"""

# Imported eagerly: a lazy import would let the submodule ``recursive_lib.simulate`` shadow
# the function of the same name.
from recursive_lib.simulate import simulate

__all__ = ["simulate"]
__version__ = "0.1.0"
