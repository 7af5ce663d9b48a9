"""Stage 4, the experiment: parameters, folds, the five approaches, SVM scores, results on disk, statistics.

:func:`simsvm.experiment.run.run_experiment` is one parameter file end to end;
:mod:`~simsvm.experiment.protocol` turns folds and approaches into training jobs and their
evaluators; :mod:`~simsvm.experiment.scoring` fits the SVM / SVR; :mod:`~simsvm.experiment.results`
writes the tidy table; :mod:`~simsvm.experiment.stats` runs the significance tests on it.
"""
