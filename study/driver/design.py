"""What the confirmation compares, built from the search: the *arms* (the baseline first, then each
one-technique recipe the space can express, then the search's best configurations that are not
recipes), the *jobs* that give their values (the test-time augmentation arm reads the baseline's own
runs, evaluated with the TTA recipe's passes too), and — after the phase — each arm's values by seed,
read from the phase's journal. Rebuilt the same way in every session, so a resumed phase compares
what it planned."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from study.analysis.outcomes import ConfirmedConfig
from study.tune.journal import read_outcomes
from study.tune.reporting import RUN_ID_KEY

if TYPE_CHECKING:
    from study.driver.search import SearchOutcome
    from study.driver.tuner import Runtime
    from study.spec import StudySpec
    from study.tune.comparisons import Arm, Job

__all__ = ["Design", "arm_values", "confirmed_configs", "design_comparisons", "final_only"]

TTA_KEYS = ("tta_n", "tta_beta", "tta_max")


def final_only(spec: StudySpec) -> int:
    """How often the confirmation's and the ablation's runs are validated: only after their last epoch
    (``eval_every = 0``: nothing reads the curve of a run whose final score is all that is compared;
    the passes saved are ~9 % of a CPU run), unless the study file's [base] asks otherwise."""
    return int(spec.base.get("eval_every", 0))


@dataclass(frozen=True)
class Design:
    """What the phase compares: the arms (the baseline first), the jobs that give their values, and the table's sources."""

    arms: list[Arm]
    jobs: dict[str, Job]
    recipes: dict[str, tuple[str, str, dict[str, Any]]]  # technique -> (recipe label, arm name, its config)
    configs: dict[str, dict[str, Any]]  # arm -> the TrialConfig it stands for (TTA: the baseline's with TTA)
    techniques: tuple[str, ...]  # the chapter's techniques the table has a row for
    why_not: dict[str, str]  # technique -> why it has no comparison


def design_comparisons(spec: StudySpec, search: SearchOutcome, rt: Runtime) -> Design:
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
        return Job(label, {**config, "eval_every": final_only(spec)}, confirms, model.seconds(cost) if model else 0.0)

    def unseeded(cfg: dict[str, Any]) -> dict[str, Any]:  # what a configuration is: not its seed, not how often it is validated
        return {k: v for k, v in cfg.items() if k not in ("seed", "eval_every")}

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
