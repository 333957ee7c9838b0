"""What fits in the time left: a trial's seconds from its cost, and how many planned runs finish in time.

The confirmation and the ablation plan their runs with the search's own timings, so that only
runs that can finish before their phase's deadline start (a run cut off by the deadline is
wasted compute and a missing pair).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any, Iterable

__all__ = ["ACTOR_START_S", "COLD_START_S", "CostModel", "RunPlan", "cold_start_seconds", "plan_runs", "runs_that_fit"]


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


@dataclass(frozen=True)
class RunPlan:
    """Which of a phase's runs, in their order, finish before its deadline."""

    fits: int  # how many of the runs, from the first, finish in time
    durations: tuple[float, ...]  # predicted seconds of each run
    startup_s: float  # what a new phase's worker pays before its first run
    left_s: float  # seconds to the phase's deadline

    def need(self) -> str:
        """What the runs need, in words: "about 30-40 s each, 5 s to start"."""
        low, high = round(min(self.durations, default=0)), round(max(self.durations, default=0))
        return f"about {low if low == high else f'{low}-{high}'} s each, {self.startup_s:.0f} s to start"


def plan_runs(costs: list[float], model: CostModel, slots: int, left_s: float) -> RunPlan:
    """The plan of runs of the given costs (``TrialConfig.cost``) on ``slots`` slots in ``left_s`` seconds."""
    durations = [model.seconds(c) for c in costs]
    return RunPlan(runs_that_fit(durations, slots, left_s, model.startup_s), tuple(durations), model.startup_s, left_s)
