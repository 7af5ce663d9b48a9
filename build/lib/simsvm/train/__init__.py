"""Stage 3, training: one loop for a stack of networks, the excerpts it reads, and the backends that run it.

:mod:`~simsvm.train.spec` says what one network's training is; :mod:`~simsvm.train.loop` is
the training loop (random excerpts, Adadelta, snapshots of whole-file features);
:mod:`~simsvm.train.jobs` runs a set of networks through a backend
(:mod:`~simsvm.train.backends`, :mod:`~simsvm.train.cluster` for dask).
"""
