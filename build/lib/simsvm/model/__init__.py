"""Stage 2, the model: the GRU feature extractor, its stacked form, the kernels and the losses.

:mod:`~simsvm.model.network` is the paper's network on ``nn.GRU``; :mod:`~simsvm.model.stacked`
computes many such networks at once with a hand-written recurrence; :mod:`~simsvm.model.kernels`
holds the one kernel implementation that both the similarity loss (:mod:`~simsvm.model.losses`)
and the SVM use.  Nothing here reads files.
"""
