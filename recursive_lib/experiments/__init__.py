"""What the chapters call: thinned long simulations (:mod:`~recursive_lib.experiments.thinned`), the
bias grid (:mod:`~recursive_lib.experiments.bias`), the image and text runs
(:mod:`~recursive_lib.experiments.images`, :mod:`~recursive_lib.experiments.text`,
:mod:`~recursive_lib.experiments.gpt2`) and sample paths for pictures
(:mod:`~recursive_lib.experiments.paths`)."""
