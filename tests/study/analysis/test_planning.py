"""Confirmation runs start only if they can finish: the plan from the search's own timings."""

from __future__ import annotations

import pytest

from study.analysis.planning import ACTOR_START_S, CostModel, runs_that_fit
from study.tune.journal import TrialOutcome


def _outcome(pid: int, start: float, seconds: float, cost: float, outcome: str = "finished") -> TrialOutcome:
    return TrialOutcome("t", "t", outcome, 0.5, {}, {},
                        {"pid": pid, "timestamp": start + seconds, "time_total_s": seconds, "cost": cost})


def test_rate_from_finished_trials_and_start_up_from_each_process_first_trial() -> None:
    # Two worker processes; each one's first trial paid 20 s of start-up (torch, CUDA, data) on top of 2 s/cost.
    outcomes = [
        _outcome(1, 0, 2 * 4 + 20, 4), _outcome(1, 30, 2 * 4, 4), _outcome(1, 40, 2 * 2, 2),
        _outcome(2, 1, 2 * 2 + 20, 2), _outcome(2, 30, 2 * 3, 3), _outcome(2, 40, 2 * 4, 4),
        _outcome(3, 0, 999, 1, outcome="pruned"),  # not finished: says nothing about a whole trial
    ]
    model = CostModel.from_outcomes(outcomes)
    assert model is not None
    assert model.seconds_per_cost == pytest.approx(2.0)
    assert model.startup_s == pytest.approx(20 + ACTOR_START_S)
    assert model.seconds(3) == pytest.approx(6.0)
    assert CostModel.from_outcomes([_outcome(1, 0, 5, 1, outcome="budget")]) is None


def test_runs_that_fit_on_slots_in_order() -> None:
    assert runs_that_fit([10, 10, 10, 10], slots=2, left_s=25, startup_s=5) == 4  # 5+10+10 on each slot
    assert runs_that_fit([10, 10, 10, 10], slots=2, left_s=24, startup_s=5) == 2
    assert runs_that_fit([10, 10, 10, 10], slots=1, left_s=24, startup_s=5) == 1
    assert runs_that_fit([30, 1, 1], slots=1, left_s=20, startup_s=0) == 0  # in order: the first does not fit
    assert runs_that_fit([], slots=4, left_s=100, startup_s=0) == 0
