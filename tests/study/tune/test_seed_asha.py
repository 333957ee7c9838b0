"""SeedProtectingASHA: the book's recipes are never stopped early; other trials still are.

Driven through ASHA's own scheduler API (``on_trial_add`` / ``on_trial_result``), which reads a
trial's ``trial_id`` (and, here, its ``config``); the trials are plain data objects.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ray.tune.schedulers import ASHAScheduler, TrialScheduler

from study.tune.scheduler import SeedProtectingASHA
from study.tune.searcher import SEED_KEY
from study.tune.trainable import FINISHED_KEY, OBJECTIVE_KEY

EPOCHS = 4


@dataclass
class StandInTrial:
    trial_id: str
    config: dict[str, Any] = field(default_factory=dict)
    status: str = "RUNNING"


def scheduler(cls: type = SeedProtectingASHA) -> Any:
    return cls(time_attr="training_iteration", metric=OBJECTIVE_KEY, mode="max", max_t=EPOCHS, grace_period=1, reduction_factor=2)


def report(s: Any, trial: StandInTrial, epoch: int, accuracy: float, final: bool = False) -> str:
    """One result as train_trial reports it: one per epoch, the last one final."""
    result = {"training_iteration": epoch, OBJECTIVE_KEY: accuracy, FINISHED_KEY: final, "epoch": epoch - 1}
    return s.on_trial_result(None, trial, result)


def strong_field(s: Any, n: int = 4) -> list[StandInTrial]:
    """Trials with high accuracy at every rung, so that a weak trial is below every cut-off."""
    trials = [StandInTrial(f"strong{i}") for i in range(n)]
    for t in trials:
        s.on_trial_add(None, t)
    for epoch in range(1, EPOCHS):
        for i, t in enumerate(trials):
            assert report(s, t, epoch, 0.8 + 0.01 * i + 0.02 * epoch) == TrialScheduler.CONTINUE
    return trials


def test_a_weak_seed_trial_runs_to_its_final_report_while_a_weak_search_trial_is_stopped():
    s = scheduler()
    strong_field(s)
    seed = StandInTrial("seed", {SEED_KEY: "baseline"})
    weak = StandInTrial("weak", {})
    s.on_trial_add(None, seed)
    s.on_trial_add(None, weak)

    assert report(s, weak, 1, 0.1) == TrialScheduler.STOP  # below the first rung's cut-off
    for epoch in range(1, EPOCHS):
        assert report(s, seed, epoch, 0.1) == TrialScheduler.CONTINUE, f"seed trial stopped at epoch {epoch}"
    # its last report (the final evaluation) is where it ends anyway: whatever ASHA says, nothing is lost
    assert report(s, seed, EPOCHS, 0.1, final=True) in (TrialScheduler.CONTINUE, TrialScheduler.STOP)


def test_stock_asha_would_have_stopped_the_seed_trial():
    """The behaviour the subclass changes: plain ASHA stops the same seed trial at the first rung."""
    s = scheduler(ASHAScheduler)
    strong_field(s)
    seed = StandInTrial("seed", {SEED_KEY: "baseline"})
    s.on_trial_add(None, seed)
    assert report(s, seed, 1, 0.1) == TrialScheduler.STOP


def test_seed_results_still_set_the_rung_cut_offs():
    s = scheduler()
    seeds = [StandInTrial(f"seed{i}", {SEED_KEY: f"recipe{i}"}) for i in range(3)]
    for t in seeds:
        s.on_trial_add(None, t)
        assert report(s, t, 1, 0.9) == TrialScheduler.CONTINUE
    (bracket,) = s._brackets
    recorded = {tid for _, rung in bracket._rungs for tid in rung}
    assert {t.trial_id for t in seeds} <= recorded
    # a search trial is now judged against the seeds' results
    weak = StandInTrial("weak")
    s.on_trial_add(None, weak)
    assert report(s, weak, 1, 0.5) == TrialScheduler.STOP
    good = StandInTrial("good")
    s.on_trial_add(None, good)
    assert report(s, good, 1, 0.95) == TrialScheduler.CONTINUE


def test_a_strong_search_trial_is_not_stopped():
    s = scheduler()
    strong_field(s)
    best = StandInTrial("best")
    s.on_trial_add(None, best)
    for epoch in range(1, EPOCHS):
        assert report(s, best, epoch, 0.99) == TrialScheduler.CONTINUE
