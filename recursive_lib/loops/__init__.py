"""The mixing loops: what each model is trained on (:mod:`~recursive_lib.loops.regimes`), how it is
measured (:mod:`~recursive_lib.loops.measure`), the readable reference loop
(:mod:`~recursive_lib.loops.reference`), the fast ECDF/KDE engine (:mod:`~recursive_lib.loops.fast`),
neural ensembles trained over repetitions at once (:mod:`~recursive_lib.loops.ensemble`), and the
fresh regime for continually trained models (:mod:`~recursive_lib.loops.continual`). Tests prove the
fast paths equal the reference loop."""
