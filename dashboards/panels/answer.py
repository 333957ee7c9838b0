"""Panel 1, the answer: the best configuration against the book baseline, with the confirmation's
verdict and the winner's curse (the best search score is the luckiest draw of many; its
confirmation with fresh seeds is the honest one)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from dashboards.tables import StudyTables, Trial

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


def _confirmed_from_trials(tables: StudyTables) -> dict[str, dict[str, Any]]:
    groups: dict[str, list[float]] = {}
    seeds: dict[str, dict[str, float]] = {}
    for t in tables.finished("confirm"):
        if t.label is not None and t.objective is not None:
            groups.setdefault(t.label, []).append(t.objective)
            if isinstance(t.config.get("seed"), int):
                seeds.setdefault(t.label, {})[str(t.config["seed"])] = t.objective
    out = {}
    for label, values in groups.items():
        mean = sum(values) / len(values)
        std = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1)) if len(values) > 1 else None
        out[label] = {"mean": mean, "std": std, "n": len(values), "values": values, "by_seed": seeds.get(label, {})}
    return out


def answer_info(tables: StudyTables) -> AnswerInfo:
    """The numbers of the answer panel, from ``summary.json`` when the study wrote one, else from the trials so far."""
    from study.analysis.confirm import ConfigSummary, from_summary, verdict

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

    conf = summary.get("confirmation") if isinstance(summary.get("confirmation"), dict) else None
    configs = (conf or {}).get("configs") if conf else None
    if not isinstance(configs, dict):
        configs = _confirmed_from_trials(tables)
    confirmed: list[Confirmed] = []
    for label, c in configs.items():
        values = tuple(float(v) for v in c.get("values") or [] if _num(v) is not None)
        mean = _num(c.get("mean"))
        if mean is None:
            continue
        score = base_obj if label == "baseline" else (search[label].objective if label in search else None)
        confirmed.append(Confirmed(label, mean, _num(c.get("std")), int(c.get("n") or len(values)), values, score))
    confirmed.sort(key=lambda c: (c.label == "baseline", c.label != best_name, -c.mean))

    paired_up = from_summary(configs)  # with their seeds, so that the verdict pairs the runs as the study did
    summaries = {c.label: paired_up.get(c.label) or ConfigSummary(c.label, c.values or (c.mean,)) for c in confirmed}
    v = verdict(summaries, "baseline") if summaries else None
    mine = next((c for c in confirmed if c.label == best_name), None)
    note = None
    if conf and conf.get("note"):
        note = str(conf["note"])
    elif not confirmed:
        note = "no confirmation run has finished" + ("" if tables.meta.phase == "done" else " yet")
    if tables.summary is None:
        note = (note + "; " if note else "") + f"the study has no summary yet (phase {tables.meta.phase!r}): numbers so far"
    # The summary's test is of the confirmation's best mean; when that is not the search's pick (the
    # baseline's mean was higher, say), this panel's numbers are the search's pick against the baseline.
    same = conf is not None and conf.get("best") in (None, best_name)
    base_c = next((c for c in confirmed if c.label == "baseline"), None)
    own_diff = own_noise = None
    if mine is not None and base_c is not None:
        own_diff = mine.mean - base_c.mean
        if mine.n >= 2 and base_c.n >= 2 and mine.std is not None and base_c.std is not None:
            own_noise = (mine.std**2 / mine.n + base_c.std**2 / base_c.n) ** 0.5
    ci = (_num(conf.get("ci_low")), _num(conf.get("ci_high"))) if conf and same else (None, None)
    return AnswerInfo(
        best_name=best_name,
        best_objective=best_obj,
        changes=changes,
        baseline_name=base_name,
        baseline_objective=base_obj,
        confirmed=tuple(confirmed),
        difference=(own_diff if own_diff is not None and not same else
                    _num(conf.get("difference")) if conf and _num(conf.get("difference")) is not None else (v.difference if v else None)),
        noise=(own_noise if own_diff is not None and not same else
               _num(conf.get("noise")) if conf and _num(conf.get("noise")) is not None else (v.noise if v else None)),
        verdict=str(conf["verdict"]) if conf and conf.get("verdict") else (v.sentence() if v else None),
        beats_baseline=conf.get("beats_baseline") if conf and "beats_baseline" in conf else (v.beats_baseline if v else None),
        p_value=_num(conf.get("p_value")) if conf and same else None,
        ci=(ci[0], ci[1]) if ci[0] is not None and ci[1] is not None else None,
        level=_num(conf.get("level")) if conf else None,
        winners_curse=best_obj - mine.mean if mine is not None else None,
        note=note,
    )
