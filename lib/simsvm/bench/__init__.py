"""The benchmark: speed and memory of training, snapshots, extraction and SVM refits, in one run.

``python -m simsvm.bench`` (also ``python -m simsvm.cli.bench``) runs :mod:`~simsvm.bench.benchmark`;
:mod:`~simsvm.bench.measure` holds the measurements it makes and :mod:`~simsvm.bench.costs` the
arithmetic over them (FLOP counts, projected protocol times, the gate against fp32) that
``simsvm run --dry-run`` also uses.
"""
