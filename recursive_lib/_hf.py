"""The Hugging Face libraries, optional: imported on demand, with the install command when missing."""

from __future__ import annotations

INSTALL_HINT = ("the GPT-2 / WikiText path needs the Hugging Face libraries, which recursive_lib "
                "does not install: pip install transformers datasets (a network is needed once to "
                "download GPT-2 and WikiText; a GPU is recommended)")


def require_hf():
    """``(transformers, datasets)``; raises ``ImportError`` with the install command if missing."""
    try:
        import datasets
        import transformers
    except ImportError as err:
        raise ImportError(f"{INSTALL_HINT} ({err})") from err
    return transformers, datasets
