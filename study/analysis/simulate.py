"""Simulated studies that check the sequential procedure's error rates with the code that decides.

Each simulated study draws run results from known distributions — the baseline and every arm on
the same seeds, each run its seed's shared part plus noise of its own, so that the arms'
differences share the baseline's noise as real runs do — and runs
:func:`study.analysis.sequential.decide` and :func:`~study.analysis.sequential.targets` exactly as
the confirmation phase does, seed by seed, within a budget of runs. Over thousands of studies:

* with no true effect, the share of studies that declare *any* arm helped or hurt (the
  family-wise error rate), which must stay at or below ``1 - level``;
* with planted effects, the share of the planted arms declared in the right direction (power),
  and the share declared in the wrong direction;
* per arm, the share called "no difference shown" (its interval within the plan's margin): for a
  null arm an answer the procedure could give, for an effect beyond the margin a false one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from study.analysis.sequential import LookPlan, decide, targets

__all__ = ["SimResult", "Scenario", "simulate"]


@dataclass(frozen=True)
class Scenario:
    """A family of comparisons with known truth."""

    effects: tuple[float, ...]  # true difference of each arm against the baseline
    paired_sd: tuple[float, ...]  # spread of each arm's paired differences (the baseline's noise shared)
    runs: float  # what the phase can afford, in baseline runs (each arm's runs cost ``costs``), after the free pairs
    free_pairs: int = 1  # pairs every arm has before the phase (the search's run of each book recipe)
    noise: str = "normal"  # "normal" | "t5" (heavier tails: Student's t with 5 degrees of freedom)
    costs: tuple[float, ...] = ()  # each arm's run in baseline runs (0: TTA, read from the baseline's runs); default 1


@dataclass(frozen=True)
class SimResult:
    studies: int
    any_false: float  # share of studies with at least one wrong verdict (helped/hurt where nothing, or the wrong sign)
    power: tuple[float, ...]  # per arm: share of studies that declared it in the true direction (0 for a null arm)
    wrong_sign: tuple[float, ...]  # per arm: share declared in the opposite direction of a true effect
    undecided: tuple[float, ...]  # per arm: share left undecided
    no_difference: tuple[float, ...]  # per arm: share called "no difference shown" (interval within the margin)
    mean_runs: float  # runs used on average
    mean_pairs: tuple[float, ...]  # pairs per arm on average


def _noise(rng: np.random.Generator, kind: str, size: int | tuple[int, ...]) -> np.ndarray:
    if kind == "t5":
        return rng.standard_t(5, size) / math.sqrt(5 / 3)  # unit variance
    return rng.standard_normal(size)


def _one_study(sc: Scenario, plan: LookPlan, rng: np.random.Generator) -> tuple[dict[str, str], int, dict[str, int]]:
    """One simulated phase: (verdict per arm, runs used, pairs per arm)."""
    m = len(sc.effects)
    arms = [f"a{i}" for i in range(m)]
    most_seeds = plan.most + sc.free_pairs + 2
    # Each run: the seed's shared part (cancels in a pair) plus its own noise; sd of a pair's difference = paired_sd.
    own = [sd / math.sqrt(2) for sd in sc.paired_sd]
    base = _noise(rng, sc.noise, most_seeds) * (sum(own) / m)  # the baseline's own noise, shared by every arm's pair
    runs_of = {a: sc.effects[i] + _noise(rng, sc.noise, most_seeds) * math.sqrt(max(sc.paired_sd[i] ** 2 - (sum(own) / m) ** 2, 0.0))
               for i, a in enumerate(arms)}
    have = {a: sc.free_pairs for a in arms}
    seeds_run = sc.free_pairs  # baseline runs made
    used = 0.0
    cost = {a: (sc.costs[i] if sc.costs else 1.0) for i, a in enumerate(arms)}

    def diffs() -> dict[str, list[float]]:
        return {a: list(runs_of[a][:have[a]] - base[:have[a]]) for a in arms}

    while True:
        decisions = decide(diffs(), plan, describe=False)
        left = sc.runs - used

        budget = {"left": left - sum((max(have[a], 2) - have[a]) * cost[a] for a in arms) - max(0, 2 - seeds_run)}
        counted = {a: max(have[a], 2) for a in arms}  # pairs counted so far, per arm; and the baseline's seeds
        counted_base = [max(seeds_run, 2)]

        def affordable(arm: str, pairs: int) -> bool:  # as the driver's: only runs not counted yet
            extra = max(0, pairs - counted[arm]) * cost[arm] + max(0, pairs - counted_base[0])
            if extra > budget["left"]:
                return False
            budget["left"] -= extra
            counted[arm] = max(counted[arm], pairs)
            counted_base[0] = max(counted_base[0], pairs)
            return True

        want = targets(decisions, plan, have, affordable)
        todo = [a for a in arms if want[a] > have[a]]
        if not todo:
            return {a: d.verdict for a, d in decisions.items()}, int(round(used)), have
        # one seed at a time, seed-major: the baseline's run of a seed, then each arm wanting it
        seed = min(have[a] for a in todo)
        need = [a for a in todo if have[a] == seed]
        base_cost = 1.0 if seed >= seeds_run else 0.0
        while need and base_cost + sum(cost[a] for a in need) > left:
            need.pop()
        if not need:
            return {a: d.verdict for a, d in decide(diffs(), plan, describe=False).items()}, int(round(used)), have
        if seed >= seeds_run:
            seeds_run += 1
            used += 1
        for a in need:
            have[a] += 1
            used += cost[a]


def simulate(sc: Scenario, plan: LookPlan, studies: int, seed: int = 0) -> SimResult:
    """Error rates and power of the procedure over ``studies`` simulated phases of scenario ``sc``."""
    if len(sc.effects) != len(sc.paired_sd):
        raise ValueError(f"one paired sd per arm: {len(sc.effects)} effects, {len(sc.paired_sd)} sds")
    rng = np.random.default_rng(seed)
    m = len(sc.effects)
    right = np.zeros(m)
    wrong = np.zeros(m)
    open_ = np.zeros(m)
    same = np.zeros(m)
    pairs = np.zeros(m)
    any_false = 0
    runs = 0
    for _ in range(studies):
        verdicts, used, have = _one_study(sc, plan, rng)
        runs += used
        false = False
        for i in range(m):
            v = verdicts[f"a{i}"]
            pairs[i] += have[f"a{i}"]
            sign = {"helped": 1, "hurt": -1}.get(v, 0)
            truth = (sc.effects[i] > 0) - (sc.effects[i] < 0)
            if sign and sign == truth:
                right[i] += 1
            elif sign:
                wrong[i] += 1
                false = True
            if v == "undecided":
                open_[i] += 1
            elif v == "no difference shown":
                same[i] += 1
        any_false += false
    n = float(studies)
    return SimResult(studies, any_false / n, tuple(right / n), tuple(wrong / n), tuple(open_ / n), tuple(same / n), runs / n,
                     tuple(pairs / n))


