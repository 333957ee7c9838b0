"""What Ray Tune runs and pickles: the trainable around ``run_trial``, the Optuna searcher and ASHA,
the budget stopper, the driver's monitor callback, and the study's clock across sessions.

Everything here is pickled into Tune's experiment state, so ``study resume`` brings it back: the
clock is a path to ``budget.json``, never an absolute time.
"""
