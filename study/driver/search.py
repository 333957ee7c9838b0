"""The search phase: the book's recipes first, then TPE suggestions, ASHA early stopping, no trial
started that cannot finish before the search deadline (:mod:`study.tune.searcher`)."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable

from study.analysis.pareto import pareto_front as _front
from study.driver.tuner import Runtime, fit_phase, load_trainable, run_config, trial_dirname
from study.tune.clock import Deadline
from study.tune.journal import TrialOutcome, best_of, count_outcomes, read_outcomes
from study.tune.monitor import StudyMonitor
from study.tune.reporting import OBJECTIVE_KEY

if TYPE_CHECKING:
    from study.spec import StudySpec

__all__ = ["SearchOutcome", "pareto_front", "report_key", "run_search"]


def report_key(metric: str) -> str:
    """The key of a study objective in a trial's final report (accuracy is reported as the objective)."""
    return OBJECTIVE_KEY if metric == "accuracy" else metric


def _tune_mode(metric: str) -> str:
    from study.spec import METRICS

    return "max" if METRICS[metric] == "maximize" else "min"


@dataclass
class SearchOutcome:
    outcomes: dict[str, TrialOutcome]
    best: TrialOutcome | None
    baseline: TrialOutcome | None
    baseline_params: dict[str, Any]
    base_config: dict[str, Any]
    counts: dict[str, int]
    skipped: int
    optuna_storage: str  # the study's Optuna journal (a path: `optuna-dashboard` takes it as it is)
    pareto: list[dict[str, Any]] = field(default_factory=list)

    def save(self, path: Path) -> None:
        from study.common.files import write_json

        write_json(path, asdict(self))

    @classmethod
    def load(cls, path: Path) -> SearchOutcome:
        data = json.loads(path.read_text())
        outcomes = {k: TrialOutcome(**v) for k, v in data.pop("outcomes").items()}
        best = data.pop("best")
        baseline = data.pop("baseline")
        return cls(
            outcomes=outcomes,
            best=outcomes.get(best["trial_id"]) if best else None,
            baseline=outcomes.get(baseline["trial_id"]) if baseline else None,
            **data,
        )


def pareto_front(outcomes: Iterable[TrialOutcome], metrics: list[str]) -> list[dict[str, Any]]:
    """Finished trials not dominated on the study's objectives (accuracy up, costs down)."""
    from study.spec import METRICS

    rows = [{"trial": o.name, **{m: o.result.get(report_key(m)) for m in metrics}}
            for o in outcomes if o.outcome == "finished"]
    return _front(rows, {m: METRICS[m] for m in metrics})


def run_search(spec: StudySpec, rt: Runtime) -> SearchOutcome:
    """The book's recipes, then TPE's suggestions, under ASHA and the search's deadline; what they found."""
    from ray import tune

    from study.spec import to_trial_config
    from study.spec.seeds import seed_points
    from study.tune.optuna_store import optuna_file, sync
    from study.tune.searcher import new_search

    spec = _validated_when_judged(spec)
    base = to_trial_config(spec, {})
    deadline = Deadline(rt.clock, spec.budget.phase_end_s("search"))
    optuna_storage = optuna_file(rt.study_dir)
    metrics = [o.metric for o in spec.objectives]
    keys, modes = [report_key(m) for m in metrics], [_tune_mode(m) for m in metrics]
    multi = len(metrics) > 1
    points = seed_points(spec, base)
    param_space = {"xs": {**rt.common, "kind": "trial", "deadline": deadline.to_dict()}}

    def build() -> Any:
        rt.say("seed trials (the book's recipes): " + ", ".join(label for label, _ in points))
        searcher = new_search(spec, optuna_storage=optuna_storage, metric=keys if multi else keys[0], mode=modes if multi else modes[0],
                              points=points, deadline=deadline, say=rt.say)
        monitor = StudyMonitor(clock=rt.clock, deadline_at=deadline, budget_s=spec.budget.time_s, tracking_uri=rt.tracking_uri,
                               phase="search", status_every_s=rt.status_every_s, journal=rt.journal("search"), watch=rt.watch)
        return tune.Tuner(
            tune.with_resources(load_trainable(rt.trainable), rt.resources()),
            param_space=param_space,
            tune_config=tune.TuneConfig(
                search_alg=searcher, scheduler=_scheduler(spec, base.total_epochs, multi, rt.say),
                num_samples=spec.budget.max_trials if spec.budget.max_trials > 0 else -1,
                max_concurrent_trials=rt.slots, reuse_actors=True, trial_dirname_creator=trial_dirname,
            ),
            run_config=run_config(rt, "search", monitor, deadline),
        )

    if deadline.time() - time.time() <= 0:
        rt.say("search: no time left in the budget for the search")
    else:
        try:
            fit_phase(rt, "search", build, param_space)
        finally:
            sync(optuna_storage)  # the journal's lines on disk (written without an fsync each)
    return _outcome(spec, rt, optuna_storage, base.to_dict(), points[0][1] if points else {}, metrics)


def _validated_when_judged(spec: StudySpec) -> StudySpec:
    """The search's trials validated at ASHA's rungs (every ``grace_period`` epochs) and after their last
    epoch — where a score is read — unless the study file's [base] sets ``eval_every``; every epoch
    without early stopping by epoch (the learning curves: the passes are the price)."""
    from dataclasses import replace

    es = spec.early_stopping
    if "eval_every" in spec.base or es.scheduler != "asha" or es.time_attr != "epoch":
        return spec
    return replace(spec, base={**spec.base, "eval_every": max(1, es.grace_period)})


def _scheduler(spec: StudySpec, base_epochs: int, multi: bool, say: Callable[[str], None]) -> Any:
    """ASHA that never stops the book's recipes (one objective), else first in, first out."""
    from ray.tune.schedulers import FIFOScheduler

    from study.tune.scheduler import SeedProtectingASHA

    es = spec.early_stopping
    if es.scheduler != "asha":
        return FIFOScheduler()
    if multi:
        say("early stopping: ASHA needs a single objective; running without it")
        return FIFOScheduler()
    # One report per epoch (the last one carries the final evaluation): a trial is never stopped
    # at max_t, because its last report is at max_t.
    epochs_param = spec.param("epochs")
    most_epochs = base_epochs if epochs_param is None else int(max(epochs_param.choices or [epochs_param.high]))
    max_t = most_epochs if es.time_attr == "epoch" else int(max(spec.budget.time_s, 1.0))
    return SeedProtectingASHA(time_attr="training_iteration" if es.time_attr == "epoch" else "time_total_s",
                              metric=OBJECTIVE_KEY, mode="max", max_t=max_t, grace_period=es.grace_period,
                              reduction_factor=es.reduction_factor)


def _outcome(spec: StudySpec, rt: Runtime, optuna_storage: str, base_config: dict[str, Any], baseline_params: dict[str, Any],
             metrics: list[str]) -> SearchOutcome:
    """The search's outcome from its journal: the best, the baseline recipe's trial, the counts."""
    from study.tune.optuna_store import count_skipped

    found = read_outcomes(Path(rt.journal("search")))
    outcomes = list(found.values())
    baseline = next((o for o in outcomes if o.outcome == "finished"
                     and all(o.params.get(k) == v for k, v in baseline_params.items())), None)
    return SearchOutcome(
        outcomes=found, best=best_of(outcomes), baseline=baseline, baseline_params=baseline_params, base_config=base_config,
        counts=count_outcomes(outcomes), skipped=count_skipped(optuna_storage, spec.name), optuna_storage=optuna_storage,
        pareto=pareto_front(outcomes, metrics) if len(metrics) > 1 else [],
    )
