"""The confirmation phase: every chapter-7 technique alone, and the search's best configurations,
against the baseline on shared seeds, decided seed by seed.

The *arms* are the book's one-technique recipes the space can express (each with its search run
as its first pair: the same seed as the search's baseline run) and the top ``confirm_top``
configurations of the search that are not recipes (fresh seeds only: their search score chose
them). Every arm and the baseline run on the same fresh seeds (study seed + 1000 + k), so the
runs pair up. The test-time augmentation arm trains nothing: the baseline's runs are evaluated
with the TTA recipe's passes too, and their plain accuracy is the baseline's value.

The looks (when the arms are tested, and the alpha each may spend) are planned from the time
left before any result and saved with the phase (``confirm-plan.json``), so a resumed phase tests
as it planned. The runs are chosen by :class:`study.tune.comparisons.ComparisonSearch`; the
decisions are :func:`study.analysis.sequential.decide`'s, made once here, at the study's level,
into a :class:`study.analysis.outcomes.ConfirmOutcome` with the technique table.
"""

from __future__ import annotations

import json
import statistics
import time
from typing import TYPE_CHECKING, Any

from study.analysis.outcomes import ConfirmOutcome
from study.driver.design import Design, design_comparisons
from study.driver.tuner import Runtime, can_restore, fit_phase, load_trainable, run_config, trial_dirname
from study.tune.clock import Deadline

if TYPE_CHECKING:
    from study.analysis.sequential import LookPlan
    from study.driver.done import Outcomes
    from study.spec import StudySpec

__all__ = ["CONFIRM_SEED_OFFSET", "run_confirmations"]

CONFIRM_SEED_OFFSET = 1000  # confirmation seeds: study seed + 1000 + k, never a seed the search used
PLAN_FILE = "confirm-plan.json"


def run_confirmations(spec: StudySpec, rt: Runtime, done: Outcomes) -> ConfirmOutcome:
    """Compare every arm with the baseline, seed by seed, until each is settled or the time is up."""
    from ray import tune

    from study.tune.comparisons import ComparisonSearch
    from study.tune.monitor import StudyMonitor

    search = done.require_search()
    if spec.budget.confirm_top == 0:
        return ConfirmOutcome(spec.level, note="skipped (--confirm-top 0)")
    design = design_comparisons(spec, search, rt)
    if len(design.arms) < 2:
        return ConfirmOutcome(spec.level, note="no finished trial to confirm")
    end = Deadline(rt.clock, spec.budget.phase_end_s(_deadline_phase(spec, design, rt)))
    left = end.time() - time.time()
    if left < 5 and not can_restore(rt, "confirm"):
        return ConfirmOutcome(spec.level, note="no time left for the confirmation runs; raise --time-budget or confirm_share")
    plan, fresh = _plan(spec, design, rt, left)
    param_space = {"xs": {**rt.common, "kind": "confirmation", "deadline": end.to_dict()}}

    def build() -> Any:
        rt.say(f"confirm: {len(design.arms) - 1} comparisons with the baseline ({', '.join(a.name for a in design.arms[1:])}); "
               f"{plan.describe()}; {left:.0f} s left")
        searcher = ComparisonSearch(design.arms, design.jobs, fresh, plan, end, rt.slots, rt.say)
        monitor = StudyMonitor(clock=rt.clock, deadline_at=end, budget_s=spec.budget.time_s, tracking_uri=rt.tracking_uri,
                               phase="confirm", status_every_s=rt.status_every_s, journal=rt.journal("confirm"), watch=rt.watch)
        return tune.Tuner(
            tune.with_resources(load_trainable(rt.trainable), rt.resources()),
            param_space=param_space,
            tune_config=tune.TuneConfig(search_alg=searcher, num_samples=-1, max_concurrent_trials=rt.slots,
                                        reuse_actors=True, trial_dirname_creator=trial_dirname),
            run_config=run_config(rt, "confirm", monitor, end),
        )

    fit_phase(rt, "confirm", build, param_space)
    from study.driver.judge import judge

    return judge(spec, search, design, plan, fresh, rt, end)


def _deadline_phase(spec: StudySpec, design: Design, rt: Runtime) -> str:
    """Whose deadline the confirmation keeps: its own, or the ablation's when no ablation could train.

    The ablation's share is kept only when a compared configuration that is not a recipe switches
    on two or more techniques that need training: a recipe's comparison with the baseline is its
    ablation already, TTA's variant is evaluation-only, and a single trained technique is what the
    technique table measures alone, on more seeds. Otherwise the ablation runs in whatever the
    confirmation leaves.
    """
    from study.analysis.ablation import needs_training

    recipe_arms = {name for _, name, _ in design.recipes.values()}
    base = design.configs["baseline"]
    combined = [a for a in design.arms[1:] if a.name not in recipe_arms and len(needs_training(design.configs[a.name], base)) >= 2]
    if spec.budget.ablation_share > 0 and combined:
        return "confirm"
    if spec.budget.ablation_share > 0:
        rt.say("confirm: no compared configuration combines two techniques that need training (the technique table "
               "measures each alone), so the confirmation may use the ablation's time")
    return "ablation"


def _plan(spec: StudySpec, design: Design, rt: Runtime, left: float) -> tuple[LookPlan, list[int]]:
    """The looks and the fresh seeds, fixed before any result: from the time left, or as an earlier session saved them."""
    from study.analysis.sequential import LookPlan, plan_looks

    path = rt.study_dir / PLAN_FILE
    if path.exists():
        d = json.loads(path.read_text(encoding="utf-8"))
        return LookPlan.from_dict(d), list(d["fresh"])
    first = max(2, spec.budget.confirm_seeds)
    most = _most_pairs(design, first, rt.slots, left)
    plan = plan_looks(first, min(most, spec.budget.max_seeds) if spec.budget.max_seeds else most, spec.level, spec.margin)
    fresh = [spec.seed + CONFIRM_SEED_OFFSET + k for k in range(plan.most + 8)]  # spares for runs that fail
    from study.common.files import write_json

    write_json(path, {**plan.to_dict(), "fresh": fresh})
    return plan, fresh


def _most_pairs(design: Design, first: int, slots: int, left: float) -> int:
    """The most pairs one arm could get: every arm to the first look, then the rest of the time to one arm and the baseline."""
    base = design.jobs["baseline"].seconds
    trained = [design.jobs[a.job].seconds for a in design.arms[1:] if a.job != "baseline"]
    if base <= 0:
        return first + 4  # no timings (no finished search trial): a few looks' worth
    first_look = sum((first - len(a.free)) * design.jobs[a.job].seconds for a in design.arms[1:] if a.job != "baseline")
    first_look += (first - len(design.arms[0].free)) * base
    rest = left * slots - first_look
    per_pair = base + (statistics.median(trained) if trained else 0.0)
    return first + max(0, int(rest // per_pair)) if rest > 0 else first


