"""The study's first answer: chapter 7's techniques one by one, each alone against the baseline.

Every technique the study's space can express has a one-technique recipe (the baseline with that
technique switched on: :mod:`study.spec.seeds`); the confirmation runs each recipe and the
baseline on the same seeds and decides each comparison with the sequential procedure of
:mod:`study.analysis.sequential`. This module turns those decisions into the table a user reads
first: per technique, the verdict in words, the paired difference with its interval and p-value,
the seed-by-seed values, and the settings the search found best for that technique. A technique
the space cannot express gets a row that says so.

Compute only: :func:`technique_rows` builds the rows; the driver stores them, everyone reads them.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any, Iterable, Mapping

from study.analysis.ablation import TECHNIQUES
from study.analysis.sequential import SEEDS_CAP, ArmDecision

__all__ = ["CHAPTER", "DecisionRecord", "TechniqueRow", "best_settings", "technique_rows"]

# Chapter 7's techniques, in the book's order (image size joins them when the study searches it).
CHAPTER = ("normalization", "progressive resizing", "test-time augmentation", "mixup", "label smoothing")


def _num(x: Any) -> float | None:
    return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) else None


@dataclass(frozen=True)
class DecisionRecord:
    """One comparison against the baseline as the sequential procedure decided it, in plain values."""

    arm: str
    verdict: str  # helped | hurt | undecided | no difference shown
    pairs: int  # pairs (seeds shared with the baseline) the arm has
    level: float
    look: int | None = None  # the look that decided it (1-based); None: not decided
    difference: float | None = None  # mean paired difference, arm − baseline (over the deciding look's pairs, else all)
    stderr: float | None = None
    ci_low: float | None = None  # interval at the study's level, unadjusted
    ci_high: float | None = None
    statistic: float | None = None  # paired t
    dof: float | None = None
    p_value: float | None = None  # two-sided, of that test alone
    p_adjusted: float | None = None  # over the family and the looks: decided iff below 1 - level
    threshold: float | None = None  # what p had to beat at the deciding (or last) look
    more_seeds: int | None = None  # undecided: about this many more pairs would likely decide it
    margin: float | None = None  # the plan's margin: "no difference shown" means the interval lies within ± this

    @classmethod
    def of(cls, d: ArmDecision, level: float, margin: float | None = None) -> DecisionRecord:
        t = d.test
        stderr = abs(t.difference / t.statistic) if t is not None and t.statistic else None
        return cls(arm=d.arm, verdict=d.verdict, pairs=d.pairs, level=level, look=d.look, margin=margin,
                   difference=t.difference if t else None, stderr=stderr, ci_low=t.ci_low if t else None,
                   ci_high=t.ci_high if t else None, statistic=t.statistic if t else None, dof=t.dof if t else None,
                   p_value=t.p_value if t else None, p_adjusted=d.p_adjusted, threshold=d.threshold, more_seeds=d.more_seeds)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> DecisionRecord:
        def opt_int(x: Any) -> int | None:
            return int(x) if isinstance(x, int) and not isinstance(x, bool) else None

        return cls(arm=str(d.get("arm")), verdict=str(d.get("verdict")), pairs=int(d.get("pairs") or 0),
                   level=_num(d.get("level")) or 0.95, look=opt_int(d.get("look")), difference=_num(d.get("difference")),
                   stderr=_num(d.get("stderr")), ci_low=_num(d.get("ci_low")), ci_high=_num(d.get("ci_high")),
                   statistic=_num(d.get("statistic")), dof=_num(d.get("dof")), p_value=_num(d.get("p_value")),
                   p_adjusted=_num(d.get("p_adjusted")), threshold=_num(d.get("threshold")),
                   more_seeds=opt_int(d.get("more_seeds")), margin=_num(d.get("margin")))

    def label(self, compact: bool = False) -> str:
        """The verdict in a few words, for tables: "undecided (about 4 more seeds)"."""
        if self.verdict != "undecided":
            return self.verdict
        if self.more_seeds:
            return f"undecided (~{self.more_seeds} more)" if compact else f"undecided (about {self.more_seeds} more seeds)"
        if self.pairs < 2:  # no spread to go by yet
            return self.verdict
        return f"undecided (>{SEEDS_CAP} seeds)" if compact else f"undecided (a long shot: over {SEEDS_CAP} seeds)"

    def sentence(self) -> str:
        """The verdict in words with its numbers: "helped: +0.098 (95 % CI +0.05 to +0.14; paired t …)"."""
        if self.difference is None:
            need = f"; about {self.more_seeds} more seed(s) would likely decide it" if self.more_seeds else ""
            return f"{self.verdict}: {self.pairs} pair(s), too few for a test{need}"
        pct = f"{100 * self.level:g} %"
        text = f"{self.verdict}: {self.difference:+.4f}"
        if self.ci_low is not None and self.ci_high is not None:
            text += f" ({pct} CI {self.ci_low:+.4f} to {self.ci_high:+.4f}"
            if self.p_value is not None and self.statistic is not None and self.dof is not None:
                text += f"; paired t = {self.statistic:.2f}, {self.dof:g} dof, p = {_p(self.p_value)}"
            if self.p_adjusted is not None:
                text += f", adjusted {_p(self.p_adjusted)}"
            text += f"; {self.pairs} pairs)"
        if self.verdict == "undecided" and self.more_seeds:
            text += f"; about {self.more_seeds} more seed(s) would likely decide it"
        elif self.verdict == "undecided":
            text += f"; its interval is too wide to call it no difference, and over {SEEDS_CAP} seeds would be needed to decide it"
        elif self.verdict == "no difference shown":
            within = f"±{self.margin:g}" if self.margin is not None else "the margin"
            text += f"; the interval lies within {within}, the smallest difference the study asks about"
        return text


def _p(p: float) -> str:
    return f"{p:.2g}" if p >= 0.001 else f"{p:.1e}"


@dataclass(frozen=True)
class TechniqueRow:
    """One chapter-7 technique: alone against the baseline, or why it was not compared."""

    technique: str  # e.g. "mixup"
    recipe: str | None  # the one-technique recipe's label (None: the space cannot switch it on)
    arm: str | None  # the comparison's name in the confirmation (the recipe's search trial, when it has one)
    decision: DecisionRecord | None  # None: not compared
    why_not: str | None = None  # why there is no comparison
    setting: dict[str, Any] = field(default_factory=dict)  # the recipe's values of the technique's keys
    baseline_by_seed: dict[int, float] = field(default_factory=dict)  # the pairs, seed by seed
    arm_by_seed: dict[int, float] = field(default_factory=dict)
    best_setting: dict[str, Any] = field(default_factory=dict)  # the technique's values in the search's best trial using it
    best_trial: str | None = None
    best_objective: float | None = None

    @property
    def verdict(self) -> str:
        return self.decision.verdict if self.decision is not None else "not compared"

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["baseline_by_seed"] = {str(k): v for k, v in sorted(self.baseline_by_seed.items())}
        d["arm_by_seed"] = {str(k): v for k, v in sorted(self.arm_by_seed.items())}
        d["verdict"] = self.verdict
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TechniqueRow:
        def seeds(x: Any) -> dict[int, float]:
            return {int(k): float(v) for k, v in (x.items() if isinstance(x, dict) else ()) if _num(v) is not None}

        dec = d.get("decision")
        return cls(technique=str(d.get("technique")), recipe=d.get("recipe") if isinstance(d.get("recipe"), str) else None,
                   arm=d.get("arm") if isinstance(d.get("arm"), str) else None,
                   decision=DecisionRecord.from_dict(dec) if isinstance(dec, dict) else None,
                   why_not=str(d["why_not"]) if d.get("why_not") else None, setting=dict(d.get("setting") or {}),
                   baseline_by_seed=seeds(d.get("baseline_by_seed")), arm_by_seed=seeds(d.get("arm_by_seed")),
                   best_setting=dict(d.get("best_setting") or {}),
                   best_trial=str(d["best_trial"]) if d.get("best_trial") else None,
                   best_objective=_num(d.get("best_objective")))


def _on(config: Mapping[str, Any], baseline: Mapping[str, Any], keys: tuple[str, ...]) -> bool:
    return any(k in config and config.get(k) != baseline.get(k) for k in keys)


def best_settings(technique: str, outcomes: Iterable[Any], baseline: Mapping[str, Any]) -> tuple[dict[str, Any], Any]:
    """The technique's values in the best finished search trial that uses it (and that trial), or ``({}, None)``."""
    keys = TECHNIQUES[technique]
    using = [o for o in outcomes if getattr(o, "outcome", None) == "finished" and getattr(o, "objective", None) is not None
             and _on(o.config, baseline, keys)]
    if not using:
        return {}, None
    best = max(using, key=lambda o: o.objective)
    return {k: best.config[k] for k in keys if k in best.config}, best


def technique_rows(techniques: Iterable[str], recipes: Mapping[str, tuple[str, str, dict[str, Any]]],
                   decisions: Mapping[str, DecisionRecord], values: Mapping[str, Mapping[int, float]],
                   outcomes: Iterable[Any], baseline: Mapping[str, Any], why_not: Mapping[str, str]) -> tuple[TechniqueRow, ...]:
    """The table: one row per technique, in the chapter's order.

    ``recipes``: technique -> (recipe label, arm name, the recipe's config); ``decisions`` and
    ``values`` (seed -> objective, the baseline's under ``"baseline"``) by arm name; ``why_not``:
    technique -> why it has no comparison (not in the space, or the phase could not run it).
    """
    outcomes = list(outcomes)
    rows = []
    for technique in techniques:
        best, trial = best_settings(technique, outcomes, baseline)
        name, objective = getattr(trial, "name", None), _num(getattr(trial, "objective", None))
        if technique not in recipes or recipes[technique][1] not in decisions:
            reason = why_not.get(technique) or "the study's space cannot switch it on"
            rows.append(TechniqueRow(technique, recipes[technique][0] if technique in recipes else None, None, None, reason,
                                     best_setting=best, best_trial=name, best_objective=objective))
            continue
        label, arm, config = recipes[technique]
        base_runs, arm_runs = values.get("baseline", {}), values.get(arm, {})
        shared = sorted(set(base_runs) & set(arm_runs))
        setting = {k: config[k] for k in TECHNIQUES[technique] if k in config}
        rows.append(TechniqueRow(technique, label, arm, decisions[arm], None, setting,
                                 {s: base_runs[s] for s in shared}, {s: arm_runs[s] for s in shared},
                                 best_setting=best, best_trial=name, best_objective=objective))
    return tuple(rows)
