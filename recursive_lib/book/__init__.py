"""The book around the library: the ``recursive-book`` command (:mod:`~recursive_lib.book.cli`), the
chapters' parameters and presets (:mod:`~recursive_lib.book.params`), the offline scan
(:mod:`~recursive_lib.book.offline`) and the Sphinx extension that serves MathJax locally
(:mod:`~recursive_lib.book.sphinx_offline`), and :func:`glue`, with which a chapter hands a value
to its prose."""

from recursive_lib._glue import glue

__all__ = ["glue"]
