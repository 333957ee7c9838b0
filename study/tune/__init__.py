"""What Ray Tune runs and pickles: the trainable around ``run_trial``, the Optuna searcher and ASHA,
the budget stopper, the driver's monitor callback, and the study's clock across sessions.

Everything here is pickled into Tune's experiment state, so ``study resume`` brings it back: the
clock is a path to ``budget.json``, never an absolute time.

Modules: ``trainable`` (``train_trial``), ``reporting`` (``TrialReporter``, the one reporting path),
``epoch_reports`` (the per-epoch Tune reports, made off the training thread),
``searcher`` (``StudySearch``), ``scheduler`` (``SeedProtectingASHA``), ``optuna_store`` (every Optuna
query of the study: the searcher's, the driver's, the dashboard's), ``stopper`` (``BudgetStopper``),
``monitor`` (``StudyMonitor``), ``journal`` (``TrialOutcome``, the phases' outcome journals),
``clock`` (``BudgetClock``, ``Deadline``). Import them by their full path: this package re-exports nothing, because importing
it must not import Ray (Ray reads its auth mode when it is first imported, and the driver chooses
that mode only once it knows which cluster it joins: ``study.driver.cluster.prepare_ray``).
"""
