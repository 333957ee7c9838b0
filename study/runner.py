"""The two Ray Tune phases of a launch: the Optuna search, then the confirmation runs."""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

from study.monitor import StudyMonitor, TrialOutcome
from study.tune_trainable import OBJECTIVE_KEY, RUN_ID_KEY

__all__ = ["SearchOutcome", "run_search", "run_confirmations", "pareto_front"]

# Study objective names -> (key in the final report, Tune mode)
OBJECTIVES = {
    "accuracy": (OBJECTIVE_KEY, "max"),
    "train_seconds": ("train_seconds", "min"),
    "infer_ms_per_image": ("infer_ms_per_image", "min"),
}


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


def _run_config(name: str, study_dir: Path, monitor: StudyMonitor, *, max_failures: int = 2) -> Any:
    from ray import tune

    return tune.RunConfig(
        name=name,
        storage_path=str((study_dir / "ray").resolve()),
        failure_config=tune.FailureConfig(max_failures=max_failures),
        checkpoint_config=tune.CheckpointConfig(num_to_keep=1),
        verbose=0,
        callbacks=[monitor],
    )


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


def run_search(
    spec: Any,
    *,
    study_dir: Path,
    started: float,
    slots: int,
    cpt: float,
    gpt: float,
    device: str,
    threads: int,
    common: dict[str, Any],
    tracking_uri: str | None,
    say: Callable[[str], None],
    status_every_s: float = 10.0,
    trainable: str = "study.tune_trainable:train_trial",
) -> SearchOutcome:
    import optuna
    from ray import tune
    from ray.tune.schedulers import FIFOScheduler

    from study.launch import seed_points
    from study.searcher import SeedProtectingASHA, SpaceFunction, StudySearch
    from study.space import to_trial_config

    spec = _runtime_spec(spec, device, threads)
    base = to_trial_config(spec, {})
    budget = spec.budget
    deadline = started + budget.time_s * (1 - budget.confirm_share)
    optuna_url = f"sqlite:///{(study_dir / 'optuna.db').resolve()}"
    storage = optuna.storages.RDBStorage(optuna_url)

    metrics = [o.metric for o in spec.objectives]
    keys = [OBJECTIVES[m][0] for m in metrics]
    modes = [OBJECTIVES[m][1] for m in metrics]
    multi = len(metrics) > 1
    points = seed_points(spec, base)
    say("seed trials (the book's recipes): " + ", ".join(label for label, _ in points))

    searcher = StudySearch(
        space=SpaceFunction(spec),
        metric=keys if multi else keys[0],
        mode=modes if multi else modes[0],
        points_to_evaluate=[p for _, p in points],
        sampler=optuna.samplers.TPESampler(seed=spec.seed),
        study_name=spec.name,
        storage=storage,
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
        started=started, budget_s=budget.time_s, deadline=deadline, tracking_uri=tracking_uri,
        phase="search", status_every_s=status_every_s,
    )
    left = deadline - time.time()
    if left <= 0:
        say("search: no time left in the budget for the search")
    else:
        tuner = tune.Tuner(
            tune.with_resources(load_trainable(trainable), {"cpu": cpt, "gpu": gpt}),
            param_space={"xs": {**common, "kind": "trial"}},
            tune_config=tune.TuneConfig(
                search_alg=searcher,
                scheduler=scheduler,
                num_samples=budget.max_trials if budget.max_trials > 0 else -1,
                max_concurrent_trials=slots,
                time_budget_s=left,
                reuse_actors=True,
                trial_dirname_creator=trial_dirname,
            ),
            run_config=_run_config("search", study_dir, monitor),
        )
        tuner.fit()
        monitor.close_remaining("budget")

    outcomes = list(monitor.outcomes.values())
    baseline_params = points[0][1] if points else {}
    baseline = next(
        (o for o in outcomes if o.outcome == "finished" and all(o.params.get(k) == v for k, v in baseline_params.items())),
        None,
    )
    best = monitor.best()
    return SearchOutcome(
        outcomes=monitor.outcomes,
        best=best,
        baseline=baseline,
        baseline_params=baseline_params,
        base_config=base.to_dict(),
        counts=monitor.counts(),
        skipped=searcher.skipped,
        optuna_url=optuna_url,
        pareto=pareto_front(outcomes, metrics) if multi else [],
    )


def run_confirmations(
    spec: Any,
    search: SearchOutcome,
    *,
    study_dir: Path,
    started: float,
    slots: int,
    cpt: float,
    gpt: float,
    device: str,
    threads: int,
    common: dict[str, Any],
    tracking_uri: str | None,
    say: Callable[[str], None],
    baseline: dict[str, Any],
    trainable: str = "study.tune_trainable:train_trial",
) -> dict[str, Any]:
    """Re-run the top K configurations and the baseline with fresh seeds; compare the means."""
    from ray import tune

    from study.confirm import summarize, top_configs, verdict
    from study.space import to_trial_config

    k, n_seeds = spec.budget.confirm_top, spec.budget.confirm_seeds
    if k == 0:
        return {"note": "skipped (--confirm-top 0)"}
    top = top_configs(search.outcomes.values(), k)
    if not top:
        return {"note": "no finished trial to confirm"}
    spec = _runtime_spec(spec, device, threads)
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
    end = started + spec.budget.time_s
    left = end - time.time()
    if left < 5:
        return {"note": f"no time left for the {len(jobs)} confirmation runs; raise --time-budget or confirm_share"}
    say(f"confirm: {len(entries)} configurations × {n_seeds} fresh seeds = {len(jobs)} runs, {left:.0f} s left")
    monitor = StudyMonitor(started=started, budget_s=spec.budget.time_s, deadline=end, tracking_uri=tracking_uri, phase="confirm")
    tuner = tune.Tuner(
        tune.with_resources(load_trainable(trainable), {"cpu": cpt, "gpu": gpt}),
        param_space={"job": tune.grid_search(jobs), "xs": {**common, "kind": "confirmation"}},
        tune_config=tune.TuneConfig(
            max_concurrent_trials=slots, time_budget_s=left, reuse_actors=True, trial_dirname_creator=trial_dirname
        ),
        run_config=_run_config("confirm", study_dir, monitor),
    )
    tuner.fit()
    monitor.close_remaining("budget")
    rows = []
    for o in monitor.outcomes.values():
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
