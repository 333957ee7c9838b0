"""Confirmation runs: a search reports its luckiest trial, so re-run the top configurations and
the baseline with fresh seeds and compare means against the seed-to-seed noise.

Every confirmed configuration runs on the same fresh seeds as the baseline (seed ``k`` of each
is the same number), and the seed fixes the initialization, the data order and the augmentation:
the runs come in pairs, so the verdict is the paired t-test over the shared seeds
(:func:`study.analysis.verdict.paired`), which cancels the noise a seed gives both sides. Where
fewer than two seeds are shared (runs given without their seeds, or cut by the budget
unevenly), it is Welch's t-test of independent runs (:func:`study.analysis.verdict.welch`).
Beside a paired verdict, Welch's test of the same runs is reported too (``Verdict.independent``:
what the runs show ignoring the pairing, a stricter reading). When several configurations were
confirmed, their p-values are Holm-corrected as one family, at the study's confidence level.
With fewer than two runs on a side there is no test, and the verdict says so.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from typing import Any, Iterable

from study.analysis.verdict import DEFAULT_LEVEL, Comparison, holm_correct, paired, welch

__all__ = ["COLD_START_S", "ConfigSummary", "CostModel", "Verdict", "cold_start_seconds", "from_summary", "group_runs",
           "runs_that_fit", "verdict", "top_configs"]


@dataclass(frozen=True)
class ConfigSummary:
    label: str  # e.g. "baseline" or the trial it confirms
    values: tuple[float, ...]  # objective per seed
    seeds: tuple[int, ...] = ()  # the seed of each value, when known (same order): pairs the runs of two configs

    @property
    def by_seed(self) -> dict[int, float]:
        return dict(zip(self.seeds, self.values)) if len(self.seeds) == len(self.values) else {}

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
    noise: float | None  # standard error of the difference (paired: of the mean per-seed difference); None: too few seeds
    beats_baseline: bool | None  # None: no test (too few seeds, or no baseline)
    comparison: Comparison | None = None  # the test of best against baseline (Holm-adjusted in a family)
    independent: Comparison | None = None  # beside a paired verdict: Welch's test of the same runs, unpaired

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
            text += " — it beats the baseline"
        elif self.beats_baseline is False:
            text += " — not shown to beat the baseline"
        w = self.independent
        if w is not None and w.p_value is not None:
            text += f" (Welch's test of the same runs, ignoring the pairing: p = {w.p_value:.2g})"
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
            "n_pairs": c.n_a if c and c.test == "paired" else None,
            "p_welch": self.independent.p_value if self.independent else (c.p_value if c and c.test == "welch" else None),
        }


def _fmt(x: float) -> str:
    return "n/a" if math.isnan(x) else f"{x:.4f}"


def group_runs(rows: Iterable[tuple[Any, ...]]) -> dict[str, ConfigSummary]:
    """Group ``(label, objective)`` or ``(label, objective, seed)`` rows into per-configuration summaries
    (the seeds are kept only when every row of a configuration has one)."""
    grouped: dict[str, list[tuple[float, int | None]]] = {}
    for label, value, *seed in rows:
        grouped.setdefault(label, []).append((float(value), int(seed[0]) if seed and seed[0] is not None else None))
    out = {}
    for k, v in grouped.items():
        seeds = tuple(s for _, s in v if s is not None)
        out[k] = ConfigSummary(k, tuple(x for x, _ in v), seeds if len(seeds) == len(v) else ())
    return out


def from_summary(configs: Any) -> dict[str, ConfigSummary]:
    """The confirmation's ``configs`` of ``summary.json`` (``values``, ``by_seed``) as summaries, seeds kept."""
    out: dict[str, ConfigSummary] = {}
    for label, c in configs.items() if isinstance(configs, dict) else ():
        if not isinstance(c, dict):
            continue
        by_seed = c.get("by_seed") if isinstance(c.get("by_seed"), dict) else {}
        values = [float(v) for v in c.get("values") or [] if isinstance(v, (int, float)) and math.isfinite(v)]
        if by_seed and len(by_seed) == len(values):
            pairs = sorted((int(k), float(v)) for k, v in by_seed.items())
            out[label] = ConfigSummary(label, tuple(v for _, v in pairs), tuple(k for k, _ in pairs))
        elif values:
            out[label] = ConfigSummary(label, tuple(values))
    return out


def _test(a: ConfigSummary, base: ConfigSummary, level: float, baseline_label: str) -> Comparison:
    """Paired over the seeds ``a`` and the baseline share (two or more), else Welch's test."""
    if len(set(a.by_seed) & set(base.by_seed)) >= 2:
        return paired(a.by_seed, base.by_seed, level=level, label_a=a.label, label_b=baseline_label)
    return welch(a.values, base.values, level=level, label_a=a.label, label_b=baseline_label)


def verdict(summaries: dict[str, ConfigSummary], baseline_label: str = "baseline",
            level: float = DEFAULT_LEVEL) -> Verdict | None:
    """The configuration with the best mean, judged against the baseline.

    Every confirmed configuration is compared with the baseline: by the paired t-test over the
    seeds they share, or Welch's test when they share fewer than two. The family's p-values are
    Holm-corrected, and the best one's adjusted p-value decides at ``level``.
    """
    if not summaries:
        return None
    best = max(summaries.values(), key=lambda s: s.mean)
    base = summaries.get(baseline_label)
    if base is None or base is best:
        return Verdict(best, base, 0.0 if base is best else None, None, None if base is None else False)
    family = holm_correct([_test(s, base, level, baseline_label) for s in summaries.values() if s is not base])
    mine = next(c for c in family if c.label_a == best.label)
    independent = None
    if mine.test == "paired":
        diffs = [best.by_seed[k] - base.by_seed[k] for k in sorted(set(best.by_seed) & set(base.by_seed))]
        noise: float | None = statistics.stdev(diffs) / math.sqrt(len(diffs))
        independent = welch(best.values, base.values, level=level, label_a=best.label, label_b=baseline_label)
    else:
        noise = math.sqrt(best.std**2 / best.n + base.std**2 / base.n) if best.n >= 2 and base.n >= 2 else None
    shown = mine.shown
    # Paired: the difference of the pairs' means (equal to the means' difference when every seed is shared).
    difference = mine.difference if mine.test == "paired" else best.mean - base.mean
    return Verdict(best, base, difference, noise,
                   None if shown is None else bool(shown and mine.difference > 0), mine, independent)


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
# What a trial on a fresh worker spends before its first steady training step, before any trial of the
# study has shown it (measured, issue 17): on the 2-core CPU, the worker's start, imports (torch's dynamo,
# imported by the optimizer: ~1.5 s) and the data: 5-10 s; on an H200 (xresnet50, 128 px) the process's
# CUDA set-up and the first epoch's cuDNN autotuning: the first epoch took 19.6 s against 1 s for the next.
COLD_START_S = {"cpu": 5.0, "cuda": 25.0}


def cold_start_seconds(device: str) -> float:
    """The lower bound of any trial's time on ``device`` (cpu, cuda, cuda:N) before the study has timed one;
    the smallest (the CPU's) where the device is not known yet (auto, mps)."""
    return COLD_START_S.get(device.split(":", 1)[0], COLD_START_S["cpu"])


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
