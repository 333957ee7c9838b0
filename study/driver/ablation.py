"""The ablation phase: after the confirmation, the winner with each of its chapter-7 techniques
switched back to the baseline's setting, one at a time, re-run with the winner's own seeds.

Planned like the confirmation (:mod:`study.analysis.planning`, from the search's timings; only
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

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from study.analysis.outcomes import AblationOutcome
from study.driver.design import final_only
from study.driver.tuner import Runtime, can_restore, fit_phase, grid_tuner
from study.tune.clock import Deadline
from study.tune.journal import read_outcomes

if TYPE_CHECKING:
    from study.analysis.ablation import Variant
    from study.driver.done import Outcomes
    from study.spec import StudySpec

__all__ = ["run_ablation"]


@dataclass
class _Plan:
    """The winner, its seeds and its variants: those to train, those read from its own models, those left out."""

    label: str
    winner: dict[str, Any]
    runs: dict[int, float]  # the winner's objective per confirmation seed
    seeds: list[int]
    planned: list[Variant]  # to train, the most promising first
    free: dict[str, tuple[Variant, dict[int, float]]]  # evaluation-only: technique -> (variant, the winner's plain accuracies)
    skipped: list[dict[str, str]]


def run_ablation(spec: StudySpec, rt: Runtime, done: Outcomes) -> AblationOutcome:
    """Run the winner's variants in what is left of the budget; each technique's paired contribution."""
    from ray import tune

    plan = _plan(spec, done, rt)
    if isinstance(plan, AblationOutcome):
        return plan
    if not plan.planned:
        return _report(plan, spec.level, 0, {})
    jobs: list[dict[str, Any]] = [
        {"label": f"without {v.technique}", "trial": {**v.config(plan.winner), "seed": seed, "eval_every": final_only(spec)},
         "ablates": v.technique,
         "confirms": plan.label}
        for v in plan.planned for seed in plan.seeds
    ]
    end = Deadline(rt.clock, spec.budget.phase_end_s("ablation"))
    left = end.time() - time.time()
    if not can_restore(rt, "ablation"):  # a restored phase goes on with the runs it planned
        jobs = _fit(jobs, plan, done, rt, left)
        if not jobs:
            rt.say(f"ablation: no variant of {plan.label} that needs training fits in the {left:.0f} s left; not starting any")
            if plan.free:
                return _report(plan, spec.level, 0, {})
            return AblationOutcome(spec.level, winner=plan.label, skipped=tuple(plan.skipped),
                                   note=f"no variant fits in the {left:.0f} s left; raise --time-budget or ablation_share")
    techniques = list(dict.fromkeys(j["ablates"] for j in jobs))
    param_space = {"job": tune.grid_search(jobs), "xs": {**rt.common, "kind": "ablation", "deadline": end.to_dict()}}

    def build() -> Any:
        rt.say(f"ablation: {plan.label} without each of {', '.join(techniques)}, on its {len(plan.seeds)} seeds "
               f"= {len(jobs)} runs, {left:.0f} s left")
        return grid_tuner(rt, "ablation", param_space, end, spec.budget.time_s)

    fit_phase(rt, "ablation", build, param_space)
    return _report(plan, spec.level, len(jobs), _variant_runs(rt, plan, techniques))


def _plan(spec: StudySpec, done: Outcomes, rt: Runtime) -> _Plan | AblationOutcome:
    """What the ablation will do, or its outcome when there is nothing to ablate."""
    from study.analysis.ablation import order_by_promise, variants

    level = spec.level
    if spec.budget.ablation_share <= 0:
        return AblationOutcome(level, note="off (ablation_share = 0 in the study file)")
    confirm = done.require_confirm()
    best = confirm.best
    if best is None or best.label == "baseline" or not best.config:
        return AblationOutcome(level, note="no confirmed winner other than the baseline: nothing to ablate")
    baseline = confirm.baseline.config if confirm.baseline else None
    if not baseline:
        return AblationOutcome(level, note="the baseline was not confirmed: nothing to ablate against")
    label, winner = best.label, dict(best.config)
    recipe = next((r for r in confirm.techniques if r.arm == label), None)
    if recipe is not None:
        return AblationOutcome(level, winner=label, note=f"{label} is the {recipe.recipe} recipe: one technique ({recipe.technique}), "
                                                         "whose comparison with the baseline is its ablation (the technique table)")
    found, skipped = variants(winner, baseline)
    planned = order_by_promise(found, done.require_search().outcomes.values())
    if not planned:
        return AblationOutcome(level, winner=label, skipped=tuple(skipped),
                               note=f"{label} uses none of the chapter's techniques differently from the baseline")
    seeds = sorted(best.by_seed)
    if len(seeds) < 2:
        return AblationOutcome(level, winner=label, note=f"{label} has {len(seeds)} confirmed seed(s); a paired test needs 2")
    plain = best.accuracy_by_seed
    free = {v.technique: (v, {s: plain[s] for s in seeds}) for v in planned if v.evaluation_only and set(seeds) <= set(plain)}
    for technique in free:
        rt.say(f"ablation: {label} without {technique} is its own {len(seeds)} models evaluated without it (no training)")
    for v in planned:  # a variant the confirmation compared already (a recipe, the baseline): its runs, on shared seeds
        same = next((c for c in confirm.configs.values() if c.config == v.config(winner) and c.label != label), None)
        if v.technique not in free and same is not None and len(set(seeds) & set(same.by_seed)) >= 2:
            free[v.technique] = (v, {s: same.by_seed[s] for s in seeds if s in same.by_seed})
            rt.say(f"ablation: {label} without {v.technique} is {same.label}, compared already: its runs (no training)")
    return _Plan(label, winner, dict(best.by_seed), seeds, [v for v in planned if v.technique not in free], free, skipped)


def _fit(jobs: list[dict[str, Any]], plan: _Plan, done: Outcomes, rt: Runtime, left: float) -> list[dict[str, Any]]:
    """The runs that finish in the ``left`` seconds, whole techniques only (a technique with fewer pairs
    than seeds is judged on less); the techniques left out are added to the plan's ``skipped``."""
    from study.analysis.planning import CostModel, plan_runs
    from trainable.config import TrialConfig

    model = CostModel.from_outcomes(done.require_search().outcomes.values())
    if model is None:
        return jobs
    n = plan_runs([TrialConfig.from_dict(j["trial"]).cost() for j in jobs], model, rt.slots, left).fits
    n -= n % len(plan.seeds)
    for v in plan.planned[n // len(plan.seeds):]:
        plan.skipped.append({"technique": v.technique, "reason": f"would not finish in the {left:.0f} s left"})
    return jobs[:n]


def _variant_runs(rt: Runtime, plan: _Plan, techniques: list[str]) -> dict[str, tuple[Variant, dict[int, float]]]:
    """The finished variant runs of the phase, by technique; techniques without any are added to ``skipped``."""
    by_technique: dict[str, dict[int, float]] = {}
    for o in read_outcomes(Path(rt.journal("ablation"))).values():
        if o.outcome == "finished" and o.label and o.objective is not None:
            by_technique.setdefault(o.label.removeprefix("without "), {})[int(o.config["seed"])] = o.objective
    variant_of = {v.technique: v for v in plan.planned}
    for t in techniques:
        if t not in by_technique:
            plan.skipped.append({"technique": t, "reason": "no run of it finished within the budget"})
    return {t: (variant_of[t], by_technique[t]) for t in techniques if t in by_technique}


def _report(plan: _Plan, level: float, n_jobs: int, trained: dict[str, tuple[Variant, dict[int, float]]]) -> AblationOutcome:
    """Each technique's paired contribution, Holm over all of them (trained and evaluation-only together)."""
    from study.analysis.ablation import contributions

    results = contributions(plan.runs, {**trained, **plan.free}, level=level)
    rows = tuple(dataclasses.replace(c, evaluation_only=c.technique in plan.free and plan.free[c.technique][0].evaluation_only)
                 for c in sorted(results, key=lambda c: -c.contribution))
    return AblationOutcome(level, winner=plan.label, seeds=tuple(plan.seeds), runs=n_jobs,
                           finished=sum(len(r) for _, r in trained.values()), techniques=rows, skipped=tuple(plan.skipped))
