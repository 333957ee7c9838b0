"""Ray Tune's ``OptunaSearch``, made truthful and budget-aware.

Two fixes over the stock searcher:

* **Pruned is PRUNED.** Ray tells Optuna COMPLETE for a trial that ASHA stopped early (it has a
  value, the last one reported), which makes TPE treat a 1-epoch accuracy as a finished result.
  Here a trial counts as COMPLETE only if its last report says it ran to the end
  (``xs_finished``); otherwise it is told PRUNED, and Optuna keeps its last intermediate value.
* **One storage write per trial, not per epoch.** Ray reports every epoch's value to Optuna as it
  comes (an RDB write on the driver's thread, and one more row the constant liar reads back for each
  running trial at every suggestion). Here the last value is kept in memory and written when the
  trial ends, which is all that TPE reads of a trial that did not finish (its last intermediate
  value); ASHA is Tune's scheduler and needs none of it (issue 20: ``bench/scaling.py``).
* **No trial that cannot finish.** Before a suggestion is handed to Tune, its cost
  (epochs × size², ``TrialConfig.cost``) is turned into seconds with the rate measured on the
  trials finished so far; if it would not finish before the search deadline it is not started
  (recorded in Optuna as FAIL with the reason in ``xs_skipped``) and the log says so.
"""

from __future__ import annotations

import json
import logging
import os
import statistics
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from ray.tune.schedulers import ASHAScheduler, TrialScheduler
from ray.tune.search import Searcher
from ray.tune.search.optuna import OptunaSearch

from study.tune.clock import Deadline
from study.tune.reporting import FINISHED_KEY

if TYPE_CHECKING:
    from study.spec import StudySpec

__all__ = ["SEED_KEY", "SeedProtectingASHA", "SpaceFunction", "StudySearch", "count_skipped", "new_search", "optuna_url",
           "settle_running"]

SEED_KEY = "seed_recipe"  # in a trial's config: which book recipe this seed trial is

log = logging.getLogger("study")


def _point_key(point: Any) -> str:
    return json.dumps(point, sort_keys=True, default=str)


class SpaceFunction:
    """Define-by-run space for OptunaSearch: sample the study's parameters, return the trial config.

    A class rather than a closure so the searcher stays picklable (Tune checkpoints it).
    """

    def __init__(self, spec: StudySpec) -> None:
        self.spec = spec

    def __call__(self, trial: Any) -> dict[str, Any]:
        from study.spec import suggest, to_trial_config

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
        points = kwargs.get("points_to_evaluate") or []
        self._seed_by_point = {_point_key(p): label for p, label in zip(points, self.seed_labels)}
        self._recipe_numbers: dict[int, str] | None = None  # Optuna trial number -> recipe, of the enqueued points
        # time.time() after which no trial may still be running; a Deadline on the study's clock
        # (study.tune.clock) stays right when Tuner.restore brings this searcher back in a later session
        self.deadline = deadline
        self.say = say or log.info
        self.seconds_per_cost: list[float] = []
        self.min_cost: float | None = None  # cheapest configuration seen so far (cost units)
        self.skipped = 0
        self._consecutive_skips = 0
        self._last_report: dict[str, tuple[int, float]] = {}  # trial id -> (step, value) of its last report

    def _optuna_study(self) -> Any:
        """The Optuna study behind the searcher (OptunaSearch opens it in ``__init__`` or ``restore``)."""
        if self._ot_study is None:
            raise RuntimeError("the searcher's Optuna study is not open")
        return self._ot_study

    # -- budget -------------------------------------------------------------------------------
    def predicted_seconds(self, cost: float) -> float | None:
        if not self.seconds_per_cost:
            return None
        return statistics.median(self.seconds_per_cost) * cost

    def suggest(self, trial_id: str) -> dict | str | None:  # type: ignore[override]  # Searcher.FINISHED is a str
        config = super().suggest(trial_id)
        if isinstance(config, dict) and (label := self._seed_label(trial_id)) is not None:
            config[SEED_KEY] = label  # one of the book's recipes (an enqueued point)
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

    def _seed_label(self, trial_id: str) -> str | None:
        """The book recipe this trial runs, if Optuna gave it an enqueued point (its ``fixed_params``)."""
        import optuna

        ot_trial = self._ot_trials.get(trial_id)
        if ot_trial is None or not self._seed_by_point:
            return None
        if self._recipe_numbers is None:  # asked once (again after a restore), not at every suggestion
            states = (optuna.trial.TrialState.WAITING, optuna.trial.TrialState.RUNNING)
            found = ((t.number, t.system_attrs.get("fixed_params")) for t in self._optuna_study().get_trials(deepcopy=False, states=states))
            self._recipe_numbers = {n: self._seed_by_point[k] for n, fixed in found if fixed and (k := _point_key(fixed)) in self._seed_by_point}
        return self._recipe_numbers.get(ot_trial.number)

    # -- resume -----------------------------------------------------------------------------------
    def restore(self, checkpoint_path: str) -> None:
        """Tuner.restore in a later session: also settle the trials the driver lost when it died.

        A trial asked of Optuna after the searcher's last save is RUNNING in the storage but unknown
        to this (restored) searcher and to Tune: it is told FAIL, and if it was one of the book's
        recipes, the recipe is enqueued again so that the study still runs every baseline.
        """
        super().restore(checkpoint_path)
        import optuna

        known = {t.number for t in self._ot_trials.values()}
        for t in self._optuna_study().get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
            if t.number in known:
                continue
            self._optuna_study().tell(t.number, state=optuna.trial.TrialState.FAIL)
            fixed = t.system_attrs.get("fixed_params")
            if fixed:
                self._optuna_study().enqueue_trial(fixed)
            self.say(f"search: Optuna trial {t.number} was lost with the driver (started after its last save); "
                     + ("its recipe runs again" if fixed else "recorded as FAIL"))
        self._recipe_numbers = None  # the recipes enqueued again have new numbers

    def _skip(self, trial_id: str, reason: str) -> None:
        import optuna

        ot_trial = self._ot_trials.pop(trial_id)
        ot_trial.set_user_attr("xs_skipped", reason)
        self._optuna_study().tell(ot_trial, state=optuna.trial.TrialState.FAIL)
        self.skipped += 1
        self._consecutive_skips += 1
        if self._consecutive_skips == 1:
            self.say(f"search: not starting a trial: {reason}")

    # -- truthful completion --------------------------------------------------------------------
    def on_trial_result(self, trial_id: str, result: dict) -> None:
        """Kept in memory; Optuna gets the last one when the trial ends (``on_trial_complete``)."""
        if isinstance(self.metric, list) or trial_id in self._completed_trials or trial_id not in self._ot_trials:
            return
        from ray.tune.result import TRAINING_ITERATION

        reports = self.__dict__.setdefault("_last_report", {})  # a searcher pickled before this attribute existed
        reports[trial_id] = (int(result[TRAINING_ITERATION]), float(result[self.metric]))

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        if trial_id in self._completed_trials or trial_id not in self._ot_trials:
            return
        last = self.__dict__.setdefault("_last_report", {}).pop(trial_id, None)
        if result and not error and result.get(FINISHED_KEY):
            if "time_total_s" in result and result.get("cost"):
                self.seconds_per_cost.append(float(result["time_total_s"]) / float(result["cost"]))
            try:
                return super().on_trial_complete(trial_id, result, error)
            except (RuntimeError, ValueError) as e:  # told already, by a session that ended before saving this searcher
                log.warning("optuna: trial %s was already recorded: %s", trial_id, e)
                self._completed_trials.add(trial_id)
                return None
        import optuna

        ot_trial = self._ot_trials[trial_id]
        state = optuna.trial.TrialState.FAIL if error else optuna.trial.TrialState.PRUNED
        # A PRUNED trial's value is its last intermediate value (single objective): reported now.
        try:
            if last is not None and not error:
                ot_trial.report(last[1], last[0])
            self._optuna_study().tell(ot_trial, state=state)
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


# ------------------------------------------------------------------------------------------------
# The study's Optuna storage: every Optuna query of the driver goes through these
# ------------------------------------------------------------------------------------------------


def optuna_url(study_dir: Path) -> str:
    """The study's Optuna RDB storage (``optuna.db`` in the study folder)."""
    return f"sqlite:///{(study_dir / 'optuna.db').resolve()}"


_STORAGES: dict[str, tuple[Any, tuple[int, int] | None]] = {}  # url -> (storage, the database file's identity)


def _file_id(url: str) -> tuple[int, int] | None:
    try:
        st = os.stat(url.removeprefix("sqlite:///"))
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _storage(url: str) -> Any:
    """One ``RDBStorage`` per study database in this process: each new one sets up its engine and
    checks the schema (about 0.1 s), and the driver asks for the study's several times a phase.
    A database file that was removed or replaced since gets a new one (open connections would
    still point at the old file)."""
    import optuna

    cached = _STORAGES.get(url)
    if cached is not None and cached[1] is not None and cached[1] == _file_id(url):
        return cached[0]
    storage = optuna.storages.RDBStorage(url)
    _STORAGES[url] = (storage, _file_id(url))
    return storage


def new_search(spec: StudySpec, *, url: str, metric: str | list[str], mode: str | list[str],
               points: list[tuple[str, dict[str, Any]]], deadline: Deadline, say: Callable[[str], None]) -> StudySearch:
    """The search phase's searcher: TPE seeded by the study, the book's recipes first."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # the study prints its own progress
    return StudySearch(
        space=SpaceFunction(spec), metric=metric, mode=mode, points_to_evaluate=[p for _, p in points],
        sampler=optuna.samplers.TPESampler(seed=spec.seed), study_name=spec.name,
        storage=_storage(url), deadline=deadline, say=say, seed_labels=[label for label, _ in points],
    )


def count_skipped(url: str, name: str) -> int:
    """Suggestions the searcher did not start because they would not have fit (all sessions)."""
    import optuna

    try:
        study = optuna.load_study(study_name=name, storage=_storage(url))
    except KeyError:
        return 0
    return sum(1 for t in study.get_trials(deepcopy=False) if "xs_skipped" in t.user_attrs)


def settle_running(url: str, name: str) -> None:
    """After the search: no Optuna trial stays RUNNING (trials cut off by the budget are PRUNED)."""
    import optuna

    try:
        study = optuna.load_study(study_name=name, storage=_storage(url))
    except KeyError:
        return
    for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        state = optuna.trial.TrialState.PRUNED if t.intermediate_values else optuna.trial.TrialState.FAIL
        study.tell(t.number, state=state)
