"""The confirmation's runs, chosen seed by seed: a Tune ``Searcher`` over the comparisons' jobs.

The confirmation compares *arms* with the baseline on shared seeds (:mod:`study.analysis.sequential`).
Each arm's values come from a *job* — a training configuration run once per seed: an arm's own
recipe, or the baseline's runs read with test-time augmentation (the TTA arm needs no training of
its own). This searcher hands Tune the next run whenever a slot is free: the seeds every open arm
still needs, seed by seed, the baseline's run of a seed before the arms'. After every finished run
it decides again, with the same pure functions a simulation checks (``decide``, ``targets``): an arm
that is settled gets no more seeds, an undecided one goes on to its next look only when that look
fits in the time left. No run is started that its predicted time says would not finish before the
phase's deadline.

Everything it keeps is plain data, pickled by Tune with the experiment, so ``study resume`` goes
on where it stopped; the driver reads the phase's outcome from the journal, not from here.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

from ray.tune.search import Searcher

from study.analysis.sequential import LookPlan, decide, targets
from study.tune.clock import Deadline
from study.tune.reporting import FINISHED_KEY, OBJECTIVE_KEY

__all__ = ["Arm", "ComparisonSearch", "Job", "pairs_of"]

READABLE = ("objective", "accuracy", "accuracy_tta")  # what an arm may read of a run's final report


@dataclass(frozen=True)
class Job:
    """A training configuration the phase runs once per seed."""

    label: str  # the runs' label in the journal and MLflow ("baseline", or the arm's name)
    config: dict[str, Any]  # TrialConfig values without the seed
    confirms: str  # what its runs repeat (MLflow tag xs.confirms: a run id, or "baseline")
    seconds: float  # its predicted time


@dataclass(frozen=True)
class Arm:
    """A comparison with the baseline: where its value on a seed comes from."""

    name: str
    job: str  # the label of the job whose runs give its values
    reads: str  # which value of that run's report ("objective"; the baseline's "accuracy"; TTA's "accuracy_tta")
    free: dict[int, float] = field(default_factory=dict)  # seed -> value known before the phase (the search's recipe run)

    def seeds(self, fresh: list[int]) -> list[int]:
        """Its pre-planned seed order: the free seeds first, then the phase's fresh ones."""
        return sorted(self.free) + [s for s in fresh if s not in self.free]


def pairs_of(arm: Arm, baseline: Arm, fresh: list[int], value: Callable[[str, str, int], float | None],
             pending: Callable[[str, int], bool]) -> list[tuple[int, float]]:
    """The arm's complete pairs ``(seed, arm − baseline)`` in its seed order, up to the first seed still pending.

    A seed whose run failed or was never started is skipped (its pair does not exist); a pending
    one ends the list, so the first ``n`` pairs never change once they exist.
    """
    out = []
    for s in arm.seeds(fresh):
        a = arm.free.get(s) if s in arm.free else value(arm.job, arm.reads, s)
        b = baseline.free.get(s) if s in baseline.free else value(baseline.job, baseline.reads, s)
        if a is not None and b is not None:
            out.append((s, a - b))
        elif (s not in arm.free and pending(arm.job, s)) or (s not in baseline.free and pending(baseline.job, s)):
            break
    return out


class ComparisonSearch(Searcher):
    """Hands Tune the confirmation's next run; decides the comparisons after each one."""

    def __init__(self, arms: list[Arm], jobs: dict[str, Job], fresh: list[int], plan: LookPlan, deadline: Deadline,
                 slots: int, say: Callable[[str], None] | None = None) -> None:
        super().__init__(metric=OBJECTIVE_KEY, mode="max")
        if not arms or arms[0].name != "baseline":
            raise ValueError(f"the baseline must be the first arm, got {[a.name for a in arms]!r}")
        self.arms, self.jobs, self.fresh, self.plan = arms, jobs, fresh, plan
        self.deadline, self.slots, self.say = deadline, max(1, slots), say
        self.results: dict[tuple[str, int], dict[str, float]] = {}  # (job, seed) -> its readable values
        self.state: dict[tuple[str, int], str] = {}  # (job, seed) -> running | done | failed | skipped
        self.trials: dict[str, tuple[str, int]] = {}  # Tune trial id -> (job, seed)

    # -- what is known ------------------------------------------------------------------------------
    def _value(self, job: str, key: str, seed: int) -> float | None:
        v = self.results.get((job, seed), {}).get(key)
        return float(v) if isinstance(v, (int, float)) else None

    def _pending(self, job: str, seed: int) -> bool:
        return self.state.get((job, seed)) in (None, "running")

    def diffs(self) -> dict[str, list[float]]:
        base = self.arms[0]
        return {a.name: [d for _, d in pairs_of(a, base, self.fresh, self._value, self._pending)] for a in self.arms[1:]}

    # -- Tune's Searcher interface ------------------------------------------------------------------
    def set_search_properties(self, metric: str | None, mode: str | None, config: dict, **spec: Any) -> bool:
        return True

    def suggest(self, trial_id: str) -> dict | str | None:  # type: ignore[override]  # Searcher.FINISHED is a str
        left = self.deadline.time() - time.time()
        for job, seed in self._wanted():
            if (job, seed) in self.state:
                continue
            if self.jobs[job].seconds > left:
                self.state[(job, seed)] = "skipped"  # it would not finish: its pairs do not exist
                if self.say is not None:
                    self.say(f"confirm: not starting {job} on seed {seed}: predicted {self.jobs[job].seconds:.0f} s > "
                             f"{max(left, 0):.0f} s left")
                continue
            self.state[(job, seed)] = "running"
            self.trials[trial_id] = (job, seed)
            j = self.jobs[job]
            return {"job": {"label": job, "trial": {**j.config, "seed": seed}, "confirms": j.confirms}}
        running = any(v == "running" for v in self.state.values())
        return None if running else Searcher.FINISHED

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        key = self.trials.get(trial_id)
        if key is None:
            return
        if error or not result or not result.get(FINISHED_KEY):
            self.state[key] = "failed"
            return
        self.results[key] = {k: float(result[k]) for k in READABLE if isinstance(result.get(k), (int, float))}
        self.state[key] = "done"

    def save(self, checkpoint_path: str) -> None:
        import pickle

        with open(checkpoint_path, "wb") as f:
            pickle.dump({k: v for k, v in self.__dict__.items() if k != "say"}, f)

    def restore(self, checkpoint_path: str) -> None:
        import pickle

        with open(checkpoint_path, "rb") as f:
            self.__dict__.update(pickle.load(f))  # running trials go on under the same ids (Tuner.restore)
        self.say = getattr(self, "say", None)

    # -- where the seeds go -------------------------------------------------------------------------
    def _wanted(self) -> list[tuple[str, int]]:
        """The runs the open arms need, seed by seed (the baseline's first), for their current targets."""
        diffs = self.diffs()
        decisions = decide(diffs, self.plan)
        have = {a: len(d) for a, d in diffs.items()}
        arms = {a.name: a for a in self.arms[1:]}
        planned: set[tuple[str, int]] = set()  # runs not yet started that the targets so far need
        for name, n in have.items():  # every arm's first two pairs are not subject to the time left
            planned |= self._runs(arms[name], max(n, 2))
        budget = {"left": max(0.0, self.deadline.time() - time.time()) * self.slots - self._seconds(planned)}

        def affordable(name: str, pairs: int) -> bool:
            extra = self._runs(arms[name], pairs) - planned
            if self._seconds(extra) > budget["left"]:
                return False
            budget["left"] -= self._seconds(extra)
            planned.update(extra)
            return True

        want = targets(decisions, self.plan, have, affordable)
        out: list[tuple[str, int]] = []
        for seed in self.fresh:
            users = [a for a in self.arms[1:] if seed in self._target_seeds(a, want[a.name])]
            if users:
                out.append((self.arms[0].job, seed))
                out += [(a.job, seed) for a in users if a.job != self.arms[0].job]
        return list(dict.fromkeys(out))

    def _runs(self, arm: Arm, pairs: int) -> set[tuple[str, int]]:
        """The runs not yet started that the arm needs for ``pairs`` pairs: its own and the baseline's."""
        seeds = self._target_seeds(arm, pairs)
        runs = {(arm.job, s) for s in seeds} | {(self.arms[0].job, s) for s in seeds}
        return {r for r in runs if r not in self.state}

    def _seconds(self, runs: set[tuple[str, int]]) -> float:
        return sum(self.jobs[j].seconds for j, _ in runs)

    def _target_seeds(self, arm: Arm, pairs: int) -> list[int]:
        """The fresh seeds the arm must have run to reach ``pairs`` pairs (seeds lost to failures are replaced)."""
        out, n = [], 0
        for s in arm.seeds(self.fresh):
            if n >= pairs:
                break
            lost = self.state.get((arm.job, s)) in ("failed", "skipped") or self.state.get((self.arms[0].job, s)) in (
                "failed", "skipped")
            if s not in arm.free:
                out.append(s)
            if not lost:
                n += 1
        return out
