"""The search phase: the book's recipes first, then TPE suggestions, ASHA early stopping, no trial
started that cannot finish before the search deadline (:mod:`study.tune.searcher`)."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

from study.analysis.pareto import pareto_front as _front
from study.driver.tuner import Runtime, fit_phase, load_trainable, run_config, runtime_spec, trial_dirname
from study.tune.clock import Deadline
from study.tune.monitor import StudyMonitor, TrialOutcome, best_of, count_outcomes, read_outcomes
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
    optuna_url: str
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
    from ray import tune
    from ray.tune.schedulers import FIFOScheduler

    from study.common.files import sqlite_wal
    from study.spec import to_trial_config
    from study.spec.seeds import seed_points
    from study.tune.searcher import SeedProtectingASHA, count_skipped, new_search, optuna_url

    say = rt.say
    spec = runtime_spec(spec, rt)
    base = to_trial_config(spec, {})
    budget = spec.budget
    deadline = Deadline(rt.clock, budget.phase_end_s("search"))
    url = optuna_url(rt.study_dir)
    sqlite_wal(rt.study_dir / "optuna.db")  # only this driver writes it: WAL where the disk is local

    metrics = [o.metric for o in spec.objectives]
    keys = [report_key(m) for m in metrics]
    modes = [_tune_mode(m) for m in metrics]
    multi = len(metrics) > 1
    points = seed_points(spec, base)
    param_space = {"xs": {**rt.common, "kind": "trial", "deadline": deadline.to_dict()}}

    def build() -> Any:
        say("seed trials (the book's recipes): " + ", ".join(label for label, _ in points))
        searcher = new_search(spec, url=url, metric=keys if multi else keys[0], mode=modes if multi else modes[0],
                              points=points, deadline=deadline, say=say)
        es = spec.early_stopping
        if es.scheduler == "asha" and not multi:
            time_attr = "training_iteration" if es.time_attr == "epoch" else "time_total_s"
            # One report per epoch (the last one carries the final evaluation): a trial is never
            # stopped at max_t, because its last report is at max_t.
            epochs_param = spec.param("epochs")
            most_epochs = base.total_epochs if epochs_param is None else int(max(epochs_param.choices or [epochs_param.high]))
            max_t = most_epochs if es.time_attr == "epoch" else int(max(budget.time_s, 1.0))
            scheduler: Any = SeedProtectingASHA(
                time_attr=time_attr, metric=OBJECTIVE_KEY, mode="max", max_t=max_t,
                grace_period=es.grace_period, reduction_factor=es.reduction_factor,
            )
        else:
            if es.scheduler == "asha":
                say("early stopping: ASHA needs a single objective; running without it")
            scheduler = FIFOScheduler()
        monitor = StudyMonitor(clock=rt.clock, deadline_at=deadline, budget_s=budget.time_s, tracking_uri=rt.tracking_uri,
                               phase="search", status_every_s=rt.status_every_s, journal=rt.journal("search"), watch=rt.watch)
        return tune.Tuner(
            tune.with_resources(load_trainable(rt.trainable), rt.resources()),
            param_space=param_space,
            tune_config=tune.TuneConfig(
                search_alg=searcher,
                scheduler=scheduler,
                num_samples=budget.max_trials if budget.max_trials > 0 else -1,
                max_concurrent_trials=rt.slots,
                reuse_actors=True,
                trial_dirname_creator=trial_dirname,
            ),
            run_config=run_config(rt, "search", monitor, deadline),
        )

    if deadline.time() - time.time() <= 0:
        say("search: no time left in the budget for the search")
    else:
        fit_phase(rt, "search", build, param_space)

    found = read_outcomes(Path(rt.journal("search")))
    outcomes = list(found.values())
    baseline_params = points[0][1] if points else {}
    baseline = next(
        (o for o in outcomes if o.outcome == "finished" and all(o.params.get(k) == v for k, v in baseline_params.items())),
        None,
    )
    return SearchOutcome(
        outcomes=found,
        best=best_of(outcomes),
        baseline=baseline,
        baseline_params=baseline_params,
        base_config=base.to_dict(),
        counts=count_outcomes(outcomes),
        skipped=count_skipped(url, spec.name),
        optuna_url=url,
        pareto=pareto_front(outcomes, metrics) if multi else [],
    )
