"""xresnet-study: which of fastbook chapter 7's techniques give the best xresnet within a budget.

The packages, each looking only downward (``commands -> driver -> tune -> tracking, spec ->
analysis -> common``; ``trainable/`` below them all):

- :mod:`study.cli` and :mod:`study.commands`: the ``study`` command and its thin front doors;
- :mod:`study.driver`: launch, resume, the two Tune phases, the cluster, ``study.json``;
- :mod:`study.tune`: what Ray Tune runs and pickles (trainable, searcher, stopper, monitor, clock);
- :mod:`study.tracking`: MLflow runs, the per-worker sender, trial records, sync, secret scrubbing;
- :mod:`study.spec`: the study file (model, parsing, parameters, translation into ``TrialConfig``);
- :mod:`study.analysis`: the study's numbers (confirmation maths, Pareto front, summary);
- :mod:`study.common`: errors, atomic files, interrupts and console helpers every layer uses;
- :mod:`study.testing`: a sleeping stand-in trainable for tests and benchmarks (not a product path).
"""
