"""Confirmation runs: a search reports its luckiest trial, so re-run the top configurations and
the baseline with fresh seeds and compare means against the seed-to-seed noise.

The verdict rule: the best configuration *beats the baseline* when its mean exceeds the baseline's
by more than twice the standard error of the difference, sqrt(s_a²/n_a + s_b²/n_b) (a Welch-style
two-sigma rule; with one seed each there is no noise estimate and no verdict).
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Any, Iterable

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
    noise: float | None  # standard error of the difference
    beats_baseline: bool | None  # None: no noise estimate

    def sentence(self) -> str:
        if self.baseline is None:
            return f"best {self.best.label}: {self.best.mean:.4f} ± {self.best.std:.4f} over {self.best.n} seeds (no baseline to compare)"
        text = (
            f"best {self.best.label}: {self.best.mean:.4f} ± {_fmt(self.best.std)} over {self.best.n} seeds; "
            f"baseline {self.baseline.mean:.4f} ± {_fmt(self.baseline.std)} over {self.baseline.n}; "
            f"difference {self.difference or 0.0:+.4f}"
        )
        if self.best is self.baseline:
            return text + ": no configuration beat the baseline on average"
        if self.beats_baseline is None or self.noise is None:
            return text + " (too few seeds to judge the noise)"
        if self.beats_baseline:
            return text + f", more than 2× the seed noise ({self.noise:.4f}): it beats the baseline"
        return text + f", within 2× the seed noise ({self.noise:.4f}): not shown to beat the baseline"


def _fmt(x: float) -> str:
    return "n/a" if math.isnan(x) else f"{x:.4f}"


def group_runs(rows: Iterable[tuple[str, float]]) -> dict[str, ConfigSummary]:
    """Group ``(label, objective)`` rows into per-configuration summaries."""
    grouped: dict[str, list[float]] = {}
    for label, value in rows:
        grouped.setdefault(label, []).append(float(value))
    return {k: ConfigSummary(k, tuple(v)) for k, v in grouped.items()}


def verdict(summaries: dict[str, ConfigSummary], baseline_label: str = "baseline") -> Verdict | None:
    """The configuration with the best mean, compared with the baseline."""
    if not summaries:
        return None
    best = max(summaries.values(), key=lambda s: s.mean)
    base = summaries.get(baseline_label)
    if base is None or base is best:
        return Verdict(best, base, 0.0 if base is best else None, None, None if base is None else False)
    diff = best.mean - base.mean
    if best.n < 2 or base.n < 2:
        return Verdict(best, base, diff, None, None)
    noise = math.sqrt(best.std**2 / best.n + base.std**2 / base.n)
    return Verdict(best, base, diff, noise, diff > 2 * noise)


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
