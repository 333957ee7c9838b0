"""The confirmation phase: the top configurations and the baseline again, with fresh seeds.

A search reports its luckiest trial; re-running the top K with fresh seeds, planned with the
search's own timings so that only runs that can finish start (:class:`study.analysis.CostModel`),
gives means to compare against the seed-to-seed noise. Every configuration gets the same seeds
(the k-th run of each uses seed + 1000 + k), so the runs pair up for the paired test.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from study.driver.tuner import Runtime, can_restore, fit_phase, grid_tuner, runtime_spec
from study.tune.clock import Deadline
from study.tune.monitor import read_outcomes
from study.tune.reporting import RUN_ID_KEY

if TYPE_CHECKING:
    from study.driver.search import SearchOutcome
    from study.spec import StudySpec

__all__ = ["run_confirmations"]

CONFIRM_SEED_OFFSET = 1000  # confirmation seeds: study seed + 1000 + k, never a seed the search used


def _ablation_trains(spec: StudySpec, configs: list[dict[str, Any]], baseline: dict[str, Any]) -> bool:
    """Whether the ablation after this confirmation may have variants to train (so its share is kept)."""
    from study.analysis.ablation import needs_training

    return spec.budget.ablation_share > 0 and any(needs_training(cfg, baseline) for cfg in configs)


def _run_ids(rt: Runtime, trial_ids: list[str]) -> dict[str, str]:
    """The MLflow run ids of search trials whose report had none (the driver sent their runs: a SQLite store)."""
    info = rt.common.get("tracking")
    if not info or not trial_ids:
        return {}
    from study.tracking import trial_key, trial_run_ids

    keys = {trial_key(rt.common["launch_id"], t): t for t in trial_ids}
    return {keys[k]: run_id for k, run_id in trial_run_ids(info["uri"], info["experiment_id"], list(keys)).items()}


def run_confirmations(spec: StudySpec, search: SearchOutcome, rt: Runtime, *, baseline: dict[str, Any]) -> dict[str, Any]:
    """Re-run the top K configurations and the baseline with fresh seeds; compare the means."""
    from ray import tune

    from study.analysis.confirm import CostModel, group_runs, runs_that_fit, top_configs, verdict
    from study.spec import to_trial_config

    say = rt.say
    k, n_seeds = spec.budget.confirm_top, spec.budget.confirm_seeds
    if k == 0:
        return {"note": "skipped (--confirm-top 0)"}
    top = top_configs(search.outcomes.values(), k)
    if not top:
        return {"note": "no finished trial to confirm"}
    spec = runtime_spec(spec, rt)
    entries = [("baseline", to_trial_config(spec, baseline).to_dict(), "baseline")]
    run_ids = _run_ids(rt, [o.trial_id for o in top if not o.result.get(RUN_ID_KEY)])
    for o in top:
        if o.config == entries[0][1]:
            continue  # the baseline itself made the top K
        entries.append((o.name, o.config, o.result.get(RUN_ID_KEY) or run_ids.get(o.trial_id) or o.name))
    # Seed-major order: if the budget runs out, every configuration has the same number of seeds.
    jobs: list[dict[str, Any]] = [
        {"label": label, "trial": {**cfg, "seed": spec.seed + CONFIRM_SEED_OFFSET + s}, "confirms": confirms}
        for s in range(n_seeds)
        for label, cfg, confirms in entries
    ]
    # The ablation's share is kept only for variants it would have to train: when the confirmed
    # configurations' techniques are evaluation-only (TTA), or the phase is off, the confirmation may use it.
    phase = "confirm" if _ablation_trains(spec, [cfg for label, cfg, _ in entries[1:]], entries[0][1]) else "ablation"
    end = Deadline(rt.clock, spec.budget.phase_end_s(phase))
    left = end.time() - time.time()
    restoring = can_restore(rt, "confirm")  # the interrupted phase goes on with the runs it planned
    if phase == "ablation" and spec.budget.ablation_share > 0:
        say("confirm: the ablation of these configurations needs no training (TTA only); the confirmation may use its time")
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
        return grid_tuner(rt, "confirm", param_space, end, spec.budget.time_s)

    fit_phase(rt, "confirm", build, param_space)
    rows: list[tuple[str, float, int]] = []
    by_seed: dict[str, dict[int, float]] = {}
    plain: dict[str, dict[int, float]] = {}  # accuracy without TTA, per seed: the same models, evaluated plainly
    config_of = {label: cfg for label, cfg, _ in entries}
    for o in read_outcomes(Path(rt.journal("confirm"))).values():
        if o.outcome == "finished" and o.label is not None and o.objective is not None:
            rows.append((o.label, o.objective, int(o.config["seed"])))
            by_seed.setdefault(o.label, {})[int(o.config["seed"])] = o.objective
            if isinstance(o.result.get("accuracy"), (int, float)):
                plain.setdefault(o.label, {})[int(o.config["seed"])] = float(o.result["accuracy"])
    if not rows:
        return {"runs": len(jobs), "finished": 0,
                "note": f"none of the {len(jobs)} confirmation runs finished within the budget; "
                        f"raise --time-budget or confirm_share"}
    summaries = group_runs(rows)
    v = verdict(summaries, "baseline", level=spec.level)
    return {
        "runs": len(jobs),
        "finished": len(rows),
        "configs": {s.label: {"mean": s.mean, "std": s.std, "n": s.n, "values": list(s.values),
                              "by_seed": {str(k): x for k, x in sorted(by_seed.get(s.label, {}).items())},
                              "accuracy_by_seed": {str(k): x for k, x in sorted(plain.get(s.label, {}).items())},
                              "config": config_of.get(s.label)} for s in summaries.values()},
        **(v.to_dict() if v else {"verdict": None, "beats_baseline": None}),
        "level": spec.level,  # the study's, also when no test was made (the baseline was best)
    }
