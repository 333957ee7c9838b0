"""The two Ray Tune phases of a study: the Optuna search, then the confirmation runs.

Each phase is one Ray Tune experiment under ``<study>/ray/<phase>``. A resumed study
(``study resume``) continues an interrupted phase with ``Tuner.restore``: finished trials are
kept, interrupted ones continue from their last epoch checkpoint under the same trial id (so in
the same MLflow run), and the searcher — with its Optuna study in the study's RDB storage — picks
up where it stopped. The searcher, stopper and monitor are pickled into the experiment by Tune;
they hold the study's clock (``study.tune.clock``), not absolute times, so a restored phase ends at
the study's deadline, not the first session's.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

from study.tune.clock import BudgetClock, Deadline
from study.tune.monitor import StudyMonitor, TrialOutcome, best_of, count_outcomes, read_outcomes
from study.tune.trainable import OBJECTIVE_KEY, RUN_ID_KEY

__all__ = ["Runtime", "SearchOutcome", "run_search", "run_confirmations", "pareto_front"]

# Study objective names -> (key in the final report, Tune mode)
OBJECTIVES = {
    "accuracy": (OBJECTIVE_KEY, "max"),
    "train_seconds": ("train_seconds", "min"),
    "infer_ms_per_image": ("infer_ms_per_image", "min"),
}


@dataclass(frozen=True)
class Runtime:
    """Where and how this session runs trials (the same for both phases)."""

    study_dir: Path
    clock: BudgetClock  # the study's wall clock, across sessions
    slots: int  # trials at once
    cpt: float  # CPUs per trial
    gpt: float  # GPUs per trial
    device: str  # cpu | cuda
    threads: int  # torch threads per CPU trial (0: torch's default)
    common: dict[str, Any]  # the "xs" part of every trial's config (tracking, launch id, study folder)
    tracking_uri: str | None
    say: Callable[[str], None]
    status_every_s: float = 10.0
    trainable: str = "study.tune.trainable:train_trial"  # "module:function"

    def experiment(self, phase: str) -> Path:
        return (self.study_dir / "ray" / phase).resolve()

    def journal(self, phase: str) -> str:
        return str((self.study_dir / f"trials-{phase}.jsonl").resolve())


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
    def load(cls, path: Path) -> "SearchOutcome":
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


def _runtime_spec(spec: Any, device: str, threads: int) -> Any:
    return replace(spec, base={**spec.base, "device": device, "threads": threads})


def load_trainable(spec: str) -> Callable[[dict[str, Any]], None]:
    """``"package.module:function"`` → the function (it must be importable on every Ray worker)."""
    import importlib

    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(module), name)


def trial_dirname(trial: Any) -> str:
    """Short trial folder names (Tune's default spells out the whole config)."""
    return trial.trial_id


def _run_config(rt: Runtime, phase: str, monitor: StudyMonitor, deadline: Deadline, *, max_failures: int = 2) -> Any:
    from ray import tune

    from study.tune.stopper import BudgetStopper

    return tune.RunConfig(
        name=phase,
        storage_path=str(rt.experiment(phase).parent),
        failure_config=tune.FailureConfig(max_failures=max_failures),
        checkpoint_config=tune.CheckpointConfig(num_to_keep=1),
        stop=BudgetStopper(deadline),
        verbose=0,
        callbacks=[monitor],
    )


def can_restore(rt: Runtime, phase: str) -> bool:
    """Whether an earlier session left this phase's Tune experiment to continue."""
    from ray import tune

    path = rt.experiment(phase)
    return path.is_dir() and any(path.glob("experiment_state-*.json")) and tune.Tuner.can_restore(str(path))


def _fit(rt: Runtime, phase: str, build: Callable[[], Any], param_space: dict[str, Any]) -> None:
    """Run a phase: a new Tuner, or the interrupted one restored (interrupted and errored trials resumed)."""
    from ray import tune

    from study.common.interrupt import tune_running

    if can_restore(rt, phase):
        rt.say(f"{phase}: continuing the interrupted experiment in {rt.experiment(phase)}")
        resources = {"cpu": rt.cpt, "gpu": rt.gpt}
        tuner = tune.Tuner.restore(
            str(rt.experiment(phase)), tune.with_resources(load_trainable(rt.trainable), resources),
            resume_unfinished=True, resume_errored=True, param_space=param_space,
        )
    else:
        tuner = build()
    with tune_running():
        tuner.fit()


def pareto_front(outcomes: list[TrialOutcome], metrics: list[str]) -> list[dict[str, Any]]:
    """Finished trials not dominated on the study's objectives (accuracy up, costs down)."""
    rows = []
    for o in outcomes:
        if o.outcome != "finished":
            continue
        row = {"trial": o.name}
        for m in metrics:
            key, _ = OBJECTIVES[m]
            row[m] = o.result.get(key)
        if all(isinstance(row[m], (int, float)) for m in metrics):
            rows.append(row)

    def better_or_equal(a: dict, b: dict) -> bool:
        return all((a[m] >= b[m]) if OBJECTIVES[m][1] == "max" else (a[m] <= b[m]) for m in metrics)

    front = [r for r in rows if not any(better_or_equal(o, r) and o != r and any(o[m] != r[m] for m in metrics) for o in rows)]
    return sorted(front, key=lambda r: -r[metrics[0]] if OBJECTIVES[metrics[0]][1] == "max" else r[metrics[0]])


def run_search(spec: Any, rt: Runtime) -> SearchOutcome:
    import optuna
    from ray import tune
    from ray.tune.schedulers import FIFOScheduler

    from study.common.files import sqlite_wal
    from study.tune.searcher import SeedProtectingASHA, SpaceFunction, StudySearch
    from study.spec.seeds import seed_points
    from study.spec.space import to_trial_config

    say = rt.say
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # the study prints its own progress
    spec = _runtime_spec(spec, rt.device, rt.threads)
    base = to_trial_config(spec, {})
    budget = spec.budget
    deadline = Deadline(rt.clock, budget.time_s * (1 - budget.confirm_share))
    optuna_url = f"sqlite:///{(rt.study_dir / 'optuna.db').resolve()}"
    sqlite_wal(rt.study_dir / "optuna.db")  # only this driver writes it: WAL where the disk is local

    metrics = [o.metric for o in spec.objectives]
    keys = [OBJECTIVES[m][0] for m in metrics]
    modes = [OBJECTIVES[m][1] for m in metrics]
    multi = len(metrics) > 1
    points = seed_points(spec, base)
    param_space = {"xs": {**rt.common, "kind": "trial", "deadline": deadline.to_dict()}}

    def build() -> Any:
        say("seed trials (the book's recipes): " + ", ".join(label for label, _ in points))
        searcher = StudySearch(
            space=SpaceFunction(spec),
            metric=keys if multi else keys[0],
            mode=modes if multi else modes[0],
            points_to_evaluate=[p for _, p in points],
            sampler=optuna.samplers.TPESampler(seed=spec.seed),
            study_name=spec.name,
            storage=optuna.storages.RDBStorage(optuna_url),
            deadline=deadline,
            say=say,
            seed_labels=[label for label, _ in points],
        )
        es = spec.early_stopping
        if es.scheduler == "asha" and not multi:
            time_attr = "training_iteration" if es.time_attr == "epoch" else "time_total_s"
            # One report per epoch (the last one carries the final evaluation): a trial is never
            # stopped at max_t, because its last report is at max_t.
            epochs_param = next((p for p in spec.params if p.name == "epochs"), None)
            most_epochs = base.total_epochs if epochs_param is None else int(max(epochs_param.choices or [epochs_param.high]))
            max_t = most_epochs if es.time_attr == "epoch" else max(budget.time_s, 1.0)
            scheduler: Any = SeedProtectingASHA(
                time_attr=time_attr, metric=OBJECTIVE_KEY, mode="max", max_t=max_t,
                grace_period=es.grace_period, reduction_factor=es.reduction_factor,
            )
        else:
            if es.scheduler == "asha":
                say("early stopping: ASHA needs a single objective; running without it")
            scheduler = FIFOScheduler()
        monitor = StudyMonitor(
            started=0.0, budget_s=budget.time_s, deadline=0.0, tracking_uri=rt.tracking_uri, phase="search",
            status_every_s=rt.status_every_s, clock=rt.clock, deadline_at=deadline, journal=rt.journal("search"),
        )
        return tune.Tuner(
            tune.with_resources(load_trainable(rt.trainable), {"cpu": rt.cpt, "gpu": rt.gpt}),
            param_space=param_space,
            tune_config=tune.TuneConfig(
                search_alg=searcher,
                scheduler=scheduler,
                num_samples=budget.max_trials if budget.max_trials > 0 else -1,
                max_concurrent_trials=rt.slots,
                reuse_actors=True,
                trial_dirname_creator=trial_dirname,
            ),
            run_config=_run_config(rt, "search", monitor, deadline),
        )

    if deadline.time() - time.time() <= 0:
        say("search: no time left in the budget for the search")
    else:
        _fit(rt, "search", build, param_space)

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
        skipped=_skipped(optuna_url, spec.name),
        optuna_url=optuna_url,
        pareto=pareto_front(outcomes, metrics) if multi else [],
    )


def _skipped(optuna_url: str, name: str) -> int:
    """Suggestions the searcher did not start because they would not have fit (all sessions)."""
    import optuna

    try:
        study = optuna.load_study(study_name=name, storage=optuna_url)
    except KeyError:
        return 0
    return sum(1 for t in study.get_trials(deepcopy=False) if "xs_skipped" in t.user_attrs)


def run_confirmations(spec: Any, search: SearchOutcome, rt: Runtime, *, baseline: dict[str, Any]) -> dict[str, Any]:
    """Re-run the top K configurations and the baseline with fresh seeds; compare the means."""
    from ray import tune

    from study.analysis.confirm import CostModel, runs_that_fit, summarize, top_configs, verdict
    from study.spec.space import to_trial_config

    say = rt.say
    k, n_seeds = spec.budget.confirm_top, spec.budget.confirm_seeds
    if k == 0:
        return {"note": "skipped (--confirm-top 0)"}
    top = top_configs(search.outcomes.values(), k)
    if not top:
        return {"note": "no finished trial to confirm"}
    spec = _runtime_spec(spec, rt.device, rt.threads)
    entries = [("baseline", to_trial_config(spec, baseline).to_dict(), "baseline")]
    for o in top:
        if o.config == entries[0][1]:
            continue  # the baseline itself made the top K
        entries.append((o.name, o.config, o.result.get(RUN_ID_KEY) or o.name))
    # Seed-major order: if the budget runs out, every configuration has the same number of seeds.
    jobs = [
        {"label": label, "trial": {**cfg, "seed": spec.seed + 1000 + s}, "confirms": confirms}
        for s in range(n_seeds)
        for label, cfg, confirms in entries
    ]
    end = Deadline(rt.clock, spec.budget.time_s)
    left = end.time() - time.time()
    restoring = can_restore(rt, "confirm")  # the interrupted phase goes on with the runs it planned
    if left < 5 and not restoring:
        return {"note": f"no time left for the {len(jobs)} confirmation runs; raise --time-budget or confirm_share"}
    model = None if restoring else CostModel.from_outcomes(search.outcomes.values())
    if model is not None:  # start only the runs that can finish (the search's trials give the rate)
        from trainable.config import TrialConfig

        durations = [model.seconds(TrialConfig.from_dict(j["trial"]).cost()) for j in jobs]
        n = runs_that_fit(durations, rt.slots, left, model.startup_s)
        low, high = round(min(durations)), round(max(durations))
        need = f"about {low if low == high else f'{low}-{high}'} s each, {model.startup_s:.0f} s to start"
        if n == 0:
            say(f"confirm: no confirmation run fits in the {left:.0f} s left ({need}); not starting any")
            return {"runs": 0, "finished": 0, "note": f"none of the {len(jobs)} confirmation runs would finish in the "
                    f"{left:.0f} s left ({need}); raise --time-budget or confirm_share"}
        if n < len(jobs):
            say(f"confirm: {n} of the {len(jobs)} runs fit in the {left:.0f} s left ({need}); the others are not started")
            jobs = jobs[:n]
    param_space = {"job": tune.grid_search(jobs), "xs": {**rt.common, "kind": "confirmation", "deadline": end.to_dict()}}

    def build() -> Any:
        seeds = f"{n_seeds} fresh seeds" if len(jobs) == len(entries) * n_seeds else f"up to {n_seeds} fresh seeds"
        say(f"confirm: {len(entries)} configurations × {seeds} = {len(jobs)} runs, {left:.0f} s left")
        monitor = StudyMonitor(
            started=0.0, budget_s=spec.budget.time_s, deadline=0.0, tracking_uri=rt.tracking_uri, phase="confirm",
            status_every_s=rt.status_every_s, clock=rt.clock, deadline_at=end, journal=rt.journal("confirm"),
        )
        return tune.Tuner(
            tune.with_resources(load_trainable(rt.trainable), {"cpu": rt.cpt, "gpu": rt.gpt}),
            param_space=param_space,
            tune_config=tune.TuneConfig(max_concurrent_trials=rt.slots, reuse_actors=True, trial_dirname_creator=trial_dirname),
            run_config=_run_config(rt, "confirm", monitor, end),
        )

    _fit(rt, "confirm", build, param_space)
    rows = []
    for o in read_outcomes(Path(rt.journal("confirm"))).values():
        if o.outcome == "finished" and o.label is not None and o.objective is not None:
            rows.append((o.label, o.objective))
    if not rows:
        return {"runs": len(jobs), "finished": 0,
                "note": f"none of the {len(jobs)} confirmation runs finished within the budget; "
                        f"raise --time-budget or confirm_share"}
    summaries = summarize(rows)
    v = verdict(summaries, "baseline")
    return {
        "runs": len(jobs),
        "finished": len(rows),
        "configs": {s.label: {"mean": s.mean, "std": s.std, "n": s.n, "values": list(s.values)} for s in summaries.values()},
        "verdict": v.sentence() if v else None,
        "beats_baseline": v.beats_baseline if v else None,
    }
