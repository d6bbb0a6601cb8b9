"""recursive_lib: the executable companion to *Can Generative AI Survive Data Contamination?*
(Wang, Niu, Li; arXiv:2602.16065).

Data flow, one way: truth (``data``) -> mixing loop (``loop`` / ``engine``, driven by
``simulate``) -> tidy results -> rate fits (``rates``) and theory (``theory``) -> charts (``plots``).
"""

__all__ = ["simulate"]
__version__ = "0.1.0"


def __getattr__(name: str):
    # Lazy, so that `recursive-book` and `import recursive_lib.<module>` stay light.
    if name == "simulate":
        from recursive_lib.simulate import simulate

        return simulate
    if name in {"data", "estimators", "engine", "loop", "metrics", "plots", "presets", "rates",
                "sweep", "theory"}:
        import importlib

        return importlib.import_module(f"recursive_lib.{name}")
    raise AttributeError(f"module 'recursive_lib' has no attribute {name!r}")
