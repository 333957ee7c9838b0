"""Small hand-built studies: as tables (for the panels' unit tests) and as study folders written
with the study's own writers (trial records, outcome journals, Optuna storage) for the loader and
the degenerate-study renders."""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from dashboards.tables import Epoch, OptunaTrial, StudyMeta, StudyTables, Trial
from study.tune.optuna_store import optuna_file
from study.tune.optuna_store import storage as optuna_storage

T0 = 1_800_000_000.0  # a fixed start of the study (s since the Unix epoch)
BASE = {"model": "xresnet18", "epochs": 3, "size": 32, "lr": 0.003, "mixup_alpha": 0.0, "label_smoothing": 0.0,
        "tta_n": 0, "tta_beta": 0.25, "normalize": "none", "seed": 0}


def trial(name: str, objective: float | None = 0.5, *, phase: str = "search", outcome: str = "finished",
          params: dict[str, Any] | None = None, config: dict[str, Any] | None = None, final: dict[str, float] | None = None,
          epochs: int | None = None, sizes: tuple[int, ...] | None = None, start: float = 0.0, duration: float = 10.0,
          label: str | None = None, seed_recipe: str | None = None, tta: float | None = None) -> Trial:
    """A trial whose epochs climb to ``objective`` (plain accuracy); ``tta``: its accuracy with TTA, then its objective."""
    params = dict(params or {})
    config = {**BASE, **{k: v for k, v in params.items() if k in BASE}, **(config or {})}
    n = epochs if epochs is not None else (3 if outcome == "finished" else 1)
    acc = objective if objective is not None else 0.1
    sizes = sizes or tuple([int(config["size"])] * n)
    history = tuple(Epoch(e, acc - 0.02 * (n - 1 - e), sizes[e], {"accuracy": acc - 0.02 * (n - 1 - e), "size": float(sizes[e])})
                    for e in range(n))
    if final is None and outcome == "finished" and objective is not None:
        with_tta = tta if tta is not None else objective  # `objective` is the plain pass; TTA's is the trial's objective
        final = {"accuracy": objective, "accuracy_tta": with_tta, "train_seconds": duration * 0.8,
                 "infer_ms_per_image_tta": 1.0 + 0.5 * int(config["tta_n"]), "infer_ms_per_image": 1.0, "objective": with_tta}
    return Trial(trial_id=name.rsplit("_", 1)[-1], name=name, phase=phase, outcome=outcome,
                 objective=(final or {}).get("objective", objective), params=params, config=config, final=final or {},
                 epochs=history, start=T0 + start, end=T0 + start + duration, label=label, seed_recipe=seed_recipe)


def tables(trials: list[Trial], *, summary: dict[str, Any] | None = None, optuna: tuple[OptunaTrial, ...] = (),
           objectives: tuple[str, ...] = ("accuracy",), budget_s: float = 100.0, confirm_share: float = 0.3,
           ablation_share: float = 0.0, phase: str = "done", log_params: tuple[str, ...] = (),
           folder: Path = Path("/nonexistent/study")) -> StudyTables:
    names = tuple(dict.fromkeys(k for t in trials for k in t.params))
    meta = StudyMeta(name="hand", folder=folder, phase=phase, budget_s=budget_s, confirm_share=confirm_share,
                     ablation_share=ablation_share, objectives=objectives, log_params=frozenset(log_params), search_params=names, started=T0,
                     clock_origin=T0, spent_s=budget_s if phase == "done" else None)
    return StudyTables(meta=meta, trials=tuple(trials), optuna=optuna, summary=summary)


def optuna_rows(trials: list[Trial]) -> tuple[OptunaTrial, ...]:
    """The Optuna view of the search trials (float/int ranges from the values seen, categories as seen)."""
    from optuna.distributions import (
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
        distribution_to_json,
    )

    search = [t for t in trials if t.phase == "search"]
    dists: dict[str, Any] = {}
    for k in dict.fromkeys(k for t in search for k in t.params):
        vals = [t.params[k] for t in search if k in t.params]
        if all(isinstance(v, bool) for v in vals) or not all(isinstance(v, (int, float)) for v in vals):
            dists[k] = CategoricalDistribution(sorted(set(vals), key=repr))
        elif all(isinstance(v, int) for v in vals):
            dists[k] = IntDistribution(min(vals), max(vals) + 1)
        else:
            dists[k] = FloatDistribution(min(vals), max(vals) * 1.01 + 1e-9)
    state = {"finished": "COMPLETE", "pruned": "PRUNED", "budget": "PRUNED", "failed": "FAIL"}
    return tuple(OptunaTrial(i, state.get(t.outcome, "RUNNING"),
                             (t.objective,) if t.outcome == "finished" and t.objective is not None else None,
                             dict(t.params), {k: distribution_to_json(dists[k]) for k in t.params})
                 for i, t in enumerate(search))


def with_optuna(tab: StudyTables) -> StudyTables:
    return replace(tab, optuna=optuna_rows(list(tab.trials)))


def write_folder(folder: Path, tab: StudyTables, *, launch_id: str = "abc123") -> Path:
    """``tab`` as a study folder, written with the study's own writers."""
    import optuna
    from optuna.distributions import json_to_distribution

    from study.common.files import write_json
    from study.tracking.records import TrialRecord, records_dir, trial_key
    from study.tune.journal import TrialOutcome

    folder.mkdir(parents=True, exist_ok=True)
    m = tab.meta
    write_json(folder / "study.json", {"name": m.name, "phase": m.phase, "launch_id": launch_id, "started": m.started,
                                       "budget_s": m.budget_s, "parent_run_id": None, "tracking_uri": None})
    (folder / "study.toml").write_text(
        f'name = "{m.name}"\n[budget]\nconfirm_share = {m.confirm_share}\n[objective]\nmetrics = {json.dumps(list(m.objectives))}\n'
        "[search]\n" + "".join(f"{k} = {{ choice = [0], log = {str(k in m.log_params).lower()} }}\n" for k in m.search_params))
    write_json(folder / "budget.json", {"session_started": m.clock_origin, "spent_before": 0.0, "spent_s": m.spent_s or 0.0})
    if tab.summary is not None:
        write_json(folder / "summary.json", tab.summary)
    for t in tab.trials:
        rec = TrialRecord(records_dir(folder), trial_key(launch_id, t.trial_id))
        t0 = int((t.start or T0) * 1000)
        rec.write({"time": t0, "event": "open", "trial_key": rec.key, "run_name": t.name,
                   "kind": "trial" if t.phase == "search" else "confirmation", "tags": {}, "parent_run_id": None})
        params = {k: v if isinstance(v, str) else json.dumps(v) for k, v in t.config.items()}
        params.update({f"search.{k}": v if isinstance(v, str) else json.dumps(v) for k, v in t.params.items()})
        if t.seed_recipe:
            params["search.seed_recipe"] = t.seed_recipe
        rec.write({"time": t0 + 1, "event": "params", "params": params})
        for e in t.epochs:
            rec.write({"time": t0 + 1000 * (e.epoch + 1), "event": "epoch", "step": e.epoch, "metrics": e.metrics})
        if t.final:
            rec.write({"time": int((t.end or T0) * 1000) - 1, "event": "final", "metrics": t.final})
        status = {"finished": "FINISHED", "failed": "FAILED"}.get(t.outcome, "KILLED")
        rec.write({"time": int((t.end or T0) * 1000), "event": "end", "status": status, "outcome": t.outcome})
        outcome = TrialOutcome(t.trial_id, t.name, t.outcome, t.objective, t.config, t.params,
                               {**t.final, "xs_finished": t.outcome == "finished"}, t.error, t.label)
        with open(folder / f"trials-{t.phase}.jsonl", "a", encoding="utf-8") as f:
            f.write(json.dumps(asdict(outcome)) + "\n")
    if tab.optuna:
        study = optuna.create_study(study_name=m.name, storage=optuna_storage(optuna_file(folder)),
                                    directions=["maximize"] * len(m.objectives))
        states = {s.name: s for s in optuna.trial.TrialState}
        for row in tab.optuna:
            study.add_trial(optuna.trial.create_trial(
                state=states[row.state], values=list(row.values) if row.values else None, params=row.params,
                distributions={k: json_to_distribution(v) for k, v in row.distributions.items()},
                user_attrs={"xs_skipped": "would not fit"} if row.skipped else {}))
    return folder
