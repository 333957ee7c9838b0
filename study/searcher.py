"""Ray Tune's ``OptunaSearch``, made truthful and budget-aware.

Two fixes over the stock searcher:

* **Pruned is PRUNED.** Ray tells Optuna COMPLETE for a trial that ASHA stopped early (it has a
  value, the last one reported), which makes TPE treat a 1-epoch accuracy as a finished result.
  Here a trial counts as COMPLETE only if its last report says it ran to the end
  (``xs_finished``); otherwise it is told PRUNED, and Optuna keeps its last intermediate value.
* **No trial that cannot finish.** Before a suggestion is handed to Tune, its cost
  (epochs × size², ``TrialConfig.cost``) is turned into seconds with the rate measured on the
  trials finished so far; if it would not finish before the search deadline it is not started
  (recorded in Optuna as FAIL with the reason in ``xs_skipped``) and the log says so.
"""

from __future__ import annotations

import logging
import statistics
import time
from typing import Any, Callable

from ray.tune.schedulers import ASHAScheduler, TrialScheduler
from ray.tune.search import Searcher
from ray.tune.search.optuna import OptunaSearch

from study.budget import Deadline
from study.tune_trainable import FINISHED_KEY

__all__ = ["SEED_KEY", "SeedProtectingASHA", "SpaceFunction", "StudySearch"]

SEED_KEY = "seed_recipe"  # in a trial's config: which book recipe this seed trial is

log = logging.getLogger("study")


class SpaceFunction:
    """Define-by-run space for OptunaSearch: sample the study's parameters, return the trial config.

    A class rather than a closure so the searcher stays picklable (Tune checkpoints it).
    """

    def __init__(self, spec: Any) -> None:
        self.spec = spec

    def __call__(self, trial: Any) -> dict[str, Any]:
        from study.space import suggest, to_trial_config

        params = suggest(trial, self.spec)
        return {"trial": to_trial_config(self.spec, params).to_dict()}


class StudySearch(OptunaSearch):
    """OptunaSearch with truthful PRUNED states and a wall-clock deadline for new trials."""

    MAX_CONSECUTIVE_SKIPS = 25

    def __init__(
        self,
        *args: Any,
        deadline: "float | Deadline | None" = None,
        say: Callable[[str], None] | None = None,
        seed_labels: list[str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.seed_labels = list(seed_labels or [])  # labels of points_to_evaluate, in order
        self._suggested = 0
        # time.time() after which no trial may still be running; a Deadline on the study's clock
        # (study.budget) stays right when Tuner.restore brings this searcher back in a later session
        self.deadline = deadline
        self.say = say or log.info
        self.seconds_per_cost: list[float] = []
        self.min_cost: float | None = None  # cheapest configuration seen so far (cost units)
        self.skipped = 0
        self._consecutive_skips = 0

    # -- budget -------------------------------------------------------------------------------
    def predicted_seconds(self, cost: float) -> float | None:
        if not self.seconds_per_cost:
            return None
        return statistics.median(self.seconds_per_cost) * cost

    def suggest(self, trial_id: str) -> dict | str | None:
        config = super().suggest(trial_id)
        if isinstance(config, dict) and self._suggested < len(self.seed_labels):
            # Enqueued points come out first and in order: these are the book's recipes.
            config[SEED_KEY] = self.seed_labels[self._suggested]
            self._suggested += 1
            return config
        if not isinstance(config, dict) or self.deadline is None or "trial" not in config:
            return config
        from trainable.config import TrialConfig

        cost = TrialConfig.from_dict(config["trial"]).cost()
        self.min_cost = cost if self.min_cost is None else min(self.min_cost, cost)
        predicted = self.predicted_seconds(cost)
        deadline = self.deadline.time() if isinstance(self.deadline, Deadline) else self.deadline
        left = deadline - time.time()
        if predicted is None or predicted <= left:
            self._consecutive_skips = 0
            return config
        self._skip(trial_id, f"predicted {predicted:.0f} s > {max(left, 0):.0f} s left in the search budget")
        cheapest = min(self.seconds_per_cost) * self.min_cost if self.min_cost else 0.0
        if self._consecutive_skips >= self.MAX_CONSECUTIVE_SKIPS or left <= cheapest:
            self.say("search: no trial fits in the time left; no new trials")
            return Searcher.FINISHED
        return None

    def _skip(self, trial_id: str, reason: str) -> None:
        import optuna

        ot_trial = self._ot_trials.pop(trial_id)
        ot_trial.set_user_attr("xs_skipped", reason)
        self._ot_study.tell(ot_trial, state=optuna.trial.TrialState.FAIL)
        self.skipped += 1
        self._consecutive_skips += 1
        if self._consecutive_skips == 1:
            self.say(f"search: not starting a trial: {reason}")

    # -- truthful completion --------------------------------------------------------------------
    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        if trial_id in self._completed_trials or trial_id not in self._ot_trials:
            return
        if result and not error and result.get(FINISHED_KEY):
            if "time_total_s" in result and result.get("cost"):
                self.seconds_per_cost.append(float(result["time_total_s"]) / float(result["cost"]))
            return super().on_trial_complete(trial_id, result, error)
        import optuna

        ot_trial = self._ot_trials[trial_id]
        state = optuna.trial.TrialState.FAIL if error else optuna.trial.TrialState.PRUNED
        # A PRUNED trial's value is its last intermediate value, which on_trial_result
        # reported to Optuna at every epoch (single objective).
        try:
            self._ot_study.tell(ot_trial, state=state)
        except Exception as e:  # a trial already told (e.g. after a restore): keep going
            log.warning("optuna: could not record trial %s as %s: %s", trial_id, state.name, e)
        self._completed_trials.add(trial_id)



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
