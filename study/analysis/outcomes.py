"""The outcomes of the phases after the search, as typed records: what the confirmation and the
ablation found, with their verdicts decided once, at the study's level, where the phase judged them.

Every reader after the phase — ``summary.json``, the end-of-study text, the MLflow parent run's
metrics and description, the dashboard's answer and ablation panels — reads these records; none
of them computes a verdict again. Each record is saved as one JSON file in the study folder
(``confirm.json``, ``ablation.json``) and embedded in ``summary.json`` in the same flat layout
(:meth:`ConfirmOutcome.to_dict`, :meth:`AblationOutcome.to_dict`), from which ``from_dict`` reads
it back, tolerating what an older or damaged file lacks.
"""

from __future__ import annotations

import json
import math
import statistics
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping

from study.analysis.ablation import Contribution
from study.analysis.confirm import ConfigSummary, Verdict
from study.analysis.sequential import LookPlan
from study.analysis.techniques import DecisionRecord, TechniqueRow

__all__ = ["AblationOutcome", "ConfirmOutcome", "ConfirmedConfig", "VerdictRecord"]


def _num(x: Any) -> float | None:
    return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) else None


def _by_seed(x: Any) -> dict[int, float]:
    """``{"1000": 0.8, ...}`` (JSON's string keys) as ``{1000: 0.8}``; anything unreadable is left out."""
    out: dict[int, float] = {}
    for k, v in (x.items() if isinstance(x, dict) else ()):
        try:
            seed = int(k)
        except (TypeError, ValueError):
            continue
        if _num(v) is not None:
            out[seed] = float(v)
    return out


@dataclass(frozen=True)
class ConfirmedConfig:
    """One configuration re-run on the confirmation's fresh seeds."""

    label: str  # "baseline" or the search trial it repeats
    values: tuple[float, ...]  # objective of each finished run
    by_seed: dict[int, float] = field(default_factory=dict)  # seed -> objective
    accuracy_by_seed: dict[int, float] = field(default_factory=dict)  # seed -> accuracy without TTA (the same models)
    config: dict[str, Any] | None = None  # the TrialConfig it ran (None when not recorded)

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def mean(self) -> float:
        return statistics.fmean(self.values) if self.values else float("nan")

    @property
    def std(self) -> float:
        return statistics.stdev(self.values) if len(self.values) >= 2 else float("nan")

    def summary(self) -> ConfigSummary:
        """The runs as the verdict's input (paired by seed when every run has one)."""
        if self.by_seed and len(self.by_seed) == len(self.values):
            pairs = sorted(self.by_seed.items())
            return ConfigSummary(self.label, tuple(v for _, v in pairs), tuple(k for k, _ in pairs))
        return ConfigSummary(self.label, self.values)

    def to_dict(self) -> dict[str, Any]:
        std = self.std
        return {"mean": self.mean, "std": std, "n": self.n, "values": list(self.values),
                "by_seed": {str(k): x for k, x in sorted(self.by_seed.items())},
                "accuracy_by_seed": {str(k): x for k, x in sorted(self.accuracy_by_seed.items())}, "config": self.config}

    @classmethod
    def from_dict(cls, label: str, d: Mapping[str, Any]) -> ConfirmedConfig:
        values = tuple(float(v) for v in d.get("values") or [] if _num(v) is not None)
        config = d.get("config") if isinstance(d.get("config"), dict) else None
        return cls(label, values, _by_seed(d.get("by_seed")), _by_seed(d.get("accuracy_by_seed")), config)


@dataclass(frozen=True)
class VerdictRecord:
    """The confirmation's verdict as decided (:class:`study.analysis.confirm.Verdict`), flattened to plain values."""

    sentence: str  # what the terminal, the parent run and the dashboard print
    best: str  # the configuration with the best confirmed mean
    beats_baseline: bool | None  # None: no test (too few seeds, no baseline)
    level: float  # the confidence level it was decided at (the study's)
    difference: float | None = None  # best − baseline (paired: the mean of the per-seed differences)
    noise: float | None = None  # standard error of that difference
    test: str | None = None  # "paired" | "welch" | None (no test)
    ci_low: float | None = None
    ci_high: float | None = None
    statistic: float | None = None
    dof: float | None = None
    p_value: float | None = None
    p_adjusted: float | None = None  # Holm over the configurations confirmed
    family: int | None = None
    n_pairs: int | None = None
    p_welch: float | None = None  # Welch's test of the same runs, ignoring the pairing

    @classmethod
    def of(cls, v: Verdict, level: float) -> VerdictRecord:
        c = v.comparison
        return cls(
            sentence=v.sentence(), best=v.best.label, beats_baseline=v.beats_baseline, level=level,
            difference=v.difference, noise=v.noise, test=c.test if c else None, ci_low=c.ci_low if c else None,
            ci_high=c.ci_high if c else None, statistic=c.statistic if c else None, dof=c.dof if c else None,
            p_value=c.p_value if c else None, p_adjusted=c.p_adjusted if c else None, family=c.family if c else None,
            n_pairs=c.n_a if c and c.test == "paired" else None,
            p_welch=v.independent.p_value if v.independent else (c.p_value if c and c.test == "welch" else None),
        )


# summary.json's key for each VerdictRecord field (the sentence is "verdict" there).
_VERDICT_KEYS = {f.name: ("verdict" if f.name == "sentence" else f.name) for f in fields(VerdictRecord)}


@dataclass(frozen=True)
class ConfirmOutcome:
    """What the confirmation phase found: every comparison with the baseline as the sequential
    procedure decided it, the technique table, and the verdict on the best configuration."""

    level: float  # the study's confidence level (also when no test was made)
    runs: int | None = None  # runs started (None: the phase planned none: skipped, or nothing to confirm)
    finished: int = 0  # runs that finished
    configs: dict[str, ConfirmedConfig] = field(default_factory=dict)  # every arm's runs on the phase's fresh seeds
    verdict: VerdictRecord | None = None  # the best configuration against the baseline
    note: str | None = None  # why there is no confirmation, or what it could not do
    techniques: tuple[TechniqueRow, ...] = ()  # chapter 7's techniques, each alone against the baseline
    decisions: dict[str, DecisionRecord] = field(default_factory=dict)  # every arm's decision
    plan: LookPlan | None = None  # the looks planned before any result
    ended: str | None = None  # why the phase ended when it did

    def config(self, label: str | None) -> ConfirmedConfig | None:
        return self.configs.get(label) if label is not None else None

    @property
    def best(self) -> ConfirmedConfig | None:
        """The configuration the verdict names (the best confirmed mean)."""
        return self.config(self.verdict.best) if self.verdict else None

    @property
    def baseline(self) -> ConfirmedConfig | None:
        return self.configs.get("baseline")

    def to_dict(self) -> dict[str, Any]:
        """The flat layout of ``summary.json["confirmation"]`` and ``confirm.json``."""
        out: dict[str, Any] = {}
        if self.runs is not None:
            out.update(runs=self.runs, finished=self.finished)
        if self.configs:
            out["configs"] = {label: c.to_dict() for label, c in self.configs.items()}
            if self.verdict is not None:
                out.update({_VERDICT_KEYS[k]: v for k, v in asdict(self.verdict).items()})
            else:
                out.update(verdict=None, beats_baseline=None)
        if self.note is not None:
            out["note"] = self.note
        out["level"] = self.level
        if self.techniques:
            out["techniques"] = [r.to_dict() for r in self.techniques]
        if self.decisions:
            out["decisions"] = {arm: asdict(d) for arm, d in self.decisions.items()}
        if self.plan is not None:
            out["plan"] = self.plan.to_dict()
        if self.ended is not None:
            out["ended"] = self.ended
        return out

    @classmethod
    def from_dict(cls, d: Any, level: float) -> ConfirmOutcome:
        """From ``to_dict``'s layout; ``level`` is used when the record has none (older summaries)."""
        if not isinstance(d, dict):
            return cls(level=level)
        configs = {str(k): ConfirmedConfig.from_dict(str(k), v) for k, v in (d.get("configs") or {}).items()
                   if isinstance(v, dict)} if isinstance(d.get("configs"), dict) else {}
        own_level = _num(d.get("level")) or level
        verdict = None
        if isinstance(d.get("verdict"), str) and isinstance(d.get("best"), str):
            kw: dict[str, Any] = {k: d.get(key) for k, key in _VERDICT_KEYS.items()}
            kw["level"] = _num(d.get("level")) or level
            kw["beats_baseline"] = d.get("beats_baseline") if isinstance(d.get("beats_baseline"), bool) else None
            verdict = VerdictRecord(**kw)
        runs = int(d["runs"]) if isinstance(d.get("runs"), int) else None
        techniques = tuple(TechniqueRow.from_dict(r) for r in d.get("techniques") or [] if isinstance(r, dict))
        decisions = {str(k): DecisionRecord.from_dict(v) for k, v in (d.get("decisions") or {}).items() if isinstance(v, dict)} \
            if isinstance(d.get("decisions"), dict) else {}
        return cls(level=own_level, runs=runs, finished=int(d.get("finished") or 0), configs=configs,
                   verdict=verdict, note=str(d["note"]) if d.get("note") else None, techniques=techniques,
                   decisions=decisions, plan=_plan(d.get("plan")), ended=str(d["ended"]) if d.get("ended") else None)

    def save(self, path: Path) -> None:
        from study.common.files import write_json

        write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: Path, level: float) -> ConfirmOutcome:
        return cls.from_dict(json.loads(path.read_text(encoding="utf-8")), level)


def _plan(d: Any) -> LookPlan | None:
    if not isinstance(d, dict):
        return None
    try:
        return LookPlan.from_dict(d)
    except (KeyError, TypeError, ValueError):
        return None


@dataclass(frozen=True)
class AblationOutcome:
    """What the ablation phase found: each technique of the winner and its paired contribution."""

    level: float
    winner: str | None = None  # the confirmed configuration ablated
    seeds: tuple[int, ...] = ()  # its confirmation seeds, on which every variant ran
    runs: int = 0  # variant runs planned (evaluation-only ones have none)
    finished: int = 0
    techniques: tuple[Contribution, ...] = ()  # the largest contribution first
    skipped: tuple[dict[str, str], ...] = ()  # {"technique", "reason"}: not ablated, and why
    note: str | None = None  # why there is no ablation

    @property
    def evaluation_only(self) -> tuple[str, ...]:
        """Techniques judged on the winner's own models (no runs of their own)."""
        return tuple(sorted(c.technique for c in self.techniques if c.evaluation_only))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.winner is not None:
            out["winner"] = self.winner
        if self.techniques or self.seeds:
            out.update(seeds=list(self.seeds), level=self.level, runs=self.runs, finished=self.finished,
                       techniques=[c.to_dict() for c in self.techniques], evaluation_only=list(self.evaluation_only))
        if self.skipped or self.techniques:
            out["skipped"] = [dict(s) for s in self.skipped]
        if self.note is not None:
            out["note"] = self.note
        out.setdefault("level", self.level)
        return out

    @classmethod
    def from_dict(cls, d: Any, level: float) -> AblationOutcome:
        if isinstance(d, list):  # the bare list of rows of the first summaries
            d = {"techniques": d}
        if not isinstance(d, dict):
            return cls(level=level)
        rows = tuple(c for c in (Contribution.from_dict(r) for r in d.get("techniques") or [] if isinstance(r, dict))
                     if c is not None)
        skipped = tuple({"technique": str(s.get("technique")), "reason": str(s.get("reason"))}
                        for s in d.get("skipped") or [] if isinstance(s, dict))
        seeds = tuple(int(s) for s in d.get("seeds") or [] if isinstance(s, int) and not isinstance(s, bool))
        return cls(level=_num(d.get("level")) or level, winner=str(d["winner"]) if d.get("winner") else None, seeds=seeds,
                   runs=int(d.get("runs") or 0), finished=int(d.get("finished") or 0), techniques=rows, skipped=skipped,
                   note=str(d["note"]) if d.get("note") else None)

    def save(self, path: Path) -> None:
        from study.common.files import write_json

        write_json(path, self.to_dict())

    @classmethod
    def load(cls, path: Path, level: float) -> AblationOutcome:
        return cls.from_dict(json.loads(path.read_text(encoding="utf-8")), level)
