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
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from study.analysis.outcomes import ConfirmedConfig, ConfirmOutcome
from study.driver.tuner import Runtime, can_restore, fit_phase, load_trainable, run_config, trial_dirname
from study.tune.clock import Deadline
from study.tune.journal import read_outcomes
from study.tune.reporting import RUN_ID_KEY

if TYPE_CHECKING:
    from study.analysis.sequential import LookPlan
    from study.driver.done import Outcomes
    from study.driver.search import SearchOutcome
    from study.spec import StudySpec
    from study.tune.comparisons import Arm, Job

__all__ = ["CONFIRM_SEED_OFFSET", "Design", "run_confirmations"]

CONFIRM_SEED_OFFSET = 1000  # confirmation seeds: study seed + 1000 + k, never a seed the search used
PLAN_FILE = "confirm-plan.json"
TTA_KEYS = ("tta_n", "tta_beta", "tta_max")


@dataclass(frozen=True)
class Design:
    """What the phase compares: the arms (the baseline first), the jobs that give their values, and the table's sources."""

    arms: list[Arm]
    jobs: dict[str, Job]
    recipes: dict[str, tuple[str, str, dict[str, Any]]]  # technique -> (recipe label, arm name, its config)
    configs: dict[str, dict[str, Any]]  # arm -> the TrialConfig it stands for (TTA: the baseline's with TTA)
    techniques: tuple[str, ...]  # the chapter's techniques the table has a row for
    why_not: dict[str, str]  # technique -> why it has no comparison


def run_confirmations(spec: StudySpec, rt: Runtime, done: Outcomes) -> ConfirmOutcome:
    """Compare every arm with the baseline, seed by seed, until each is settled or the time is up."""
    from ray import tune

    from study.tune.comparisons import ComparisonSearch
    from study.tune.monitor import StudyMonitor

    search = done.require_search()
    if spec.budget.confirm_top == 0:
        return ConfirmOutcome(spec.level, note="skipped (--confirm-top 0)")
    design = _design(spec, search, rt)
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
                               phase="confirm", status_every_s=rt.status_every_s, journal=rt.journal("confirm"))
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


def _design(spec: StudySpec, search: SearchOutcome, rt: Runtime) -> Design:
    """The arms, their jobs and the technique table's sources, from the search's recipes and best trials."""
    from study.analysis.ablation import TECHNIQUES
    from study.analysis.confirm import top_configs
    from study.analysis.planning import CostModel
    from study.analysis.techniques import CHAPTER
    from study.spec import to_trial_config
    from study.spec.seeds import RECIPE_TECHNIQUE, seed_points
    from study.tune.comparisons import Arm, Job
    from trainable.config import TrialConfig

    model = CostModel.from_outcomes(search.outcomes.values())

    def job(label: str, config: dict[str, Any], confirms: str) -> Job:
        cost = TrialConfig.from_dict({**config, "seed": spec.seed}).cost()
        return Job(label, config, confirms, model.seconds(cost) if model else 0.0)

    def unseeded(cfg: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in cfg.items() if k != "seed"}

    base_cfg = unseeded(to_trial_config(spec, search.baseline_params).to_dict())
    points = dict(seed_points(spec, to_trial_config(spec, {})))
    recipe_runs = {o.recipe: o for o in search.outcomes.values() if o.outcome == "finished" and o.recipe}
    base_run = recipe_runs.get("baseline") or search.baseline
    free = {int(base_run.config["seed"]): float(base_run.objective)} if base_run is not None and base_run.objective is not None else {}
    tta_point = points.get("tta")
    tta = {k: v for k, v in unseeded(to_trial_config(spec, tta_point).to_dict()).items() if k in TTA_KEYS} if tta_point else {}
    jobs = {"baseline": job("baseline", {**base_cfg, **tta}, "baseline")}
    arms: list[Arm] = [Arm("baseline", "baseline", "accuracy", free)]
    configs: dict[str, dict[str, Any]] = {"baseline": base_cfg}
    recipes: dict[str, tuple[str, str, dict[str, Any]]] = {}
    for label, params in points.items():
        if label == "baseline" or label not in RECIPE_TECHNIQUE:
            continue
        technique = RECIPE_TECHNIQUE[label]
        cfg = unseeded(to_trial_config(spec, params).to_dict())
        run = recipe_runs.get(label)
        name = run.name if run is not None else f"recipe {label}"
        own = {int(run.config["seed"]): float(run.objective)} if run is not None and run.objective is not None else {}
        if label == "tta":  # the baseline's own runs, evaluated with TTA: nothing to train
            arms.append(Arm(name, "baseline", "accuracy_tta", own))
        else:
            jobs[name] = job(name, cfg, (run.result.get(RUN_ID_KEY) if run is not None else None) or name)
            arms.append(Arm(name, name, "objective", own))
        configs[name] = cfg
        recipes[technique] = (label, name, cfg)
    recipe_cfgs = [base_cfg] + [c for _, _, c in recipes.values()]
    run_ids = _run_ids(rt, [o.trial_id for o in search.outcomes.values() if not o.result.get(RUN_ID_KEY)])
    for o in top_configs(search.outcomes.values(), spec.budget.confirm_top):
        cfg = unseeded(o.config)
        if cfg in recipe_cfgs or o.name in configs:
            continue  # a recipe is compared already, with its search run as its first pair
        jobs[o.name] = job(o.name, cfg, o.result.get(RUN_ID_KEY) or run_ids.get(o.trial_id) or o.name)
        arms.append(Arm(o.name, o.name, "objective", {}))  # fresh seeds only: its search score chose it
        configs[o.name] = cfg
    searched = {p.name for p in spec.params}
    techniques = CHAPTER + (("image size",) if "size" in searched else ())
    why_not = {t: f"the study's space cannot switch it on (it searches none of {', '.join(TECHNIQUES[t])})"
               for t in techniques if t not in recipes}
    return Design(arms, jobs, recipes, configs, techniques, why_not)


def _deadline_phase(spec: StudySpec, design: Design, rt: Runtime) -> str:
    """Whose deadline the confirmation keeps: its own, or the ablation's when no ablation could train.

    Only a winner that combines techniques has an ablation to train (a recipe's comparison with
    the baseline is its ablation already, and TTA's variant is evaluation-only), so the ablation's
    share is kept only when a compared configuration that is not a recipe switches on two or more.
    """
    from study.analysis.ablation import needs_training

    recipe_arms = {name for _, name, _ in design.recipes.values()}
    base = design.configs["baseline"]
    combined = [a for a in design.arms[1:] if a.name not in recipe_arms and len(needs_training(design.configs[a.name], base)) >= 2]
    if spec.budget.ablation_share > 0 and combined:
        return "confirm"
    if spec.budget.ablation_share > 0:
        rt.say("confirm: no compared configuration combines techniques, so the ablation would train nothing; "
               "the confirmation may use its time")
    return "ablation"


def _plan(spec: StudySpec, design: Design, rt: Runtime, left: float) -> tuple[LookPlan, list[int]]:
    """The looks and the fresh seeds, fixed before any result: from the time left, or as an earlier session saved them."""
    from study.analysis.sequential import LookPlan, plan_looks

    path = rt.study_dir / PLAN_FILE
    if path.exists():
        d = json.loads(path.read_text(encoding="utf-8"))
        return LookPlan(tuple(d["pairs"]), tuple(d["alphas"]), float(d["level"])), list(d["fresh"])
    first = max(2, spec.budget.confirm_seeds)
    most = _most_pairs(design, first, rt.slots, left)
    plan = plan_looks(first, min(most, spec.budget.max_seeds) if spec.budget.max_seeds else most, spec.level)
    fresh = [spec.seed + CONFIRM_SEED_OFFSET + k for k in range(plan.most + 8)]  # spares for runs that fail
    from study.common.files import write_json

    write_json(path, {"pairs": list(plan.pairs), "alphas": list(plan.alphas), "level": plan.level, "fresh": fresh})
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


def _run_ids(rt: Runtime, trial_ids: list[str]) -> dict[str, str]:
    """The MLflow run ids of search trials whose report had none (the driver sent their runs: a SQLite store)."""
    info = rt.common.get("tracking")
    if not info or not trial_ids:
        return {}
    from study.tracking import trial_key, trial_run_ids

    keys = {trial_key(rt.common["launch_id"], t): t for t in trial_ids}
    return {keys[k]: run_id for k, run_id in trial_run_ids(info["uri"], info["experiment_id"], list(keys)).items()}


def arm_values(design: Design, journal: Path) -> tuple[dict[str, dict[int, float]], dict[tuple[str, int], dict[str, Any]], int]:
    """Each arm's value per seed (its free ones too), every finished run's result by (job, seed), and how many runs started."""
    runs: dict[tuple[str, int], dict[str, Any]] = {}
    started = 0
    for o in read_outcomes(journal).values():
        started += 1
        if o.outcome == "finished" and o.label is not None:
            runs[(o.label, int(o.config["seed"]))] = o.result
    values: dict[str, dict[int, float]] = {}
    for a in design.arms:
        mine = dict(a.free)
        for (job, seed), result in runs.items():
            if job == a.job and isinstance(result.get(a.reads), (int, float)):
                mine[seed] = float(result[a.reads])
        values[a.name] = mine
    return values, runs, started


def confirmed_configs(design: Design, values: dict[str, dict[int, float]], runs: dict[tuple[str, int], dict[str, Any]],
                      fresh: list[int]) -> dict[str, ConfirmedConfig]:
    """Every arm's runs on the phase's fresh seeds (not its search run), with its plain accuracy per seed."""
    out = {}
    for a in design.arms:
        by_seed = {s: v for s, v in values[a.name].items() if s in fresh}
        plain = {s: float(runs[(a.job, s)]["accuracy"]) for s in by_seed if isinstance(runs.get((a.job, s), {}).get("accuracy"), (int, float))}
        if by_seed:
            out[a.name] = ConfirmedConfig(a.name, tuple(v for _, v in sorted(by_seed.items())), by_seed, plain, design.configs[a.name])
    return out
