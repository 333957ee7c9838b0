"""Confirmation runs: a search reports its luckiest trial, so re-run the top configurations and
the baseline with fresh seeds and compare means against the seed-to-seed noise.

The verdict is Welch's t-test of the best configuration's runs against the baseline's
(:func:`study.analysis.verdict.welch`), at the study's confidence level; when several
configurations were confirmed against the baseline, their p-values are Holm-corrected as one
family. With fewer than two runs on a side there is no test, and the verdict says so.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Any, Iterable

from study.analysis.verdict import DEFAULT_LEVEL, Comparison, holm_correct, welch

__all__ = ["ConfigSummary", "CostModel", "Verdict", "group_runs", "runs_that_fit", "verdict", "top_configs"]


@dataclass(frozen=True)
class ConfigSummary:
    label: str  # e.g. "baseline" or the trial it confirms
    values: tuple[float, ...]  # objective per seed

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def mean(self) -> float:
        return statistics.fmean(self.values) if self.values else float("nan")

    @property
    def std(self) -> float:
        return statistics.stdev(self.values) if len(self.values) >= 2 else float("nan")


@dataclass(frozen=True)
class Verdict:
    best: ConfigSummary
    baseline: ConfigSummary | None
    difference: float | None  # best.mean - baseline.mean
    noise: float | None  # standard error of the difference, sqrt(s_a²/n_a + s_b²/n_b); None: too few seeds
    beats_baseline: bool | None  # None: no test (too few seeds, or no baseline)
    comparison: Comparison | None = None  # Welch's test of best against baseline (Holm-adjusted in a family)

    def sentence(self) -> str:
        if self.baseline is None:
            return f"best {self.best.label}: {self.best.mean:.4f} ± {_fmt(self.best.std)} over {self.best.n} seeds (no baseline to compare)"
        text = (
            f"best {self.best.label}: {self.best.mean:.4f} ± {_fmt(self.best.std)} over {self.best.n} seeds; "
            f"baseline {self.baseline.mean:.4f} ± {_fmt(self.baseline.std)} over {self.baseline.n}"
        )
        if self.best is self.baseline or self.comparison is None:
            return text + "; difference +0.0000: no configuration beat the baseline on average"
        text += f"; {self.comparison.verdict}"
        if self.beats_baseline:
            return text + ": it beats the baseline"
        if self.beats_baseline is False:
            return text + ": not shown to beat the baseline"
        return text

    def to_dict(self) -> dict[str, Any]:
        """The verdict's numbers for ``summary.json`` (and the dashboard, the parent run)."""
        c = self.comparison
        return {
            "verdict": self.sentence(), "beats_baseline": self.beats_baseline, "best": self.best.label,
            "difference": self.difference, "noise": self.noise, "test": c.test if c else None,
            "level": c.level if c else None, "ci_low": c.ci_low if c else None, "ci_high": c.ci_high if c else None,
            "statistic": c.statistic if c else None, "dof": c.dof if c else None, "p_value": c.p_value if c else None,
            "p_adjusted": c.p_adjusted if c else None, "family": c.family if c else None,
        }


def _fmt(x: float) -> str:
    return "n/a" if math.isnan(x) else f"{x:.4f}"


def group_runs(rows: Iterable[tuple[str, float]]) -> dict[str, ConfigSummary]:
    """Group ``(label, objective)`` rows into per-configuration summaries."""
    grouped: dict[str, list[float]] = {}
    for label, value in rows:
        grouped.setdefault(label, []).append(float(value))
    return {k: ConfigSummary(k, tuple(v)) for k, v in grouped.items()}


def verdict(summaries: dict[str, ConfigSummary], baseline_label: str = "baseline",
            level: float = DEFAULT_LEVEL) -> Verdict | None:
    """The configuration with the best mean, judged against the baseline by Welch's t-test.

    Every confirmed configuration is compared with the baseline; the family's p-values are
    Holm-corrected, and the best one's adjusted p-value decides at ``level``.
    """
    if not summaries:
        return None
    best = max(summaries.values(), key=lambda s: s.mean)
    base = summaries.get(baseline_label)
    if base is None or base is best:
        return Verdict(best, base, 0.0 if base is best else None, None, None if base is None else False)
    family = holm_correct([welch(s.values, base.values, level=level, label_a=s.label, label_b=baseline_label)
                           for s in summaries.values() if s is not base])
    mine = next(c for c in family if c.label_a == best.label)
    noise = math.sqrt(best.std**2 / best.n + base.std**2 / base.n) if best.n >= 2 and base.n >= 2 else None
    shown = mine.shown
    return Verdict(best, base, best.mean - base.mean, noise,
                   None if shown is None else bool(shown and mine.difference > 0), mine)


def top_configs(outcomes: Iterable[Any], k: int) -> list[Any]:
    """The ``k`` finished trials with the highest objective, distinct configurations only."""
    if k <= 0:
        return []
    seen, out = set(), []
    finished = [o for o in outcomes if o.outcome == "finished" and o.objective is not None]
    for o in sorted(finished, key=lambda o: o.objective, reverse=True):
        key = tuple(sorted((kk, str(v)) for kk, v in o.config.items() if kk != "seed"))
        if key in seen:
            continue
        seen.add(key)
        out.append(o)
        if len(out) == k:
            break
    return out


# ------------------------------------------------------------------------------------------------
# What fits in the time left
# ------------------------------------------------------------------------------------------------

ACTOR_START_S = 3.0  # a new Tune phase starts new worker processes (Ray + imports), measured ~3 s on 2 CPUs


@dataclass(frozen=True)
class CostModel:
    """Seconds of a trial from its cost (epochs × size²), from what the search's trials took.

    ``seconds_per_cost``: median of ``time_total_s / cost`` over finished trials. ``startup_s``:
    what the first trial of a worker process took beyond that (importing torch, starting CUDA,
    loading the data), median over processes, plus :data:`ACTOR_START_S`. A new phase pays it once
    per slot.
    """

    seconds_per_cost: float
    startup_s: float

    def seconds(self, cost: float) -> float:
        return self.seconds_per_cost * cost

    @classmethod
    def from_outcomes(cls, outcomes: Iterable[Any]) -> "CostModel | None":
        done = [o for o in outcomes if o.outcome == "finished" and o.result.get("cost") and o.result.get("time_total_s")]
        if not done:
            return None
        rate = statistics.median(float(o.result["time_total_s"]) / float(o.result["cost"]) for o in done)
        first: dict[Any, Any] = {}  # worker process -> its first trial (finished ones carry their start)
        for o in done:
            start = float(o.result.get("timestamp", 0)) - float(o.result["time_total_s"])
            pid = o.result.get("pid")
            if pid is not None and (pid not in first or start < first[pid][0]):
                first[pid] = (start, o)
        extra = [max(0.0, float(o.result["time_total_s"]) - rate * float(o.result["cost"])) for _, o in first.values()]
        return cls(rate, (statistics.median(extra) if extra else 0.0) + ACTOR_START_S)


def runs_that_fit(durations: list[float], slots: int, left_s: float, startup_s: float) -> int:
    """How many of the runs, in order, finish within ``left_s`` on ``slots`` slots (each starting after ``startup_s``)."""
    free = [startup_s] * max(slots, 1)
    n = 0
    for d in durations:
        i = min(range(len(free)), key=free.__getitem__)
        if free[i] + d > left_s:
            break
        free[i] += d
        n += 1
    return n
