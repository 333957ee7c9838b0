"""The confirmation phase: the top configurations and the baseline again, with fresh seeds.

A search reports its luckiest trial; re-running the top K with fresh seeds, planned with the
search's own timings so that only runs that can finish start (:mod:`study.analysis.planning`),
gives means to compare against the seed-to-seed noise. Every configuration gets the same seeds
(the k-th run of each uses seed + 1000 + k), so the runs pair up for the paired test. The verdict
is decided here, once, at the study's level (:class:`study.analysis.outcomes.ConfirmOutcome`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from study.analysis.outcomes import ConfirmedConfig, ConfirmOutcome, VerdictRecord
from study.driver.tuner import Runtime, can_restore, fit_phase, grid_tuner
from study.tune.clock import Deadline
from study.tune.journal import read_outcomes
from study.tune.reporting import RUN_ID_KEY

if TYPE_CHECKING:
    from study.driver.done import Outcomes
    from study.driver.search import SearchOutcome
    from study.spec import StudySpec

__all__ = ["CONFIRM_SEED_OFFSET", "run_confirmations"]

CONFIRM_SEED_OFFSET = 1000  # confirmation seeds: study seed + 1000 + k, never a seed the search used


@dataclass(frozen=True)
class _Entry:
    """A configuration to confirm: its label, its TrialConfig, and what its runs confirm (an MLflow run id or a label)."""

    label: str
    config: dict[str, Any]
    confirms: str


def run_confirmations(spec: StudySpec, rt: Runtime, done: Outcomes) -> ConfirmOutcome:
    """Re-run the top K configurations and the baseline with fresh seeds; judge the best against the baseline."""
    from ray import tune

    from study.analysis.confirm import top_configs

    search = done.require_search()
    if spec.budget.confirm_top == 0:
        return ConfirmOutcome(spec.level, note="skipped (--confirm-top 0)")
    top = top_configs(search.outcomes.values(), spec.budget.confirm_top)
    if not top:
        return ConfirmOutcome(spec.level, note="no finished trial to confirm")
    entries = _entries(spec, search, rt, top)
    jobs: list[dict[str, Any]] = [  # seed-major: if the budget runs out, every configuration has as many seeds
        {"label": e.label, "trial": {**e.config, "seed": spec.seed + CONFIRM_SEED_OFFSET + s}, "confirms": e.confirms}
        for s in range(spec.budget.confirm_seeds) for e in entries
    ]
    end = Deadline(rt.clock, spec.budget.phase_end_s(_deadline_phase(spec, entries, rt)))
    left = end.time() - time.time()
    restoring = can_restore(rt, "confirm")  # the interrupted phase goes on with the runs it planned
    if left < 5 and not restoring:
        return ConfirmOutcome(spec.level, note=f"no time left for the {len(jobs)} confirmation runs; raise --time-budget or confirm_share")
    if not restoring:
        jobs, why_none = _fit(jobs, search, rt, left)
        if why_none is not None:
            return ConfirmOutcome(spec.level, runs=0, note=why_none)
    param_space = {"job": tune.grid_search(jobs), "xs": {**rt.common, "kind": "confirmation", "deadline": end.to_dict()}}

    def build() -> Any:
        n = spec.budget.confirm_seeds
        seeds = f"{n} fresh seeds" if len(jobs) == len(entries) * n else f"up to {n} fresh seeds"
        rt.say(f"confirm: {len(entries)} configurations × {seeds} = {len(jobs)} runs, {left:.0f} s left")
        return grid_tuner(rt, "confirm", param_space, end, spec.budget.time_s)

    fit_phase(rt, "confirm", build, param_space)
    return _judge(rt, spec.level, entries, len(jobs))


def _entries(spec: StudySpec, search: SearchOutcome, rt: Runtime, top: list[Any]) -> list[_Entry]:
    """The baseline first, then the top configurations (the baseline itself is not repeated)."""
    from study.spec import to_trial_config

    baseline = _Entry("baseline", to_trial_config(spec, search.baseline_params).to_dict(), "baseline")
    run_ids = _run_ids(rt, [o.trial_id for o in top if not o.result.get(RUN_ID_KEY)])
    return [baseline] + [_Entry(o.name, o.config, o.result.get(RUN_ID_KEY) or run_ids.get(o.trial_id) or o.name)
                         for o in top if o.config != baseline.config]


def _deadline_phase(spec: StudySpec, entries: list[_Entry], rt: Runtime) -> str:
    """Whose deadline the confirmation keeps: its own, or the ablation's when that ablation would train nothing.

    The ablation's share is kept only for variants it would have to train: when the confirmed
    configurations' techniques are evaluation-only (TTA), or the phase is off, the confirmation may use it.
    """
    from study.analysis.ablation import needs_training

    baseline = entries[0].config
    if spec.budget.ablation_share > 0 and any(needs_training(e.config, baseline) for e in entries[1:]):
        return "confirm"
    if spec.budget.ablation_share > 0:
        rt.say("confirm: the ablation of these configurations needs no training (TTA only); the confirmation may use its time")
    return "ablation"


def _fit(jobs: list[dict[str, Any]], search: SearchOutcome, rt: Runtime, left: float) -> tuple[list[dict[str, Any]], str | None]:
    """The runs that can finish in the ``left`` seconds (the search's trials give the rate); why none can, if none."""
    from study.analysis.planning import CostModel, plan_runs
    from trainable.config import TrialConfig

    model = CostModel.from_outcomes(search.outcomes.values())
    if model is None:
        return jobs, None
    plan = plan_runs([TrialConfig.from_dict(j["trial"]).cost() for j in jobs], model, rt.slots, left)
    if plan.fits == 0:
        rt.say(f"confirm: no confirmation run fits in the {left:.0f} s left ({plan.need()}); not starting any")
        return [], (f"none of the {len(jobs)} confirmation runs would finish in the {left:.0f} s left ({plan.need()}); "
                    "raise --time-budget or confirm_share")
    if plan.fits < len(jobs):
        rt.say(f"confirm: {plan.fits} of the {len(jobs)} runs fit in the {left:.0f} s left ({plan.need()}); the others are not started")
    return jobs[:plan.fits], None


def _judge(rt: Runtime, level: float, entries: list[_Entry], planned: int) -> ConfirmOutcome:
    """The finished runs of the phase, grouped by configuration, and the verdict at ``level``."""
    from study.analysis.confirm import verdict

    by_seed: dict[str, dict[int, float]] = {}
    plain: dict[str, dict[int, float]] = {}  # accuracy without TTA, per seed: the same models, evaluated plainly
    values: dict[str, list[float]] = {}
    finished = 0
    for o in read_outcomes(Path(rt.journal("confirm"))).values():
        if o.outcome == "finished" and o.label is not None and o.objective is not None:
            finished += 1
            seed = int(o.config["seed"])
            values.setdefault(o.label, []).append(o.objective)
            by_seed.setdefault(o.label, {})[seed] = o.objective
            if isinstance(o.result.get("accuracy"), (int, float)):
                plain.setdefault(o.label, {})[seed] = float(o.result["accuracy"])
    if not finished:
        return ConfirmOutcome(level, runs=planned, note=f"none of the {planned} confirmation runs finished within the budget; "
                                                         "raise --time-budget or confirm_share")
    config_of = {e.label: e.config for e in entries}
    configs = {label: ConfirmedConfig(label, tuple(vs), by_seed.get(label, {}), plain.get(label, {}), config_of.get(label))
               for label, vs in values.items()}
    v = verdict({label: c.summary() for label, c in configs.items()}, "baseline", level=level)
    return ConfirmOutcome(level, runs=planned, finished=finished, configs=configs,
                          verdict=VerdictRecord.of(v, level) if v else None)


def _run_ids(rt: Runtime, trial_ids: list[str]) -> dict[str, str]:
    """The MLflow run ids of search trials whose report had none (the driver sent their runs: a SQLite store)."""
    info = rt.common.get("tracking")
    if not info or not trial_ids:
        return {}
    from study.tracking import trial_key, trial_run_ids

    keys = {trial_key(rt.common["launch_id"], t): t for t in trial_ids}
    return {keys[k]: run_id for k, run_id in trial_run_ids(info["uri"], info["experiment_id"], list(keys)).items()}
