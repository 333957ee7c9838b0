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

from ray.tune.search import Searcher
from ray.tune.search.optuna import OptunaSearch

from study.tune_trainable import FINISHED_KEY

__all__ = ["SpaceFunction", "StudySearch"]

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
        deadline: float | None = None,
        say: Callable[[str], None] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.deadline = deadline  # time.time() after which no trial may still be running
        self.say = say or log.info
        self.seconds_per_cost: list[float] = []
        self.skipped = 0
        self._consecutive_skips = 0

    # -- budget -------------------------------------------------------------------------------
    def predicted_seconds(self, cost: float) -> float | None:
        if not self.seconds_per_cost:
            return None
        return statistics.median(self.seconds_per_cost) * cost

    def suggest(self, trial_id: str) -> dict | str | None:
        config = super().suggest(trial_id)
        if not isinstance(config, dict) or self.deadline is None or "trial" not in config:
            return config
        from trainable.config import TrialConfig

        cost = TrialConfig.from_dict(config["trial"]).cost()
        predicted = self.predicted_seconds(cost)
        left = self.deadline - time.time()
        if predicted is None or predicted <= left:
            self._consecutive_skips = 0
            return config
        self._skip(trial_id, f"predicted {predicted:.0f} s > {max(left, 0):.0f} s left in the search budget")
        if self._consecutive_skips >= self.MAX_CONSECUTIVE_SKIPS or left <= 0:
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
