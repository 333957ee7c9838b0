"""What Ray Tune runs and pickles: the trainable around ``run_trial``, the Optuna searcher and ASHA,
the budget stopper, the driver's monitor callback, and the study's clock across sessions.

Everything here is pickled into Tune's experiment state, so ``study resume`` brings it back: the
clock is a path to ``budget.json``, never an absolute time.
"""

from study.tune.clock import BudgetClock, Deadline, begin_session, spent_seconds
from study.tune.monitor import StudyMonitor, TrialOutcome, best_of, count_outcomes, read_outcomes
from study.tune.reporting import FINISHED_KEY, OBJECTIVE_KEY, RUN_ID_KEY, TrialReporter, deadline_check
from study.tune.searcher import SeedProtectingASHA, StudySearch, new_search
from study.tune.stopper import BudgetStopper
from study.tune.trainable import TRAINABLE, train_trial

__all__ = [
    "FINISHED_KEY", "OBJECTIVE_KEY", "RUN_ID_KEY", "TRAINABLE", "BudgetClock", "BudgetStopper", "Deadline",
    "SeedProtectingASHA", "StudyMonitor", "StudySearch", "TrialOutcome", "TrialReporter", "begin_session", "best_of",
    "count_outcomes", "deadline_check", "new_search", "read_outcomes", "spent_seconds", "train_trial",
]
