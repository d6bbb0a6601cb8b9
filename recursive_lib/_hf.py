"""The Hugging Face libraries, optional: imported on demand, with the install command when missing.

They come with the ``[hf]`` extra (``pip install -e ".[hf]"``: transformers, tokenizers, datasets,
diffusers), which the tests install and the default install leaves out.
"""

from __future__ import annotations

INSTALL_HINT = (
    "the GPT-2 / WikiText path needs the Hugging Face libraries, which recursive_lib "
    "does not install by default: pip install 'recursive_lib[hf]' (or pip install "
    "transformers datasets; a network is needed once to download GPT-2 and WikiText; "
    "a GPU is recommended)"
)


def require_hf():
    """``(transformers, datasets)``; raises ``ImportError`` with the install command if missing."""
    try:
        import datasets
        import transformers
    except ImportError as err:
        raise ImportError(f"{INSTALL_HINT} ({err})") from err
    return transformers, datasets


def require_diffusers():
    """The ``diffusers`` module (the U-Net of the image chapter); ``ImportError`` with the install
    command if missing."""
    try:
        import diffusers
    except ImportError as err:
        raise ImportError(
            f"network='unet' needs diffusers, which recursive_lib does not install "
            f"by default: pip install 'recursive_lib[hf]' ({err})"
        ) from err
    return diffusers
