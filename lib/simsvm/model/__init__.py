"""Stage 2, the model: the paper's GRU network, the kernels and the losses, each as a newcomer reads it.

:mod:`~simsvm.model.network` is the paper's network on ``nn.GRU``; :mod:`~simsvm.model.kernels`
declares each kernel once, for the similarity loss (:mod:`~simsvm.model.losses`) and the SVM
alike; :mod:`~simsvm.model.reading` reads whole files the way every network does.  How many
networks are computed at once, fast, is :mod:`simsvm.engine`'s business.  Nothing here reads files.
"""
