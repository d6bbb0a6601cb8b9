"""Models that keep training from one iteration to the next (``partial_fit(batch, rng)`` /
``sample(n, rng)``): the DDPM of the image experiment (:mod:`~recursive_lib.continual.diffusion`),
the character GRU of the text experiment (:mod:`~recursive_lib.continual.char_lm`) and, optional,
GPT-2 (:mod:`~recursive_lib.continual.gpt2`). Each imports torch when imported."""
