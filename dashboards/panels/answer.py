"""Panel 1, the answer: the best configuration against the book baseline, with the confirmation's
verdict and the winner's curse (the best search score is the luckiest draw of many; its
confirmation with fresh seeds is the honest one)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dashboards.tables import StudyTables, Trial

if TYPE_CHECKING:
    from study.analysis.outcomes import ConfirmedConfig

__all__ = ["AnswerInfo", "Confirmed", "answer_info"]


@dataclass(frozen=True)
class Confirmed:
    """One configuration re-run with fresh seeds."""

    label: str  # "baseline" or the search trial it repeats
    mean: float
    std: float | None  # None with a single seed
    n: int
    values: tuple[float, ...]
    search_score: float | None  # the objective the search trial of this configuration scored


@dataclass(frozen=True)
class AnswerInfo:
    best_name: str | None = None
    best_objective: float | None = None  # search score of the best trial
    changes: dict[str, Any] = field(default_factory=dict)  # the best trial's config where it differs from the base
    baseline_name: str | None = None
    baseline_objective: float | None = None  # search score of the book baseline
    confirmed: tuple[Confirmed, ...] = ()  # best first, then the others, baseline last
    difference: float | None = None  # confirmed best mean − confirmed baseline mean
    noise: float | None = None  # standard error of that difference
    verdict: str | None = None  # the study's own sentence
    beats_baseline: bool | None = None
    p_value: float | None = None  # when the confirmation reports one
    ci: tuple[float, float] | None = None  # confidence interval of the difference, when reported
    level: float | None = None  # its level (e.g. 0.95)
    winners_curse: float | None = None  # best's search score − its confirmed mean
    note: str | None = None  # why there is no confirmation, or that the study is not done
    reason: str | None = None  # why the panel has nothing to show


def _num(x: Any) -> float | None:
    return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) else None


def _best_search(tables: StudyTables) -> Trial | None:
    done = tables.finished("search")
    return max(done, key=lambda t: t.objective or 0.0) if done else None


def _baseline_search(tables: StudyTables) -> Trial | None:
    return next((t for t in tables.finished("search") if t.seed_recipe == "baseline"), None)


def _confirmed_from_trials(tables: StudyTables) -> dict[str, ConfirmedConfig]:
    """The confirmation runs finished so far, by configuration (a study still running: no verdict yet)."""
    from study.analysis.outcomes import ConfirmedConfig

    values: dict[str, list[float]] = {}
    seeds: dict[str, dict[int, float]] = {}
    for t in tables.finished("confirm"):
        if t.label is not None and t.objective is not None:
            values.setdefault(t.label, []).append(t.objective)
            if isinstance(t.config.get("seed"), int):
                seeds.setdefault(t.label, {})[int(t.config["seed"])] = t.objective
    return {label: ConfirmedConfig(label, tuple(vs), seeds.get(label, {})) for label, vs in values.items()}


def answer_info(tables: StudyTables) -> AnswerInfo:
    """The numbers of the answer panel: the verdict as the confirmation phase decided it (``summary.json``),
    or, while the study has no summary, the confirmation runs so far without a verdict."""
    from study.analysis.outcomes import ConfirmOutcome

    summary = tables.summary or {}
    search = {t.name: t for t in tables.phase("search")}
    best_rec = summary.get("best_trial") if isinstance(summary.get("best_trial"), dict) else None
    best = _best_search(tables)
    best_name = best_rec["name"] if best_rec else (best.name if best else None)
    best_obj = _num(best_rec.get("objective")) if best_rec else (best.objective if best else None)
    if best_name is None or best_obj is None:
        failed = sum(1 for t in tables.phase("search") if t.outcome == "failed")
        why = "no search trial has finished yet" if not tables.trials else (
            f"no search trial finished ({len(tables.phase('search'))} ran, {failed} failed)")
        return AnswerInfo(reason=why + "; there is no best configuration to show")
    changes = dict(best_rec.get("changes_from_base") or {}) if best_rec else (dict(best.params) if best else {})
    base_rec = summary.get("baseline_trial") if isinstance(summary.get("baseline_trial"), dict) else None
    base = _baseline_search(tables)
    base_name = base_rec["name"] if base_rec else (base.name if base else None)
    base_obj = _num(base_rec.get("objective")) if base_rec else (base.objective if base else None)

    level = _num(summary.get("level")) or tables.meta.level
    recorded = summary.get("confirmation") if tables.summary is not None else tables.confirmation
    outcome = ConfirmOutcome.from_dict(recorded, level) if recorded is not None or tables.summary is not None else None
    configs = outcome.configs if outcome is not None else _confirmed_from_trials(tables)
    confirmed = [Confirmed(label, c.mean, _num(c.std), c.n, c.values,
                           base_obj if label == "baseline" else (search[label].objective if label in search else None))
                 for label, c in configs.items() if _num(c.mean) is not None]
    confirmed.sort(key=lambda c: (c.label == "baseline", c.label != best_name, -c.mean))

    note = None
    if outcome is not None and outcome.note:
        note = outcome.note
    elif not confirmed:
        note = "no confirmation run has finished" + ("" if tables.meta.phase == "done" else " yet")
    if tables.summary is None:
        so_far = "the confirmation's verdict" if outcome is not None else "runs so far, no verdict until the confirmation ends"
        note = (note + "; " if note else "") + f"the study has no summary yet (phase {tables.meta.phase!r}): {so_far}"

    v = outcome.verdict if outcome is not None else None
    mine = next((c for c in confirmed if c.label == best_name), None)
    # The verdict is of the confirmation's best mean; when that is not the search's pick (the baseline's
    # mean was higher, say), this panel shows the search's pick against the baseline, without a test.
    same = v is not None and v.best == best_name
    base_c = next((c for c in confirmed if c.label == "baseline"), None)
    difference = noise = None
    if same and v is not None:
        difference, noise = v.difference, v.noise
    elif mine is not None and base_c is not None:
        difference = mine.mean - base_c.mean
        if mine.n >= 2 and base_c.n >= 2 and mine.std is not None and base_c.std is not None:
            noise = (mine.std**2 / mine.n + base_c.std**2 / base_c.n) ** 0.5
    return AnswerInfo(
        best_name=best_name,
        best_objective=best_obj,
        changes=changes,
        baseline_name=base_name,
        baseline_objective=base_obj,
        confirmed=tuple(confirmed),
        difference=difference,
        noise=noise,
        verdict=v.sentence if v is not None else None,
        beats_baseline=v.beats_baseline if v is not None else None,
        p_value=v.p_value if same and v is not None else None,
        ci=(v.ci_low, v.ci_high) if same and v is not None and v.ci_low is not None and v.ci_high is not None else None,
        level=v.level if v is not None else (outcome.level if outcome is not None else None),
        winners_curse=best_obj - mine.mean if mine is not None else None,
        note=note,
    )
