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
* **No trial that cannot finish.** Before a suggestion is handed to Tune (the book's recipes
  too), its cost (epochs × size², ``TrialConfig.cost``) is turned into seconds with the rate
  measured on the trials finished so far — before any has finished, on the epochs the running
  ones reported (their start-up from their ``seconds_*`` parts, then seconds per unit of cost),
  and before any report at all, a cold start's seconds (``study.analysis.planning.COLD_START_S``,
  a lower bound); if it would not finish before the search deadline it is not started (recorded
  in Optuna as FAIL with the reason in ``xs_skipped``) and the log says so.
"""

from __future__ import annotations

import json
import logging
import statistics
import time
from typing import TYPE_CHECKING, Any, Callable

from ray.tune.search import Searcher
from ray.tune.search.optuna import OptunaSearch

from study.tune.clock import Deadline
from study.tune.optuna_store import storage
from study.tune.reporting import FINISHED_KEY

if TYPE_CHECKING:
    from study.spec import StudySpec

__all__ = ["SEED_KEY", "SpaceFunction", "StudySearch", "new_search"]

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
        self.running_reports: dict[str, dict[str, float]] = {}  # trial id -> its last epoch report (running trials)
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
    def predicted_seconds(self, cost: float, device: str = "cpu") -> float:
        """A trial's seconds: from the finished trials' rate; before any finished, from the running ones'
        reports; before any report, a cold start's (a lower bound: a trial takes at least that)."""
        from study.analysis.planning import cold_start_seconds

        if self.seconds_per_cost:
            return statistics.median(self.seconds_per_cost) * cost
        running = self._running_rate()
        if running is not None:
            startup, rate = running
            return startup + rate * cost
        return cold_start_seconds(device)

    def _running_rate(self) -> tuple[float, float] | None:
        """(start-up seconds, seconds per unit of cost) from the running trials' epoch reports (medians)."""
        from trainable.timing import TrialTimes

        startups, rates = [], []
        for r in self._reports().values():
            times = TrialTimes.from_flat(r)
            done = (r["epoch"] + 1) * (r["size"] / 128) ** 2  # the cost of the epochs reported (at the last one's size)
            if times is None or done <= 0:
                continue
            startup = times.start + times.data + times.model + times.warmup
            startups.append(startup)
            rates.append(max(times.total - startup, 0.0) / done)
        return (statistics.median(startups), statistics.median(rates)) if rates else None

    def _reports(self) -> dict[str, dict[str, float]]:
        """``running_reports`` (also of a searcher pickled by an older version, which had none)."""
        return self.__dict__.setdefault("running_reports", {})

    def suggest(self, trial_id: str) -> dict | str | None:  # type: ignore[override]  # Searcher.FINISHED is a str
        config = super().suggest(trial_id)
        label = self._seed_label(trial_id) if isinstance(config, dict) else None
        if isinstance(config, dict) and label is not None:
            config[SEED_KEY] = label  # one of the book's recipes (an enqueued point)
        if not isinstance(config, dict) or self.deadline is None or "trial" not in config:
            return config
        from trainable.config import TrialConfig

        cfg = TrialConfig.from_dict(config["trial"])
        cost = cfg.cost()
        self.min_cost = cost if self.min_cost is None else min(self.min_cost, cost)
        predicted = self.predicted_seconds(cost, cfg.device)
        deadline = self.deadline.time() if isinstance(self.deadline, Deadline) else self.deadline
        left = deadline - time.time()
        if predicted <= left:
            self._consecutive_skips = 0
            return config
        self._skip(trial_id, f"predicted {predicted:.0f} s > {max(left, 0):.0f} s left in the search budget")
        if self.seconds_per_cost:
            cheapest = min(self.seconds_per_cost) * (self.min_cost or 0.0)
        else:
            cheapest = self.predicted_seconds(self.min_cost or 0.0, cfg.device)
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
        """An epoch's report: its times kept for admission (a running trial's pace, before any has finished),
        its value kept in memory; Optuna gets the last value when the trial ends (``on_trial_complete``)."""
        keep = {k: v for k, v in result.items() if k in ("epoch", "size") or k.startswith("seconds_")}
        if isinstance(keep.get("epoch"), int) and isinstance(keep.get("size"), (int, float)) and not result.get(FINISHED_KEY):
            self._reports()[trial_id] = keep
        if isinstance(self.metric, list) or trial_id in self._completed_trials or trial_id not in self._ot_trials:
            return
        if not isinstance(result.get(self.metric), (int, float)):
            return  # an epoch without a validation pass (eval_every): no value to keep
        from ray.tune.result import TRAINING_ITERATION

        reports = self.__dict__.setdefault("_last_report", {})  # a searcher pickled before this attribute existed
        reports[trial_id] = (int(result[TRAINING_ITERATION]), float(result[self.metric]))

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        self._reports().pop(trial_id, None)
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


def new_search(spec: StudySpec, *, optuna_storage: str, metric: str | list[str], mode: str | list[str],
               points: list[tuple[str, dict[str, Any]]], deadline: Deadline, say: Callable[[str], None]) -> StudySearch:
    """The search phase's searcher: TPE seeded by the study, the book's recipes first."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # the study prints its own progress
    return StudySearch(
        space=SpaceFunction(spec), metric=metric, mode=mode, points_to_evaluate=[p for _, p in points],
        sampler=optuna.samplers.TPESampler(seed=spec.seed), study_name=spec.name,
        storage=storage(optuna_storage), deadline=deadline, say=say, seed_labels=[label for label, _ in points],
    )
