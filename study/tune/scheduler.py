"""The search's early stopping: ASHA (Li et al. 2020, "A System for Massively Parallel
Hyperparameter Tuning"), except for the book's recipes, which it records but never stops."""

from __future__ import annotations

from typing import Any

from ray.tune.schedulers import ASHAScheduler, TrialScheduler

from study.tune.reporting import FINISHED_KEY
from study.tune.searcher import SEED_KEY

__all__ = ["SeedProtectingASHA"]


class SeedProtectingASHA(ASHAScheduler):
    """ASHA that records the book's recipes at every rung but never stops them.

    The seed trials are the baselines a study must beat; stopping one early would leave the study
    without the number it is judged against. Their results still set the rungs' cut-offs.
    """

    def on_trial_result(self, tune_controller: Any, trial: Any, result: dict) -> str:
        action = super().on_trial_result(tune_controller, trial, result)
        if action == TrialScheduler.STOP and trial.config.get(SEED_KEY) and not result.get(FINISHED_KEY):
            return TrialScheduler.CONTINUE
        return action
