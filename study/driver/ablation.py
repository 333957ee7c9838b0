"""The ablation phase: after the confirmation, the winner with each of its chapter-7 techniques
switched back to the baseline's setting, one at a time, re-run with the winner's own seeds.

Planned like the confirmation (:class:`study.analysis.CostModel` from the search's timings; only
the runs that fit in what is left of the budget start), the most promising technique first, all of
a technique's seeds before the next technique's (a technique with one pair cannot be tested).
The numbers are :mod:`study.analysis.ablation`'s; each variant's MLflow run is tagged
``xs.ablates`` with the technique it switches off.

Test-time augmentation changes only how a trained model is evaluated, and every run reports its
accuracy without TTA beside the objective: the winner without TTA is the winner's own
confirmation models, evaluated plainly. That variant needs no training (and no run of its own):
its pairs are the same networks, so they cancel all of the seed's noise.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from study.driver.tuner import Runtime, can_restore, fit_phase, grid_tuner
from study.tune.clock import Deadline
from study.tune.monitor import read_outcomes

if TYPE_CHECKING:
    from study.analysis.ablation import Variant
    from study.driver.search import SearchOutcome
    from study.spec import StudySpec

__all__ = ["run_ablation"]


def _winner(confirm: dict[str, Any]) -> tuple[str, dict[str, Any], dict[int, float], dict[int, float]] | None:
    """The confirmation's best configuration (label, config, objective per seed, accuracy without TTA
    per seed), unless it is the baseline."""
    best = confirm.get("best")
    entry = (confirm.get("configs") or {}).get(best) if isinstance(best, str) else None
    if not isinstance(best, str) or not entry or best == "baseline" or not entry.get("config"):
        return None
    plain = {int(k): float(v) for k, v in (entry.get("accuracy_by_seed") or {}).items()}
    return best, dict(entry["config"]), {int(k): float(v) for k, v in (entry.get("by_seed") or {}).items()}, plain


def run_ablation(spec: StudySpec, search: SearchOutcome, confirm: dict[str, Any], rt: Runtime) -> dict[str, Any]:
    """Run the winner's variants in what is left of the budget; each technique's paired contribution."""
    from ray import tune

    from study.analysis.ablation import order_by_promise, variants
    from study.analysis.confirm import CostModel, runs_that_fit

    say = rt.say
    if spec.budget.ablation_share <= 0:
        return {"note": "off (ablation_share = 0 in the study file)"}
    found = _winner(confirm)
    if found is None:
        return {"note": "no confirmed winner other than the baseline: nothing to ablate"}
    label, winner, winner_runs, winner_plain = found
    baseline = ((confirm.get("configs") or {}).get("baseline") or {}).get("config")
    if not baseline:
        return {"note": "the baseline was not confirmed: nothing to ablate against"}
    planned, skipped = variants(winner, baseline)
    planned = order_by_promise(planned, search.outcomes.values())
    if not planned:
        return {"winner": label, "skipped": skipped,
                "note": f"{label} uses none of the chapter's techniques differently from the baseline"}
    seeds = sorted(winner_runs)
    if len(seeds) < 2:
        return {"winner": label, "note": f"{label} has {len(seeds)} confirmed seed(s); a paired test needs 2"}
    free = [v for v in planned if v.evaluation_only and set(seeds) <= set(winner_plain)]
    planned = [v for v in planned if v not in free]
    free_runs = {v.technique: (v, {s: winner_plain[s] for s in seeds}) for v in free}
    for v in free:
        say(f"ablation: {label} without {v.technique} is its own {len(seeds)} models evaluated without it (no training)")
    if not planned:
        return _report(label, seeds, spec.level, 0, free_runs, winner_runs, skipped, free)
    jobs: list[dict[str, Any]] = [
        {"label": f"without {v.technique}", "trial": {**v.config(winner), "seed": seed}, "ablates": v.technique,
         "confirms": label}
        for v in planned for seed in seeds
    ]
    end = Deadline(rt.clock, spec.budget.phase_end_s("ablation"))
    left = end.time() - time.time()
    restoring = can_restore(rt, "ablation")
    model = None if restoring else CostModel.from_outcomes(search.outcomes.values())
    if model is not None:
        from trainable.config import TrialConfig

        durations = [model.seconds(TrialConfig.from_dict(j["trial"]).cost()) for j in jobs]
        n = runs_that_fit(durations, rt.slots, left, model.startup_s)
        n -= n % len(seeds)  # whole techniques only: a technique with fewer pairs than seeds is judged on less
        for v in planned[n // len(seeds):]:
            skipped.append({"technique": v.technique, "reason": f"would not finish in the {left:.0f} s left"})
        if n == 0:
            say(f"ablation: no variant of {label} that needs training fits in the {left:.0f} s left; not starting any")
            if free_runs:
                return _report(label, seeds, spec.level, 0, free_runs, winner_runs, skipped, free)
            return {"winner": label, "skipped": skipped, "note": f"no variant fits in the {left:.0f} s left; "
                    "raise --time-budget or ablation_share"}
        jobs = jobs[:n]
    techniques = list(dict.fromkeys(j["ablates"] for j in jobs))
    param_space = {"job": tune.grid_search(jobs), "xs": {**rt.common, "kind": "ablation", "deadline": end.to_dict()}}

    def build() -> Any:
        say(f"ablation: {label} without each of {', '.join(techniques)}, on its {len(seeds)} seeds "
            f"= {len(jobs)} runs, {left:.0f} s left")
        return grid_tuner(rt, "ablation", param_space, end, spec.budget.time_s)

    fit_phase(rt, "ablation", build, param_space)
    by_technique: dict[str, dict[int, float]] = {}
    for o in read_outcomes(Path(rt.journal("ablation"))).values():
        if o.outcome == "finished" and o.label and o.objective is not None:
            by_technique.setdefault(o.label.removeprefix("without "), {})[int(o.config["seed"])] = o.objective
    variant_of: dict[str, Variant] = {v.technique: v for v in planned}
    runs = {t: (variant_of[t], by_technique[t]) for t in techniques if t in by_technique}
    for t in techniques:
        if t not in runs:
            skipped.append({"technique": t, "reason": "no run of it finished within the budget"})
    return _report(label, seeds, spec.level, len(jobs), {**runs, **free_runs}, winner_runs, skipped, free)


def _report(label: str, seeds: list[int], level: float, n_jobs: int, runs: dict[str, Any], winner_runs: dict[int, float],
            skipped: list[dict[str, str]], free: list[Any]) -> dict[str, Any]:
    """The ablation's part of ``summary.json``: each technique's paired contribution, Holm over all of them."""
    from study.analysis.ablation import contributions

    results = contributions(winner_runs, runs, level=level)
    untrained = {v.technique for v in free}
    return {
        "winner": label, "seeds": seeds, "level": level, "runs": n_jobs,
        "finished": sum(len(r[1]) for t, r in runs.items() if t not in untrained),
        "techniques": [{**c.to_dict(), "evaluation_only": c.technique in untrained}
                       for c in sorted(results, key=lambda c: -c.contribution)],
        "evaluation_only": sorted(untrained),  # judged on the winner's own models: no runs of their own
        "skipped": skipped,
    }
